"""Bench: events/s through the message bus with 1, 10 and 100 subscribers.

Reference measured in the same run: a bare Python loop calling the same handlers directly
(what dispatch would cost with no bus at all). One core; the events are frozen Bar objects
built beforehand (seeded), so only dispatch is timed.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, median_seconds, print_table

from engine.bus import MessageBus
from engine.ids import Symbol, Venue
from engine.model import Bar

N_EVENTS = 200_000


def make_events(n: int) -> list[Bar]:
    rng = random.Random(42)
    price = 100.0
    events = []
    for i in range(n):
        price *= 1 + rng.gauss(0, 0.001)
        events.append(Bar(Venue("bench"), Symbol("BTC/USDT"), "1m", i * 60_000_000_000,
                          price, price * 1.001, price * 0.999, price, 1.0))
    return events


class Counter:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, event: object) -> None:
        self.n += 1


def main() -> None:
    events = make_events(N_EVENTS)
    rows = []
    figures: dict[str, float] = {}
    for subs in (1, 10, 100):
        bus = MessageBus()
        handlers = [Counter() for _ in range(subs)]
        for handler in handlers:
            bus.subscribe(Bar, handler)
        n_events = max(N_EVENTS // subs, 20_000)
        batch = events[:n_events]
        publish = bus.publish

        def run_bus(batch: list[Bar] = batch, publish: object = publish) -> None:
            for event in batch:
                publish(event)  # type: ignore[operator]

        def run_direct(batch: list[Bar] = batch, handlers: list[Counter] = handlers) -> None:
            for event in batch:
                for handler in handlers:
                    handler(event)

        t_bus = median_seconds(run_bus)
        t_direct = median_seconds(run_direct)
        events_per_s = n_events / t_bus
        dispatches_per_s = n_events * subs / t_bus
        rows.append([subs, events_per_s, dispatches_per_s, n_events * subs / t_direct,
                     t_bus / t_direct, t_bus / n_events * 1e9])
        figures[f"events_per_s_{subs}sub"] = round(events_per_s)
        figures[f"dispatches_per_s_{subs}sub"] = round(dispatches_per_s)
    print(f"message bus, {N_EVENTS:,} seeded Bar events, median of 7 runs after 2 warm-ups")
    print_table(["subscribers", "events/s", "dispatches/s", "direct calls/s",
                 "bus/direct", "ns/event"], rows)
    print("target: >= 2,000,000 dispatches/s with one subscriber on one core")
    emit("bus", figures)


if __name__ == "__main__":
    main()
