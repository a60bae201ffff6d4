"""The API key never reaches a traceback's locals, an exception chain, or text from the wire.

Error reporters (Sentry, ``traceback.TracebackException(capture_locals=True)``)
record the ``repr`` of every local of every frame on a traceback, and follow
``__cause__`` and ``__context__`` even where ``__suppress_context__`` hides them
from a plain traceback. Every error path is driven over loopback here and its
whole chain is formatted with the locals.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from wire_servers import serving

import helpcrunch_async as hc
from helpcrunch_async.testing import Emulator, Faults

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

KEY = "sk-live-key-0123456789abcdef-must-never-show"
BEARER = f"Bearer {KEY}"


def chain(error: BaseException) -> Iterator[BaseException]:
    """Every exception reachable through __cause__ and __context__, suppressed or not."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def assert_no_key(error: BaseException) -> None:
    for link in chain(error):
        assert not type(link).__module__.startswith("aiohttp"), type(link)
        text = "".join(
            traceback.TracebackException.from_exception(link, capture_locals=True).format()
        )
        assert KEY not in text
        assert BEARER not in text
        assert KEY not in str(link)
        assert KEY not in repr(link)
        assert KEY.encode() not in pickle.dumps(link)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(customers=30, seed=1, api_key=KEY, faults=Faults(hang=5.0)) as server:
        yield server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def failure(base_url: str, *, scan: bool = False, **kwargs: Any) -> hc.HelpCrunchError:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("backoff", 0.0)
    async with hc.HelpCrunch(KEY, base_url=base_url, **kwargs) as client:
        try:
            if scan:
                async with client.customers.iter_all(page_size=10) as customers:
                    async for _ in customers:
                        pass
            else:
                await client.customers.list(limit=10)
        except hc.HelpCrunchError as error:
            return error
    pytest.fail("no error")


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        ("hang", hc.RequestTimeoutError),
        ("drop", hc.TransportError),
        ("truncate", hc.DecodeError),
        ("malformed", hc.DecodeError),
        ("401", hc.AuthenticationError),
        ("404", hc.NotFoundError),
        ("500", hc.ServerError),
        ("429", hc.RateLimitError),
    ],
)
@pytest.mark.parametrize("scan", [False, True])
async def test_no_error_path_carries_the_key(
    emu: Emulator, fault: str, cls: type[hc.HelpCrunchError], scan: bool
) -> None:
    emu.configure(fail={1: fault})
    error = await failure(emu.base_url, scan=scan, timeout=0.3)
    assert isinstance(error, cls)
    assert_no_key(error)


async def test_a_429_beyond_max_rate_limit_wait_carries_no_key(emu: Emulator) -> None:
    emu.configure(fail={1: "429"})
    error = await failure(emu.base_url, max_retries=3, max_rate_limit_wait=0.0)
    assert isinstance(error, hc.RateLimitError)
    assert "max_rate_limit_wait" in str(error)
    assert_no_key(error)


async def test_a_closed_client_and_a_bad_argument_carry_no_key(emu: Emulator) -> None:
    client = hc.HelpCrunch(KEY, base_url=emu.base_url)
    with pytest.raises(hc.InvalidParameterError) as bad:
        await client.customers.list(limit=0)
    await client.close()
    with pytest.raises(hc.ClientClosedError) as closed:
        await client.customers.list()
    assert_no_key(bad.value)
    assert_no_key(closed.value)


async def test_connection_refused_carries_no_key() -> None:
    error = await failure(f"http://127.0.0.1:{free_port()}/v1")
    assert isinstance(error, hc.TransportError)
    assert_no_key(error)


async def test_a_host_that_does_not_resolve_carries_no_key() -> None:
    error = await failure("https://no-such-host.invalid/v1", timeout=3.0)
    assert isinstance(error, hc.TransportError)
    assert_no_key(error)


async def test_a_tls_failure_carries_no_key(emu: Emulator) -> None:
    # TLS spoken to a plain-HTTP server: the handshake fails.
    error = await failure(emu.base_url.replace("http://", "https://"))
    assert isinstance(error, hc.TransportError)
    assert_no_key(error)


