"""The backtest report: ``metrics.json``, ``equity.png`` and one self-contained HTML page.

Nothing in the report depends on the wall clock or on where files live, so two runs of the
same config write byte-identical ``metrics.json`` (and PNGs, whose metadata is pinned).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.model import Fill, OrderSide

__all__ = ["write_report"]


def write_report(
    directory: Path,
    *,
    metrics: dict[str, Any],
    ts_ns: Sequence[int],
    equity: Sequence[float],
    fills: Sequence[Fill],
    title: str,
) -> dict[str, Path]:
    """Write the three files into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    metrics_path = directory / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    png_path = directory / "equity.png"
    png = _equity_png(ts_ns, equity, fills, title)
    png_path.write_bytes(png)
    html_path = directory / "report.html"
    html_path.write_text(_html(title, metrics, png))
    return {"metrics": metrics_path, "png": png_path, "html": html_path}


def _equity_png(ts_ns: Sequence[int], equity: Sequence[float], fills: Sequence[Fill],
                title: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    times = [datetime.fromtimestamp(t / 1e9, tz=UTC) for t in ts_ns]
    eq = np.array([float(e) for e in equity])
    peaks = np.maximum.accumulate(eq) if len(eq) else eq
    drawdown = np.where(peaks > 0, (eq - peaks) / peaks * 100, 0.0) if len(eq) else eq
    fig, (ax_eq, ax_dd) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 1]})
    ax_eq.plot(times, eq, color="#1f77b4", linewidth=1.0, label="equity")
    index = {t: i for i, t in enumerate(ts_ns)}
    for side, marker, color in ((OrderSide.BUY, "^", "#2ca02c"), (OrderSide.SELL, "v", "#d62728")):
        pts = [(times[_nearest(ts_ns, index, f.ts_ns)], eq[_nearest(ts_ns, index, f.ts_ns)])
               for f in fills if f.side is side] if len(eq) else []
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax_eq.scatter(xs, ys, marker=marker, color=color, s=14, label=side.value, zorder=3)
    ax_eq.set_title(title)
    ax_eq.set_ylabel("equity")
    ax_eq.legend(loc="upper left")
    ax_eq.grid(alpha=0.3)
    ax_dd.fill_between(times, drawdown, 0, color="#d62728", alpha=0.4)
    ax_dd.set_ylabel("drawdown %")
    ax_dd.grid(alpha=0.3)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax_dd.xaxis.set_major_locator(locator)
    ax_dd.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _nearest(ts_ns: Sequence[int], index: dict[int, int], t: int) -> int:
    found = index.get(t)
    if found is not None:
        return found
    return max(0, min(len(ts_ns) - 1, int(np.searchsorted(np.asarray(ts_ns), t))))


def _html(title: str, metrics: dict[str, Any], png: bytes) -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in sorted(metrics.items())
    )
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: left; }}
th {{ font-weight: 600; }} img {{ max-width: 100%; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
<table>{rows}</table>
<img alt="equity curve with drawdown and trade markers" src="data:image/png;base64,{image}">
</body></html>
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)
