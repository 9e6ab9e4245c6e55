"""The guards' precomputed equity bounds change nothing: against the plain computation on
every mark (the engine's former ``on_equity``), random equity paths trip, warn and reset on
exactly the same marks with exactly the same records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.model import NS_PER_S, Alert
from engine.portfolio.performance import day_of
from engine.risk import MemoryRiskStateStore, RiskConfig, RiskEngine, RiskStateChanged
from engine.store.records import RiskEventRecord

T0 = 1_700_000_000 * NS_PER_S
HOUR = 3600 * NS_PER_S
_HUNDRED = Decimal(100)


class _Nothing:
    def position_qty(self, *args: Any, **kwargs: Any) -> Decimal:
        return Decimal(0)

    def gross_and_equity(self) -> tuple[Decimal, Decimal]:
        return Decimal(0), Decimal(0)

    def open_count(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def open_qty(self, *args: Any, **kwargs: Any) -> Decimal:
        return Decimal(0)


def plain_on_equity(self: RiskEngine, ts_ns: int, equity: Decimal) -> None:
    """The guards computed in full on every mark, as before the bounds existed (a function
    on the engine rather than a subclass: the compiled build's engine is a native class)."""
    snap = self.snapshot
    day = day_of(ts_ns).isoformat()
    if snap.day != day:
        self._new_day(ts_ns, day, equity)
        snap = self.snapshot
    hwm = snap.high_water_mark or equity
    if equity > hwm:
        snap = self.snapshot = msgspec.structs.replace(snap, high_water_mark=equity)
        self._hwm_dirty = True
    self._run_guards(ts_ns, equity)
    if self._hwm_dirty and ts_ns - self._last_save_ns >= self._save_ns:
        self._save(ts_ns)


def _plain(event: Any) -> Any:
    """An event without its random id."""
    if isinstance(event, tuple):
        return event
    names = getattr(event, "__dataclass_fields__", None) or event.__struct_fields__
    return type(event).__name__, {n: getattr(event, n) for n in names if n != "id"}


def run(plain: bool, config: RiskConfig, path: list[tuple[int, Decimal]],
        start: Decimal) -> tuple[list[Any], Any]:
    bus = MessageBus()
    seen: list[Any] = []
    for kind in (RiskEventRecord, RiskStateChanged, Alert):
        bus.subscribe(kind, seen.append)
    clock = SimClock(T0)
    engine = RiskEngine(bus=bus, clock=clock, config=config, portfolio=_Nothing(),
                        orders=_Nothing(), store=MemoryRiskStateStore(),
                        starting_equity=start)
    ts = T0
    for step, equity in path:
        ts += step
        clock.advance_to(ts)
        if plain:
            plain_on_equity(engine, ts, equity)
        else:
            engine.on_equity(ts, equity)
        seen.append(("mark", ts, engine.state))
    return [_plain(e) for e in seen], engine.snapshot


pcts = st.one_of(st.none(), st.decimals(min_value="0.5", max_value="30", places=2))
actions = st.sampled_from(["reducing", "halted"])


@settings(max_examples=300, deadline=None)
@given(
    loss=pcts, loss_action=actions, dd=pcts, dd_action=actions, target=pcts,
    target_action=actions,
    warn=st.decimals(min_value="0.1", max_value="1.2", places=2),
    moves=st.lists(st.tuples(st.sampled_from([1, 60, 3600, 7 * 3600]),
                             st.integers(min_value=-400, max_value=400)),
                   min_size=1, max_size=80),
)
def test_bounds_trip_on_the_same_marks_as_the_plain_guards(
        loss: Decimal | None, loss_action: str, dd: Decimal | None, dd_action: str,
        target: Decimal | None, target_action: str, warn: Decimal,
        moves: list[tuple[int, int]]) -> None:
    config = RiskConfig(
        max_daily_loss_pct=loss, daily_loss_action=loss_action,  # type: ignore[arg-type]
        max_drawdown_pct=dd, drawdown_action=dd_action,  # type: ignore[arg-type]
        profit_target_pct=target, profit_target_action=target_action,  # type: ignore[arg-type]
        warn_at_fraction=warn)
    start = Decimal(100_000)
    equity, path = start, []
    for step_s, bps in moves:
        equity = equity * (10_000 + bps) / 10_000
        path.append((step_s * NS_PER_S, equity))
    plain = run(True, config, path, start)
    bounded = run(False, config, path, start)
    assert bounded == plain


def test_exactly_at_the_limit_trips_on_that_mark() -> None:
    """A loss of exactly the limit trips (>=): the bound must not skip the boundary."""
    config = RiskConfig(max_daily_loss_pct=Decimal(5), max_drawdown_pct=None)
    start = Decimal(100_000)
    path = [(NS_PER_S, start), (NS_PER_S, Decimal("96000.000001")),
            (NS_PER_S, Decimal("95000.0000000001")), (NS_PER_S, Decimal(95_000))]
    seen, snap = run(False, config, path, start)
    marks = [m for m in seen if m[0] == "mark"]
    assert [m[2].value for m in marks] == ["active", "active", "active", "reducing"]
    assert snap.source == "guard:daily_loss"
    assert seen == run(True, config, path, start)[0]
