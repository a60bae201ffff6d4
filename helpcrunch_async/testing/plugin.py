"""The pytest plugin: the emulator fixtures and ``helpcrunch_webhooks``, a webhook receiver.

Installed packages register it through the ``pytest11`` entry point, so any test can ask
for a running emulator. Each runs in a background thread with its own event loop
(``ThreadedEmulator``), which suits sync and async tests alike, and is stopped at
teardown. Options for ``helpcrunch_emulator`` come from the marker::

    @pytest.mark.helpcrunch_emulator(customers=50, policy="sliding", rate_limit=10)
    def test_something(helpcrunch_emulator): ...

``helpcrunch_webhooks`` is a loopback receiver that records every webhook delivered to
it, verified against its own secret; subscribe an emulator to it::

    def test_hooks(helpcrunch_emulator_factory, helpcrunch_webhooks):
        emulator = helpcrunch_emulator_factory(webhooks=[helpcrunch_webhooks.subscription()])
        emulator.trigger("customer.new")
        [event] = helpcrunch_webhooks.wait(1)

The emulator is imported inside the fixtures, not at plugin load, so merely having the
package installed costs other projects' test runs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from helpcrunch_async.testing._collector import ThreadedCollector
    from helpcrunch_async.testing._thread import ThreadedEmulator


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``helpcrunch_emulator`` marker."""
    config.addinivalue_line(
        "markers",
        "helpcrunch_emulator(**options): Emulator options for the helpcrunch_emulator fixture",
    )


@pytest.fixture
def helpcrunch_emulator_factory() -> Iterator[Callable[..., ThreadedEmulator]]:
    """Start emulators with any ``Emulator`` options; all are stopped at teardown."""
    from helpcrunch_async.testing._thread import ThreadedEmulator  # noqa: PLC0415 -- see module

    started: list[ThreadedEmulator] = []

    def start(**options: Any) -> ThreadedEmulator:
        emulator = ThreadedEmulator(**options)
        emulator.start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture
def helpcrunch_emulator(
    request: pytest.FixtureRequest,
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> ThreadedEmulator:
    """Return a running emulator; options from the ``helpcrunch_emulator`` marker."""
    marker = request.node.get_closest_marker("helpcrunch_emulator")
    options = dict(marker.kwargs) if marker is not None else {}
    return helpcrunch_emulator_factory(**options)


@pytest.fixture
def helpcrunch_webhooks() -> Iterator[ThreadedCollector]:
    """Return a running webhook receiver on loopback that records what it gets, verified.

    ``subscription(events=None)`` subscribes an emulator to it; ``wait(n)`` blocks until
    ``n`` distinct verified events arrived and returns them; ``deliveries`` holds every
    request with its signature and whether it verified. Stopped at teardown.
    """
    from helpcrunch_async.testing._collector import ThreadedCollector  # noqa: PLC0415 -- see module

    with ThreadedCollector() as collector:
        yield collector
