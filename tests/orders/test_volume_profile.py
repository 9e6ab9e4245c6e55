"""The VWAP volume profile: an EMA over the days per time-of-day bucket, by hand."""

from __future__ import annotations

from decimal import Decimal as D

from engine.ids import Symbol, Venue
from engine.model import NS_PER_S, Bar
from engine.oms.profile import VolumeProfile

DAY = 86_400 * NS_PER_S
MINUTE = 60 * NS_PER_S
T0 = 1_700_006_400 * NS_PER_S  # a UTC midnight
BTC = Symbol("BTC/USDT")


def bar(ts: int, volume: float, closed: bool = True) -> Bar:
    return Bar(Venue("paper"), BTC, "1m", ts, 100, 100, 100, 100, volume, closed=closed)


def test_each_bucket_is_an_ema_over_the_days_seeded_by_its_first_bar() -> None:
    profile = VolumeProfile(bucket_s=60, alpha=0.5)
    for day, volume in enumerate([10.0, 30.0, 20.0]):
        profile.on_bar(bar(T0 + day * DAY + 5 * MINUTE, volume))  # minute 5 of each day
    profile.on_bar(bar(T0 + 6 * MINUTE, 99.0, closed=False))  # a partial bar: not learnt
    profile.on_bar(bar(T0 + 7 * MINUTE, 50.0))
    # minute 5: 10 -> 10 + 0.5 * (30 - 10) = 20 -> 20 + 0.5 * (20 - 20) = 20; minute 7: 50
    weights = profile.weights(BTC, [T0 + 5 * MINUTE, T0 + 7 * MINUTE])
    assert weights == [D(repr(20 / 70)), D(repr(50 / 70))]


def test_an_unseen_bucket_weighs_the_mean_and_no_data_slices_equally() -> None:
    profile = VolumeProfile(bucket_s=60)
    assert profile.weights(BTC, [T0, T0 + MINUTE]) == [D(1) / 2, D(1) / 2]
    profile.on_bar(bar(T0, 10.0))
    profile.on_bar(bar(T0 + MINUTE, 30.0))
    # minute 2 was never seen: it weighs the mean of the seen buckets, 20
    assert profile.weights(BTC, [T0, T0 + MINUTE, T0 + 2 * MINUTE]) == [
        D(repr(10 / 60)), D(repr(30 / 60)), D(repr(20 / 60))]
