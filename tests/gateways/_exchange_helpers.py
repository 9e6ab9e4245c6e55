"""Helpers of the gateway tests: the local exchange server as a process, a recording sink."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import ExchangeConfig
from engine.gateway import InboundItem
from engine.model import Bar, Quote

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ExchangeProcess:
    """A running ``python -m tests.exchange_server``."""

    proc: subprocess.Popen[str]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def control(self, action: str, **query: Any) -> dict[str, Any]:
        """POST /_control/<action>?query (blocking; run it in a thread from async code)."""
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        req = urllib.request.Request(f"{self.base}/_control/{action}?{qs}", method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        """GET /_control/state."""
        with urllib.request.urlopen(f"{self.base}/_control/state", timeout=5) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]

    def exchange_config(self, **kw: Any) -> ExchangeConfig:
        """Config pointing ccxt's binance at this server (only the URLs differ)."""
        urls = {"api": {"public": f"{self.base}/api/v3",
                        "ws": {"spot": f"ws://127.0.0.1:{self.port}/ws"}}}
        values: dict[str, Any] = {
            "name": "binance", "urls": urls, "timeout_s": 5.0,
            "options": {"fetchMarkets": {"types": ["spot"]}},
            "reconnect_initial_s": 0.05, "reconnect_max_s": 0.3, "poll_interval_s": 0.05,
        }
        values.update(kw)
        return ExchangeConfig(**values)

    def stop(self) -> None:
        """Terminate the process."""
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_server(*args: str) -> ExchangeProcess:
    """Start the server on a free port and wait for its ``LISTENING <port>`` line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.exchange_server", "--port", "0", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("LISTENING"):
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"exchange server did not start: {line!r} {err}")
    return ExchangeProcess(proc, int(line.split()[1]))


@dataclass
class RecordingSink:
    """A :class:`~engine.gateway.MarketDataSink` that keeps everything (unbounded: tests)."""

    items: list[InboundItem] = field(default_factory=list)

    async def put(self, item: InboundItem) -> None:
        self.items.append(item)

    def put_nowait(self, item: InboundItem) -> bool:
        self.items.append(item)
        return True

    def offer(self, item: Quote | Bar) -> None:
        self.items.append(item)

    def of(self, kind: type) -> list[Any]:
        return [i for i in self.items if isinstance(i, kind)]
