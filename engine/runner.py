"""Process-level entry points behind the CLI: logging set-up, uvloop, exit codes."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import uvloop

from engine import native
from engine.app import Engine, ExitCode, build_app
from engine.config import Config
from engine.database import Database, DatabaseUnavailable
from engine.logs import configure_logging
from engine.secrets import Redactor

__all__ = ["run_engine", "run_migrations"]

_log = logging.getLogger(__name__)


def set_numba_cache_dir(state_dir: Path) -> Path:
    """Point numba's kernel cache at ``$NUMBA_CACHE_DIR`` (systemd sets it under the state
    directory), else ``<virtualenv>/numba-cache`` (shared by every engine and test run of
    one installation), else ``<state_dir>/numba-cache``, in a subdirectory named by a hash
    of the kernel sources.

    numba invalidates a cached kernel only when the kernel's own file changes, not when a
    function it inlines from another file does; a new subdirectory per source version
    means an upgrade never runs stale machine code. Must run before numba is imported.
    """
    import hashlib

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for folder in ("indicators", "marketdata"):
        for path in sorted((package / folder).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured and Path(configured).name == digest.hexdigest()[:16]:
        return Path(configured)  # set by a parent process (e.g. a backtest sweep)
    if configured:
        base = Path(configured)
    elif os.access(sys.prefix, os.W_OK):
        base = Path(sys.prefix) / "numba-cache"
    else:
        base = state_dir / "numba-cache"
    target = base / digest.hexdigest()[:16]
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    return target


def _setup(config: Config) -> Redactor:
    set_numba_cache_dir(config.state_dir)
    redactor = Redactor()
    redactor.register(*config.secrets())
    configure_logging(config.engine.log_level, redactor)
    return redactor


def run_engine(config: Config, config_path: Path | None) -> int:
    """Build the engine from ``config`` and run it on uvloop until it stops."""
    redactor = _setup(config)
    engine = build_app(config, config_path=config_path, redactor=redactor,
                       market_data_gateway=load_factory("market_data"),
                       execution=load_factory("execution"))
    build = native.status()
    _log.info("starting", extra={"engine": config.engine.name, "mode": config.engine.mode,
                                 "config": str(config_path) if config_path else "defaults",
                                 "build": "compiled" if build["active"] else "pure Python",
                                 "build_note": build["reason"] or f"{build['modules']} modules"})
    return int(uvloop.run(_run(engine)))


def load_factory(name: str) -> Any:
    """A factory from the ``tradeengine.gateways`` entry points (the adapters package)."""
    for entry in entry_points(group="tradeengine.gateways"):
        if entry.name == name:
            return entry.load()
    _log.warning("no %r gateway factory installed (entry point group tradeengine.gateways)",
                 name)
    return None


async def _run(engine: Engine) -> ExitCode:
    return await engine.run()


def run_migrations(config: Config) -> int:
    """Apply pending migrations and exit (``tradeengine migrate``)."""
    _setup(config)

    async def migrate() -> int:
        database = Database(config)
        try:
            await database.start()
        except DatabaseUnavailable as exc:
            _log.error("%s", exc)
            return ExitCode.UNAVAILABLE
        finally:
            await database.close(timeout=10.0)
        applied = database.applied_migrations
        _log.info("migrations applied", extra={"applied": applied, "count": len(applied)})
        return ExitCode.OK

    return int(asyncio.run(migrate()))
