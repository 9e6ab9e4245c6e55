"""The risk state in PostgreSQL: it survives a restart on another machine (no state file),
a state change that reached only the file before a crash wins over an older row, and the
row is written by the store's own task, never in the caller's stack."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from trading_harness import LOOSE, D, Harness

from engine.risk import JsonFileRiskStateStore, PostgresRiskStateStore, RiskSnapshot, RiskState
from engine.risk.pgstore import choose, risk_state_key
from engine.store import migrate
from engine.store.pool import create_pool
from tests.replay_configs import PAPER_REPLAY

GUARDED = msgspec.structs.replace(LOOSE, max_drawdown_pct=D(3), drawdown_action="halted")


def with_pool(make_database: Callable[[], str],
              scenario: Callable[[asyncpg.Pool], Awaitable[None]]) -> None:
    dsn = make_database()

    async def main() -> None:
        await migrate(dsn)
        pool = await create_pool(dsn)
        try:
            await scenario(pool)
        finally:
            await pool.close()

    asyncio.run(main())


async def started(pool: asyncpg.Pool, account: uuid.UUID,
                  path: Path) -> tuple[PostgresRiskStateStore, Harness]:
    """What the engine does: build the store and the stack, start the store, reload."""
    store = PostgresRiskStateStore(lambda: (pool, account), JsonFileRiskStateStore(path))
    h = Harness(risk=GUARDED, store=store)
    await store.start()
    h.risk.reload()
    return store, h


async def row(pool: asyncpg.Pool, account: uuid.UUID) -> RiskSnapshot | None:
    raw = await pool.fetchval("SELECT value FROM system_config WHERE key = $1",
                              risk_state_key(account))
    if raw is None:
        return None
    return msgspec.convert(msgspec.json.decode(raw)["snapshot"], RiskSnapshot, strict=False)


def test_halt_survives_a_restart_on_another_machine(make_database: Callable[[], str],
                                                    tmp_path: Path) -> None:
    account = uuid.uuid4()

    async def scenario(pool: asyncpg.Pool) -> None:
        store, h = await started(pool, account, tmp_path / "first.json")
        writer = asyncio.create_task(store.run())
        h.trade(100.0)
        h.submit(qty="1000")
        h.trade(100.0, qty=1e6)
        h.trade(96.0, ms=2000)  # drawdown 4% >= 3%
        assert h.risk.state is RiskState.HALTED
        await store.stop()
        writer.cancel()
        saved = await row(pool, account)
        assert saved is not None and saved.state is RiskState.HALTED
        assert store.writes >= 1 and store.status()["waiting"] is False
        # a new process on a new machine: no state file, the database has the state
        store2, h2 = await started(pool, account, tmp_path / "second.json")
        assert store2.source == "database"
        assert h2.risk.state is RiskState.HALTED
        assert h2.risk.snapshot.source == "guard:drawdown"
        assert JsonFileRiskStateStore(tmp_path / "second.json").load() == h2.risk.snapshot
        h2.trade(96.0)
        assert h2.submit(qty=1).status.value == "rejected"

    with_pool(make_database, scenario)


def test_a_change_only_in_the_file_wins_over_an_older_row(make_database: Callable[[], str],
                                                          tmp_path: Path) -> None:
    account = uuid.uuid4()
    path = tmp_path / "risk.json"

    async def scenario(pool: asyncpg.Pool) -> None:
        store, h = await started(pool, account, path)  # writes the first row (ACTIVE)
        assert (await row(pool, account)) is not None
        h.risk.set_kill_switch(True, "alice", "incident")  # file now; the row waits for run()
        assert store.status()["waiting"] is True
        assert (await row(pool, account)).state is RiskState.ACTIVE  # type: ignore[union-attr]
        # crash: the writer never ran. The next process finds the change in the file.
        store2, h2 = await started(pool, account, path)
        assert store2.source == "file"
        assert h2.risk.state is RiskState.HALTED and h2.risk.snapshot.kill_switch
        assert (await row(pool, account)).state is RiskState.HALTED  # type: ignore[union-attr]

    with_pool(make_database, scenario)


def test_without_a_database_the_file_is_the_record(tmp_path: Path) -> None:
    path = tmp_path / "risk.json"

    async def scenario() -> None:
        store = PostgresRiskStateStore(lambda: (None, None), JsonFileRiskStateStore(path))
        h = Harness(risk=GUARDED, store=store)
        await store.start()
        assert store.run() is None
        h.risk.set_kill_switch(True, "ops", "test")
        assert JsonFileRiskStateStore(path).load() == h.risk.snapshot

    asyncio.run(scenario())


def test_choose_prefers_a_later_state_change_and_keeps_the_higher_mark() -> None:
    base = RiskSnapshot(version=3, high_water_mark=D(100), day="2026-01-01",
                        day_start_equity=D(90))
    later = msgspec.structs.replace(base, version=4, state=RiskState.HALTED)
    assert choose(base, later) == later and choose(later, base) == later
    assert choose(None, base) == base and choose(base, None) == base
    file = msgspec.structs.replace(base, high_water_mark=D(120), day="2026-01-02",
                                   day_start_equity=D(110))
    merged = choose(base, file)
    assert merged is not None
    assert (merged.high_water_mark, merged.day, merged.day_start_equity) == (
        D(120), "2026-01-02", D(110))


ENGINE_CONFIG = PAPER_REPLAY


def test_a_running_engine_keeps_its_risk_state_in_the_database(
        make_database: Callable[[], str], tmp_path: Path,
        paper_engine: Callable[[str, str], Any]) -> None:
    """On a database of its own: the halted state it leaves behind would halt any later
    engine of the same account on that database (which is the point)."""
    database_url = make_database()
    asyncio.run(_engine_scenario(paper_engine(ENGINE_CONFIG, database_url), database_url,
                                 tmp_path))


async def _engine_scenario(engine: Any, database_url: str, tmp_path: Path) -> None:
    task = asyncio.create_task(engine.run())
    try:
        for _ in range(300):
            await asyncio.sleep(0.1)
            if task.done() or engine.status().get("risk-state", {}).get("writes"):
                break
        assert not task.done(), task.result()
        assert engine.status()["risk-state"]["source"] in ("file", "none", "database")
        account_id = engine.database.account_id
        assert account_id is not None
        engine.trading.risk.set_kill_switch(True, "test", "check the row")
    finally:
        engine.request_stop()
        assert await asyncio.wait_for(task, 60) == 0
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "tradeengine"})
    try:
        raw = await conn.fetchval("SELECT value FROM system_config WHERE key = $1",
                                  risk_state_key(account_id))
    finally:
        await conn.close()
    snapshot = msgspec.convert(msgspec.json.decode(raw)["snapshot"], RiskSnapshot, strict=False)
    assert snapshot.state is RiskState.HALTED and snapshot.kill_switch
    assert (tmp_path / "state" / "risk_state.json").exists()  # its local copy
