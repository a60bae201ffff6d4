"""An embedded HelpCrunch emulator: a real aiohttp.web server for tests and benchmarks.

``Emulator`` runs in the caller's event loop (``async with Emulator() as emu``);
``ThreadedEmulator`` runs one in a background thread for synchronous code; the pytest
plugin (``helpcrunch_emulator`` fixtures) builds on the latter. Its settings come as
objects: ``Account``, ``RateLimit``, ``Faults``, ``WireVariants``. The emulator takes
writes too: ``Readings`` plays each reading the docs leave open, ``WriteFaults`` fail
a write after it was applied. With ``webhooks=[Subscription(url, secret, events)]``
it delivers signed webhooks for every change it makes; ``WebhookCollector`` (the
``helpcrunch_webhooks`` fixture) receives them.
"""

from helpcrunch_async.testing._account import Account
from helpcrunch_async.testing._chat_generation import CHAT_SORT_FIELDS
from helpcrunch_async.testing._chats import ChatData
from helpcrunch_async.testing._collector import ReceivedWebhook, ThreadedCollector, WebhookCollector
from helpcrunch_async.testing._dataset import SORT_FIELDS, Dataset
from helpcrunch_async.testing._faults import FAULT_KINDS, Drift, Faults
from helpcrunch_async.testing._log import LogEntry
from helpcrunch_async.testing._policies import POLICY_NAMES, RateLimit, max_in_any_window
from helpcrunch_async.testing._search import CHAT_FIELDS, CUSTOMER_FIELDS
from helpcrunch_async.testing._server import Emulator
from helpcrunch_async.testing._thread import ThreadedEmulator
from helpcrunch_async.testing._webhook_plan import DeliveryFaults, RetrySchedule
from helpcrunch_async.testing._webhooks import DeliveryRecord, Subscription, WebhookSettings
from helpcrunch_async.testing._wire import WireVariants
from helpcrunch_async.testing._write_faults import WRITE_FAULT_KINDS, WriteFaults
from helpcrunch_async.testing._written import Readings

__all__ = [
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
