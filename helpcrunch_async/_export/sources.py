"""What each kind of export reads: its scan, its sort fields, its noun, its search.

An export of one kind is the same machinery (writer, checkpoint, progress,
signals) over a different `Source`, whose ``open`` returns the run's
`RecordStream`. ``customers`` and ``chats`` read their search instead of their
list when the export has filters; ``messages`` reads the chats first, then
their messages (see `messages`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helpcrunch_async._core.filters import Filter, search_body
from helpcrunch_async._core.params import CHAT_SORTS, SORTS
from helpcrunch_async._export.chat_list import chat_list_path, read_list
from helpcrunch_async._export.messages import MessagesStream
from helpcrunch_async._export.stream import RecordStream, Run, ScanStream
from helpcrunch_async._export.written import written_ids

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async._client import HelpCrunch
    from helpcrunch_async._core.filters import SearchResource
    from helpcrunch_async._export.checkpoint import Checkpoint, ExportSettings

__all__ = ["SOURCES", "Source", "check_filters", "filters_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """One kind of export: what the command line offers for it and how it is read."""

    name: str
    noun: str
    help: str
    sorts: tuple[str, ...]
    default_sort: str | None
    open: Callable[[HelpCrunch, Run], RecordStream]
    searchable: bool = False
    grouped: bool = False
    # Refuses a checkpoint whose files beside the output do not match it.
    check_resume: Callable[[Path, Checkpoint], None] | None = None


def filters_of(settings: ExportSettings) -> list[Filter]:
    """Return the export's filters, built from the text they were given in."""
    return [Filter.from_text(field, op, value) for field, op, value in settings.filters]


def check_filters(settings: ExportSettings) -> None:
    """Refuse (`InvalidParameterError`) filters that the kind's search does not take."""
    if settings.filters:
        resource: SearchResource = "chats" if settings.kind == "chats" else "customers"
        search_body(
            filters_of(settings),
            resource=resource,
            comparison=settings.comparison,
            sort=settings.sort,
            order=settings.order,
            offset=0,
            limit=settings.page_size,
        )


def _searchable(client: HelpCrunch, run: Run, kind: SearchResource) -> RecordStream:
    # Customers and chats: their search when the export has filters, else all of them.
    resource = client.customers if kind == "customers" else client.chats
    settings = run.settings
    # Any: the CLI offers only this kind's sorts and orders.
    common: dict[str, Any] = {"sort": settings.sort, "order": settings.order}
    if run.records:
        # Resumed: the scan drops what the file holds (customers: and can recount).
        common["seen"] = written_ids(run.out, settings.format)
    if settings.filters:
        scan = resource.iter_search(
            filters_of(settings),
            comparison=settings.comparison,  # type: ignore[arg-type]  # checked by check_filters
            page_size=settings.page_size,
            start=run.records,
            **common,
        )
    else:
        scan = resource.iter_all(
            page_size=settings.page_size,
            start=run.records,
            **common,
        )
    return ScanStream(scan, kind)


def _customers(client: HelpCrunch, run: Run) -> RecordStream:
    return _searchable(client, run, "customers")


def _chats(client: HelpCrunch, run: Run) -> RecordStream:
    return _searchable(client, run, "chats")


def _agents(client: HelpCrunch, run: Run) -> RecordStream:
    scan = client.agents.iter_all(page_size=run.settings.page_size, start=run.records)
    return ScanStream(scan, "agents")


def _departments(client: HelpCrunch, run: Run) -> RecordStream:
    scan = client.departments.iter_all(page_size=run.settings.page_size, start=run.records)
    return ScanStream(scan, "departments")


def _messages(client: HelpCrunch, run: Run) -> RecordStream:
    return MessagesStream(client, run)


def _check_chat_list(out: Path, checkpoint: Checkpoint) -> None:
    if checkpoint.chats is not None:
        read_list(chat_list_path(out), checkpoint.chats)


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            name="customers",
            noun="customers",
            help="every customer (or those --filter finds), resumable",
            sorts=SORTS,
            # Never changes for a customer, so the order is stable during a long export.
            default_sort="customers.firstSeen",
            open=_customers,
            searchable=True,
        ),
        Source(
            name="chats",
            noun="chats",
            help="every chat (or those --filter finds), resumable",
            sorts=CHAT_SORTS,
            # Never changes for a chat; new chats land at the end in ascending order.
            default_sort="chats.createdAt",
            open=_chats,
            searchable=True,
        ),
        Source(
            name="messages",
            noun="messages",
            help="the messages of every chat (or of --chats FILE), chat by chat, resumable",
            sorts=(),
            default_sort=None,
            open=_messages,
            grouped=True,
            check_resume=_check_chat_list,
        ),
        Source(
            name="agents",
            noun="agents",
            help="every agent (team member)",
            sorts=(),
            default_sort=None,
            open=_agents,
        ),
        Source(
            name="departments",
            noun="departments",
            help="every department, with its agents",
            sorts=(),
            default_sort=None,
            open=_departments,
        ),
    )
}
