"""Shared fixtures: the test PKI; tests/ on sys.path for the hypothesis strategies."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.lab.pki import DevCA

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

    from pycrate_asn1c.asnproc import GLOBAL, PycrateGenerator, compile_text, generate_modules

    from lawful_intercept.codec.asn1 import PROFILE_DIR, PROFILE_FILES

    out = tmp_path_factory.mktemp("pycrate") / "li_pycrate.py"
    GLOBAL.clear()  # the compiler keeps what it compiled before in this process
    compile_text([(PROFILE_DIR / name).read_text() for name in PROFILE_FILES])
    generate_modules(PycrateGenerator, str(out))
    spec = importlib.util.spec_from_file_location("li_pycrate", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LI_PS_PDU


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> object:
    """One SoftHSM2 token store per test session (the PKCS#11 module reads its config once
    per process); each test initialises its own token label."""
    from lawful_intercept.lab.hardware import SoftHSMToken

    return SoftHSMToken(tmp_path_factory.mktemp("softhsm")).configure()


@pytest.fixture
def hsm_token(softhsm: object, request: pytest.FixtureRequest) -> dict[str, str]:
    """A fresh token: its label and PIN, as PKCS11KeyStore takes them."""
    import secrets

    label = f"t-{secrets.token_hex(4)}"
    pin = secrets.token_hex(6)
    softhsm.init_token(label, pin)  # type: ignore[attr-defined]
    import pkcs11

    from lawful_intercept.lab.hardware import SOFTHSM_MODULE

    library = pkcs11.lib(SOFTHSM_MODULE)  # SoftHSM2 lists its slots at C_Initialize
    if library.initialized:
        library.reinitialize()
    return {"token": label, "pin": pin}


@pytest.fixture
def swtpm(tmp_path: Path) -> Iterator[object]:
    """A fresh swtpm, started for the test and stopped by PID after it."""
    from lawful_intercept.lab.hardware import SoftwareTPM

    tpm = SoftwareTPM(tmp_path / "swtpm").start()
    yield tpm
    tpm.stop()


@pytest.fixture
def second_swtpm(tmp_path: Path) -> Iterator[object]:
    """Another swtpm: a different TPM, as a cloned VM image would meet."""
    from lawful_intercept.lab.hardware import SoftwareTPM

    tpm = SoftwareTPM(tmp_path / "swtpm-2").start()
    yield tpm
    tpm.stop()


@pytest.fixture(scope="session")
def broker_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A three-node RabbitMQ cluster on loopback for the session (each test uses queues of
    its own prefix), listening for AMQP and for AMQPS with client certificates from its
    ``ca`` (a DevCA); stopped by PID after the session."""
    from lawful_intercept.lab.rabbitmq import BrokerCluster

    ca = DevCA(tmp_path_factory.mktemp("broker-pki"), "li-broker")
    with BrokerCluster(3, tls=ca.config("broker", server=True)) as cluster:
        cluster.ca = ca  # type: ignore[attr-defined]
        yield cluster
