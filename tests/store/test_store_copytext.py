"""COPY text encoding: column by column, exactly what PostgreSQL reads back."""

from __future__ import annotations

import io
import math
import random
import struct
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from engine.store.copytext import TextCache, encode_rows, encode_value
from engine.store.pool import connect

U = uuid.UUID(int=7)
TS = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def _lines(data: bytes) -> list[list[str]]:
    return [line.split("\t") for line in data.decode().split("\n")[:-1]]


def test_columns_of_one_type_and_of_mixed_types_encode_like_single_values() -> None:
    rows = [
        ("a\tb\\c\nd", Decimal("1E+2"), 3, True, U, TS, date(2026, 1, 2), None, [1, None]),
        ("plain", Decimal("0.00001"), None, False, None, TS, None, "x", ["q\"t"]),
        ("plain", None, 5, None, U, None, date(2026, 1, 3), 1.5, []),
    ]
    got = _lines(encode_rows(rows))
    assert got == [[encode_value(v) for v in row] for row in rows]
    assert got[0][0] == "a\\tb\\\\c\\nd" and got[0][2] == "3" and got[0][3] == "t"
    assert got[1][2] == "\\N" and got[2][1] == "\\N"


def test_floats_keep_their_shortest_repr() -> None:
    got = _lines(encode_rows([(0.1, 1e-7), (40000.452551189286, None), (math.nan, math.inf),
                              (-math.inf, 1e22)]))
    assert got == [["0.1", "1e-7"], ["40000.452551189286", "\\N"], ["NaN", "Infinity"],
                   ["-Infinity", "1e+22"]]
    assert _lines(encode_rows([(-0.5, None)])) == [["-0.5", "\\N"]]  # a one-row column


def test_float_text_is_the_number_repr_writes() -> None:
    rnd = random.Random(7)
    values = [struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
              for _ in range(3000)] + [rnd.uniform(1e-7, 1e-3) for _ in range(1000)]
    values = [v for v in values if math.isfinite(v)]
    got = [line[0] for line in _lines(encode_rows([(v,) for v in values]))]
    assert [Decimal(s) for s in got] == [Decimal(repr(v)) for v in values]


def test_a_column_of_unique_text_with_nulls() -> None:
    # Unique text (trade ids, venue order ids) skips the memo; NULLs must still be NULL.
    values = [f"id-{i}" for i in range(40)]
    values[3] = values[30] = None  # type: ignore[call-overload]
    got = _lines(encode_rows([(v,) for v in values]))
    assert got == [[encode_value(v)] for v in values]
    assert got[3] == ["\\N"] and got[30] == ["\\N"]
    times = [TS.replace(microsecond=i) for i in range(40)]  # unique times skip the memo too
    times[20] = None  # type: ignore[call-overload]
    assert _lines(encode_rows([(v,) for v in times])) == [[encode_value(v)] for v in times]


def test_the_cache_is_shared_across_calls_and_stays_bounded() -> None:
    cache = TextCache(limit=10)
    for i in range(50):  # (text that needs no escaping skips the memo)
        out = _lines(encode_rows([(f"s\\{i % 3}", uuid.UUID(int=i))], cache))
        assert out == [[f"s\\\\{i % 3}", str(uuid.UUID(int=i))]]
    assert len(cache.memo(str)) == 3 and len(cache.memo(uuid.UUID)) <= 10
    unique = [(f"t\t{i}",) for i in range(100)]  # unique text skips the memo
    assert _lines(encode_rows(unique, cache)) == [[f"t\\t{i}"] for i in range(100)]
    assert len(cache.memo(str)) == 3
    assert encode_rows([]) == b""


async def test_postgresql_reads_back_what_was_encoded(store_dsn: str) -> None:
    rows = [("x\ty", Decimal("42000.12345678"), 0.1, TS, None, U),
            ("z", Decimal("-0.5"), 1e-7, TS, 7, None)]
    floats = [9.519581719615124e-05, 1e16, 123.0, 40000.452551189286, 5e-324]
    conn = await connect(store_dsn)
    try:
        await conn.execute("CREATE TEMP TABLE t (s text, d numeric, f numeric, ts timestamptz,"
                           " i integer, u uuid)")
        await conn.copy_to_table("t", source=io.BytesIO(encode_rows(rows)), format="text")
        back = [tuple(r) for r in await conn.fetch("SELECT * FROM t ORDER BY s")]
        # the numeric PostgreSQL reads (value and scale) is the one repr's text gives
        await conn.execute("CREATE TEMP TABLE f (x numeric, r text)")
        await conn.copy_to_table("f", source=io.BytesIO(encode_rows(
            [(v, repr(v)) for v in floats])), format="text")
        same = await conn.fetchval("SELECT bool_and(x::text = r::numeric::text) FROM f")
    finally:
        await conn.close()
    assert back == [("x\ty", Decimal("42000.12345678"), Decimal("0.1"), TS, None, U),
                    ("z", Decimal("-0.5"), Decimal("1E-7"), TS, 7, None)]
    assert same is True
