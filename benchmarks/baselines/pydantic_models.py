"""The pydantic v2 baseline: the same customer model, validated by pydantic.

It accepts and normalises the same variants as `helpcrunch_async._models.customers`
(``customData`` as a list or an object, timestamps as int, float, numeric string or
null) with one Python hook per customer, as ``Customer.__post_init__`` does, so the
benchmark compares equal work.
"""

from __future__ import annotations

import math
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = ["PydanticCustomer", "PydanticPage"]

Scalar = str | int | float | bool | None


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class PydanticLocation(_Model):
    """Where the customer was last seen."""

    region_code: str | None = None
    country_code: str | None = None
    city: str | None = None


class PydanticDevice(_Model):
    """The customer's device."""

    id: int | None = None
    ip: str | None = None
    timezone: str | None = None
    platform: str | None = None
    user_agent: str | None = None


class PydanticTag(_Model):
    """A tag."""

    name: str = ""
    color: str | None = None


class PydanticCustomDataItem(_Model):
    """One custom attribute."""

    property: str
    value: Scalar = None


def _seconds(value: float | str | None) -> int | None:
    if value is None or type(value) is int:
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        value = float(value)
    if not math.isfinite(value):
        raise ValueError("not unix seconds")
    return math.floor(value)


class PydanticCustomer(_Model):
    """One customer, normalised like `helpcrunch_async.Customer`."""

    id: int
    name: str | None = None
    email: str | None = None
    user_id: str | None = None
    company: str | None = None
    phone: str | None = None
    first_seen: int | float | str | None = None
    last_seen: int | float | str | None = None
    location: PydanticLocation | None = None
    device: PydanticDevice | None = None
    unsubscribed: bool = False
    blocked: bool = False
    source: str | None = None
    referer: str | None = None
    locale: str | None = None
    notes: str | None = None
    last_page: str | None = None
    tags: list[PydanticTag] = Field(default_factory=list)
    custom_data: list[PydanticCustomDataItem] | dict[str, Scalar] = Field(default_factory=list)

    @model_validator(mode="after")
    def _normalise(self) -> Self:
        data = self.custom_data
        if type(data) is dict:
            self.custom_data = [
                PydanticCustomDataItem(property=key, value=value) for key, value in data.items()
            ]
        if self.first_seen is not None and type(self.first_seen) is not int:
            self.first_seen = _seconds(self.first_seen)
        if self.last_seen is not None and type(self.last_seen) is not int:
            self.last_seen = _seconds(self.last_seen)
        return self


class PydanticPage(_Model):
    """One page of customers."""

    total: int
    data: list[PydanticCustomer]
