"""Shared by the ccxt gateways: backoff, exchange construction from config, conversions."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from engine.config import ExchangeConfig
from engine.gateway import GatewayError
from engine.ids import Symbol, Venue
from engine.model import Bar, Quote

__all__ = ["Backoff", "build_exchange", "fetch_history", "ohlcv_bar", "ticker_quote"]

NS_PER_MS = 1_000_000


class Backoff:
    """Delays ``initial * 2**n`` capped at ``maximum``, each drawn from ``[d/2, d]``."""

    def __init__(self, initial_s: float, maximum_s: float, rng: random.Random | None = None):
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.attempts = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The next delay in seconds."""
        delay = min(self.maximum_s, self.initial_s * 2 ** min(self.attempts, 30))
        self.attempts += 1
        return float(delay * (0.5 + self._rng.random() / 2))

    def reset(self) -> None:
        """Back to the initial delay (after a success)."""
        self.attempts = 0


def _merge(into: dict[str, Any], over: dict[str, Any]) -> None:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def build_exchange(config: ExchangeConfig) -> Any:
    """A ccxt exchange (ccxt.pro when ``websocket`` and available, else async REST) with
    credentials, timeout, options, sandbox mode and URL overrides from ``config``."""
    module: Any = ccxt_pro if config.websocket and hasattr(ccxt_pro, config.name) else ccxt_async
    cls = getattr(module, config.name, None)
    if cls is None:
        raise GatewayError(f"exchange.name: ccxt has no exchange {config.name!r}")
    params: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": int(config.timeout_s * 1000),
        "options": dict(config.options),
    }
    for key, secret in (("apiKey", config.api_key), ("secret", config.secret),
                        ("password", config.password)):
        if secret:
            params[key] = secret.reveal()
    exchange = cls(params)
    if config.sandbox:
        exchange.set_sandbox_mode(True)
    if config.urls:
        _merge(exchange.urls, dict(config.urls))
    return exchange


def ticker_quote(venue: Venue, symbol: Symbol, ticker: dict[str, Any], now_ns: int) -> Quote:
    """A ccxt ticker / bids-asks entry as a Quote (``now_ns`` when it has no timestamp).
    Raises KeyError, TypeError or ValueError on a malformed entry."""
    ts = ticker.get("timestamp")
    return Quote(venue, symbol, int(ts) * NS_PER_MS if ts else now_ns,
                 float(ticker["bid"]), float(ticker.get("bidVolume") or 0.0),
                 float(ticker["ask"]), float(ticker.get("askVolume") or 0.0))


def ohlcv_bar(venue: Venue, symbol: Symbol, timeframe: str, row: list[Any]) -> Bar:
    """A ccxt OHLCV row ``[ms, o, h, l, c, v]`` as a closed Bar."""
    return Bar(venue, symbol, timeframe, int(row[0]) * NS_PER_MS, float(row[1]),
               float(row[2]), float(row[3]), float(row[4]), float(row[5]))


async def fetch_history(exchange: Any, venue: Venue, symbol: Symbol, timeframe: str,
                        since_ms: int, limit: int,
                        wait: Callable[[Awaitable[Any]], Awaitable[Any]]) -> list[Bar]:
    """The bars of ``symbol`` from ``since_ms`` to now, in time order, by REST pages of
    ``limit`` rows, each call through ``wait`` (the caller's timeout). The newest row is
    left out: exchanges include the candle still open, which the stream delivers once it
    has closed."""
    rows: dict[int, list[Any]] = {}
    while True:
        page = await wait(exchange.fetch_ohlcv(symbol, timeframe, since_ms, limit))
        fresh = [row for row in page if int(row[0]) >= since_ms and int(row[0]) not in rows]
        rows.update((int(row[0]), row) for row in fresh)
        if len(page) < limit or not fresh:
            break
        since_ms = max(rows) + 1
    return [ohlcv_bar(venue, symbol, timeframe, rows[ts]) for ts in sorted(rows)[:-1]]


async def next_ticker(exchange: Any, symbol: str,
                      wait: Callable[[Awaitable[Any]], Awaitable[Any]], *,
                      streaming: bool) -> dict[str, Any] | None:
    """The next top of book of ``symbol``: the book ticker where the venue has one, else
    the ticker; streamed (``watch_*``) or polled (``fetch_*``), each call through ``wait``
    (the caller's timeout). None when a stream stays quiet: never an error, since quotes
    are not backfilled."""
    book = getattr(exchange, "has", {}).get("watchBidsAsks" if streaming else "fetchBidsAsks")
    if book:
        call = (exchange.watch_bids_asks if streaming else exchange.fetch_bids_asks)([symbol])
    else:
        call = (exchange.watch_ticker if streaming else exchange.fetch_ticker)(symbol)
    try:
        got = await wait(call)
    except TimeoutError:
        if not streaming:
            raise
        return None
    ticker: dict[str, Any] | None = got.get(symbol) if book else got
    return ticker
