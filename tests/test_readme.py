"""The README's first Python example runs as written and prints what it says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_first_readme_example_runs() -> None:
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    code = block.group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    promised = re.search(r"print\(exc\)\s+# (.*)", code)
    assert promised is not None
    assert out.getvalue().strip() == promised.group(1)


def test_handover_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    handover = [b for b in blocks if "from lawful_intercept import handover as hi" in b]
    assert len(handover) == 1
    exec(compile(handover[0], "README.md", "exec"), {})


def test_key_custody_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    custody = [b for b in blocks if "li.SoftwareKeyStore.create" in b and "MFService" not in b]
    assert len(custody) == 1
    exec(compile(custody[0], "README.md", "exec"), {})


def test_poi_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (poi,) = [b for b in blocks if "li.POIPipeline" in b]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(poi, "README.md", "exec"), {})
    assert out.getvalue().strip() == "[1, 2]"


def test_mf_and_lemf_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (example,) = [b for b in blocks if "li.MFService(" in b]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {"__name__": "readme"})
    assert out.getvalue().strip() == "100 0 0"
