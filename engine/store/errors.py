"""The store's exceptions: one small hierarchy under :class:`StoreError`."""

from __future__ import annotations

__all__ = [
    "JournalCorruptError",
    "JournalError",
    "MigrationError",
    "StoreError",
    "WriterClosedError",
]


class StoreError(Exception):
    """Base of every error raised by ``engine.store``."""


class MigrationError(StoreError):
    """Migrations cannot be applied: a changed or missing file, or a failing statement."""


class JournalError(StoreError):
    """The disk journal cannot be opened, written or read."""


class JournalCorruptError(JournalError):
    """The journal holds a torn or corrupted frame.

    ``offset`` is where the bad frame starts; ``good_records`` counts the records before it,
    which are intact; ``bad_bytes`` is the size of the unreadable tail.
    """

    def __init__(self, message: str, *, offset: int, good_records: int, bad_bytes: int) -> None:
        super().__init__(message)
        self.offset = offset
        self.good_records = good_records
        self.bad_bytes = bad_bytes


class WriterClosedError(StoreError):
    """The writer was used after :meth:`~engine.store.writer.StoreWriter.close`."""
