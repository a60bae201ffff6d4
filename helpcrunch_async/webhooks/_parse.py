"""`parse` and `decode`: a delivery's raw body and headers to a typed event, or a clear error."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from helpcrunch_async._core.delivery import (
    DEFAULT_TOLERANCE,
    header_count_problem,
    staleness_problem,
)
from helpcrunch_async._core.params import check_optional_seconds
from helpcrunch_async._core.signature import SIGNATURE_HEADER, signing_secrets, verify_with
from helpcrunch_async._errors import WebhookPayloadError, WebhookSignatureError
from helpcrunch_async._models.events import decode_event

if TYPE_CHECKING:
    from helpcrunch_async._core.signature import SecretsArgument, SigningSecret
    from helpcrunch_async._models.events import Event

__all__ = ["Headers", "checked_event", "decode", "header_values", "parse"]

Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""Request headers: a mapping (a multi-dict is read for every value) or ``(name, value)`` pairs."""

_NAME = SIGNATURE_HEADER.lower()


def parse(
    body: bytes,
    headers: Headers,
    secret: SecretsArgument,
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Event:
    """Verify a delivery and return its typed event.

    ``body`` is the raw request body exactly as received, ``headers`` the
    request's headers (a dict, aiohttp's or Starlette's multi-dict, or ASGI's
    ``(name, value)`` pairs), ``secret`` the signing key, or several during a
    rotation. ``tolerance`` is how far the signed ``lastAttemptAt`` may lie
    from ``now`` (unix seconds; the system clock when None), or None for no check.

    Raises `WebhookSignatureError` (no signature, two, a wrong one, or a stale
    delivery), `WebhookPayloadError` (signed, but not the documented shape)
    or `InvalidParameterError` (an unusable secret or tolerance).
    """
    keys = signing_secrets(secret)
    del secret
    tolerance = check_optional_seconds("tolerance", tolerance)
    return checked_event(
        body,
        header_values(headers),
        keys,
        tolerance=tolerance,
        now=time.time() if now is None else now,
    )


def checked_event(
    body: bytes,
    signatures: Sequence[str],
    keys: Sequence[SigningSecret],
    *,
    tolerance: float | None,
    now: float,
) -> Event:
    """Apply rules 2 to 5 of `_core.delivery` to a delivery; the receivers' entry point."""
    problem = header_count_problem(signatures, SIGNATURE_HEADER)
    if problem is not None:
        raise WebhookSignatureError(problem)
    verify_with(body, signatures[0] if signatures else None, keys)
    event = decode(body)
    problem = staleness_problem(event.last_attempt_at, now, tolerance)
    if problem is not None:
        raise WebhookSignatureError(problem)
    return event


def decode(body: bytes) -> Event:
    """Decode a body that was verified before (a spooled one) into its typed event.

    Does not verify: call `parse` for anything that comes from the network.
    Raises `WebhookPayloadError` for a body that is not the documented shape.
    """
    try:
        return decode_event(body)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: first
        reason = str(exc)
        raise WebhookPayloadError(
            f"the webhook body is not the documented shape: {reason}", reason=reason
        ) from None
    except msgspec.DecodeError as exc:
        reason = str(exc)
        raise WebhookPayloadError(
            f"the webhook body is not JSON: {reason}", reason=reason
        ) from None
    except RecursionError:
        reason = "the JSON is nested too deeply to decode"
        raise WebhookPayloadError(f"the webhook body is refused: {reason}", reason=reason) from None


def header_values(headers: Headers) -> list[str]:
    """Return every value of the signature header in ``headers``, whatever their container."""
    getall: Any = getattr(headers, "getall", None) or getattr(headers, "getlist", None)
    if getall is not None and isinstance(headers, Mapping):
        # aiohttp's CIMultiDict and Starlette's Headers: case-insensitive, every value.
        try:
            found = getall(SIGNATURE_HEADER, [])
        except TypeError:  # Starlette's getlist takes the name only
            found = getall(SIGNATURE_HEADER)
        return [_text(value) for value in found]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [_text(value) for name, value in pairs if _text(name).lower() == _NAME]


def _text(value: str | bytes) -> str:
    # HTTP header bytes are Latin-1 by definition (RFC 9110 treats others as opaque).
    return value.decode("latin-1") if isinstance(value, bytes) else value
