"""The emulator's settings objects: a few keywords, the rest as objects, each checked once."""

from __future__ import annotations

import pytest

from helpcrunch_async.testing import Account, Emulator, Faults, RateLimit, WireVariants


def test_the_conveniences_build_the_settings_objects() -> None:
    emu = Emulator(customers=5, policy="sliding", rate_limit=7, rate_period=2.0, latency=0.5)
    assert emu.rate == RateLimit(policy="sliding", limit=7, period=2.0)
    assert emu.faults == Faults(latency=0.5)
    assert emu.account == Account()
    assert emu.variants == WireVariants()


@pytest.mark.parametrize(
    "options",
    [
        {"latency": 0.1, "faults": Faults(jitter=0.1)},
        {"rate_limit": 5, "rate": RateLimit(policy="fixed")},
        {"policy": "sliding", "rate": RateLimit()},
    ],
)
def test_a_setting_given_both_ways_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(TypeError, match="once"):
        Emulator(customers=5, **options)  # type: ignore[arg-type]  # the keywords vary


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="error_style"):
        WireVariants(error_style="newest")
    with pytest.raises(ValueError, match="customers_search_total"):
        WireVariants(customers_search_total="header")
    with pytest.raises(ValueError, match="unknown rate policy"):
        RateLimit(policy="leaky")
    with pytest.raises(ValueError, match="rates"):
        Emulator(faults=Faults(error_rate=0.8, drop_rate=0.8))
    with pytest.raises(ValueError, match="agents"):
        Emulator(account=Account(agents=-1))


def test_runtime_changes_stay_in_the_emulator() -> None:
    faults = Faults(fail={3: "500"})
    emu = Emulator(customers=5, faults=faults)
    emu.configure(fail={1: "503"}, error_style="new", rate_limit=3, policy="fixed")
    assert faults.fail == {3: "500"}
    assert emu.faults.fail == {1: "503"}
    assert emu.variants.error_style == "new"
    assert (emu.rate.policy, emu.rate.limit) == ("fixed", 3)


def test_a_refused_change_changes_nothing() -> None:
    emu = Emulator(customers=5)
    with pytest.raises(ValueError, match="rate limit must be at least 1"):
        emu.configure(error_style="new", latency=0.2, policy="sliding", rate_limit=0)
    assert emu.variants.error_style == "old"
    assert emu.faults.latency == 0.0
    assert emu.rate == RateLimit()
