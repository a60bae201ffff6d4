"""The error tree and `error_for_status`: class by status, every entry kept, clean messages."""

from __future__ import annotations

import copy
import pickle

import msgspec
import pytest

from helpcrunch_async._errors import (
    EXCERPT_BYTES,
    APIError,
    AuthenticationError,
    BadRequestError,
    DecodeError,
    HelpCrunchError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    error_for_status,
)
from helpcrunch_async._models.errors import ErrorEntry

REQUEST = "GET /v1/customers?offset=0&limit=100"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (422, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (501, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
        (402, APIError),
        (405, APIError),
        (409, APIError),
        (418, APIError),
        (451, APIError),
        (499, APIError),
        (301, APIError),
        (600, APIError),
    ],
)
def test_status_picks_the_class(status: int, cls: type[APIError]) -> None:
    error = error_for_status(status, b"", request=REQUEST)
    assert type(error) is cls
    assert error.status == status
    assert error.request == REQUEST
    assert str(status) in str(error)
    assert REQUEST in str(error)


@pytest.mark.parametrize(
    ("status", "body", "codes"),
    [
        (
            401,
            b'{"errors": [{"code": "invalid_token", "message": "Invalid token"}]}',
            ["invalid_token"],
        ),
        (
            401,
            (
                b'{"errors": [{"code": "invalid_request", "message": "Bad request"},'
                b' {"code": "unauthorized", "message": "Unauthorized"}]}'
            ),
            ["invalid_request", "unauthorized"],
        ),
        (
            404,
            b'{"errors": [{"code": "entity_not_found", "message": "Not found"}]}',
            ["entity_not_found"],
        ),
        (
            404,
            b'{"errors": [{"code": "not_found", "message": "Customer not found"}]}',
            ["not_found"],
        ),
        (
            400,
            (
                b'{"errors": [{"code": "validation_error", "message": "limit value is invalid"},'
                b' {"code": "validation_error", "message": "sort value is invalid"},'
                b' {"code": "validation_error", "message": "order value is invalid"}]}'
            ),
            ["validation_error"] * 3,
        ),
        (
            400,
            (
                b'{"errors": [{"code": "invalid_request", "message": "Invalid request"},'
                b' {"code": "invalid_parameter", "message": "must be <= 100", "field": "limit"}]}'
            ),
            ["invalid_request", "invalid_parameter"],
        ),
        (
            429,
            (
                b'{"errors": [{"code": "too_many_requests",'
                b' "message": "You have exceeded your requests limit"}]}'
            ),
            ["too_many_requests"],
        ),
    ],
)
def test_every_entry_is_kept_and_named(status: int, body: bytes, codes: list[str]) -> None:
    error = error_for_status(status, body, request=REQUEST)
    assert error.codes == tuple(codes)
    assert all(isinstance(entry, ErrorEntry) for entry in error.errors)
    assert isinstance(error.errors, tuple)
    message = str(error)
    for entry in error.errors:
        assert entry.code in message
        assert entry.message in message
    assert error.body_excerpt == b""


def test_the_three_validation_messages_all_appear() -> None:
    body = (
        b'{"errors": [{"code": "validation_error", "message": "limit value is invalid"},'
        b' {"code": "validation_error", "message": "sort value is invalid"},'
        b' {"code": "validation_error", "message": "order value is invalid"}]}'
    )
    message = str(error_for_status(400, body, request="GET /v1/customers?limit=500"))
    assert message == (
        "400 Bad Request for GET /v1/customers?limit=500: "
        "validation_error: limit value is invalid; "
        "validation_error: sort value is invalid; "
        "validation_error: order value is invalid"
    )


def test_a_per_field_entry_names_its_field() -> None:
    body = b'{"errors": [{"code": "invalid_parameter", "message": "too big", "field": "limit"}]}'
    error = error_for_status(400, body, request=REQUEST)
    assert error.errors == (ErrorEntry("invalid_parameter", "too big", field="limit"),)
    assert "[limit]" in str(error)


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"message": "Server Error"}',
        b'{"errors": "nope"}',
        b"[1, 2]",
        b"null",
        b"\xff\xfe not utf-8",
        b"",
        b"   ",
        b'{"errors": [',
    ],
)
def test_a_body_of_another_shape_still_gives_the_error(body: bytes) -> None:
    error = error_for_status(502, body, request=REQUEST)
    assert type(error) is ServerError
    assert error.errors == ()
    assert "no error entries" in str(error)
    assert error.body_excerpt == body[:EXCERPT_BYTES]


