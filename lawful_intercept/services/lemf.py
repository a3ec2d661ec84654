"""The reference LEMF's server (asyncio adapter): TLS in, pcap and JSON lines out.

Accepts MF delivery connections (mutual TLS; plain TCP only when explicitly allowed),
answers option negotiation, keep-alives and PDU acknowledgement requests through
:class:`~lawful_intercept.protocol.hi_session.LEMFSession`, and hands data PDUs to one
:class:`~lawful_intercept.lemf.LEMFReceiver` shared by all connections (so sequence state,
de-duplication and integrity verification survive the MF's reconnects). CC goes to a pcap of
the original IP packets, IRI to JSON lines; gaps, duplicates and integrity results are counted
and logged without content. Output files are flushed before any acknowledgement goes out: an
acknowledged PDU has reached the operating system's file cache.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import json
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import attrs

from lawful_intercept.adapters.aio import (
    ANYONE,
    Connection,
    Listener,
    Senders,
    close_writer,
    peer_of,
)
from lawful_intercept.codec.asn1 import compiled
from lawful_intercept.codec.pcap import pcap_header, pcap_record_header
from lawful_intercept.errors import (
    ConfigurationError,
    DecodeError,
    IntegrityError,
    UnprotectedContentError,
)
from lawful_intercept.protocol.hi_session import LEMFSession
from lawful_intercept.protocol.lemf_receiver import (
    ByteCounterStep,
    CCPackets,
    Duplicate,
    Event,
    Gap,
    IntegrityResult,
    IRIRecord,
    LEMFReceiver,
    OutOfWindow,
    Reused,
    Settled,
    StreamRefused,
    UnreadableCC,
    Unsigned,
)

__all__ = ["LEMFCounters", "LEMFServer"]

log = logging.getLogger(__name__)


@attrs.define
class LEMFCounters:
    """What the LEMF has received and checked."""

    connections: int = 0
    pdus: int = 0
    cc_packets: int = 0
    iri_records: int = 0
    gaps: int = 0
    missing: int = 0
    duplicates: int = 0
    out_of_window: int = 0  # a sequence number far outside its stream's window
    #: PDUs of a new stream beyond the receiver's max_streams (quarantined)
    over_stream_limit: int = 0
    reused: int = 0  # a sequence number stored already, again with other content
    unchecked: int = 0  # a number stored too long ago to compare: kept aside, not dropped
    quarantined: int = 0  # PDUs kept aside, not written to the outputs
    integrity_verified: int = 0
    integrity_failed: int = 0
    undecryptable: int = 0
    #: IRI or CC in clear although this LEMF holds a decryption key (kept aside)
    unprotected: int = 0
    #: IRI or CC no verified signed integrity check covered, where one is required (kept
    #: aside)
    unsigned: int = 0
    #: IRI and CC PDUs held now for their signed integrity check (require_signed)
    held: int = 0
    #: CC items not written to pcap: not an IP packet (an Ethernet or unstructured UPF PDU,
    #: other TS 33.128 content) or not readable (quarantined whole)
    unreadable_cc: int = 0
    #: encrypted PDUs whose byteCounter stepped other than annex G says (kept, reported)
    counter_steps: int = 0
    streams_rejected: int = 0
    #: connections refused: a certificate the LEMF's senders do not name
    refused_peers: int = 0
    #: connections closed for bringing no whole PDU within the idle timeout
    idle_closed: int = 0
    #: connections closed at once: max_connections were open, or as many handshakes
    refused_over_cap: int = 0
    #: TLS handshakes that failed or timed out
    failed_handshakes: int = 0
    acknowledgements: int = 0
    keepalives: int = 0


def _empty(out: IO[bytes]) -> bool:
    """Whether an output holds nothing yet (a pipe always starts empty)."""
    try:
        return out.tell() == 0
    except OSError:  # not seekable
        return True


class LEMFServer:
    """Receives HI2/HI3 from MFs for one LEA."""

    def __init__(
        self,
        tls: ssl.SSLContext | None,
        receiver: LEMFReceiver,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        pcap: IO[bytes] | None = None,
        iri: IO[str] | None = None,
        accept_acknowledgement: bool = True,
        allow_plain_tcp: bool = False,
        state: Path | None = None,
        quarantine: IO[str] | None = None,
        per_liid: Callable[[str, bytes], IO[Any]] | None = None,
        senders: Senders = ANYONE,
        idle_timeout: float = 60.0,
        max_connections: int = 64,
    ) -> None:
        """``pcap`` gets its file header only when it is empty (a restart appends);
        ``state``: a file that keeps the streams' sequence state and the outputs' sizes
        across restarts (read at construction when it exists, rewritten with the outputs'
        flush, before every acknowledgement): an output longer than its recorded size is cut
        back to it, since what follows was not acknowledged and the MF sends it again, so a
        killed LEMF writes nothing twice; ``quarantine``: JSON lines that keep, raw, every PDU
        that is not written to the outputs (undecryptable, numbered far outside its stream,
        or a number re-used with other content), so nothing acknowledged is lost, and report
        every gap with its LIID, stream and numbers; ``per_liid``: outputs per LIID instead of
        ``pcap`` and ``iri``, opened on the LIID's first PDU by ``per_liid("pcap"|"iri",
        liid)`` (for appending; the server closes them, cuts them back and records their
        sizes as it does the others); ``senders``: the MF certificates taken (default: any
        the TLS context trusts); ``idle_timeout``: a connection that brings no whole PDU for
        this long is closed (an MF sends keep-alives every 10 s when it has nothing else;
        octets dripped without completing a PDU do not count); ``max_connections``: open
        delivery connections at most (one more is closed at once and counted)."""
        if tls is None and not allow_plain_tcp:
            raise ConfigurationError("a LEMF without TLS needs allow_plain_tcp=True")
        self.tls, self.receiver = tls, receiver
        self.host, self.port = host, port
        self.pcap, self.iri, self.quarantine = pcap, iri, quarantine
        self.accept_acknowledgement = accept_acknowledgement
        self.state = state
        self.idle_timeout = idle_timeout
        self._per_liid = per_liid
        self._split: dict[str, IO[Any]] = {}  # per-LIID outputs by name ("pcap <liid hex>")
        self._recorded: dict[str, dict[str, int]] = {}
        if state is not None and state.exists():
            try:
                saved = json.loads(state.read_text())
                receiver.restore_sequences(saved)
                self._recorded = dict(saved.get("outputs", {}))
                for name, out in self._outputs().items():
                    self._cut_back(name, out)
            except (OSError, ValueError, TypeError, AttributeError, KeyError, DecodeError) as exc:
                raise ConfigurationError(f"LEMF state {state}: {exc}") from None
        if pcap is not None and _empty(pcap):
            pcap.write(pcap_header())
        self.counters = LEMFCounters()
        self._listener = Listener(
            self._handle, host, port, tls=tls, max_connections=max_connections,
            name="delivery", on_refused=self._over_cap, senders=senders,
            on_refused_peer=self._refused_peer, on_failed_handshake=self._failed_handshake,
        )  # fmt: skip

    def _over_cap(self) -> None:
        self.counters.refused_over_cap += 1

    def _failed_handshake(self) -> None:
        self.counters.failed_handshakes += 1

    def _refused_peer(self) -> None:
        self.counters.refused_peers += 1

    def _outputs(self) -> dict[str, IO[Any] | None]:
        return {"pcap": self.pcap, "iri": self.iri, "quarantine": self.quarantine, **self._split}

    def _cut_back(self, name: str, out: IO[Any] | None) -> None:
        """Cut an output back to the size the state recorded with the last acknowledgement
        (what a killed LEMF wrote after it comes again); only the very file the state
        recorded (same inode), never another one given in its place."""
        facts = self._recorded.get(name)
        if out is None or facts is None:
            return
        out.flush()
        found = os.fstat(out.fileno())
        size = int(facts["size"])
        if found.st_ino != int(facts["inode"]):
            log.warning("LEMF %s output is not the file its state recorded: not cut back",
                        name.split()[0])  # fmt: skip
        elif found.st_size > size:
            os.ftruncate(out.fileno(), size)
            log.warning("LEMF %s output cut back to its last acknowledged size (%d octets):"
                        " the MF sends the rest again", name.split()[0], size)  # fmt: skip

    def _output_of(self, kind: str, liid: bytes) -> IO[Any] | None:
        """Where CC ("pcap") or IRI ("iri") of ``liid`` goes: its own file with per-LIID
        outputs (opened on first use, cut back, given a pcap header when empty)."""
        if self._per_liid is None:
            return self.pcap if kind == "pcap" else self.iri
        name = f"{kind} {liid.hex()}"
        out = self._split.get(name)
        if out is None:
            out = self._split[name] = self._per_liid(kind, liid)
            try:
                self._cut_back(name, out)
                if kind == "pcap" and _empty(out):
                    out.write(pcap_header())
            except OSError:
                del self._split[name]
                out.close()
                raise
        return out

    async def start(self) -> None:
        """Compile the ASN.1 specifications IRI and session PDUs need (not on the first
        PDU's time), record the outputs' sizes, then listen; :attr:`port` is then the bound
        port."""
        await asyncio.to_thread(compiled, "ber")
        await asyncio.to_thread(compiled, "jer")
        self._flush()
        self.port = await self._listener.start()

    async def close(self) -> None:
        """Stop listening, drop every connection, flush the outputs."""
        await self._listener.close()
        self._flush()
        for out in self._split.values():
            out.close()

    def _flush(self) -> None:
        sizes = {}
        for name, out in self._outputs().items():
            if out is not None:
                out.flush()
                with contextlib.suppress(OSError):  # a pipe has no size to come back to
                    found = os.fstat(out.fileno())
                    sizes[name] = {"size": found.st_size, "inode": found.st_ino}
        if self.state is not None:  # written whole, then put in place: never half a file
            fresh = self.state.with_name(self.state.name + ".new")
            fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump({**self.receiver.sequence_state(), "outputs": sizes}, out)
            os.replace(fresh, self.state)

    def _sync(self, outputs: list[int]) -> None:
        """Make what :meth:`_flush` wrote durable (in a worker thread): each output's data
        (``outputs``: their descriptors), and the state file with its directory entry (an
        older state would cut acknowledged records off at restart). An output that cannot be
        synced (a pipe) is skipped; a failing disk raises OSError, and nothing is
        acknowledged."""
        for fd in outputs:
            try:
                os.fdatasync(fd)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ESPIPE):
                    raise
        if self.state is not None:
            for path, flags in ((self.state, os.O_RDONLY), (self.state.parent, os.O_DIRECTORY)):
                fd = os.open(path, flags)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    async def _handle(self, connection: Connection) -> None:
        peer = peer_of(connection)  # one the listener's senders admit
        self.counters.connections += 1
        log.info("delivery connection from %s (%s)", peer.address, peer.common_name)
        session = LEMFSession(accept_acknowledgement=self.accept_acknowledgement)
        loop = asyncio.get_running_loop()
        deadline, seen = loop.time() + self.idle_timeout, 0
        try:
            while True:
                try:  # a whole PDU (a keep-alive at least) within idle_timeout, not an octet
                    async with asyncio.timeout_at(deadline):
                        data = await connection.read()
                except TimeoutError:
                    self.counters.idle_closed += 1
                    log.warning("delivery connection from %s: no whole PDU in %g s, closed",
                                peer.address, self.idle_timeout)  # fmt: skip
                    return
                if not data:
                    return
                items = session.receive_data(data)
                first_position = session.data_pdus - len(items) + 1
                for position, item in enumerate(items, first_position):
                    self._take(item.octets, item.kind, session, position)
                if session.pdus != seen:
                    deadline, seen = loop.time() + self.idle_timeout, session.pdus
                if session.answer_pending:
                    # answers wait for what is held for its signed check (require_signed)
                    first = self.receiver.first_held(session)
                    out = session.data_to_send(None if first is None else first - 1)
                    if out:
                        self._flush()
                        outputs = [f.fileno() for f in self._outputs().values() if f]
                        await asyncio.to_thread(self._sync, outputs)  # durable, then answered
                        connection.write(out)
                        await connection.drain()
        except DecodeError as exc:
            self.counters.streams_rejected += 1
            rejected = self.counters.streams_rejected
            if rejected == 1 or rejected % 100 == 0:  # a hostile peer may send thousands
                log.error("malformed delivery stream from %s, disconnected: %s (%d so far)",
                          peer.address, exc, rejected)  # fmt: skip
            connection.transport.abort()  # no graceful close for what is not our protocol
        except (OSError, ssl.SSLError) as exc:
            log.warning("delivery connection from %s failed: %s", peer.address, exc)
        finally:
            self.counters.acknowledgements += session.acknowledgements_sent
            self.counters.keepalives += session.keepalives_answered
            self._flush()
            await close_writer(connection)

    def _take(self, octets: bytes, kind: int, source: object = None, position: int = 0) -> None:
        """One PDU as received: ``position`` on its connection ``source``."""
        self.counters.pdus += 1
        try:
            events = self.receiver.on_pdu(
                octets, kind, batched=True, source=source, arrival=position
            )
        except UnprotectedContentError as exc:
            self.counters.unprotected += 1
            if self.counters.unprotected == 1 or self.counters.unprotected % 1000 == 0:
                log.error("%s: quarantined, not written (%d so far)", exc,
                          self.counters.unprotected)  # fmt: skip
            self._keep(octets, "in clear where encryption is required", {"error": str(exc)})
            return
        except IntegrityError as exc:
            self.counters.undecryptable += 1
            log.error("a PDU failed to decrypt: %s", exc)
            self._keep(octets, "undecryptable", {"error": str(exc)})
            return
        self._apply(octets, events)
        self.counters.held = self.receiver.held

    def _apply(self, octets: bytes, events: list[Event] | tuple[Event, ...]) -> None:
        """Write, keep aside or count what one PDU (``octets``) gave."""
        for event in events:
            if type(event) is Settled:  # held for its integrity check, settled now
                self._apply(event.pdu, event.events)
            elif type(event) is CCPackets:
                items = event.items
                self.counters.cc_packets += len(items)
                pcap = self.pcap if self._per_liid is None else self._output_of("pcap", event.liid)
                if pcap is None:
                    continue
                pdu_time = event.timestamp_ns
                records: list[bytes] = []  # a PDU's pcap records go out in one write
                for _, packet, own in items:
                    stamp = pdu_time if own is None else own
                    records += (pcap_record_header(stamp, len(packet)), packet)
                pcap.write(b"".join(records))
            else:
                if type(event) is OutOfWindow:
                    self._keep(octets, "out of window", {
                        "liid": event.liid.hex(), "stream": event.stream,
                        "sequence": event.sequence, "expected": event.expected,
                    })  # fmt: skip
                elif type(event) is Duplicate and not event.checked:
                    self._keep(octets, "duplicate number, content not comparable", {
                        "liid": event.liid.hex(), "stream": event.stream,
                        "sequence": event.sequence,
                    })  # fmt: skip
                elif type(event) is StreamRefused:
                    self._keep(octets, "a stream beyond the LEMF's limit", {
                        "liid": event.liid.hex(), "stream": event.stream,
                        "sequence": event.sequence,
                    })  # fmt: skip
                elif type(event) is Reused:
                    self._keep(octets, "sequence number re-used", {
                        "liid": event.liid.hex(), "stream": event.stream,
                        "sequence": event.sequence,
                    })  # fmt: skip
                elif type(event) is Unsigned:
                    self._keep(octets, "not covered by a verified signed integrity check", {
                        "liid": event.liid.hex(), "stream": event.stream,
                        "sequence": event.sequence, "error": event.reason,
                    })  # fmt: skip
                self._record(event)

    def _keep(self, octets: bytes, reason: str, facts: dict[str, object]) -> None:
        """One quarantined PDU, raw (base64) with why and what is known of it."""
        self.counters.quarantined += 1
        self._report(reason, {**facts, "pdu": base64.b64encode(octets).decode()})

    def _report(self, reason: str, facts: dict[str, object]) -> None:
        if self.quarantine is not None:
            record = {"reason": reason, **facts}
            self.quarantine.write(json.dumps(record, sort_keys=True) + "\n")

    def _record(self, event: Event) -> None:
        c = self.counters
        if isinstance(event, IRIRecord):
            c.iri_records += 1
            iri = self._output_of("iri", event.liid)
            if iri is not None:
                iri.write(json.dumps(event.record, sort_keys=True) + "\n")
        elif isinstance(event, Gap):
            c.gaps += 1
            c.missing += event.count
            self._report("gap", {
                "liid": event.liid.hex(), "stream": event.stream, "first": event.expected,
                "last": (event.received - 1) % (1 << 32), "count": event.count,
            })  # fmt: skip
            log.warning("%s sequence gap: %d PDU(s) missing (%d to %d)", event.stream,
                        event.count, event.expected, (event.received - 1) % (1 << 32))  # fmt: skip
        elif isinstance(event, Duplicate):
            c.duplicates += 1
            if not event.checked:
                c.unchecked += 1
                if c.unchecked == 1 or c.unchecked % 1000 == 0:
                    log.warning("%s sequence number %d was stored too long ago to compare "
                                "with: kept aside, not dropped (%d so far)", event.stream,
                                event.sequence, c.unchecked)  # fmt: skip
        elif isinstance(event, OutOfWindow):
            c.out_of_window += 1
            log.error("%s sequence number %d is far outside its window (next expected %d): "
                      "quarantined, not written", event.stream, event.sequence,
                      event.expected)  # fmt: skip
        elif isinstance(event, StreamRefused):
            c.over_stream_limit += 1
            if c.over_stream_limit == 1 or c.over_stream_limit % 1000 == 0:
                log.error("%s: a PDU of a new stream while %d streams are followed (the "
                          "limit): quarantined, not written (%d so far)", event.stream,
                          self.receiver.max_streams, c.over_stream_limit)  # fmt: skip
        elif isinstance(event, UnreadableCC):
            c.unreadable_cc += 1
            c.quarantined += 1
            self._report("CC not written as an IP packet", {
                "liid": event.liid.hex(), "sequence": event.sequence, "kind": event.kind,
                "content": base64.b64encode(event.content).decode(),
            })  # fmt: skip
            if c.unreadable_cc == 1 or c.unreadable_cc % 1000 == 0:
                log.error("HI3 sequence number %d: CC of kind %s is not an IP packet: "
                          "quarantined, not written (%d so far)", event.sequence,
                          event.kind, c.unreadable_cc)  # fmt: skip
        elif isinstance(event, Unsigned):
            c.unsigned += 1
            if c.unsigned == 1 or c.unsigned % 1000 == 0:
                log.error("%s sequence number %d: %s: quarantined, not written (%d so far)",
                          event.stream, event.sequence, event.reason, c.unsigned)  # fmt: skip
        elif isinstance(event, Reused):
            c.reused += 1
            log.error("%s sequence number %d came again with other content (the sender went "
                      "back): quarantined, not written", event.stream, event.sequence)  # fmt: skip
        elif isinstance(event, ByteCounterStep):
            c.counter_steps += 1
            if c.counter_steps == 1 or c.counter_steps % 1000 == 0:
                log.warning("%s byteCounter of sequence number %d stepped by the %s rule, %d "
                            "octets off annex G: PDU kept (%d so far)", event.stream,
                            event.sequence, event.step.value, event.gap,
                            c.counter_steps)  # fmt: skip
        elif isinstance(event, IntegrityResult):
            if event.reason is None:
                c.integrity_verified += 1
            else:
                c.integrity_failed += 1
                log.error("%s integrity check failed: %s", event.stream, event.reason)
