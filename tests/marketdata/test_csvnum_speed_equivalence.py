"""The fast paths of the compiled CSV parser give ``float(text)`` bit for bit: each digit
count, sign, exponent and special value; its regrow paths (a short row estimate, many
fields left to Python); and its return conventions for bad rows and quoted text."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.marketdata import csvnum
from engine.marketdata.csvnum import parse_numeric_csv


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _decimal(sign: str, whole: str, frac: str | None, exp: str | None) -> str:
    return sign + whole + ("" if frac is None else "." + frac) + ("" if exp is None else exp)


_digits = st.text("0123456789", max_size=25)
_exponents = st.builds(lambda e, sign, value: e + sign + value, st.sampled_from(["e", "E"]),
                       st.sampled_from(["", "-", "+"]),
                       st.one_of(st.integers(0, 30).map(str), st.integers(0, 400).map(str),
                                 st.just(""), st.just("0022")))
_decimals = st.builds(_decimal, st.sampled_from(["", "", "-", "+"]), _digits,
                      st.one_of(st.none(), _digits), st.one_of(st.none(), _exponents))
_limits = st.sampled_from([
    "9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993",
    "999999999999999", "1000000000000000", "0.999999999999999", "99999999999999.99",
    "123456789012345678", "1234567890123456789", "00000000000000000000000000001",
    "0.0000000000000000000001", "0.00000000000000000000001", "1e22", "1e23", "1e-22",
    "1e-23", "8.98846567431158e307", "4.9e-324", "2.2250738585072014e-308", "1e400",
    "-0", "-0.0", "0", "0.", ".0", "5.", ".5", "1577836800000", "30012.53",
])
_specials = st.sampled_from(["nan", "-nan", "NaN", "inf", "-inf", "+inf", "Infinity", "",
                             "-", "+", ".", "-.", "1e", "e5", "1e+", "1_000", " 7", "7 ",
                             "0x10", "1.2.3", "--1", "1e5.5", "x"])
_fields = st.one_of(_decimals, _limits, _specials,
                    st.floats(allow_nan=False).map(repr),
                    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.17g}"),
                    st.floats(-1e9, 1e9).map(lambda x: f"{x:.6f}"),
                    st.integers(-10**20, 10**20).map(str))
_tables = st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.lists(_fields, min_size=n, max_size=n), min_size=1, max_size=25)))


def _first_bad_row(rows: list[list[str]]) -> int:
    for index, row in enumerate(rows):
        for text in row:
            try:
                float(text)
            except ValueError:
                return index
    return -1


def _assert_same(table: np.ndarray, rows: list[list[str]]) -> None:
    assert table.shape == (len(rows), len(rows[0]))
    for got_row, texts in zip(table.tolist(), rows, strict=True):
        for got, text in zip(got_row, texts, strict=True):
            want = float(text)
            assert (math.isnan(got) and math.isnan(want)) or _bits(got) == _bits(want), text


@settings(max_examples=600, deadline=None)
@given(_tables, st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_every_field_is_float_of_its_text(table_rows: tuple[int, list[list[str]]],
                                          eol: str, final_eol: bool) -> None:
    ncols, rows = table_rows
    rows = [row for row in rows if ",".join(row)]  # an empty line is blank, not a row
    assume(rows)
    body = (eol.join(",".join(row) for row in rows) + (eol if final_eol else "")).encode()
    table, bad = parse_numeric_csv(body, ncols)
    expected_bad = _first_bad_row(rows)
    if expected_bad >= 0:
        assert table is None and bad == expected_bad
    else:
        assert table is not None and bad == -1
        _assert_same(table, rows)


def test_a_short_row_estimate_regrows(monkeypatch: pytest.MonkeyPatch) -> None:
    long_row = ["1577836800000", "30012.531234", "1.5e-5"]
    short_row = ["1", "2", "3"]
    # Long rows at both sampled ends, short ones between: the estimate falls short.
    rows = [long_row] * 6000 + [short_row] * 200_000 + [long_row] * 6000
    body = ("\n".join(",".join(row) for row in rows) + "\n").encode()
    assert csvnum._rows_bound(body) < len(rows)
    table, bad = parse_numeric_csv(body, 3)
    assert bad == -1 and table is not None
    _assert_same(table[::997], rows[::997])
    assert table.shape == (len(rows), 3) and table[:, 1].flags.c_contiguous
    monkeypatch.setattr(csvnum, "_rows_bound", lambda _body: 1)
    again, bad = parse_numeric_csv(body, 3)
    assert bad == -1 and again is not None
    assert np.array_equal(again.view(np.int64), table.view(np.int64))


def test_many_fields_for_python() -> None:
    rows = [["nan", str(i), "-inf", f"{i}.5e400"] for i in range(3000)]
    body = ("\r\n".join(",".join(row) for row in rows)).encode()
    table, bad = parse_numeric_csv(body, 4)
    assert bad == -1 and table is not None
    _assert_same(table, rows)


def test_blank_lines_and_a_last_line_without_newline() -> None:
    table, bad = parse_numeric_csv(b"\n\r\n1,-2.5\n\n3e2,4\r\n\r\n5,.25", 2)
    assert bad == -1 and table is not None
    assert table.tolist() == [[1.0, -2.5], [300.0, 4.0], [5.0, 0.25]]
    table, bad = parse_numeric_csv(b"", 2)
    assert bad == -1 and table is not None and table.shape == (0, 2)


def test_bad_rows_and_quotes() -> None:
    assert parse_numeric_csv(b"1,2\n3,4\n5\n", 2) == (None, 2)
    assert parse_numeric_csv(b"1,2\n3,4\r\r\n", 2) == (None, 1)
    assert parse_numeric_csv(b"1,2\n3,4,\n", 2) == (None, 1)
    assert parse_numeric_csv(b"1,2\n3,\n", 2) == (None, 1)  # an empty field
    assert parse_numeric_csv(b"1,2\n3,4\n5,6", 3) == (None, 0)
    # Quoted text anywhere: (None, -1), whatever else is wrong (the csv module's job).
    assert parse_numeric_csv(b'1,2\n3,"4"\n', 2) == (None, -1)
    assert parse_numeric_csv(b'1,2\n3\n"4,5",6\n', 2) == (None, -1)
    assert parse_numeric_csv(b'1,2\n3,x\n5,"6"', 2) == (None, -1)
