"""The emulator's command line: ``python -m helpcrunch_async.testing [options]``.

``configure`` adds the options to a parser and ``run`` serves until SIGINT or SIGTERM,
so ``helpcrunch-async emulator`` can reuse both. At start ``run`` prints exactly one
line, ``listening on http://HOST:PORT/v1``, flushed, so a parent process that asked for
``--port 0`` can read the port.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from helpcrunch_async.testing._faults import FAULT_KINDS, parse_drift, parse_fail
from helpcrunch_async.testing._policies import POLICY_NAMES
from helpcrunch_async.testing._server import Emulator
from helpcrunch_async.testing._webhook_cli import configure_webhooks, webhook_options
from helpcrunch_async.testing._wire import ERROR_STYLES, PLACEMENTS


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    server = parser.add_argument_group("server")
    server.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    server.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    server.add_argument("--api-key", default="test-key", help="accepted Bearer key")
    data = parser.add_argument_group("data")
    data.add_argument("--customers", type=int, default=1000, help="dataset size")
    data.add_argument("--chats", type=int, default=0, help="number of chats")
    data.add_argument("--agents", type=int, default=5, help="number of agents")
    data.add_argument("--departments", type=int, default=2, help="number of departments")
    data.add_argument(
        "--messages-per-chat", type=float, default=20.0, help="mean messages a chat (heavy-tailed)"
    )
    data.add_argument("--seed", type=int, default=0, help="dataset seed")
    data.add_argument("--custom-data-as-object", action="store_true")
    data.add_argument("--timestamps-as-strings", action="store_true")
    wire = parser.add_argument_group("wire variants")
    wire.add_argument("--error-style", choices=ERROR_STYLES, default="old")
    wire.add_argument("--messages-key", choices=("data", "messages"), default="data")
    wire.add_argument(
        "--list-total", choices=("meta", "none"), default="meta", help="agents, departments"
    )
    wire.add_argument("--customers-search-total", choices=PLACEMENTS, default="total")
    wire.add_argument("--chats-search-total", choices=PLACEMENTS, default="total")
    wire.add_argument("--chats-updated-at", action="store_true", help="send chats' updatedAt")
    data.add_argument(
        "--drift",
        action="append",
        default=[],
        metavar="SPEC",
        help="e.g. after=3,insert=150 or at=0.5,delete=40,position=end (repeatable)",
    )
    rate = parser.add_argument_group("rate limit")
    rate.add_argument("--policy", choices=POLICY_NAMES, default="none")
    rate.add_argument("--rate-limit", type=int, default=120, help="requests per period")
    rate.add_argument("--rate-period", type=float, default=60.0, help="seconds")
    rate.add_argument("--retry-after", action=argparse.BooleanOptionalAction, default=True)
    rate.add_argument("--count-rejected", action=argparse.BooleanOptionalAction, default=False)
    faults = parser.add_argument_group("faults")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    faults.add_argument("--jitter", type=float, default=0.0, help="extra uniform seconds")
    faults.add_argument(
        "--arrival-delay",
        type=float,
        default=0.0,
        help="seconds each request spends on the way in, before it is counted",
    )
    faults.add_argument(
        "--arrival-jitter", type=float, default=0.0, help="extra uniform seconds on the way in"
    )
    for kind in ("error", "drop", "truncate", "malformed"):
        faults.add_argument(f"--{kind}-rate", type=float, default=0.0, help="share in [0, 1]")
    faults.add_argument("--fault-seed", type=int, default=0)
    hostile = parser.add_argument_group("hostile server")
    hostile.add_argument("--page-cap", type=int, default=None, help="serve at most K a page")
    hostile.add_argument(
        "--data-stops-at", type=int, default=None, help="serve nothing at positions >= N"
    )
    hostile.add_argument("--fake-total", type=int, default=None, help="claim this total")
    hostile.add_argument(
        "--echo-auth", action="store_true", help="echo Authorization in error messages"
    )
    faults.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="K=KIND",
        help=f"answer the K-th request with KIND, one of {', '.join(FAULT_KINDS)}",
    )
    configure_webhooks(parser)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status."""
    try:
        emulator = Emulator(
            customers=args.customers,
            chats=args.chats,
            agents=args.agents,
            departments=args.departments,
            messages_per_chat=args.messages_per_chat,
            seed=args.seed,
            api_key=args.api_key,
            policy=args.policy,
            rate_limit=args.rate_limit,
            rate_period=args.rate_period,
            retry_after=args.retry_after,
            count_rejected=args.count_rejected,
            latency=args.latency,
            jitter=args.jitter,
            arrival_delay=args.arrival_delay,
            arrival_jitter=args.arrival_jitter,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            truncate_rate=args.truncate_rate,
            malformed_rate=args.malformed_rate,
            fail=parse_fail(args.fail),
            fault_seed=args.fault_seed,
            page_cap=args.page_cap,
            data_stops_at=args.data_stops_at,
            fake_total=args.fake_total,
            echo_auth=args.echo_auth,
            error_style=args.error_style,
            messages_key=args.messages_key,
            list_total=args.list_total,
            customers_search_total=args.customers_search_total,
            chats_search_total=args.chats_search_total,
            chats_updated_at=args.chats_updated_at,
            drift=[parse_drift(spec) for spec in args.drift],
            custom_data_as_object=args.custom_data_as_object,
            timestamps_as_strings=args.timestamps_as_strings,
            host=args.host,
            port=args.port,
            **webhook_options(args),
        )
    except (TypeError, ValueError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    return asyncio.run(_serve(emulator))


async def _serve(emulator: Emulator) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await emulator.start()
    except OSError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    try:
        sys.stdout.write(f"listening on {emulator.base_url}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await emulator.stop()
    return 0
