"""Nothing leaves the machine: a sync calls the API and nothing else, and its state stays local.

The sync runs as its own process (as a user runs it, without the suite's
telemetry setting), observed by `loopback.install`: every socket it opens and
every name it looks up is recorded, including dlt's anonymous telemetry,
which it used to send (8 look-ups of dlt's host in one demo-sync).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from loopback import NonLoopbackError, install, outside_target

from helpcrunch_async.dlt.command import SyncOptions, state_folder

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async.testing._thread import ThreadedEmulator

_TESTS = Path(__file__).parent
_ROOT = _TESTS.parent

# The child: the observer first, its report written at exit after dlt's own
# exit handlers (atexit runs them in reverse: registered first, runs last).
_CHILD = """
import atexit, json, os, sys
sys.path.insert(0, os.environ["LOOPBACK_DIR"])
from loopback import install
seen = []
atexit.register(lambda: open(os.environ["LOOPBACK_REPORT"], "w").write(json.dumps(seen)))
install(seen)
from helpcrunch_async._cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_child(emulator: ThreadedEmulator, cwd: Path, *args: str) -> tuple[int, list[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNTIME__")}
    report = cwd / "outside.json"
    env.update(
        HELPCRUNCH_API_KEY=emulator.api_key,
        HOME=str(cwd / "home"),
        LOOPBACK_DIR=str(_TESTS),
        LOOPBACK_REPORT=str(report),
        PYTHONPATH=os.pathsep.join([str(_ROOT), env.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(  # noqa: S603 -- our own interpreter and script
        [sys.executable, "-c", _CHILD, "sync", "--base-url", emulator.base_url, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(report.read_text()), done.stderr


@pytest.mark.slow
def test_a_sync_opens_no_connection_beyond_loopback_and_keeps_its_state_beside_the_file(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=200, chats=5, seed=31)
    args = ("--duckdb-file", "data/mirror.duckdb", "--rate-limit", "1000", "--rate-period", "1")
    for _ in range(2):
        code, outside, stderr = _run_child(emulator, tmp_path, *args, "--quiet")
        assert code == 0, stderr
        assert outside == []
    # dlt's working folder (the cursors, the ids held) is beside the DuckDB file.
    assert (tmp_path / "data" / "mirror.dlt" / "helpcrunch_sync" / "state.json").is_file()
    assert not (tmp_path / "home" / ".dlt" / "pipelines").exists()


def test_the_state_folder_is_beside_the_duckdb_file_unless_given() -> None:
    given = SyncOptions(api_key="k", pipelines_dir=Path("/srv/state"))
    assert state_folder(given) == Path("/srv/state")
    assert state_folder(SyncOptions(api_key="k", duckdb_file=Path("/data/m.duckdb"))) == Path(
        "/data/m.dlt"
    )
    assert state_folder(SyncOptions(api_key="k")) == Path("helpcrunch_sync.dlt")


@pytest.mark.parametrize(
    ("event", "args", "outside"),
    [
        ("socket.getaddrinfo", ("telemetry.scalevector.ai", 443, 0, 1, 6, 0), True),
        ("socket.getaddrinfo", ("localhost", 80, 0, 1, 6, 0), False),
        ("socket.getaddrinfo", (b"127.0.0.1", 80, 0, 1, 6, 0), False),
        ("socket.getaddrinfo", (None, 80, 0, 1, 6, 0), False),
        ("socket.connect", (None, ("93.184.216.34", 443)), True),
        ("socket.connect", (None, ("::1", 443, 0, 0)), False),
        ("socket.connect", (None, "/run/redis.sock"), False),
        ("socket.gethostbyname", ("api.helpcrunch.com",), True),
        ("os.open", ("/etc/hosts",), False),
    ],
)
def test_the_observer_tells_loopback_from_the_rest(
    event: str, args: tuple[object, ...], outside: bool
) -> None:
    assert (outside_target(event, args) is not None) == outside


def test_the_observer_refuses_a_lookup_beyond_loopback_in_a_process_of_its_own(
    tmp_path: Path,
) -> None:
    script = (
        "import socket, sys\n"
        f"sys.path.insert(0, {str(_TESTS)!r})\n"
        "from loopback import install, NonLoopbackError\n"
        "seen = []\n"
        "install(seen)\n"
        "for host in ('no-such-host.invalid', 'example.com'):\n"
        "    try:\n"
        "        socket.getaddrinfo(host, 443)\n"
        "    except NonLoopbackError:\n"
        "        pass\n"
        "print(seen)\n"
    )
    done = subprocess.run(  # noqa: S603 -- our own interpreter and script
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Both refused; the name that can never resolve (RFC 6761) is not counted.
    assert done.stdout.strip() == "[\"socket.getaddrinfo 'example.com'\"]"
    # The class the suite's own observer raises is an OSError, as a refused connection is.
    assert issubclass(NonLoopbackError, OSError)
    assert callable(install)
