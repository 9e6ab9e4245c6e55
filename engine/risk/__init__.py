"""Risk: pre-trade checks, drawdown guards, kill switch, the persisted risk state."""

from engine.risk.checks import PreTradeChecks, reduces_exposure
from engine.risk.config import RiskConfig, RiskLimits
from engine.risk.engine import RiskEngine
from engine.risk.pgstore import PostgresRiskStateStore
from engine.risk.state import (
    LEGAL_RISK_TRANSITIONS,
    JsonFileRiskStateStore,
    MemoryRiskStateStore,
    OrderRiskRejected,
    RiskError,
    RiskSnapshot,
    RiskState,
    RiskStateChanged,
    RiskStateStore,
)

__all__ = [
    "LEGAL_RISK_TRANSITIONS",
    "JsonFileRiskStateStore",
    "MemoryRiskStateStore",
    "OrderRiskRejected",
    "PostgresRiskStateStore",
    "PreTradeChecks",
    "RiskConfig",
    "RiskEngine",
    "RiskError",
    "RiskLimits",
    "RiskSnapshot",
    "RiskState",
    "RiskStateChanged",
    "RiskStateStore",
    "reduces_exposure",
]