async def test_retries_spent_on_faults_carry_no_key(emu: Emulator) -> None:
    emu.configure(fail={1: "drop", 2: "hang", 3: "500"})
    error = await failure(emu.base_url, max_retries=2, timeout=0.3)
    assert isinstance(error, hc.ServerError)
    assert len(emu.log) == 3
    assert_no_key(error)


def test_a_bad_setting_next_to_the_key_carries_no_key() -> None:
    with pytest.raises(hc.InvalidParameterError) as info:
        hc.HelpCrunch(KEY, base_url="http://example.com/v1")
    assert_no_key(info.value)


TAIL = "tail-of-the-key"


@pytest.mark.parametrize("bad", ["\x00", "\r", "\n", "\x07", "\x7f", "\t"])
def test_a_control_character_in_the_key_is_refused_without_echoing_it(bad: str) -> None:
    # The key is built in the call, so no frame of this test holds it in a local.
    with pytest.raises(hc.InvalidParameterError, match="control character") as info:
        hc.HelpCrunch("sk-" + "x" * 20 + bad + TAIL, base_url="http://127.0.0.1:1/v1")
    text = "".join(
        traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
    )
    assert TAIL not in text


# -- a server that echoes the Authorization header -----------------------------


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, dict[str, str]]]:
    mode = {"kind": "400"}

    async def handle(request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        kind = mode["kind"]
        if kind == "400":
            entry = f'"code": "bad_{auth}", "message": "you sent {auth}", "field": "{auth}"'
            body = '{"errors": [{' + entry + "}]}"
            return web.Response(status=400, text=body, content_type="application/json")
        if kind == "500":
            return web.Response(status=500, text=f"proxy: upstream refused Authorization: {auth}")
        if kind == "429":
            return web.Response(status=429, text=f"slow down, {auth}", headers={"Retry-After": "0"})
        # A success body that is not the documented shape, echoing the header.
        return web.Response(
            text='{"total": 1, "data": [{"id": "' + auth + '"}]}', content_type="application/json"
        )

    async with serving(handle) as url:
        yield url, mode


def wire_texts(error: hc.HelpCrunchError) -> list[str]:
    texts = [str(error), repr(error)]
    texts.append(getattr(error, "body_excerpt", b"").decode("utf-8", "replace"))
    texts.append(getattr(error, "reason", ""))
    for entry in getattr(error, "errors", ()):
        texts.extend([entry.code, entry.message, entry.field or ""])
    return texts


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("400", hc.BadRequestError),
        ("500", hc.ServerError),
        ("429", hc.RateLimitError),
        ("malformed", hc.DecodeError),
    ],
)
async def test_a_key_the_server_echoes_is_scrubbed(
    echo: tuple[str, dict[str, str]],
    kind: str,
    cls: type[hc.HelpCrunchError],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch_async")
    base_url, mode = echo
    mode["kind"] = kind
    error = await failure(base_url, max_retries=0 if kind == "400" else 1)
    assert isinstance(error, cls)
    texts = [*wire_texts(error), caplog.text]
    for text in texts:
        assert KEY not in text
    # What was around the key is still there: only the key went.
    assert any("***" in text for text in texts)
    assert_no_key(error)


async def test_the_cli_error_line_shows_no_echoed_key(
    echo: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    base_url, mode = echo
    mode["kind"] = "400"
    # A process of its own: the command installs signal handlers.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "helpcrunch_async",
        *("export", "customers", "--out", str(tmp_path / "c.jsonl"), "--base-url", base_url),
        env={**os.environ, "HELPCRUNCH_API_KEY": KEY},
        cwd=Path(hc.__file__).parent.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, raw = await asyncio.wait_for(process.communicate(), 30)
    err = raw.decode()
    assert process.returncode != 0
    assert KEY not in out.decode()
    assert "error:" in err
    assert "***" in err
    assert KEY not in err


async def test_the_authorization_header_still_reaches_the_server(
    echo: tuple[str, dict[str, str]],
) -> None:
    base_url, mode = echo
    mode["kind"] = "malformed"
    # The server saw the real header (the scrub is ours, on what came back).
    async with (
        aiohttp.ClientSession() as session,
        hc.HelpCrunch(KEY, base_url=base_url, session=session, max_retries=0) as c,
    ):
        with pytest.raises(hc.DecodeError) as info:
            await asyncio.wait_for(c.customers.list(), 5)
    assert b'"id": "Bearer ***"' in info.value.body_excerpt
