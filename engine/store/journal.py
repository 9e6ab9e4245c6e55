"""The writer's disk journal: where records go while PostgreSQL cannot take them.

One append-only file, ``<journal_dir>/writer.journal``, of frames::

    magic "TEJ1" | u32 payload length | u32 row count | u32 CRC-32 of (length, count,
    payload) | payload

A payload is one batch: ``pickle((1, {table: (columns, rows)}))`` whose rows hold only
builtin and standard-library values (str, int, float, bool, None, Decimal, UUID, datetime,
date, list). Columns travel with the rows, so a journal written before a migration added a
column still replays.

- Frames are written with ``os.write`` on the event loop (page cache, microseconds) and
  made durable by :meth:`Journal.sync`, which runs ``fsync`` in a worker thread.
- :meth:`Journal.open` scans every frame. A torn (short) or corrupted (bad magic or CRC)
  frame ends the valid part: the bytes from it to the end are moved to
  ``writer.journal.corrupt-<ns>`` for inspection, the journal is cut back to its last good
  frame, and the scan reports it (:class:`ScanResult.corrupt`). Bad bytes are never
  replayed.
- The file is locked (``flock``) so two processes cannot share a journal.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pickle
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.store.errors import JournalCorruptError, JournalError

__all__ = ["Batch", "Journal", "ScanResult", "decode_batch", "encode_batch", "scan_file"]

Batch = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]
"""Rows of one batch: table name -> (column names, rows)."""

MAGIC = b"TEJ1"
_HEADER = struct.Struct("<4sIII")
_FORMAT = 1
FILE_NAME = "writer.journal"


def encode_batch(batch: Batch) -> tuple[bytes, int]:
    """Serialise a batch; returns the payload and its row count."""
    count = sum(len(rows) for _, rows in batch.values())
    return pickle.dumps((_FORMAT, batch), protocol=pickle.HIGHEST_PROTOCOL), count


def decode_batch(payload: bytes) -> Batch:
    """Inverse of :func:`encode_batch`."""
    fmt, batch = pickle.loads(payload)  # our own checksummed local file
    if fmt != _FORMAT:
        raise JournalError(f"unknown journal payload format {fmt}")
    return batch  # type: ignore[no-any-return]


def _frame(payload: bytes, count: int) -> bytes:
    head = struct.pack("<II", len(payload), count)
    crc = zlib.crc32(payload, zlib.crc32(head))
    return _HEADER.pack(MAGIC, len(payload), count, crc) + payload


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What :meth:`Journal.open` found."""

    frames: int
    records: int
    good_bytes: int
    corrupt: JournalCorruptError | None = None
    quarantine: Path | None = None


def _valid(head: bytes, payload: bytes) -> bool:
    magic, length, count, crc = _HEADER.unpack(head)
    if magic != MAGIC or len(payload) != length:
        return False
    return bool(zlib.crc32(payload, zlib.crc32(struct.pack("<II", length, count))) == crc)


def _scan_fd(fd: int) -> tuple[int, int, int, int]:
    """Stream through the frames: (frames, records, end of the last good frame, size)."""
    size = os.fstat(fd).st_size
    frames = records = off = 0
    while off < size:
        head = os.pread(fd, _HEADER.size, off)
        if len(head) < _HEADER.size:
            break
        length, count = _HEADER.unpack(head)[1:3]
        if off + _HEADER.size + length > size or not _valid(
                head, os.pread(fd, length, off + _HEADER.size)):
            break
        frames, records, off = frames + 1, records + count, off + _HEADER.size + length
    return frames, records, off, size


