"""The import learns how many keys one search may hold, from a server that refuses more.

A real aiohttp server on loopback stands in front of the emulator and answers 400
to a customer search of more than `LIMIT` filters (the docs do not say how many
one search takes; a real server may refuse a long body). The import halves its
searches until they pass, keeps the size it learned, and still applies every row.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from import_fixtures import rows, write_jsonl

import helpcrunch_async as hc
from helpcrunch_async._import.engine import ImportOptions, import_file
from helpcrunch_async.testing import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

# Above update_many's own searches (one filter per id, ten ids a batch).
LIMIT = 12
TOO_MANY = b'{"errors":[{"code":"invalid_request","message":"Invalid request"}]}'


@contextlib.asynccontextmanager
async def refusing_proxy(target: str, seen: list[int]) -> AsyncIterator[str]:
    """Forward to ``target`` (a ``.../v1`` URL); refuse searches of more than LIMIT filters."""
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            if request.path.endswith("/customers/search"):
                filters = len(json.loads(body)["filter"])
                seen.append(filters)
                if filters > LIMIT:
                    return web.Response(status=400, body=TOO_MANY, content_type="application/json")
            url = target + request.path_qs.removeprefix("/v1")
            headers = {"Authorization": request.headers["Authorization"]}
            if body:
                headers["Content-Type"] = "application/json"
            async with session.request(request.method, url, data=body, headers=headers) as answer:
                return web.Response(
                    status=answer.status,
                    body=await answer.read(),
                    content_type="application/json",
                )

        app = web.Application()
        app.router.add_route("*", "/v1/{tail:.*}", forward)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
        finally:
            await runner.cleanup()


async def test_searches_halve_until_the_server_takes_them(tmp_path: Path) -> None:
    records = rows(30, 20)
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, records)
    seen: list[int] = []
    async with Emulator(customers=0) as emulator:
        async with hc.HelpCrunch(emulator.api_key, base_url=emulator.base_url) as client:
            for record in records[:30]:
                await client.customers.create(user_id=record["userId"], name="Before")
        async with refusing_proxy(emulator.base_url, seen) as proxy:
            result = await import_file(
                ImportOptions(
                    source=source,
                    format="jsonl",
                    match="user_id",
                    mode="upsert",
                    api_key=emulator.api_key,
                    base_url=proxy,
                    window=40,
                )
            )
        names = {c["userId"]: c["name"] for c in emulator.truth_customers()}
    assert result.state == "complete", result.error
    assert (result.counts.created, result.counts.updated) == (20, 30)
    assert names == {r["userId"]: r["name"] for r in records}
    # The first window's 40 keys are refused, then both halves of 20; tens pass.
    assert seen[:3] == [40, 20, 20]
    assert sum(1 for n in seen if n > LIMIT) == 3
    # Learned once, for the whole run: the second window's 10 keys go in one search.
    assert max(seen[3:]) <= LIMIT
