"""Dedup stores: the bounded in-memory one, and the Redis one shared by two receivers."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_redis_budget import redis_server  # noqa: F401 -- the fixture, reused
from test_webhook_receivers import deliver_like_helpcrunch
from webhook_servers import event_body, serve

from helpcrunch_async import InvalidParameterError, RedisUnavailableError, webhooks

if TYPE_CHECKING:
    from collections.abc import Callable

    from test_redis_budget import RedisServer


NEW, DONE, BUSY = webhooks.Claim.NEW, webhooks.Claim.DONE, webhooks.Claim.BUSY


async def test_claim_release_semantics() -> None:
    store = webhooks.MemoryDedup()
    assert isinstance(store, webhooks.Dedup)
    assert await store.claim("a") is NEW
    assert await store.claim("a") is BUSY  # in hand: not a duplicate to acknowledge
    await store.release("a", done=False)  # the handler failed: forgotten
    assert await store.claim("a") is NEW
    await store.release("a", done=True)
    assert await store.claim("a") is DONE  # handled: remembered
    assert len(store) == 1


async def test_the_window_forgets_the_oldest_first() -> None:
    store = webhooks.MemoryDedup(window=3)
    for name in "abcd":
        assert await store.claim(name) is NEW
        await store.release(name, done=True)
    assert len(store) == 3
    assert await store.claim("a") is NEW  # forgotten: the oldest
    for name in "bcd":
        assert await store.claim(name) is DONE


def test_a_bad_window_is_refused() -> None:
    for window in (0, -1, 1.5, True):
        with pytest.raises(InvalidParameterError, match="window"):
            webhooks.MemoryDedup(window=window)  # type: ignore[arg-type]  # on purpose


@given(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.booleans()), max_size=60), st.integers(1, 5)
)
def test_memory_dedup_matches_a_model(steps: list[tuple[str, bool]], window: int) -> None:
    store = webhooks.MemoryDedup(window=window)
    remembered: list[str] = []
    for name, done in steps:
        expected = DONE if name in remembered else NEW
        assert store.claim_now(name) is expected
        if expected is NEW:
            assert store.claim_now(name) is BUSY
            store.release_now(name, done=done)
            if done:
                remembered.append(name)
                del remembered[:-window]


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:  # noqa: F811 -- the imported fixture
    return redis_server.url


@pytest.mark.redis
async def test_redis_dedup_claims_once_across_stores_and_forgets_failures(redis_url: str) -> None:
    async with (
        webhooks.RedisDedup(redis_url, ttl=60) as one,
        webhooks.RedisDedup(redis_url, ttl=60) as two,
    ):
        assert await one.claim("e") is NEW
        assert await two.claim("e") is BUSY
        await one.release("e", done=False)
        assert await two.claim("e") is NEW
        await two.release("e", done=True)
        assert await one.claim("e") is DONE
        # A release by a store that holds no claim changes nothing.
        await one.release("e", done=False)
        assert await two.claim("e") is DONE


@pytest.mark.redis
async def test_a_claim_that_expired_and_was_taken_over_is_not_undone(redis_url: str) -> None:
    async with (
        webhooks.RedisDedup(redis_url, pending_ttl=0.05) as slow,
        webhooks.RedisDedup(redis_url) as fast,
    ):
        assert await slow.claim("e") is NEW
        await asyncio.sleep(0.1)  # the slow worker's claim lapses
        assert await fast.claim("e") is NEW
        await slow.release("e", done=False)  # late: must not delete the fast worker's claim
        assert await slow.claim("e") is BUSY


@pytest.mark.redis
async def test_two_receivers_sharing_redis_handle_each_event_once(redis_url: str) -> None:
    handled: list[str] = []

    async def handle(event: webhooks.Event) -> None:
        await asyncio.sleep(0.005)
        handled.append(event.id)

    make: Callable[[], webhooks.RedisDedup] = lambda: webhooks.RedisDedup(redis_url)  # noqa: E731
    async with (
        make() as first_store,
        make() as second_store,
        serve("aiohttp", handle, dedup=first_store) as first,
        serve("uvicorn", handle, dedup=second_store) as second,
        aiohttp.ClientSession() as session,
    ):
        bodies = [event_body(f"shared-{n}") for n in range(15)]
        statuses: Counter[int] = Counter()
        await asyncio.gather(
            *(
                deliver_like_helpcrunch(session, url, body, statuses)
                for body in bodies
                for url in (first, second)
            )
        )
    assert statuses[200] == 30
    assert set(statuses) <= {200, 503}  # a copy meeting its twin in hand: 503, then 200
    assert sorted(handled) == sorted(f"shared-{n}" for n in range(15))


async def test_unreachable_redis_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(RedisUnavailableError, match="cannot reach Redis") as info:
        async with webhooks.RedisDedup("redis://:pw-secret@127.0.0.1:1/0", redis_timeout=0.5):
            pass
    assert "pw-secret" not in str(info.value)
    store = webhooks.RedisDedup("redis://:pw-secret@127.0.0.1:1/0")
    assert "pw-secret" not in repr(store)
    await store.aclose()
