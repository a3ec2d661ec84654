"""The Python examples of the README and of the guides in docs/ run as written and print what
they say, so the documentation cannot drift from the API."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
GUIDES = ROOT / "docs" / "guides"


def _blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def _run(code: str, origin: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the docs use no deprecated name
        exec(compile(code, str(origin), "exec"), {"__name__": "docs"})
    return out.getvalue().strip()


def test_first_readme_example_runs() -> None:
    code = _blocks(README)[0]
    promised = re.search(r"print\(exc\)\s+# (.*)", code)
    assert promised is not None
    assert _run(code, README) == promised.group(1)


def test_handover_guide_example_runs() -> None:
    path = GUIDES / "lemf.md"
    (handover,) = [b for b in _blocks(path) if "from lawful_intercept import handover as hi" in b]
    _run(handover, path)


def test_key_custody_guide_example_runs() -> None:
    path = GUIDES / "mf.md"
    (custody,) = [
        b for b in _blocks(path) if "li.keys.SoftwareKeyStore.create" in b and "MFService" not in b
    ]
    _run(custody, path)


def test_fiveg_guide_example_runs() -> None:
    path = GUIDES / "fiveg.md"
    blocks = [b for b in _blocks(path) if "from lawful_intercept import fiveg" in b]
    assert len(blocks) == 3  # the payloads, the typed events, the IRI-POI and CC-POI
    for block in blocks:
        promised = re.search(r"print\(.*\)\s+# (.*)", block)
        assert promised is not None
        assert _run(block, path) == promised.group(1)


def test_poi_guide_example_runs() -> None:
    path = GUIDES / "poi.md"
    (poi,) = [b for b in _blocks(path) if "li.poi.POIPipeline" in b]
    assert _run(poi, path) == "[1, 2]"


def test_mf_and_lemf_guide_example_runs() -> None:
    path = GUIDES / "mf.md"
    (example,) = [b for b in _blocks(path) if "li.mf.MFService(" in b]
    assert _run(example, path) == "100 0 0"
