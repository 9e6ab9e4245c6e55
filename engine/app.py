"""The Engine: wires the components, owns the TaskGroup, runs the life cycle.

``build_app(config)`` does no I/O: it builds the objects and their wiring, so a test can
build two engines side by side. ``await engine.run()`` starts them:

1. database (private cluster when no DSN; pool; migrations; writer),
2. health endpoint, loop monitor, database monitor, systemd watchdog,
3. market data and the rest, then ``READY=1``.

SIGTERM/SIGINT stop it in this order: stop intake, cancel orders (``engine.on_shutdown``),
drain the writer within ``engine.shutdown_timeout_s``, close the endpoint and the pool,
stop the private cluster. SIGHUP re-reads the config file and applies what can change live
(see :data:`engine.config.RELOADABLE`); the rest is logged as needing a restart.
"""

from __future__ import annotations

import asyncio
import enum
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine import logs, native
from engine.bus import MessageBus
from engine.clock import LiveClock, SimClock
from engine.commands import CommandRouter
from engine.config import Config, ConfigError, load_config, reload_changes
from engine.database import Database, DatabaseUnavailable
from engine.gateway import GatewayError
from engine.health import HealthServer
from engine.metrics import MetricsBuilder, new_registry
from engine.monitor import LoopMonitor, Readiness
from engine.secrets import Redactor
from engine.service import Service
from engine.services import (
    add_market_data,
    register_builtin_commands,
    reload_strategies,
)
from engine.store.partitions import PartitionKeeper
from engine.strategies_service import StrategiesService
from engine.systemd import Notifier

__all__ = ["Engine", "EngineState", "ExitCode", "Service", "build_app"]

_log = logging.getLogger(__name__)


class ExitCode(enum.IntEnum):
    """Process exit codes (sysexits)."""

    OK = 0
    UNAVAILABLE = 69
    SOFTWARE = 70
    CONFIG = 78
    INTERRUPTED = 130
    """Ctrl-C outside ``run`` (which stops gracefully on SIGINT): the shell's 128 + 2."""


