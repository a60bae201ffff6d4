"""Every exception this package raises, and the pure mapping from an HTTP answer to one.

The tree::

    HelpCrunchError
    ├── APIError                    the server answered, and not with success
    │   ├── BadRequestError         400, 422: the request was refused as invalid
    │   ├── AuthenticationError     401: the API key was refused
    │   │   └── PermissionDeniedError   403: the key may not do this
    │   ├── NotFoundError           404
    │   ├── RateLimitError          429, once retries are spent; .retry_after
    │   └── ServerError             5xx, once retries are spent
    ├── TransportError              no complete answer: connection faults, once retries are spent
    │   └── RequestTimeoutError     no complete answer in time
    ├── DecodeError                 a 2xx body that is not the documented shape
    ├── AmbiguousWriteError         a create whose fate cannot be read back: applied or not
    ├── IncompleteScanError         a scan ended short of the total; .missing, .at_offset
    ├── InvalidParameterError       bad arguments, raised before any request (also a ValueError)
    ├── ClientClosedError           a request on a closed client (also a RuntimeError)
    ├── RedisUnavailableError       the Redis of a shared rate budget or dedup store is not there
    └── WebhookError                a webhook delivery was refused (the receiving side)
        ├── WebhookSignatureError   not signed by a known secret: missing, malformed,
        │                           wrong, twice, or older than the tolerance (answered 401)
        └── WebhookPayloadError     signed, but not JSON of the documented shape (answered 400)

Any other status (an unlisted 4xx, a redirect, which is never followed) is an
`APIError` itself. ``APIError.errors`` holds *every* entry of the body's
``{"errors": [...]}`` list, because the API's documented codes differ between
versions (``invalid_token`` or ``invalid_request`` + ``unauthorized``; a
``validation_error`` per bad parameter, or ``invalid_request`` plus per-field
entries) and the first entry alone may not say what was wrong.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O.
Exceptions carry only what their raiser passes; the request is described by its
method and its path with query, never by its headers, so the API key (which
travels only in the ``Authorization`` header) cannot reach a message, a log line
or a pickle. Text from the wire (a body, the decoder's account of it) enters an
exception only here, through the ``scrub`` function its builder is given (the
client passes the key's `Secret.scrub`), so a server or proxy that echoes the
key gets it back as ``***``. Every exception pickles and copies with all its
attributes, and none is raised with another library's exception as its cause
or context.
"""

from __future__ import annotations

import http
from typing import Any, AnyStr, Protocol, Self

import msgspec

from ._models.errors import ErrorEntry, decode_error_body

__all__ = [
    "APIError",
    "AmbiguousWriteError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "DecodeError",
    "HelpCrunchError",
    "IncompleteScanError",
    "InvalidParameterError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedisUnavailableError",
    "RequestTimeoutError",
    "Scrub",
    "ServerError",
    "TransportError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "error_for_status",
]

# How much of an unexpected body a message or an attribute keeps.
EXCERPT_BYTES = 200


class Scrub(Protocol):
    """Return wire text (``str`` or ``bytes``) with every copy of a secret redacted."""

    def __call__(self, data: AnyStr, /) -> AnyStr:
        """Return ``data`` redacted, of the same type."""
        ...


