"""`RedisDedup`: webhook deduplication shared by every worker that uses one Redis.

A claim is ``SET key token NX PX pending_ttl`` (in a script that also reads
what a lost race found): one worker wins; a key that says ``done`` is a
duplicate to acknowledge, one that holds another claim's token is in hand.
Releasing with ``done=True`` turns the key into a mark that lives ``ttl``
seconds (the dedup window); ``done=False`` deletes it, so the redelivery is
handled. Both releases act only if the key still holds
this claim's random token (a Lua script), so a claim that outlived its
``pending_ttl`` and was taken over by another worker is never undone by the
first one. ``pending_ttl`` bounds how long a crashed worker's claim blocks a
redelivery: make it longer than a handler runs.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Self

from helpcrunch_async._core.params import check_seconds
from helpcrunch_async._errors import RedisUnavailableError
from helpcrunch_async._redis.client import _import_redis, _redact
from helpcrunch_async.webhooks._dedup import Claim

if TYPE_CHECKING:
    from types import TracebackType

    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["DEFAULT_PENDING_TTL", "DEFAULT_TTL", "RedisDedup"]

DEFAULT_TTL = 24 * 3600.0
"""How long a handled id stays marked by default: a day, far beyond the default tolerance."""

DEFAULT_PENDING_TTL = 300.0
"""How long a claim blocks redeliveries by default when its worker never releases it."""

# KEYS[1] the id's key; ARGV[1] the claim's token, ARGV[2] the claim's lifetime in ms.
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'new' end
if redis.call('GET', KEYS[1]) == 'done' then return 'done' end
return 'busy'
"""

# KEYS[1] the id's key; ARGV[1] the claim's token, ARGV[2] "done" or "",
# ARGV[3] the mark's lifetime in ms. Acts only on this claim's own key.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'done' then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
"""


class RedisDedup:
    """A dedup store shared through Redis (``pip install 'helpcrunch-async[redis]'``).

    ``url`` is the Redis URL (its password never shows in a repr or error),
    ``prefix`` starts every key, ``ttl`` is how long a handled id stays
    marked and ``pending_ttl`` how long an unreleased claim lasts, in seconds.
    Use ``async with`` (or `connect`) to fail fast if Redis cannot be reached,
    and `aclose` when done.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "helpcrunch:webhook:",
        ttl: float = DEFAULT_TTL,
        pending_ttl: float = DEFAULT_PENDING_TTL,
        redis_timeout: float = 2.0,
    ) -> None:
        aioredis, no_retry = _import_redis()
        self._ttl_ms = round(check_seconds("ttl", ttl) * 1000) or 1
        self._pending_ms = round(check_seconds("pending_ttl", pending_ttl) * 1000) or 1
        timeout = check_seconds("redis_timeout", redis_timeout)
        self._prefix = prefix
        self._url = _redact(url)
        self._redis: Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=no_retry
        )
        self._claim: AsyncScript = self._redis.register_script(_CLAIM)
        self._release: AsyncScript = self._redis.register_script(_RELEASE)
        # The token of each claim this instance holds, until released.
        self._tokens: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"RedisDedup({self._url!r}, prefix={self._prefix!r})"

    @classmethod
    async def connect(cls, url: str, **options: float | str) -> Self:
        """Create a store and ping Redis; raise `RedisUnavailableError` if it does not answer."""
        store = cls(url, **options)  # type: ignore[arg-type]  # the keyword options of __init__
        try:
            await store.check()
        except BaseException:
            await store.aclose()
            raise
        return store

    async def check(self) -> None:
        """Ping Redis; raise `RedisUnavailableError` if it does not answer."""
        try:
            await self._redis.ping()
        except Exception:  # noqa: BLE001 -- any failure to answer is "unavailable"
            raise RedisUnavailableError(f"cannot reach Redis at {self._url}") from None

    async def __aenter__(self) -> Self:
        """Check that Redis answers; close the connection if it does not."""
        try:
            await self.check()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection pool."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    async def claim(self, event_id: str) -> Claim:
        """Take ``event_id`` in hand (``SET NX``), or say it is handled or in another's hands."""
        token = secrets.token_hex(16)
        found = await self._claim(keys=[self._prefix + event_id], args=[token, self._pending_ms])
        claim = Claim(found.decode() if isinstance(found, bytes) else found)
        if claim is Claim.NEW:
            self._tokens[event_id] = token
        return claim

    async def release(self, event_id: str, *, done: bool) -> None:
        """Mark ``event_id`` handled for ``ttl`` (``done``), or delete this claim."""
        token = self._tokens.pop(event_id, None)
        if token is None:
            return
        await self._release(
            keys=[self._prefix + event_id], args=[token, "done" if done else "", self._ttl_ms]
        )
