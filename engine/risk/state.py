"""The persisted risk state machine and what it publishes.

::

    ACTIVE  --guard/kill switch/operator-->  REDUCING  (only orders that reduce exposure)
    ACTIVE | REDUCING  ----------------->  HALTED    (only cancels)
    HALTED --operator / kill switch off--> REDUCING | ACTIVE
    REDUCING --operator / next UTC day (daily-loss guard only)--> ACTIVE

Guards only ever make the state stricter. The state, its reason and the figures the guards
need (high-water mark, the day and its starting equity, the kill switch) survive restarts
through a :class:`RiskStateStore`.
"""

from __future__ import annotations

import enum
import json
import os
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec

from engine.ids import ClientOrderId, OrderId, StrategyId, Symbol

__all__ = [
    "LEGAL_RISK_TRANSITIONS",
    "JsonFileRiskStateStore",
    "MemoryRiskStateStore",
    "OrderRiskRejected",
    "RiskError",
    "RiskSnapshot",
    "RiskState",
    "RiskStateChanged",
    "RiskStateStore",
]


class RiskError(Exception):
    """An operator request the risk state machine refuses."""


class RiskState(enum.Enum):
    """What new orders the account may send."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"

    @property
    def rank(self) -> int:
        """Strictness: 0 active, 1 reducing, 2 halted."""
        return _RANK[self]


_RANK: Final = {RiskState.ACTIVE: 0, RiskState.REDUCING: 1, RiskState.HALTED: 2}
LEGAL_RISK_TRANSITIONS: Final = frozenset(
    (a, b) for a in RiskState for b in RiskState if a is not b)
"""Every change between two different states is legal for an operator; guards only
escalate (see :meth:`engine.risk.engine.RiskEngine`)."""


class RiskSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What is persisted of the risk state."""

    state: RiskState = RiskState.ACTIVE
    source: str = "start"
    """Who set the state: ``guard:daily_loss``, ``guard:drawdown``, ``guard:profit_target``,
    ``kill_switch``, ``operator``, ``daily_reset``, ``start``."""
    reason: str = ""
    actor: str = "engine"
    since_ns: int = 0
    kill_switch: bool = False
    initial_equity: Decimal | None = None
    high_water_mark: Decimal | None = None
    day: str | None = None
    day_start_equity: Decimal | None = None
    version: int = 0


class RiskStateStore(Protocol):
    """Where the risk state survives restarts."""

    def load(self) -> RiskSnapshot | None:
        """The last saved snapshot, or None on first start."""
        ...

    def save(self, snapshot: RiskSnapshot) -> None:
        """Persist ``snapshot`` durably before returning."""
        ...


class MemoryRiskStateStore:
    """In memory (backtests, tests)."""

    def __init__(self) -> None:
        self.snapshot: RiskSnapshot | None = None
        self.saves = 0

    def load(self) -> RiskSnapshot | None:
        """See :meth:`RiskStateStore.load`."""
        return self.snapshot

    def save(self, snapshot: RiskSnapshot) -> None:
        """See :meth:`RiskStateStore.save`."""
        self.snapshot = snapshot
        self.saves += 1


class JsonFileRiskStateStore:
    """A JSON file in the state directory, replaced atomically (tmp + fsync + rename)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> RiskSnapshot | None:
        """See :meth:`RiskStateStore.load`; a missing file is a first start."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return msgspec.json.decode(data, type=RiskSnapshot)

    def save(self, snapshot: RiskSnapshot) -> None:
        """See :meth:`RiskStateStore.save`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = msgspec.json.encode(snapshot)
        fd, tmp = tempfile.mkstemp(prefix=".risk-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskStateChanged:
    """The risk state changed, or the kill switch was flipped (a ``risk_events`` row)."""

    ts_ns: int
    previous: RiskState
    state: RiskState
    source: str
    reason: str
    actor: str
    kill_switch: bool
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRiskRejected:
    """A pre-trade check refused an order (a ``risk_events`` row)."""

    ts_ns: int
    check: str
    reason: str
    order_id: OrderId
    client_order_id: ClientOrderId
    strategy_id: StrategyId | None
    symbol: Symbol
    state: RiskState


def to_json(snapshot: RiskSnapshot) -> str:
    """Readable JSON of a snapshot (for logs and /status)."""
    return json.dumps(msgspec.to_builtins(snapshot))
