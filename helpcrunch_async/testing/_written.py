"""Customer objects written through the API: check a body, build, merge, replace, search.

Pure: no sockets, no clock. The emulator's write routes (``_writes``) parse a request's
JSON with `customer_fields`, then build a new customer (`new_customer`), merge into one
(`merged`, PATCH and, under the ``merge`` reading, batch items) or replace one
(`replaced`, PUT and batch items under ``replace``). The customer's read shape follows
the dataset: ``customData`` a list of ``{property, value}`` or an object.

Where the vendor's pages leave a write's meaning open, `Readings` holds the emulator's
choice, one setting each, so a test can play every reading:

- ``batch_items``: ``merge`` (items of ``PUT /customers/batch`` merge, like PATCH) or
  ``replace`` (they replace, like ``PUT /customers/{id}``); default ``merge``.
- ``custom_data``: ``merge`` (PATCH merges ``customData`` property by property) or
  ``replace`` (the list sent becomes the whole of it); default ``merge``.
- ``update_tags``: ``add`` (tags sent in an update join the customer's) or ``replace``;
  default ``replace``.
- ``chat_created``: the status of ``POST /chats``, 201 (en/pl pages) or 200 (one
  rest-api-v1 snapshot); default 201.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpcrunch_async.testing._pools import TAG_COLORS

DEFAULT_TAG_COLOR = "#c377e0"
"""The colour of a tag that a write creates (the create-customer page)."""

# The writable fields, in the read shape's order (identity first, profile after).
_IDENTITY = ("name", "email", "userId", "company", "phone")
_PROFILE = ("notes",)
WRITABLE = (*_IDENTITY, *_PROFILE, "tags", "customData")
_SCALARS = (str, int, float, bool, type(None))
_SEARCHED = {
    "customers.id": "id",
    "customers.name": "name",
    "customers.email": "email",
    "customers.userId": "userId",
    "customers.company": "company",
    "customers.phone": "phone",
}
_PLACED = {
    "customers.city": "city",
    "customers.countryCode": "countryCode",
    "customers.regionCode": "regionCode",
}
BATCH_MAX = 10
"""The most items ``PUT /customers/batch`` takes (the documented maximum)."""


@dataclass
class Readings:
    """The emulator's choice where the docs leave a write's meaning open (module docstring)."""

    batch_items: str = "merge"
    custom_data: str = "merge"
    update_tags: str = "replace"
    chat_created: int = 201

    def validate(self) -> None:
        """Raise ValueError for a reading the emulator cannot play."""
        if self.batch_items not in ("merge", "replace"):
            raise ValueError("batch_items is 'merge' or 'replace'")
        if self.custom_data not in ("merge", "replace"):
            raise ValueError("custom_data is 'merge' or 'replace'")
        if self.update_tags not in ("add", "replace"):
            raise ValueError("update_tags is 'add' or 'replace'")
        if self.chat_created not in (200, 201):
            raise ValueError("chat_created is 200 or 201")


class Tags:
    """The account's tags and their colours; a write naming an unknown tag creates it."""

    def __init__(self) -> None:
        """Start with the tags the synthetic customers carry."""
        self.colors: dict[str, str] = dict(TAG_COLORS)

    def resolve(self, names: list[str]) -> list[dict[str, Any]]:
        """Return the tag objects for ``names`` (each once, in order), creating unknown ones."""
        out: list[dict[str, Any]] = []
        for name in dict.fromkeys(names):
            color = self.colors.setdefault(name, DEFAULT_TAG_COLOR)
            out.append({"name": name, "color": color})
        return out


def customer_fields(body: object) -> dict[str, Any] | list[tuple[str, str]]:
    """Return the writable fields of a customer body, or the problems ``(path, message)``.

    ``tags`` become a list of names and ``customData`` a list of ``(property, value)``.
    Unknown keys (``id`` of a batch item included) are ignored, as the read side does.
    """
    if not isinstance(body, dict):
        return [("body", "This value should be of type object.")]
    fields: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key in (*_IDENTITY, *_PROFILE):
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                problems.append((key, "This value should be of type string."))
            fields[key] = value
    if "tags" in body:
        names = tag_names(body["tags"])
        if names is None:
            problems.append(("tags", "This value should be a list of {name}."))
        fields["tags"] = names
    if "customData" in body:
        items = _custom_data(body["customData"])
        if items is None:
            problems.append(("customData", "This value should be a list of {property, value}."))
        fields["customData"] = items
    return problems or fields


