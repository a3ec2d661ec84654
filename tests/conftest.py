"""Shared fixtures: the test PKI; tests/ on sys.path for the hypothesis strategies."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lawful_intercept.devpki import DevCA
from lawful_intercept.tls import TLSConfig

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, TLSConfig]:
    """A trusted CA with an MF (server) and a POI (client), and a rogue CA's POI."""
    ca = DevCA(tmp_path, "li-test")
    rogue = DevCA(tmp_path, "rogue")
    return {
        "mf": ca.config("mf", server=True),
        "poi": ca.config("poi-1", server=False),
        "rogue_poi": rogue.config("poi-rogue", server=False, trust=ca),
    }
