"""The message bus: typed synchronous dispatch, isolation of raising subscribers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from engine.bus import MessageBus


@dataclass(frozen=True)
class Base:
    n: int


@dataclass(frozen=True)
class Child(Base):
    pass


def test_dispatch_is_synchronous_and_in_subscription_order() -> None:
    bus = MessageBus()
    seen: list[tuple[str, int]] = []
    bus.subscribe(Base, lambda e: seen.append(("a", e.n)))
    bus.subscribe(Base, lambda e: seen.append(("b", e.n)))
    bus.publish(Base(1))
    assert seen == [("a", 1), ("b", 1)]  # delivered before publish() returned


def test_dispatch_by_type_and_to_base_class_subscribers() -> None:
    bus = MessageBus()
    base_seen: list[Base] = []
    child_seen: list[Base] = []
    bus.subscribe(Base, base_seen.append)
    bus.subscribe(Child, child_seen.append)
    bus.publish(Base(1))
    bus.publish(Child(2))
    bus.publish("unrelated")
    assert base_seen == [Base(1), Child(2)]
    assert child_seen == [Child(2)]


def test_raising_subscriber_is_isolated_logged_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MessageBus()
    received: list[Base] = []

    def broken(event: Base) -> None:
        raise RuntimeError("boom")

    bus.subscribe(Base, broken)
    bus.subscribe(Base, received.append)
    with caplog.at_level(logging.ERROR):
        for i in range(5):
            bus.publish(Base(i))
    assert [e.n for e in received] == [0, 1, 2, 3, 4]
    stats = bus.stats()
    assert stats.published == {"Base": 5}
    assert list(stats.handler_errors.values()) == [5]
    assert sum("boom" in r.getMessage() or "RuntimeError" in r.getMessage()
               for r in caplog.records) == 1


def test_unsubscribe_keeps_counters_and_stops_delivery() -> None:
    bus = MessageBus()
    seen: list[Base] = []
    bus.subscribe(Base, seen.append)
    bus.publish(Base(1))
    bus.unsubscribe(Base, seen.append)
    bus.publish(Base(2))
    assert seen == [Base(1)]
    assert bus.stats().published == {"Base": 2}
    assert not bus.has_subscribers(Base)


def test_subscribing_twice_delivers_once() -> None:
    bus = MessageBus()
    seen: list[Base] = []
    bus.subscribe(Base, seen.append)
    bus.subscribe(Base, seen.append)
    bus.publish(Base(1))
    assert seen == [Base(1)]


def test_handler_may_subscribe_during_dispatch() -> None:
    bus = MessageBus()
    late: list[Base] = []

    def first(event: Base) -> None:
        bus.subscribe(Base, late.append)

    bus.subscribe(Base, first)
    bus.publish(Base(1))  # the tuple being iterated is not mutated
    bus.publish(Base(2))
    assert late == [Base(2)]
