"""numba's cache goes where NUMBA_CACHE_DIR says (systemd points it at the state dir)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_kernels_cache_under_numba_cache_dir(tmp_path: Path) -> None:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    code = "import numpy as np, engine.indicators as i; print(i.sma(np.ones(5), 2)[-1])"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "1.0"
    assert list(tmp_path.rglob("*.nbi")), "no numba cache index written under NUMBA_CACHE_DIR"
