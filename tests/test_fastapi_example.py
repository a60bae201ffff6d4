"""``examples/fastapi_app.py`` for real: uvicorn on loopback against the emulator, over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from export_fixtures import SECRET_KEY, cli_env, wait_for_text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CUSTOMERS = 1200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def emulator(helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]) -> ThreadedEmulator:
    return helpcrunch_emulator_factory(
        customers=CUSTOMERS,
        seed=5,
        api_key=SECRET_KEY,
        policy="sliding",
        rate_limit=20,
        rate_period=1.0,
        latency=0.02,
    )


@contextlib.contextmanager
def served(app: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """Serve ``app`` (module:attribute in examples/) with uvicorn; check a clean shutdown."""
    port = free_port()
    with log.open("wb") as err:
        server = subprocess.Popen(  # noqa: S603 -- our interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--app-dir",
                str(EXAMPLES),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        assert wait_for_text(log, "Application startup complete", timeout=20), log.read_text()
        yield f"http://127.0.0.1:{port}"
        server.send_signal(signal.SIGINT)
        assert server.wait(15) == 0, log.read_text()
        text = log.read_text()
        assert "Application shutdown complete" in text
        assert "Unclosed" not in text
        assert SECRET_KEY not in text
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(5)


@pytest.fixture
def app_url(tmp_path: Path, emulator: ThreadedEmulator) -> Iterator[str]:
    """Serve the export example against the emulator."""
    env = cli_env()
    env.update(
        HELPCRUNCH_BASE_URL=emulator.base_url,
        HELPCRUNCH_RATE_LIMIT="20",
        HELPCRUNCH_RATE_PERIOD="1",
        EXPORT_DIR=str(tmp_path / "exports"),
    )
    with served("fastapi_app:app", env, tmp_path / "uvicorn.log") as url:
        yield url


@pytest.fixture
def lifespan_url(tmp_path: Path, emulator: ThreadedEmulator) -> Iterator[str]:
    """Serve the README's example, configured by the environment alone."""
    env = cli_env()
    env["HELPCRUNCH_BASE_URL"] = emulator.base_url
    with served("fastapi_lifespan:app", env, tmp_path / "uvicorn.log") as url:
        yield url


async def test_the_readme_app_serves_a_customer_and_a_404(
    lifespan_url: str, emulator: ThreadedEmulator
) -> None:
    first = emulator.expected_ids("customers.firstSeen", "asc")[0]
    async with aiohttp.ClientSession(lifespan_url) as http:
        async with http.get(f"/customers/{first}") as response:
            assert response.status == 200
            one = await response.json()
        async with http.get("/customers/999999999") as response:
            assert response.status == 404
    wanted = emulator.customer(first)
    assert wanted is not None
    assert (one["id"], one["email"]) == (wanted["id"], wanted["email"])


async def poll_until_done(http: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with http.get(url) as response:
            assert response.status == 200
            reports.append(await response.json())
        if reports[-1]["state"] != "running":
            return reports
        await asyncio.sleep(0.1)
    pytest.fail(f"the export did not finish: {reports[-1]}")


async def test_one_customer_a_404_and_a_background_export(
    app_url: str, emulator: ThreadedEmulator
) -> None:
    expected = emulator.expected_ids("customers.firstSeen", "asc")
    async with aiohttp.ClientSession(app_url) as http:
        async with http.get(f"/customers/{expected[0]}") as response:
            assert response.status == 200
            one = await response.json()
        wanted = emulator.customer(expected[0])
        assert wanted is not None
        assert (one["id"], one["email"]) == (wanted["id"], wanted["email"])

        async with http.get("/customers/999999999") as response:
            assert response.status == 404
        async with http.get("/exports/nope") as response:
            assert response.status == 404

        async with http.post("/exports") as response:
            assert response.status == 202
            started = await response.json()
        reports = await poll_until_done(http, started["progress"])

    final = reports[-1]
    assert final["state"] == "complete", final
    assert final["error"] is None
    assert (final["customers"], final["total"]) == (CUSTOMERS, CUSTOMERS)
    done = [r["customers"] for r in reports]
    assert done == sorted(done)
    lines = (await asyncio.to_thread(Path(final["path"]).read_bytes)).splitlines()
    assert [json.loads(line)["id"] for line in lines] == expected


async def test_the_app_tags_a_customer_in_the_account(
    app_url: str, emulator: ThreadedEmulator
) -> None:
    """The write reaches the emulator's account; bad input is refused before any request."""
    customer = emulator.expected_ids("customers.firstSeen", "asc")[3]
    async with aiohttp.ClientSession(app_url) as http:
        async with http.post(
            f"/customers/{customer}/tags", json={"tags": ["VIP", "From the app"]}
        ) as response:
            assert response.status == 200, await response.text()
            answered = await response.json()
        sent = len(emulator.log)
        refused: list[dict[str, Any]] = [{"tags": "VIP"}, {"tags": []}, {"tags": [""]}, {}]
        for bad in refused:
            async with http.post(f"/customers/{customer}/tags", json=bad) as response:
                assert response.status == 422, (bad, await response.text())
        assert len(emulator.log) == sent  # refused before any request
        async with http.post("/customers/999999999/tags", json={"tags": ["VIP"]}) as response:
            assert response.status == 404
    stored = emulator.customer(customer)
    assert stored is not None
    names = [tag["name"] for tag in stored["tags"]]
    assert {"VIP", "From the app"} <= set(names)
    assert [tag["name"] for tag in answered["tags"]] == names
    writes = [(e.method, e.path, e.status) for e in emulator.log if e.method != "GET"]
    assert writes == [
        ("PUT", f"/v1/customers/{customer}/tags", 200),
        ("PUT", "/v1/customers/999999999/tags", 404),
    ]
