"""The compiled numeric CSV parser gives Python's ``float`` bit for bit, or declines."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.marketdata import recorded
from engine.marketdata.csvnum import parse_numeric_csv

DATA = Path(__file__).resolve().parents[1] / "data"


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


decimals = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}{'.' + frac if frac is not None else ''}"
                                   f"{'e' + str(exp) if exp is not None else ''}",
    st.sampled_from(["", "-", "+"]),
    st.integers(0, 10**19).map(str),
    st.one_of(st.none(), st.text("0123456789", min_size=0, max_size=20)),
    st.one_of(st.none(), st.integers(-330, 330)),
)
fields = st.one_of(decimals, st.floats(allow_nan=False).map(repr),
                   st.sampled_from(["nan", "inf", "-inf", "1e", ".5", "5.", "0.0", "-0.0",
                                    "1_000", " 7"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(fields, min_size=3, max_size=3), min_size=1, max_size=20))
def test_same_doubles_as_float_or_declines(rows: list[list[str]]) -> None:
    body = "\n".join(",".join(r) for r in rows).encode()
    try:
        expected = [[float(x) for x in r] for r in rows]
    except ValueError:
        table, bad = parse_numeric_csv(body, 3)
        assert table is None and bad >= 0
        return
    table, bad = parse_numeric_csv(body, 3)
    assert table is not None and bad == -1
    assert table.shape == (len(rows), 3)
    for got_row, want_row in zip(table.tolist(), expected, strict=True):
        for got, want in zip(got_row, want_row, strict=True):
            assert (math.isnan(got) and math.isnan(want)) or _bits(got) == _bits(want)


def test_malformed_rows_are_named() -> None:
    assert parse_numeric_csv(b"1,2,3\n4,5\n", 3) == (None, 1)
    assert parse_numeric_csv(b"1,2,3\n4,5,6,7\n", 3) == (None, 1)
    assert parse_numeric_csv(b"1,2,3\n4,x,6\n", 3) == (None, 1)
    assert parse_numeric_csv(b'1,"2",3\n', 3) == (None, -1)  # quoted: the csv module's job


def test_crlf_blank_lines_and_no_final_newline() -> None:
    table, bad = parse_numeric_csv(b"1,2.5,3\r\n\r\n4,5,6e-3", 3)
    assert bad == -1 and table is not None
    assert table.tolist() == [[1.0, 2.5, 3.0], [4.0, 5.0, 0.006]]


def test_recorded_files_read_the_same_as_through_the_csv_module(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for path in sorted(DATA.glob("*_1m_*.csv.gz")):
        info = recorded.parse_name(path)
        fast = recorded.read_file(path, info).columns
        with monkeypatch.context() as m:
            m.setattr(recorded, "_read_numeric", lambda *_: None)
            slow = recorded.read_file(path, info).columns
        assert fast.keys() == slow.keys()
        for key in slow:
            assert fast[key].dtype == slow[key].dtype
            assert np.array_equal(fast[key], slow[key], equal_nan=True), (path.name, key)


def test_a_bad_number_is_still_reported(tmp_path: Path) -> None:
    path = tmp_path / "x_btcusdt_1m_2020-01-01_2020-01-01.csv"
    path.write_text("ts_ms,open,high,low,close,volume\n1,1,1,1,1,1\n2,1,1,oops,1,1\n")
    with pytest.raises(recorded.DataFileError, match="bad number"):
        recorded.read_file(path)
