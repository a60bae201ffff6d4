"""Webhook signatures: the HMAC-SHA1 hex digest of the raw body, checked in constant time.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O.

The rules (one decision, one file):

1. The signed message is the request body's bytes exactly as received, before
   any JSON parse or re-encoding; the key is the account's webhook signing key
   (not the REST API key). The digest is HMAC-SHA1, written as 40 hex digits
   in the ``X-HelpCrunch-Signature`` header.
2. The header's value is read with surrounding whitespace ignored and the hex
   digits in either case. A value that is missing, empty, not 40 characters
   long or not hex is refused before any digest is computed: it cannot match.
3. Several secrets may be configured (a rotation: the old and the new key at
   once). The body is accepted when its digest under any of them equals the
   header's, compared with `hmac.compare_digest`; every secret is tried, so the
   time taken does not say which one matched.
4. A refusal's message names the problem (missing, malformed, no match) and
   never holds the body, the expected digest or a secret. Secrets travel as
   `SigningSecret`, whose ``repr`` is redacted, and the functions that take
   them as text drop the text before they raise, so no traceback's locals
   show one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import NoReturn

from helpcrunch_async._core.secret import Secret
from helpcrunch_async._errors import InvalidParameterError, WebhookSignatureError

__all__ = [
    "DIGEST_HEX_LENGTH",
    "SIGNATURE_HEADER",
    "SecretsArgument",
    "SigningSecret",
    "secrets_problem",
    "sign",
    "signature_problem",
    "signing_secrets",
    "verify",
    "verify_with",
]

SIGNATURE_HEADER = "X-HelpCrunch-Signature"
"""The header that carries a delivery's signature (header names are case-insensitive)."""

# SHA-1 is the vendor's choice; as an HMAC it is still unbroken (RFC 6151 says the same of MD5).
DIGEST_HEX_LENGTH = 2 * hashlib.sha1().digest_size  # noqa: S324 -- the vendor's algorithm
"""The length of the header's value: 40 hex digits."""

_HEX = frozenset("0123456789abcdef")


class SigningSecret(Secret):
    """A webhook signing key; ``repr`` and ``str`` are redacted, and it does not pickle."""

    __slots__ = ()

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SigningSecret is never pickled")  # the boundary's own type error

    def digest(self, body: bytes) -> bytes:
        """Return the raw HMAC-SHA1 of ``body`` under this key (rule 1)."""
        return hmac.digest(self._bytes, body, hashlib.sha1)


SecretsArgument = str | SigningSecret | Sequence[str | SigningSecret]
"""What the public functions accept as secrets: one, or several during a rotation."""


def secrets_problem(secret: object) -> str | None:
    """Return what is wrong with a ``secret`` argument, or None if it is usable.

    Returned rather than raised, so that the caller can drop the value from
    its frame before raising (rule 4).
    """
    values = [secret] if isinstance(secret, str | SigningSecret) else secret
    if isinstance(values, bytes | bytearray) or not isinstance(values, Sequence):
        return f"the webhook secret must be a str or a sequence of str, got {type(secret).__name__}"
    if not values:
        return "at least one webhook secret is needed, got an empty sequence"
    for value in values:
        if isinstance(value, SigningSecret):
            continue
        if not isinstance(value, str):
            return f"each webhook secret must be a str, got {type(value).__name__}"
        if not value:
            return "a webhook secret is empty: copy the signing key from Settings > Webhooks"
    return None


def signing_secrets(secret: SecretsArgument) -> tuple[SigningSecret, ...]:
    """Return the secrets of a ``secret`` argument as `SigningSecret` objects.

    Raises `InvalidParameterError` naming the problem (an empty secret, a
    wrong type), never the value.
    """
    problem = secrets_problem(secret)
    if problem is not None:
        del secret
        raise InvalidParameterError(problem)
    values = [secret] if isinstance(secret, str | SigningSecret) else secret
    del secret
    return tuple(v if isinstance(v, SigningSecret) else SigningSecret(v) for v in values)


def sign(body: bytes, secret: str | SigningSecret) -> str:
    """Return the ``X-HelpCrunch-Signature`` value for ``body``: 40 lowercase hex digits.

    What HelpCrunch sends (PHP's ``hash_hmac('sha1', $body, $key)``); the
    emulator and tests sign their deliveries with it.
    """
    (key,) = signing_secrets(secret)
    del secret
    return key.digest(body).hex()


def verify(body: bytes, signature: str | None, secret: SecretsArgument) -> None:
    """Return if ``signature`` is the HMAC-SHA1 of ``body`` under one of the secrets; else raise.

    ``body`` is the raw request body, ``signature`` the header's value (None
    when the request had none). Raises `WebhookSignatureError` for a missing,
    malformed or wrong signature (its message never holds the body, the digest
    or a secret) and `InvalidParameterError` for an unusable ``secret``.
    """
    keys = signing_secrets(secret)
    del secret
    verify_with(body, signature, keys)


def verify_with(body: bytes, signature: str | None, keys: Sequence[SigningSecret]) -> None:
    """`verify` with secrets already checked by `signing_secrets` (the receivers' hot path)."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise InvalidParameterError(
            f"the webhook body must be the raw bytes as received, got {type(body).__name__}"
        )
    problem = signature_problem(signature)
    if problem is not None:
        raise WebhookSignatureError(problem)
    # Checked by signature_problem: a str of 40 hex digits once stripped and lowered.
    given = bytes.fromhex(str(signature).strip())
    matched = False
    for key in keys:
        # Every key is tried (rule 3): `|` does not short-circuit.
        matched |= hmac.compare_digest(key.digest(bytes(body)), given)
    if not matched:
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} header does not match the body under any configured secret"
        )


def signature_problem(signature: object) -> str | None:
    """Return why a header value cannot be a signature (rule 2), or None if it is well formed."""
    if signature is None:
        return f"the {SIGNATURE_HEADER} header is missing"
    if not isinstance(signature, str):
        return f"the {SIGNATURE_HEADER} header must be text, got {type(signature).__name__}"
    text = signature.strip()
    if not text:
        return f"the {SIGNATURE_HEADER} header is empty"
    if len(text) != DIGEST_HEX_LENGTH:
        return (
            f"the {SIGNATURE_HEADER} header is not a signature: "
            f"{len(text)} characters, where {DIGEST_HEX_LENGTH} hex digits are expected"
        )
    if not _HEX.issuperset(text.lower()):
        return f"the {SIGNATURE_HEADER} header is not a signature: it is not hexadecimal"
    return None
