from __future__ import annotations

import http.client
import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
import pytest

from helpcrunch_async.testing import Faults, ThreadedEmulator

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.timeout(60)


def sync_get(emu: ThreadedEmulator, path: str) -> tuple[int, bytes]:
    """A plain blocking request, as synchronous user code would send it."""
    url = urlsplit(emu.base_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    try:
        connection.request(
            "GET", url.path + path, headers={"Authorization": f"Bearer {emu.api_key}"}
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_fixture_serves_sync_tests(helpcrunch_emulator: ThreadedEmulator) -> None:
    status, body = sync_get(helpcrunch_emulator, "/customers?limit=5")
    assert status == 200
    page = json.loads(body)
    assert page["total"] == 1000
    assert [c["id"] for c in page["data"]] == helpcrunch_emulator.expected_ids()[:5]
    assert [e.status for e in helpcrunch_emulator.log] == [200]


async def test_the_fixture_serves_async_tests(helpcrunch_emulator: ThreadedEmulator) -> None:
    headers = {"Authorization": f"Bearer {helpcrunch_emulator.api_key}"}
    timeout = aiohttp.ClientTimeout(total=5)
    url = helpcrunch_emulator.base_url + "/customers"
    async with (
        aiohttp.ClientSession(headers=headers, timeout=timeout) as session,
        session.get(url) as response,
    ):
        assert response.status == 200
        assert len((await response.json())["data"]) == 100


@pytest.mark.helpcrunch_emulator(customers=7, api_key="k", policy="fixed", rate_limit=1)
def test_the_marker_passes_options(helpcrunch_emulator: ThreadedEmulator) -> None:
    assert helpcrunch_emulator.api_key == "k"
    assert helpcrunch_emulator.total == 7
    assert sync_get(helpcrunch_emulator, "/customers")[0] == 200
    assert sync_get(helpcrunch_emulator, "/customers")[0] == 429


def test_the_factory_starts_several(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    small = helpcrunch_emulator_factory(customers=3)
    other = helpcrunch_emulator_factory(customers=4, seed=2, faults=Faults(error_rate=1.0))
    assert small.port != other.port
    assert json.loads(sync_get(small, "/customers")[1])["total"] == 3
    assert sync_get(other, "/customers")[0] in {500, 502, 503}


def test_runtime_control_goes_through_the_emulators_loop(
    helpcrunch_emulator: ThreadedEmulator,
) -> None:
    new = helpcrunch_emulator.insert(2)
    assert helpcrunch_emulator.expected_ids()[:2] == sorted(new)
    assert helpcrunch_emulator.delete(ids=new) == new
    helpcrunch_emulator.configure(fail={1: "503"})
    assert sync_get(helpcrunch_emulator, "/customers")[0] == 503
    helpcrunch_emulator.faults.fail = {}
    customer_id = helpcrunch_emulator.expected_ids()[0]
    assert sync_get(helpcrunch_emulator, f"/customers/{customer_id}") == (
        200,
        helpcrunch_emulator.customer_json(customer_id),
    )
    assert helpcrunch_emulator.customer(customer_id) is not None
    assert helpcrunch_emulator.stats()["requests"] == 2
    helpcrunch_emulator.reset_log()
    assert helpcrunch_emulator.log == []


def test_threaded_emulator_as_a_context_manager_and_its_errors() -> None:
    with ThreadedEmulator(customers=2) as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        with pytest.raises(RuntimeError, match="already started"):
            emu.start()
    assert emu.log == [], "the log stays readable after stop"
    with pytest.raises(RuntimeError, match="not running"):
        emu.insert(1)
    with pytest.raises(ValueError, match="unknown rate policy"):
        ThreadedEmulator(policy="leaky").start()


def test_the_plugin_loads_from_the_entry_point_in_a_fresh_pytest(tmp_path: Path) -> None:
    # Another project's settings: only what pytest-asyncio insists on, no plugins listed.
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import json, urllib.request
            import pytest

            @pytest.mark.helpcrunch_emulator(customers=12)
            def test_user(helpcrunch_emulator):
                request = urllib.request.Request(
                    helpcrunch_emulator.base_url + "/customers",
                    headers={"Authorization": "Bearer " + helpcrunch_emulator.api_key},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert json.load(response)["total"] == 12
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