def tag_names(raw: object) -> list[str] | None:
    """Return the names of a ``[{"name": ...}]`` list, or None if it is not one."""
    if not isinstance(raw, list):
        return None
    names = [item.get("name") for item in raw if isinstance(item, dict)]
    clean = [n for n in names if isinstance(n, str) and n]
    return clean if len(clean) == len(raw) else None


def _custom_data(raw: object) -> list[tuple[str, Any]] | None:
    if not isinstance(raw, list):
        return None
    items: list[tuple[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("property"), str):
            return None
        value = item.get("value")
        if not isinstance(value, _SCALARS):
            return None
        items.append((item["property"], value))
    return items


def new_customer(fields: dict[str, Any], tags: Tags, *, as_object: bool) -> dict[str, Any]:
    """Return a new customer's object (without ``id``) in the read shape's key order."""
    doc: dict[str, Any] = {key: fields.get(key) for key in _IDENTITY}
    doc.update(firstSeen=None, lastSeen=None)
    doc["location"] = {"regionCode": None, "countryCode": None, "city": None}
    doc["device"] = None
    doc.update(unsubscribed=False, blocked=False, source=None, referer=None, locale=None)
    doc["notes"] = fields.get("notes")
    doc["lastPage"] = None
    doc["tags"] = tags.resolve(fields.get("tags") or [])
    doc["customData"] = _shaped(fields.get("customData") or [], as_object=as_object)
    return doc


def merged(
    doc: dict[str, Any], fields: dict[str, Any], tags: Tags, readings: Readings
) -> dict[str, Any]:
    """Return ``doc`` with ``fields`` merged in: PATCH, as ``readings`` read it."""
    out = dict(doc)
    for key in (*_IDENTITY, *_PROFILE):
        if key in fields:
            out[key] = fields[key]
    if "tags" in fields:
        names = fields["tags"]
        if readings.update_tags == "add":
            names = [t["name"] for t in doc["tags"]] + names
        out["tags"] = tags.resolve(names)
    if "customData" in fields:
        as_object = isinstance(doc["customData"], dict)
        items = fields["customData"]
        if readings.custom_data == "merge":
            items = list({**dict(custom_items(doc)), **dict(items)}.items())
        out["customData"] = _shaped(items, as_object=as_object)
    return out


def replaced(doc: dict[str, Any], fields: dict[str, Any], tags: Tags) -> dict[str, Any]:
    """Return ``doc`` replaced by ``fields``: every writable field not sent becomes null."""
    out = dict(doc)
    for key in (*_IDENTITY, *_PROFILE):
        out[key] = fields.get(key)
    out["tags"] = tags.resolve(fields.get("tags") or [])
    as_object = isinstance(doc["customData"], dict)
    out["customData"] = _shaped(fields.get("customData") or [], as_object=as_object)
    return out


def custom_items(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    """Return a customer object's custom data as ``(property, value)`` pairs."""
    data = doc["customData"]
    if isinstance(data, dict):
        return list(data.items())
    return [(item["property"], item["value"]) for item in data]


def _shaped(items: list[tuple[str, Any]], *, as_object: bool) -> Any:
    if as_object:
        return dict(items)
    return [{"property": key, "value": value} for key, value in dict(items).items()]


def written_value(doc: dict[str, Any], field: str) -> Any:
    """Return what a search condition on ``field`` compares of a written customer."""
    if field in _SEARCHED:
        return doc[_SEARCHED[field]]
    if field in _PLACED:
        location = doc.get("location") or {}
        return location.get(_PLACED[field])
    if field in ("customers.firstSeen", "customers.lastSeen"):
        value = doc[field.removeprefix("customers.")]
        return None if value is None else int(value)
    if field == "customers.tagsData":
        return frozenset(tag["name"] for tag in doc["tags"])
    return None
