from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys

import aiohttp
import pytest
from emulator_wire import CLIENT_TIMEOUT

from helpcrunch_async.testing._cli import DEFAULT_CHATS, configure

pytestmark = pytest.mark.timeout(60)


async def start(*options: str, key: str = "cli-key") -> tuple[asyncio.subprocess.Process, str]:
    """Start the emulator's command line on port 0, read its base URL, check the key shown."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "helpcrunch_async.testing",
        "--port",
        "0",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
    match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+/v1)\n", line)
    assert match, line
    shown = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
    assert shown == f"api key: {key}\n"
    hint = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
    assert hint.startswith(f"try: HELPCRUNCH_API_KEY={key} helpcrunch-async export chats ")
    assert f"--base-url {match.group(1)} " in hint
    return process, match.group(1)


async def stop(process: asyncio.subprocess.Process, signum: int) -> int:
    process.send_signal(signum)
    return await asyncio.wait_for(process.wait(), 10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serves_until_signalled_then_exits_zero(signum: int) -> None:
    process, base_url = await start(
        "--customers", "50", "--api-key", "cli-key", "--policy", "sliding",
        "--rate-limit", "2", "--rate-period", "10", "--fail", "1=503",
        "--drift", "after=1,insert=5",
    )  # fmt: skip
    try:
        headers = {"Authorization": "Bearer cli-key"}
        async with aiohttp.ClientSession(headers=headers, timeout=CLIENT_TIMEOUT) as session:
            statuses = []
            for _ in range(3):
                async with session.get(base_url + "/customers") as response:
                    statuses.append(response.status)
                    if response.status == 200:
                        assert (await response.json())["total"] == 55
            async with session.get(base_url.removesuffix("/v1") + "/_emulator/log") as response:
                assert [e["status"] for e in await response.json()] == [503, 200, 429]
        assert statuses == [503, 200, 429]
    finally:
        if process.returncode is None:
            code = await stop(process, signum)
    assert code == 0


async def run_to_end(*options: str) -> tuple[int | None, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpcrunch_async.testing", "--port", "0", *options,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 20)
    return process.returncode, out, err


async def test_bad_options_exit_two_without_serving() -> None:
    for options in (["--policy", "leaky"], ["--drift", "sometime"], ["--fail", "1=teapot"]):
        code, out, err = await run_to_end(*options)
        assert code == 2, (options, err)
        assert out == b""


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--port", "-1"], "argument --port: a port is 0 to 65535"),
        (["--port", "70000"], "argument --port: a port is 0 to 65535"),
        (["--messages-per-chat", "nan"], "argument --messages-per-chat: must be a finite number"),
        (["--messages-per-chat", "inf"], "argument --messages-per-chat: must be a finite number"),
        (["--latency", "nan"], "argument --latency: must be a finite number >= 0"),
        (["--rate-period", "inf"], "argument --rate-period: must be a finite number > 0"),
        (["--rate-period", "0"], "argument --rate-period: must be a finite number > 0"),
        (["--rate-limit", "0"], "argument --rate-limit: must be an integer >= 1"),
        (
            ["--retry-after-resolution", "0"],
            "argument --retry-after-resolution: must be a finite number > 0",
        ),
        (["--error-rate", "nan"], "argument --error-rate: must be a finite number >= 0 and <= 1"),
        (["--seed", "-1"], "argument --seed: must be an integer >= 0"),
        (["--api-key="], "argument --api-key: the key is empty"),
        (["--api-key", " "], "argument --api-key: the key is empty"),
        (["--host", "0.0.0.0"], "--host 0.0.0.0 is not a loopback address"),  # noqa: S104 -- refused
        (["--host", "192.0.2.1"], "pass --allow-non-loopback"),
    ],
)
async def test_options_out_of_range_are_refused_by_name(options: list[str], says: str) -> None:
    code, out, err = await run_to_end(*options)
    assert code == 2, err
    assert says in err.decode()
    assert b"Traceback" not in err
    assert out == b""


async def test_a_public_host_is_served_only_when_asked_and_with_a_warning() -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails, so
    # nothing listens beyond loopback, but only after the warning.
    code, out, err = await run_to_end("--host", "192.0.2.1", "--allow-non-loopback")
    assert code == 1, err
    text = err.decode()
    assert text.startswith("warning: serving on 192.0.2.1: whoever reaches it can use the")
    assert "error: " in text
    assert b"Traceback" not in err
    assert out == b""


async def test_by_default_it_serves_every_kind_of_record() -> None:
    process, base_url = await start(key="test-key")
    try:
        headers = {"Authorization": "Bearer test-key"}
        async with aiohttp.ClientSession(headers=headers, timeout=CLIENT_TIMEOUT) as session:
            totals = {}
            for kind in ("chats", "agents", "departments"):
                async with session.get(f"{base_url}/{kind}") as response:
                    assert response.status == 200
                    body = await response.json()
                    totals[kind] = body["meta"]["total"]
                    if kind == "chats":
                        first = body["data"][0]["id"]
            async with session.get(f"{base_url}/chats/{first}/messages") as response:
                assert response.status == 200
                messages = (await response.json())["data"]
        assert totals == {"chats": DEFAULT_CHATS, "agents": 5, "departments": 2}
        assert DEFAULT_CHATS > 0
        assert messages
    finally:
        await stop(process, signal.SIGTERM)


def test_configure_adds_options_with_documented_defaults() -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.customers, args.policy) == ("127.0.0.1", 8080, 1000, "none")
    assert (args.chats, args.agents, args.departments) == (DEFAULT_CHATS, 5, 2)
    assert (args.rate_limit, args.rate_period, args.retry_after) == (120, 60.0, True)
    assert args.retry_after_resolution == 1.0
    args = parser.parse_args(["--no-retry-after", "--count-rejected", "--fail", "2=hang"])
    assert (args.retry_after, args.count_rejected, args.fail) == (False, True, ["2=hang"])
