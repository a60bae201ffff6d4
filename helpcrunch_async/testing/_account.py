"""The emulated account's shape beyond its sizes: its team, its chats' length, its formats."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Account:
    """How the account looks beyond ``customers``, ``chats`` and ``seed`` (see ``Emulator``).

    ``agents`` agents and ``departments`` departments; chats with about
    ``messages_per_chat`` messages each on average (heavy-tailed);
    ``custom_data_as_object`` serialises ``customData`` as one object instead of a list
    of entries; ``timestamps_as_strings`` sends timestamps as strings of digits.
    """

    agents: int = 5
    departments: int = 2
    messages_per_chat: float = 20.0
    custom_data_as_object: bool = False
    timestamps_as_strings: bool = False
