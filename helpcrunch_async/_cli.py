"""The ``helpcrunch-async`` command: ``export``, ``import``, ``sync``, ``demo`` and ``emulator``.

This module turns options into an `ExportOptions` (reading the API key from the
environment or a file, never echoing it) and a run's outcome into an exit code
(see `_export.exit_codes`). The work itself lives in `_export.run`, `_export.demo`
and the emulator's own command line; the last two are imported only by their
commands, so an export never loads the emulator.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._core.filters import COMPARISONS, search_fields
from ._core.params import (
    DEFAULT_BASE_URL,
    DEFAULT_FALLBACK_WORKERS,
    ORDERS,
    check_base_url,
    check_positive_int,
    check_text,
)
from ._export import exit_codes as codes
from ._export.cells import FORMULA_RULES
from ._export.chat_list import digest_of_ids, read_chat_ids
from ._export.checkpoint import FORMATS, ExportRefusedError, ExportSettings, Format
from ._export.progress import MIN_INTERVAL, check_interval
from ._export.run import ExportOptions, run_export
from ._export.sources import SOURCES, check_filters
from ._export.stopping import ignore_late_signals
from ._help_format import HelpFormatter
from ._import import command as import_cli
from .dlt import command as sync_cli

if TYPE_CHECKING:
    from collections.abc import Sequence

    from helpcrunch_async._core.filters import SearchResource
    from helpcrunch_async._export.sources import Source
    from helpcrunch_async._shell.budget import RateBudget

__all__ = ["main"]

_PAGE_SIZE = 100
# The format each known suffix of --out means; any other suffix needs --format.
_SUFFIX_FORMATS: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_EMULATOR = "Serve an emulated HelpCrunch API on loopback until SIGINT or SIGTERM."


class UsageError(Exception):
    """Options that cannot work together; the message says what to change."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    as_program = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["emulator"]:
        return _emulator_command(argv[1:])
    try:
        return _run(argv, as_program=as_program)
    finally:
        if as_program:
            # The command has said how it ended: a Ctrl-C while the interpreter
            # exits must not turn that into a traceback or another exit code.
            ignore_late_signals()


def _run(argv: list[str], *, as_program: bool) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits 2 on a usage error and 0 after --help.
        return exc.code if isinstance(exc.code, int) else codes.USAGE
    args.as_program = as_program
    try:
        command: int = args.command(args)
    except KeyboardInterrupt:
        # Ctrl-C before the export's own handler is in place (or after it is gone).
        sys.stderr.write("interrupted\n")
        return codes.INTERRUPTED
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpcrunch-async",
        description=(
            "Export HelpCrunch customers, chats, messages, agents or departments; "
            "try the emulated API with `demo`."
        ),
        epilog=codes.HELP_TEXT,
        formatter_class=HelpFormatter,
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    export = commands.add_parser("export", help="export data to a file")
    what = export.add_subparsers(required=True, metavar="WHAT")
    for source in SOURCES.values():
        kind = what.add_parser(
            source.name,
            help=source.help,
            description=(
                f"Export every one of the account's {source.noun} to FILE (JSONL or CSV), "
                "crash-safe and resumable. "
                "The API key comes from HELPCRUNCH_API_KEY or --api-key-file."
            ),
            epilog=codes.HELP_TEXT,
            formatter_class=HelpFormatter,
        )
        _export_options(kind, source)
        kind.set_defaults(command=_export_command, kind=source.name)

    demo = commands.add_parser(
        "demo",
        help="export from an embedded emulated account, with progress",
        description="Start an emulated HelpCrunch account in-process and export it.",
        formatter_class=HelpFormatter,
    )
    demo.add_argument("--customers", type=int, default=30_000, help="account size")
    demo.add_argument(
        "--out", type=Path, default=Path("demo-output/customers.jsonl"), help="output file"
    )
    demo.set_defaults(command=_demo_command)

    sync = commands.add_parser(
        "sync",
        help="keep a dlt destination (a DuckDB file by default) current",
        description=(
            "Load the account into a dlt destination; later runs load what changed. "
            "Needs helpcrunch-async[dlt]. The API key comes from HELPCRUNCH_API_KEY or "
            "--api-key-file."
        ),
        formatter_class=HelpFormatter,
    )
    sync_cli.configure(sync)
    sync.set_defaults(command=sync_cli.run)

    import_cli.configure(
        commands, connection=_connection_options, api_key=_api_key, rate_budget=_redis_budget
    )

    # Listed for --help only: main() hands `emulator ...` to _emulator_command.
    commands.add_parser("emulator", help="serve an emulated HelpCrunch API on loopback")
    return parser


