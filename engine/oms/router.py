"""Between the OMS and a gateway: a direct call (paper, backtest) or a bounded queue (live).

The OMS calls ``submit``/``cancel`` synchronously. :class:`DirectRouter` calls the
gateway's synchronous face. :class:`QueuedRouter` puts the command in a bounded queue that
its ``run()`` task (in the engine's TaskGroup) drains into the async gateway.

Overflow policy (orders are never dropped): when the submit queue is full, ``submit``
returns a reason and the OMS rejects the order explicitly (an ``OrderRejected`` row and an
alert); when the cancel queue is full, ``cancel`` returns False and the OMS alerts. A
gateway call that raises or times out is retried with the same client order id (the venue
dedups it); after the last retry the router reports :class:`VenueRejected` for a submit and
logs for a cancel.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

from engine.clock import Clock
from engine.execution import ExecutionGateway, ReportHandler, SyncExecution, VenueRejected
from engine.model import Order

__all__ = ["DirectRouter", "OrderRouter", "QueuedRouter"]

_log = logging.getLogger(__name__)


class OrderRouter(Protocol):
    """How the OMS hands orders to a gateway, synchronously."""

    def submit(self, order: Order) -> str | None:
        """Hand over ``order``; a string is a reason it could not be (reject it)."""
        ...

    def cancel(self, order: Order) -> bool:
        """Ask to cancel ``order``; False when the request could not be queued."""
        ...


class DirectRouter:
    """Calls an in-process gateway directly: no queue, no await (paper, backtest).

    ``submit`` is the gateway's ``submit_now`` itself: it returns None (never refuses).
    """

    def __init__(self, gateway: SyncExecution) -> None:
        self.submit: Callable[[Order], None] = gateway.submit_now
        self._cancel = gateway.cancel_now

    def cancel(self, order: Order) -> bool:
        """See :meth:`OrderRouter.cancel`."""
        self._cancel(order)
        return True


class QueuedRouter:
    """A bounded queue in front of an async gateway, drained by :meth:`run`."""

    name = "execution-router"

    def __init__(
        self, gateway: ExecutionGateway, clock: Clock, *, capacity: int = 1000,
        cancel_capacity: int = 1000, timeout_s: float = 10.0, retries: int = 2,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self._capacity = capacity
        self._cancel_capacity = cancel_capacity
        self._timeout_s = timeout_s
        self._retries = retries
        self._submits: deque[Order] = deque()
        self._cancels: deque[Order] = deque()
        self._wake = asyncio.Event()
        self._on_report: ReportHandler | None = None
        self.rejected_full = 0
        self.cancels_refused = 0
        self.failures = 0

    def set_report_handler(self, handler: ReportHandler) -> None:
        """Where to report a submit that finally failed (the OMS's ``on_report``)."""
        self._on_report = handler

    def submit(self, order: Order) -> str | None:
        """Queue a submission; refuse (never drop) when the queue is full."""
        if len(self._submits) >= self._capacity:
            self.rejected_full += 1
            return f"execution queue full ({self._capacity} orders waiting)"
        self._submits.append(order)
        self._wake.set()
        return None

    def cancel(self, order: Order) -> bool:
        """Queue a cancel (cancels go before submits); False when the queue is full."""
        if len(self._cancels) >= self._cancel_capacity:
            self.cancels_refused += 1
            return False
        self._cancels.append(order)
        self._wake.set()
        return True

    def depth(self) -> int:
        """Commands waiting."""
        return len(self._submits) + len(self._cancels)

    async def run(self) -> None:
        """Drain the queues into the gateway until cancelled."""
        while True:
            if not self._submits and not self._cancels:
                self._wake.clear()
                await self._wake.wait()
            if self._cancels:
                order = self._cancels.popleft()
                if not await self._call("cancel", order):
                    _log.error("cancel of %s failed after retries", order.client_order_id)
            elif self._submits:
                order = self._submits.popleft()
                if not await self._call("submit", order) and self._on_report is not None:
                    self._on_report(VenueRejected(
                        client_order_id=order.client_order_id, ts_ns=self._clock.now_ns(),
                        reason="submit failed after retries"))

    async def _call(self, what: str, order: Order) -> bool:
        method = self._gateway.submit if what == "submit" else self._gateway.cancel
        for attempt in range(self._retries + 1):
            try:
                await asyncio.wait_for(method(order), self._timeout_s)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                _log.warning("%s %s failed (attempt %d): %s", what, order.client_order_id,
                             attempt + 1, exc)
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        return False
