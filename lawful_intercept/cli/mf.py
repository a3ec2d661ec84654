"""``li mf`` (run a mediation function; make an LEA's HI key) and ``li lemf`` (the reference
LEMF). Secrets come from the environment or from files, never from arguments."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from cryptography.hazmat.primitives import serialization

from lawful_intercept.adapters.aio import ANYONE, Senders
from lawful_intercept.cli.clock import service_clock
from lawful_intercept.cli.files import publish, read_input, read_verification_key
from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protection.keys.base import HIKey, KeyStore, release, zeroise
from lawful_intercept.protection.memory import lock

if TYPE_CHECKING:
    from lawful_intercept.adapters.metrics import MetricsEndpoint
    from lawful_intercept.services.mf_config import MFConfig

__all__ = ["add_mf_parsers", "cmd_lemf", "cmd_mf"]


def add_mf_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mf = sub.add_parser(
        "mf",
        help="mediation function: X2/X3 in, HI2/HI3 out to each LEA, durably queued",
        description="Run an MF from a JSON configuration (see docs/configuration.md), or "
        "make an LEA's HI encryption key.",
    )
    actions = mf.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="receive, mediate, queue and deliver until SIGTERM")
    run.add_argument("--config", required=True)
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--status-file", help="write the counters here as JSON every second")
    keygen = actions.add_parser(
        "keygen",
        help="make an LEA's HI key: wrapped by the KEK for the MF, in clear for the LEMF",
    )
    keygen.add_argument("--config", required=True)
    keygen.add_argument("--lea", required=True)
    keygen.add_argument("--lemf-key", required=True, help="the LEMF's copy (mode 0600)")
    keygen.add_argument(
        "--force", action="store_true", help="replace an existing HI key (and the LEMF's copy)"
    )
    keygen.add_argument(
        "--lemf-verify-key", help="also write the MF's signature public key (PEM) here"
    )
    lemf = sub.add_parser(
        "lemf",
        help="reference LEMF: receive HI2/HI3 over TLS, verify, decrypt, write pcap and JSON",
    )
    lemf.add_argument("--listen", default="127.0.0.1:9444", help="HOST:PORT")
    lemf.add_argument("--cert", required=True)
    lemf.add_argument("--key", required=True)
    lemf.add_argument("--ca", required=True, help="CA that certifies the MFs")
    lemf.add_argument("--pcap", required=True,
                      help="CC as a pcap of the IP packets (appended); {liid} in the name "
                      "gives each LIID its own file")  # fmt: skip
    lemf.add_argument("--iri", required=True,
                      help="IRI as JSON lines (appended); {liid} in the name gives each LIID "
                      "its own file")  # fmt: skip
    lemf.add_argument(
        "--state", help="the streams' sequence state across restarts (default: PCAP.state)"
    )
    lemf.add_argument(
        "--quarantine",
        help="PDUs kept aside, raw, and gap reports, as JSON lines "
        "(default: PCAP.quarantine.jsonl)",
    )
    lemf.add_argument("--key-file", help="the HI key (from 'li mf keygen') for encrypted PDUs")
    lemf.add_argument("--encryption", default="aES-256-CBC", choices=["aES-256-CBC", "aES-192-CBC"],
                      help="the cipher agreed with the MF (default aES-256-CBC)")  # fmt: skip
    lemf.add_argument(
        "--encryption-iv",
        default="sequence-repeated",
        choices=["sequence-repeated", "zero"],
        help="the CBC IV rule agreed with the MF (default sequence-repeated)",
    )
    lemf.add_argument("--verify-key", help="the MF's signature public key (PEM)")
    lemf.add_argument("--require-signed", action="store_true",
                      help="write CC and IRI only once a signed integrity check that verifies "
                      "with --verify-key covers them; quarantine the rest (the MF needs "
                      "sign_every: 1)")  # fmt: skip
    lemf.add_argument("--idle-timeout", type=float, default=60.0, metavar="S",
                      help="close a connection that brings no whole PDU for S seconds "
                      "(default 60; an idle MF sends a keep-alive every 10 s)")  # fmt: skip
    lemf.add_argument("--max-streams", type=int, default=10_000, metavar="N",
                      help="(LIID, HI2|HI3) streams followed at most; a PDU of one more is "
                      "quarantined (default 10000)")  # fmt: skip
    lemf.add_argument("--max-connections", type=int, default=64, metavar="N",
                      help="delivery connections open at most; one more is closed at once "
                      "(default 64)")  # fmt: skip
    lemf.add_argument("--allow-mf", action="append", metavar="SHA256",
                      help="take deliveries only from the MF certificate with this SHA-256 "
                      "(repeatable; default: any the CA issued)")  # fmt: skip
    lemf.add_argument("--no-ack", action="store_true", help="decline PDU acknowledgement")
    lemf.add_argument("--quiet", action="store_true", help="no progress lines")
    lemf.add_argument("--status-file", help="write the counters here as JSON every second")
    lemf.add_argument("--metrics", metavar="HOST:PORT",
                      help="serve the counters for Prometheus at https://HOST:PORT/metrics "
                      "(this LEMF's certificate; scrapers need one from --ca)")  # fmt: skip


def cmd_mf(args: argparse.Namespace, err: TextIO) -> int:
    from lawful_intercept.codec.handover import model as m
    from lawful_intercept.protection.keys.config import open_keystore
    from lawful_intercept.services.mf_config import load_mf_config

    config = load_mf_config(args.config)
    base = Path(args.config).parent
    if args.action == "keygen":
        key_file = config.hi_key_files().get(args.lea)
        if key_file is None:
            raise ConfigurationError(f"LEA {args.lea!r} is not configured with hi_key_file")
        profiles = {e.config.name: e.config.encryption for e in config.leas}
        profiles.update({did: lea.encryption for did, (lea, _) in config.x1_protection.items()})
        profile = profiles.get(args.lea)
        size = 24 if profile and profile.encryption_type is m.EncryptionType.AES_192_CBC else 32
        for existing in (key_file, Path(args.lemf_key)):
            if existing.exists() and not args.force:
                raise ConfigurationError(
                    f"{existing} exists: a new key would leave the LEMF unable to decrypt what "
                    "the old one protects (--force replaces it)"
                )
        key = lock(bytearray(os.urandom(size)))
        try:
            with open_keystore(config.keystore, base) as store:
                _write_private(key_file, store.wrap_hi_key(key))
                if args.lemf_verify_key:
                    Path(args.lemf_verify_key).write_bytes(
                        store.public_key().public_bytes(
                            serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo,
                        )
                    )
            _write_private(Path(args.lemf_key), key)
        finally:
            zeroise(key)
        print(f"li mf keygen: {args.lea}: MF copy wrapped in {key_file}, LEMF copy "
              f"in {args.lemf_key} (move it to the LEA out of band)", file=err)  # fmt: skip
        return 0
    return asyncio.run(_run_mf(args, config, base, err))


def _write_private(path: Path, octets: bytes | bytearray) -> None:
    """``octets`` in a file only its owner reads (mode 0600, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(octets)


async def _run_mf(args: argparse.Namespace, config: object, base: Path, err: TextIO) -> int:
    import attrs

    from lawful_intercept.adapters.hi_client import Destination
    from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
    from lawful_intercept.protection.keys.config import open_keystore
    from lawful_intercept.services.mf import MFService
    from lawful_intercept.services.mf_config import MFConfig

    assert isinstance(config, MFConfig)
    store = open_keystore(config.keystore, base)
    keys: dict[str, HIKey] = {}
    try:
        for name, key_file in config.hi_key_files().items():
            keys[name] = store.unwrap_hi_key(key_file.read_bytes())
        if config.cluster is not None:
            return await _run_cluster_node(args, config, base, store, keys, err)
        queue = SQLiteQueue.with_keystore(
            config.queue_path, store, max_records=config.max_records,
            max_octets=config.max_octets,
        )  # fmt: skip
        destinations = {
            e.config.name: Destination(
                e.lemf[0],
                e.lemf[1],
                e.tls.client_context() if e.tls else None,
                server_hostname=e.server_hostname,
                acknowledgement=e.acknowledgement,
                allow_plain_tcp=e.tls is None,
            )
            for e in config.leas
        }
        service = MFService(
            x2x3_tls=config.tls.server_context(), bindings=config.tasks,
            leas=[e.config for e in config.leas], destinations=destinations, store=queue,
            operator_id=config.operator_id, keys=keys, signer=store.sign_digest,
            host=config.listen[0], port=config.listen[1], pois=config.pois,
        )  # fmt: skip
        stop = _stop_on_signals()
        metrics = _mf_metrics(config, "li_mf", MF_GAUGES)
        await service.start()
        clock = service_clock(args, "li mf")
        x1 = None
        if config.x1 is not None:
            from lawful_intercept.services.x1_hooks import MFHooks, lea_protection
            from lawful_intercept.services.x1_runner import load_ne_config, start_ne

            assert config.x1_delivery_tls is not None
            ne_config = load_ne_config(config.x1, base)
            hooks = MFHooks(
                service, config.x1_delivery_tls.client_context(),
                lea_settings=lea_protection(config.x1_protection, keys),
            )  # fmt: skip
            x1 = await start_ne(ne_config, store, hooks, clock)
            print(f"li mf: X1 on {ne_config.host}:{x1[1].port} as {ne_config.ne_id}, "
                  f"{len(x1[0].tasks)} task(s) provisioned", file=err, flush=True)  # fmt: skip
        print(f"li mf: listening on {config.listen[0]}:{service.port}, "
              f"{len(config.tasks)} task(s), {len(config.leas)} LEA(s), "
              f"{len(queue)} record(s) queued from before", file=err, flush=True)  # fmt: skip
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            gauges = clock.check()
            service.hold_input(clock.refusing)
            status = service.status()
            publish(args.status_file, metrics, {**attrs.asdict(status), **gauges})
            if not args.quiet:
                fault = "  STORAGE FAULT: not accepting" if status.storage_fault else ""
                if status.time_hold:
                    fault += "  CLOCK UNTRUSTED: X2/X3 held back"
                if status.queue_losses:
                    fault += f"  QUEUE LOSSES: {status.queue_losses} range(s)"
                if status.raw_attribute_pdus:
                    fault += f"  attributes kept raw in {status.raw_attribute_pdus} PDU(s)"
                if status.target_identifiers_left_out:
                    fault += (f"  target identifiers with no TS 33.128 form "
                              f"{status.target_identifiers_left_out}")  # fmt: skip
                if status.unknown_xid or status.unsupported or status.unauthorised_pdus:
                    fault += (f"  DROPPED: {status.unknown_xid} for no task, "
                              f"{status.unsupported} unsupported, {status.unauthorised_pdus} "
                              "from a POI not allowed the task")  # fmt: skip
                if status.refused_peers:
                    fault += f"  REFUSED POIs: {status.refused_peers} connection(s)"
                if status.failed_handshakes or status.refused_over_cap:
                    fault += (f"  connections over the cap {status.refused_over_cap}, failed "
                              f"handshakes {status.failed_handshakes}")  # fmt: skip
                delivered = ", ".join(
                    f"{lea} {count} ({status.pending[lea]} pending, lag "
                    f"{status.delivery_lag_seconds[lea]:.1f}s"
                    f"{'' if status.connected[lea] else ', not connected'})"
                    for lea, count in status.delivered.items()
                )
                print(f"li mf: received {status.x2x3_received}  accepted {status.accepted}  "
                      f"refused {status.refused}  queued {status.queued}  "
                      f"delivered {delivered or 'nothing'}{fault}", file=err,
                      flush=True)  # fmt: skip
        if x1 is not None:
            await x1[1].close()
            x1[0].close()
        await service.close()
        queue.close()
        if metrics is not None:
            metrics.close()
        print("li mf: stopped; undelivered PDUs stay queued for the next run", file=err)
        return 0
    finally:
        for key in keys.values():
            release(key)
        store.close()


async def _run_cluster_node(
    args: argparse.Namespace,
    config: object,
    base: Path,
    store: KeyStore,
    keys: dict[str, HIKey],
    err: TextIO,
) -> int:
    """``li mf run`` for a node of an MF cluster: its roles until SIGINT or SIGTERM, a
    status line a second."""
    import attrs

    from lawful_intercept.services.cluster_node import ClusterNode
    from lawful_intercept.services.mf_config import MFConfig
    from lawful_intercept.services.x1_runner import load_ne_config

    assert isinstance(config, MFConfig)
    x1 = load_ne_config(config.x1, base) if config.x1 is not None else None
    clock = service_clock(args, "li mf")
    node = ClusterNode(config, store, keys, x1=x1, time_check=clock)
    stop = _stop_on_signals()
    metrics = _mf_metrics(config, "li_mf_cluster", CLUSTER_GAUGES)
    await node.start()
    where = f", X2/X3 on {config.listen[0]}:{node.port}" if node.port is not None else ""
    if node.x1_server is not None and x1 is not None:
        where += f", X1 on {x1.host}:{node.x1_server.port} as {x1.ne_id}"
    print(f"li mf: cluster node ({', '.join(node.roles)}){where}, {len(config.tasks)} task(s), "
          f"{len(config.leas)} LEA(s)", file=err, flush=True)  # fmt: skip
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            status = node.status()
            publish(args.status_file, metrics, {**attrs.asdict(status), **clock.check()})
            if not args.quiet:
                alarms = ""
                if status.refused or status.refused_messages or status.sequence_gaps:
                    alarms = (f"  REFUSED: {status.refused} X2/X3 PDUs, "
                              f"{status.refused_messages} broker messages; sequence gaps "
                              f"{status.sequence_gaps}")  # fmt: skip
                delivered = ", ".join(f"{k} {v}" for k, v in status.delivered.items())
                print(f"li mf: received {status.x2x3_received}  published {status.published}  "
                      f"partitions {status.owned_partitions}  mediated {status.batches} "
                      f"batches  delivered {delivered or 'nothing'}  broker reconnects "
                      f"{status.broker_reconnects}{alarms}", file=err, flush=True)  # fmt: skip
    finally:
        await node.close()
        if metrics is not None:
            metrics.close()
    print("li mf: cluster node stopped; what it held unacknowledged goes to another node",
          file=err)  # fmt: skip
    return 0


def _stop_on_signals() -> asyncio.Event:
    """An event SIGINT or SIGTERM sets (a service's clean stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _mf_metrics(config: MFConfig, name: str, gauges: frozenset[str]) -> MetricsEndpoint | None:
    """The MF configuration's metrics endpoint (None: it has no ``metrics``)."""
    if config.metrics is None:
        return None
    from lawful_intercept.adapters.metrics import MetricsEndpoint

    (host, port), tls = config.metrics
    return MetricsEndpoint(tls, host, port, name, gauges)


def _append(path: str, mode: str) -> IO[Any]:
    """An output opened for appending (a restart never truncates evidence), made 0600."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), mode)


#: the clock check's fields (levels, not running totals), in every service's metrics
CLOCK_GAUGES = frozenset({"time_synchronised", "time_max_error_seconds"})
#: LEMFCounters fields that are levels, not running totals
LEMF_GAUGES = CLOCK_GAUGES | {"held"}
#: ClusterStatus fields that are levels, not running totals
CLUSTER_GAUGES = CLOCK_GAUGES | {
    "owned_partitions", "serving", "broker_nodes", "last_takeover_seconds", "x1_version",
    "x1_tasks", "x1_destinations",
}  # fmt: skip
#: MFStatus fields that are levels, not running totals
MF_GAUGES = CLOCK_GAUGES | {
    "queued", "pending", "connected", "storage_fault", "queue_rolled_back", "time_hold",
    "delivery_lag_seconds",
}  # fmt: skip


def _can_listen(host: str, port: int) -> None:
    """ConfigurationError if ``host:port`` cannot be listened on (in use, not ours), found
    before any output file is opened."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's listener
        try:
            probe.bind((host, port))
            probe.listen()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None


def _allowed_mfs(fingerprints: list[str] | None) -> Senders:
    """``--allow-mf`` as the LEMF's senders; ConfigurationError for one that is not a
    SHA-256."""
    if not fingerprints:
        return ANYONE
    allowed: dict[str, frozenset[str] | None] = {}
    for given in fingerprints:
        hexed = given.lower().replace(":", "")
        if len(hexed) != 64 or any(c not in "0123456789abcdef" for c in hexed):
            raise ConfigurationError(f"--allow-mf {given}: not a SHA-256 (64 hex digits)")
        allowed[hexed] = None
    return Senders(allowed)


#: the place in ``li lemf --pcap/--iri`` names where each LIID's own file is named
LIID_FIELD = "{liid}"


def liid_file_name(liid: bytes) -> str:
    """An LIID as a file name: its text when it is letters, digits, dot, dash and underscore
    (and not only dots), otherwise ``x`` and its hex: never a path of its own."""
    text = liid.decode("ascii", "replace")
    if 0 < len(text) <= 64 and text.strip(".") and all(c.isalnum() or c in "._-" for c in text):
        return text
    return "x" + liid.hex()


def cmd_lemf(args: argparse.Namespace, err: TextIO) -> int:
    return asyncio.run(_run_lemf(args, err))


async def _run_lemf(args: argparse.Namespace, err: TextIO) -> int:
    import attrs

    from lawful_intercept.adapters.aio import parse_address
    from lawful_intercept.adapters.tls import TLSConfig
    from lawful_intercept.codec.handover import model as m
    from lawful_intercept.protection.encryption import EncryptionProfile, IVRule
    from lawful_intercept.protocol.lemf_receiver import LEMFReceiver
    from lawful_intercept.services.lemf import LEMFServer

    host, port = parse_address(args.listen)
    files = TLSConfig(args.cert, args.key, args.ca)
    tls = files.server_context()  # before any output opens
    _can_listen(host, port)
    metrics = None
    if args.metrics:
        from lawful_intercept.adapters.metrics import MetricsEndpoint

        metrics_host, metrics_port = parse_address(args.metrics)
        _can_listen(metrics_host, metrics_port)
    key = lock(bytearray(read_input(args.key_file, "--key-file"))) if args.key_file else None
    verify = read_verification_key(args.verify_key, "--verify-key") if args.verify_key else None
    if args.require_signed and verify is None:
        raise ConfigurationError("--require-signed needs --verify-key (the MF's public key)")
    profile = (
        EncryptionProfile(m.EncryptionType(args.encryption), IVRule(args.encryption_iv))
        if key
        else None
    )
    receiver = LEMFReceiver(key=key, profile=profile, verification_key=verify,
                            max_streams=args.max_streams,
                            require_signed=args.require_signed)  # fmt: skip
    senders = _allowed_mfs(args.allow_mf)
    shared = args.pcap.replace(LIID_FIELD, "all")  # where the state and quarantine go by default
    state = Path(args.state or f"{shared}.state")
    quarantine = args.quarantine or f"{shared}.quarantine.jsonl"
    split = {"pcap": args.pcap, "iri": args.iri}
    for option, template in split.items():
        folder = Path(template).parent
        if LIID_FIELD in template and not folder.is_dir():
            raise ConfigurationError(f"--{option} {template}: no directory {folder}")

    def per_liid(kind: str, liid: bytes) -> IO[Any]:
        return _append(split[kind].replace(LIID_FIELD, liid_file_name(liid)),
                       "ab" if kind == "pcap" else "a")  # fmt: skip

    with contextlib.ExitStack() as outputs:
        pcap = None if LIID_FIELD in args.pcap else outputs.enter_context(_append(args.pcap, "ab"))
        iri = None if LIID_FIELD in args.iri else outputs.enter_context(_append(args.iri, "a"))
        kept = outputs.enter_context(_append(quarantine, "a"))
        server = LEMFServer(
            tls, receiver, host=host,
            port=port, pcap=pcap, iri=iri, accept_acknowledgement=not args.no_ack, state=state,
            quarantine=kept,
            per_liid=per_liid if LIID_FIELD in args.pcap + args.iri else None,
            senders=senders, idle_timeout=args.idle_timeout,
            max_connections=args.max_connections,
        )  # fmt: skip
        stop = _stop_on_signals()
        await server.start()
        if args.metrics:
            metrics = MetricsEndpoint(files, metrics_host, metrics_port, "li_lemf", LEMF_GAUGES)
        print(f"li lemf: listening on {host}:{server.port}", file=err, flush=True)
        started = time.monotonic()
        clock = service_clock(args, "li lemf")
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            c = server.counters
            publish(args.status_file, metrics, {**attrs.asdict(c), **clock.check()})
            if not args.quiet:
                print(f"li lemf: {time.monotonic() - started:.0f}s  PDUs {c.pdus}  "
                      f"CC {c.cc_packets}  IRI {c.iri_records}  gaps {c.gaps} ({c.missing} "
                      f"missing)  duplicates {c.duplicates}  integrity ok "
                      f"{c.integrity_verified} failed {c.integrity_failed}  quarantined "
                      f"{c.quarantined} (undecryptable {c.undecryptable}, in clear "
                      f"{c.unprotected}, out of window {c.out_of_window}, re-used {c.reused}, "
                      f"over the stream limit {c.over_stream_limit}, unsigned {c.unsigned}, "
                      f"CC not IP {c.unreadable_cc})  "
                      + (f"held for their signed check {c.held}  " if args.require_signed else "")
                      + f"connections {c.connections} (refused {c.refused_peers}, over the cap "
                      f"{c.refused_over_cap}, failed handshakes {c.failed_handshakes}, idle "
                      f"closed {c.idle_closed})  "
                      f"streams refused {c.streams_rejected}", file=err, flush=True)  # fmt: skip
        await server.close()
        if metrics is not None:
            metrics.close()
    if key is not None:
        zeroise(key)
    c = server.counters
    print(f"li lemf: stopped: CC {c.cc_packets}, IRI {c.iri_records}, gaps {c.gaps} "
          f"({c.missing} missing), duplicates {c.duplicates} ({c.unchecked} kept: too old "
          f"to compare), integrity failures "
          f"{c.integrity_failed}, quarantined {c.quarantined} (out of window "
          f"{c.out_of_window}, re-used {c.reused}, undecryptable {c.undecryptable}, in clear "
          f"{c.unprotected}, over the stream limit {c.over_stream_limit}, unsigned "
          f"{c.unsigned}, CC not IP {c.unreadable_cc})"
          + (f", {c.held} held for a signed check, not written nor acknowledged (the MF "
             "sends them again)" if c.held else "")
          + (f", byteCounter steps off annex G {c.counter_steps} (kept)"
             if c.counter_steps else ""),
          file=err)  # fmt: skip
    problems = (c.gaps or c.integrity_failed or c.undecryptable or c.unprotected
                or c.out_of_window or c.reused or c.over_stream_limit or c.unsigned
                or c.unreadable_cc)  # fmt: skip
    return 1 if problems else 0