def _export_options(parser: argparse.ArgumentParser, source: Source) -> None:
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, required=True, metavar="FILE", help="output file")
    output.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="default: from FILE's suffix, csv for .csv, jsonl for .jsonl or .ndjson",
    )
    if source.sorts:
        output.add_argument(
            "--sort",
            choices=(*source.sorts, "none"),
            default=source.default_sort or "none",
            help="server sort field; 'none' leaves the order to the server",
        )
        output.add_argument("--order", choices=ORDERS, default="asc", help="sort order")
    else:
        parser.set_defaults(sort="none", order="asc")
    start = output.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue from FILE's checkpoint")
    start.add_argument("--overwrite", action="store_true", help="start over if FILE exists")
    output.add_argument(
        "--csv-raw",
        action="store_true",
        help="write CSV cells verbatim (no apostrophe before what a spreadsheet would run)",
    )
    output.add_argument(
        "--excel",
        action="store_true",
        help="open the CSV with a byte-order mark, which Excel needs for non-ASCII text",
    )
    if source.searchable:
        search = parser.add_argument_group("search")
        search.add_argument(
            "--filter",
            nargs=3,
            action="append",
            metavar=("FIELD", "OP", "VALUE"),
            help=_filter_help("chats" if source.name == "chats" else "customers"),
        )
        search.add_argument(
            "--comparison",
            choices=COMPARISONS,
            default="AND",
            help="AND: every filter holds, OR: any",
        )
    else:
        parser.set_defaults(filter=None, comparison="AND")
    if source.grouped:
        output.add_argument(
            "--chats",
            type=Path,
            metavar="IDS",
            help="export the messages of these chats only: a file of chat ids, one per line",
        )
    else:
        parser.set_defaults(chats=None)

    _connection_options(parser)


def _connection_options(parser: argparse.ArgumentParser) -> None:
    api = parser.add_argument_group("API")
    api.add_argument("--base-url", default=DEFAULT_BASE_URL, help="the API's address")
    api.add_argument("--api-key-file", type=Path, metavar="F", help="read the key from F")
    api.add_argument(
        "--api-key",
        metavar="K",
        help="the key itself (discouraged: it shows in process lists)",
    )
    api.add_argument("--rate-limit", type=int, default=120, metavar="N", help="requests per period")
    api.add_argument(
        "--rate-period", type=float, default=60.0, metavar="S", help="seconds in a period"
    )
    api.add_argument("--concurrency", type=int, default=8, metavar="N", help="requests in flight")
    api.add_argument(
        "--max-rate-limit-wait",
        type=_seconds_or_none,
        default=120.0,
        metavar="S",
        help=(
            "a 429 asking to wait longer than S seconds stops the export (exit 5, resumable) "
            "instead of waiting; 'none': wait as long as asked"
        ),
    )
    api.add_argument("--redis-url", metavar="URL", help="share the rate budget through Redis")
    api.add_argument("--redis-key", metavar="NAME", help="the shared budget's key in Redis")
    api.add_argument(
        "--redis-processes",
        type=int,
        default=DEFAULT_FALLBACK_WORKERS,
        metavar="N",
        help="processes sharing the budget: if Redis goes away, each keeps to rate-limit / N",
    )

    shown = parser.add_argument_group("display")
    shown.add_argument(
        "--progress",
        choices=("auto", "live", "log", "off"),
        default="auto",
        help="auto: a live line on a terminal, log lines otherwise",
    )
    shown.add_argument(
        "--progress-interval",
        type=float,
        default=5.0,
        metavar="S",
        help=f"seconds between log lines, at least {MIN_INTERVAL}",
    )
    shown.add_argument("-v", "--verbose", action="store_true", help="log every retry reason")


def _export_command(args: argparse.Namespace) -> int:
    try:
        options = _export_options_from(args)
    except (UsageError, ValueError, ExportRefusedError) as exc:
        return codes.fail(codes.USAGE, str(exc))
    return run_export(
        options,
        progress=args.progress,
        interval=args.progress_interval,
        verbose=args.verbose,
        as_program=args.as_program,
    )


