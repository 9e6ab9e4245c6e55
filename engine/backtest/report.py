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
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from engine.model import Fill, OrderSide

__all__ = ["SWEEP_METRICS", "write_report", "write_sweep_report"]


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


def write_sweep_report(directory: Path, rows: Sequence[dict[str, Any]], title: str) -> Path:
    """``DIR/sweep.html``: one line per run of the grid (``rows`` as in ``sweep.json``, in
    grid order, run ``n`` reported in ``DIR/run-<n>/``), linking to each run's page; a
    parameter set whose config was invalid (its row has ``error``) says why instead."""
    esc = html.escape
    keys = list(dict.fromkeys(k for row in rows for k in row.get("params", {})))
    head = "".join(f"<th>{esc(k)}</th>" for k in ["run", *keys]) + "".join(
        f"<th>{esc(label)}</th>" for _, label, _ in _SWEEP_COLUMNS)
    lines = []
    for n, row in enumerate(rows):
        params = row.get("params", {})
        error = row.get("error")
        cells = [f"<td>run-{n}</td>" if error else
                 f'<td><a href="run-{n}/report.html">run-{n}</a></td>']
        cells += [f"<td>{esc(str(params.get(k, '')))}</td>" for k in keys]
        cells += ([f'<td colspan="{len(_SWEEP_COLUMNS)}" class="error">not run: {esc(error)}'
                   "</td>"] if error else
                  [f"<td>{esc(_format(row.get(k), kind))}</td>" for k, _, kind in _SWEEP_COLUMNS])
        lines.append("<tr>" + "".join(cells) + "</tr>")
    path = directory / "sweep.html"
    body = "<table><tr>" + head + "</tr>\n" + "\n".join(lines) + "</table>\n"
    path.write_text(_page(title, body, "th, td { text-align: right; } "
                                       "td.error { text-align: left; color: #a00; }"))
    return path


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
    # the equity itself on the axis: an offset (+1e1 over 0.0025 ...) misreads as the value
    ax_eq.ticklabel_format(axis="y", style="plain", useOffset=False)
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


