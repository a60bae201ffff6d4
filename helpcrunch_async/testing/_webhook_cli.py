"""Webhooks on the emulator's command line: subscriptions, and ``trigger`` (``stripe trigger``).

``python -m helpcrunch_async.testing trigger EVENT --url URL --secret-file F`` sends one
signed event of any of the 20 documented types, shaped from an emulated account (the
first customer or chat unless ``--customer``/``--chat``/``--message`` say which), to
``URL``, prints each attempt and exits 0 once a 2xx answered, 1 if none did, 2 for a
usage error (before anything is sent). The standalone emulator takes subscriptions:
``--webhook URL --webhook-secret-file F [--webhook-events a,b]``. A secret is read from
a file (its trailing line break dropped) and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import msgspec

from helpcrunch_async.testing._server import Emulator
from helpcrunch_async.testing._webhook_events import EVENT_TYPES
from helpcrunch_async.testing._webhook_plan import DeliveryFaults, RetrySchedule
from helpcrunch_async.testing._webhooks import Subscription, WebhookSettings
from helpcrunch_async.webhooks import SigningSecret

_FAULT_RATES = ("loss", "bad_signature", "duplicate", "reorder", "overlap")


def read_secret(path: str) -> str:
    """Return the secret held in the file at ``path``, or raise ValueError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ValueError(f"cannot read the webhook secret file {path!r}: {reason}") from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise ValueError(f"the webhook secret file {path!r} is empty")
    return secret


def configure_webhooks(parser: argparse.ArgumentParser) -> None:
    """Add the standalone emulator's webhook options to ``parser``."""
    group = parser.add_argument_group("webhooks")
    group.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="deliver every event to URL (repeatable; loopback only unless --webhook-allow-remote)",
    )
    group.add_argument("--webhook-secret-file", metavar="F", help="the signing secret, in a file")
    group.add_argument(
        "--webhook-events", metavar="A,B", help="only these event types (default: all 20)"
    )
    group.add_argument(
        "--webhook-allow-remote", action="store_true", help="allow non-loopback webhook URLs"
    )
    group.add_argument(
        "--webhook-retry-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply the retry schedule (5 s, 30 s, ... 1 day) by X (default: %(default)s)",
    )
    group.add_argument(
        "--webhook-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds per attempt (default: %(default)s)",
    )
    for kind in _FAULT_RATES:
        name = kind.replace("_", "-")
        group.add_argument(
            f"--webhook-{name}-rate",
            type=float,
            default=0.0,
            metavar="P",
            help=f"share of attempts with the {kind.replace('_', ' ')} fault (default: 0)",
        )
    group.add_argument(
        "--webhook-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds before each attempt (default: %(default)s)",
    )
    group.add_argument(
        "--webhook-fault-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the delivery faults (default: %(default)s)",
    )


def webhook_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return ``Emulator``'s webhook arguments from parsed options; ValueError if invalid."""
    if not args.webhook:
        if args.webhook_secret_file or args.webhook_events:
            raise ValueError("--webhook-secret-file and --webhook-events need --webhook URL")
        return {}
    if not args.webhook_secret_file:
        raise ValueError("--webhook needs --webhook-secret-file F (the signing secret)")
    secret = SigningSecret(read_secret(args.webhook_secret_file))
    events = _events(args.webhook_events)
    subscriptions = [
        Subscription(url, secret, events, allow_remote=args.webhook_allow_remote)
        for url in args.webhook
    ]
    faults = DeliveryFaults(
        **{f"{kind}_rate": getattr(args, f"webhook_{kind}_rate") for kind in _FAULT_RATES},
        delay=args.webhook_delay,
        seed=args.webhook_fault_seed,
    )
    settings = WebhookSettings(
        schedule=RetrySchedule(scale=args.webhook_retry_scale),
        faults=faults,
        timeout=args.webhook_timeout,
    )
    return {"webhooks": subscriptions, "webhook_settings": settings}


def _events(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


# -- trigger ---------------------------------------------------------------------------


def trigger_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m helpcrunch_async.testing trigger``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpcrunch_async.testing trigger",
        description="Send one signed HelpCrunch webhook event to a URL, as the API would.",
    )
    parser.add_argument("event", metavar="EVENT", help=f"one of: {', '.join(EVENT_TYPES)}")
    parser.add_argument("--url", required=True, help="where to POST it")
    parser.add_argument("--secret-file", required=True, metavar="F", help="the signing secret")
    parser.add_argument(
        "--customer", type=int, metavar="ID", help="a customer id (default: the first)"
    )
    parser.add_argument(
        "--chat", type=int, metavar="ID", help="a chat id, chat and message events (the first)"
    )
    parser.add_argument(
        "--message", type=int, metavar="ID", help="a message of --chat (its newest of the kind)"
    )
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="set eventData's KEY to a JSON value (text that is not JSON is a string)",
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=1000,
        metavar="N",
        help="customers of the emulated account (default: %(default)s)",
    )
    parser.add_argument(
        "--chats", type=int, default=20, metavar="N", help="its chats (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="its seed (default: %(default)s)"
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=1,
        metavar="N",
        help="attempts until a 2xx (default: %(default)s)",
    )
    parser.add_argument(
        "--retry-delay",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between attempts (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds per attempt (default: %(default)s)",
    )
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback URL")
    return parser


def _fields(items: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--field takes KEY=JSON, got {item!r}")
        try:
            fields[key] = msgspec.json.decode(text)
        except msgspec.DecodeError:
            fields[key] = text
    return fields


def trigger_main(argv: list[str]) -> int:
    """Run ``trigger``; return the exit status."""
    args = trigger_parser().parse_args(argv)
    try:
        emulator = _trigger_emulator(args)
        fields = _fields(args.field)
    except (TypeError, ValueError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    return asyncio.run(_trigger(emulator, args, fields))


def _trigger_emulator(args: argparse.Namespace) -> Emulator:
    if args.attempts < 1:
        raise ValueError("--attempts must be >= 1")
    hook = Subscription(
        args.url, read_secret(args.secret_file), [args.event], allow_remote=args.allow_remote
    )
    settings = WebhookSettings(
        schedule=RetrySchedule(delays=(args.retry_delay,) * (args.attempts - 1)),
        timeout=args.timeout,
    )
    return Emulator(
        customers=args.customers,
        chats=args.chats,
        seed=args.seed,
        webhooks=[hook],
        webhook_settings=settings,
    )


async def _trigger(emulator: Emulator, args: argparse.Namespace, fields: dict[str, Any]) -> int:
    sender = emulator.webhooks.sender
    try:
        event_id = emulator.trigger(
            args.event, customer=args.customer, chat=args.chat, message=args.message, fields=fields
        )
    except ValueError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    await sender.start()
    try:
        await sender.settled()
    finally:
        await sender.stop()
    delivered = False
    for record in sender.records:
        answer = "no answer" if record.status is None else str(record.status)
        sys.stdout.write(f"{record.event} {record.event_id} attempt {record.attempts}: ")
        sys.stdout.write(f"{record.outcome} ({answer})\n")
        delivered = delivered or record.outcome == "delivered"
    sys.stdout.write(f"{'delivered' if delivered else 'not delivered'}: {event_id}\n")
    return 0 if delivered else 1
