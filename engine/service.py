"""The life-cycle contract of engine components."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from engine.metrics import MetricsBuilder

__all__ = ["Service"]


class Service(Protocol):
    """A component with a life cycle that the engine starts, runs and stops.

    ``start`` runs before READY (await it for set-up I/O), ``run`` is a long-lived task in
    the engine's TaskGroup (None for none), ``stop`` runs at shutdown in reverse order of
    registration, ``status``/``metrics`` feed /status and /metrics.
    """

    name: str = "service"

    async def start(self) -> None:
        """Set up; raise to abort start-up."""
        return None

    def run(self) -> Awaitable[None] | None:
        """The long-lived coroutine, or None."""
        return None

    async def stop(self) -> None:
        """Stop intake and release resources."""
        return None

    def status(self) -> dict[str, Any]:
        """A JSON-able summary for /status."""
        return {}

    def metrics(self, out: MetricsBuilder) -> None:
        """Add this component's samples to /metrics."""
        return None
