"""`li lemf --require-signed` against a real `li mf run` (issue 20 item 1): with the MF signing
every integrity check, every packet is written exactly once, also across a LEMF killed while
it held content; with hash checks between the signed ones, what they cover is kept aside, not
written, and nothing is lost."""

from __future__ import annotations

from pathlib import Path

from support.delivery import run
from support.processes import LEMFProcess, MFProcess, delivered, send

UNSIGNED = "not covered by a verified signed integrity check"


def test_every_packet_is_written_once_when_every_check_is_signed(tmp_path: Path) -> None:
    mf = MFProcess(tmp_path, aggregate=1, integrity_every=40, sign_every=1)
    lemf = LEMFProcess(mf)

    async def scenario() -> None:
        lemf.start("--require-signed")
        mf.start()
        await send(mf, 0, 150)
        lemf.kill9()  # whatever it held for a check was neither written nor acknowledged
        lemf.start("--require-signed")
        await send(mf, 150, 150)
        await delivered(mf)
        assert mf.stop() == 0
        assert lemf.stop() == 0

    run(scenario(), timeout=240)
    assert lemf.packets() == list(range(300))
    assert lemf.reported() == []  # nothing kept aside, no gap
    assert lemf.exits == [0]


def test_content_under_hash_checks_only_is_kept_aside(tmp_path: Path) -> None:
    mf = MFProcess(tmp_path, aggregate=1, integrity_every=40, sign_every=2)
    lemf = LEMFProcess(mf)

    async def scenario() -> None:
        lemf.start("--require-signed")
        mf.start()
        await send(mf, 0, 200)
        await delivered(mf)
        assert mf.stop() == 0
        assert lemf.stop() == 1  # content was kept aside: the LEMF says so in its exit

    run(scenario(), timeout=240)
    written = lemf.packets()
    kept = [r for r in lemf.reported() if r["reason"] == UNSIGNED and r["stream"] == "HI3"]
    assert written and kept
    assert len(written) + len(kept) == 200  # every packet written or kept aside, none twice
    assert written == sorted(set(written))
    assert all("hash check only" in r["error"] for r in kept)
    assert "quarantined, not written" in (tmp_path / "lemf.log").read_text()
