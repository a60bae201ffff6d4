"""The sync's own arguments, checked before any request: a bad one is named."""

from __future__ import annotations

from helpcrunch_async._core.params import check_positive_int
from helpcrunch_async._errors import InvalidParameterError

__all__ = ["check_source"]


def check_source(*, refresh_days: int, inbox_only: bool, has_inbox: bool, inbox_limit: int) -> None:
    """Raise `InvalidParameterError` naming the first bad argument of a sync source."""
    if isinstance(refresh_days, bool) or not isinstance(refresh_days, int) or refresh_days < 0:
        raise InvalidParameterError(f"refresh_days must be an int >= 0, got {refresh_days!r}")
    if inbox_only and not has_inbox:
        raise InvalidParameterError("inbox_only needs an inbox")
    check_positive_int("inbox_limit", inbox_limit)
