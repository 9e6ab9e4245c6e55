"""Compiled builds of the engine's hot modules (mypyc), used only while they match the sources.

The modules in :data:`HOT` are the per-bar and per-order path: plain, fully typed Python.
:func:`build` compiles them with mypyc (part of mypy) into a directory outside the source
tree, with a manifest of every source's SHA-256. :func:`activate`, run by
``engine/__init__.py`` before anything else of the engine is imported, lets Python import
those binaries instead of the sources, but only when the manifest matches this Python and
every compiled source byte for byte: an edited module, another interpreter or a missing
build means pure Python, never a stale binary. Results are the same either way (the suite
runs on the build; ``tests/backtest/test_native.py`` compares a backtest of both).

- ``TRADEENGINE_NATIVE=0``: pure Python even when a build matches.
- ``TRADEENGINE_NATIVE_DIR``: where builds live; default ``var/native/<python tag>`` in a
  source checkout, else ``$XDG_CACHE_HOME/tradeengine/native/<python tag>``.
- ``tradeengine native build [--if-stale]`` builds (needs mypy and a C compiler);
  ``tradeengine native status`` says whether a build matches and is in use, or why not.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

try:  # part of mypy, which builds the compiled modules
    from mypy_extensions import mypyc_attr
except ImportError:  # interpreted, without mypy installed: class options mean nothing
    def mypyc_attr(*_args: object, **_kwargs: object) -> Any:  # type: ignore[misc]
        """No-op stand-in for ``mypy_extensions.mypyc_attr``."""
        return lambda cls: cls

__all__ = ["HOT", "activate", "build", "command", "mypyc_attr", "native_dir", "status"]

HOT: tuple[str, ...] = (
    "engine/bus.py",
    "engine/clock.py",
    "engine/decimal_prices.py",
    "engine/model_fields.py",
    "engine/model_native.py",
    "engine/model_diff.py",
    "engine/strategy_context.py",
    "engine/strategy_actions.py",
    "engine/marketdata/state.py",
    "engine/backtest/runner.py",
    "engine/indicator_groups.py",
    "engine/indicator_hub.py",
    "engine/strategy_slot.py",
    "engine/strategy_reload.py",
    "engine/strategy_host.py",
    "engine/marketdata/replay_lane.py",
    "engine/marketdata/ringbuffer.py",
    "engine/oms/book.py",
    "engine/oms/fastobj.py",
    "engine/oms/profile.py",
    "engine/oms/states.py",
    "engine/oms/stops.py",
    "engine/oms/children.py",
    "engine/oms/transitions.py",
    "engine/oms/manager.py",
    "engine/risk/checks.py",
    "engine/portfolio/accounting.py",
    "engine/portfolio/marks.py",
    "engine/portfolio/portfolio.py",
    "engine/portfolio/performance.py",
    "engine/risk/guards.py",
    "engine/risk/engine.py",
    "engine/store/rows.py",
    "engine/store/copytext.py",
    "gateways/fillmodel.py",
    "gateways/paper.py",
)
"""Sources compiled by :func:`build`, relative to the directory holding ``engine/``."""

ROOT = Path(__file__).resolve().parent.parent
_MANIFEST = "manifest.json"
_state: dict[str, object] = {"active": False, "reason": "not activated", "modules": 0}


def _tag() -> str:
    return f"{sys.implementation.cache_tag}-{sysconfig.get_platform()}"


def native_dir() -> Path:
    """Where this interpreter's build lives (see the module docs)."""
    given = os.environ.get("TRADEENGINE_NATIVE_DIR")
    if given:
        return Path(given) / _tag()
    if (ROOT / "pyproject.toml").is_file():
        return ROOT / "var" / "native" / _tag()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "tradeengine" / "native" / _tag()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def _check(directory: Path) -> tuple[dict[str, Path] | None, str]:
    """The binaries of a build that matches the sources, by module name; or why not."""
    try:
        manifest = json.loads((directory / _MANIFEST).read_text())
    except FileNotFoundError:
        return None, f"no build in {directory}"
    except (OSError, ValueError) as exc:
        return None, f"unreadable manifest in {directory}: {exc}"
    if manifest.get("tag") != _tag():
        return None, f"built for {manifest.get('tag')}, this is {_tag()}"
    binaries: dict[str, Path] = {}
    for name, entry in manifest.get("modules", {}).items():
        source = ROOT / entry["source"]
        try:
            same = _digest(source) == entry["sha256"]
        except OSError:
            same = False
        if not same:
            return None, f"{entry['source']} changed since the build"
        binaries[name] = directory / entry["binary"]
    for name, binary in manifest.get("support", {}).items():
        binaries[name] = directory / binary
    missing = [str(p) for p in binaries.values() if not p.is_file()]
    if missing:
        return None, f"build incomplete: {missing[0]} is missing"
    return binaries, ""


