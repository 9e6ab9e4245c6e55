"""The local HTTP endpoint: /healthz, /readyz, /metrics, /status.

Handlers only read state the engine already keeps; none of them does I/O beyond writing
the answer, so a scrape costs the loop microseconds. Everything answered goes through the
engine's redactor: a secret never leaves in a response.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from engine.commands import CommandRouter
from engine.config import HealthConfig
from engine.monitor import LoopMonitor, Readiness
from engine.secrets import Redactor

if TYPE_CHECKING:
    # aiohttp is imported when the server starts: a backtest or a CLI command that builds
    # an engine without serving does not pay for it.
    from aiohttp import web

__all__ = ["HealthServer"]

_log = logging.getLogger(__name__)


class HealthServer:
    """aiohttp server for health, readiness, metrics and status."""

    def __init__(
        self,
        config: HealthConfig,
        *,
        loop_monitor: LoopMonitor,
        readiness: Readiness,
        registry: CollectorRegistry,
        status: Callable[[], dict[str, Any]],
        redactor: Redactor,
        commands: CommandRouter,
        started_monotonic: float | None = None,
    ) -> None:
        self._config = config
        self._loop_monitor = loop_monitor
        self._readiness = readiness
        self._registry = registry
        self._status = status
        self._redact = redactor
        self._commands = commands
        self._started = time.monotonic() if started_monotonic is None else started_monotonic
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port: int | None = None
        self._web: Any = None  # the aiohttp.web module, once started

    async def start(self) -> None:
        """Bind and serve. Raises OSError when the address is taken."""
        from aiohttp import web  # noqa: PLC0415 - see the import at the top

        self._web = web
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/status", self._status_handler)
        app.router.add_get("/commands", self._command_list)
        app.router.add_post("/commands/{name}", self._command)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._config.host, self._config.port)
        await self._site.start()
        server = self._site._server  # aiohttp keeps the asyncio server here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._config.port
        _log.info("health endpoint listening", extra={"host": self._config.host, "port": self.port})

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _json(self, body: dict[str, Any], status: int = 200) -> web.Response:
        text = self._redact(orjson.dumps(body, default=str).decode())
        response: web.Response = self._web.Response(text=text, status=status,
                                                    content_type="application/json")
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        lag_ms = self._loop_monitor.current_lag_s() * 1000
        healthy = lag_ms < self._config.loop_lag_unhealthy_ms
        return self._json(
            {
                "status": "ok" if healthy else "lagging",
                "uptime_s": round(time.monotonic() - self._started, 3),
                "loop_lag_ms": round(lag_ms, 3),
                "loop_lag_p99_ms": round(self._loop_monitor.quantile_s(0.99) * 1000, 3),
            },
            200 if healthy else 503,
        )

    async def _readyz(self, request: web.Request) -> web.Response:
        ready, results = self._readiness.evaluate()
        checks = {
            name: {"ok": r.ok, "detail": r.detail, **r.data} for name, r in results.items()
        }
        failing = sorted(name for name, r in results.items() if not r.ok)
        return self._json(
            {"status": "ready" if ready else "not_ready", "failing": failing, "checks": checks},
            200 if ready else 503,
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        response: web.Response = self._web.Response(
            body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
        return response

    async def _status_handler(self, request: web.Request) -> web.Response:
        return self._json(self._status())

    async def _command_list(self, request: web.Request) -> web.Response:
        return self._json({"commands": self._commands.names()})

    async def _command(self, request: web.Request) -> web.Response:
        """Operator commands over HTTP (bound to loopback by default; see README)."""
        name = request.match_info["name"]
        try:
            args = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            return self._json({"ok": False, "command": name, "error": "body is not JSON"}, 400)
        actor = request.headers.get("X-Actor", "http")
        result = self._commands.execute(name, args, f"http:{actor}")
        return self._json(result.to_dict(), 200 if result.ok else 400)
