"""Recorded data per symbol and the server's clock, in Binance's shapes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.marketdata.aggregate import aggregate_trades
from engine.marketdata.recorded import read_file

MIN_NS = 60_000_000_000
NS_PER_MS = 1_000_000


def fmt(value: float) -> str:
    """A decimal string as Binance sends it (never exponent notation)."""
    return np.format_float_positional(float(value), unique=True, trim="-")


class ServerClock:
    """Data time that runs ``speed`` times faster than wall time, and can pause."""

    def __init__(self, start_ns: int, speed: float) -> None:
        self.start_ns = start_ns
        self.speed = speed
        self._wall0 = time.monotonic()
        self._paused_at: int | None = None

    def now_ns(self) -> int:
        """The server's current data time."""
        if self._paused_at is not None:
            return self._paused_at
        return self.start_ns + int((time.monotonic() - self._wall0) * self.speed * 1e9)

    def pause(self) -> None:
        """Freeze data time."""
        if self._paused_at is None:
            self._paused_at = self.now_ns()

    def resume(self) -> None:
        """Let data time run again from where it was frozen."""
        if self._paused_at is not None:
            self.start_ns = self._paused_at
            self._wall0 = time.monotonic()
            self._paused_at = None


@dataclass
class SymbolData:
    """One symbol: its trades (ids, ms times ...) and 1m bars, as Python lists."""

    id: str
    base: str
    quote: str
    trade_ts: list[int] = field(default_factory=list)  # ns
    trade_id: list[int] = field(default_factory=list)
    price: list[float] = field(default_factory=list)
    qty: list[float] = field(default_factory=list)
    side: list[int] = field(default_factory=list)
    bar_ts: list[int] = field(default_factory=list)  # ns, open time
    bars: list[tuple[float, float, float, float, float, int]] = field(default_factory=list)
    quote_ts: list[int] = field(default_factory=list)
    quotes: list[tuple[float, float, float, float]] = field(default_factory=list)
    # Streaming cursors
    next_trade: int = 0
    next_bar: int = 0
    next_quote: int = 0
    update_id: int = 1

    def first_ns(self) -> int:
        """Earliest data time."""
        firsts = [x[0] for x in (self.trade_ts, self.bar_ts, self.quote_ts) if x]
        return min(firsts)

    def skip_to(self, now_ns: int) -> None:
        """Start streaming at ``now_ns`` (history before it is REST-only)."""
        import bisect

        self.next_trade = bisect.bisect_right(self.trade_ts, now_ns)
        self.next_bar = bisect.bisect_right([t + MIN_NS for t in self.bar_ts], now_ns)
        self.next_quote = bisect.bisect_right(self.quote_ts, now_ns)

    def trade_rest(self, i: int) -> dict[str, Any]:
        """Trade ``i`` as /api/v3/trades answers it."""
        return {"id": self.trade_id[i], "price": fmt(self.price[i]), "qty": fmt(self.qty[i]),
                "quoteQty": fmt(self.price[i] * self.qty[i]),
                "time": self.trade_ts[i] // NS_PER_MS, "isBuyerMaker": self.side[i] < 0,
                "isBestMatch": True}

    def agg_rest(self, i: int) -> dict[str, Any]:
        """Trade ``i`` as /api/v3/aggTrades answers it."""
        tid = self.trade_id[i]
        return {"a": tid, "p": fmt(self.price[i]), "q": fmt(self.qty[i]), "f": tid, "l": tid,
                "T": self.trade_ts[i] // NS_PER_MS, "m": self.side[i] < 0, "M": True}

    def kline_rest(self, i: int) -> list[Any]:
        """Bar ``i`` as /api/v3/klines answers it."""
        o, h, lo, c, v, n = self.bars[i]
        t = self.bar_ts[i] // NS_PER_MS
        return [t, fmt(o), fmt(h), fmt(lo), fmt(c), fmt(v), t + 59_999, fmt(v * c), n,
                "0", "0", "0"]

    def market_info(self) -> dict[str, Any]:
        """The symbol as /api/v3/exchangeInfo describes it."""
        return {
            "symbol": self.id, "status": "TRADING", "baseAsset": self.base,
            "baseAssetPrecision": 8, "quoteAsset": self.quote, "quotePrecision": 8,
            "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT",
                           "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True, "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.00000001",
                 "maxPrice": "1000000.00000000", "tickSize": "0.00000001"},
                {"filterType": "LOT_SIZE", "minQty": "0.00000100",
                 "maxQty": "9000000.00000000", "stepSize": "0.00000100"},
                {"filterType": "NOTIONAL", "minNotional": "0.00000100",
                 "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                 "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }


def load_directory(data_dir: Path) -> dict[str, SymbolData]:
    """Binance spot files of ``data_dir`` by Binance symbol id (``XRPETH``)."""
    out: dict[str, SymbolData] = {}
    for path in sorted(data_dir.glob("binance_*.csv.gz")):
        data = read_file(path)
        info = data.info
        if info.kind == "bars" and info.timeframe != "1m":
            continue
        base, quote = info.symbol.split("/")
        sd = out.setdefault(base + quote, SymbolData(base + quote, base, quote))
        cols = data.columns
        if info.kind == "trades":
            sd.trade_ts = cols["ts"].tolist()
            sd.trade_id = cols["trade_id"].tolist()
            sd.price, sd.qty = cols["price"].tolist(), cols["qty"].tolist()
            sd.side = cols["side"].tolist()
        elif info.kind == "bars":
            sd.bar_ts = cols["ts"].tolist()
            sd.bars = [(o, h, lo, c, v, 0) for o, h, lo, c, v in zip(
                *(cols[k].tolist() for k in ("open", "high", "low", "close", "volume")),
                strict=True)]
        else:
            sd.quote_ts = cols["ts"].tolist()
            sd.quotes = list(zip(*(cols[k].tolist() for k in ("bid", "bid_qty", "ask",
                                                                "ask_qty")), strict=True))
    for sd in out.values():
        if sd.trade_ts and not sd.bar_ts:  # klines from the recorded trades
            agg, _ = aggregate_trades(np.array(sd.trade_ts, dtype=np.int64),
                                      np.array(sd.price), np.array(sd.qty), MIN_NS)
            sd.bar_ts = agg["ts"].tolist()
            sd.bars = list(zip(*(agg[k].tolist() for k in ("open", "high", "low", "close",
                                                            "volume", "num_trades")),
                               strict=True))
    return out
