"""The aiohttp application: Binance spot REST + WebSocket market data, and test controls."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.exchange_server.market import (
    MIN_NS,
    NS_PER_MS,
    ServerClock,
    SymbolData,
    fmt,
    load_directory,
)

_log = logging.getLogger("exchange_server")
TICK_S = 0.005


class Connection:
    """One WebSocket client and the streams it subscribed."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.streams: set[str] = set()


class ExchangeServer:
    """Serves recorded data as live; see the package docstring."""

    def __init__(self, data_dir: Path, *, speed: float = 60.0, start_ns: int | None = None,
                 history_s: float = 3600.0, kline_history: int = 0) -> None:
        self.symbols: dict[str, SymbolData] = load_directory(data_dir)
        if not self.symbols:
            raise SystemExit(f"no binance_*.csv.gz files in {data_dir}")
        first = min(sd.first_ns() for sd in self.symbols.values())
        start = first + int(history_s * 1e9) if start_ns is None else start_ns
        self.clock = ServerClock(start, speed)
        for sd in self.symbols.values():
            sd.skip_to(start)
        self.kline_history = kline_history  # candles REST serves before now (0: all)
        self.connections: set[Connection] = set()
        self.stall_until = 0.0
        self._emitting = False
        self.malformed = 0
        self.gap = 0
        self.counters = {"connections": 0, "drops": 0, "frames": 0, "trades_sent": 0,
                         "trades_skipped": 0, "rest_requests": 0}
        self._task: asyncio.Task[None] | None = None

    # -- app ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        r = app.router
        r.add_get("/api/v3/ping", lambda _: web.json_response({}))
        r.add_get("/api/v3/time", self.time)
        r.add_get("/api/v3/exchangeInfo", self.exchange_info)
        r.add_get("/api/v3/klines", self.klines)
        r.add_get("/api/v3/trades", self.trades)
        r.add_get("/api/v3/historicalTrades", self.agg_trades)
        r.add_get("/api/v3/aggTrades", self.agg_trades)
        r.add_get("/api/v3/depth", self.depth)
        r.add_get("/api/v3/ticker/bookTicker", self.book_ticker)
        r.add_get("/ws", self.websocket)
        r.add_get("/ws/{stream:.*}", self.websocket)
        r.add_get("/_control/state", self.state)
        r.add_post("/_control/{action}", self.control)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._stop)
        return app

    async def _start(self, _: web.Application) -> None:
        self._task = asyncio.create_task(self._pump())

    async def _stop(self, _: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for conn in list(self.connections):
            await conn.ws.close()

    # -- REST -----------------------------------------------------------------------------

    def _symbol(self, request: web.Request) -> SymbolData:
        self.counters["rest_requests"] += 1
        sd = self.symbols.get(request.query.get("symbol", ""))
        if sd is None:
            raise web.HTTPBadRequest(text=orjson.dumps({"code": -1121,
                                                        "msg": "Invalid symbol."}).decode(),
                                     content_type="application/json")
        return sd

    async def time(self, _: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.clock.now_ns() // NS_PER_MS})

    async def exchange_info(self, _: web.Request) -> web.Response:
        self.counters["rest_requests"] += 1
        return web.json_response({
            "timezone": "UTC", "serverTime": self.clock.now_ns() // NS_PER_MS,
            "rateLimits": [], "exchangeFilters": [],
            "symbols": [sd.market_info() for sd in self.symbols.values()],
        })

    async def klines(self, request: web.Request) -> web.Response:
        sd = self._symbol(request)
        q = request.query
        if q.get("interval") != "1m":
            raise web.HTTPBadRequest(text='{"code":-1120,"msg":"Invalid interval."}')
        limit = min(int(q.get("limit", 500)), 1000)
        now = self.clock.now_ns()
        start = int(q["startTime"]) * NS_PER_MS if "startTime" in q else None
        end = int(q["endTime"]) * NS_PER_MS if "endTime" in q else now
        # Only bars that have closed by the server's clock.
        hi = bisect.bisect_right(sd.bar_ts, min(end, now - MIN_NS))
        lo = bisect.bisect_left(sd.bar_ts, start) if start is not None else max(0, hi - limit)
        if self.kline_history:  # a venue that keeps only the latest candles
            lo = max(lo, bisect.bisect_right(sd.bar_ts, now - MIN_NS) - self.kline_history)
        rows = [sd.kline_rest(i) for i in range(lo, min(hi, lo + limit))]
        if len(rows) < limit and end >= now:
            rows.extend(self._open_kline(sd, now))
        return web.json_response(rows)

    def _open_kline(self, sd: SymbolData, now: int) -> list[list[Any]]:
        """The candle still open at ``now``, as Binance includes it (built from the trades
        so far, or flat at the previous close)."""
        start = now - now % MIN_NS
        lo = bisect.bisect_left(sd.trade_ts, start)
        hi = bisect.bisect_right(sd.trade_ts, now)
        prev = bisect.bisect_left(sd.bar_ts, start) - 1
        if lo < hi:
            prices = sd.price[lo:hi]
            o, h, low, c = prices[0], max(prices), min(prices), prices[-1]
            v, n = sum(sd.qty[lo:hi]), hi - lo
        elif prev >= 0:
            o = h = low = c = sd.bars[prev][3]
            v, n = 0.0, 0
        else:
            return []
        t = start // NS_PER_MS
        return [[t, fmt(o), fmt(h), fmt(low), fmt(c), fmt(v), t + 59_999, fmt(v * c), n,
                 "0", "0", "0"]]

    def _visible_trades(self, sd: SymbolData) -> int:
        return bisect.bisect_right(sd.trade_ts, self.clock.now_ns())

    async def trades(self, request: web.Request) -> web.Response:
        sd = self._symbol(request)
        limit = min(int(request.query.get("limit", 500)), 1000)
        hi = self._visible_trades(sd)
        return web.json_response([sd.trade_rest(i) for i in range(max(0, hi - limit), hi)])

    async def agg_trades(self, request: web.Request) -> web.Response:
        sd = self._symbol(request)
        q = request.query
        limit = min(int(q.get("limit", 500)), 1000)
        hi = self._visible_trades(sd)
        if "fromId" in q:
            lo = bisect.bisect_left(sd.trade_id, int(q["fromId"]))
        elif "startTime" in q:
            lo = bisect.bisect_left(sd.trade_ts, int(q["startTime"]) * NS_PER_MS)
            if "endTime" in q:
                hi = min(hi, bisect.bisect_right(sd.trade_ts, int(q["endTime"]) * NS_PER_MS))
        else:
            lo = max(0, hi - limit)
        return web.json_response([sd.agg_rest(i) for i in range(lo, min(hi, lo + limit))])

    def _top(self, sd: SymbolData) -> tuple[float, float, float, float]:
        now = self.clock.now_ns()
        if sd.quotes:
            i = max(0, bisect.bisect_right(sd.quote_ts, now) - 1)
            return sd.quotes[i]
        i = max(0, self._visible_trades(sd) - 1)
        p = sd.price[i] if sd.price else sd.bars[max(0, sd.next_bar - 1)][3]
        return p * 0.9999, 1.0, p * 1.0001, 1.0

    async def depth(self, request: web.Request) -> web.Response:
        sd = self._symbol(request)
        bid, bq, ask, aq = self._top(sd)
        return web.json_response({"lastUpdateId": sd.update_id,
                                  "bids": [[fmt(bid), fmt(bq)]], "asks": [[fmt(ask), fmt(aq)]]})

    async def book_ticker(self, request: web.Request) -> web.Response:
        if "symbols" in request.query:
            self.counters["rest_requests"] += 1
            wanted = orjson.loads(request.query["symbols"])
            return web.json_response([self._book_row(self.symbols[s]) for s in wanted
                                      if s in self.symbols])
        return web.json_response(self._book_row(self._symbol(request)))

    def _book_row(self, sd: SymbolData) -> dict[str, Any]:
        bid, bq, ask, aq = self._top(sd)
        return {"symbol": sd.id, "bidPrice": fmt(bid), "bidQty": fmt(bq),
                "askPrice": fmt(ask), "askQty": fmt(aq)}

    # -- WebSocket ------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, request)
        self.connections.add(conn)
        self.counters["connections"] += 1
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = orjson.loads(msg.data)
                except orjson.JSONDecodeError:
                    continue
                method, params = req.get("method"), req.get("params", [])
                if method == "SUBSCRIBE":
                    conn.streams.update(params)
                elif method == "UNSUBSCRIBE":
                    conn.streams.difference_update(params)
                await ws.send_str(orjson.dumps({"result": None, "id": req.get("id")}).decode())
        finally:
            self.connections.discard(conn)
        return ws

    async def _send(self, stream: str, payload: dict[str, Any], *, trade: bool = False) -> None:
        listeners = [c for c in self.connections if stream in c.streams]
        if not listeners:
            return
        if time.monotonic() < self.stall_until:
            return
        if trade and self.gap > 0:
            self.gap -= 1
            self.counters["trades_skipped"] += 1
            return
        text = orjson.dumps(payload).decode()
        if self.malformed > 0:
            self.malformed -= 1
            text = _malform(payload, self.malformed)
        for conn in listeners:
            if conn.ws.closed:
                continue
            try:
                await asyncio.wait_for(conn.ws.send_str(text), 1.0)
                self.counters["frames"] += 1
                if trade:
                    self.counters["trades_sent"] += 1
            except (ConnectionError, TimeoutError, RuntimeError):
                pass

    async def _pump(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = self.clock.now_ns()
            self._emitting = True
            try:
                for sd in self.symbols.values():
                    try:
                        await self._emit(sd, now)
                    except Exception:  # a test server must keep serving
                        _log.exception("emitting %s failed", sd.id)
            finally:
                self._emitting = False

    async def _emit(self, sd: SymbolData, now: int) -> None:
        low = sd.id.lower()
        while sd.next_trade < len(sd.trade_ts) and sd.trade_ts[sd.next_trade] <= now:
            i = sd.next_trade
            sd.next_trade += 1
            t_ms = sd.trade_ts[i] // NS_PER_MS
            tid, p, q, m = sd.trade_id[i], fmt(sd.price[i]), fmt(sd.qty[i]), sd.side[i] < 0
            await self._send(f"{low}@trade", {"e": "trade", "E": t_ms, "s": sd.id, "t": tid,
                                              "p": p, "q": q, "T": t_ms, "m": m, "M": True},
                             trade=True)
            await self._send(f"{low}@aggTrade", {"e": "aggTrade", "E": t_ms, "s": sd.id,
                                                 "a": tid, "p": p, "q": q, "f": tid, "l": tid,
                                                 "T": t_ms, "m": m, "M": True}, trade=True)
            if not sd.quotes:
                await self._book(sd, low, t_ms)
        while sd.next_quote < len(sd.quote_ts) and sd.quote_ts[sd.next_quote] <= now:
            sd.next_quote += 1
            await self._book(sd, low, sd.quote_ts[sd.next_quote - 1] // NS_PER_MS)
        while sd.next_bar < len(sd.bar_ts) and sd.bar_ts[sd.next_bar] + MIN_NS <= now:
            i = sd.next_bar
            sd.next_bar += 1
            o, h, lo, c, v, n = sd.bars[i]
            t = sd.bar_ts[i] // NS_PER_MS
            e_ms = t + 60_000
            await self._send(f"{low}@kline_1m", _kline(sd.id, e_ms, t, o, h, lo, c, v, n, True))
            # The next minute opens flat at the close, as Binance's stream does.
            await self._send(f"{low}@kline_1m", _kline(sd.id, e_ms, t + 60_000, c, c, c, c,
                                                        0.0, 0, False))
            await self._send(f"{low}@miniTicker", {
                "e": "24hrMiniTicker", "E": e_ms, "s": sd.id, "c": fmt(c), "o": fmt(o),
                "h": fmt(h), "l": fmt(lo), "v": fmt(v), "q": fmt(v * c)})

    async def _book(self, sd: SymbolData, low: str, t_ms: int) -> None:
        bid, bq, ask, aq = self._top(sd)
        sd.update_id += 1
        await self._send(f"{low}@bookTicker", {"u": sd.update_id, "s": sd.id, "b": fmt(bid),
                                               "B": fmt(bq), "a": fmt(ask), "A": fmt(aq)})
        depth = {"e": "depthUpdate", "E": t_ms, "s": sd.id, "U": sd.update_id,
                 "u": sd.update_id, "b": [[fmt(bid), fmt(bq)]], "a": [[fmt(ask), fmt(aq)]]}
        await self._send(f"{low}@depth", depth)
        await self._send(f"{low}@depth@100ms", depth)

    # -- control --------------------------------------------------------------------------

    async def state(self, _: web.Request) -> web.Response:
        now = self.clock.now_ns()
        # "drained": the pump has emitted everything due by ``now`` (after a pause, the
        # pump may still be sending what an earlier tick made due).
        drained = not self._emitting and all(
            sd.next_trade >= bisect.bisect_right(sd.trade_ts, now)
            and sd.next_bar >= bisect.bisect_right([t + MIN_NS for t in sd.bar_ts], now)
            for sd in self.symbols.values())
        return web.json_response({
            "now_ns": now, "connections": len(self.connections), "drained": drained,
            "counters": self.counters,
            "symbols": {s: {"next_trade": sd.next_trade, "next_bar": sd.next_bar,
                            "last_trade_id": sd.trade_id[sd.next_trade - 1]
                            if sd.next_trade else None}
                        for s, sd in self.symbols.items()},
        })

    async def control(self, request: web.Request) -> web.Response:
        action, q = request.match_info["action"], request.query
        if action == "drop":
            self.counters["drops"] += 1
            for conn in list(self.connections):
                if q.get("mode") == "abort" and conn.request.transport is not None:
                    conn.request.transport.abort()
                else:
                    await conn.ws.close()
        elif action == "stall":
            self.stall_until = time.monotonic() + float(q.get("seconds", 1.0))
        elif action == "malformed":
            self.malformed += int(q.get("count", 1))
        elif action == "gap":
            self.gap += int(q.get("count", 1))
        elif action == "pause":
            self.clock.pause()
        elif action == "resume":
            self.clock.resume()
        else:
            raise web.HTTPNotFound(text=f"unknown control {action}")
        return web.json_response({"ok": True, "now_ns": self.clock.now_ns()})


def _kline(sid: str, e_ms: int, t: int, o: float, h: float, lo: float, c: float, v: float,
           n: int, closed: bool) -> dict[str, Any]:
    return {"e": "kline", "E": e_ms, "s": sid, "k": {
        "t": t, "T": t + 59_999, "s": sid, "i": "1m", "f": -1, "L": -1, "o": fmt(o),
        "c": fmt(c), "h": fmt(h), "l": fmt(lo), "v": fmt(v), "n": n, "x": closed,
        "q": fmt(v * c), "V": "0", "Q": "0", "B": "0"}}


def _malform(payload: dict[str, Any], seq: int) -> str:
    """Three kinds, in turn: not JSON, a trade without a price, a trade with price NaN."""
    kind = seq % 3
    if kind == 0:
        return '{"e": "trade", "s": '
    bad = dict(payload)
    if kind == 1:
        bad.pop("p", None)
        bad.pop("k", None)
    else:
        bad["p"] = "NaN"
    return orjson.dumps(bad).decode()
