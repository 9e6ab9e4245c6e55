"""Benchmark: engine.indicators vs TA-Lib vs ta-lib-takt on 1,000,000 bars, and
the streaming state vs TA-Lib's streaming handles.

Run as ``scripts/bench indicators`` (or ``.venv/bin/python scripts/benches/indicators.py``).
Seeded data is written once to var/bench/; TA-Lib and ta-lib-takt ship their C
core under the same file name, so each runs in its own process (takt from its
own venv, var/bench/venv-takt), alternating rounds. Medians throughout; the last
line is one JSON object. All processes run with the same glibc malloc settings
(``MALLOC_ENV``) so that no side pays for page-faulting its outputs back in.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import emit

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var" / "bench"
TAKT_PY = VAR / "venv-takt" / "bin" / "python"
N_BARS = 1_000_000
REPS = 21
ROUNDS = 5
SEVEN = ("SMA", "EMA", "RSI", "MACD", "BBANDS", "ATR", "STDDEV")
OTHERS = ("WMA", "STOCH", "ADX", "OBV", "ROC")
KS = (1, 100, 1_000, 10_000)
# Every process of this bench keeps freed memory in the heap. By default glibc
# hands a freed 8-24 MB block back to the OS and page-faults it in again on the
# next call, which added ~3-4 ms to each TA-Lib/takt MACD and BBANDS call (their
# wrapper allocates the outputs) and nothing to ours (preallocated): a cost of
# the process's malloc state, not of the indicator code.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "67108864", "MALLOC_TRIM_THRESHOLD_": "4294967296"}


def make_data(path: Path) -> None:
    """Seeded OHLCV random walk, saved once for every process to read."""
    rng = np.random.default_rng(20261123)
    c = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, N_BARS)))
    h = c * (1.0 + np.abs(rng.normal(0.0, 0.004, N_BARS)))
    lo = c * (1.0 - np.abs(rng.normal(0.0, 0.004, N_BARS)))
    v = rng.integers(1, 1000, N_BARS).astype(np.float64)
    np.save(path, np.stack([h, lo, c, v]))


def median_ms(fn: Callable[[], object], reps: int = REPS) -> float:
    """Median wall time of ``fn`` in ms after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def talib_calls(
    ta: Any, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray
) -> dict[str, Callable[[], object]]:
    """The TA-Lib (or takt) function calls, same parameters as ours."""
    return {
        "SMA": lambda: ta.SMA(c, 30),
        "EMA": lambda: ta.EMA(c, 30),
        "RSI": lambda: ta.RSI(c, 14),
        "MACD": lambda: ta.MACD(c, 12, 26, 9),
        "BBANDS": lambda: ta.BBANDS(c, 20, 2.0, 2.0),
        "ATR": lambda: ta.ATR(h, lo, c, 14),
        "STDDEV": lambda: ta.STDDEV(c, 20, 1.0),
        "WMA": lambda: ta.WMA(c, 30),
        "STOCH": lambda: ta.STOCH(h, lo, c, 14, 3, 0, 3, 0),
        "ADX": lambda: ta.ADX(h, lo, c, 14),
        "OBV": lambda: ta.OBV(c, v),
        "ROC": lambda: ta.ROC(c, 10),
    }


def worker(data: Path) -> None:
    """Child process: time the importable ``talib`` (TA-Lib or takt); print JSON."""
    import talib

    h, lo, c, v = np.load(data)
    res = {k: median_ms(f) for k, f in talib_calls(talib, h, lo, c, v).items()}
    stream: dict[str, float] = {}
    try:
        from talib import stream as ts

        hist = c[:200]
        for name, make in (
            ("EMA", lambda: ts.EMA(hist, timeperiod=20)),
            ("RSI", lambda: ts.RSI(hist, timeperiod=14)),
            ("SMA", lambda: ts.SMA(hist, timeperiod=20)),
        ):
            handles = [make() for _ in range(1000)]
            bars = c[200:1200].tolist()

            def run(handles: list[Any] = handles, bars: list[float] = bars) -> None:
                for hd, b in zip(handles, bars, strict=True):
                    hd.update(b)

            stream[name] = median_ms(run, 9) * 1e6 / 1000
    except (ImportError, AttributeError):
        pass
    print(json.dumps({"version": talib.__version__, "batch": res, "stream": stream}))


