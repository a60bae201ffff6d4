"""``helpcrunch-async export KIND``: one subcommand per kind of record, into a file.

`add` registers the subcommands; `run` turns their options into an
`ExportOptions` (the shared options through `options`) and hands it to
`run_export`, which does the work and says how it ended as an exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._cli import options
from helpcrunch_async._cli.help_format import HelpFormatter
from helpcrunch_async._cli.options import UsageError
from helpcrunch_async._core.cells import FORMULA_RULES
from helpcrunch_async._core.filters import COMPARISONS, search_fields
from helpcrunch_async._core.params import ORDERS, check_positive_int
from helpcrunch_async._export.chat_list import digest_of_ids, read_chat_ids
from helpcrunch_async._export.checkpoint import FORMATS, ExportRefusedError, ExportSettings, Format
from helpcrunch_async._export.progress import check_interval
from helpcrunch_async._export.run import ExportOptions, run_export
from helpcrunch_async._export.sources import SOURCES, check_filters

if TYPE_CHECKING:
    import argparse

    from helpcrunch_async._core.filters import SearchResource
    from helpcrunch_async._export.sources import Source

__all__ = ["add", "run"]

_PAGE_SIZE = 100
# The format each known suffix of --out means; any other suffix needs --format.
_SUFFIX_FORMATS: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export`` and its subcommand per kind to ``commands``."""
    export = commands.add_parser("export", help="export data to a file")
    what = export.add_subparsers(required=True, metavar="WHAT")
    for source in SOURCES.values():
        kind = what.add_parser(
            source.name,
            help=source.help,
            description=(
                f"Export every one of the account's {source.noun} to FILE (JSONL or CSV), "
                f"crash-safe and resumable. {options.KEY_SOURCES}"
            ),
            epilog=codes.HELP_TEXT,
            formatter_class=HelpFormatter,
        )
        _add_options(kind, source)
        kind.set_defaults(command=run, kind=source.name)


def _add_options(parser: argparse.ArgumentParser, source: Source) -> None:
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
    options.add_api(parser, stops="the export")
    options.add_display(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``export KIND`` from parsed options; return the exit code."""
    try:
        export = _export_options(args)
    except (UsageError, ValueError, ExportRefusedError) as exc:
        return codes.fail(codes.USAGE, str(exc))
    return run_export(
        export,
        progress=args.progress,
        interval=args.progress_interval,
        verbose=args.verbose,
        as_program=args.as_program,
    )


def _export_options(args: argparse.Namespace) -> ExportOptions:
    check_interval(args.progress_interval)
    fmt = _format(args.out, args.format)
    for flag, given in (("--csv-raw", args.csv_raw), ("--excel", args.excel)):
        if given and fmt != "csv":
            raise UsageError(f"{flag} applies to --format csv only")
    filters = tuple((field, op, value) for field, op, value in args.filter or ())
    chat_ids = None if args.chats is None else _chat_ids(args.chats)
    settings = ExportSettings(
        kind=args.kind,
        format=fmt,
        sort=None if args.sort == "none" else args.sort,
        order=args.order,
        page_size=_PAGE_SIZE,
        base_url=options.base_url(args),
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
        api_key=options.api_key(args),
        resume=args.resume,
        overwrite=args.overwrite,
        rate_limit=args.rate_limit,
        rate_period=args.rate_period,
        concurrency=args.concurrency,
        rate_budget=options.rate_budget(args),
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
