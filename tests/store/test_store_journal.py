"""The disk journal: frames survive a restart; a torn or corrupted tail is reported,
quarantined and never replayed; one process per journal."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
import store_factories as f

from engine.store import JournalError, StoreWriter, scan_file
from engine.store.journal import FILE_NAME, Batch, Journal, decode_batch, encode_batch
from engine.store.rows import RowMaker
from engine.store.tables import SPECS


def _batch(maker: RowMaker, first: int, n: int) -> Batch:
    o = f.order(first)
    rows = [maker.rows(f.fill(o, k))[0][1] for k in range(first * 100, first * 100 + n)]
    return {"orders": (SPECS["orders"].columns, [maker.order_row(o, o.created_ns)]),
            "trades": (SPECS["trades"].columns, rows)}


def _write_journal(directory: Path, account: uuid.UUID, frames: int) -> list[int]:
    maker = RowMaker(account)
    j = Journal(directory)
    j.open()
    offsets = []
    for i in range(frames):
        j.append(_batch(maker, i, 10))
        offsets.append(j.size)
    j.close()
    return offsets


def test_frames_round_trip_and_rows_are_preserved(tmp_path: Path) -> None:
    batch = _batch(RowMaker(uuid.uuid4()), 1, 5)
    payload, count = encode_batch(batch)
    assert count == 6 and decode_batch(payload) == batch
    offsets = _write_journal(tmp_path, uuid.uuid4(), 3)
    assert scan_file(tmp_path / FILE_NAME) == (3, 33, offsets[-1], offsets[-1])
    j = Journal(tmp_path)
    result = j.open()
    assert result.records == 33 and result.corrupt is None
    seen = 0
    while (nxt := j.read_next()) is not None:
        _, n, end = nxt
        j.mark_drained(end, n)
        seen += n
    assert seen == 33 and j.records == 0
    j.close()


def test_a_second_process_cannot_open_the_same_journal(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    first.open()
    try:
        with pytest.raises(JournalError, match="locked"):
            Journal(tmp_path).open()
    finally:
        first.close()


@pytest.mark.parametrize("damage", ["torn", "flipped"])
async def test_a_damaged_tail_is_reported_and_not_replayed(
        store_dsn: str, tmp_path: Path, damage: str) -> None:
    account = await f.make_account(store_dsn)
    directory = tmp_path / "journal"
    offsets = _write_journal(directory, account, 3)
    path = directory / FILE_NAME
    if damage == "torn":  # the process died in the middle of writing the last frame
        os.truncate(path, offsets[-1] - 7)
    else:  # a bit flipped on disk inside the last frame's payload
        data = bytearray(path.read_bytes())
        data[offsets[-1] - 20] ^= 0x01
        path.write_bytes(bytes(data))
    writer = StoreWriter(store_dsn, journal_dir=directory, account_id=account,
                         flush_interval_s=0.02)
    task = asyncio.create_task(writer.run())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if writer.status().journal_records == 0 and writer.status().last_error:
            break
    status = writer.status()
    await writer.close()
    await task
    assert status.journal_corrupt_bytes > 0
    assert status.last_error is not None and ("torn" in status.last_error if damage == "torn"
                                              else "corrupt" in status.last_error)
    quarantined = list(directory.glob(f"{FILE_NAME}.corrupt-*"))
    assert len(quarantined) == 1 and quarantined[0].stat().st_size > 0
    # the two good frames were replayed, the damaged one was not
    assert await f.count(store_dsn, "SELECT count(*) FROM trades") == 20
    assert await f.count(store_dsn, "SELECT count(*) FROM orders") == 2
    assert scan_file(path)[0] == 0  # drained and truncated


def test_a_backlog_of_small_frames_is_read_back_merged_in_order(tmp_path: Path) -> None:
    maker = RowMaker(uuid.uuid4())
    j = Journal(tmp_path)
    j.open()
    batches = [_batch(maker, i, 10) for i in range(5)]
    for b in batches:
        j.append(b)
    j.append({"trades": (SPECS["trades"].columns[:-1], [])})  # other columns: not merged
    merged, count, end = j.read_merged(max_rows=25)  # type: ignore[misc]
    assert count == 22  # two frames of 11 rows; a third would pass 25
    assert merged["trades"][1] == batches[0]["trades"][1] + batches[1]["trades"][1]
    j.mark_drained(end, count)
    merged, count, end = j.read_merged(max_rows=1000)  # type: ignore[misc]
    assert count == 33 and len(merged["orders"][1]) == 3
    j.mark_drained(end, count)
    last = j.read_merged(max_rows=1000)
    assert last is not None and last[1] == 0 and last[2] == j.size
    j.close()
