"""Bench: a backtest end to end: EMA cross (10/20, fixed size, market orders, paper fills)
over 1,000,000 seeded 1-minute bars, persistence off; then the same with persistence on
(orders, fills, positions written to a private PostgreSQL through the writer; a fresh
database per run), in the same rounds as the other engine figures, and once with the bars
written too.

Reference, same run: NautilusTrader's ``BacktestEngine`` with its example ``EMACross`` on
the first 100,000 of the same bars, installed by this script into its own virtual
environment (``var/bench/venv-nautilus``) and run in a fresh process once in each of the
engine's rounds; its figure is the median of those runs, like each engine figure (one run
alone moved by 40% between benches). Skipped with a message when it cannot be installed.
Both must make the same number of round trips on those bars (EMA seeding differs: TA-Lib
seeds with the SMA, Nautilus with the first value, so the first crossing may differ; the
check allows a difference of 2).

Also in the same run, to show where the time goes: the engine with a strategy that reads
what EMA cross reads every bar (the EMAs, its position and working orders, the same target
arithmetic) and never orders (the per-bar cost; the difference is the cost of the orders
and of the marks of bars that hold a position), and EMA cross as a plain Python loop with
no engine around it (bars in memory, Decimal position and cash; it makes the same trades).

Usage: scripts/bench backtest [--bars N] [--nautilus-bars N] [--runs N] [--no-persist]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, print_table

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / "var" / "bench"
WATCH = "_bench_strategies:EmaWatch"  # EMA cross's reads, no orders
NAUTILUS_VENV = BENCH_DIR / "venv-nautilus"
START_MS = 1_577_836_800_000  # 2020-01-01


def make_bars(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """A seeded random walk of 1-minute bars, prices rounded to cents (BTC-like)."""
    rng = np.random.default_rng(seed)
    close = np.round(30_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n))), 2)
    open_ = np.concatenate([[30_000.0], close[:-1]])
    wick = np.abs(rng.normal(0, 0.0003, (2, n)))
    high = np.ceil(np.maximum(open_, close) * (1 + wick[0]) * 100) / 100
    low = np.floor(np.minimum(open_, close) * (1 - wick[1]) * 100) / 100
    volume = np.round(rng.lognormal(1.0, 0.5, n), 4)
    ts = START_MS + np.arange(n, dtype=np.int64) * 60_000
    return {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}


def write_csv(bars: dict[str, np.ndarray], path: Path, n: int | None = None) -> None:
    n = len(bars["ts"]) if n is None else n
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write("ts_ms,open,high,low,close,volume\n")
        cols = [bars[k][:n] for k in ("ts", "open", "high", "low", "close", "volume")]
        for row in zip(*(c.tolist() for c in cols), strict=True):
            out.write("%d,%r,%r,%r,%r,%r\n" % row)  # noqa: UP031 - fast enough, exact repr


def engine_config(data: Path, workdir: Path, persist_dsn: str | None,
                  persist_bars: bool = False, strategy: str = "ema_cross") -> Path:
    text = f"""
[backtest]
persist_bars = {str(persist_bars).lower()}
data = ["{data}"]
symbol = "BTC/USDT"
exchange = "bench"
timeframe = "1m"
starting_cash = "10000000"

[risk]
allow_short = true
price_band_pct = "50"
max_daily_loss_pct = "100"
max_drawdown_pct = "100"

[risk.account]
max_order_notional = "100000000"
max_position_notional = "100000000"
max_gross_exposure = "100000000"
max_open_orders = 1000
max_orders_per_s = 1000000.0

[paper]
volume_share = "1"

[[strategies]]
name = "ema"
class = "{strategy}"
symbol = "BTC/USDT"
fast = 10
slow = 20
qty = "0.01"
allow_short = true
"""
    # one file per data file and strategy: the bench writes every config before running
    stem = f"{data.name.split('.')[0]}_{strategy.replace(':', '_')}"
    path = workdir / (("bt_persist_bars.toml" if persist_bars else "bt_persist.toml")
                      if persist_dsn else f"bt_{stem}.toml")
    path.write_text(text)
    return path


def run_engine(config_path: Path, persist_dsn: str | None) -> dict[str, float]:
    """Time one backtest in a fresh process (build + load + run), like a user runs it."""
    code = f"""
