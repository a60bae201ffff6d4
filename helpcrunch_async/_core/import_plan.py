"""The import's decision for one checked row: create, update, leave unchanged, or reject.

This module is pure (no I/O, no clock). `decide` takes the row, the customers
the server has under its key, the mode and what the checkpoint planned for the
row before a crash (see `_core.import_journal`). The rules:

1. A key that several customers carry is rejected: the row names no one customer.
2. No customer has the key: ``upsert`` and ``create`` create one with every
   field of the row; ``update`` rejects the row.
3. One customer has the key: ``create`` rejects the row, unless the checkpoint
   planned to create it (that create landed before the crash; rule 5).
4. One customer has the key, otherwise: the row's fields are merged into it,
   never replacing it. Only what differs is sent: each text field whose value
   differs, each custom data property whose value differs (the rest of the
   customer's custom data stays), each tag the customer lacks (tags are added,
   never removed). Nothing differs: unchanged, and no write is spent.
5. A row the checkpoint planned to create or update, found with nothing left to
   change, was written before the crash: it counts as the planned action (so a
   resumed run's summary counts it once, as it was done).

Values compare by type as well as value: ``1`` is neither ``True`` nor ``"1"``,
and ``5 == 5.0`` (JSON does not tell them apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from helpcrunch_async._core.import_rows import Mode, Row
    from helpcrunch_async._models.customers import Customer

__all__ = ["ACTIONS", "Action", "Decision", "decide", "same_value"]

Action = Literal["create", "update", "unchanged", "reject"]
ACTIONS: Final = ("create", "update", "unchanged", "reject")
_TEXT: Final = ("name", "email", "user_id", "company", "phone", "notes")
_SHOWN: Final = 5


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one row.

    ``create``: ``fields`` are the create's arguments. ``update`` of customer
    ``customer_id``: ``fields`` the update's (without tags), ``add_tags`` the tags
    to add; either may be empty. ``counted`` is what the summary counts (rule 5).
    ``reject``: ``reason`` says why.
    """

    action: Action
    counted: Action
    customer_id: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    add_tags: list[str] = field(default_factory=list)
    reason: str | None = None


def decide(
    row: Row, found: Sequence[Customer], mode: Mode, *, planned: Action | None = None
) -> Decision:
    """Decide what to do with ``row`` given the customers ``found`` under its key."""
    if len(found) > 1:
        ids = [customer.id for customer in found]
        return _reject(
            f"the key {row.key!r:.60} matches {len(ids)} customers "
            f"({', '.join(map(str, ids[:_SHOWN]))}{', ...' if len(ids) > _SHOWN else ''})"
        )
    if not found:
        if mode == "update":
            return _reject(f"no customer has the key {row.key!r:.60} (--mode update creates none)")
        return Decision("create", "create", fields=dict(row.fields))
    customer = found[0]
    if mode == "create" and planned != "create":
        return _reject(
            f"customer {customer.id} has the key {row.key!r:.60} already (--mode create)"
        )
    update = _differences(row.fields, customer)
    tags = [name for name in row.fields.get("tags", ()) if name not in _tag_names(customer)]
    # Several equal names in one row add the tag once.
    tags = list(dict.fromkeys(tags))
    if not update and not tags:
        counted: Action = planned if planned in ("create", "update") else "unchanged"
        return Decision("unchanged", counted, customer_id=customer.id)
    counted = "create" if planned == "create" else "update"
    return Decision("update", counted, customer_id=customer.id, fields=update, add_tags=tags)


def _reject(reason: str) -> Decision:
    return Decision("reject", "reject", reason=reason)


def _differences(fields: dict[str, Any], customer: Customer) -> dict[str, Any]:
    update: dict[str, Any] = {}
    for name in _TEXT:
        if name in fields and fields[name] != getattr(customer, name):
            update[name] = fields[name]
    have = {item.property: item.value for item in customer.custom_data}
    changed = {
        prop: value
        for prop, value in fields.get("custom_data", {}).items()
        if prop not in have or not same_value(have[prop], value)
    }
    if changed:
        update["custom_data"] = changed
    return update


def _tag_names(customer: Customer) -> set[str]:
    return {tag.name for tag in customer.tags}


def same_value(a: object, b: object) -> bool:
    """Tell whether two custom data values are the same JSON value (type-aware)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b
