"""PostgreSQL system of record: pool, migrations, the batched journaled writer, start-up
queries. Nothing outside this package writes SQL.

Typical wiring::

    from engine.store import create_pool, migrate, StoreWriter, queries

    await migrate(dsn, schema="tradeengine")
    pool = await create_pool(dsn, schema="tradeengine")
    account_id = await queries.ensure_account(pool, name=..., venue=..., mode="paper")
    writer = StoreWriter(pool, journal_dir=state_dir / "journal", account_id=account_id)
    task_group.create_task(writer.run())
    task_group.create_task(PartitionKeeper(pool).run())  # price_data months ahead
    bus.subscribe(..., writer.submit)
    ...
    await writer.close(timeout=10.0)
"""

from engine.store import queries, records
from engine.store.errors import (
    JournalCorruptError,
    JournalError,
    MigrationError,
    StoreError,
    WriterClosedError,
)
from engine.store.journal import Journal, scan_file
from engine.store.migrate import MigrationState, migrate, migration_status
from engine.store.partitions import PartitionKeeper
from engine.store.pool import DEFAULT_SCHEMA, connect, create_pool
from engine.store.writer import StoreWriter, WriterStatus

__all__ = [
    "DEFAULT_SCHEMA",
    "Journal",
    "JournalCorruptError",
    "JournalError",
    "MigrationError",
    "MigrationState",
    "PartitionKeeper",
    "StoreError",
    "StoreWriter",
    "WriterClosedError",
    "WriterStatus",
    "connect",
    "create_pool",
    "migrate",
    "migration_status",
    "queries",
    "records",
    "scan_file",
]
