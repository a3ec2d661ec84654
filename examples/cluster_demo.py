"""The MF cluster demo: POIs -> an MF cluster on a three-node RabbitMQ -> two LEAs' LEMFs,
with a mediator and a broker node killed mid-run.

As root (the broker runs as the ``rabbitmq`` user; Debian's rabbitmq-server), all on loopback:

1. a three-node RabbitMQ cluster (lab.rabbitmq.BrokerCluster), a throw-away PKI, a software
   key store with each LEA's HI key wrapped by its KEK (``li mf keygen``);
2. two LEMFs (``li lemf``), one per LEA;
3. the MF cluster: seven ``li mf run`` processes — two ingest nodes, three mediators, two
   delivery nodes — sharing one configuration (two tasks, two LEAs: aES-256-CBC, signed
   integrity checks, up to 8 packets per HI3 PDU);
4. two POIs, each replaying the demo's bundled capture through the POI pipeline round after
   round (one for the target, to LEA-A; one for another subscriber, to LEA-B), each knowing
   both ingest nodes;
5. mid-run, kill -9 of the mediator owning the most partitions, then of a broker node;
6. when everything is delivered, a summary per LEA checked against the capture: each LEMF's
   pcap holds exactly its task's packets (as many times as they were replayed), no
   sequence gap, integrity checks verified.

Outputs go to ``--out`` (default ./cluster-demo-out): lea-a.pcap, lea-b.pcap and the IRI JSON
lines of each.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from demo import BUNDLED, OTHER_V4, TARGET_V4, TARGET_V6, say, target_packets

import lawful_intercept as li
from lawful_intercept.codec.pcap import ip_payload, read_capture
from lawful_intercept.lab import DevCA

LI = [sys.executable, "-m", "lawful_intercept.cli"]
PASSPHRASE = secrets.token_hex(16)
#: per LEA: its task's XID, LIID and the addresses it intercepts
TASKS = {
    "LEA-A": (uuid.UUID("d3e0c5a4-5b1f-4c8e-9a2d-6f7b1c0e8a44"), "LIID-DEMO-1",
              (TARGET_V4, TARGET_V6)),
    "LEA-B": (uuid.UUID("7a41e2d0-93c5-4b6e-8f10-2c5d9e8b7a63"), "LIID-DEMO-2", (OTHER_V4,)),
}  # fmt: skip
ROLES = {"ingest": 2, "mediation": 3, "delivery": 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tls(config: li.TLSConfig) -> dict[str, str]:
    return {"cert": str(config.certificate), "key": str(config.private_key),
            "ca": str(config.ca_bundle)}  # fmt: skip


class Process:
    """An ``li`` process with a status file (JSON, rewritten every second)."""

    def __init__(self, work: Path, name: str, args: list[str]) -> None:
        self.name, self.work = name, work
        self.status_file = work / f"{name}.status.json"
        self.log = work / f"{name}.log"
        env = {**os.environ, "LI_KEYSTORE_PASSPHRASE": PASSPHRASE}
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [*LI, *args, "--quiet", "--status-file", str(self.status_file)],
            env=env, stderr=self.log.open("ab"), cwd=work,
        )  # fmt: skip

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.status_file.read_text()))
        except (OSError, ValueError):
            return {}

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


def wait_until(what: str, predicate: Any, timeout: float, *watch: Process) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for process in watch:
            if process.process is not None and process.process.poll() is not None:
                raise SystemExit(f"cluster demo: {process.name} exited: {process.log.read_text()}")
        if time.monotonic() > deadline:
            raise SystemExit(f"cluster demo: timed out waiting for {what}")
        time.sleep(0.2)


def configure(work: Path, brokers: list[str], ca: DevCA, lemf_ports: dict[str, int]) -> Path:
    """The configuration every MF node shares (its own listen port and roles are added per
    node), the key store, and each LEA's HI key (``li mf keygen``)."""
    li.keys.SoftwareKeyStore.create(work / "mf-keys.json", PASSPHRASE).close()
    server, client = ca.config("mf", server=True), ca.config("mf-delivery", server=False)
    config = {
        "tls": tls(server),
        "keystore": {"backend": "software", "file": "mf-keys.json"},
        "leas": [
            {
                "name": lea,
                "lemf": f"127.0.0.1:{lemf_ports[lea]}",
                "server_hostname": "lemf",
                "tls": tls(client),
                "encryption": "aES-256-CBC",
                "hi_key_file": f"{lea.lower()}.hikey",
                "integrity_every": 100,
                "sign_every": 5,
                "aggregate": 8,
            }
            for lea in TASKS
        ],
        "tasks": [
            {"xid": str(xid), "liid": liid, "leas": [lea], "country": "GB"}
            for lea, (xid, liid, _) in TASKS.items()
        ],
        "cluster": {"brokers": brokers, "prefix": "demo", "sealing_key": "cluster-key.db"},
    }
    path = work / "mf.json"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    env = {**os.environ, "LI_KEYSTORE_PASSPHRASE": PASSPHRASE}
    for lea in TASKS:
        subprocess.run(
            [*LI, "mf", "keygen", "--config", str(path), "--lea", lea,
             "--lemf-key", str(work / f"{lea.lower()}-lemf.key"),
             "--lemf-verify-key", str(work / "mf-sign.pem")],
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    return path


def start_node(work: Path, base: Path, name: str, role: str) -> tuple[Process, int]:
    config = json.loads(base.read_text())
    port = free_port()
    config["listen"] = f"127.0.0.1:{port}"
    config["cluster"]["roles"] = [role]
    path = work / f"{name}.json"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return Process(work, name, ["mf", "run", "--config", str(path)]), port


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def poi(
    lea: str,
    capture: Path,
    ports: list[int],
    config: li.TLSConfig,
    rounds: int,
    progress: list[int],
) -> int:
    """Replay ``capture`` ``rounds`` times for the LEA's task; X3 PDUs sent."""
    xid, _, addresses = TASKS[lea]
    task = li.poi.InterceptTask(xid, tuple(li.poi.Target.parse(a) for a in addresses))
    sender = li.x2x3.X2X3Sender(
        "127.0.0.1", ports[0], config.client_context(), server_hostname="mf",
        alternates=[("127.0.0.1", p) for p in ports[1:]],
    )  # fmt: skip
    await sender.start()
    data, x3 = capture.read_bytes(), 0
    for n in range(rounds):
        counters = li.poi.POICounters()
        for pipeline, pdus in li.poi.replay(data, [task]):
            counters = pipeline.counters
            for pdu in pdus:
                await sender.send(pdu)
        x3 += counters.x3
        progress[0] = n + 1
        await asyncio.sleep(0.25)
    await sender.flush(120)
    await sender.close()
    return x3


def expected(capture: Path, lea: str, rounds: int) -> collections.Counter[bytes]:
    """The IP packets of the LEA's task in the capture, as many times as it was replayed."""
    records = read_capture(capture.read_bytes())
    packets = [found[1] for r in records if (found := ip_payload(r.linktype, r.data))]
    once = target_packets(packets, ethernet=False, addresses=TASKS[lea][2])
    return collections.Counter({p: n * rounds for p, n in once.items()})


def run(args: argparse.Namespace, work: Path) -> bool:
    from lawful_intercept.lab.rabbitmq import BrokerCluster

    out: Path = args.out
    rounds = args.rounds
    say("1/6", "RabbitMQ: starting three broker nodes on loopback (about 20 s)")
    with BrokerCluster(3) as brokers:
        names = ", ".join(n.name for n in brokers.nodes)
        say("1/6", f"brokers up: {names}")
        ca = DevCA(work, "cluster-demo")
        lemf_ports = {lea: free_port() for lea in TASKS}
        base = configure(work, [f"127.0.0.1:{n.port}" for n in brokers.nodes], ca, lemf_ports)
        say("1/6", "keys: a software key store; each LEA's HI key wrapped by its KEK")
        lemf_tls = ca.config("lemf", server=True)
        lemfs = {
            lea: Process(work, f"lemf-{lea.lower()}", [
                "lemf", "--listen", f"127.0.0.1:{lemf_ports[lea]}",
                "--cert", str(lemf_tls.certificate), "--key", str(lemf_tls.private_key),
                "--ca", str(lemf_tls.ca_bundle), "--pcap", str(out / f"{lea.lower()}.pcap"),
                "--iri", str(out / f"{lea.lower()}-iri.jsonl"),
                "--key-file", str(work / f"{lea.lower()}-lemf.key"),
                "--verify-key", str(work / "mf-sign.pem"),
            ])
            for lea in TASKS
        }  # fmt: skip
        nodes: dict[str, list[Process]] = {role: [] for role in ROLES}
        ingest_ports: list[int] = []
        try:
            for lea, lemf in lemfs.items():
                port = lemf_ports[lea]
                wait_until(f"the LEMF of {lea}", lambda p=port: listening(p), 30, lemf)
            say("2/6", f"LEMFs: {', '.join(f'{lea} on :{p}' for lea, p in lemf_ports.items())}")
            for role, count in ROLES.items():
                for n in range(1, count + 1):
                    node, port = start_node(work, base, f"{role}{n}", role)
                    nodes[role].append(node)
                    if role == "ingest":
                        ingest_ports.append(port)
            everyone = [n for group in nodes.values() for n in group]
            for port in ingest_ports:
                wait_until("the ingest nodes", lambda p=port: listening(p), 60, *everyone)
            wait_until("every node's status", lambda: all(n.status() for n in everyone), 30,
                       *everyone)  # fmt: skip
            say("3/6", "MF cluster: " + ", ".join(f"{c} {r}" for r, c in ROLES.items())
                + f" (li mf run x {len(everyone)})")  # fmt: skip
            say("4/6", f"POIs: replaying {args.pcap.name} {rounds} times each, to both "
                "ingest nodes (one POI per task)")  # fmt: skip
            victims = asyncio.run(
                send_and_kill(args, ca.config("poi-1", server=False), ingest_ports, nodes,
                              brokers, rounds)
            )  # fmt: skip
            want = {lea: expected(args.pcap, lea, rounds) for lea in TASKS}

            def delivered() -> bool:
                return all(
                    lemfs[lea].status().get("cc_packets", 0) >= sum(want[lea].values())
                    for lea in TASKS
                )

            wait_until("delivery to both LEMFs", delivered, 240, *lemfs.values())
            time.sleep(2.0)  # anything more would come now
            statuses = {n.name: n.status() for group in nodes.values() for n in group
                        if n.alive()}  # fmt: skip
        finally:
            for group in nodes.values():
                for node in group:
                    node.stop()
            lemf_status = {lea: p.status() for lea, p in lemfs.items()}
            for lemf in lemfs.values():
                lemf.stop()
    return summary(out, want, lemf_status, statuses, victims, rounds)


async def send_and_kill(
    args: argparse.Namespace,
    poi_tls: li.TLSConfig,
    ports: list[int],
    nodes: dict[str, list[Process]],
    brokers: Any,
    rounds: int,
) -> dict[str, str]:
    """Both POIs replay; a third of the way in the busiest mediator is killed, two thirds
    of the way a broker node."""
    progress = [0]
    sending = [
        asyncio.ensure_future(poi(lea, args.pcap, ports, poi_tls, rounds, progress))
        for lea in TASKS
    ]
    victims: dict[str, str] = {}
    while progress[0] < rounds // 3:
        await asyncio.sleep(0.1)
    mediator = max(nodes["mediation"], key=lambda n: n.status().get("owned_partitions", 0))
    owned = mediator.status().get("owned_partitions", 0)
    mediator.kill9()
    victims["mediator"] = f"{mediator.name} (owned {owned} partitions)"
    say("5/6", f"kill -9 of {victims['mediator']} at round {progress[0]}")
    while progress[0] < 2 * rounds // 3:
        await asyncio.sleep(0.1)
    broker = brokers.nodes[1]
    broker.kill()
    victims["broker"] = broker.name
    say("5/6", f"kill -9 of broker node {broker.name} at round {progress[0]}")
    await asyncio.gather(*sending)
    say("5/6", "POIs done; waiting for the cluster to deliver everything")
    return victims


def summary(
    out: Path,
    want: dict[str, collections.Counter[bytes]],
    lemfs: dict[str, dict[str, Any]],
    nodes: dict[str, dict[str, Any]],
    victims: dict[str, str],
    rounds: int,
) -> bool:
    takeovers = sum(s.get("takeovers", 0) for n, s in nodes.items() if n.startswith("mediation"))
    seconds = max((s.get("last_takeover_seconds", 0.0) for s in nodes.values()), default=0.0)
    rows: list[tuple[str, object]] = [
        ("killed mid-run (kill -9)", f"{victims['mediator']}; broker {victims['broker']}"),
        ("partition takeovers by the other mediators", takeovers),
        ("slowest takeover (first message to first output)", f"{seconds:.2f} s"),
        ("broker reconnections of the surviving nodes",
         sum(s.get("broker_reconnects", 0) for s in nodes.values())),
        ("X2/X3 PDUs the ingest nodes refused",
         sum(s.get("refused", 0) for s in nodes.values())),
        ("PS-PDUs each delivery node delivered", "; ".join(
            f"{n}: " + (", ".join(f"{lea} {c}" for lea, c in sorted(s.get("delivered", {}).items()))
                        or "none")
            for n, s in sorted(nodes.items()) if n.startswith("delivery"))),
    ]  # fmt: skip
    ok = all(s.get("refused", 0) == 0 and s.get("sequence_gaps", 0) == 0 for s in nodes.values())
    for lea, counter in want.items():
        path = out / f"{lea.lower()}.pcap"
        got = collections.Counter(r.data for r in read_capture(path.read_bytes()))
        exact = got == counter
        status = lemfs[lea]
        rows += [
            (f"{lea}: packets of its task replayed ({rounds} rounds)", sum(counter.values())),
            (f"{lea}: CC packets decrypted at its LEMF", status.get("cc_packets")),
            (f"{lea}: integrity checks verified / failed",
             f"{status.get('integrity_verified')} / {status.get('integrity_failed')}"),
            (f"{lea}: sequence gaps / duplicates dropped",
             f"{status.get('gaps')} / {status.get('duplicates')}"),
            (f"{lea}: pcap holds exactly its task's packets", "yes" if exact else "NO"),
        ]  # fmt: skip
        ok = ok and exact and status.get("gaps") == 0 and status.get("integrity_failed") == 0
        ok = ok and status.get("integrity_verified", 0) > 0
    print("\nSummary (MF cluster, nothing lost):")
    for label, value in rows:
        print(f"  {label:<52}{value}")
    print(f"\n{'All checks passed.' if ok else 'CHECKS FAILED.'}  Outputs in {out}/: "
          "lea-a.pcap, lea-b.pcap, lea-a-iri.jsonl, lea-b-iri.jsonl")  # fmt: skip
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("cluster-demo-out"))
    parser.add_argument("--rounds", type=int, default=30, help="replays of the capture per POI")
    parser.add_argument("--pcap", type=Path, default=BUNDLED, help="capture to replay")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("cluster demo: run it as root (the brokers run as the rabbitmq user)",
              file=sys.stderr)  # fmt: skip
        return 2
    if shutil.which("/usr/lib/rabbitmq/bin/rabbitmq-server") is None:
        print("cluster demo: rabbitmq-server is not installed (make deps installs it)",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.rounds < 3:
        print("cluster demo: --rounds must be 3 or more", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for lea in TASKS:  # a run starts afresh: no LEMF state (sequence numbers) from the last
        for old in args.out.glob(f"{lea.lower()}*"):
            old.unlink()
    work = Path(tempfile.mkdtemp(prefix="li-cluster-demo-"))
    try:
        return 0 if run(args, work) else 1
    finally:
        if os.environ.get("LI_DEMO_KEEP"):
            print(f"cluster demo: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
