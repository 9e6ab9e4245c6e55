"""The ``tradeengine`` command.

Exit codes (sysexits): 0 ok, 69 a required service unavailable, 70 internal error,
78 bad configuration; 130 interrupted (Ctrl-C; ``run`` stops gracefully on it instead).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from engine.app import ExitCode
from engine.config import Config, ConfigError, load_config
from engine.database import DatabaseUnavailable

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]


def _version() -> str:
    try:
        return version("tradeengine")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", type=Path, default=os.environ.get("TRADEENGINE_CONFIG") or None,
        help="TOML config file (default: $TRADEENGINE_CONFIG, else built-in defaults)",
    )


def _load(path: Path | None) -> Config:
    return load_config(path)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the engine until SIGTERM/SIGINT."""
    from engine.runner import run_engine

    return run_engine(_load(args.config), args.config)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a config file and print the effective configuration (secrets redacted)."""
    config = _load(args.file)
    import msgspec

    from engine.app import build_app  # noqa: PLC0415
    from engine.runner import load_factory  # noqa: PLC0415

    # Wiring (no I/O) is what checks the strategies: class, keys, symbols, risk limits.
    build_app(config, config_path=args.file, execution=load_factory("execution"),
              market_data_gateway=load_factory("market_data"))
    print(json.dumps(msgspec.to_builtins(config, enc_hook=str), indent=2))
    print(f"{args.file}: ok", file=sys.stderr)
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> int:
    """Print the running engine's /status."""
    import urllib.error
    import urllib.request

    config = _load(args.config)
    url = args.url or f"http://{config.health.host}:{config.health.port}/status"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            print(json.dumps(json.loads(response.read()), indent=2))
    except (urllib.error.URLError, OSError) as exc:
        print(f"tradeengine status: cannot reach {url}: {exc}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    return ExitCode.OK


def _post_command(config: Config, name: str, body: dict[str, object], url: str | None) -> int:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    base = url or f"http://{config.health.host}:{config.health.port}"
    request = urllib.request.Request(
        f"{base}/commands/{name}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Actor": os.environ.get("USER", "cli")},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
    except (urllib.error.URLError, OSError) as exc:
        print(f"tradeengine: cannot reach the engine at {base}: {exc}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    print(json.dumps(answer, indent=2))
    return ExitCode.OK if answer.get("ok") else 1


def cmd_command(args: argparse.Namespace) -> int:
    """Send an operator command to the running engine (``tradeengine command NAME '{...}'``)."""
    try:
        body = json.loads(args.args) if args.args else {}
    except json.JSONDecodeError as exc:
        print(f"tradeengine: arguments are not JSON: {exc}", file=sys.stderr)
        return 64
    return _post_command(_load(args.config), args.name, body, args.url)


def cmd_kill_switch(args: argparse.Namespace) -> int:
    """Turn the kill switch on (HALTED: only cancels) or off."""
    body = {"on": args.state == "on", "reason": args.reason or "operator via CLI"}
    return _post_command(_load(args.config), "kill-switch", body, args.url)


def _type_name(tp: object) -> str:
    """``int``, ``Decimal``, ``int (gt=0)`` for an Annotated type with msgspec.Meta."""
    import types  # noqa: PLC0415
    import typing  # noqa: PLC0415

    if typing.get_origin(tp) is typing.Annotated:
        base, *metas = typing.get_args(tp)
        limits = [f"{k}={getattr(m, k)}" for m in metas
                  for k in ("gt", "ge", "lt", "le", "pattern") if getattr(m, k, None) is not None]
        return f"{_type_name(base)} ({', '.join(limits)})" if limits else _type_name(base)
    args = typing.get_args(tp)
    if args and typing.get_origin(tp) in (typing.Union, types.UnionType):  # Decimal | None
        return " | ".join(_type_name(a) for a in args)
    if args:  # list[str], tuple[str, ...]
        origin = typing.get_origin(tp)
        return (f"{getattr(origin, '__name__', origin)}"
                f"[{', '.join('...' if a is Ellipsis else _type_name(a) for a in args)}]")
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def cmd_strategies(args: argparse.Namespace) -> int:
    """List the discoverable strategies with their config schema, and those that cannot
    be loaded with the reason."""
    import msgspec  # noqa: PLC0415

    from engine.plugins import discover_all  # noqa: PLC0415

    listing: list[dict[str, Any]] = []
    for name, found in sorted(discover_all().items()):
        cls = found.cls
        if cls is None:
            listing.append({"name": name, "route": found.route, "error": found.error})
            continue
        fields: list[dict[str, Any]] = []
        for field in msgspec.structs.fields(cls.config_class):
            default = field.default
            if default is msgspec.NODEFAULT and field.default_factory is not msgspec.NODEFAULT:
                default = field.default_factory()
            fields.append({
                "key": field.name,
                "type": _type_name(field.type),
                "default": None if default is msgspec.NODEFAULT else str(default),
                "required": default is msgspec.NODEFAULT,
            })
        listing.append({"name": name, "route": found.route,
                        "class": f"{cls.__module__}:{cls.__qualname__}",
                        "type": cls.strategy_type,
                        "doc": next(iter((cls.__doc__ or "").strip().splitlines()), ""),
                        "config": fields})
    if args.json:
        print(json.dumps(listing, indent=2))
        return ExitCode.OK
    for entry in listing:
        if "error" in entry:
            print(f"{entry['name']}  ({entry['route']}) cannot be loaded: {entry['error']}\n")
            continue
        print(f"{entry['name']}  ({entry['type']}, {entry['class']}, {entry['route']})")
        if entry["doc"]:
            print(f"  {entry['doc']}")
        width = max((len(f["key"]) for f in entry["config"]), default=0)
        for f in entry["config"]:
            value = "required" if f["required"] else f"default {f['default']}"
            print(f"    {f['key']:<{width}}  {f['type']:<16}  {value}")
        print()
    return ExitCode.OK


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending schema migrations (starting the private cluster if configured so)."""
    from engine.runner import run_migrations

    return run_migrations(_load(args.config))


def cmd_native(args: argparse.Namespace) -> int:
    """Report on or build the compiled hot modules (engine/native.py)."""
    from engine import native

    return native.command(args.action, if_stale=args.if_stale)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradeengine", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tradeengine {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the engine")
    _config_arg(run)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=cmd_check_config)

    status = sub.add_parser("status", help="show the running engine's status")
    _config_arg(status)
    status.add_argument("--url", help="status URL (default from [health])")
    status.set_defaults(func=cmd_status)

    command = sub.add_parser("command", help="send an operator command to the running engine")
    _config_arg(command)
    command.add_argument("name", help="command name (GET /commands lists them)")
    command.add_argument("args", nargs="?", help="JSON object of arguments")
    command.add_argument("--url", help="engine base URL (default from [health])")
    command.set_defaults(func=cmd_command)

    kill = sub.add_parser("kill-switch", help="halt trading (on) or resume (off)")
    _config_arg(kill)
    kill.add_argument("state", choices=["on", "off"])
    kill.add_argument("--reason", help="recorded in risk_events and the alert")
    kill.add_argument("--url", help="engine base URL (default from [health])")
    kill.set_defaults(func=cmd_kill_switch)

    from engine.backtest.cli import add_backtest_command  # noqa: PLC0415

    add_backtest_command(sub)

    from engine.datacli import add_data_commands  # noqa: PLC0415

    add_data_commands(sub)

    strategies = sub.add_parser("strategies", help="list discoverable strategies and configs")
    strategies.add_argument("--json", action="store_true", help="as JSON, for tools")
    strategies.set_defaults(func=cmd_strategies)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    _config_arg(migrate)
    migrate.set_defaults(func=cmd_migrate)

    native = sub.add_parser("native", help="the compiled build of the hot modules (mypyc)")
    native.add_argument("action", choices=["status", "build"])
    native.add_argument("--if-stale", action="store_true",
                        help="build only when no build matches the sources")
    native.set_defaults(func=cmd_native)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradeengine`` console script."""
    args = _parser().parse_args(argv)
    func: Command = args.func
    try:
        return int(func(args))
    except ConfigError as exc:
        print(f"tradeengine: config error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except DatabaseUnavailable as exc:  # a backtest's database (run and migrate log their own)
        print(f"tradeengine: {exc}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    except KeyboardInterrupt:  # a backtest, an import ... cut short: not a success
        print("tradeengine: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # the reader went away (`tradeengine strategies | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:  # a bug: the traceback for the report, then sysexits' 70
        traceback.print_exc()
        print(f"tradeengine: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ExitCode.SOFTWARE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
