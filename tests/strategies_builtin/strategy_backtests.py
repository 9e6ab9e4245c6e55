"""What the built-in strategy tests share: a zero-cost paper backtest config on real data,
and fills grouped into orders (the paper model may fill one order over several bars)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from engine.model import Fill

REPO = Path(__file__).resolve().parents[2]
BTC_1M = REPO / "tests" / "data" / "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz"


def write_config(tmp_path: Path, data: Sequence[Path], strategy: str, *,
                 allow_short: bool | None = None) -> Path:
    """A backtest file over ``data`` with no slippage or fees, plus one strategy table."""
    risk = "" if allow_short is None else f"[risk]\nallow_short = {str(allow_short).lower()}\n"
    files = ", ".join(f'"{p}"' for p in data)
    path = tmp_path / "bt.toml"
    path.write_text(f"""
[backtest]
data = [{files}]
starting_cash = "100000"
[paper]
slippage_bps = "0"
taker_fee_bps = "0"
maker_fee_bps = "0"
{risk}[[strategies]]
{strategy}
""")
    return path


def group_orders(fills: Sequence[Fill]) -> list[list[Fill]]:
    """Fills grouped by order, in the order each order first filled."""
    grouped: dict[object, list[Fill]] = {}
    for fill in fills:
        grouped.setdefault(fill.order_id, []).append(fill)
    return list(grouped.values())


def total_qty(fills: Sequence[Fill]) -> Decimal:
    """The quantity an order filled in all."""
    return sum((f.qty for f in fills), Decimal(0))
