"""A shared budget whose Redis refuses its scripts raises an error of the tree, naming the keys."""

from __future__ import annotations

import pytest
from test_redis_budget import RedisServer, budget, redis_server

from helpcrunch_async._core.shared_cap import key_names
from helpcrunch_async._errors import HelpCrunchError, RedisUnavailableError

__all__ = ["redis_server"]

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def taken(redis_server: RedisServer) -> RedisServer:
    """A Redis where another program holds a list at the budget's state key."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.rpush(key_names("acme")[0], "not a budget")
    finally:
        client.close()
    return redis_server


async def test_a_key_of_another_type_is_a_clear_error_in_the_tree(taken: RedisServer) -> None:
    shared = budget(taken, "acme")
    try:
        with pytest.raises(RedisUnavailableError) as caught:
            await shared.acquire()
    finally:
        await shared.aclose()
    error = caught.value
    assert isinstance(error, HelpCrunchError)
    assert "WRONGTYPE" in str(error)
    assert "{acme}:state" in str(error)
    assert "give the budget another key" in str(error)
    assert error.__context__ is None
    assert error.__cause__ is None
