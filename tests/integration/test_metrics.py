"""The Prometheus endpoint: the counters a service hands it, over mutual TLS only."""

from __future__ import annotations

import socket
import ssl
import urllib.request
from pathlib import Path

import pytest

from lawful_intercept.adapters.metrics import MetricsEndpoint
from lawful_intercept.errors import ConfigurationError
from lawful_intercept.lab.pki import DevCA


def _scrape(port: int, context: ssl.SSLContext) -> str:
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", context=context,
                                timeout=10) as response:  # fmt: skip
        return str(response.read().decode())


def test_a_scrape_reads_the_latest_counters_and_needs_a_client_certificate(
    tmp_path: Path,
) -> None:
    ca = DevCA(tmp_path, "li-metrics")
    server = ca.config("mf", server=True)
    scraper = ca.config("prometheus", server=False)
    endpoint = MetricsEndpoint(server, "127.0.0.1", 0, "li_test", frozenset({"queued"}))
    try:
        endpoint.update({"accepted": 5, "queued": 2, "delivered": {"LEA-A": 3, "LEA-B": 0},
                         "storage_fault": False, "note": "not a number"})  # fmt: skip
        context = scraper.client_context()
        context.check_hostname = False  # the endpoint is addressed by IP
        text = _scrape(endpoint.port, context)
        assert "li_test_accepted_total 5.0" in text
        assert "# TYPE li_test_queued gauge" in text and "li_test_queued 2.0" in text
        assert 'li_test_delivered_total{lea="LEA-A"} 3.0' in text
        assert 'li_test_delivered_total{lea="LEA-B"} 0.0' in text
        assert "li_test_storage_fault_total 0.0" in text and "note" not in text
        endpoint.update({"accepted": 6})
        assert "li_test_accepted_total 6.0" in _scrape(endpoint.port, context)
        anonymous = ssl.create_default_context(cafile=str(server.ca_bundle))
        anonymous.check_hostname = False
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _scrape(endpoint.port, anonymous)  # no client certificate: no counters
    finally:
        endpoint.close()
    with pytest.raises(ConnectionRefusedError):  # closed: nothing listens any more
        socket.create_connection(("127.0.0.1", endpoint.port), timeout=5).close()


def test_missing_tls_files_are_named_before_anything_listens(tmp_path: Path) -> None:
    ca = DevCA(tmp_path, "li-metrics")
    files = ca.config("mf", server=True)
    broken = type(files)(tmp_path / "nope.pem", files.private_key, files.ca_bundle)
    with pytest.raises(ConfigurationError, match=r"TLS certificate .*nope.pem: no such file"):
        MetricsEndpoint(broken, "127.0.0.1", 0, "li_test", frozenset())
