"""How every command line of the package shows its options: with their defaults.

One argparse formatter for ``helpcrunch-async`` (each command) and the
standalone emulator, so that ``--help`` says what an option is when it is not
given. An option whose default means "not given" (None, False, an empty list)
shows none; a help text that already names its default (``default: x``, ``(x)``)
is left as it is.
"""

from __future__ import annotations

import argparse

__all__ = ["HelpFormatter"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep descriptions and epilogs as written; end each option's help with its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # The hook argparse.ArgumentDefaultsHelpFormatter overrides, minus its
        # "(default: None)" and "(default: False)" on options that have none.
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default" in text
            or f"({default})" in text
            or not action.option_strings
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
        ):
            return action.help
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"
