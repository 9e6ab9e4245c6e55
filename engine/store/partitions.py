"""price_data partitions made ahead of time, on a timer.

price_data is range-partitioned by month (migration 0003). A bar whose month has no
partition cannot be stored, so the partitions must exist before the bars arrive: the
writer creates the months of every batch it writes, migrate creates the next months, and
:class:`PartitionKeeper` - a long-lived task in the engine's TaskGroup - creates the
current month and the next ``months_ahead`` ones at start and then every ``interval_s``,
so a long-running engine never depends on the writer's just-in-time path.

With TimescaleDB (price_data a hypertable) ``ensure_price_partitions`` is a no-op: the
extension makes its chunks itself. That branch is guarded in SQL but not exercised by the
tests here (no TimescaleDB on the test machines).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

__all__ = ["PartitionKeeper", "month_start", "months_later"]

_log = logging.getLogger(__name__)


def month_start(at: datetime) -> datetime:
    """The first instant (UTC) of ``at``'s month."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def months_later(start: datetime, months: int) -> datetime:
    """The first instant of the month ``months`` after ``start``'s month."""
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


class PartitionKeeper:
    """Keeps price_data's monthly partitions ahead of the clock (see the module doc).

    ``clock`` returns epoch seconds and ``sleep`` waits (both injectable for tests). A
    failed attempt (database down) is logged and retried after ``retry_s`` (with jitter),
    never raised: the writer's own path still covers the months it writes.
    """

    def __init__(self, pool: asyncpg.Pool, *, months_ahead: int = 3,
                 interval_s: float = 3600.0, retry_s: float = 30.0, timeout_s: float = 30.0,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if months_ahead < 1 or interval_s <= 0 or retry_s <= 0:
            raise ValueError("need months_ahead >= 1, interval_s > 0, retry_s > 0")
        self._pool = pool
        self._ahead = months_ahead
        self._interval = interval_s
        self._retry = retry_s
        self._timeout = timeout_s
        self._clock = clock
        self._sleep = sleep
        self.created = 0
        """Partitions created by this keeper so far."""
        self.last_error: str | None = None

    async def ensure(self) -> int:
        """Create the missing partitions from this month to ``months_ahead`` months on;
        returns how many were created."""
        first = month_start(datetime.fromtimestamp(self._clock(), UTC))
        upto = months_later(first, self._ahead + 1)
        async with self._pool.acquire(timeout=self._timeout) as conn:
            made: int = await conn.fetchval("SELECT ensure_price_partitions($1, $2)", first,
                                            upto, timeout=self._timeout)
        self.created += made
        if made:
            _log.info("created %d price_data partition(s) up to %s", made, upto.date())
        return made

    async def run(self) -> None:
        """Forever: :meth:`ensure`, then wait ``interval_s`` (``retry_s`` after a failure)."""
        while True:
            try:
                await self.ensure()
            except (OSError, TimeoutError, asyncpg.PostgresError,
                    asyncpg.InterfaceError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                _log.warning("could not create price_data partitions ahead: %s",
                             self.last_error)
                await self._sleep(self._retry * random.uniform(0.5, 1.0))
                continue
            self.last_error = None
            await self._sleep(self._interval)
