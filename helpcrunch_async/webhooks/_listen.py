"""``helpcrunch-async listen``: receive webhooks into the inbox the sync applies.

An aiohttp.web server with one POST route (`PATH`) served by `aiohttp_handler`:
each delivery is verified (the signing key from ``--secret-file``, never
printed), deduplicated and stored in the inbox file, and acknowledged only
once the insert is on disk (``synchronous=FULL``); a delivery that cannot be
stored is answered 500, so HelpCrunch sends it again. Nothing drains the inbox
here: ``helpcrunch-async sync --inbox`` (or ``--live``) applies it, and a
redelivery of an event it applied is acknowledged without being stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._sync.inbox_file import INBOX_NAME
from helpcrunch_async.webhooks._aiohttp import aiohttp_handler
from helpcrunch_async.webhooks._inbox import Inbox

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from helpcrunch_async._models.events import Event

__all__ = [
    "DEFAULT_INBOX",
    "PATH",
    "ListenOptions",
    "ListenThread",
    "configure",
    "read_secret",
    "run",
    "serve",
]

# The route HelpCrunch posts to.
PATH = "/helpcrunch/webhooks"
# The default inbox: beside the default sync's state (`sync --inbox` finds it there).
DEFAULT_INBOX = Path("helpcrunch_sync.dlt") / INBOX_NAME


@dataclass(frozen=True)
class ListenOptions:
    """Where to listen and where to store; the secret is held here only, never printed."""

    host: str
    port: int
    secret: str
    inbox: Path

    def __repr__(self) -> str:
        """Name the address and the inbox, never the secret."""
        return f"ListenOptions(host={self.host!r}, port={self.port}, inbox={str(self.inbox)!r})"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``listen`` options to ``parser``."""
    add_server_options(parser, required=True)
    parser.add_argument(
        "--inbox",
        type=Path,
        default=DEFAULT_INBOX,
        metavar="PATH",
        help="the SQLite inbox the sync applies (default: %(default)s, beside the sync's state)",
    )


def add_server_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """Add ``--port``, ``--host`` and ``--secret-file`` (shared with ``sync --live``)."""
    parser.add_argument("--port", type=int, required=required, metavar="P", help="0: any free")
    parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    parser.add_argument(
        "--secret-file",
        type=Path,
        required=required,
        metavar="F",
        help="the file holding the account's webhook signing key",
    )


def read_secret(path: Path) -> str:
    """Return the signing key in ``path``; `ValueError` naming the problem (never the key)."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read --secret-file {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"--secret-file {str(path)!r} is not UTF-8 text") from None
    if not secret:
        raise ValueError(f"--secret-file {str(path)!r} is empty")
    return secret


def check_port(port: int) -> int:
    """Return ``port`` if it is 0 to 65535; else `ValueError`."""
    if not 0 <= port <= 65535:  # noqa: PLR2004 -- the TCP port range
        raise ValueError(f"--port must be 0 to 65535, got {port}")
    return port


def run(args: argparse.Namespace) -> int:
    """Run ``listen`` from parsed options until SIGINT or SIGTERM; return the exit code."""
    try:
        options = ListenOptions(
            host=args.host,
            port=check_port(args.port),
            secret=read_secret(args.secret_file),
            inbox=args.inbox,
        )
        args.inbox.parent.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return codes.USAGE

    def announce(url: str) -> None:
        sys.stdout.write(f"register this webhook URL in HelpCrunch: {url}\n")
        sys.stdout.write(f"verified events go to {options.inbox}; stop with Ctrl-C\n")
        sys.stdout.flush()

    asyncio.run(_until_signalled(options, announce))
    return codes.OK


async def _until_signalled(options: ListenOptions, ready: Callable[[str], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    await serve(options, ready, stop)


async def serve(options: ListenOptions, ready: Callable[[str], None], stop: asyncio.Event) -> None:
    """Receive into the inbox until ``stop`` is set; call ``ready`` with the URL once listening."""
    from aiohttp import web  # noqa: PLC0415 -- the server is loaded by this command only

    route = aiohttp_handler(
        _stored_only, secret=options.secret, spool=Inbox(options.inbox), drain=False
    )
    app = web.Application()
    app.router.add_post(PATH, route)
    app.cleanup_ctx.append(route.lifespan)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        ready(f"http://{host}:{port}{PATH}")
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()


def _stored_only(event: Event) -> None:
    # drain=False: the receiver stores events and never calls its handler.
    raise RuntimeError(f"event {event.id} was to be stored, not handled here")


class ListenThread:
    """The ``listen`` server on a thread of its own, with its own event loop."""

    def __init__(self, options: ListenOptions) -> None:
        self._options = options
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="helpcrunch-listen", daemon=True)
        self._error: BaseException | None = None
        self.url: str | None = None

    def start(self) -> str:
        """Start serving; return the URL to register once it listens."""
        self._thread.start()
        if not self._ready.wait(30.0) or self._error is not None or self.url is None:
            raise RuntimeError(f"the webhook server did not start: {self._error!r}")
        return self.url

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(30.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 -- reported to start(), which raises
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await serve(self._options, self._listening, self._stop)

    def _listening(self, url: str) -> None:
        self.url = url
        self._ready.set()
