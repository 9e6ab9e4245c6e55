"""Finding and loading strategy plugins.

A ``[[strategies]]`` table names its class in ``class``, by one of three routes, tried in
this order:

1. a ``module:Class`` path (``mypkg.strats:MyStrategy``);
2. an entry point in the ``tradeengine.strategies`` group (``ema_cross``);
3. a module of that name in the ``strategies`` package (``strategies/ema_cross.py``), whose
   one :class:`~engine.strategy.Strategy` subclass is taken.

The engine itself never imports ``strategies`` statically; it loads them by name, like any
other plugin.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import msgspec

from engine.config import ConfigError
from engine.ids import StrategyId
from engine.marketdata.timeframes import TimeframeError, validate_timeframe
from engine.strategy import Strategy, StrategyConfig

__all__ = [
    "ENTRY_POINT_GROUP",
    "Discovered",
    "LoadedStrategy",
    "PluginError",
    "check_symbols",
    "config_dict",
    "discover",
    "discover_all",
    "instantiate",
    "named_timeframes",
    "resolve_class",
]

ENTRY_POINT_GROUP = "tradeengine.strategies"
BUILTIN_PACKAGE = "strategies"
_RESERVED_KEYS = frozenset({"name", "class", "enabled", "budget_ms"})


class PluginError(Exception):
    """A strategy plugin cannot be found or imported."""


@dataclass(frozen=True, slots=True)
class LoadedStrategy:
    """A strategy instance with where it came from."""

    strategy: Strategy[Any]
    spec: str
    module: str
    enabled: bool
    budget_ms: float | None


def resolve_class(spec: str) -> type[Strategy[Any]]:
    """Find the Strategy class named by ``spec`` (see the module docstring)."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        module = _import(module_name, spec)
        cls = getattr(module, attr, None)
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise PluginError(f"{spec}: {module_name} has no Strategy class {attr!r}")
        return cls
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == spec:
            cls = entry.load()
            if not (isinstance(cls, type) and issubclass(cls, Strategy)):
                raise PluginError(f"entry point {spec} is not a Strategy class")
            return cls
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", spec):
        raise PluginError(f"{spec!r}: not a module:Class path, entry point or strategy name")
    return _single_strategy_in(_import(f"{BUILTIN_PACKAGE}.{spec}", spec), spec)


def reload_class(cls: type[Strategy[Any]]) -> type[Strategy[Any]]:
    """Re-import the module of ``cls`` and return the class of the same name from it."""
    module = sys.modules.get(cls.__module__)
    if module is None:
        raise PluginError(f"module {cls.__module__} is not loaded")
    try:
        fresh = importlib.reload(module)
    except Exception as exc:
        raise PluginError(f"reloading {cls.__module__} failed: {exc!r}") from exc
    new_cls = getattr(fresh, cls.__name__, None)
    if not (isinstance(new_cls, type) and issubclass(new_cls, Strategy)):
        raise PluginError(f"{cls.__module__} no longer defines {cls.__name__}")
    return new_cls


def instantiate(index: int, table: dict[str, Any]) -> LoadedStrategy:
    """Build the strategy of ``[[strategies]]`` entry ``index``; errors name the key."""
    name = table.get("name")
    where = f"strategies[{index}]"
    spec = table.get("class")
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"{where}.class: required (a strategy name, module:Class or entry point)")
    try:
        cls = resolve_class(spec)
    except PluginError as exc:
        raise ConfigError(f"{where}.class: {exc}") from None
    params = {k: v for k, v in table.items() if k not in _RESERVED_KEYS}
    config = validate_config(cls.config_class, params, where, f" (strategy {name!r})")
    _check_timeframes(config, where, f" (strategy {name!r})")
    budget = table.get("budget_ms")
    if budget is not None and (not isinstance(budget, int | float) or budget <= 0):
        raise ConfigError(f"{where}.budget_ms: expected a number > 0, got {budget!r}")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled: expected bool, got {enabled!r}")
    return LoadedStrategy(cls(StrategyId(str(name)), config), spec, cls.__module__, enabled,
                          float(budget) if budget is not None else None)


def config_dict(config: StrategyConfig) -> dict[str, Any]:
    """A validated strategy config as a dict of its fields (values as they are)."""
    result: dict[str, Any] = msgspec.structs.asdict(config)
    return result


