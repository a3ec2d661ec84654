"""``li poi``: run a point of interception for given targets.

Live: taps an interface (optionally in a namespace) and sends X2/X3 to an MF over mutual
TLS, with progress on stderr, until SIGINT or SIGTERM; taps are removed on the way out.
Offline: ``--pcap FILE`` replays a capture through the same pipeline (no root needed).
``--output FILE`` writes the X2/X3 byte stream to a file instead of sending it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

import attrs

from lawful_intercept.adapters.time_source import ClockCheck
from lawful_intercept.cli.clock import service_clock
from lawful_intercept.cli.files import publish, read_input
from lawful_intercept.errors import ConfigurationError, TransportError
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POICounters
from lawful_intercept.protocol.targets import Target
from lawful_intercept.services.poi import POIStatus

if TYPE_CHECKING:
    from lawful_intercept.adapters.metrics import MetricsEndpoint
    from lawful_intercept.adapters.x2x3_transport import X2X3Sender

__all__ = ["add_poi_parser", "cmd_poi"]

Send = Callable[[bytes], Awaitable[None]]


def add_poi_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    poi = sub.add_parser(
        "poi",
        help="run a point of interception: tap targets' traffic, emit X2/X3 to an MF",
        description="Tap an interface (live, root) or replay a capture (--pcap), and send X2 "
        "and X3 PDUs (TS 103 221-2) to an MF over mutual TLS, or write them to --output.",
    )
    poi.add_argument(
        "--target", action="append",
        help="ADDRESS[/LEN][,proto=tcp|udp|sctp|N][,port=P]; repeat for more",
    )  # fmt: skip
    source = poi.add_mutually_exclusive_group(required=True)
    source.add_argument("--interface", help="interface to tap (live capture)")
    source.add_argument("--pcap", help="replay this pcap or pcapng file instead")
    poi.add_argument("--netns", help="network namespace of the interface")
    poi.add_argument("--xid", type=uuid.UUID, help="task XID (default: a new random UUID)")
    poi.add_argument("--idle", type=float, default=60.0, help="seconds of silence ending a period")
    poi.add_argument("--nfid", help="Network Function ID attribute")
    poi.add_argument("--ipid", help="Interception Point ID attribute")
    sink = poi.add_mutually_exclusive_group(required=True)
    sink.add_argument("--mf", help="MF address HOST:PORT (mutual TLS)")
    poi.add_argument(
        "--mf-timeout", type=float, default=30.0, metavar="SECONDS",
        help="with --pcap: how long an unreachable MF is waited for before the POI gives up "
        "and says how many PDUs were not delivered (default 30)",
    )  # fmt: skip
    sink.add_argument("--output", help="write the X2/X3 byte stream to this file")
    sink.add_argument(
        "--x1", metavar="CONFIG",
        help="take tasks and destinations from an ADMF over X1 (JSON: the x1 endpoint, "
        "keystore, x2x3_tls); --target is then not used",
    )  # fmt: skip
    poi.add_argument("--cert", help="POI certificate (PEM)")
    poi.add_argument("--key", help="POI private key (PEM)")
    poi.add_argument("--ca", help="CA bundle that signed the MF's certificate")
    poi.add_argument("--quiet", action="store_true", help="no progress lines")
    poi.add_argument(
        "--status-file", help="live and --x1: write the counters here as JSON every second"
    )
    poi.add_argument("--metrics", metavar="HOST:PORT",
                     help="live and --x1: serve the counters for Prometheus at "
                     "https://HOST:PORT/metrics, mutual TLS")  # fmt: skip
    poi.add_argument("--metrics-cert", help="the endpoint's server certificate (PEM)")
    poi.add_argument("--metrics-key", help="its private key (PEM)")
    poi.add_argument("--metrics-ca", help="the CA of the scrapers' certificates (default --ca)")


def _summary(counters: POICounters) -> str:
    return (
        f"frames {counters.frames}  matched {counters.matched}  X3 {counters.x3}  "
        f"X2 begin {counters.x2_begin} end {counters.x2_end}  not IP {counters.not_ip}"
    )


def cmd_poi(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``li poi``; returns the exit status."""
    if args.metrics and not (args.metrics_cert and args.metrics_key and
                             (args.metrics_ca or args.ca)):  # fmt: skip
        raise ConfigurationError(
            "--metrics needs --metrics-cert, --metrics-key (a server certificate) and "
            "--metrics-ca or --ca (the scrapers' CA)"
        )
    if args.interface:
        from lawful_intercept.adapters.tc import check_tap_privileges

        check_tap_privileges()  # before any output file is opened
    if args.x1:
        if not args.interface or args.target:
            raise ConfigurationError("--x1 takes its tasks from the ADMF: give --interface only")
        return asyncio.run(_run_x1(args, err))
    if not args.target:
        raise ConfigurationError("give --target (or --x1 to be provisioned by an ADMF)")
    task = InterceptTask(
        args.xid or uuid.uuid4(),
        tuple(Target.parse(t) for t in args.target),
        idle_timeout=args.idle,
        network_function_id=args.nfid,
        interception_point_id=args.ipid,
    )
    if args.mf and not (args.cert and args.key and args.ca):
        raise ConfigurationError("--mf needs --cert, --key and --ca (mutual TLS)")
    capture = read_input(args.pcap, "--pcap") if args.pcap else None  # before any output
    print(f"li poi: task {task.xid}, {len(task.targets)} target(s)", file=err)
    return asyncio.run(_run(args, task, capture, err))