# What the page shows, in its order: (key, label, format). Keys not listed here are shown
# under "Other", so a new metric is never left out of the page.
_RETURNS = (
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("sharpe", "Sharpe ratio", "ratio"),
    ("sortino", "Sortino ratio", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("max_drawdown_duration_s", "Longest drawdown", "duration"),
    ("exposure", "Time in the market", "pct"),
)
_TRADING = (
    ("trades", "Round trips", "count"),
    ("win_rate", "Win rate", "pct"),
    ("profit_factor", "Profit factor", "ratio"),
    ("fills", "Fills", "count"),
    ("fees", "Fees", "money"),
    ("start_equity", "Start equity", "money"),
    ("end_equity", "End equity", "money"),
)
SWEEP_METRICS = ("total_return", "sharpe", "sortino", "max_drawdown", "trades", "win_rate",
                 "profit_factor", "fees")
"""The headline metrics a sweep keeps per run (``sweep.json``, ``sweep.html``)."""
_SWEEP_COLUMNS = tuple(next(c for c in _RETURNS + _TRADING if c[0] == key)
                       for key in SWEEP_METRICS)
_HEADER = ("strategies", "symbols", "data", "first_bar", "last_bar", "bars", "risk_rejections",
           "halted", "risk_state_changes", "warmup_bars", "by_strategy", "bad_bars")
_CONVENTIONS = (
    "Returns are per bar of the equity curve (marked at every bar close); Sharpe and Sortino "
    "are annualised from the median bar spacing, risk-free rate 0. Max drawdown is the "
    "largest fall from a running peak; the longest drawdown is the longest time below a "
    "previous peak. A round trip is a position from flat to flat (a flip closes one and "
    "opens the next); its result is realised PnL minus its fees. The exact figures are in "
    "metrics.json."
)


def _html(title: str, metrics: dict[str, Any], png: bytes) -> str:
    esc = html.escape
    period = (f"{_when(metrics.get('first_bar'))} to {_when(metrics.get('last_bar'))}, "
              f"{_format(metrics.get('bars'), 'count')} bars")
    if metrics.get("warmup_bars"):  # the indicators were warm at the first of them
        period += f", after {_format(metrics['warmup_bars'], 'count')} bars of warm-up"
    facts = [("Strategies", ", ".join(map(str, metrics.get("strategies") or [])) or "none"),
             ("Symbols", ", ".join(map(str, metrics.get("symbols") or [])) or "none"),
             ("Data", ", ".join(map(str, metrics.get("data") or [])) or "none"),
             ("Period (UTC)", period)]
    bad = metrics.get("bad_bars") or {}
    if bad:  # not traded on, not marked: the data's problem, said where the figures are
        facts.append(("Bars dropped by the feed's checks", ", ".join(
            f"{reason} {_format(n, 'count')}" for reason, n in sorted(bad.items()))))
    rejections = metrics.get("risk_rejections") or {}
    shown = {k for k, _, _ in _RETURNS + _TRADING} | set(_HEADER)
    other = [(str(k), _format(v, "")) for k, v in sorted(metrics.items()) if k not in shown]
    sections = [
        _table(None, facts),
        _table("Returns", [(label, _format(metrics.get(k), kind)) for k, label, kind in _RETURNS]),
        _table("Trading", [(label, _format(metrics.get(k), kind)) for k, label, kind in _TRADING]),
        _table("Orders refused by the risk engine",
               [(str(k), _format(v, "count")) for k, v in sorted(rejections.items())]
               or [("none", "")]),
    ]
    per_strategy = metrics.get("by_strategy") or {}
    if len(per_strategy) > 1:  # one strategy: the figures above are its own
        sections.append(_table("By strategy (its own fills and round trips)", [
            (str(sid), ", ".join(f"{label} {_format(m.get(k), kind)}" for k, label, kind in (
                ("fills", "fills", "count"), ("trades", "round trips", "count"),
                ("win_rate", "win rate", "pct"), ("pnl", "result", "money"),
                ("fees", "fees", "money"))))
            for sid, m in sorted(per_strategy.items())]))
    changes = metrics.get("risk_state_changes") or []
    if changes:
        sections.append(_table("Risk state changes (the guards, the daily reset)", [
            (_when(c.get("at")), f"{c.get('from')} -> {c.get('to')} ({c.get('source')}): "
                                 f"{c.get('reason')}") for c in changes]))
    halted = metrics.get("halted") or {}
    if halted:  # first after the facts: the figures hold these strategies' trades up to then
        sections.insert(1, _table(
            "Strategies halted during the run (they traded until then)",
            [(str(sid), f"{_when(h.get('at')) if h.get('at') else 'before the first bar'}: "
                        f"{h.get('reason')}") for sid, h in sorted(halted.items())]))
    if other:
        sections.append(_table("Other", other))
    image = base64.b64encode(png).decode()
    body = ("".join(sections)
            + '<img alt="equity curve with drawdown and trade markers" '
            + f'src="data:image/png;base64,{image}">\n'
            + f'<p class="note">{esc(_CONVENTIONS)}</p>\n')
    return _page(title, body, "body { max-width: 1150px; } table { min-width: 24em; }")


def _page(title: str, body: str, css: str = "") -> str:
    """A self-contained HTML page: the reports' shared style, then ``css``."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: left; }}
td {{ font-variant-numeric: tabular-nums; }}
th {{ font-weight: 600; }} img {{ max-width: 100%; }}
h2 {{ font-size: 1.1em; margin: 1.2em 0 0.4em; }}
.note {{ color: #555; font-size: 0.9em; max-width: 60em; }}
{css}
</style></head>
<body><h1>{html.escape(title)}</h1>
{body}</body></html>
"""


def _table(heading: str | None, rows: Sequence[tuple[str, str]]) -> str:
    head = f"<h2>{html.escape(heading)}</h2>\n" if heading else ""
    body = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                     for k, v in rows)
    return f"{head}<table>{body}</table>\n"


def _format(value: Any, kind: str) -> str:
    """A metric as people read it (``n/a`` where it is undefined, e.g. no losing trade)."""
    if value is None:
        return "n/a"
    if kind == "pct":
        return f"{float(value) * 100:,.2f}%"
    if kind == "ratio":
        return f"{float(value):,.2f}"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "money":
        try:
            return f"{Decimal(str(value)):,.2f}"
        except InvalidOperation:
            return str(value)
    if kind == "duration":
        return _duration(float(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _duration(seconds: float) -> str:
    """``2700660`` -> ``31 d 6 h 11 min``; under a minute in seconds."""
    if seconds < 60:
        return f"{seconds:g} s"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{mins} min" if mins else ""]
    return " ".join(p for p in parts if p)


def _when(iso: Any) -> str:
    """An ISO time as ``2021-12-31 23:01``."""
    if not iso:
        return "?"
    try:
        return datetime.fromisoformat(str(iso)).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(iso)