def validate_config(
    config_class: type[StrategyConfig], params: dict[str, Any], where: str, suffix: str = ""
) -> StrategyConfig:
    """Convert a table to ``config_class``; ``ConfigError`` names ``where`` and the key."""
    try:
        return msgspec.convert(params, type=config_class, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = re.match(r"^(?P<msg>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", text, re.S)
        assert match is not None
        message, path = match.group("msg").replace("`", ""), match.group("path") or ""
        unknown = re.match(r"Object contains unknown field (?P<key>\S+)", message)
        if unknown:
            return _raise(f"{where}.{unknown.group('key')}: unknown key{suffix}")
        missing = re.match(r"Object missing required field (?P<key>\S+)", message)
        if missing:
            return _raise(f"{where}.{missing.group('key')}: required{suffix}")
        got = f", got {params[path]!r}" if path in params else ""
        key = f"{where}.{path}" if path else where
        return _raise(f"{key}: {message[0].lower()}{message[1:]}{got}{suffix}")


def named_timeframes(config: StrategyConfig) -> list[tuple[str, str]]:
    """The timeframes a strategy config names, as ``(key, timeframe)``: its ``timeframe``
    (a string) and its ``timeframes`` (a string or a list). The feed builds them for it."""
    out: list[tuple[str, str]] = []
    for key in ("timeframe", "timeframes"):
        named = getattr(config, key, None)
        if isinstance(named, str):
            out.append((key, named))
        elif key == "timeframes" and named:
            out += [(key, str(timeframe)) for timeframe in named]
    return out


def _check_timeframes(config: StrategyConfig, where: str, suffix: str) -> None:
    """Each timeframe the config names must be one the feed can build."""
    for key, timeframe in named_timeframes(config):
        try:
            validate_timeframe(timeframe)
        except TimeframeError as exc:
            raise ConfigError(f"{where}.{key}: {exc}{suffix}") from None


def check_symbols(tables: list[dict[str, Any]], missing: dict[str, list[str]],
                  where: str) -> None:
    """``ConfigError`` naming the first ``[[strategies]]`` table whose strategy trades
    symbols that are ``missing`` (by strategy name), ``where`` saying what lacks them."""
    for index, table in enumerate(tables):
        symbols = missing.get(str(table.get("name")))
        if symbols:
            key = "symbols" if "symbols" in table else "symbol"
            raise ConfigError(f"strategies[{index}].{key}: {', '.join(symbols)} {where} "
                              f"(strategy {table.get('name')!r})")


def _raise(message: str) -> StrategyConfig:
    raise ConfigError(message)


def discover() -> dict[str, type[Strategy[Any]]]:
    """Every strategy reachable by name: built-ins and entry points."""
    return {name: found.cls for name, found in discover_all().items() if found.cls}


@dataclass(frozen=True, slots=True)
class Discovered:
    """A strategy name and what it leads to: its class, or why it cannot be loaded."""

    route: str
    """``strategies/`` (a module of the project's folder) or ``entry point``."""
    cls: type[Strategy[Any]] | None = None
    error: str = ""


def discover_all() -> dict[str, Discovered]:
    """Every name by which a strategy can be asked for, with its class or the error that
    loading it raises (``tradeengine strategies`` shows both: a plugin left out of the
    list without a word would leave its author guessing)."""
    names: list[tuple[str, str]] = []
    try:
        package = importlib.import_module(BUILTIN_PACKAGE)
        for path in sorted(getattr(package, "__path__", [])):
            import pkgutil

            names += [(info.name, f"{BUILTIN_PACKAGE}/") for info in pkgutil.iter_modules([path])
                      if not info.name.startswith("_")]
    except ImportError:
        pass
    names += [(entry.name, "entry point")
              for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    found: dict[str, Discovered] = {}
    for name, route in names:
        try:
            found[name] = Discovered(route, resolve_class(name))
        except PluginError as exc:
            found[name] = Discovered(route, error=str(exc))
    return found


def _import(module_name: str, spec: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise PluginError(f"{spec}: module {exc.name} not found") from None
    except Exception as exc:
        raise PluginError(f"{spec}: importing {module_name} failed: {exc!r}") from exc


def _single_strategy_in(module: ModuleType, spec: str) -> type[Strategy[Any]]:
    classes = [
        obj for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Strategy) and obj is not Strategy and obj.__module__ == module.__name__
    ]
    if len(classes) != 1:
        raise PluginError(f"{spec}: expected one Strategy class in {module.__name__}, "
                          f"found {len(classes)}")
    return classes[0]
