"""An embedded HelpCrunch emulator: a real aiohttp.web server for tests and benchmarks.

``Emulator`` runs in the caller's event loop (``async with Emulator() as emu``);
``ThreadedEmulator`` runs one in a background thread for synchronous code; the pytest
plugin (``helpcrunch_emulator`` fixtures) builds on the latter. The emulator takes
writes too: ``Readings`` plays each reading the docs leave open, ``WriteFaults`` fail
a write after it was applied.
"""

from helpcrunch_async.testing._chats import CHAT_SORT_FIELDS, ChatData
from helpcrunch_async.testing._dataset import SORT_FIELDS, Dataset
from helpcrunch_async.testing._faults import FAULT_KINDS, Drift, Faults
from helpcrunch_async.testing._log import LogEntry
from helpcrunch_async.testing._policies import POLICY_NAMES, max_in_any_window
from helpcrunch_async.testing._search import CHAT_FIELDS, CUSTOMER_FIELDS
from helpcrunch_async.testing._server import Emulator
from helpcrunch_async.testing._thread import ThreadedEmulator
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
    "ChatData",
    "Dataset",
    "Drift",
    "Emulator",
    "Faults",
    "LogEntry",
    "Readings",
    "ThreadedEmulator",
    "WriteFaults",
    "max_in_any_window",
]
