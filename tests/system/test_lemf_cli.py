"""`li lemf` keeps its evidence across restarts: outputs appended (never truncated), created
0600, and the streams' sequence state written beside them for the next run."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from support.processes import LI, free_port

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
