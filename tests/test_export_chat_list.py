"""The chat list of a messages export: read from --chats, frozen beside the output, checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from helpcrunch_async._export.chat_list import (
    ChatListWriter,
    chat_list_path,
    digest_of_ids,
    read_chat_ids,
    read_list,
)
from helpcrunch_async._export.checkpoint import ExportRefusedError

if TYPE_CHECKING:
    from pathlib import Path


def test_chats_file_ids_are_read_in_order_each_once(tmp_path: Path) -> None:
    given = tmp_path / "ids.txt"
    given.write_text("# from the CRM\n7000003\n\n  7000001 \n7000003\n7000002\n")
    assert read_chat_ids(given) == [7000003, 7000001, 7000002]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("7000001\nabc\n", "line 2: 'abc' is not a chat id"),
        ("0\n", "line 1"),
        ("-5\n", "line 1"),
        ("1.5\n", "line 1"),
        ("# nothing\n\n", "names no chat"),
    ],
)
def test_a_bad_chats_file_is_refused_naming_the_line(tmp_path: Path, text: str, words: str) -> None:
    given = tmp_path / "ids.txt"
    given.write_text(text)
    with pytest.raises(ExportRefusedError, match=words):
        read_chat_ids(given)


def test_a_written_list_reads_back_after_any_skip(tmp_path: Path) -> None:
    target = chat_list_path(tmp_path / "m.jsonl")
    with ChatListWriter(target) as writer:
        for chat_id in (5, 3, 5, 9):
            writer.add(chat_id)
        saved = writer.commit()
    assert saved == digest_of_ids([5, 3, 9])
    assert target.read_bytes() == b"5\n3\n9\n"
    assert list(read_list(target, saved)) == [5, 3, 9]
    assert list(read_list(target, saved, skip=2)) == [9]
    assert list(read_list(target, saved, skip=3)) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_an_unfinished_list_leaves_nothing(tmp_path: Path) -> None:
    target = chat_list_path(tmp_path / "m.jsonl")
    writer = ChatListWriter(target)
    with writer:
        writer.add(1)
    # Left without commit (a failed listing): neither the list nor its temporary file stays.
    assert list(tmp_path.iterdir()) == []


def test_a_changed_or_linked_list_is_refused(tmp_path: Path) -> None:
    target = chat_list_path(tmp_path / "m.jsonl")
    with ChatListWriter(target) as writer:
        writer.add(1)
        writer.add(2)
        saved = writer.commit()
    target.write_bytes(b"1\n3\n")
    with pytest.raises(ExportRefusedError, match="not the one this export made"):
        read_list(target, saved)
    other = tmp_path / "other"
    other.write_bytes(b"1\n2\n")
    target.unlink()
    target.symlink_to(other)
    with pytest.raises(ExportRefusedError, match="symbolic link"):
        read_list(target, saved)
    target.unlink()
    with pytest.raises(ExportRefusedError, match="is gone"):
        read_list(target, saved)
