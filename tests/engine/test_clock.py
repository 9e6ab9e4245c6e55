"""Clocks: simulated time fires timers in order; live timers run on the loop."""

from __future__ import annotations

import asyncio

import pytest

from engine.clock import LiveClock, SimClock

S = 1_000_000_000


def test_sim_clock_fires_timers_in_time_order_with_due_time() -> None:
    clock = SimClock(start_ns=0)
    fired: list[tuple[str, int, int]] = []
    clock.set_timer("every2", 2 * S, lambda t: fired.append(("every2", t, clock.now_ns())))
    clock.set_alarm("at3", 3 * S, lambda t: fired.append(("at3", t, clock.now_ns())))
    clock.advance_to(5 * S)
    assert fired == [("every2", 2 * S, 2 * S), ("at3", 3 * S, 3 * S), ("every2", 4 * S, 4 * S)]
    assert clock.now_ns() == 5 * S
    assert clock.timer_names() == ["every2"]


def test_sim_clock_cancel_and_refuses_to_go_back() -> None:
    clock = SimClock(start_ns=10)
    fired: list[int] = []
    clock.set_alarm("a", 20, fired.append)
    clock.cancel("a")
    clock.advance_to(30)
    assert fired == []
    with pytest.raises(ValueError, match="back in time"):
        clock.advance_to(29)


def test_timer_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="> 0"):
        SimClock().set_timer("x", 0, lambda t: None)


async def test_live_clock_timer_and_alarm_fire_on_the_loop() -> None:
    clock = LiveClock()
    ticks: list[int] = []
    alarm = asyncio.get_running_loop().create_future()
    clock.set_timer("t", 20_000_000, ticks.append)  # 20 ms
    clock.set_alarm("a", clock.now_ns() + 50_000_000, alarm.set_result)
    due = await asyncio.wait_for(alarm, 2)
    assert due > 0
    assert len(ticks) >= 2
    assert ticks == sorted(ticks)
    clock.cancel_all()
    assert clock.timer_names() == []


def test_unstarted_sim_clock_starts_at_the_first_time_without_firing_history() -> None:
    clock = SimClock()
    fired: list[int] = []
    clock.set_timer("t", 10 * S, fired.append)  # set "at the start", before data is known
    assert clock.now_ns() == 0
    start = 1_600_000_000 * S
    clock.advance_to(start)
    assert fired == [] and clock.now_ns() == start
    clock.advance_to(start + 25 * S)
    assert fired == [start + 10 * S, start + 20 * S]
