"""The options every command that calls the API shares, and their checks, written once.

Each ``add_*`` function adds one group of options to a command's parser; the
matching reader turns the parsed values into what the client takes, checked
before any request, or raises `UsageError` naming the option. A command adds
the groups it uses: ``export`` and ``import`` all of them, ``sync`` all but
``--redis-processes``, which the dlt source does not take.

1. The key comes from ``--api-key-file``, ``--api-key`` (with a warning: it
   shows in process lists) or ``HELPCRUNCH_API_KEY``, in that order; given
   twice or empty, it is refused. It is never echoed.
2. The base URL comes from ``--base-url``, else ``HELPCRUNCH_BASE_URL``, else
   the real API, and is normalised (a trailing slash does not make a resume
   look foreign), as the client's own fallback does.
3. ``--redis-key`` names the shared budget (default: the library's
   ``helpcrunch``, as `RedisBudget` and the dlt source name it), and means
   nothing without ``--redis-url``.
4. ``--redis-processes`` is from 1 to ``--rate-limit``.
5. ``--progress-interval`` is at least `MIN_INTERVAL`.

The argparse types at the end check a value as it is parsed (exit 2 naming
the option); the emulator's command line uses them too.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from helpcrunch_async._core.params import (
    BASE_URL_VARIABLE,
    DEFAULT_BASE_URL,
    DEFAULT_BUDGET_KEY,
    DEFAULT_CONCURRENCY,
    DEFAULT_FALLBACK_WORKERS,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
    MAX_INT,
    api_key_problem,
    base_url_from,
    check_budget_key,
    check_text,
)
from helpcrunch_async._export.progress import (
    MIN_INTERVAL,
    Progress,
    ProgressDisplay,
    check_interval,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async._shell.budget import RateBudget

__all__ = [
    "KEY_SOURCES",
    "UsageError",
    "add_api",
    "add_display",
    "api_key",
    "api_key_type",
    "base_url",
    "count_type",
    "display",
    "number_type",
    "rate_budget",
    "redis_target",
]

KEY_SOURCES = "The API key comes from HELPCRUNCH_API_KEY or --api-key-file."


class UsageError(Exception):
    """Options that cannot work together; the message says what to change."""


# --- adding the options -----------------------------------------------------------------


def add_api(
    parser: argparse.ArgumentParser, *, stops: str | None = None, processes: bool = True
) -> None:
    """Add the key, the base URL, the cap, the concurrency and the shared Redis budget.

    ``stops`` names the run that ``--max-rate-limit-wait`` stops (``"the export"``;
    None: no such option); ``processes`` adds ``--redis-processes``.
    """
    api = parser.add_argument_group("API")
    api.add_argument(
        "--base-url",
        default=None,
        help=f"the API's address; {BASE_URL_VARIABLE} if set (default: {DEFAULT_BASE_URL})",
    )
    api.add_argument("--api-key-file", type=Path, metavar="F", help="read the key from F")
    api.add_argument(
        "--api-key",
        metavar="K",
        help="the key itself (discouraged: it shows in process lists)",
    )
    api.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_RATE_LIMIT,
        metavar="N",
        help="requests per period",
    )
    api.add_argument(
        "--rate-period",
        type=float,
        default=DEFAULT_RATE_PERIOD,
        metavar="S",
        help="seconds in a period",
    )
    api.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help="requests in flight",
    )
    if stops is not None:
        api.add_argument(
            "--max-rate-limit-wait",
            type=_seconds_or_none,
            default=DEFAULT_MAX_RATE_LIMIT_WAIT,
            metavar="S",
            help=(
                f"a 429 asking to wait longer than S seconds stops {stops} (exit 5, "
                "resumable) instead of waiting; 'none': wait as long as asked"
            ),
        )
    api.add_argument("--redis-url", metavar="URL", help="share the rate budget through Redis")
    api.add_argument(
        "--redis-key",
        metavar="NAME",
        help=f"the shared budget's key in Redis (default: {DEFAULT_BUDGET_KEY})",
    )
    if processes:
        api.add_argument(
            "--redis-processes",
            type=int,
            default=DEFAULT_FALLBACK_WORKERS,
            metavar="N",
            help="processes sharing the budget: if Redis goes away, each keeps to rate-limit / N",
        )


def add_display(
    parser: argparse.ArgumentParser, *, interval: float = 5.0, quiet: bool = False
) -> None:
    """Add ``--progress``, ``--progress-interval`` and ``-v`` (and ``--quiet`` if ``quiet``)."""
    shown = parser.add_argument_group("display")
    shown.add_argument(
        "--progress",
        choices=get_args(Progress),
        default="auto",
        help="auto: a live line on a terminal, log lines otherwise",
    )
    shown.add_argument(
        "--progress-interval",
        type=float,
        default=interval,
        metavar="S",
        help=f"seconds between log lines, at least {MIN_INTERVAL}",
    )
    shown.add_argument("-v", "--verbose", action="store_true", help="log every retry reason")
    if quiet:
        shown.add_argument("--quiet", action="store_true", help="the same as --progress off")


# --- reading them ------------------------------------------------------------------------


def api_key(args: argparse.Namespace) -> str:
    """Return the key (rule 1), or raise `UsageError` saying where to put one."""
    if args.api_key_file is not None and args.api_key is not None:
        raise UsageError("give the key once: --api-key-file or --api-key")
    if args.api_key_file is not None:
        try:
            key = str(args.api_key_file.read_text(encoding="utf-8")).strip()
        except OSError as exc:
            raise UsageError(f"cannot read --api-key-file: {exc.strerror}") from None
        if not key:
            raise UsageError(f"--api-key-file {args.api_key_file} is empty")
        return key
    if args.api_key is not None:
        sys.stderr.write(
            "warning: --api-key shows the key to anyone who can list processes on this "
            "machine; prefer HELPCRUNCH_API_KEY or --api-key-file\n"
        )
        key = str(args.api_key).strip()
    else:
        key = os.environ.get("HELPCRUNCH_API_KEY", "").strip()
    if not key:
        raise UsageError("no API key: set HELPCRUNCH_API_KEY or pass --api-key-file FILE")
    return key


def base_url(args: argparse.Namespace) -> str:
    """Return the base URL (rule 2), normalised; raise `InvalidParameterError` if it is bad."""
    return str(base_url_from(args.base_url, os.environ.get(BASE_URL_VARIABLE)))


def redis_target(args: argparse.Namespace) -> tuple[str, str] | None:
    """Return ``(--redis-url, --redis-key)`` checked (rule 3), or None without ``--redis-url``."""
    if args.redis_url is None:
        if args.redis_key is not None:
            raise UsageError("--redis-key names a budget in Redis: it needs --redis-url")
        return None
    check_text("--redis-url", args.redis_url)
    key = DEFAULT_BUDGET_KEY if args.redis_key is None else args.redis_key
    return args.redis_url, check_budget_key(key)


def rate_budget(args: argparse.Namespace) -> RateBudget | None:
    """Return the shared Redis budget the options ask for (rules 3 and 4), or None."""
    target = redis_target(args)
    if target is None:
        return None
    if not 1 <= args.redis_processes <= args.rate_limit:
        raise UsageError(
            f"--redis-processes must be from 1 to --rate-limit ({args.rate_limit}), got "
            f"{args.redis_processes}: if Redis goes away, each process keeps to "
            "rate-limit / N requests a period, at least one"
        )
    try:
        from helpcrunch_async._redis.budget import RedisBudget  # noqa: PLC0415 -- optional: needs redis
    except ImportError as exc:
        raise UsageError(
            f"--redis-url needs the shared Redis budget, which is not available here ({exc}); "
            "install helpcrunch-async[redis]"
        ) from None
    url, key = target
    budget: RateBudget = RedisBudget(
        url,
        key,
        limit=args.rate_limit,
        period=args.rate_period,
        fallback_workers=args.redis_processes,
    )
    return budget


def display(args: argparse.Namespace) -> ProgressDisplay | None:
    """Return the progress display on stderr the options ask for (rule 5), None for ``off``."""
    check_interval(args.progress_interval)
    if args.progress == "off":
        return None
    return ProgressDisplay.chosen(sys.stderr, args.progress, args.progress_interval)


# --- argparse types: checked as parsed ---------------------------------------------------


def count_type(floor: int) -> Callable[[str], int]:
    """Return an argparse type: an integer from ``floor`` up to the API's largest."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < floor:
            raise argparse.ArgumentTypeError(f"must be an integer >= {floor}, got {text}")
        if value > MAX_INT:
            raise argparse.ArgumentTypeError(f"must be at most 2**63 - 1, got {text:.30}")
        return value

    return parse


def number_type(
    floor: float, ceiling: float = math.inf, *, above: bool = False
) -> Callable[[str], float]:
    """Return an argparse type: a finite number from ``floor`` (or above it) up to ``ceiling``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        low_ok = value > floor if above else value >= floor
        if not (math.isfinite(value) and low_ok and value <= ceiling):
            bound = f"> {floor:g}" if above else f">= {floor:g}"
            if math.isfinite(ceiling):
                bound += f" and <= {ceiling:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text}")
        return value

    return parse


def api_key_type(text: str) -> str:
    """Return a key given on the command line, stripped; refuse one no client could send."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the key is empty: no client could send it")
    # Said without the key: it may be a real one pasted by mistake.
    problem = api_key_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text.strip()


def _seconds_or_none(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither seconds nor 'none'") from None
