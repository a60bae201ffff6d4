"""Every exception the package raises is in the tree of `_errors`, and every bad argument is one.

The allow-list below is the whole list of exceptions outside the tree that a
module may raise, each with its reason; a new one fails here until it is
either moved into the tree or listed with a reason.
"""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async import _errors
from helpcrunch_async._core.cap import Cap
from helpcrunch_async._core.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable

PACKAGE = Path(hc.__file__).parent

TREE = {
    name
    for name, member in vars(_errors).items()
    if isinstance(member, type) and issubclass(member, hc.HelpCrunchError)
}

# (module path relative to the package, exception name) -> why it may be raised.
ALLOWED: dict[tuple[str, str], str] = {
    ("_shell/engine.py", "StopAsyncIteration"): "the end of an async iterator, not an error",
    ("_shell/engine.py", "NotImplementedError"): (
        "the engine's hooks that each kind of scan (listing, fan-out) must define"
    ),
    ("__main__.py", "SystemExit"): "the command's exit status",
    ("_shell/transport.py", "_PausedTooLong"): (
        "a carrier inside the transport's middleware, caught in Transport.send and "
        "turned into an Answer; never leaves the transport"
    ),
    ("_core/secret.py", "TypeError"): (
        "pickle's own protocol: an object that refuses to be pickled raises TypeError"
    ),
    ("_core/signature.py", "TypeError"): (
        "pickle's own protocol: a SigningSecret refuses to be pickled with TypeError"
    ),
    ("_models/events.py", "ValidationError"): (
        "msgspec's own error for a webhook body of the wrong shape: webhooks.decode raises it "
        "as WebhookPayloadError"
    ),
    ("_redis/client.py", "ImportError"): (
        "the stdlib's signal for a missing optional dependency (pip install ...[redis])"
    ),
    ("_core/paging.py", "ValueError"): (
        "programming errors inside the pure plan (a window reported twice, a bad plan size); "
        "every public entry point checks its arguments first with InvalidParameterError"
    ),
    ("_models/common.py", "ValueError"): (
        "inside a msgspec decode hook, which turns it into a ValidationError: the caller "
        "raises that as DecodeError"
    ),
    ("_models/common.py", "ValidationError"): (
        "msgspec's own error for a body of the wrong shape: the caller raises it as DecodeError"
    ),
    ("_core/fanout.py", "ValueError"): (
        "programming errors inside the pure fan-out plan; the resources check their "
        "arguments first with InvalidParameterError"
    ),
    ("_core/reconcile.py", "ValueError"): (
        "programming errors inside the pure reconciliation plan; find_deleted checks its "
        "arguments first with InvalidParameterError"
    ),
    ("_core/new_messages.py", "ValueError"): (
        "programming errors inside the pure new-messages plan (a page size or lookahead "
        "below one); the sync builds it with the client's checked concurrency"
    ),
    ("dlt/command.py", "SyncStateError"): (
        "CLI-internal: the sync command turns it into the local exit code, naming the folder"
    ),
    ("_cli/live.py", "ValueError"): (
        "CLI-internal: sync --live turns a bad option into its usage exit code"
    ),
    ("webhooks/_listen.py", "ValueError"): (
        "CLI-internal: listen turns a bad option or secret file into its usage exit code"
    ),
    ("webhooks/_listen.py", "RuntimeError"): (
        "CLI-internal: the server thread of sync --live or the demo did not start (the "
        "process stops); and the handler listen never calls (it stores, drain=False)"
    ),
    ("_sync/plan.py", "ValueError"): (
        "programming errors inside the pure sync plan (a negative overlap or refresh "
        "window); the command and the source check their options first"
    ),
    ("_sync/held.py", "ValueError"): (
        "a corrupt or impossible held-id encoding, a programming error of the sync's state"
    ),
    ("_export/checkpoint.py", "ExportRefusedError"): (
        "CLI-internal: the export command turns it into its usage exit code"
    ),
    ("_export/chat_list.py", "ExportRefusedError"): (
        "CLI-internal: the export command turns it into its usage exit code"
    ),
    ("dlt/command.py", "ValueError"): (
        "CLI-internal: the sync command turns a bad option into its usage exit code"
    ),
    ("dlt/__init__.py", "AttributeError"): (
        "a module's __getattr__ must raise AttributeError for names it does not have"
    ),
    ("_export/writer.py", "ExportRefusedError"): (
        "CLI-internal: the export command turns it into its usage exit code"
    ),
    ("_cli/options.py", "UsageError"): "CLI-internal: turned into the usage exit code and message",
    ("_cli/export.py", "UsageError"): "CLI-internal: turned into the usage exit code and message",
    ("_cli/sync.py", "UsageError"): "CLI-internal: turned into the usage exit code and message",
    ("_cli/imports.py", "UsageError"): "CLI-internal: turned into the usage exit code and message",
    ("_cli/options.py", "ArgumentTypeError"): (
        "argparse's protocol for an option's type function: argparse turns it into its usage error"
    ),
    ("_export/messages.py", "ExportRefusedError"): (
        "CLI-internal: the export command turns it into its usage exit code"
    ),
    ("_core/import_journal.py", "ExportRefusedError"): (
        "CLI-internal: the import command turns a refused resume into its usage exit code"
    ),
    ("_import/engine.py", "ExportRefusedError"): (
        "CLI-internal: the import command turns it into its usage exit code"
    ),
    ("_import/files.py", "ExportRefusedError"): (
        "CLI-internal: the import command turns it into its usage exit code"
    ),
}
# The emulator is a test server with its own surface (plain ValueError for bad
# settings, as stdlib servers raise); it is not the client and raises nothing to it.
SKIPPED_DIRS = ("testing",)


