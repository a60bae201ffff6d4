"""Processes the harness drives: emulators (their command line) and client workers.

Every emulator and every client runs in a process of its own; the harness only
starts them, hands out commands and reads back results and request logs. An
emulator is reconfigured between runs through its admin routes (a fresh rate
policy each time, the log reset), so one process serves many runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import aiohttp

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["ROOT", "EmulatorProcess", "WorkerProcess"]

ROOT = Path(__file__).resolve().parent.parent
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 5.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class EmulatorProcess:
    """``python -m helpcrunch_async.testing`` on a free loopback port."""

    def __init__(self, *, customers: int, seed: int = 1, **options: Any) -> None:
        self.customers = customers
        args = ["--port", "0", "--customers", str(customers), "--seed", str(seed)]
        for name, value in options.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                args.append(flag if value else "--no-" + name.replace("_", "-"))
            else:
                args += [flag, str(value)]
        self._args = args
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self.base_url = ""
        self.root = ""

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "helpcrunch_async.testing",
            *self._args,
            stdout=asyncio.subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
        )
        assert self._process.stdout is not None  # noqa: S101 -- piped just above
        line = await asyncio.wait_for(self._process.stdout.readline(), _START_TIMEOUT)
        text = line.decode().strip()
        if not text.startswith("listening on "):
            await _stop(self._process)
            raise RuntimeError(f"the emulator did not start: {text!r}")
        self.base_url = text.removeprefix("listening on ")
        self.root = self.base_url.rsplit("/v1", 1)[0]
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._process is not None:
            await _stop(self._process)

    async def _admin(self, method: str, path: str, body: Any = None) -> Any:
        assert self._session is not None  # noqa: S101 -- set on entry
        data = None if body is None else json.dumps(body)
        async with self._session.request(method, self.root + path, data=data) as response:
            text = await response.text()
            if response.status != 200:
                raise RuntimeError(f"emulator {path}: {response.status} {text}")
            return json.loads(text)

    async def configure(self, **changes: Any) -> None:
        """Change settings; rate settings rebuild the policy with fresh state."""
        await self._admin("POST", "/_emulator/configure", changes)

    async def reset_log(self) -> None:
        """Forget every logged request."""
        await self._admin("POST", "/_emulator/reset-log")

    async def log(self) -> list[dict[str, Any]]:
        """Return the request log: ``time`` (monotonic arrival), ``status``, ``accepted``..."""
        entries: list[dict[str, Any]] = await self._admin("GET", "/_emulator/log")
        return entries


class WorkerProcess:
    """``python -m benchmarks._worker``: a client process taking one command at a time."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks._worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
            # Big results (none so far) must not hit the default 64 KiB line limit.
            limit=16 * 1024 * 1024,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            if self._process.stdin is not None:
                self._process.stdin.close()
            await _stop(self._process)

    async def run(self, command: dict[str, Any], *, limit: float = 900.0) -> dict[str, Any]:
        """Send one command; return its result (raise if the worker reports an error).

        ``limit`` bounds the wait for the answer, in seconds: a hung worker must not
        hang the whole run.
        """
        process = self._process
        assert process is not None  # noqa: S101 -- set on entry
        assert process.stdin is not None  # noqa: S101 -- piped
        assert process.stdout is not None  # noqa: S101 -- piped
        async with self._lock:
            process.stdin.write((json.dumps(command) + "\n").encode())
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), limit)
        if not line:
            raise RuntimeError(f"the worker exited (status {process.returncode})")
        result: dict[str, Any] = json.loads(line)
        if "error" in result:
            raise RuntimeError(f"{command.get('client', '?')}: {result['error']}")
        return result