def test_the_excerpt_is_short() -> None:
    body = b"x" * 10_000
    error = error_for_status(500, body, request=REQUEST)
    assert len(error.body_excerpt) == EXCERPT_BYTES
    assert len(str(error)) < 400
    assert str(error).endswith("...")


def test_entries_of_odd_types_are_kept_as_text() -> None:
    body = b'{"errors": [{"code": 429, "message": "slow down"}, {"message": null}, "junk"]}'
    error = error_for_status(429, body, request=REQUEST)
    assert error.errors == (ErrorEntry("429", "slow down"), ErrorEntry("", ""))


def test_rate_limit_carries_retry_after() -> None:
    error = error_for_status(429, b"", request=REQUEST, retry_after=2.5)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 2.5
    assert "Retry-After 2.5 s" in str(error)
    assert isinstance(error_for_status(429, b"", request=REQUEST), RateLimitError)
    unknown = error_for_status(429, b"", request=REQUEST)
    assert isinstance(unknown, RateLimitError)
    assert unknown.retry_after is None


def test_the_tree() -> None:
    for cls in (APIError, TransportError, DecodeError, InvalidParameterError):
        assert issubclass(cls, HelpCrunchError)
    for cls in (BadRequestError, AuthenticationError, NotFoundError, RateLimitError, ServerError):
        assert issubclass(cls, APIError)
    assert issubclass(PermissionDeniedError, AuthenticationError)
    assert issubclass(RequestTimeoutError, TransportError)
    assert issubclass(InvalidParameterError, ValueError)
    assert not issubclass(RequestTimeoutError, TimeoutError)
    assert not issubclass(APIError, ValueError)
    with pytest.raises(ValueError, match="limit"):
        raise InvalidParameterError("limit must be from 1 to 100")


@pytest.mark.parametrize(
    "error",
    [
        error_for_status(
            400,
            b'{"errors": [{"code": "a", "message": "b"}, {"code": "c", "message": "d"}]}',
            request=REQUEST,
        ),
        error_for_status(429, b"{}", request=REQUEST, retry_after=3.0),
        error_for_status(503, b"<html>", request=REQUEST),
        TransportError("GET /v1/customers: ServerDisconnectedError", request=REQUEST),
        RequestTimeoutError("GET /v1/customers: no answer within 30 s"),
        DecodeError("GET /v1/customers: bad body", body_excerpt=b"{", reason="Expected `int`"),
        InvalidParameterError("limit must be from 1 to 100"),
    ],
)
def test_errors_pickle_and_copy_with_their_attributes(error: HelpCrunchError) -> None:
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):  # noqa: S301 -- our own bytes
        assert type(clone) is type(error)
        assert str(clone) == str(error)
        assert clone.args == error.args
        assert vars(clone) == vars(error)


def test_decode_error_from_msgspec() -> None:
    body = b'{"total": 1, "data": [{"id": "x"}]}'
    try:
        msgspec.json.decode(body, type=dict[str, int])
    except msgspec.ValidationError as exc:
        error = DecodeError.from_msgspec(exc, body, request=REQUEST)
    assert error.reason.startswith("Expected `int`")
    assert REQUEST in str(error)
    assert error.reason in str(error)
    assert error.body_excerpt == body


def test_decode_error_keeps_a_short_excerpt() -> None:
    error = DecodeError("bad", body_excerpt=b"y" * 5000)
    assert len(error.body_excerpt) == EXCERPT_BYTES
    assert error.reason == "bad"


def test_messages_hold_only_what_was_given() -> None:
    # The caller never passes headers; nothing here can reach for them.
    error = error_for_status(401, b'{"errors": []}', request="GET /v1/customers")
    assert "Bearer" not in str(error)
    assert "Authorization" not in repr(error)
    assert (
        str(error)
        == "401 Unauthorized for GET /v1/customers: no error entries in body '{\"errors\": []}'"
    )