def raised_names(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(target, ast.Attribute):
            found.append((node.lineno, target.attr))
        elif isinstance(target, ast.Name):
            found.append((node.lineno, target.id))
    return found


def test_every_raise_is_in_the_tree_or_listed_with_a_reason() -> None:
    outside = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(SKIPPED_DIRS):
            continue
        for line, name in raised_names(ast.parse(path.read_text())):
            # A lower-case name re-raises an exception object built earlier (or calls
            # a function that builds one, such as ``raise _incomplete(...)``).
            if name in TREE or name.lstrip("_")[0].islower() or (relative, name) in ALLOWED:
                continue
            outside.append(f"{relative}:{line}: raise {name}")
    assert outside == []


def test_the_allow_list_is_still_needed() -> None:
    used = set()
    for relative, name in ALLOWED:
        names = {n for _, n in raised_names(ast.parse((PACKAGE / relative).read_text()))}
        if name in names:
            used.add((relative, name))
    assert used == set(ALLOWED)


def test_the_drawn_tree_names_every_class_of_the_module() -> None:
    doc = inspect.getdoc(_errors) or ""
    for name in TREE:
        assert name in doc, name
    assert hc.RedisUnavailableError.__module__ == "helpcrunch_async._errors"
    assert issubclass(hc.RedisUnavailableError, hc.HelpCrunchError)
    assert issubclass(hc.ClientClosedError, hc.HelpCrunchError)
    assert issubclass(hc.ClientClosedError, RuntimeError)


def test_errors_import_nothing_of_the_package_but_the_error_body() -> None:
    # The bottom of the import graph: an arrow from here to _core or to a resource's
    # models would point up (the scrub of wire text is passed in as a function).
    tree = ast.parse((PACKAGE / "_errors.py").read_text())
    ours = {
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.level or (node.module or "").startswith("helpcrunch_async"))
    }
    assert ours == {"_models.errors"}


def redis_budget(**kwargs: Any) -> object:
    pytest.importorskip("redis")
    return hc.RedisBudget("redis://127.0.0.1:1/0", **kwargs)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: hc.LocalBudget(0), "rate limit"),
        (lambda: hc.LocalBudget(True), "rate limit"),  # noqa: FBT003 -- a wrong type on purpose
        (lambda: hc.LocalBudget(10, 0.0), "rate period"),
        (lambda: hc.LocalBudget(10, math.inf), "rate period"),
        (lambda: hc.LocalBudget(10, 60.0, margin=-1.0), "rate margin"),
        (lambda: hc.LocalBudget(10, 60.0, margin=math.nan), "rate margin"),
        (lambda: Cap(0, 60.0), "rate limit"),
        (lambda: redis_budget(limit=0), "rate limit"),
        (lambda: redis_budget(period=-1.0), "rate period"),
        (lambda: redis_budget(margin=math.nan), "rate margin"),
        (lambda: redis_budget(fallback_workers=0), "fallback_workers"),
        (lambda: redis_budget(limit=3, fallback_workers=4), "fallback_workers"),
        (lambda: redis_budget(probe_interval=0.0), "probe_interval"),
        (lambda: redis_budget(redis_timeout=math.nan), "redis_timeout"),
        (lambda: redis_budget(key="a{b}"), "key"),
        (lambda: redis_budget(key=""), "key"),
        (lambda: RetryPolicy(max_retries=-1), "max_retries"),
        (lambda: RetryPolicy(base=math.nan), "base"),
        (lambda: RetryPolicy(cap=-1.0), "cap"),
        (lambda: hc.HelpCrunch("k", rate_budget=object()), "rate_budget"),  # type: ignore[arg-type]  # a wrong type on purpose
        (lambda: hc.HelpCrunch("k", max_retries=1.5), "max_retries"),  # type: ignore[arg-type]  # a wrong type on purpose
        (lambda: hc.HelpCrunch("k", backoff=-1.0), "backoff"),
    ],
)
def test_every_public_constructor_refuses_a_bad_argument_the_same_way(
    build: Any, name: str
) -> None:
    with pytest.raises(hc.InvalidParameterError, match=name):
        build()


def test_the_same_check_gives_the_same_words_everywhere() -> None:
    messages = []
    builds: list[Callable[[], object]] = [
        lambda: hc.LocalBudget(0),
        lambda: redis_budget(limit=0),
        lambda: Cap(0, 1.0),
    ]
    for build in builds:
        with pytest.raises(hc.InvalidParameterError) as info:
            build()
        messages.append(str(info.value))
    assert len(set(messages)) == 1


class HalfBudget:
    """A budget that implements only the old three calls, without the attempt hooks."""

    limit = 10
    period = 60.0

    async def acquire(self) -> float:
        return 0.0

    async def on_success(self, sent_at: float) -> None:
        del sent_at

    async def on_rate_limited(self, sent_at: float, retry_after: float | None) -> float:
        del sent_at, retry_after
        return 0.0


def test_a_budget_missing_a_declared_hook_is_refused_before_any_request() -> None:
    with pytest.raises(hc.InvalidParameterError, match="rate_budget"):
        hc.HelpCrunch("k", base_url="http://127.0.0.1:1/v1", rate_budget=HalfBudget())  # type: ignore[arg-type]  # the point of the test