def _rebuild(cls: type[HelpCrunchError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Recreate an exception from `HelpCrunchError.__reduce__` without calling ``__init__``."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class HelpCrunchError(Exception):
    """The base of every exception this package raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with every attribute, whatever the subclass's ``__init__`` takes."""
        return (_rebuild, (type(self), self.args, self.__dict__))


class InvalidParameterError(HelpCrunchError, ValueError):
    """An argument is out of range or of the wrong type; raised before any request."""


class ClientClosedError(HelpCrunchError, RuntimeError):
    """A request on a client that was closed; create a new client instead."""


class RedisUnavailableError(HelpCrunchError):
    """The Redis server of a shared rate budget or webhook dedup store could not be reached."""


class APIError(HelpCrunchError):
    """The server answered with a status that is not success.

    ``status`` is the HTTP status, ``errors`` every entry of the body's
    ``errors`` list (empty when the body is not that shape), ``request`` the
    method and path with query (``"GET /v1/customers?limit=100"``), and
    ``body_excerpt`` the start of a body that could not be read as an error list.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        errors: tuple[ErrorEntry, ...] = (),
        request: str = "",
        body_excerpt: bytes = b"",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = tuple(errors)
        self.request = request
        self.body_excerpt = body_excerpt[:EXCERPT_BYTES]

    @property
    def codes(self) -> tuple[str, ...]:
        """The ``code`` of every error entry, in the server's order."""
        return tuple(entry.code for entry in self.errors)


class BadRequestError(APIError):
    """400 or 422: the server refused the request's parameters."""


class AuthenticationError(APIError):
    """401: the API key is missing, malformed or revoked."""


class PermissionDeniedError(AuthenticationError):
    """403: the API key is valid but may not do this."""


class NotFoundError(APIError):
    """404: no such resource (for example, no customer with that id)."""


class RateLimitError(APIError):
    """429 after every retry: the server kept refusing for the rate limit.

    ``retry_after`` is the last ``Retry-After`` in seconds, or ``None`` when the
    server sent none (or one that could not be read).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        errors: tuple[ErrorEntry, ...] = (),
        request: str = "",
        body_excerpt: bytes = b"",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, status=status, errors=errors, request=request, body_excerpt=body_excerpt
        )
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx after every retry: the server failed."""


class TransportError(HelpCrunchError):
    """No complete answer after every retry: the connection failed or the body was cut short.

    ``request`` is the method and path with query, when the raiser gave it.
    """

    def __init__(self, message: str, *, request: str = "") -> None:
        super().__init__(message)
        self.request = request


class RequestTimeoutError(TransportError):
    """No complete answer within the timeout, after every retry.

    Distinct from the builtin ``TimeoutError`` on purpose: it is caught with the
    other transport faults by ``except TransportError``.
    """


class DecodeError(HelpCrunchError):
    """A success answer whose body is not the documented shape, after every retry.

    ``reason`` is the decoder's explanation with the JSON path (``Expected
    `int`, got `str` - at `$.data[3].id```); ``body_excerpt`` the body's first
    bytes, at most ``EXCERPT_BYTES``.
    """

    def __init__(self, message: str, *, body_excerpt: bytes = b"", reason: str = "") -> None:
        super().__init__(message)
        self.body_excerpt = body_excerpt[:EXCERPT_BYTES]
        self.reason = reason or message

    @classmethod
    def from_msgspec(
        cls,
        exc: msgspec.DecodeError | msgspec.ValidationError | RecursionError,
        body: bytes,
        *,
        request: str,
        scrub: Scrub | None = None,
    ) -> Self:
        """Wrap a msgspec error raised while decoding ``body``, the answer to ``request``.

        ``reason`` is the decoder's text; it and the excerpt are passed through ``scrub``.
        """
        reason = str(exc)
        if isinstance(exc, RecursionError):
            reason = "the JSON is nested too deeply to decode"
        if scrub is not None:
            reason, body = scrub(reason), scrub(body)
        return cls(
            f"{request}: the body is not the documented shape: {reason}",
            body_excerpt=body,
            reason=reason,
        )


_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def _class_for(status: int) -> type[APIError]:
    cls = _CLASSES.get(status)
    if cls is not None:
        return cls
    if 500 <= status <= 599:  # noqa: PLR2004 -- the 5xx range
        return ServerError
    return APIError


def _entries(body: bytes) -> tuple[ErrorEntry, ...] | None:
    """Return every entry of an ``{"errors": [...]}`` body, or ``None`` if it is not one.

    Entries whose ``code`` or ``message`` is not a string (a number, say) are
    kept with the value as text, rather than losing the whole list to one entry.
    """
    try:
        return tuple(decode_error_body(body).errors)
    except msgspec.ValidationError:
        pass
    except (msgspec.DecodeError, RecursionError):
        # RecursionError: nested past msgspec's depth, so no error body either.
        return None
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        # The typed decode stopped at the first entry of the wrong type; this
        # one reads on, and may find the rest nested too deeply.
        return None
    errors = raw.get("errors") if isinstance(raw, dict) else None
    if not isinstance(errors, list):
        return None
    return tuple(
        ErrorEntry(
            code=_text(item.get("code")),
            message=_text(item.get("message")),
            field=None if item.get("field") is None else _text(item.get("field")),
        )
        for item in errors
        if isinstance(item, dict)
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def _describe(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _excerpt(body: bytes) -> str:
    if not body.strip():
        return "an empty body"
    text = body[:EXCERPT_BYTES].decode("utf-8", "replace")
    more = "..." if len(body) > EXCERPT_BYTES else ""
    return f"body {text!r}{more}"


def error_for_status(
    status: int,
    body: bytes,
    *,
    request: str,
    retry_after: float | None = None,
    scrub: Scrub | None = None,
) -> APIError:
    """Return the exception for an answer with a non-success ``status``.

    ``body`` is read as ``{"errors": [{"code", "message"}, ...]}``; a body that
    is not JSON, or not that shape, still gives an `APIError` of the right class
    with no entries and the body's start in the message. ``request`` names the
    call (method and path with query; never headers). ``retry_after`` is kept on
    a `RateLimitError`. The body is passed through ``scrub`` before anything is
    read from it. Pure: never raises, never does I/O.
    """
    if scrub is not None:
        body = scrub(body)
    cls = _class_for(status)
    entries = _entries(body)
    if entries:
        parts = [
            f"{entry.code or '(no code)'}: {entry.message or '(no message)'}"
            + (f" [{entry.field}]" if entry.field else "")
            for entry in entries
        ]
    else:
        parts = [f"no error entries in {_excerpt(body)}"]
    if cls is RateLimitError and retry_after is not None:
        parts.append(f"Retry-After {retry_after:g} s")
    message = f"{_describe(status)} for {request or 'a request'}: " + "; ".join(parts)
    excerpt = b"" if entries else body
    if cls is RateLimitError:
        return RateLimitError(
            message,
            status=status,
            errors=entries or (),
            request=request,
            body_excerpt=excerpt,
            retry_after=retry_after,
        )
    return cls(message, status=status, errors=entries or (), request=request, body_excerpt=excerpt)


class AmbiguousWriteError(HelpCrunchError):
    """A create whose fate cannot be known: it may or may not have been applied.

    Raised only after an attempt whose answer was lost (a timeout after the
    request was sent, a dropped connection, a 5xx, a 2xx whose body did not
    arrive whole) when nothing can be read back to tell (an event; a customer
    with neither ``user_id`` nor email), or when the server answered 2xx and
    the record cannot be found. Nothing was sent again. ``request`` is the
    method and path, ``applied`` True when a 2xx said the write happened and
    None when unknown, and the message says what to check before trying again.
    """

    def __init__(self, message: str, *, request: str, applied: bool | None) -> None:
        super().__init__(message)
        self.request = request
        self.applied = applied


class IncompleteScanError(HelpCrunchError):
    """A scan ended short of what the server's totals promise, with no drift to explain it.

    Raised instead of ending the scan as if it were complete: the server served
    empty pages where its total counts more items, or served the same items
    again, or the items yielded fall short of the total by more than the
    deletions and moves the scan saw. ``missing`` is how many items are
    unaccounted for, ``at_offset`` the offset where the data stopped, and
    ``total`` the server's latest total. What was yielded before stays yielded,
    so an export that stops here keeps its checkpoint and can resume.
    """

    def __init__(self, message: str, *, missing: int, at_offset: int, total: int | None) -> None:
        super().__init__(message)
        self.missing = missing
        self.at_offset = at_offset
        self.total = total


class WebhookError(HelpCrunchError):
    """A webhook delivery was refused; the subclass says why.

    Messages name the problem only: never the body, the expected digest or a
    signing secret, so they are safe to log.
    """


class WebhookSignatureError(WebhookError):
    """The delivery does not prove it came from HelpCrunch now.

    The ``X-HelpCrunch-Signature`` header is missing, empty, sent twice, not 40
    hex digits, or no configured secret's HMAC of the body; or the signed
    ``lastAttemptAt`` lies further from now than the receiver's tolerance (a
    replay). Receivers answer it with 401 and an empty body.
    """


class WebhookPayloadError(WebhookError):
    """A correctly signed body that is not JSON of the documented webhook shape.

    ``reason`` is the decoder's explanation with the JSON path (``Expected
    `object`, got `str` - at `$.eventData.customer```); it never holds the body.
    Receivers answer it with 400.
    """

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message