async def _run(
    args: argparse.Namespace, task: InterceptTask, capture: bytes | None, err: TextIO
) -> int:
    async with _sink(args) as (send, sender):
        if capture is not None:
            from lawful_intercept.services.poi_offline import replay

            counters = POICounters()
            for pipeline, pdus in replay(capture, [task]):
                counters = pipeline.counters
                for pdu in pdus:
                    await send(pdu)
            print(f"li poi: replayed {args.pcap}: {_summary(counters)}", file=err)
            return 0
        from lawful_intercept.services.poi import POIService

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

        def ready(capture: str) -> None:
            print(f"li poi: tapping {args.interface}, capturing on {capture}", file=err, flush=True)

        with _metrics(args) as metrics:
            service = POIService(
                [task], args.interface, send, netns=args.netns,
                report=_reporter(args, err, metrics, sender), on_ready=ready,
            )  # fmt: skip
            status = await service.run(stop)
        print(f"li poi: stopped, taps removed: {_summary(status.counters)}", file=err)
        return 0


@contextlib.contextmanager
def _metrics(args: argparse.Namespace) -> Iterator[MetricsEndpoint | None]:
    """The Prometheus endpoint ``--metrics`` asks for, when it does."""
    if not args.metrics:
        yield None
        return
    from lawful_intercept.adapters.aio import parse_address
    from lawful_intercept.adapters.metrics import MetricsEndpoint
    from lawful_intercept.adapters.tls import TLSConfig

    host, port = parse_address(args.metrics)
    tls = TLSConfig(args.metrics_cert, args.metrics_key, args.metrics_ca or args.ca)
    endpoint = MetricsEndpoint(tls, host, port, "li_poi", POI_GAUGES)
    try:
        yield endpoint
    finally:
        endpoint.close()


#: POI status fields that are levels, not running totals
POI_GAUGES = frozenset({"mf_connected", "mf_queued", "time_synchronised", "time_max_error_seconds"})


def _reporter(
    args: argparse.Namespace,
    err: TextIO,
    metrics: MetricsEndpoint | None = None,
    sender: X2X3Sender | None = None,
    clock: ClockCheck | None = None,
) -> Callable[[POIStatus], None]:
    """The progress line a second (unless --quiet), the status file and the metrics, live
    and X1-provisioned alike; with one MF link, its state and what waits for it. ``clock``:
    the POI's clock check, when X1 shares it."""

    clock = clock or service_clock(args, "li poi")

    def report(status: POIStatus) -> None:
        snapshot: dict[str, object] = {
            **attrs.asdict(status.counters), "captured": status.captured,
            "dropped": status.dropped, "mirrored": status.mirrored,
        }  # fmt: skip
        link = ""
        if sender is not None:
            snapshot |= {"mf_connected": sender.connected, "mf_queued": sender.queued,
                         "mf_sent": sender.pdus_sent}  # fmt: skip
            state = "connected" if sender.connected else "NOT CONNECTED"
            link = f"  MF {state}, sent {sender.pdus_sent}, waiting {sender.queued}"
        publish(args.status_file, metrics, snapshot | clock.check())
        if not args.quiet:
            print(
                f"li poi: {_summary(status.counters)}  mirrored {status.mirrored}  "
                f"captured {status.captured}  dropped {status.dropped}{link}",
                file=err, flush=True,
            )  # fmt: skip

    return report


