"""The Redis client pieces a shared budget and the webhook dedup build on.

`_import_redis` imports the optional ``redis`` package (a clear `ImportError`
naming the extra when it is missing) with a retry policy that lets a fault
surface at once; `_Script` runs one Lua script and turns Redis refusing it into
`RedisUnavailableError`; `_redact` keeps credentials out of logs and errors.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from helpcrunch_async._errors import RedisUnavailableError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

_INSTALL_HINT = "RedisBudget needs the redis package: pip install 'helpcrunch-async[redis]'"


def _import_redis() -> tuple[Any, Any]:
    """Return ``redis.asyncio`` and a redis-py ``Retry`` that never retries."""
    try:
        import redis.asyncio as aioredis  # noqa: PLC0415 -- an optional extra, imported on use
        from redis.asyncio.retry import Retry  # noqa: PLC0415 -- same
        from redis.backoff import NoBackoff  # noqa: PLC0415 -- same
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    # One immediate retry on a broken connection (a pooled socket that died
    # while idle), none on a timeout: a real fault must surface at once, so the
    # fallback's clock starts when Redis stops answering.
    return aioredis, Retry(NoBackoff(), 1, supported_errors=(aioredis.ConnectionError,))


def _text(value: bytes | str) -> str:
    """Return a Redis reply as text (the client answers bytes unless told to decode)."""
    return value.decode() if isinstance(value, bytes) else value


def _redact(url: str) -> str:
    """Return ``url`` without its user name and password, for logs and errors."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class _Script:
    """One of the budget's Lua scripts; a command Redis refuses is an error of the tree.

    Redis answers a script that meets a key of another type (``WRONGTYPE``: the
    budget's key name is taken by something else), or that it cannot run, with
    an error reply, not a fault of the connection: falling back would not cure
    it, so it is raised as `RedisUnavailableError`, naming the keys. ``key`` is
    the budget's key name and ``url`` its redacted Redis URL, for that error.
    """

    def __init__(
        self,
        redis: Redis,
        source: str,
        refused: type[BaseException],
        *,
        key: str,
        url: str,
    ) -> None:
        self._script: AsyncScript = redis.register_script(source)
        self._refused = refused
        self._key = key
        self._url = url
        self.script = self._script.script

    async def __call__(self, *, keys: list[str], args: list[str]) -> Any:
        """Run the script; raise `RedisUnavailableError` if Redis refuses it."""
        try:
            return await self._script(keys=keys, args=args)
        except self._refused as exc:
            reply = str(exc)
        # Raised here, outside the except block: no redis exception as its context.
        raise RedisUnavailableError(
            f"the shared rate budget {self._key!r} cannot use Redis at {self._url}: "
            f"Redis refused its script ({reply[:200]}); if another program uses a key "
            f"among {', '.join(keys)}, give the budget another key"
        )
