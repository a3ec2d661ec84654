"""The native helpers: all built by `make`, loaded through the one switch, and off together
with LI_PURE_PYTHON (the same octets either way)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import lawful_intercept as li  # noqa: F401 - loads the modules that ask for the helpers
from lawful_intercept import _native
from lawful_intercept.codec.handover import ccreader, template  # noqa: F401
from lawful_intercept.codec.x2x3 import decoder  # noqa: F401
from lawful_intercept.protection import encryption, sealing  # noqa: F401

HELPERS = {
    "lawful_intercept.codec.handover._ccitems",
    "lawful_intercept.codec.handover._ccread",
    "lawful_intercept.codec.x2x3._viewcheck",
    "lawful_intercept.protection._crypto",
}

_PROBE = """
import json, os
from lawful_intercept import _native
from lawful_intercept.codec.handover import ccreader, template
from lawful_intercept.codec.x2x3 import decoder
from lawful_intercept.protection import encryption
encryptor = encryption.PayloadEncryptor(
    bytes(32), encryption.EncryptionProfile(), byte_counter=2**60)
sealed = encryptor.encrypt_parts((b"header",), 6, (b"x",), 1, 5)
print(json.dumps({"loaded": _native.loaded(), "sealed": sealed.hex()}))
"""


def test_every_helper_is_built_and_in_use() -> None:
    """`make` builds them (gcc, python3-dev, libssl-dev); without one the package would quietly
    take a slower path, so the suite insists."""
    loaded = _native.loaded()
    assert set(loaded) == HELPERS
    assert all(loaded.values()), f"not built: {[n for n, ok in loaded.items() if not ok]}"


def _probe(**env: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_li_pure_python_turns_every_helper_off_with_the_same_octets() -> None:
    native, pure = _probe(LI_PURE_PYTHON="0"), _probe(LI_PURE_PYTHON="1")
    assert set(native["loaded"].values()) == {True}  # type: ignore[union-attr]
    assert set(pure["loaded"].values()) == {False}  # type: ignore[union-attr]
    assert pure["sealed"] == native["sealed"]