class EngineState(enum.Enum):
    """Where the engine is in its life cycle."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Engine:
    """One trading engine process."""

    def __init__(self, config: Config, *, config_path: Path | None, redactor: Redactor) -> None:
        self.config = config
        self.config_path = config_path
        self.redactor = redactor
        self.bus = MessageBus()
        # Replayed data runs on simulated time driven by the data itself (DESIGN: embedded
        # defaults); everything else on the wall clock.
        self.clock: LiveClock | SimClock = (
            SimClock() if config.marketdata.source == "replay" else LiveClock())
        self.notifier = Notifier()
        self.loop_monitor = LoopMonitor()
        self.readiness = Readiness()
        self.database = Database(config)
        self.services: list[Service] = []
        self.marketdata: Any = None  # engine.marketdata.MarketDataFeed when configured
        self.trading: Any = None  # engine.oms.stack.TradingStack when configured
        self.strategies: Any = None  # engine.strategy_host.StrategyHost when configured
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self.state = EngineState.CREATED
        self.started_monotonic = time.monotonic()
        self.registry = new_registry(self._fill_metrics)
        self.commands = CommandRouter()
        self.health = HealthServer(
            config.health,
            loop_monitor=self.loop_monitor,
            readiness=self.readiness,
            registry=self.registry,
            status=self.status,
            redactor=redactor,
            commands=self.commands,
            started_monotonic=self.started_monotonic,
        )
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self.readiness.add("database", self.database.readiness)

    # -- public control ------------------------------------------------------------------

    def add_service(self, service: Service) -> None:
        """Register a component (before :meth:`run`)."""
        self.services.append(service)

    def request_stop(self) -> None:
        """Begin a graceful shutdown (what SIGTERM does)."""
        if not self._stop.is_set():
            _log.info("shutdown requested")
        self._stop.set()

    async def wait_ready(self) -> None:
        """Wait until start-up has finished."""
        await self._ready.wait()

    # -- life cycle ----------------------------------------------------------------------

    async def run(self) -> ExitCode:
        """Run until stopped; return the exit code."""
        self.state = EngineState.STARTING
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        code = ExitCode.OK
        try:
            async with asyncio.TaskGroup() as tg:
                self._spawn(tg, self.loop_monitor.run(), "loop-monitor")
                await self._start(tg)
                # Start-up garbage (imports, numba, config) is permanent: keep it out of
                # the collector's full passes, which would otherwise pause the loop.
                gc.collect()
                gc.freeze()
                self.state = EngineState.RUNNING
                self.notifier.ready(f"running: {self.config.engine.name}")
                self._ready.set()
                _log.info("engine ready", extra={"health_port": self.health.port})
                await self._stop.wait()
                await self._shutdown()
                for task in self._background:
                    task.cancel()
        except* DatabaseUnavailable as group:
            _log.error("%s", group.exceptions[0])
            code = ExitCode.UNAVAILABLE
        except* (OSError, GatewayError) as group:
            # A venue, a data source or a port that is not there: a service unavailable.
            _log.error("start-up failed: %s", group.exceptions[0])
            code = ExitCode.UNAVAILABLE
        except* Exception as group:
            for exc in group.exceptions:
                _log.critical("engine failed: %s", exc, exc_info=exc)
            code = ExitCode.SOFTWARE
        finally:
            await self._final_cleanup()
            self._remove_signals(loop)
            self.state = EngineState.STOPPED
            self.notifier.close()
        _log.info("engine stopped", extra={"exit_code": int(code)})
        return code

    async def _start(self, tg: asyncio.TaskGroup) -> None:
        self.notifier.status("starting database")
        await self.database.start()
        self.database.subscribe_writer(self.bus, self.trading)
        writer = self.database.writer
        self._spawn(tg, writer.run(), "store-writer")
        assert self.database.pool is not None  # started above
        self._spawn(tg, PartitionKeeper(self.database.pool).run(), "price-partitions")
        self._spawn(tg, self.database.monitor(self.config.health.db_check_interval_s), "db-monitor")
        if self.config.health.enabled:
            await self.health.start()
        for service in self.services:
            self.notifier.status(f"starting {service.name}")
            await service.start()
        for service in self.services:  # only now may events flow
            coro = service.run()
            if coro is not None:
                self._spawn(tg, coro, service.name)
        interval = self.notifier.watchdog_interval_s()
        if interval:
            self._spawn(tg, self._watchdog(interval), "watchdog")

    async def _shutdown(self) -> None:
        self.state = EngineState.STOPPING
        self.notifier.stopping("stopping")
        timeout = self.config.engine.shutdown_timeout_s
        for service in reversed(self.services):  # market data (intake) first, trading last
            if service.name == "trading" and self.config.engine.on_shutdown == "cancel_orders":
                cancelled = self.trading.oms.cancel_all(reason="engine shutdown")
                _log.info("cancelled working orders at shutdown", extra={"count": cancelled})
            await _bounded(service.stop(), timeout, f"stop {service.name}")
        for hook in self.shutdown_hooks:
            await _bounded(hook(), timeout, "shutdown hook")
        await self.health.close()
        await self.database.close(timeout)

    async def _final_cleanup(self) -> None:
        # Reached on every exit path, including failed start-up: never leave a server behind.
        await self.health.close()
        if self.state is not EngineState.STOPPING:
            await self.database.close(self.config.engine.shutdown_timeout_s)
        await self.database.stop_cluster()
        self.clock.cancel_all()

    def _spawn(self, tg: asyncio.TaskGroup, awaitable: Awaitable[None], name: str) -> None:
        if asyncio.iscoroutine(awaitable):
            coro = awaitable
        else:
            async def wrapper() -> None:
                await awaitable

            coro = wrapper()
        self._background.append(tg.create_task(coro, name=name))

    async def _watchdog(self, interval_s: float) -> None:
        limit_s = self.config.health.loop_lag_unhealthy_ms / 1000
        while True:
            if self.loop_monitor.current_lag_s() < limit_s:
                self.notifier.watchdog()
            else:
                _log.error("event loop lagging; withholding the systemd watchdog ping")
            await asyncio.sleep(interval_s)

    # -- signals and reload ----------------------------------------------------------------

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def _remove_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    def reload(self) -> None:
        """Re-read the config file; apply live-changeable keys; log the rest."""
        if self.config_path is None:
            _log.info("SIGHUP: no config file to reload (running on defaults)")
            return
        self.notifier.reloading()
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            _log.error("SIGHUP: config not reloaded, keeping the running one: %s", exc)
            self.notifier.ready()
            return
        live, restart = reload_changes(self.config, new)
        if "engine.log_level" in live:
            logs.set_level(new.engine.log_level)
        if self.strategies is not None:
            # Strategy code may have changed even when the tables did not: reload them all.
            outcome = reload_strategies(self, new.strategies)
            _log.info("SIGHUP: strategies reloaded", extra={"strategies": outcome})
        if restart:
            _log.warning("SIGHUP: these changes need a restart: %s", ", ".join(restart))
        _log.info("SIGHUP: config reloaded", extra={"applied": live, "need_restart": restart})
        self.config = _merge_live(self.config, new, live)
        self.notifier.ready()

    # -- observation -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The /status document."""
        writer = self.database.writer
        return {
            "engine": self.config.engine.name,
            "account": self.config.engine.account,
            "mode": self.config.engine.mode,
            "state": self.state.value,
            "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
            "build": native.status(),
            "database": {
                "embedded": self.database.embedded,
                "dsn": self.database.dsn_for_display,
                "migrations_applied_at_start": self.database.applied_migrations,
                "writer": _as_dict(writer.status()) if writer is not None else None,
            },
            "bus": _as_dict(self.bus.stats()),
            **{service.name: service.status() for service in self.services},
        }

    def _fill_metrics(self, out: MetricsBuilder) -> None:
        out.gauge("up", "1 while the engine runs", 1.0)
        lag = self.loop_monitor
        out.gauge("uptime_seconds", "Seconds since start",
                  time.monotonic() - self.started_monotonic)
        out.gauge("loop_lag_seconds", "Last measured event-loop lag", lag.last_lag_s)
        out.gauge("loop_lag_max_seconds", "Largest event-loop lag seen", lag.max_lag_s)
        out.gauge("ready", "1 when /readyz answers 200", float(self.readiness.evaluate()[0]))
        stats = self.bus.stats()
        for event_type, count in stats.published.items():
            out.counter("bus_events", "Events published on the bus", count, {"type": event_type})
        for handler, count in stats.handler_errors.items():
            out.counter("bus_handler_errors", "Bus handlers that raised", count,
                        {"handler": handler})
        out.counter("orders_submitted", "Orders submitted",
                    stats.published.get("OrderSubmitted", 0))
        out.counter("fills", "Fills received", stats.published.get("OrderFilled", 0))
        writer = self.database.writer
        if writer is not None:
            ws = writer.status()
            out.gauge("queue_depth", "Items waiting in a queue", ws.queue_depth, {"queue": "store"})
            out.gauge("db_backlog_records", "Records journaled, not yet in the database",
                      ws.journal_records)
            out.gauge("db_journal_bytes", "Size of the write-ahead journal", ws.journal_bytes)
            out.gauge("db_write_latency_seconds", "Duration of the last flush",
                      ws.last_flush_latency_s or 0.0)
            for table, rows in ws.rows_written.items():
                out.counter("db_rows_written", "Rows written by table", rows, {"table": table})
        out.gauge("db_ping_latency_seconds", "Latency of the last database ping",
                  self.database.ping_latency_s())
        for service in self.services:
            service.metrics(out)