import json, time, sys
t0 = time.perf_counter()
from engine.config import load_config
from engine.backtest.runner import run_backtest, load_bars
from engine.backtest.metrics import round_trips
cfg = load_config({str(config_path)!r}, env={{}})
t1 = time.perf_counter()
result = run_backtest(cfg, persist_dsn={persist_dsn!r})
t2 = time.perf_counter()
print(json.dumps({{"bars": result.bars, "run_s": t2 - t1, "total_s": t2 - t0,
                  "fills": len(result.fills), "trips": len(round_trips(result.fills))}}))
"""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent),
                                                     env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=3600, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median time."""
    return sorted(runs, key=lambda r: r["run_s"])[len(runs) // 2]


def plain_loop(bars: dict[str, np.ndarray], n: int) -> dict[str, float]:
    """The issue's reference: EMA cross in a plain Python loop, no engine around it. Bars
    in memory as lists (not timed); float EMAs seeded with the SMA (as the engine's);
    market orders filled at the next bar's open with a 5 bps fee, Decimal position and
    cash. Returns bars, seconds, fills and round trips (the trips should match the
    engine's)."""
    opens, closes = bars["open"][:n].tolist(), bars["close"][:n].tolist()
    zero, qty, fee_rate = Decimal(0), Decimal("0.01"), Decimal(5) / 10_000
    k_fast, k_slow = 2 / 11, 2 / 21
    start = time.perf_counter()
    fast = slow = sum_fast = sum_slow = 0.0
    pos, cash, pending = zero, Decimal(10_000_000), zero
    fills = trips = 0
    for i in range(n):
        if pending:
            price = Decimal(repr(opens[i]))
            new = pos + pending
            if pos and (not new or (new > 0) != (pos > 0)):
                trips += 1
            cash -= pending * price + abs(pending) * price * fee_rate
            pos, pending = new, zero
            fills += 1
        x = closes[i]
        if i < 10:
            sum_fast += x
            fast = sum_fast / 10
        else:
            fast += k_fast * (x - fast)
        if i < 20:
            sum_slow += x
            slow = sum_slow / 20
        else:
            slow += k_slow * (x - slow)
        if i >= 20:
            delta = (qty if fast > slow else -qty) - pos
            if delta:
                pending = delta
    elapsed = time.perf_counter() - start
    return {"bars": n, "run_s": elapsed, "fills": fills, "trips": trips}


NAUTILUS_SCRIPT = r"""
import json, sys, time
from decimal import Decimal
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.config import BacktestEngineConfig, LoggingConfig
from nautilus_trader.examples.strategies.ema_cross import EMACross, EMACrossConfig
from nautilus_trader.model.currencies import USDT, BTC
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.test_kit.providers import TestInstrumentProvider

path = sys.argv[1]
df = pd.read_csv(path)
df.index = pd.to_datetime(df.pop("ts_ms"), unit="ms", utc=True)
instrument = TestInstrumentProvider.btcusdt_binance()
bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
bars = BarDataWrangler(bar_type, instrument).process(df)
t0 = time.perf_counter()
engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
engine.add_venue(venue=Venue("BINANCE"), oms_type=OmsType.NETTING,
                 account_type=AccountType.MARGIN, base_currency=None,
                 starting_balances=[Money(10_000_000, USDT), Money(100, BTC)])
engine.add_instrument(instrument)
engine.add_data(bars)
engine.add_strategy(EMACross(EMACrossConfig(instrument_id=instrument.id, bar_type=bar_type,
                                             trade_size=Decimal("0.01"), fast_ema_period=10,
                                             slow_ema_period=20)))
engine.run()
elapsed = time.perf_counter() - t0
fills = engine.trader.generate_order_fills_report()
signed = [(float(q) if s == "BUY" else -float(q))
          for s, q in zip(fills["side"], fills["filled_qty"])]
pos, trips = 0.0, 0
for q in signed:
    new = round(pos + q, 8)
    if pos != 0 and (new == 0 or (new > 0) != (pos > 0)):
        trips += 1
    pos = new
print(json.dumps({"bars": len(bars), "run_s": elapsed, "fills": len(signed), "trips": trips}))
"""


def install_nautilus() -> str | None:
    """Install NautilusTrader into its own venv (once); a message when it cannot be."""
    python = NAUTILUS_VENV / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(NAUTILUS_VENV)], check=True,
                           timeout=300)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "nautilus_trader"],
                           check=True, timeout=1800, capture_output=True)
        except (subprocess.SubprocessError, OSError) as exc:
            shutil.rmtree(NAUTILUS_VENV, ignore_errors=True)  # retry the install next time
            return f"NautilusTrader could not be installed: {exc}"
    return None


