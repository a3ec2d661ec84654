"""The public API: namespaces loaded on first use, layers that import only what they need, and
0.1's names forwarded with a DeprecationWarning."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import lawful_intercept as li

NAMESPACES = ("x2x3", "handover", "fiveg", "x1", "keys", "poi", "mf", "lemf", "lab")


def _modules_after(statement: str) -> set[str]:
    listing = "print('\\n'.join(m for m in sys.modules if m.startswith('lawful_intercept')))"
    code = f"import sys\n{statement}\n{listing}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_a_codec_loads_no_service_adapter_or_asyncio_transport() -> None:
    loaded = _modules_after("import lawful_intercept.codec.x1.messages")
    assert "lawful_intercept.codec.x1.messages" in loaded
    assert not any(
        m.startswith(("lawful_intercept.services", "lawful_intercept.protocol")) for m in loaded
    )
    assert not {"lawful_intercept.x1", "lawful_intercept.adapters.x1_transport"} & loaded


def test_the_root_loads_a_namespace_only_when_it_is_used() -> None:
    loaded = _modules_after("import lawful_intercept")
    assert not {f"lawful_intercept.{name}" for name in NAMESPACES} & loaded
    assert "lawful_intercept.x2x3" in _modules_after("import lawful_intercept as li; li.x2x3")


@pytest.mark.parametrize("name", NAMESPACES)
def test_every_public_name_resolves(name: str) -> None:
    namespace = getattr(li, name)
    assert namespace is importlib.import_module(f"lawful_intercept.{name}")
    for public in namespace.__all__:
        assert getattr(namespace, public) is not None, public


def test_root_exports_only_errors_tls_and_namespaces() -> None:
    assert set(li.__all__) - set(NAMESPACES) - {"TLSConfig", "__version__"} == {
        name for name in li.__all__ if name.endswith("Error")
    }
    assert sorted(dir(li)) == sorted(li.__all__)


def test_a_0_1_root_name_warns_and_is_the_same_object() -> None:
    with pytest.warns(
        DeprecationWarning, match=r"lawful_intercept\.encode .*lawful_intercept\.x2x3\.encode"
    ):
        old = li.encode  # type: ignore[attr-defined]
    assert old is li.x2x3.encode
    with pytest.warns(DeprecationWarning, match="use lawful_intercept.handover.decode"):
        assert li.decode_pspdu is li.handover.decode  # type: ignore[attr-defined]


def test_a_0_1_module_path_warns_and_forwards() -> None:
    sys.modules.pop("lawful_intercept.mediation", None)
    with pytest.warns(DeprecationWarning, match="module lawful_intercept.mediation is deprecated"):
        mediation = importlib.import_module("lawful_intercept.mediation")
    with pytest.warns(DeprecationWarning, match="use lawful_intercept.mf.MFService"):
        assert mediation.MFService is li.mf.MFService
    with pytest.warns(DeprecationWarning):
        from lawful_intercept.x1.admf import ADMFClient  # type: ignore[import-not-found]
    assert ADMFClient is li.x1.ADMFClient


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        li.nothing  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError):
        li.x2x3.nothing  # type: ignore[attr-defined]  # noqa: B018
