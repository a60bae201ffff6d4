"""How records leave for dlt: column hints, dict rows, hard deletes, and the signs of a change.

Records leave as dicts made by ``msgspec.to_builtins`` from our Structs at the
last moment (dlt's normaliser takes dicts, not msgspec Structs), with the
API's field names, which dlt turns into snake_case columns. Nested values
(tags, custom data, location, device, a chat's customer and agents) are kept
as JSON columns (``max_table_nesting=0``), which every destination can hold
and which lets hard deletes work on destinations without nested-table deletes.
"""

from __future__ import annotations

import hashlib
from array import array
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from helpcrunch_async import NotFoundError
from helpcrunch_async._sync.held import decode_ids

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

    from helpcrunch_async import Chat, Customer, Message

__all__ = [
    "BATCH",
    "DELETED_COLUMN",
    "RESOURCES",
    "Batches",
    "after",
    "chain",
    "chat_times",
    "columns",
    "created_after",
    "customer_times",
    "deleted",
    "digest",
    "each",
    "held_ids",
    "record",
]

RESOURCES = ("customers", "chats", "messages", "agents", "departments")
# The column that dlt's hard_delete hint reads: true deletes the row with this id.
DELETED_COLUMN = "_hc_deleted"
# Records per item handed to dlt: each item crosses from dlt's loop thread to
# its main thread, so pages, not single records.
BATCH = 500
Batches: TypeAlias = "AsyncIterator[list[dict[str, Any]]]"
_COLUMNS: dict[str, Any] = {DELETED_COLUMN: {"data_type": "bool", "hard_delete": True}}


def columns(model: type[msgspec.Struct]) -> dict[str, Any]:
    """Return dlt column hints for ``model``'s fields, so every column has its type at once.

    Without them dlt infers types from the first values and leaves out a
    column that only ever held null (and warns). Timestamps are declared as
    their wire unions at run time (see the models) but always hold int.
    """
    hints: dict[str, Any] = dict(_COLUMNS)
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)  # noqa: S101 -- a Struct by type
    for f in info.fields:
        hints[f.encode_name] = {"data_type": _data_type(f.type), "nullable": f.name != "id"}
    return hints


def _data_type(kind: msgspec.inspect.Type) -> str:
    kinds = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
    real = [k for k in kinds if not isinstance(k, msgspec.inspect.NoneType)]
    simple = {
        msgspec.inspect.IntType: "bigint",
        msgspec.inspect.BoolType: "bool",
        msgspec.inspect.StrType: "text",
        msgspec.inspect.FloatType: "double",
    }
    found = {simple.get(type(k), "json") for k in real}
    if found in ({"bigint", "double", "text"}, {"bigint", "double"}):
        return "bigint"  # a timestamp: normalised to int seconds
    return found.pop() if len(found) == 1 else "json"


def record(item: msgspec.Struct) -> dict[str, Any]:
    record: dict[str, Any] = msgspec.to_builtins(item)
    return record


def deleted(ids: Iterable[int]) -> list[dict[str, Any]]:
    return [{"id": i, DELETED_COLUMN: True} for i in ids]


def held_ids(state: dict[str, Any]) -> array[int]:
    blob = state.get("held")
    return decode_ids(blob) if isinstance(blob, bytes) else array("q")


def digest(item: msgspec.Struct) -> str:
    return hashlib.blake2b(msgspec.json.encode(item), digest_size=8).hexdigest()


def created_after(message: Message, since: object) -> bool:
    created = message.created_at
    return since is None or created is None or created > int(str(since))


def customer_times(customer: Customer) -> tuple[int | None, ...]:
    return (customer.last_seen,)


def chat_times(chat: Chat) -> tuple[int | None, ...]:
    return (chat.updated_at, chat.last_message_at, chat.closed_at, chat.created_at)


def after(
    since: object,
    times: Callable[[Any], tuple[int | None, ...]],
    present: Callable[[], int | None],
) -> Callable[[Any], bool]:
    """Return whether a record's timestamps moved past the last run's cursor ``since``.

    A timestamp past the server's ``present`` (its latest ``Date``) is no sign
    of a change: a record stamped in the future is re-read every run.
    """
    if since is None:
        # A full pass: nothing to compare with, so a held row is re-read.
        return lambda _: False
    cursor = int(str(since))

    def moved(item: Any) -> bool:
        now = present()
        return any(t is not None and cursor < t and (now is None or t <= now) for t in times(item))

    return moved


async def chain(*scans: AsyncIterator[Any]) -> AsyncIterator[Any]:
    for scan in scans:
        async for item in scan:
            yield item


async def each(get: Callable[[int], Awaitable[Any]], ids: Iterable[int]) -> AsyncIterator[Any]:
    for i in ids:
        try:
            yield await get(i)
        except NotFoundError:
            continue