def run_nautilus(data: Path) -> dict[str, float] | str:
    """One NautilusTrader run in a fresh process: its figures, or why there are none."""
    python = NAUTILUS_VENV / "bin" / "python"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(NAUTILUS_SCRIPT)
    out = subprocess.run([str(python), handle.name, str(data)], capture_output=True, text=True,
                         timeout=3600, check=False)
    os.unlink(handle.name)
    if out.returncode != 0:
        return f"NautilusTrader run failed: {out.stderr.strip()[-800:]}"
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--nautilus-bars", type=int, default=100_000)
    parser.add_argument("--no-persist", action="store_true")
    parser.add_argument("--runs", type=int, default=3,
                        help="fresh-process runs per engine figure (the median is reported)")
    args = parser.parse_args()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    bars = make_bars(args.bars)
    work = Path(tempfile.mkdtemp(prefix="te-bench-bt-"))
    full, head = work / "bench_btcusdt_1m.csv.gz", work / "bench_btcusdt_1m_head.csv.gz"
    write_csv(bars, full)
    write_csv(bars, head, args.nautilus_bars)

    # Each engine figure is the median of --runs fresh-process runs, taken in rounds so
    # that a slow spell of the machine touches every configuration alike.
    configs = [engine_config(full, work, None), engine_config(full, work, None, strategy=WATCH),
               engine_config(head, work, None)]
    # NautilusTrader runs in the same rounds too (the ratio's two sides see the same spells
    # of the machine); its figure is the median of its runs, like the engine's.
    naut_missing = install_nautilus()
    naut_runs: list[dict[str, float] | str] = []

    def reference() -> None:
        if naut_missing is None:
            naut_runs.append(run_nautilus(head))

    persist: dict[str, float] | None = None
    persist_bars: dict[str, float] | None = None
    if args.no_persist:
        rounds = []
        for _ in range(args.runs):
            rounds.append([run_engine(c, None) for c in configs])
            reference()
    else:  # persistence on runs in the same rounds, each on a fresh database
        rounds, persist_bars = _rounds_with_database(configs, full, work, args.runs, reference)
        persisted = [r[-1] for r in rounds if r[-1] is not None]
        persist = _median(persisted) if persisted else None
    ours, watch, ours_head = (_median([r[i] for r in rounds]) for i in range(len(configs)))
    plain = min((plain_loop(bars, args.bars) for _ in range(3)), key=lambda r: r["run_s"])
    naut_ok = [r for r in naut_runs if isinstance(r, dict)]
    naut: dict[str, float] | str = (
        _median(naut_ok) if naut_ok else naut_missing or next(
            (r for r in naut_runs if isinstance(r, str)), "NautilusTrader did not run"))

    rows = [["engine, persistence off", ours["bars"], ours["run_s"], ours["bars"] / ours["run_s"],
             ours["fills"], ours["trips"]]]
    for label, run in (("engine, persistence on", persist),
                       ("engine, persistence on + bars", persist_bars)):
        if run is not None:
            rows.append([label, run["bars"], run["run_s"], run["bars"] / run["run_s"],
                         run["fills"], run["trips"]])
    rows.append(["engine, same reads, never orders", watch["bars"], watch["run_s"],
                 watch["bars"] / watch["run_s"], watch["fills"], watch["trips"]])
    rows.append(["plain Python loop (reference)", plain["bars"], plain["run_s"],
                 plain["bars"] / plain["run_s"], plain["fills"], plain["trips"]])
    rows.append(["engine, first N bars", ours_head["bars"], ours_head["run_s"],
                 ours_head["bars"] / ours_head["run_s"], ours_head["fills"], ours_head["trips"]])
    nautilus_bps = None
    if isinstance(naut, dict):
        nautilus_bps = naut["bars"] / naut["run_s"]
        rows.append(["NautilusTrader, first N bars", naut["bars"], naut["run_s"], nautilus_bps,
                     naut["fills"], naut["trips"]])
    print(f"EMA cross 10/20 over {args.bars:,} seeded 1m bars (run time excludes imports; "
          f"engine runs: median of {args.runs}, each in a fresh process)")
    print_table(["run", "bars", "seconds", "bars/s", "fills", "round trips"], rows)
    if naut_ok:
        print("NautilusTrader runs (bars/s): " + ", ".join(
            f"{r['bars'] / r['run_s']:,.0f}" for r in naut_ok))
    if isinstance(naut, str):
        print(naut)
    else:
        same = abs(naut["trips"] - ours_head["trips"]) <= 2
        print(f"round trips on the first {args.nautilus_bars:,} bars: engine "
              f"{ours_head['trips']}, NautilusTrader {naut['trips']} -> "
              f"{'same (within the seeding difference)' if same else 'DIFFERENT'}")
    bps = ours["bars"] / ours["run_s"]
    per_bar_us = 1e6 * watch["run_s"] / watch["bars"]
    per_order_us = 1e6 * (ours["run_s"] - watch["run_s"]) / max(1, ours["fills"])
    print(f"where the time goes: {per_bar_us:.2f} us per bar with no order (loading, "
          f"indicators, strategy, matcher, OMS, portfolio, curve and metrics), "
          f"{per_order_us:.0f} us per order (risk, OMS, paper fill, portfolio, marks; "
          f"{ours['fills']:,} orders); the plain loop: "
          f"{1e6 * plain['run_s'] / plain['bars']:.2f} us per bar")
    print("persistence on: orders, order events, fills, positions, performance and the "
          "backtests row;\n+ bars: also every bar into price_data ([backtest] persist_bars)")
    for label, run in (("persistence on", persist), ("persistence on + bars", persist_bars)):
        if run is not None:
            print(f"{label}: {run['bars'] / run['run_s'] / bps:.0%} of the persistence-off rate")
    print("target: 1,000,000 bars in <= 5 s (>= 200,000 bars/s), >= 40x NautilusTrader; "
          "persistence on >= 50% of off")
    emit("backtest", {
        "bars_per_s": round(bps),
        "nautilus_bars_per_s": round(nautilus_bps) if nautilus_bps else None,
        "ratio": round(bps / nautilus_bps, 2) if nautilus_bps else None,
        "bars_per_s_persist": round(persist["bars"] / persist["run_s"]) if persist else None,
        "bars_per_s_no_orders": round(watch["bars"] / watch["run_s"]),
        "us_per_order": round(per_order_us, 1),
        "plain_loop_bars_per_s": round(plain["bars"] / plain["run_s"]),
    })