def _export_options_from(args: argparse.Namespace) -> ExportOptions:
    check_interval(args.progress_interval)
    fmt = _format(args.out, args.format)
    for flag, given in (("--csv-raw", args.csv_raw), ("--excel", args.excel)):
        if given and fmt != "csv":
            raise UsageError(f"{flag} applies to --format csv only")
    if (args.redis_url is None) != (args.redis_key is None):
        raise UsageError("--redis-url and --redis-key go together")
    filters = tuple((field, op, value) for field, op, value in args.filter or ())
    chat_ids = None if args.chats is None else _chat_ids(args.chats)
    settings = ExportSettings(
        kind=args.kind,
        format=fmt,
        sort=None if args.sort == "none" else args.sort,
        order=args.order,
        page_size=_PAGE_SIZE,
        # Normalised, so that a trailing slash does not make a resume look foreign.
        base_url=str(check_base_url(args.base_url)),
        formula_guard=not args.csv_raw,
        formula_rules=FORMULA_RULES,
        excel=args.excel,
        filters=filters,
        # Without filters the comparison means nothing: keep it from splitting resumes.
        comparison=args.comparison if filters else "AND",
        chats_sha256=None if chat_ids is None else digest_of_ids(chat_ids).sha256,
    )
    check_filters(settings)
    return ExportOptions(
        out=args.out,
        settings=settings,
        api_key=_api_key(args),
        resume=args.resume,
        overwrite=args.overwrite,
        rate_limit=args.rate_limit,
        rate_period=args.rate_period,
        concurrency=args.concurrency,
        rate_budget=_redis_budget(args),
        chat_ids=chat_ids,
        max_rate_limit_wait=args.max_rate_limit_wait,
    )


def _filter_help(kind: SearchResource) -> str:
    fields = search_fields(kind)
    example = next(name for name, type_ in fields.items() if type_ == "date")
    return (
        f"read the {kind} search instead of the list, e.g. --filter {example} '>=' "
        "2026-01-01T00:00:00+00:00 (repeatable). FIELD is one of "
        f"{', '.join(fields)}. VALUE: dates as unix seconds or ISO 8601 with an offset, "
        "tags as names separated by commas"
    )


def _format(out: Path, given: str | None) -> Format:
    """Return the output's format: ``--format``, else the one its suffix names."""
    if given is not None:
        return "csv" if given == "csv" else "jsonl"
    known = _SUFFIX_FORMATS.get(out.suffix.lower())
    if known is not None:
        return known
    if out.is_dir():
        return "jsonl"  # the writer refuses it, saying that it is a directory
    suffix = f"suffix {out.suffix!r}" if out.suffix else "no suffix"
    *others, last = _SUFFIX_FORMATS
    raise UsageError(
        f"--out {out} has {suffix}, which names no format this command writes; end the name "
        f"in {', '.join(others)} or {last}, or give --format jsonl or --format csv"
    )


def _chat_ids(path: Path) -> tuple[int, ...]:
    """Read ``--chats`` whole and check every id before the first request."""
    ids = tuple(read_chat_ids(path))
    for chat_id in ids:
        check_positive_int(f"--chats {path}: the chat id", chat_id)
    return ids


def _seconds_or_none(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither seconds nor 'none'") from None


def _api_key(args: argparse.Namespace) -> str:
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


def _redis_budget(args: argparse.Namespace) -> RateBudget | None:
    if args.redis_url is None:
        return None
    check_text("--redis-url", args.redis_url)
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
    budget: RateBudget = RedisBudget(
        args.redis_url,
        args.redis_key,
        limit=args.rate_limit,
        period=args.rate_period,
        fallback_workers=args.redis_processes,
    )
    return budget


def _demo_command(args: argparse.Namespace) -> int:
    # Imported here: the demo brings the emulator, which an export never needs.
    from ._export.demo import run_demo  # noqa: PLC0415

    return run_demo(customers=args.customers, out=args.out)


def _emulator_command(argv: Sequence[str]) -> int:
    # The emulator (aiohttp.web, the dataset) loads only for this command, so it
    # parses its own options: `helpcrunch-async emulator --help` lists them.
    from .testing import _cli as emulator_cli  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="helpcrunch-async emulator", description=_EMULATOR, formatter_class=HelpFormatter
    )
    emulator_cli.configure(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else codes.USAGE
    return emulator_cli.run(args)