@contextlib.asynccontextmanager
async def _sink(args: argparse.Namespace) -> AsyncIterator[tuple[Send, X2X3Sender | None]]:
    """A coroutine function taking PDU octets: to a file, or to the MF over TLS (with the
    sender, whose link state the reports show)."""
    if args.output:
        out: BinaryIO = open(args.output, "wb")  # noqa: SIM115 - closed below

        async def write(pdu: bytes) -> None:
            out.write(pdu)

        try:
            yield write, None
        finally:
            out.close()
        return
    from lawful_intercept.adapters.x2x3_transport import X2X3Sender

    host, _, port = args.mf.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError("--mf must be HOST:PORT")
    from lawful_intercept.adapters.tls import TLSConfig

    tls = TLSConfig(args.cert, args.key, args.ca).client_context()
    sender = X2X3Sender(host.strip("[]"), int(port), tls)
    await sender.start()
    send: Send = sender.send
    try:
        yield send, sender
        try:
            await sender.flush(timeout=args.mf_timeout)
        except TimeoutError:
            reason = f" ({sender.last_error})" if sender.last_error else ""
            raise TransportError(
                f"MF {args.mf} unreachable for {args.mf_timeout:g} s{reason}: "
                f"{sender.queued} X2/X3 PDU(s) not delivered"
            ) from None
    finally:
        await sender.close()


async def _run_x1(args: argparse.Namespace, err: TextIO) -> int:
    """A POI provisioned over X1: no task until an ADMF activates one."""
    from lawful_intercept.codec.x1.messages import DestinationDetails
    from lawful_intercept.protection.keys.config import open_keystore
    from lawful_intercept.services.config_file import load_document, tls_files
    from lawful_intercept.services.poi import POIService
    from lawful_intercept.services.x1_hooks import POIHooks
    from lawful_intercept.services.x1_runner import load_ne_config, start_ne

    path = Path(args.x1)
    raw = load_document(path, "poi-x1")  # keys, types and spellings checked
    x2x3_tls = tls_files(raw["x2x3_tls"], path.parent)
    keystore = raw["keystore"]
    default_version: int | None = raw.get("x2x3_version")
    versions = {uuid.UUID(did): int(v) for did, v in raw.get("x2x3_versions", {}).items()}
    config = load_ne_config(raw, path.parent)

    def version(destination: DestinationDetails) -> int | None:
        """The X2/X3 header version for a destination: its own, else the default."""
        return versions.get(destination.did, default_version)

    async def nowhere(pdu: bytes) -> None:
        """Replaced by the X1 hooks' router before any task exists."""

    store = open_keystore(keystore, path.parent)
    clock = service_clock(args, "li poi")
    with _metrics(args) as metrics:
        service = POIService(
            [], args.interface, nowhere, netns=args.netns,
            report=_reporter(args, err, metrics, clock=clock),
        )  # fmt: skip
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        hooks = POIHooks(service, x2x3_tls.client_context(), version=version)
        running = asyncio.ensure_future(service.run(stop))
        try:
            element, server = await start_ne(config, store, hooks, clock)
            print(f"li poi: X1 on {config.host}:{server.port} as {config.ne_id}; tapping "
                  f"{args.interface}, {len(element.tasks)} task(s) provisioned", file=err,
                  flush=True)  # fmt: skip
            await stop.wait()
            await server.close()
            element.close()
        finally:
            stop.set()
            status = await running
            await hooks.close()
            store.close()
    print(f"li poi: stopped, taps removed: {_summary(status.counters)}", file=err)
    return 0
