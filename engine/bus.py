"""The in-process message bus: synchronous dispatch of typed events.

Four calls: :meth:`MessageBus.subscribe`, :meth:`MessageBus.unsubscribe`,
:meth:`MessageBus.publish`, :meth:`MessageBus.stats`. Handlers are plain callables run in
the publisher's call stack, in subscription order; there is no queue and no ``await``
between publisher and handler, so one event costs a dictionary lookup and a function call.

Dispatch is by the event's type. A handler subscribed to a base class also receives its
subclasses; the resolution is cached per concrete type on first publish.

A handler that raises is logged (once per handler and exception type, then counted
silently) and counted; dispatch to the other handlers goes on. Events are frozen objects,
so handlers can keep them without copying.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

__all__ = ["BusStats", "Handler", "MessageBus"]

E = TypeVar("E")
Handler = Callable[[Any], None]

_log: Final = logging.getLogger(__name__)


class _Route:
    """The handlers of one concrete event type and how many events went through it."""

    __slots__ = ("count", "handlers")

    def __init__(self, handlers: tuple[Handler, ...]) -> None:
        self.handlers = handlers
        self.count = 0


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counters of a bus, for /metrics."""

    published: dict[str, int]
    handler_errors: dict[str, int]


class MessageBus:
    """Synchronous typed publish/subscribe."""

    def __init__(self) -> None:
        self._subscriptions: dict[type, list[Handler]] = {}
        self._routes: dict[type, _Route] = {}
        self._errors: dict[str, int] = {}
        self._logged: set[tuple[str, type]] = set()

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        """Call ``handler(event)`` for every published instance of ``event_type``."""
        handlers = self._subscriptions.setdefault(event_type, [])
        if handler in handlers:
            return
        handlers.append(handler)
        self._rebuild_routes()

    def unsubscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        """Stop calling ``handler``; unknown handlers are ignored."""
        handlers = self._subscriptions.get(event_type)
        if handlers and handler in handlers:
            handlers.remove(handler)
            self._rebuild_routes()

    def publish(self, event: object) -> None:
        """Deliver ``event`` to its handlers now, in subscription order."""
        route = self._routes.get(event.__class__)
        if route is None:
            route = self._resolve(event.__class__)
        route.count += 1
        for handler in route.handlers:
            try:
                handler(event)
            except Exception as exc:  # a subscriber must never break dispatch
                self._on_handler_error(handler, event, exc)

    def stats(self) -> BusStats:
        """Events published per type name and handler errors per handler name."""
        return BusStats(
            published={t.__name__: r.count for t, r in self._routes.items() if r.count},
            handler_errors=dict(self._errors),
        )

    def has_subscribers(self, event_type: type) -> bool:
        """True when publishing ``event_type`` would reach at least one handler."""
        route = self._routes.get(event_type) or self._resolve(event_type)
        return bool(route.handlers)

    def _resolve(self, event_type: type) -> _Route:
        handlers: list[Handler] = []
        for base in event_type.__mro__:
            for handler in self._subscriptions.get(base, ()):
                if handler not in handlers:
                    handlers.append(handler)
        route = _Route(tuple(handlers))
        self._routes[event_type] = route
        return route

    def _rebuild_routes(self) -> None:
        # Keep the counters; only the handler tuples change.
        for event_type, route in list(self._routes.items()):
            self._resolve(event_type).count = route.count

    def _on_handler_error(self, handler: Handler, event: object, exc: Exception) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        self._errors[name] = self._errors.get(name, 0) + 1
        key = (name, exc.__class__)
        if key not in self._logged:
            self._logged.add(key)
            _log.error(
                "bus handler %s raised %s on %s (further identical errors are only counted)",
                name,
                exc.__class__.__name__,
                event.__class__.__name__,
                exc_info=exc,
            )