def scan_file(path: Path) -> tuple[int, int, int, int]:
    """Scan a journal file: (frames, records, good_bytes, total_bytes)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0, 0, 0, 0
    try:
        return _scan_fd(fd)
    finally:
        os.close(fd)


class Journal:
    """An append-only, checksummed, fsync'd journal file. Not thread-safe: call the
    synchronous methods from the event loop thread only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self._fd = -1
        self.records = 0
        """Rows in the journal not yet drained and truncated."""
        self.size = 0
        self._dirty = False
        self._read_off = 0
        self._held: tuple[int, tuple[Batch, int, int]] | None = None

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._fd >= 0

    @property
    def pending(self) -> bool:
        """True while frames wait to be drained."""
        return self._read_off < self.size

    def open(self) -> ScanResult:
        """Open (creating) and lock the file, scan it, cut off a bad tail. Blocking: run
        it in a worker thread."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalError(f"{self.path} is locked by another process") from None
        # open() runs in a worker thread while the loop may be appending: the descriptor
        # is published (is_open) only at the very end, once size and records are known;
        # publishing it earlier let appends land before the scan reset ``size`` (lost rows).
        frames, records, good, size = _scan_fd(fd)
        corrupt = quarantine = None
        if good < size:
            bad = size - good
            tail = os.pread(fd, bad, good)
            torn = bad < _HEADER.size or (
                tail[:4] == MAGIC and _HEADER.size + _HEADER.unpack_from(tail)[1] > bad)
            kind = "torn" if torn else "corrupt"  # torn: cut short; corrupt: bad checksum
            corrupt = JournalCorruptError(
                f"journal {self.path}: {kind} frame at offset {good} ({bad} bytes after "
                f"{records} good records); the tail was not replayed",
                offset=good, good_records=records, bad_bytes=bad)
            quarantine = self.path.with_name(f"{FILE_NAME}.corrupt-{time.time_ns()}")
            quarantine.write_bytes(tail)
            os.ftruncate(fd, good)
            os.fsync(fd)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.records, self.size, self._read_off, self._held = records, good, 0, None
        self._fd = fd
        return ScanResult(frames, records, good, corrupt, quarantine)

    def append(self, batch: Batch) -> int:
        """Append one batch as a frame (not yet durable: see :meth:`sync`)."""
        self._check_open()
        payload, count = encode_batch(batch)
        frame = _frame(payload, count)
        try:
            written = os.pwrite(self._fd, frame, self.size)
        except OSError as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc}") from exc
        if written != len(frame):
            raise JournalError(f"short write to journal {self.path} ({written}/{len(frame)})")
        self.size += len(frame)
        self.records += count
        self._dirty = True
        return count

    async def sync(self) -> None:
        """Make everything appended so far durable (fsync in a worker thread)."""
        if not self._dirty or self._fd < 0:
            return
        self._dirty = False
        try:
            await asyncio.to_thread(os.fsync, self._fd)
        except OSError as exc:
            self._dirty = True
            raise JournalError(f"cannot fsync journal {self.path}: {exc}") from exc

    def fsync_now(self) -> None:
        """fsync on the calling thread (shutdown paths, where no worker thread can wait)."""
        if self._fd >= 0:
            os.fsync(self._fd)
            self._dirty = False

    def read_next(self) -> tuple[Batch, int, int] | None:
        """The next undrained frame as (batch, row count, offset after it), or None."""
        self._check_open()
        if self._read_off >= self.size:
            return None
        head = os.pread(self._fd, _HEADER.size, self._read_off)
        if len(head) < _HEADER.size:
            raise self._corrupt_at(self._read_off)
        length, count = _HEADER.unpack(head)[1:3]
        payload = os.pread(self._fd, length, self._read_off + _HEADER.size)
        if not _valid(head, payload):
            raise self._corrupt_at(self._read_off)
        return decode_batch(payload), count, self._read_off + _HEADER.size + length

    def read_merged(self, max_rows: int) -> tuple[Batch, int, int] | None:
        """Like :meth:`read_next`, but consecutive frames are merged into one batch while
        the rows stay under ``max_rows`` (at least one frame) and each table's columns
        agree, so a backlog of small frames drains in few transactions."""
        held, self._held = self._held, None
        first = held[1] if held is not None and held[0] == self._read_off else self.read_next()
        if first is None:
            return None
        batch, count, end = first
        merged = {table: (cols, list(rows)) for table, (cols, rows) in batch.items()}
        while end < self.size:
            nxt = self._peek(end)
            if nxt is None:
                break
            if count + nxt[1] > max_rows:
                self._held = (end, nxt)  # the next call starts with it: no second decode
                break
            more, more_count, more_end = nxt
            if any(t in merged and merged[t][0] != cols for t, (cols, _) in more.items()):
                self._held = (end, nxt)
                break
            for table, (cols, rows) in more.items():
                if table in merged:
                    merged[table][1].extend(rows)
                else:
                    merged[table] = (cols, list(rows))
            count, end = count + more_count, more_end
        return merged, count, end

    def _peek(self, offset: int) -> tuple[Batch, int, int] | None:
        saved, self._read_off = self._read_off, offset
        try:
            return self.read_next()
        finally:
            self._read_off = saved

    def mark_drained(self, offset: int, count: int) -> None:
        """Record that frames up to ``offset`` are in the database."""
        self._read_off = offset
        self.records -= count

    async def truncate(self) -> None:
        """Empty the journal once everything is drained (durably)."""
        self._check_open()
        os.ftruncate(self._fd, 0)
        self.size = self._read_off = self.records = 0
        self._held = None
        self._dirty = True
        await self.sync()

    def close(self) -> None:
        """Release the lock and close the file."""
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = -1

    def _corrupt_at(self, offset: int) -> JournalCorruptError:
        return JournalCorruptError(f"journal {self.path}: bad frame at offset {offset}",
                                   offset=offset, good_records=0, bad_bytes=self.size - offset)

    def _check_open(self) -> None:
        if self._fd < 0:
            raise JournalError("journal is not open")
