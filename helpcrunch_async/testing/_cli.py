"""The emulator's command line: ``python -m helpcrunch_async.testing [options]``.

``configure`` adds the options to a parser and ``run`` serves until SIGINT or SIGTERM,
so ``helpcrunch-async emulator`` can reuse both. At start ``run`` prints
``listening on http://HOST:PORT/v1`` as its first line, then the key it accepts and
a command to try, flushed, so a parent process that asked for ``--port 0`` can read
the port from the first line.

Every option is checked as it is parsed (the command line's shared checks,
`_cli.options`, where they apply): a port outside 0..65535, a count below its
floor, a number that is not finite (``nan``, ``inf``) or outside its range, an
empty key are refused with exit code 2 and a line naming the option. The admin
routes (``/_emulator/*``) take no key, so a host that is not this machine is
refused unless ``--allow-non-loopback`` says so, and then served with a warning.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._cli.options import api_key_type, count_type, number_type
from helpcrunch_async._core.params import is_loopback_host
from helpcrunch_async.testing._account import Account
from helpcrunch_async.testing._faults import FAULT_KINDS, Faults, parse_drift, parse_fail
from helpcrunch_async.testing._policies import POLICY_NAMES, RateLimit
from helpcrunch_async.testing._server import Emulator
from helpcrunch_async.testing._webhook_cli import configure_webhooks, webhook_options
from helpcrunch_async.testing._wire import ERROR_STYLES, PLACEMENTS, WireVariants

_MAX_PORT = 65535
# What a standalone emulator serves unless told otherwise: enough of every kind
# that each export has something to write.
DEFAULT_CHATS = 100


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= _MAX_PORT:
        raise argparse.ArgumentTypeError(
            f"a port is 0 to {_MAX_PORT} (0 picks a free one), got {text}"
        )
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to bind")
    server.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="serve on a --host other machines can reach; the admin routes need no key",
    )
    server.add_argument("--port", type=_port, default=8080, help="0 picks a free port")
    server.add_argument(
        "--api-key", type=api_key_type, default="test-key", help="accepted Bearer key"
    )
    data = parser.add_argument_group("data")
    data.add_argument("--customers", type=count_type(0), default=1000, help="dataset size")
    data.add_argument("--chats", type=count_type(0), default=DEFAULT_CHATS, help="number of chats")
    data.add_argument("--agents", type=count_type(0), default=5, help="number of agents")
    data.add_argument("--departments", type=count_type(0), default=2, help="number of departments")
    data.add_argument(
        "--messages-per-chat",
        type=number_type(0),
        default=20.0,
        help="mean messages a chat (heavy-tailed)",
    )
    data.add_argument("--seed", type=count_type(0), default=0, help="dataset seed")
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
    rate.add_argument("--rate-limit", type=count_type(1), default=120, help="requests per period")
    rate.add_argument(
        "--rate-period", type=number_type(0, above=True), default=60.0, help="seconds"
    )
    rate.add_argument("--retry-after", action=argparse.BooleanOptionalAction, default=True)
    rate.add_argument(
        "--retry-after-resolution",
        type=number_type(0, above=True),
        default=1.0,
        help="Retry-After is rounded up to a multiple of this many seconds",
    )
    rate.add_argument("--count-rejected", action=argparse.BooleanOptionalAction, default=False)
    faults = parser.add_argument_group("faults")
    faults.add_argument("--latency", type=number_type(0), default=0.0, help="seconds per answer")
    faults.add_argument("--jitter", type=number_type(0), default=0.0, help="extra uniform seconds")
    faults.add_argument(
        "--arrival-delay",
        type=number_type(0),
        default=0.0,
        help="seconds each request spends on the way in, before it is counted",
    )
    faults.add_argument(
        "--arrival-jitter",
        type=number_type(0),
        default=0.0,
        help="extra uniform seconds on the way in",
    )
    for kind in ("error", "drop", "truncate", "malformed"):
        faults.add_argument(
            f"--{kind}-rate", type=number_type(0, 1), default=0.0, help="share in [0, 1]"
        )
    faults.add_argument("--fault-seed", type=count_type(0), default=0)
    hostile = parser.add_argument_group("hostile server")
    hostile.add_argument(
        "--page-cap", type=count_type(1), default=None, help="serve at most K a page"
    )
    hostile.add_argument(
        "--data-stops-at", type=count_type(0), default=None, help="serve nothing at positions >= N"
    )
    hostile.add_argument("--fake-total", type=count_type(0), default=None, help="claim this total")
    hostile.add_argument(
        "--tie-block",
        type=count_type(2),
        default=None,
        help="a sort without tiebreaker: rows tie in groups of K, each in a new order per request",
    )
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
    if not is_loopback_host(args.host):
        if not args.allow_non_loopback:
            sys.stderr.write(
                f"error: --host {args.host} is not a loopback address: anyone who reaches "
                "it could read the emulated data and use the /_emulator/* admin routes, which "
                "need no key; bind 127.0.0.1, or pass --allow-non-loopback to mean it\n"
            )
            return codes.USAGE
        sys.stderr.write(
            f"warning: serving on {args.host}: whoever reaches it can use the /_emulator/* "
            "admin routes (change data, faults, the log) without a key\n"
        )
    try:
        emulator = Emulator(
            customers=args.customers,
            chats=args.chats,
            seed=args.seed,
            api_key=args.api_key,
            account=Account(
                agents=args.agents,
                departments=args.departments,
                messages_per_chat=args.messages_per_chat,
                custom_data_as_object=args.custom_data_as_object,
                timestamps_as_strings=args.timestamps_as_strings,
            ),
            rate=RateLimit(
                policy=args.policy,
                limit=args.rate_limit,
                period=args.rate_period,
                retry_after=args.retry_after,
                retry_after_resolution=args.retry_after_resolution,
                count_rejected=args.count_rejected,
            ),
            faults=Faults(
                latency=args.latency,
                jitter=args.jitter,
                arrival_delay=args.arrival_delay,
                arrival_jitter=args.arrival_jitter,
                error_rate=args.error_rate,
                drop_rate=args.drop_rate,
                truncate_rate=args.truncate_rate,
                malformed_rate=args.malformed_rate,
                fail=parse_fail(args.fail),
                page_cap=args.page_cap,
                data_stops_at=args.data_stops_at,
                fake_total=args.fake_total,
                tie_block=args.tie_block,
                echo_auth=args.echo_auth,
            ),
            variants=WireVariants(
                error_style=args.error_style,
                messages_key=args.messages_key,
                list_total=args.list_total,
                customers_search_total=args.customers_search_total,
                chats_search_total=args.chats_search_total,
                chats_updated_at=args.chats_updated_at,
            ),
            fault_seed=args.fault_seed,
            drift=[parse_drift(spec) for spec in args.drift],
            host=args.host,
            port=args.port,
            **webhook_options(args),
        )
    except (TypeError, ValueError) as error:
        return codes.fail(codes.USAGE, str(error))
    return asyncio.run(_serve(emulator))


async def _serve(emulator: Emulator) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await emulator.start()
    except OSError as error:
        return codes.fail(codes.LOCAL, str(error))
    try:
        sys.stdout.write(
            f"listening on {emulator.base_url}\n"
            f"api key: {emulator.api_key}\n"
            f"try: HELPCRUNCH_API_KEY={shlex.quote(emulator.api_key)} helpcrunch-async "
            f"export chats --base-url {emulator.base_url} --out chats.jsonl\n"
        )
        sys.stdout.flush()
        await stop.wait()
    finally:
        await emulator.stop()
    return codes.OK
