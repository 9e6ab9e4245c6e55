"""Start-up reads for restart recovery: working orders with their last event and algo
schedule, and the fills ledger the portfolio is rebuilt from."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import store_factories as f

from engine import events as ev
from engine import model as m
from engine.bus import MessageBus
from engine.oms.commands import AlgoParams
from engine.portfolio.portfolio import Portfolio
from engine.store import StoreWriter, connect, queries


async def test_working_orders_come_back_with_their_last_event_and_schedule(
        store_dsn: str, tmp_path: Path) -> None:
    account = await f.make_account(store_dsn)
    writer = StoreWriter(store_dsn, journal_dir=tmp_path / "j", account_id=account)
    algo = AlgoParams(duration_s=600, slices=4, qty_step=Decimal("0.01"))
    parent = f.order(1, status=m.OrderStatus.PENDING).replace(type=m.OrderType.TWAP,
                     limit_price=None)
    stop = f.order(2, status=m.OrderStatus.PENDING).replace(type=m.OrderType.STOP_LOSS,
                   limit_price=None, stop_price=Decimal("41000"))
    done = f.order_lifecycle(3)  # filled: not restored
    events = [
        ev.OrderSubmitted(order=parent, seq=1, ts_ns=f.T0,
                          payload={"algo": algo.to_payload(), "decision_price": "42000.5"}),
        ev.OrderAccepted(order=parent.replace(status=m.OrderStatus.OPEN, version=2), seq=2,
                         ts_ns=f.T0 + 1),
        ev.OrderSubmitted(order=stop, seq=1, ts_ns=f.T0 + 2),
        ev.OrderAccepted(order=stop.replace(status=m.OrderStatus.OPEN, version=2), seq=2,
                         ts_ns=f.T0 + 3),
        *done,
    ]
    import asyncio

    task = asyncio.create_task(writer.run())
    for e in events:
        writer.submit(e)
    await writer.close(timeout=20)
    await asyncio.wait_for(task, 20)
    conn = await connect(store_dsn)
    try:
        restored = {r.order.id: r for r in await queries.restorable_orders(conn, account)}
        fills = await queries.fills(conn, account)
    finally:
        await conn.close()
    assert set(restored) == {parent.id, stop.id}
    twap = restored[parent.id]
    assert (twap.last_seq, twap.last_kind) == (2, "accepted")
    assert twap.algo == algo and twap.algo_start_ns == f.T0 // 1000 * 1000
    assert twap.decision_price == Decimal("42000.5")
    assert restored[stop.id].order.stop_price == Decimal("41000")
    assert restored[stop.id].algo is None
    # The ledger rebuilds the position exactly: the lifecycle bought 0.2 + 0.3.
    assert [x.qty for x in fills] == [Decimal("0.2"), Decimal("0.3")]
    portfolio = Portfolio(bus=MessageBus())
    assert portfolio.restore(fills) == 2
    assert portfolio.position_qty(fills[0].symbol) == Decimal("0.5") * fills[0].side.sign
