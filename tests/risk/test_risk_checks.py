"""Each pre-trade check rejects with its reason; account and strategy limits."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from trading_harness import LOOSE, D, Harness

from engine.model import OrderStatus
from engine.risk import OrderRiskRejected, RiskConfig, RiskLimits, RiskState
from engine.store.records import RiskEventRecord

S = OrderStatus


def harness(**changes: object) -> Harness:
    account = changes.pop("account", LOOSE.account)
    cfg = msgspec.structs.replace(LOOSE, account=account, **changes)  # type: ignore[arg-type]
    h = Harness(risk=cfg)
    h.trade(100.0)
    return h


def rejected(h: Harness, check: str, **kw: object) -> str:
    o = h.submit(**kw)  # type: ignore[arg-type]
    assert o.status is S.REJECTED, o
    reason = o.reject_reason or ""
    assert reason.startswith(f"{check}: "), reason
    event = h.rec.of(OrderRiskRejected)[-1]
    assert event.check == check and event.order_id == o.id
    record = h.rec.of(RiskEventRecord)[-1]
    assert record.check == check and record.decision == "reject" and record.order_id == o.id
    assert h.rec.alerts(f"order rejected: {check}")
    return reason


def test_max_order_notional() -> None:
    h = harness(account=RiskLimits(max_order_notional=D(500)))
    assert h.submit(qty=5).status is not S.REJECTED
    assert "550" in rejected(h, "max_order_notional", qty="5.5")


def test_max_position_counts_working_orders() -> None:
    h = harness(account=RiskLimits(max_position_notional=D(1000)))
    h.submit(qty=6, type="limit", limit_price=99)  # working, 594 exposure
    rejected(h, "max_position_notional", qty=5, type="limit", limit_price=99)


def test_max_gross_exposure() -> None:
    h = harness(account=RiskLimits(max_gross_exposure=D(1000)))
    h.submit(qty=8)
    h.trade(100.0, qty=100)
    rejected(h, "max_gross_exposure", qty=3)


def test_max_open_orders() -> None:
    h = harness(account=RiskLimits(max_open_orders=2))
    for _ in range(2):
        h.submit(qty=1, type="limit", limit_price=99)
    rejected(h, "max_open_orders", qty=1, type="limit", limit_price=99)


def test_price_band() -> None:
    h = harness(price_band_pct=D(5))
    assert h.submit(type="limit", limit_price=96).status is S.OPEN
    assert "6.00% from last" in rejected(h, "price_band", type="limit", limit_price=94)


def test_rate_limit() -> None:
    h = harness(account=RiskLimits(max_orders_per_s=2.0))
    h.submit()
    h.submit()
    rejected(h, "rate_limit")
    h.step(600)  # refilled one token
    assert h.submit().status is not S.REJECTED


def test_buying_power() -> None:
    h = harness(leverage=Decimal(1))  # 100,000 cash
    rejected(h, "buying_power", qty=1001)


def test_no_price_and_no_short() -> None:
    h = harness(allow_short=False)
    rejected(h, "no_short", side="sell")
    rejected(h, "no_price", symbol="ETH/USDT")


def test_reduce_only() -> None:
    h = harness()
    rejected(h, "reduce_only", side="sell", reduce_only=True)


def test_strategy_limits_apply_besides_account() -> None:
    h = harness(strategies={"small": RiskLimits(max_order_notional=D(100), max_open_orders=1)})
    assert h.submit(qty=5, strategy="big").status is not S.REJECTED
    assert "strategy small" in rejected(h, "max_order_notional", qty=2, strategy="small")
    h.submit(qty=1, strategy="small", type="limit", limit_price=99)
    rejected(h, "max_open_orders", qty=1, strategy="small", type="limit", limit_price=99)
    assert h.submit(qty=1, strategy="other", type="limit", limit_price=99).status is S.OPEN


@pytest.mark.parametrize("state", [RiskState.REDUCING, RiskState.HALTED])
def test_state_gates_orders(state: RiskState) -> None:
    h = harness()
    h.submit(qty=2)
    h.trade(100.0, qty=100)
    h.risk.set_state(state, "ops", "test")
    rejected(h, "risk_state", qty=1)  # adds exposure
    reduce = h.submit(side="sell", qty=1)
    if state is RiskState.REDUCING:
        assert reduce.status is not S.REJECTED
    else:
        assert reduce.status is S.REJECTED and "halted" in (reduce.reject_reason or "")


def test_defaults_are_sane() -> None:
    cfg = RiskConfig()
    assert cfg.account.max_orders_per_s and cfg.max_drawdown_pct == 10
    with pytest.raises(ValueError):
        RiskLimits(max_order_notional=D(0))


def test_a_repeated_rejection_alerts_once_per_interval_and_counts_the_rest() -> None:
    h = harness(reject_alert_interval_s=60.0)
    h.risk.set_kill_switch(True, "test", "halted for the test")  # every order: risk_state
    for _ in range(5):
        assert h.submit(qty=1).status is S.REJECTED
        h.step(1_000)
    h.submit(qty=1, strategy="s2")  # another strategy's refusal is its own news
    alerts = h.rec.alerts("order rejected: risk_state")
    assert [a.strategy_id for a in alerts] == ["s1", "s2"]
    # every refusal is still recorded: risk_events rows, events, the counter
    assert len([r for r in h.rec.of(RiskEventRecord) if r.decision == "reject"]) == 6
    assert len(h.rec.of(OrderRiskRejected)) == 6
    assert h.risk.status()["rejections"] == {"risk_state": 6}
    h.step(60_000)  # the interval has passed since s1's alert
    h.submit(qty=1)
    alerts = h.rec.alerts("order rejected: risk_state")
    assert len(alerts) == 3
    assert alerts[-1].message.endswith("(4 more like it since the last alert)")
    assert h.risk.status()["rejections_not_alerted"] == 4


def test_interval_zero_alerts_every_rejection() -> None:
    h = harness(reject_alert_interval_s=0.0)
    h.risk.set_kill_switch(True, "test", "halted for the test")
    for _ in range(3):
        h.submit(qty=1)
    assert len(h.rec.alerts("order rejected: risk_state")) == 3
    with pytest.raises(ValueError, match="reject_alert_interval_s"):
        RiskConfig(reject_alert_interval_s=-1.0)
