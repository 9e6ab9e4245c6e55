"""``tradeengine backtest --config FILE [--from D] [--to D] [--report DIR] [--sweep k=v1,v2]``.

A sweep runs the grid (cartesian product of every ``--sweep``) in parallel processes, one
backtest each, and writes ``DIR/sweep.json`` (parameters and headline metrics per run), the
same as a table in ``DIR/sweep.html`` (linking to each run's page), and each run's report
in ``DIR/run-<n>/``. A sweep key names a strategy parameter: ``fast``
(every strategy that has it) or ``<strategy name>.fast``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from engine.config import Config, ConfigError, load_config

__all__ = ["add_backtest_command"]

_log = logging.getLogger(__name__)


def add_backtest_command(sub: Any) -> None:
    """Register the subcommand on the CLI's subparsers."""
    parser = sub.add_parser("backtest", help="run strategies over recorded data")
    parser.add_argument("--config", "-c", type=Path, required=True, help="backtest TOML file")
    parser.add_argument("--from", dest="start", help="first day (ISO date, UTC)")
    parser.add_argument("--to", dest="end", help="end day, exclusive (ISO date, UTC)")
    parser.add_argument("--report", type=Path, help="directory for metrics.json, PNG, HTML")
    parser.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="parameter grid (repeatable); runs in parallel processes")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel processes for a sweep (default: CPU count)")
    parser.set_defaults(func=cmd_backtest)


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    env: dict[str, str] = {}
    if args.start:
        env["TRADEENGINE_BACKTEST__START"] = json.dumps(args.start)
    if args.end:
        env["TRADEENGINE_BACKTEST__END"] = json.dumps(args.end)
    return env


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run one backtest, or a sweep."""
    env = {k: v for k, v in os.environ.items()}
    env.update(_overrides(args))
    config = load_config(args.config, env=env)
    from engine.runner import set_numba_cache_dir

    set_numba_cache_dir(config.state_dir)
    base = args.config.resolve().parent
    if args.report is not None:  # before the run: a path that cannot be written wastes it
        _writable_directory(args.report)
    if args.sweep:
        return _sweep(config, base, args)
    summary = _run_one(config, base, args.report)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def _writable_directory(path: Path) -> None:
    """Create ``path`` if need be; a ConfigError naming ``--report`` if it cannot be, or
    cannot be written to."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--report {path}: cannot create it: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"--report {path}: not writable")


def _run_one(config: Config, base: Path, report: Path | None) -> dict[str, Any]:
    from engine.backtest.report import write_report
    from engine.backtest.runner import run_backtest

    dsn = config.database.dsn.reveal() or None  # a configured database gets the record
    result = run_backtest(config, base=base, persist_dsn=dsn, report=report)
    for sid, (count, slowest, budget) in result.over_budget.items():
        print(f"tradeengine: strategy {sid}: {count} hook calls over its budget of "
              f"{budget:g} ms (slowest {slowest:.1f} ms); live it would have been halted "
              "(budget_ms raises the budget)", file=sys.stderr)
    if report is not None:
        title = f"backtest: {', '.join(result.metrics['strategies'])} on " \
                f"{', '.join(result.metrics['symbols'])}"
        write_report(report, metrics=result.metrics, ts_ns=result.ts_ns,
                     equity=result.equity, fills=result.fills, title=title)
    return result.metrics


def _grid(specs: list[str]) -> list[dict[str, Any]]:
    axes: list[tuple[str, list[Any]]] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not key or not values:
            raise ConfigError(f"--sweep {spec!r}: expected KEY=V1,V2,...")
        if key in (k for k, _ in axes):
            raise ConfigError(f"--sweep {key}: given twice (list its values once: "
                              f"{key}=V1,V2,...)")
        parsed = []
        for text in values.split(","):
            try:
                parsed.append(tomllib.loads(f"v = {text}")["v"])
            except tomllib.TOMLDecodeError:
                parsed.append(text)
        axes.append((key, parsed))
    return [dict(zip([k for k, _ in axes], combo, strict=True))
            for combo in itertools.product(*[v for _, v in axes])]


def _apply(config: Config, params: dict[str, Any]) -> Config:
    """The config with a sweep's parameter set: ``key`` sets that parameter of every
    strategy that has it (in its table or, by default, in its config class);
    ``name.key`` sets it on the strategy called ``name``."""
    strategies = [dict(t) for t in config.strategies]
    for key, value in params.items():
        name, _, param = key.rpartition(".")
        hit = False
        for table in strategies:
            if (table.get("name") == name) if name else _has_parameter(table, param):
                table[param] = value
                hit = True
        if not hit:
            raise ConfigError(f"--sweep {key}: no strategy has that parameter "
                              "(use <strategy name>.<key> to add one)")
    return msgspec.structs.replace(config, strategies=strategies)


def _has_parameter(table: dict[str, Any], param: str) -> bool:
    """Whether the strategy of ``table`` takes ``param`` (set there or left at its default)."""
    if param in table:
        return True
    from engine.plugins import PluginError, resolve_class  # noqa: PLC0415

    try:
        cls = resolve_class(str(table.get("class")))
    except PluginError:
        return False  # the run says what is wrong with the class
    return param in cls.config_class.__struct_fields__


def _sweep_worker(job: tuple[Config, Path, Path | None, dict[str, Any]]) -> dict[str, Any]:
    from engine.backtest.report import SWEEP_METRICS

    config, base, report, params = job
    logging.disable(logging.WARNING)
    try:
        metrics = _run_one(config, base, report)
    except ConfigError as exc:  # e.g. fast >= slow somewhere in the grid: that set only
        return {"params": params, "error": str(exc)}
    return {"params": params, **{k: metrics.get(k) for k in SWEEP_METRICS}}


def _sweep(config: Config, base: Path, args: argparse.Namespace) -> int:
    grid = _grid(args.sweep)
    jobs = []
    for n, params in enumerate(grid):
        report = args.report / f"run-{n}" if args.report else None
        jobs.append((_apply(config, params), base, report, params))
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(jobs)))) as pool:
        rows = list(pool.map(_sweep_worker, jobs))
    failed = [(n, row) for n, row in enumerate(rows) if "error" in row]
    if len(failed) == len(rows):
        raise ConfigError(f"--sweep: no parameter set is valid; run-0 {rows[0]['params']}: "
                          f"{rows[0]['error']}")
    for n, row in failed:
        print(f"tradeengine: --sweep run-{n} {row['params']} not run: {row['error']}",
              file=sys.stderr)
    text = json.dumps(rows, indent=2, sort_keys=True)
    if args.report:
        from engine.backtest.report import write_sweep_report

        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / "sweep.json").write_text(text + "\n")
        names = ", ".join(str(t.get("name")) for t in config.strategies)
        write_sweep_report(args.report, rows, f"sweep: {names} over {' x '.join(args.sweep)}")
    print(text, file=sys.stdout)
    return 0
