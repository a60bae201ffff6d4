"""The new-messages plan without an event loop: either order, any page size, stop only on proof."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpcrunch_async._core.new_messages import (
    ChatWindow,
    MessageFetch,
    NewMessagesPlan,
    message_order,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

# A message here is (id, createdAt).
Msg = tuple[int, int | None]


def _created(message: Msg) -> int | None:
    return message[1]


def _serve(messages: Sequence[Msg], offset: int, limit: int, cap: int | None) -> list[Msg]:
    served = limit if cap is None else min(cap, limit)
    return list(messages[offset : offset + served])


def _read(window: ChatWindow[Msg], messages: Sequence[Msg], cap: int | None) -> int:
    """Answer the window until done; return the requests it took."""
    requests = 0
    while (ask := window.next()) is not None:
        offset, limit = ask
        requests += 1
        assert requests < 10_000
        window.page_done(offset, _serve(messages, offset, limit, cap), len(messages))
    return requests


def test_the_order_is_read_from_the_times() -> None:
    assert message_order([5, 4, 4, 1]) == "newest-first"
    assert message_order([1, 1, 3, None, 7]) == "oldest-first"
    assert message_order([2, 2, 2]) == "unknown"
    assert message_order([3]) == "unknown"
    assert message_order([1, 3, 2]) == "unordered"


def test_newest_first_a_chat_with_few_new_messages_costs_one_request() -> None:
    messages = [(i, 1_000 - i) for i in range(250)]  # newest first
    window: ChatWindow[Msg] = ChatWindow(998, _created)
    assert _read(window, messages, None) == 1
    assert window.messages() == messages[:3]


def test_oldest_first_the_new_messages_are_read_from_the_end() -> None:
    # Listed oldest first: the read used to stop at the first old message (57 of 60 missed).
    messages = [(i, 1_000 + i) for i in range(260)]
    window: ChatWindow[Msg] = ChatWindow(1_200, _created)
    requests = _read(window, messages, None)
    assert window.messages() == messages[200:]
    # The first page shows the order; then the last page, which reaches back past since.
    assert requests == 2


def test_a_short_page_is_not_the_end_while_the_total_counts_more() -> None:
    # A server that serves 50 a page: every message of a first sync is kept.
    messages = [(i, 5_000 - i) for i in range(230)]
    window: ChatWindow[Msg] = ChatWindow(None, _created)
    assert _read(window, messages, 50) == 5
    assert window.messages() == messages


def test_no_provable_order_reads_to_the_end() -> None:
    messages = [(i, t) for i, t in enumerate([7, 7, 1, 9, 3] * 50)]
    window: ChatWindow[Msg] = ChatWindow(5, _created)
    _read(window, messages, None)
    assert window.messages() == [m for m in messages if (m[1] or 0) >= 5]


def test_an_empty_page_where_the_total_counts_more_is_a_shortfall() -> None:
    window: ChatWindow[Msg] = ChatWindow(None, _created)
    assert window.next() == (0, 100)
    window.page_done(0, [], 40)
    assert window.done
    assert window.shortfall


@settings(max_examples=300, deadline=None)
@given(
    times=st.lists(st.integers(0, 60), max_size=400),
    oldest_first=st.booleans(),
    since=st.none() | st.integers(-1, 61),
    cap=st.none() | st.integers(1, 100),
)
def test_any_chat_in_either_order_under_any_page_cap_gives_exactly_its_new_messages(
    times: list[int], oldest_first: bool, since: int | None, cap: int | None
) -> None:
    ordered = sorted(times, reverse=not oldest_first)
    messages: list[Msg] = [(i, t) for i, t in enumerate(ordered)]
    window: ChatWindow[Msg] = ChatWindow(since, _created)
    _read(window, messages, cap)
    assert not window.shortfall
    assert window.messages() == [m for m in messages if since is None or (m[1] or 0) >= since]


def test_the_plan_releases_chats_whole_in_the_given_order_a_few_at_once() -> None:
    chats = {7: [(70, 9), (71, 5)], 3: [(30, 9)], 5: [(50 + i, 100 - i) for i in range(150)]}
    plan: NewMessagesPlan[Msg] = NewMessagesPlan([7, 3, 5, 9], 6, _created, lookahead=2)
    in_flight: list[MessageFetch] = []
    released = []
    rng = random.Random(4)
    while not plan.done:
        while (fetch := plan.next_fetch()) is not None:
            in_flight.append(fetch)
        # At most `lookahead` chats open, one request each.
        assert len(in_flight) <= 2
        fetch = in_flight.pop(rng.randrange(len(in_flight)))
        if fetch.chat == 9:
            plan.gone(fetch)
        else:
            items = chats[fetch.chat][fetch.offset : fetch.offset + fetch.limit]
            plan.page_done(fetch, items, len(chats[fetch.chat]))
        while (out := plan.release()) is not None:
            released.append((out.chat, out.messages))
    assert released == [
        (7, [(70, 9)]),
        (3, [(30, 9)]),
        (5, [(50 + i, 100 - i) for i in range(95)]),
        (9, []),
    ]


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="page_size"):
        ChatWindow(None, _created, page_size=0)
    with pytest.raises(ValueError, match="lookahead"):
        NewMessagesPlan([1], None, _created, lookahead=0)
