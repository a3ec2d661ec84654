"""A Prometheus endpoint (``/metrics``) over mutual TLS for a service's counters.

The service hands a snapshot of its counters (the same dict its ``--status-file`` holds) to
:meth:`MetricsEndpoint.update` once a second; a scrape reads the latest snapshot, so scraping
costs the service nothing and never touches its state from another thread. Labels are
counter kinds and LEA names only: never a target, LIID, XID or content.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from lawful_intercept.adapters.tls import TLSConfig

__all__ = ["MetricsEndpoint"]


class _Snapshot(Collector):
    def __init__(self, prefix: str, gauges: frozenset[str]) -> None:
        self.prefix, self.gauges = prefix, gauges
        self.values: Mapping[str, Any] = {}

    def collect(self) -> Iterator[Metric]:
        for name, value in sorted(self.values.items()):
            gauge = name in self.gauges
            family: Any = GaugeMetricFamily if gauge else CounterMetricFamily
            full = f"{self.prefix}_{name}"
            if isinstance(value, Mapping):  # per LEA
                metric = family(full, f"{name} per LEA", labels=["lea"])
                for lea, number in sorted(value.items()):
                    metric.add_metric([str(lea)], float(number))
                yield metric
            elif isinstance(value, bool | int | float):
                yield family(full, name.replace("_", " "), value=float(value))


class MetricsEndpoint:
    """``/metrics`` for one service, over TLS 1.2+ that requires a client certificate from
    ``tls.ca_bundle`` (the scraper's)."""

    def __init__(
        self, tls: TLSConfig, host: str, port: int, prefix: str, gauges: frozenset[str]
    ) -> None:
        tls.server_context()  # the files are checked (one clear error) before a thread starts
        self._snapshot = _Snapshot(prefix, gauges)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self._snapshot)
        self._server, self._thread = start_http_server(
            port, host, registry=registry, certfile=str(tls.certificate),
            keyfile=str(tls.private_key), client_cafile=str(tls.ca_bundle),
            client_auth_required=True, tls_min_version=ssl.TLSVersion.TLSv1_2,
        )  # fmt: skip
        self.port = int(self._server.server_address[1])

    def update(self, counters: Mapping[str, Any]) -> None:
        """The counters a scrape reports from now on (replaced whole)."""
        self._snapshot.values = dict(counters)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not threading.current_thread():
            self._thread.join(5)
