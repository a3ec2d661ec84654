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


@pytest.fixture(scope="session")
def pycrate_li(tmp_path_factory: pytest.TempPathFactory) -> object:
    """pycrate's compiler on the profile files as written (RELATIVE-OID kept): an independent
    BER codec for PS-PDUs. Returns the generated module's LI_PS_PDU namespace."""
    import importlib.util

    from pycrate_asn1c.asnproc import PycrateGenerator, compile_text, generate_modules

    from lawful_intercept.handover.asn1 import PROFILE_DIR, PROFILE_FILES

    out = tmp_path_factory.mktemp("pycrate") / "li_pycrate.py"
    compile_text([(PROFILE_DIR / name).read_text() for name in PROFILE_FILES])
    generate_modules(PycrateGenerator, str(out))
    spec = importlib.util.spec_from_file_location("li_pycrate", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LI_PS_PDU