def _rounds_with_database(configs: list[Path], data: Path, work: Path, runs: int,
                          reference: Callable[[], None],
                          ) -> tuple[list[list[Any]], dict[str, float] | None]:
    """The rounds of the engine figures with a persistence-on run in each (a fresh database
    per run, one private cluster), then the run with the bars too (once: no target)."""
    import asyncio  # noqa: PLC0415

    from engine.store.cluster import ENGINE_SETTINGS, PostgresCluster  # noqa: PLC0415

    cluster = PostgresCluster(work / "pg" / "data", settings=ENGINE_SETTINGS)
    asyncio.run(cluster.start(timeout=120))
    try:
        rounds: list[list[Any]] = []
        for index in range(runs):
            dsn = asyncio.run(_fresh_database(cluster, f"bt_{index}"))
            rounds.append([run_engine(c, None) for c in configs]
                          + [_persisted(engine_config(data, work, dsn), dsn)])
            reference()
        dsn = asyncio.run(_fresh_database(cluster, "bt_bars"))
        return rounds, _persisted(engine_config(data, work, dsn, persist_bars=True), dsn)
    finally:
        asyncio.run(cluster.stop())


async def _fresh_database(cluster: Any, name: str) -> str:
    import asyncpg  # noqa: PLC0415

    conn = await asyncpg.connect(cluster.dsn("postgres"), timeout=30)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn: str = cluster.dsn(name)
    return dsn


def _persisted(config_path: Path, dsn: str) -> dict[str, float] | None:
    try:
        return run_engine(config_path, dsn)
    except RuntimeError as exc:
        print(f"persistence run failed: {exc}")
        return None


if __name__ == "__main__":
    started = time.perf_counter()
    main()
