"""`li lemf` keeps its evidence across restarts: outputs appended (never truncated), created
0600, and the streams' sequence state written beside them for the next run."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from support.processes import LI, free_port

from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.lab import DevCA


def test_a_restarted_li_lemf_appends_to_its_outputs_and_keeps_its_state(tmp_path: Path) -> None:
    ca = DevCA(tmp_path, "li-lemf")
    tls = ca.config("lemf", server=True)
    scraper = ca.config("prometheus", server=False).client_context()
    scraper.check_hostname = False
    metrics_port = free_port()
    pcap, iri = tmp_path / "cc.pcap", tmp_path / "iri.jsonl"
    before = b"\xd4\xc3\xb2\xa1" + bytes(20) + b"earlier run's records"
    pcap.write_bytes(before)
    iri.write_text('{"earlier": "record"}\n')
    command = [
        *LI, "lemf", "--listen", f"127.0.0.1:{free_port()}", "--cert", str(tls.certificate),
        "--key", str(tls.private_key), "--ca", str(tls.ca_bundle), "--pcap", str(pcap),
        "--iri", str(iri), "--quiet", "--status-file", str(tmp_path / "status.json"),
        "--metrics", f"127.0.0.1:{metrics_port}",
    ]  # fmt: skip
    for _ in range(2):  # run, stop, run again
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        url = f"https://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, context=scraper, timeout=10) as response:
            scraped = response.read().decode()
        assert "li_lemf_pdus_total 0.0" in scraped and "li_lemf_gaps_total 0.0" in scraped
        assert "# TYPE li_lemf_time_synchronised gauge" in scraped  # the kernel's clock state
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "listening on" in err and "Traceback" not in err
    assert pcap.read_bytes() == before  # nothing arrived: appended to, never truncated
    assert iri.read_text() == '{"earlier": "record"}\n'
    state = Path(f"{pcap}.state")
    saved = json.loads(state.read_text())
    assert (saved["version"], saved["streams"]) == (1, [])
    outputs = {name: facts["size"] for name, facts in saved["outputs"].items()}
    assert outputs == {"pcap": len(before), "iri": 22, "quarantine": 0}  # where to cut back to
    assert saved["outputs"]["pcap"]["inode"] == pcap.stat().st_ino  # and only that file
    assert state.stat().st_mode & 0o777 == 0o600
    status = json.loads((tmp_path / "status.json").read_text())  # the counters, in words
    assert status["pdus"] == 0 and {"undecryptable", "counter_steps", "gaps"} <= set(status)
    assert status["time_synchronised"] in (0.0, 1.0) and status["time_max_error_seconds"] >= 0


def test_li_lemf_writes_each_liid_to_its_own_files_and_says_everything_it_counts(
    tmp_path: Path,
) -> None:
    """`--pcap 'DIR/cc-{liid}.pcap' --iri 'DIR/iri-{liid}.jsonl'`: each LIID's CC in its own
    pcap; the progress line names every counter in words; a template whose directory is
    missing is one line and exit 2."""
    ca = DevCA(tmp_path, "li-lemf")
    tls, mf = ca.config("lemf", server=True), ca.config("mf", server=False)
    port = free_port()
    tls_args = ["--cert", str(tls.certificate), "--key", str(tls.private_key),
                "--ca", str(tls.ca_bundle)]  # fmt: skip
    missing = subprocess.run(
        [*LI, "lemf", "--listen", f"127.0.0.1:{port}", *tls_args,
         "--pcap", str(tmp_path / "none" / "cc-{liid}.pcap"), "--iri", str(tmp_path / "i.jsonl")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no directory" in missing.stderr and "Traceback" not in missing.stderr
    out = tmp_path / "out"
    out.mkdir()
    command = [*LI, "lemf", "--listen", f"127.0.0.1:{port}", *tls_args,
               "--pcap", str(out / "cc-{liid}.pcap"),
               "--iri", str(out / "iri-{liid}.jsonl")]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        assert "listening on" in process.stderr.readline()
        operator = m.NetworkIdentifier(b"OP")
        pdus = [
            CCTemplate(lawful_interception_identifier=liid, network_identifier=operator).encode(
                0, 1, 1_800_000_000 * 10**9, m.PayloadDirection.TO_TARGET, bytes(20)
            )
            for liid in (b"LIID-A", b"LIID-B")
        ]
        context = mf.client_context()
        context.check_hostname = False
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw) as connection,
        ):
            connection.sendall(b"".join(pdus))
            progress = ""
            deadline = time.monotonic() + 30
            while "PDUs 2 " not in progress and time.monotonic() < deadline:
                progress = process.stderr.readline()
        expected = ("CC 2", "gaps 0 (0 missing)", "quarantined 0 (undecryptable 0, in clear "
                    "0, out of window 0, re-used 0, over the stream limit 0, unsigned 0, "
                    "CC not IP 0)",
                    "connections 1 (refused 0, over the cap 0, failed handshakes 0, idle closed 0)",
                    "streams refused 0")  # fmt: skip
        for words in expected:
            assert words in progress, progress
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
    assert sorted(p.name for p in out.glob("cc-*.pcap")) == ["cc-LIID-A.pcap", "cc-LIID-B.pcap"]
    assert (out / "cc-all.pcap.state").exists() and (out / "cc-LIID-A.pcap").stat().st_size > 24
