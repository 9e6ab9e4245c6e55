"""The contracts adapter authors implement (owned by the engine, re-exported here).

See :mod:`engine.gateway` for the market data contract and :mod:`engine.execution` for
order entry (``ExecutionGateway``; paper and live implement the same one).
"""

from engine.execution import ExecutionGateway, SyncExecution
from engine.gateway import (
    FeedInterrupted,
    FeedRestored,
    GatewayError,
    GatewayHealth,
    InboundItem,
    MarketDataGateway,
    MarketDataSink,
    RecordRejected,
    TradeBatch,
)

__all__ = [
    "ExecutionGateway",
    "FeedInterrupted",
    "FeedRestored",
    "GatewayError",
    "GatewayHealth",
    "InboundItem",
    "MarketDataGateway",
    "MarketDataSink",
    "RecordRejected",
    "SyncExecution",
    "TradeBatch",
]
