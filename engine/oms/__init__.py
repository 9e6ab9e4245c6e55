"""Order management: the order state machine, emulated stops, TWAP/VWAP slicing, routing."""

from engine.oms.book import OrderBook
from engine.oms.children import is_rollup
from engine.oms.commands import AlgoParams, RestoredOrder, SubmitOrder
from engine.oms.fastobj import IdGenerator
from engine.oms.manager import OmsConfig, OrderManager, PreTradeCheck, PriceView
from engine.oms.router import DirectRouter, OrderRouter, QueuedRouter
from engine.oms.states import (
    LEGAL_TRANSITIONS,
    InvalidOrder,
    InvalidTransition,
    OmsError,
    next_status,
)

__all__ = [
    "LEGAL_TRANSITIONS",
    "AlgoParams",
    "DirectRouter",
    "IdGenerator",
    "InvalidOrder",
    "InvalidTransition",
    "OmsConfig",
    "OmsError",
    "OrderBook",
    "OrderManager",
    "OrderRouter",
    "PreTradeCheck",
    "PriceView",
    "QueuedRouter",
    "RestoredOrder",
    "SubmitOrder",
    "is_rollup",
    "next_status",
]