def ours_batch(h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray) -> dict[str, float]:
    """Time engine.indicators with preallocated outputs (and the seven allocating)."""
    import engine.indicators as ind

    o1, o2, o3 = (np.empty(N_BARS) for _ in range(3))
    calls: dict[str, Callable[[], object]] = {
        "SMA": lambda: ind.sma(c, 30, out=o1),
        "EMA": lambda: ind.ema(c, 30, out=o1),
        "RSI": lambda: ind.rsi(c, 14, out=o1),
        "MACD": lambda: ind.macd(c, 12, 26, 9, out=(o1, o2, o3)),
        "BBANDS": lambda: ind.bbands(c, 20, 2.0, 2.0, out=(o1, o2, o3)),
        "ATR": lambda: ind.atr(h, lo, c, 14, out=o1),
        "STDDEV": lambda: ind.stddev(c, 20, 1.0, out=o1),
        "WMA": lambda: ind.wma(c, 30, out=o1),
        "STOCH": lambda: ind.stoch(h, lo, c, 14, 3, 3, out=(o1, o2)),
        "ADX": lambda: ind.adx(h, lo, c, 14, out=o1),
        "OBV": lambda: ind.obv(c, v, out=o1),
        "ROC": lambda: ind.roc(c, 10, out=o1),
        "ZSCORE": lambda: ind.zscore(c, 20, out=o1),
        "VWAP": lambda: ind.vwap(h, lo, c, v, 20, out=o1),
        # The seven again allocating their outputs, as TA-Lib's wrapper does.
        "SMA+": lambda: ind.sma(c, 30),
        "EMA+": lambda: ind.ema(c, 30),
        "RSI+": lambda: ind.rsi(c, 14),
        "MACD+": lambda: ind.macd(c, 12, 26, 9),
        "BBANDS+": lambda: ind.bbands(c, 20, 2.0, 2.0),
        "ATR+": lambda: ind.atr(h, lo, c, 14),
        "STDDEV+": lambda: ind.stddev(c, 20, 1.0),
    }
    return {k: median_ms(f) for k, f in calls.items()}


def ours_stream(c: np.ndarray) -> dict[int, dict[str, float]]:
    """ns per symbol-update of EMA(20), RSI(14), SMA(20) state for each K."""
    import engine.indicators as ind

    out: dict[int, dict[str, float]] = {}
    for k in KS:
        bars = np.ascontiguousarray(c[: 64 * k].reshape(64, k))
        row: dict[str, float] = {}
        for name, state in (
            ("EMA", ind.EmaState(20, k)),
            ("RSI", ind.RsiState(14, k)),
            ("SMA", ind.SmaState(20, k)),
        ):
            state.seed(bars[:32])
            live = bars[32:]

            def run(state: Any = state, live: np.ndarray = live) -> None:
                for i in range(live.shape[0]):
                    state.update(live[i])

            row[name] = median_ms(run, 9) * 1e6 / (live.shape[0] * k)
        out[k] = row
    return out


