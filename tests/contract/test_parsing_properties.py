"""Laws of the cell parsers, checked over generated values (hypothesis)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from rekomendasi.contract.loader import _nip_reason, _parse


def _one(value: str | None, kind: str):  # type: ignore[no-untyped-def]
    values, bad, _ = _parse(pd.Series([value], dtype="str"), kind)
    return values.iloc[0], bool(bad.iloc[0])


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_every_integer_parses_to_itself(number: int) -> None:
    value, bad = _one(f"{number}", "int")
    assert not bad and value == number
    value, bad = _one(f"{number}.0", "int")  # whole floats from spreadsheets are whole numbers
    assert not bad and value == number


@given(st.text(alphabet="abcxyz/-:", min_size=1, max_size=8))
def test_text_is_never_a_number(text: str) -> None:
    assert _one(text, "int")[1] and _one(text, "float")[1]


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_iso_dates_parse_and_day_first_dates_do_not(day: dt.date) -> None:
    value, bad = _one(day.isoformat(), "date")
    assert not bad and value.date() == day
    assert _one(day.strftime("%d/%m/%Y"), "date")[1]


@given(st.sampled_from(["true", "TRUE", "False", "1", "0"]), st.sampled_from(["ya", "tidak", "yes", "2"]))
def test_booleans(good: str, wrong: str) -> None:
    assert not _one(good, "bool")[1]
    assert _one(wrong, "bool")[1]


def test_missing_cells_are_never_parse_errors() -> None:
    for kind in ("int", "float", "date", "bool", "str"):
        assert not _one(None, kind)[1]


@given(st.text(alphabet="0123456789", min_size=1, max_size=30).filter(lambda s: len(s) != 18))
def test_nip_reason_names_the_length(digits: str) -> None:
    assert _nip_reason(digits) == f"NIP must be exactly 18 digits; it has {len(digits)}"
