"""The emulator's public surface (`helpcrunch_async.testing`) is pinned like the package's."""

from __future__ import annotations

import helpcrunch_async.testing as emulator

EXPECTED = [
    "CHAT_FIELDS",
    "CHAT_SORT_FIELDS",
    "CUSTOMER_FIELDS",
    "FAULT_KINDS",
    "POLICY_NAMES",
    "SORT_FIELDS",
    "WRITE_FAULT_KINDS",
    "Account",
    "ChatData",
    "Dataset",
    "DeliveryFaults",
    "DeliveryRecord",
    "Drift",
    "Emulator",
    "Faults",
    "LogEntry",
    "RateLimit",
    "Readings",
    "ReceivedWebhook",
    "RetrySchedule",
    "Subscription",
    "ThreadedCollector",
    "ThreadedEmulator",
    "WebhookCollector",
    "WebhookSettings",
    "WireVariants",
    "WriteFaults",
    "max_in_any_window",
]


def test_testing_all_is_pinned_and_sorted() -> None:
    assert emulator.__all__ == EXPECTED
    assert emulator.__all__ == sorted(emulator.__all__, key=lambda n: (not n.isupper(), n))


def test_every_testing_name_exists_and_claims_the_package() -> None:
    for name in emulator.__all__:
        member = getattr(emulator, name)
        if isinstance(member, type):
            assert member.__module__.startswith("helpcrunch_async.testing"), name
