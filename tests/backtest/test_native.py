"""The compiled build of the hot modules (engine/native.py) changes no result: a backtest
run on the build and on pure Python writes byte-identical metrics and the same fills; a
build that no longer matches its sources is never used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import native
from tests.strategies_builtin.strategy_backtests import BTC_1M, write_config

REPO = Path(__file__).resolve().parents[2]

RUN = """
import json, sys
from engine import native
from engine.backtest.runner import run_backtest
from engine.config import load_config
import engine.bus, gateways.fillmodel
result = run_backtest(load_config(sys.argv[1], env={}))
print(json.dumps({"native": native.status(), "bus": engine.bus.__file__,
                  "metrics": result.metrics,
                  "fills": [[str(f.qty), str(f.price), str(f.fee), f.side.value]
                            for f in result.fills]}, sort_keys=True, default=str))
"""

STRATEGIES = """name = "ema"
class = "ema_cross"
symbol = "BTC/USD"
fast = 5
slow = 15
qty = "0.5"
allow_short = true
[[strategies]]
name = "bands"
class = "bollinger_reversion"
symbol = "BTC/USD"
qty = "0.2"
"""


def _backtest(config: Path, native_flag: str) -> dict[str, object]:
    env = {**os.environ, "TRADEENGINE_NATIVE": native_flag}
    done = subprocess.run([sys.executable, "-c", RUN, str(config)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@pytest.mark.skipif(not native.status()["active"],
                    reason=f"no compiled build in use ({native.status()['reason']}); "
                           "`tradeengine native build` makes one")
def test_compiled_and_pure_python_backtests_agree(tmp_path: Path) -> None:
    config = write_config(tmp_path, [BTC_1M], STRATEGIES, allow_short=True)
    compiled, pure = _backtest(config, "1"), _backtest(config, "0")
    assert compiled["native"]["active"] and str(compiled["bus"]).endswith(".so")  # type: ignore[index]
    assert not pure["native"]["active"] and str(pure["bus"]).endswith(".py")  # type: ignore[index]
    assert compiled["fills"], "the strategies should trade on these bars"
    assert compiled["fills"] == pure["fills"]
    assert compiled["metrics"] == pure["metrics"]


def test_a_build_that_no_longer_matches_its_sources_is_not_used(tmp_path: Path) -> None:
    build = tmp_path / native._tag()
    (build / "engine").mkdir(parents=True)
    (build / "engine" / "bus.so").write_bytes(b"")
    manifest = {"tag": native._tag(), "support": {},
                "modules": {"engine.bus": {"source": "engine/bus.py", "sha256": "0" * 64,
                                           "binary": "engine/bus.so"}}}
    (build / "manifest.json").write_text(json.dumps(manifest))
    binaries, reason = native._check(build)
    assert binaries is None and reason == "engine/bus.py changed since the build"
    manifest["tag"] = "cpython-27-elsewhere"
    (build / "manifest.json").write_text(json.dumps(manifest))
    assert native._check(build) == (None, f"built for cpython-27-elsewhere, this is "
                                          f"{native._tag()}")
    assert native._check(tmp_path / "nothing")[1].startswith("no build in ")
