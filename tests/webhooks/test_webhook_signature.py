"""Signature vectors, rotation, and Hypothesis: verify accepts exactly what one secret signed."""

from __future__ import annotations

import hashlib
import hmac
import pickle
import traceback
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async import InvalidParameterError, webhooks
from helpcrunch_async._core.signature import signature_problem

SECRET = "whsec-test-0123456789"  # noqa: S105 -- a test key
OTHER = "another-secret"
BODY = b'{"event":"chat.new","eventData":{"chat_id":1},"id":"e-1","lastAttemptAt":1700000000}'


def reference(body: bytes, secret: str) -> str:
    """The vendor's PHP: hash_hmac('sha1', $body, $key)."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_sign_is_the_vendor_reference() -> None:
    assert webhooks.sign(BODY, SECRET) == reference(BODY, SECRET)
    assert len(webhooks.sign(BODY, SECRET)) == 40


@pytest.mark.parametrize(
    "signature",
    [
        reference(BODY, SECRET),
        reference(BODY, SECRET).upper(),
        f"  {reference(BODY, SECRET)}\t\n",
    ],
    ids=["valid", "upper-case hex", "whitespace"],
)
def test_accepted_vectors(signature: str) -> None:
    webhooks.verify(BODY, signature, SECRET)


@pytest.mark.parametrize(
    ("body", "signature", "words"),
    [
        (BODY, reference(BODY, OTHER), "does not match"),
        (BODY.replace(b'chat_id":1', b'chat_id":2'), reference(BODY, SECRET), "does not match"),
        (BODY + b" ", reference(BODY, SECRET), "does not match"),
        (BODY, None, "missing"),
        (BODY, "", "empty"),
        (BODY, "   ", "empty"),
        (BODY, reference(BODY, SECRET)[:-1], "39 characters"),
        (BODY, reference(BODY, SECRET) + "0", "41 characters"),
        (BODY, "z" * 40, "not hexadecimal"),
        (BODY, "sha1=" + reference(BODY, SECRET)[5:], "not hexadecimal"),
    ],
    ids=[
        "wrong secret",
        "tampered body",
        "one byte added",
        "none",
        "empty",
        "blank",
        "short",
        "long",
        "not hex",
        "prefixed",
    ],
)
def test_refused_vectors(body: bytes, signature: str | None, words: str) -> None:
    with pytest.raises(webhooks.WebhookSignatureError, match=words) as info:
        webhooks.verify(body, signature, SECRET)
    text = str(info.value)
    assert SECRET not in text
    assert body.decode() not in text
    assert reference(body, SECRET) not in text.lower()


def test_rotation_accepts_either_secret() -> None:
    for secret in (SECRET, OTHER):
        webhooks.verify(BODY, reference(BODY, secret), [SECRET, OTHER])
    with pytest.raises(webhooks.WebhookSignatureError):
        webhooks.verify(BODY, reference(BODY, "third"), [SECRET, OTHER])


def test_a_second_header_is_refused_even_when_both_are_valid() -> None:
    good = reference(BODY, SECRET)
    headers = [("X-HelpCrunch-Signature", good), ("x-helpcrunch-signature", good)]
    with pytest.raises(webhooks.WebhookSignatureError, match="2 times"):
        webhooks.parse(BODY, headers, SECRET, now=1700000000)
    with pytest.raises(webhooks.WebhookSignatureError, match="2 times"):
        webhooks.parse(BODY, dict(headers), SECRET, now=1700000000)
    assert webhooks.parse(BODY, {"X-HELPCRUNCH-SIGNATURE": good}, SECRET, now=1700000000)


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ("", "empty"),
        ([], "at least one"),
        ([SECRET, ""], "empty"),
        (b"bytes", "str"),
        (None, "str"),
        ([SECRET, 5], "str"),
    ],
)
def test_an_unusable_secret_is_a_clear_error_before_anything(secret: object, words: str) -> None:
    with pytest.raises(InvalidParameterError, match=words):
        webhooks.verify(BODY, reference(BODY, SECRET), secret)  # type: ignore[arg-type]  # on purpose


def test_no_traceback_local_holds_the_secret() -> None:
    secret = "s3cr3t-never-shown-anywhere"  # noqa: S105 -- a test key
    for signature in ("", "0" * 40):
        with pytest.raises(webhooks.WebhookSignatureError) as info:
            webhooks.parse(BODY, {"X-HelpCrunch-Signature": signature}, [secret], now=0)
        exc = info.value
        trace = traceback.TracebackException.from_exception(exc, capture_locals=True)
        formatted = "".join(trace.format())
        # The test's own frame holds it, by construction; every frame below must not.
        below = formatted.split(", in parse\n", 1)[1]
        assert secret not in below
        assert secret not in repr(exc)


def test_signing_secret_is_redacted_and_refuses_pickle() -> None:
    key = webhooks.SigningSecret(SECRET)
    assert SECRET not in repr(key)
    assert SECRET not in str(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    webhooks.verify(BODY, reference(BODY, SECRET), key)


def test_the_signature_check_reads_exactly_forty_hex_digits() -> None:
    assert signature_problem("a" * 40) is None
    assert signature_problem("A" * 40) is None
    assert signature_problem("İ" * 40) is not None
    assert signature_problem(b"a" * 40) is not None


secrets_ = st.text(min_size=1, max_size=30)


@given(
    body=st.binary(max_size=300),
    signer=secrets_,
    configured=st.lists(secrets_, min_size=1, max_size=3),
)
def test_verify_accepts_exactly_the_bodies_signed_with_one_of_the_secrets(
    body: bytes, signer: str, configured: list[str]
) -> None:
    signature = webhooks.sign(body, signer)
    should_pass = any(hmac.compare_digest(reference(body, s), signature) for s in configured)
    try:
        webhooks.verify(body, signature, configured)
    except webhooks.WebhookSignatureError:
        assert not should_pass
    else:
        assert should_pass


@given(body=st.binary(max_size=200), other=st.binary(max_size=200))
def test_a_signature_of_one_body_never_verifies_another(body: bytes, other: bytes) -> None:
    signature = webhooks.sign(body, SECRET)
    if other == body:
        webhooks.verify(other, signature, SECRET)
    else:
        with pytest.raises(webhooks.WebhookSignatureError):
            webhooks.verify(other, signature, SECRET)


@given(junk=st.text(max_size=60))
def test_any_header_value_is_accepted_or_refused_never_a_crash(junk: str) -> None:
    try:
        webhooks.verify(BODY, junk, SECRET)
    except webhooks.WebhookSignatureError:
        pass
    else:
        assert junk.strip().lower() == reference(BODY, SECRET)


def test_every_header_container_is_read_for_every_value() -> None:
    from multidict import CIMultiDict  # noqa: PLC0415 -- aiohttp's own
    from starlette.datastructures import Headers  # noqa: PLC0415 -- FastAPI's own

    good = reference(BODY, SECRET)
    once: list[Any] = [
        CIMultiDict([("x-helpcrunch-signature", good)]),
        Headers(raw=[(b"x-helpcrunch-signature", good.encode())]),
        [(b"X-HelpCrunch-Signature", good.encode())],
        {"x-helpcrunch-signature": good},
    ]
    for headers in once:
        assert webhooks.parse(BODY, headers, SECRET, now=1700000000).id == "e-1"
    twice: list[Any] = [
        CIMultiDict([("X-HelpCrunch-Signature", good), ("x-helpcrunch-signature", good)]),
        Headers(raw=[(b"x-helpcrunch-signature", good.encode())] * 2),
        [(b"x-helpcrunch-signature", good.encode())] * 2,
    ]
    for headers in twice:
        with pytest.raises(webhooks.WebhookSignatureError, match="2 times"):
            webhooks.parse(BODY, headers, SECRET, now=1700000000)


def test_the_tolerance_reads_the_injected_clock_and_can_be_turned_off() -> None:
    headers = {"X-HelpCrunch-Signature": reference(BODY, SECRET)}
    assert webhooks.parse(BODY, headers, SECRET, now=1700000000 + 300)
    assert webhooks.parse(BODY, headers, SECRET, now=1700000000 - 300)
    for now in (1700000000 + 301, 1700000000 - 301):
        with pytest.raises(webhooks.WebhookSignatureError, match="tolerance of 300 s"):
            webhooks.parse(BODY, headers, SECRET, now=now)
    assert webhooks.parse(BODY, headers, SECRET, tolerance=None, now=0)
    with pytest.raises(webhooks.WebhookSignatureError, match="tolerance of 10 s"):
        webhooks.parse(BODY, headers, SECRET, tolerance=10, now=1700000011)
    with pytest.raises(InvalidParameterError, match="tolerance"):
        webhooks.parse(BODY, headers, SECRET, tolerance=-1)