GatewayFactory = Callable[[Config, Any], Any]
"""Builds the configured market data gateway from (config, clock); see ``gateways.factory``."""


def build_app(config: Config, *, config_path: Path | None = None,
              redactor: Redactor | None = None,
              market_data_gateway: GatewayFactory | None = None,
              execution: GatewayFactory | None = None,
              backtest: bool = False) -> Engine:
    """Wire an engine from a validated config. No I/O happens here.

    The gateway factories are injected by the caller (the CLI loads them from the
    ``tradeengine.gateways`` entry points), because the engine never imports ``gateways``.
    Build order is bus subscription order: trading (matcher, portfolio, OMS), then
    strategies (indicator hub), then market data, which only publishes. Services start in
    that order and stop in reverse: market data (intake) first, the trading stack last.
    """
    redactor = redactor or Redactor()
    redactor.register(*config.secrets())
    engine = Engine(config, config_path=config_path, redactor=redactor)
    register_builtin_commands(engine)
    if config.marketdata.source != "none" and execution is not None:
        from engine import wiring

        stack = wiring.add_trading(engine, execution, persist_risk_state=not backtest)
        if config.strategies:
            engine.add_service(StrategiesService(
                wiring.add_strategies(engine, config, stack, enforce_budget=not backtest), engine,
                keep_state=not backtest))
    elif config.strategies:
        raise ConfigError("strategies: need market data and an execution gateway "
                          "(marketdata.source is 'none' or no execution factory installed)")
    if config.marketdata.source != "none":
        add_market_data(engine, market_data_gateway)
    if config.mqtt.enabled:
        from engine.mqtt import MqttBridge

        engine.add_service(MqttBridge(
            config.mqtt, bus=engine.bus, account=config.engine.account,
            engine_name=config.engine.name, commands=engine.commands, redactor=redactor,
        ))
    return engine


async def _bounded(awaitable: Awaitable[None], timeout: float, what: str) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        _log.error("%s did not finish within %.1fs; going on with shutdown", what, timeout)
    except Exception:
        _log.exception("%s failed; going on with shutdown", what)


def _as_dict(obj: Any) -> Any:
    fields = getattr(obj, "__dataclass_fields__", None) or getattr(obj, "__struct_fields__", None)
    if fields is None:
        return obj
    return {name: _as_dict(getattr(obj, name)) for name in fields}


def _merge_live(old: Config, new: Config, live: list[str]) -> Config:
    import msgspec

    engine_section = old.engine
    if "engine.log_level" in live:
        engine_section = msgspec.structs.replace(old.engine, log_level=new.engine.log_level)
    strategies = new.strategies if "strategies" in live else old.strategies
    return msgspec.structs.replace(old, engine=engine_section, strategies=strategies)
