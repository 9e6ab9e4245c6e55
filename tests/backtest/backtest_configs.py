"""Backtest configs the backtest tests share: a file from a text, and EMA cross on the
bundled Coinbase BTC/USD minute bars (zero fees and slippage) with more tables appended."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BTC_1M = REPO / "tests" / "data" / "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz"


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bt.toml"
    path.write_text(text)
    return path


def ema_config(tmp_path: Path, extra: str = "") -> Path:
    return config_file(tmp_path, f"""
[backtest]
data = ["{BTC_1M}"]
starting_cash = "100000"
[paper]
slippage_bps = "0"
taker_fee_bps = "0"
[[strategies]]
name = "ema"
class = "ema_cross"
symbol = "BTC/USD"
fast = 5
slow = 15
qty = "0.5"
{extra}
""")
