"""A strategy's state between runs: the JSON form ``on_save``/``on_load`` share, the host
giving it back before ``on_start`` (or halting a strategy that cannot take it), and, on a
real PostgreSQL, a restarted engine resuming its grid where the previous run left it."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.app import build_app
from engine.config import load_config
from engine.model import Alert
from engine.plugins import instantiate
from engine.runner import load_factory
from engine.strategy_state import decode_state, encode_state
from strategies.grid import Grid
from tests.orders.trading_harness import BTC, Harness
from tests.replay_configs import PAPER_REPLAY
from tests.strategy.stack_host import S1, host_on, strategy_table


def test_the_json_form_of_a_state() -> None:
    text = encode_state({"qty": Decimal("0.10"), "pair": (1, -1), "rsi": math.nan,
                         "levels": {"-1": "99.00"}, "long": True, "n": 3})
    assert decode_state(text) == {"qty": "0.10", "pair": [1, -1], "rsi": None,
                                  "levels": {"-1": "99.00"}, "long": True, "n": 3}


@pytest.mark.parametrize(("state", "message"), [
    ([1, 2], "on_save must return a dict, got list"),
    ({"ids": {1, 2}}, "on_save returned what JSON cannot hold: Type is not JSON serializable: set"),
    ({1: "a"}, "on_save returned what JSON cannot hold: Dict key must be str"),
])
def test_what_json_cannot_hold_is_named(state: Any, message: str) -> None:
    with pytest.raises(TypeError, match=f"^{message}"):
        encode_state(state)


@pytest.mark.parametrize("table", [
    {"class": "rsi_momentum"}, {"class": "bollinger_reversion"}, {"class": "dca"},
    {"class": "pairs", "symbols": ["BTC/USD", "ETH/USD"]},
])
def test_each_builtin_state_survives_its_json_form(table: dict[str, Any]) -> None:
    table = strategy_table(table)
    first = instantiate(0, table).strategy
    for name, value in {"long": True, "prev_rsi": 61.5, "bars_seen": 17, "state": -1}.items():
        if hasattr(first, name):
            setattr(first, name, value)
    if hasattr(first, "spreads"):
        first.spreads.extend([0.01, -0.02, 0.005])
    second = instantiate(0, table).strategy
    second.on_load(decode_state(encode_state(first.on_save())))
    assert encode_state(second.on_save()) == encode_state(first.on_save())
    assert second.on_save() != instantiate(0, table).strategy.on_save()  # not blank


GRID = {"class": "grid", "levels": 2, "step_pct": "1", "qty": "1", "max_position": "2",
        "center": "100", "tick": "0.01"}


def a_grid_with_a_fill() -> Harness:
    h = Harness()
    h.bar(100, 100.5, 99.5, 100)
    h.host = host_on(h, GRID)  # type: ignore[attr-defined]
    h.bar(100, 100.5, 99.5, 100)
    h.bar(99.5, 99.5, 98.9, 99)  # the buy at 99 fills; a sell at 100 answers it
    return h


def test_the_host_gives_a_saved_state_back_before_start() -> None:
    saved = a_grid_with_a_fill().host.saved_states()  # type: ignore[attr-defined]
    assert list(saved) == [S1] and saved[S1][0] == "grid"
    later = host_on(Harness(), GRID, start=False)
    assert later.load_states(saved) == [S1]
    assert later.saved_states() == saved
    assert not later.is_halted(S1)


def test_a_state_saved_by_another_class_is_not_given() -> None:
    saved = a_grid_with_a_fill().host.saved_states()  # type: ignore[attr-defined]
    later = host_on(Harness(), {**GRID, "class": f"{__name__}:OtherGrid"}, start=False)
    assert later.load_states(saved) == []
    assert not later.is_halted(S1)
    assert decode_state(later.saved_states()[S1][1])["working"] == {}  # blank


class OtherGrid(Grid):
    """A grid under another class path."""


class StateLost(Grid):
    """Cannot take its saved state."""

    def on_load(self, state: dict[str, Any]) -> None:
        raise KeyError("levels")


class Unsaveable(Grid):
    """Saves what JSON cannot hold."""

    def on_save(self) -> dict[str, Any]:
        return {"ids": {1, 2}}


def test_a_strategy_that_cannot_take_its_state_is_halted_not_started_blank() -> None:
    h = Harness()
    spec = f"{__name__}:StateLost"
    host = host_on(h, {**GRID, "class": spec}, start=False)
    assert host.load_states({S1: (spec, encode_state({"prices": {"1": "101"}}))}) == []
    assert host.is_halted(S1)
    alert = h.rec.alerts("strategy halted")[0]
    assert "on_load raised KeyError" in alert.message


def test_a_state_json_cannot_hold_halts_the_strategy_at_its_first_save() -> None:
    h = Harness()
    host = host_on(h, {**GRID, "class": f"{__name__}:Unsaveable"})
    assert host.saved_states() == {}
    assert host.is_halted(S1)
    assert "on_save raised TypeError: on_save returned what JSON cannot hold" in h.rec.alerts(
        "strategy halted")[0].message


GRID_ENGINE = PAPER_REPLAY + """
[[strategies]]
name = "grid"
class = "grid"
symbol = "BTC/USD"
levels = 3
step_pct = "0.1"
qty = "0.01"
max_position = "0.03"
"""


@pytest.mark.parametrize("on_shutdown", ["keep_orders", "cancel_orders"])
def test_a_restarted_engine_resumes_its_grid_where_it_was(
        make_database: Callable[[], str], tmp_path: Path, on_shutdown: str) -> None:
    asyncio.run(_restart(make_database(), tmp_path, on_shutdown))


async def _restart(dsn: str, tmp_path: Path, on_shutdown: str) -> None:
    path = tmp_path / "paper.toml"
    path.write_text(f'[engine]\non_shutdown = "{on_shutdown}"\n' + GRID_ENGINE)
    config = load_config(path, env={"TRADEENGINE_DATABASE__DSN": dsn,
                                    "TRADEENGINE_ENGINE__STATE_DIR": str(tmp_path / "state")})
    first = build_app(config, config_path=path, market_data_gateway=load_factory("market_data"),
                      execution=load_factory("execution"))
    task = asyncio.create_task(first.run())
    await first.wait_ready()
    for _ in range(600):
        if first.trading.oms.counts["fills"] >= 3 or task.done():
            break
        await asyncio.sleep(0.05)
    first.request_stop()
    assert await asyncio.wait_for(task, 60) == 0
    left = decode_state(first.strategies.saved_states()["grid"][1])
    assert left["working"] and first.trading.oms.counts["fills"] >= 3
    fills = first.trading.oms.counts["fills"]
    mine = [st for sid, _, st in first.trading.portfolio.strategy_positions() if sid == "grid"]
    result = sum((st.realized - st.fees for st in mine), Decimal(0))
    wins, closed = sum(st.wins for st in mine), sum(st.wins + st.losses for st in mine)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "tradeengine"})
    try:
        row = await conn.fetchrow("SELECT class, state::text AS state FROM strategy_state")
        run = await conn.fetchrow("SELECT * FROM strategy_runs")
        strategy = await conn.fetchrow("SELECT * FROM strategies")
        dashboard = await conn.fetchrow("SELECT * FROM v_strategy_performance")
        unknown = await conn.fetchval("SELECT count(*) FROM trades WHERE realized_pnl IS NULL")
    finally:
        await conn.close()
    assert row["class"] == "grid" and decode_state(row["state"]) == left
    # the deployment, and the strategy as the dashboards see it
    assert (run["strategy_id"], run["status"], run["stop_reason"]) == (
        "grid", "stopped", "engine shutdown")
    assert run["code_version"] and decode_state(run["config"])["step_pct"] == "0.1"
    assert run["started_at"] < run["stopped_at"]
    assert (strategy["name"], strategy["strategy_type"], strategy["active"]) == (
        "grid", "grid_trading", False)
    assert strategy["num_trades"] == fills == dashboard["fills"]
    assert strategy["total_pnl"] == result != 0  # realized, net of fees
    assert closed and strategy["win_rate"] == wins / closed  # of the fills that closed
    # each fill's realized PnL is in the ledger (the only strategy: the account's figures)
    assert dashboard["realized_pnl"] - dashboard["fees"] == result
    assert dashboard["realized_pnl"] == first.trading.portfolio.realized and unknown == 0
    assert dashboard["strategy_type"] == "grid_trading"

    # The second run restores positions and working orders from the ledgers and the grid
    # from its saved state, before any bar: no market data this time.
    alerts: list[Alert] = []
    second = build_app(config, config_path=path, market_data_gateway=None,
                       execution=load_factory("execution"))
    second.bus.subscribe(Alert, alerts.append)
    task = asyncio.create_task(second.run())
    await second.wait_ready()
    try:
        assert second.status()["strategies"]["state_restored"] == ["grid"]
        resumed = decode_state(second.strategies.saved_states()["grid"][1])
        working = {str(o.id) for o in second.trading.oms.open_orders()}
    finally:
        second.request_stop()
        assert await asyncio.wait_for(task, 60) == 0
    assert (resumed["prices"], resumed["filled"]) == (left["prices"], left["filled"])
    if on_shutdown == "keep_orders":
        assert resumed == left
        assert working == set(resumed["working"])  # the grid knows every working order
    else:  # cancelled at shutdown: each level is wanted again, to be placed at the next bar
        assert not working and not resumed["working"]
        assert sorted(resumed["wanted"]) == sorted(left["wanted"] + list(left["working"].values()))
    assert not [a for a in alerts if a.category == "strategy"]
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "tradeengine"})
    try:
        statuses = [r["status"] for r in await conn.fetch(
            "SELECT status FROM strategy_runs ORDER BY started_at")]
        again = await conn.fetchrow("SELECT num_trades, total_pnl, win_rate FROM strategies")
    finally:
        await conn.close()
    assert statuses == ["stopped", "stopped"]  # a run per start
    assert (again["num_trades"], again["total_pnl"], again["win_rate"]) == (
        fills, strategy["total_pnl"], strategy["win_rate"])


@pytest.mark.parametrize(("table", "attribute", "expected"), [
    ({"class": "rsi_momentum"}, "long", True),
    ({"class": "bollinger_reversion"}, "long", True),
    ({"class": "pairs", "symbols": [BTC, "ETH/USDT"]}, "state", 1),
])
def test_a_position_held_at_a_start_without_saved_state_means_in(
        table: dict[str, Any], attribute: str, expected: object) -> None:
    """An upgrade from a version that saved no state, or a crash within a second of an
    entry: the ledger's position says the strategy is in, and it must not sell it."""
    h = Harness()
    h.bar(100, 100.5, 99.5, 100)
    h.submit("buy", "0.01", strategy="s1")
    h.bar(100, 100.5, 99.5, 100)
    assert h.portfolio.strategy_position(S1, BTC) == Decimal("0.01")
    instance = host_on(h, table).deployed()[0][2]
    assert getattr(instance, attribute) == expected

