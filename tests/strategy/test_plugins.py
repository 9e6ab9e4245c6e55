"""Loading strategies by each discovery route; config errors name strategy and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError
from engine.plugins import discover, discover_all, instantiate, resolve_class
from strategies.ema_cross import EmaCross, EmaCrossConfig

BASE = {"name": "e1", "symbol": "BTC/USD", "fast": 10, "slow": 20, "qty": "0.01"}


@pytest.mark.parametrize("spec", ["ema_cross", "strategies.ema_cross:EmaCross", "ema-cross"])
def test_each_route_loads_the_class(spec: str) -> None:
    assert resolve_class(spec) is EmaCross
    loaded = instantiate(0, {**BASE, "class": spec})
    assert isinstance(loaded.strategy, EmaCross)
    assert isinstance(loaded.strategy.config, EmaCrossConfig)
    assert str(loaded.strategy.config.qty) == "0.01"


def test_discover_lists_builtins_and_entry_points() -> None:
    found = discover()
    assert found["ema_cross"] is EmaCross
    assert found["ema-cross"] is EmaCross


def test_a_strategy_that_cannot_load_is_listed_with_its_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A half-written plugin in the strategies folder: listed with why, not left out."""
    import strategies

    (tmp_path / "half_written.py").write_text("class HalfWritten(:\n")
    monkeypatch.setattr(strategies, "__path__", [*strategies.__path__, str(tmp_path)])
    found = discover_all()
    broken = found["half_written"]
    assert broken.cls is None and broken.route == "strategies/"
    assert "importing strategies.half_written failed: SyntaxError" in broken.error
    assert (found["ema_cross"].cls, found["ema-cross"].route) == (EmaCross, "entry point")
    assert "half_written" not in discover()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"fast": -3}, "strategies[2].fast: expected int >= 1, got -3 (strategy 'e1')"),
        ({"fsat": 3}, "strategies[2].fsat: unknown key (strategy 'e1')"),
        ({"fast": 30}, "strategies[2]: fast (30) must be < slow (20) (strategy 'e1')"),
        ({"qty": "abc"}, "strategies[2].qty: invalid decimal string"),
        ({"class": "nope"}, "strategies[2].class: nope: module strategies.nope not found"),
        ({"class": "os:path"}, "strategies[2].class: os:path: os has no Strategy class"),
        ({"budget_ms": -1}, "strategies[2].budget_ms: expected a number > 0"),
        # a timeframe the feed cannot build would leave the strategy without bars
        ({"timeframe": "7m"}, "strategies[2].timeframe: timeframe '7m': bars are built from "
                              "1m bars"),
        ({"timeframe": "1s"}, "strategies[2].timeframe: timeframe '1s'"),
        ({"timeframe": "1x"}, "strategies[2].timeframe: bad timeframe '1x'"),
    ],
)
def test_config_errors_name_strategy_and_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        instantiate(2, {**BASE, "class": "ema_cross", **table})
    assert message in str(info.value)


def test_missing_required_key() -> None:
    with pytest.raises(ConfigError, match=r"strategies\[0\]\.symbol: required"):
        instantiate(0, {"name": "x", "class": "ema_cross"})


def test_cli_lists_strategies_with_their_config_schema() -> None:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "engine.cli", "strategies", "--json"],
                         capture_output=True, text=True, timeout=120, check=True)
    listing = {s["name"]: s for s in json.loads(out.stdout)}
    assert {"ema_cross", "rsi_momentum", "bollinger_reversion", "grid", "dca",
            "market_maker", "pairs"} <= set(listing)
    fields = {f["key"]: f for f in listing["ema_cross"]["config"]}
    assert fields["symbol"]["required"] is True
    assert fields["fast"] == {"key": "fast", "type": "int (gt=0)", "default": "10",
                              "required": False}
    assert listing["ema_cross"]["type"] == "momentum"
    text = subprocess.run([sys.executable, "-m", "engine.cli", "strategies"],
                          capture_output=True, text=True, timeout=120, check=True).stdout
    assert "ema_cross  (momentum, strategies.ema_cross:EmaCross, strategies/)\n" in text
    assert "ema-cross  (momentum, strategies.ema_cross:EmaCross, entry point)\n" in text
    assert "    symbol       str               required\n" in text
    assert "    fast         int (gt=0)        default 10\n" in text
