"""Helpers shared by the benchmarks: timing with warm-up and medians, the JSON last line."""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any


def median_seconds(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 2) -> float:
    """Run ``fn`` ``warmup`` times unmeasured, then ``repeat`` times; the median seconds
    (each run after a full collection, as in :func:`median_seconds_rounds`)."""
    return median_seconds_rounds({"fn": fn}, rounds=repeat, warmup=warmup)["fn"]


def median_seconds_rounds(fns: dict[str, Callable[[], object]], *, rounds: int = 5,
                          warmup: int = 1) -> dict[str, float]:
    """The median seconds of each path, taken in rounds (each round runs every path once,
    after ``warmup`` unmeasured rounds), so that a slow spell of the machine touches every
    path alike and the ratios between them hold.

    Each run starts after a full collection: the cyclic garbage of the runs before it (a
    whole engine stack each, for some benches) is not the measured code's to collect. The
    collector stays on during the run, so what the code itself allocates is paid for.
    """
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for index in range(warmup + rounds):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            if index >= warmup:
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """Print a plain aligned table."""
    cells = [headers] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def emit(name: str, figures: dict[str, Any]) -> None:
    """The last line of every bench, after a line saying which build of the engine ran:
    ``native_modules`` is how many hot modules were compiled (0: pure Python)."""
    from engine import native  # noqa: PLC0415 - the benches put the repository on the path

    state = native.status()
    print("engine build: " + (f"compiled hot modules in use ({state['modules']}, "
                              "tradeengine native build)" if state["active"]
                              else f"pure Python ({state['reason']})"))
    print(json.dumps({"bench": name, "figures": {**figures,
                                                 "native_modules": state["modules"]}}))