def startup_seconds() -> float | None:
    """Warm-cache start-up: import + warm_up() in a fresh process (second run)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(VAR / "numba-cache"))
    code = (
        "import time; t=time.perf_counter(); import engine.indicators as i; i.warm_up(); "
        "print(time.perf_counter()-t)"
    )
    val = None
    for _ in range(2):
        r = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if r.returncode != 0:
            return None
        val = float(r.stdout.strip().splitlines()[-1])
    return val


def ensure_takt() -> bool:
    """Create var/bench/venv-takt with ta-lib-takt if it is missing; False if impossible."""
    if TAKT_PY.exists():
        return True
    venv = TAKT_PY.parent.parent
    print(f"creating {venv} for ta-lib-takt ...", flush=True)
    try:
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "ta-lib-takt==0.8.2", "numpy"],
            check=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"ta-lib-takt could not be installed ({exc}); takt figures are null")
        return False
    return TAKT_PY.exists()


def run_worker(python: Path, data: Path) -> dict[str, Any] | None:
    """Run this file as a worker under ``python``; parse its JSON."""
    r = subprocess.run(
        [str(python), __file__, "--worker", str(data)],
        env=dict(os.environ, **MALLOC_ENV),
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        print(f"worker {python} failed: {r.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    parsed: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return parsed


def main() -> None:
    """Run everything, print the table and the JSON line."""
    VAR.mkdir(parents=True, exist_ok=True)
    data = VAR / "indicators-1m.npy"
    if not data.exists():
        make_data(data)
    h, lo, c, v = np.load(data)
    have_takt = ensure_takt()
    ta_runs: list[dict[str, Any]] = []
    takt_runs: list[dict[str, Any]] = []
    ours_runs: list[dict[str, float]] = []
    for _ in range(ROUNDS):  # alternate the three so drift hits all alike
        if (t := run_worker(Path(sys.executable), data)) is not None:
            ta_runs.append(t)
        if have_takt and (t := run_worker(TAKT_PY, data)) is not None:
            takt_runs.append(t)
        ours_runs.append(ours_batch(h, lo, c, v))

    def med(runs: list[dict[str, float]], key: str) -> float | None:
        vals = [r[key] for r in runs if key in r]
        return statistics.median(vals) if vals else None

    names = SEVEN + OTHERS + ("ZSCORE", "VWAP")
    ours = {k: med(ours_runs, k) for k in names}
    ta = {k: med([r["batch"] for r in ta_runs], k) for k in names}
    takt = {k: med([r["batch"] for r in takt_runs], k) for k in names}
    print(
        f"\nbatch, {N_BARS:,} bars, median ms "
        f"({REPS} reps x {ROUNDS} rounds; ours with preallocated outputs)"
    )
    print(
        f"{'indicator':10s} {'ours':>8s} {'talib':>8s} {'takt':>8s} "
        f"{'ours/talib':>11s} {'ours/takt':>10s} {'takt/talib':>11s}"
    )

    def fmt(x: float | None, w: int, d: int = 2) -> str:
        return f"{x:{w}.{d}f}" if x is not None else f"{'-':>{w}s}"

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b is not None else None

    for k in names:
        print(
            f"{k:10s} {fmt(ours[k], 8)} {fmt(ta[k], 8)} {fmt(takt[k], 8)} "
            f"{fmt(ratio(ours[k], ta[k]), 11)} {fmt(ratio(ours[k], takt[k]), 10)} "
            f"{fmt(ratio(takt[k], ta[k]), 11)}"
        )
    sum7 = {
        src: sum(d[k] or 0.0 for k in SEVEN) if all(d[k] for k in SEVEN) else None
        for src, d in (("ours", ours), ("ta", ta), ("takt", takt))
    }
    print(
        f"{'SUM7':10s} {fmt(sum7['ours'], 8)} {fmt(sum7['ta'], 8)} {fmt(sum7['takt'], 8)} "
        f"{fmt(ratio(sum7['ours'], sum7['ta']), 11)} {fmt(ratio(sum7['ours'], sum7['takt']), 10)} "
        f"{fmt(ratio(sum7['takt'], sum7['ta']), 11)}"
    )
    alloc = [med(ours_runs, k + "+") for k in SEVEN]
    sum7_alloc = sum(a for a in alloc if a is not None) if all(alloc) else None
    print(
        f"{'SUM7 alloc':10s} {fmt(sum7_alloc, 8)} {'':8s} {'':8s} "
        f"{fmt(ratio(sum7_alloc, sum7['ta']), 11)} {fmt(ratio(sum7_alloc, sum7['takt']), 10)}"
        "   (ours allocating its outputs, like TA-Lib's wrapper)"
    )
    stream = ours_stream(c)
    ta_stream = {k: med([r["stream"] for r in ta_runs], k) for k in ("EMA", "RSI", "SMA")}
    print("\nstreaming, ns per symbol-update (ours: one update() call advances K symbols)")
    print(f"{'K':>7s} {'EMA':>8s} {'RSI':>8s} {'SMA':>8s} {'sum3':>8s}")
    for k in KS:
        r = stream[k]
        print(f"{k:7d} {r['EMA']:8.2f} {r['RSI']:8.2f} {r['SMA']:8.2f} {sum(r.values()):8.2f}")
    ta_sum = (
        sum(x for x in ta_stream.values() if x is not None) if all(ta_stream.values()) else None
    )
    print(
        f"{'talib':>7s} {fmt(ta_stream['EMA'], 8)} {fmt(ta_stream['RSI'], 8)} "
        f"{fmt(ta_stream['SMA'], 8)} {fmt(ta_sum, 8)}"
        "   (TA-Lib 0.8 stream handles, one update(bar) per symbol)"
    )
    boot = startup_seconds()
    print(f"\nwarm-cache start-up (import + warm_up of every kernel): {fmt(boot, 6, 3)} s")
    ratios7 = [ratio(ours[k], ta[k]) for k in SEVEN]
    figures = {
        "ratio_sum7_vs_talib": ratio(sum7["ours"], sum7["ta"]),
        "ratio_max_vs_talib": max(r for r in ratios7 if r is not None) if all(ratios7) else None,
        "ratio_sum7_vs_takt": ratio(sum7["ours"], sum7["takt"]),
        "stream_ns_k1000": sum(stream[1000].values()),
        "stream_ns_k1000_talib": ta_sum,
        "ratio_sum7_alloc_vs_talib": ratio(sum7_alloc, sum7["ta"]),
        "sum7_ms_ours": sum7["ours"],
        "sum7_ms_ours_alloc": sum7_alloc,
        "sum7_ms_talib": sum7["ta"],
        "sum7_ms_takt": sum7["takt"],
        "startup_s": boot,
    }
    emit("indicators", figures)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]))
    elif any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        # glibc reads these at start-up only: restart this process with them.
        os.execve(sys.executable, [sys.executable, *sys.argv], dict(os.environ, **MALLOC_ENV))
    else:
        sys.path.insert(0, str(ROOT))
        main()