class _NativeFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled binary of each module in a matching build."""

    def __init__(self, binaries: dict[str, Path]) -> None:
        self._binaries = binaries

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        binary = self._binaries.get(fullname)
        if binary is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(binary))
        return importlib.util.spec_from_file_location(fullname, binary, loader=loader)


def activate() -> None:
    """Use the compiled modules when a build matches the sources (idempotent)."""
    if _state["active"]:
        return
    if os.environ.get("TRADEENGINE_NATIVE", "1") == "0":
        _state.update(reason="disabled by TRADEENGINE_NATIVE=0")
        return
    binaries, reason = _check(native_dir())
    if binaries is None:
        _state.update(reason=reason)
        return
    loaded = [name for name in binaries if name in sys.modules and name.startswith(
        ("engine.", "gateways."))]
    if loaded:
        _state.update(reason=f"{loaded[0]} was imported before the build could be used")
        return
    sys.meta_path.insert(0, _NativeFinder(binaries))
    compiled = sum(1 for name in binaries if name.startswith(("engine.", "gateways.")))
    _state.update(active=True, reason="", modules=compiled)


def status() -> dict[str, object]:
    """``{"active": bool, "reason": str, "modules": int}`` (reason empty when active)."""
    return dict(_state)


def build(directory: Path | None = None, *, quiet: bool = False) -> Path:
    """Compile :data:`HOT` with mypyc into ``directory`` (default :func:`native_dir`) and
    write its manifest; raises ``RuntimeError`` when mypyc or the compiler fails."""
    directory = directory or native_dir()
    digests = {source: _digest(ROOT / source) for source in HOT}
    with tempfile.TemporaryDirectory(prefix="te-native-") as tmp:
        out = Path(tmp) / "lib"
        script = (
            "import sys\n"
            "from setuptools import setup\n"
            "from mypyc.build import mypycify\n"
            f"setup(name='tradeengine_native', py_modules=[],\n"
            f"      ext_modules=mypycify({list(HOT)!r}, opt_level='3', target_dir={tmp!r}),\n"
            f"      script_args=['build_ext', '--build-lib', {str(out)!r},\n"
            f"                   '--build-temp', {str(Path(tmp) / 'obj')!r}])\n"
        )
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, text=True,
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mypyc build failed:\n{(done.stdout + done.stderr)[-4000:]}")
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        modules: dict[str, dict[str, str]] = {}
        for source in HOT:
            binary = source.removesuffix(".py") + suffix
            if not (out / binary).is_file():
                raise RuntimeError(f"mypyc build made no {binary}")
            modules[_module_name(source)] = {"source": source, "sha256": digests[source],
                                             "binary": binary}
        support = {p.name.split(".")[0]: p.name for p in out.glob(f"*__mypyc{suffix}")}
        if any(_digest(ROOT / s) != d for s, d in digests.items()):
            raise RuntimeError("a source changed during the build; build again")
        staging = directory.with_name(directory.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(out, staging)
        (staging / _MANIFEST).write_text(json.dumps(
            {"tag": _tag(), "modules": modules, "support": support}, indent=1))
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
    if not quiet:
        print(f"built {len(modules)} modules into {directory}")
    return directory


def command(action: str, *, if_stale: bool = False) -> int:
    """``tradeengine native status|build``: report on, or (re)build, the compiled modules.
    A failed build is reported and leaves pure Python in use (exit 1)."""
    if action == "status":
        binaries, reason = _check(native_dir())
        active = status()
        print(f"native build {native_dir()}: "
              + (f"matches the sources ({len(binaries)} binaries)" if binaries else reason))
        print("this process: " + ("compiled modules in use" if active["active"]
                                  else f"pure Python ({active['reason']})"))
        return 0
    if if_stale and _check(native_dir())[0] is not None:
        return 0
    try:
        build()
    except (RuntimeError, OSError) as exc:
        print(f"native build failed, pure Python stays in use: {exc}", file=sys.stderr)
        return 1
    return 0
