"""``li config check`` on the shipped example configurations and on mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "config"


def li(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_the_example_configurations_are_valid(name: str) -> None:
    """The examples cannot rot: each passes the check that li mf run, li poi and li admf
    make before they start."""
    result = li("config", "check", str(EXAMPLES / name))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{EXAMPLES / name}: a valid ")


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("tls: {cert: a, key: b, ca: c}\nkeystore: {backend: software, file: k}\nqueu: {}\n",
         None, "the top level: unknown key 'queu' (did you mean 'queue'?)"),
        ("ne: {address: 'h:1', identifier: n}\nadmf: {identifier: a, cert: c, key: k, ca: c}\n"
         "tasks: [{xid: 8b1c2f0e-2d4c-4e55-9a57-2f0c9b8e6a11, targets: ['ipv4Address:1.2.3.4'],"
         " delivery_type: X2only}]\n",
         None, "tasks[0].delivery_type: 'X2only' is not one of X2Only, X3Only, X2andX3"),
        ("listen: 1\n", "poi-x1", "the top level: 'ne_identifier' is required (and 5 more)"),
        ("{", None, "not YAML"),
    ],
)  # fmt: skip
def test_a_mistake_is_one_line_and_exit_2(
    tmp_path: Path, text: str, kind: str | None, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = li("config", "check", str(path), *(["--kind", kind] if kind else []))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"li config check: {path}: ") and expected in line
    assert "Traceback" not in result.stderr


def test_the_services_refuse_a_configuration_before_starting(tmp_path: Path) -> None:
    """li mf run and li admf read their files through the same check: one line, exit 2,
    nothing started."""
    bad = tmp_path / "mf.yaml"
    bad.write_text((EXAMPLES / "mf.yaml").read_text().replace("encryption: aES", "encrytion: aES"))
    result = li("mf", "run", "--config", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"li mf run: {bad}: leas[0]: unknown key 'encrytion' (did you mean 'encryption'?)"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        (EXAMPLES / "admf-plan.yaml")
        .read_text()
        .replace("delivery_type: X2Only", "deliverytype: X2Only")
    )
    result = li("admf", "apply", str(plan))
    assert result.returncode == 2
    assert "tasks[0]: unknown key 'deliverytype' (did you mean 'delivery_type'?)" in result.stderr
    assert not (tmp_path / "mf-queue.db").exists()


def test_the_configuration_reference_is_the_schemas_own() -> None:
    """docs/configuration-reference.md is what `li config reference` writes from the schemas:
    regenerate it (li config reference > docs/configuration-reference.md) after a change."""
    page = Path(__file__).resolve().parents[2] / "docs" / "configuration-reference.md"
    result = li("config", "reference")
    assert result.returncode == 0
    assert page.read_text() == result.stdout


def test_a_configuration_others_can_read_is_warned_about(tmp_path: Path) -> None:
    """A configuration names LIIDs and key files: one warning line while group or others may
    read it, none once it is the owner's only."""
    config = tmp_path / "mf.yaml"
    config.write_text((EXAMPLES / "mf.yaml").read_text())
    config.chmod(0o644)
    warned = li("config", "check", str(config))
    assert warned.returncode == 0
    assert f"{config} can be read by other users (mode 644)" in warned.stderr
    assert warned.stderr.count("\n") == 1
    config.chmod(0o600)
    assert li("config", "check", str(config)).stderr == ""
