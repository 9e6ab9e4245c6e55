"""Prometheus metrics, read from the engine's own counters at scrape time.

Hot paths keep plain integers (the bus's per-type counts, the writer's row counts); this
collector turns them into metric families when /metrics is scraped, so measuring costs
nothing between scrapes. Each engine has its own registry: two engines in one test process
do not share metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["PREFIX", "EngineCollector", "MetricsBuilder", "new_registry"]

PREFIX = "tradeengine_"


class MetricsBuilder:
    """Accumulates samples into metric families by name."""

    def __init__(self) -> None:
        self._families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def gauge(
        self, name: str, doc: str, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        """Add a gauge sample."""
        family = self._family(name, doc, labels, GaugeMetricFamily)
        family.add_metric(list((labels or {}).values()), value)

    def counter(
        self, name: str, doc: str, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        """Add a counter sample (``name`` without the ``_total`` suffix)."""
        family = self._family(name, doc, labels, CounterMetricFamily)
        family.add_metric(list((labels or {}).values()), value)

    def families(self) -> list[Metric]:
        """The families built so far."""
        return list(self._families.values())

    def _family(
        self,
        name: str,
        doc: str,
        labels: Mapping[str, str] | None,
        kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    ) -> GaugeMetricFamily | CounterMetricFamily:
        full = PREFIX + name
        family = self._families.get(full)
        if family is None:
            family = kind(full, doc, labels=list((labels or {}).keys()))
            self._families[full] = family
        return family


class EngineCollector(Collector):
    """A collector that asks ``fill(builder)`` for the current values on every scrape."""

    def __init__(self, fill: Callable[[MetricsBuilder], None]) -> None:
        self._fill = fill

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on scrape."""
        builder = MetricsBuilder()
        self._fill(builder)
        yield from builder.families()


def new_registry(fill: Callable[[MetricsBuilder], None]) -> CollectorRegistry:
    """A fresh registry holding one :class:`EngineCollector`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(fill))
    return registry
