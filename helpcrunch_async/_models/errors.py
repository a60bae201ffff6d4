"""The wire type of an error answer: ``{"errors": [{"code", "message", "field"}, ...]}``.

Every endpoint answers a refusal with this body; `_errors` reads it (adding the
tolerance for entries of the wrong type) into the exception it builds.
"""

from __future__ import annotations

import msgspec

__all__ = ["ErrorBody", "ErrorEntry", "decode_error_body"]


class ErrorEntry(msgspec.Struct, rename="camel", frozen=True):
    """One entry of an error body's ``errors`` list.

    ``code`` is machine-readable (``validation_error``, ``invalid_token``, ...),
    ``message`` is for people. Some documented 400 answers add per-field entries;
    ``field`` carries the parameter such an entry names, when it names one.
    """

    code: str = ""
    message: str = ""
    field: str | None = None


class ErrorBody(msgspec.Struct, rename="camel"):
    """An error answer's body: ``{"errors": [{"code", "message"}, ...]}``."""

    errors: list[ErrorEntry] = msgspec.field(default_factory=list)


_DECODER = msgspec.json.Decoder(ErrorBody)


def decode_error_body(body: bytes) -> ErrorBody:
    """Decode an error answer's body strictly; `_errors` adds the tolerance.

    Raises `msgspec.DecodeError` for a body that is not JSON and
    `msgspec.ValidationError` (with the JSON path) for one of the wrong shape.
    """
    return _DECODER.decode(body)
