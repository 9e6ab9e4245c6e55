"""Typed configuration: TOML file, then environment overrides, validated into frozen objects.

Every setting has a default, so ``tradeengine run`` works with no file at all;
``config/default.toml`` lists every key with its default and is checked against this module
by the tests.

Environment overrides: ``TRADEENGINE_<SECTION>__<KEY>=value`` (nested keys add ``__``:
``TRADEENGINE_EXCHANGE__URLS__API``). The value is read as a TOML value when it parses as
one (``9000``, ``true``, ``["a", "b"]``) and as a plain string otherwise.

Secrets (:class:`~engine.secrets.Secret`) may also come from systemd credentials: a
credential named ``<section>.<key>`` (e.g. ``database.dsn``) fills that key.

Errors raise :class:`ConfigError` whose message starts with the key path, e.g.
``health.port: expected int <= 65535, got 70000``; the CLI exits 78 on it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from engine.config_sections import (
    BacktestConfig,
    DatabaseConfig,
    EngineConfig,
    ExchangeConfig,
    HealthConfig,
    MarketDataConfig,
    MqttConfig,
    ReplayConfig,
    StoreConfig,
    _Section,
)
from engine.oms.manager import OmsConfig
from engine.portfolio.config import PortfolioConfig
from engine.risk.config import RiskConfig
from engine.secrets import Secret, read_credential

__all__ = [
    "BacktestConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "EngineConfig",
    "ExchangeConfig",
    "HealthConfig",
    "MarketDataConfig",
    "MqttConfig",
    "ReplayConfig",
    "StoreConfig",
    "convert_section",
    "load_config",
]

ENV_PREFIX = "TRADEENGINE_"
_NOT_OVERRIDES = frozenset({  # read by the CLI, the scripts and engine/native.py
    "TRADEENGINE_CONFIG", "TRADEENGINE_VENV", "TRADEENGINE_NATIVE", "TRADEENGINE_NATIVE_DIR"})



class ConfigError(Exception):
    """The configuration is invalid; the message names the key path and the problem."""


class Config(_Section, frozen=True):
    """The whole configuration."""

    engine: EngineConfig = msgspec.field(default_factory=EngineConfig)
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)
    mqtt: MqttConfig = msgspec.field(default_factory=MqttConfig)
    marketdata: MarketDataConfig = msgspec.field(default_factory=MarketDataConfig)
    replay: ReplayConfig = msgspec.field(default_factory=ReplayConfig)
    exchange: ExchangeConfig = msgspec.field(default_factory=ExchangeConfig)
    oms: OmsConfig = msgspec.field(default_factory=OmsConfig)
    risk: RiskConfig = msgspec.field(default_factory=RiskConfig)
    portfolio: PortfolioConfig = msgspec.field(default_factory=PortfolioConfig)
    backtest: BacktestConfig = msgspec.field(default_factory=BacktestConfig)
    paper: dict[str, Any] = msgspec.field(default_factory=dict)
    """Paper fill model keys, validated by the paper gateway (``gateways.fillmodel``)."""
    strategies: list[dict[str, Any]] = msgspec.field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        """The state directory, absolute."""
        return Path(self.engine.state_dir).expanduser().resolve()

    def secrets(self) -> list[Secret]:
        """Every secret in the configuration, for the log redactor."""
        found: list[Secret] = []
        for section_name in self.__struct_fields__:
            section = getattr(self, section_name)
            if isinstance(section, msgspec.Struct):
                for key in section.__struct_fields__:
                    value = getattr(section, key)
                    if isinstance(value, Secret) and value:
                        found.append(value)
        return found


def load_config(
    path: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read ``path`` (or nothing), apply environment overrides and credentials, validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(Path(path))
    environ = os.environ if env is None else env
    _apply_env(raw, environ)
    _apply_credentials(raw)
    config = _convert(raw)
    _check_semantics(config)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _parse_env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    sections = set(Config.__struct_fields__)
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in _NOT_OVERRIDES:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        if len(parts) < 2 or parts[0] not in sections or not all(parts):
            raise ConfigError(
                f"{name}: unknown override (expected {ENV_PREFIX}<SECTION>__<KEY>, sections: "
                f"{', '.join(sorted(sections - {'strategies'}))})"
            )
        node = raw
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(parts)}: cannot override inside a non-table value")
            node = child
        node[parts[-1]] = _parse_env_value(environ[name])


def _apply_credentials(raw: dict[str, Any]) -> None:
    for section_name, section_type in _SECTION_TYPES.items():
        for field in msgspec.structs.fields(section_type):
            if field.type is Secret:
                value = read_credential(f"{section_name}.{field.name}")
                if value is not None:
                    raw.setdefault(section_name, {}).setdefault(field.name, value)


_SECTION_TYPES: dict[str, type[msgspec.Struct]] = {
    "engine": EngineConfig,
    "database": DatabaseConfig,
    "store": StoreConfig,
    "health": HealthConfig,
    "mqtt": MqttConfig,
    "marketdata": MarketDataConfig,
    "replay": ReplayConfig,
    "exchange": ExchangeConfig,
}


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Secret:
        if isinstance(obj, str):
            return Secret(obj)
        raise msgspec.ValidationError(f"Expected `str`, got `{type(obj).__name__}`")
    raise NotImplementedError(type_)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<key>[^`]+)`")
_OWN_KEY = re.compile(r"(?P<key>[a-z_]+(?:\[\d+\])?): (?P<rest>.*)", re.S)


def _convert(raw: dict[str, Any]) -> Config:
    try:
        return msgspec.convert(raw, type=Config, dec_hook=_dec_hook, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(_describe(str(exc), raw)) from None


T = TypeVar("T")


def convert_section(raw: dict[str, Any], section_type: type[T], path: str) -> T:
    """Validate a free-form section (e.g. ``[paper]``) into its type; errors name
    ``path.key`` like every other config error."""
    try:
        return msgspec.convert(raw, type=section_type, dec_hook=_dec_hook, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(_describe(str(exc), {path: raw}, prefix=path)) from None


def _describe(message: str, raw: dict[str, Any], prefix: str = "") -> str:
    match = _AT.match(message)
    assert match is not None
    text, path = match.group("msg"), (match.group("path") or "").lstrip(".")
    if prefix:
        path = f"{prefix}.{path}" if path else prefix
    unknown = _UNKNOWN.match(text)
    if unknown:
        key = f"{path}.{unknown.group('key')}" if path else unknown.group("key")
        return f"{key}: unknown key"
    text = text.replace("`", "")
    text = text[0].lower() + text[1:] if text else text
    own = _OWN_KEY.match(text)
    if own and path:  # a section's own check (__post_init__) names its key: join the path
        path, text = f"{path}.{own.group('key')}", own.group("rest")
    found, value = _lookup(raw, path)
    if found and ", got" not in text:
        text += f", got {value!r}"
    return f"{path or '(top level)'}: {text}"


def _lookup(raw: Any, path: str) -> tuple[bool, Any]:
    node = raw
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if token.startswith("["):
            index = int(token[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return False, None
            node = node[index]
        else:
            if not isinstance(node, dict) or token not in node:
                return False, None
            node = node[token]
    return True, node


def _check_semantics(config: Config) -> None:
    db = config.database
    if db.pool_min_size > db.pool_max_size:
        raise ConfigError(
            f"database.pool_min_size: must be <= pool_max_size ({db.pool_max_size}), "
            f"got {db.pool_min_size}"
        )
    names: set[str] = set()
    for index, entry in enumerate(config.strategies):
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"strategies[{index}].name: required, a non-empty string")
        if name in names:
            raise ConfigError(f"strategies[{index}].name: duplicate strategy name {name!r}")
        names.add(name)
    if config.marketdata.source == "ccxt" and not config.marketdata.symbols:
        raise ConfigError("marketdata.symbols: required when marketdata.source = 'ccxt'")
    replay = config.replay
    if (config.marketdata.source == "replay" and replay.source == "price_data"
            and config.marketdata.persist_bars
            and (replay.loop or (replay.align_start and len(replay.tables) > 1))):
        raise ConfigError(
            "marketdata.persist_bars: must be false when replay.source = 'price_data' with "
            "replay.loop (or align_start over several tables): the replayed bars, shifted in "
            "time, would be written back into price_data as new bars; set "
            "marketdata.persist_bars = false, or replay.loop = false (and, with several "
            "tables, replay.align_start = false)")


# What SIGHUP may change without a restart (see README "Reloading").
RELOADABLE: frozenset[str] = frozenset({"engine.log_level", "strategies"})


def reload_changes(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """Compare two configs: (keys applied live, keys that need a restart)."""
    live: list[str] = []
    restart: list[str] = []
    for section in Config.__struct_fields__:
        old_value, new_value = getattr(old, section), getattr(new, section)
        if old_value == new_value:
            continue
        if isinstance(old_value, msgspec.Struct):
            for key in old_value.__struct_fields__:
                if getattr(old_value, key) != getattr(new_value, key):
                    path = f"{section}.{key}"
                    (live if path in RELOADABLE else restart).append(path)
        else:
            (live if section in RELOADABLE else restart).append(section)
    return live, restart
