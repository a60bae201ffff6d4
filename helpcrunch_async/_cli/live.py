"""``helpcrunch-async sync --live``: receive webhooks and apply them in small batches.

One process: the ``listen`` server runs on a thread of its own and stores
verified events in the inbox; the main thread applies them, a batch at a time,
as an inbox-only sync (customers and chats named read again, deletions
applied) every ``--batch-seconds`` or as soon as ``--batch-events`` wait. Its
progress line shows the lag (how long the oldest event of the batch waited)
and the backlog (events still waiting).

The nightly parts (the deletion count, the timestamp scans, the refresh slice)
run inside it on a schedule, every ``--scan-hours`` and once at start, as a
full ``sync --inbox`` run: one dlt pipeline's state cannot be written by two
processes at once, and the start-up run catches up on whatever happened while
the process was down.
"""

from __future__ import annotations

import signal
import statistics
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._cli.sync_report import staleness_lines
from helpcrunch_async.dlt.command import run_sync
from helpcrunch_async.webhooks._inbox import count_waiting
from helpcrunch_async.webhooks._listen import (
    ListenOptions,
    ListenThread,
    add_server_options,
    check_port,
    read_secret,
)

if TYPE_CHECKING:
    import argparse

    from helpcrunch_async.dlt import SyncReport
    from helpcrunch_async.dlt.command import SyncOptions

__all__ = ["LiveSettings", "configure", "run_live", "settings"]

# How often the applier looks at the inbox between batches (seconds).
_POLL = 0.2


@dataclass(frozen=True)
class LiveSettings:
    """How ``--live`` receives and how often it applies."""

    host: str
    port: int
    secret: str
    batch_seconds: float = 5.0
    batch_events: int = 500
    scan_hours: float = 24.0
    # Stop after this many seconds (None: until SIGINT or SIGTERM).
    stop_after: float | None = None

    def __repr__(self) -> str:
        """Name the address, never the secret."""
        return f"LiveSettings(host={self.host!r}, port={self.port}, ...)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``--live`` and its options to the ``sync`` parser."""
    parser.add_argument(
        "--live", action="store_true", help="receive webhooks and apply them in small batches"
    )
    add_server_options(parser, required=False)
    parser.add_argument("--batch-seconds", type=float, default=5.0, metavar="S")
    parser.add_argument("--batch-events", type=int, default=500, metavar="N")
    parser.add_argument(
        "--scan-hours", type=float, default=24.0, metavar="H", help="the nightly parts' period"
    )
    parser.add_argument("--stop-after", type=float, metavar="S", help="stop after S seconds")


def settings(args: argparse.Namespace) -> LiveSettings | None:
    """Return the ``--live`` settings (None without ``--live``); `ValueError` names a bad one."""
    if not args.live:
        for name in ("port", "secret_file"):
            if getattr(args, name) is not None:
                raise ValueError(f"--{name.replace('_', '-')} goes with --live")
        return None
    if args.port is None or args.secret_file is None:
        raise ValueError("--live needs --port P and --secret-file F")
    if args.batch_seconds <= 0 or args.batch_events < 1 or args.scan_hours <= 0:
        raise ValueError("--batch-seconds, --batch-events and --scan-hours must be positive")
    return LiveSettings(
        host=args.host,
        port=check_port(args.port),
        secret=read_secret(args.secret_file),
        batch_seconds=args.batch_seconds,
        batch_events=args.batch_events,
        scan_hours=args.scan_hours,
        stop_after=args.stop_after,
    )


def run_live(options: SyncOptions, live: LiveSettings, *, quiet: bool) -> int:
    """Receive and apply until SIGINT, SIGTERM or ``--stop-after``; return the exit code."""
    inbox = options.inbox
    assert inbox is not None  # noqa: S101 -- the command sets it with --live
    inbox.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    # SIGTERM ends the loop between batches, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = ListenThread(ListenOptions(live.host, live.port, live.secret, inbox))
    _say([f"register this webhook URL in HelpCrunch: {server.start()}"])
    lags: list[float] = []
    started = time.monotonic()
    next_scan = started
    last_batch = started
    try:
        while not stop.is_set():
            now = time.monotonic()
            if live.stop_after is not None and now - started >= live.stop_after:
                break
            waiting = count_waiting(inbox)
            scan = now >= next_scan
            due = waiting >= live.batch_events or (
                waiting and now - last_batch >= live.batch_seconds
            )
            if not scan and not due:
                stop.wait(_POLL)
                continue
            try:
                report = run_sync(replace(options, inbox_only=not scan))
            except Exception as exc:  # noqa: BLE001 -- the events wait; try again later
                if _signalled(exc):
                    # dlt holds SIGINT and SIGTERM during a run and raises them here.
                    break
                sys.stderr.write(f"[live] a run failed ({type(exc).__name__}); trying again\n")
                last_batch = time.monotonic()
                stop.wait(live.batch_seconds)
                continue
            last_batch = time.monotonic()
            if scan:
                next_scan = last_batch + live.scan_hours * 3600
            applied = report.inbox
            if applied is not None and applied.events and applied.oldest is not None:
                lags.append(max(0.0, time.time() - applied.oldest))
            if not quiet:
                more = staleness_lines(report) if scan else []
                _say([_line(report, lags, count_waiting(inbox), scan), *more])
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return codes.OK


def _say(lines: list[str]) -> None:
    sys.stdout.writelines(f"{line}\n" for line in lines)
    sys.stdout.flush()


def _signalled(error: BaseException) -> bool:
    from dlt.common.exceptions import SignalReceivedException  # noqa: PLC0415 -- dlt is loaded

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, SignalReceivedException):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _line(report: SyncReport, lags: list[float], backlog: int, scan: bool) -> str:
    events = 0 if report.inbox is None else report.inbox.events
    lag = "-" if not lags else f"{lags[-1]:.1f}s (median {statistics.median(lags):.1f}s)"
    kind = "full run" if scan else "batch"
    requests = report.requests
    return f"[live] {kind}: {events} events, {requests} requests; lag {lag}; backlog {backlog}"
