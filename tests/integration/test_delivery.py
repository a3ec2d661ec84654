"""HI delivery: the sans-IO sessions, and POI -> MF -> LEMF over mutual TLS on loopback."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import os
import ssl
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

import attrs
import pytest
from support.delivery import (
    T0,
    TIMERS,
    XID,
    Rig,
    delivery_pki,
    pcap_packets,
    run,
    udp_packet,
    x2x3_for,
)

import lawful_intercept.x2x3 as x
from lawful_intercept.adapters.aio import close_writer, open_connection
from lawful_intercept.adapters.hi_client import Destination
from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
from lawful_intercept.adapters.x2x3_transport import X2X3Sender
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.codec.pcap import read_capture
from lawful_intercept.errors import ConfigurationError, LinkDeadError, TransportError
from lawful_intercept.protection.encryption import EncryptionProfile, PayloadEncryptor
from lawful_intercept.protocol.hi_session import (
    DeliverySession,
    LEMFSession,
    Negotiated,
    PDUData,
    Released,
)
from lawful_intercept.protocol.lemf_receiver import LEMFReceiver
from lawful_intercept.services.lemf import LEMFServer
from lawful_intercept.services.mf import MFService, MFStatus

_CC = CCTemplate(
    lawful_interception_identifier=b"LIID-1", network_identifier=m.NetworkIdentifier(b"OP")
)


def _data(n: int) -> bytes:
    return _CC.encode(n, 1, 0, m.PayloadDirection.TO_TARGET, udp_packet(n))


def _relay(mf: DeliverySession, lemf: LEMFSession, now: float) -> list[Any]:
    """Carry octets both ways until quiet; the MF's events."""
    events: list[Any] = []
    for _ in range(10):
        out = mf.data_to_send()
        data = lemf.receive_data(out) if out else []
        back = lemf.data_to_send()
        events += data
        if back:
            events += mf.receive_data(back, now)
        if not out and not back:
            break
    return events


# --- sans-IO ------------------------------------------------------------------------------


def test_acknowledgement_is_negotiated_and_releases_what_was_sent_before_the_request() -> None:
    mf = DeliverySession(0.0, operator_id=b"OP", timers=TIMERS)
    lemf = LEMFSession()
    assert not mf.ready and mf.initial_events() == []
    with pytest.raises(TransportError):
        mf.send(0, _data(0), 0.0)  # no data before optionComplete
    assert _relay(mf, lemf, 0.01) == [Negotiated(True)]
    assert mf.ready and lemf.acknowledgement
    for n in range(5):
        mf.send(n, _data(n), 0.02)
    assert mf.next_deadline() == pytest.approx(0.04)  # ack_interval after the first PDU
    mf.handle_timer(0.01)
    events = _relay(mf, lemf, 0.03)
    assert [e for e in events if isinstance(e, PDUData)] == [PDUData(_data(n), 1) for n in range(5)]
    assert not any(isinstance(e, Released) for e in events)  # not asked yet
    mf.handle_timer(0.05)  # the request goes out after the 5 PDUs
    mf.send(5, _data(5), 0.05)  # sent after the request: not covered by its response
    assert [e for e in _relay(mf, lemf, 0.06) if isinstance(e, Released)] == [Released(4)]
    for n in range(6, 70):  # with 5, 64 unmarked PDUs: ack_every forces a request at 68
        mf.send(n, _data(n), 0.07)
    assert [e for e in _relay(mf, lemf, 0.07) if isinstance(e, Released)] == [Released(68)]
    assert lemf.acknowledgements_sent == 2


def test_declined_acknowledgement_releases_by_answered_keepalive() -> None:
    mf = DeliverySession(0.0, operator_id=b"OP", timers=TIMERS)
    lemf = LEMFSession(accept_acknowledgement=False)
    assert _relay(mf, lemf, 0.0) == [Negotiated(False)]
    mf.send(0, _data(0), 0.0)
    mf.send(1, _data(1), 0.0)
    assert [e for e in _relay(mf, lemf, 0.0) if isinstance(e, Released)] == []
    mf.handle_timer(mf.next_deadline())  # a keep-alive covering both
    assert [e for e in _relay(mf, lemf, 0.3) if isinstance(e, Released)] == [Released(1)]
    assert lemf.keepalives_answered == 1
    # not asking at all: ready at once, same rule
    plain = DeliverySession(0.0, operator_id=b"OP", acknowledgement=False, timers=TIMERS)
    assert plain.initial_events() == [Negotiated(False)] and plain.data_to_send() == b""


def test_silent_lemf_is_a_dead_link_and_no_answer_to_negotiation_times_out() -> None:
    mf = DeliverySession(0.0, operator_id=b"OP", timers=TIMERS)
    with pytest.raises(LinkDeadError, match="negotiation"):
        mf.handle_timer(TIMERS.negotiation_timeout)
    mf = DeliverySession(0.0, operator_id=b"OP", acknowledgement=False, timers=TIMERS)
    mf.handle_timer(0.2)  # idle: keep-alive
    assert mf.data_to_send() != b""
    mf.handle_timer(0.9)
    with pytest.raises(LinkDeadError):
        mf.handle_timer(1.2)


def test_protocol_violations_are_typed_errors() -> None:
    mf = DeliverySession(0.0, operator_id=b"OP", acknowledgement=False, timers=TIMERS)
    with pytest.raises(TransportError, match="data PDU"):
        mf.receive_data(_data(0), 0.0)
    header = m.PSHeader(
        lawful_interception_identifier=b"-",
        communication_identifier=m.CommunicationIdentifier(m.NetworkIdentifier(b"OP")),
        sequence_number=0,
    )
    response = m.PSPDU(header, m.NullTRI("pDUAcknowledgementResponse"))
    with pytest.raises(TransportError, match="without negotiated"):
        mf.receive_data(codec.encode(response), 0.0)


def test_session_pdus_decode_with_pycrate(pycrate_li: Any) -> None:
    mf = DeliverySession(0.0, operator_id=b"OP", timers=TIMERS)
    lemf = LEMFSession()
    request = mf.data_to_send()
    lemf.receive_data(request)
    answer = lemf.data_to_send()
    pdu = pycrate_li.PS_PDU
    pdu.from_ber(request)
    assert pdu.get_val()["payload"][1] == (
        "optionRequest",
        {"requestedOptions": [("pDUAcknowledgement", 0)]},
    )
    pdu.from_ber(answer)
    assert pdu.get_val()["payload"][1][0] == "optionResponse"
    assert pdu.get_val()["payload"][1][1]["acceptedOptions"] == [("pDUAcknowledgement", 0)]


# --- asyncio, mutual TLS on loopback ---------------------------------------------------------


async def _send_all(poi: X2X3Sender, pdus: list[bytes], per_second: float | None = None) -> None:
    for n, pdu in enumerate(pdus):
        await poi.send(pdu)
        if per_second and n % 50 == 49:
            await asyncio.sleep(50 / per_second)
    await poi.flush(60)


async def _through_the_rig(rig: Rig, pdus: list[bytes]) -> tuple[MFService, MFStatus, LEMFServer]:
    """POI -> MF -> LEMF for ``pdus``, until the MF's queue has drained; everything stopped
    again. The MF (closed), its last status, and the LEMF (stopped)."""
    lemf = await rig.start_lemf()
    mf = rig.mf()
    await mf.start()
    poi = rig.poi(mf.port)
    await poi.start()
    await _send_all(poi, pdus)
    await asyncio.sleep(0.2)
    await mf.drained(30)
    status = mf.status()
    await poi.close()
    await mf.close()
    await rig.stop_lemf()
    return mf, status, lemf


@pytest.mark.parametrize(("acknowledgement", "aggregate"), [(True, 1), (False, 1), (True, 16)])
def test_poi_to_lemf_delivers_exactly_the_target_packets(
    tmp_path: Path, acknowledgement: bool, aggregate: int
) -> None:
    packets = [udp_packet(n, to_target=n % 3 == 0) for n in range(3000)]

    async def scenario() -> None:
        rig = Rig(tmp_path, acknowledgement=acknowledgement, aggregate=aggregate)
        mf, status, lemf = await _through_the_rig(rig, x2x3_for(packets))
        assert status.accepted == 3002 and status.queued == 0 and status.refused == 0
        assert mf.clients["LEA-A"].acknowledgement is acknowledgement
        c = lemf.counters
        assert (c.cc_packets, c.iri_records, c.gaps, c.duplicates) == (3000, 2, 0, 0)
        assert c.integrity_verified >= 30 // aggregate
        assert c.integrity_failed == 0 and c.undecryptable == 0
        assert (c.acknowledgements > 0) is acknowledgement
        hi3 = mf.mediator.counters.hi3
        assert hi3 == 3000 if aggregate == 1 else 3000 // aggregate <= hi3 < 3000 // 2

    run(scenario())
    records = list(read_capture((tmp_path / "cc.pcap").read_bytes()))
    assert [r.data for r in records] == packets
    # each packet keeps its capture time (the POI's: T0 + n us), aggregated or not
    assert [r.timestamp_ns for r in records] == [T0 + n * 1000 for n in range(3000)]


def test_lemf_down_for_30_s_under_load_loses_nothing_and_leaves_no_gap(tmp_path: Path) -> None:
    """Traffic keeps coming at ~400 PDUs/s; the LEMF goes away for 30 s and comes back."""
    packets = [udp_packet(n) for n in range(16000)]

    async def scenario() -> None:
        rig = Rig(tmp_path)
        await rig.start_lemf()
        mf = rig.mf()
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        sending = asyncio.ensure_future(_send_all(poi, x2x3_for(packets), per_second=400))
        await asyncio.sleep(2)
        await rig.stop_lemf()
        await asyncio.sleep(30)
        backlog = mf.status().pending["LEA-A"]
        await rig.start_lemf()
        await sending
        await mf.drained(60)
        await poi.close()
        await mf.close()
        await rig.stop_lemf()
        assert backlog > 10000  # it really queued while the LEMF was away
        assert rig.lemf is not None
        c = rig.lemf.counters
        assert (c.cc_packets, c.gaps, c.integrity_failed) == (16000, 0, 0)

    run(scenario(), timeout=180)
    assert pcap_packets(tmp_path / "cc.pcap") == packets


def test_a_new_lemf_process_goes_on_from_its_state_file_without_a_false_gap(
    tmp_path: Path,
) -> None:
    """The LEMF stops mid-stream and a new receiver (a restarted process) takes the streams'
    sequence state from its file: no false gap, nothing taken twice, the outputs appended."""
    packets = [udp_packet(n) for n in range(3000)]
    state = tmp_path / "lemf-state.json"

    async def scenario() -> None:
        rig = Rig(tmp_path)
        await rig.start_lemf(state=state)
        mf = rig.mf()
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        pdus = x2x3_for(packets)
        await _send_all(poi, pdus[:1500])
        await mf.drained(30, received=1500)
        await rig.stop_lemf()
        assert state.stat().st_mode & 0o777 == 0o600
        first = rig.lemf.counters.cc_packets if rig.lemf else 0
        await _send_all(poi, pdus[1500:])
        await rig.start_lemf(state=state)  # a new receiver: its state from the file
        await mf.drained(60, received=len(pdus))
        await poi.close()
        await mf.close()
        await rig.stop_lemf()
        assert rig.lemf is not None
        c = rig.lemf.counters
        assert first > 0 and (c.cc_packets, c.gaps, c.out_of_window) == (3000, 0, 0)

    run(scenario(), timeout=120)
    assert pcap_packets(tmp_path / "cc.pcap") == packets  # one header, every packet once


def test_slow_lemf_keeps_the_mf_memory_bounded(tmp_path: Path) -> None:
    """A LEMF (in its own thread and event loop) that reads slowly: the MF keeps the backlog
    in its durable queue; what it holds in memory stays within the window."""
    packets = [udp_packet(n, size=1400) for n in range(20000)]
    rig = Rig(tmp_path, encrypted=False)
    ready = threading.Event()
    stop: asyncio.Event | None = None
    lemf_loop: asyncio.AbstractEventLoop | None = None

    async def lemf_main() -> None:
        nonlocal stop, lemf_loop
        stop, lemf_loop = asyncio.Event(), asyncio.get_running_loop()
        lemf = await rig.start_lemf()
        original = lemf._take

        def slow(octets: bytes, kind: int, source: object, position: int) -> None:
            original(octets, kind, source, position)
            if lemf.counters.pdus % 200 == 0:
                time.sleep(0.05)  # ~4000 PDUs/s at most

        lemf._take = slow  # type: ignore[method-assign]
        ready.set()
        await stop.wait()
        await rig.stop_lemf()

    thread = threading.Thread(target=asyncio.run, args=(lemf_main(),))
    thread.start()
    assert ready.wait(10)
    windows = []

    async def scenario() -> None:
        mf = rig.mf()
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        sending = asyncio.ensure_future(_send_all(poi, x2x3_for(packets)))
        client = mf.clients["LEA-A"]
        while not sending.done():
            windows.append((client.pending, len(client._recent)))
            await asyncio.sleep(0.05)
        await mf.drained(60)
        await poi.close()
        await mf.close()

    try:
        run(scenario())
    finally:
        assert lemf_loop is not None and stop is not None
        lemf_loop.call_soon_threadsafe(stop.set)
        thread.join(10)
    assert max(p for p, _ in windows) > 5000  # the LEMF fell behind: the queue held it
    assert max(w for _, w in windows) <= 8192  # memory: the bounded window only
    assert rig.lemf is not None
    assert rig.lemf.counters.cc_packets == 20000 and rig.lemf.counters.gaps == 0


def test_a_steady_stream_is_committed_within_the_commit_interval(tmp_path: Path) -> None:
    """Group commit under continuous input: a batch waits for ``commit_interval`` after the
    commit before it, not for the commit loop's idle poll (a lost wake-up once made commits
    ~0.1 s apart whenever PDUs arrived during a commit). Commits here take 20 ms."""
    packets = [udp_packet(n) for n in range(3000)]
    commits: list[float] = []

    async def scenario() -> None:
        rig = Rig(tmp_path, encrypted=False)
        await rig.start_lemf()
        mf = rig.mf()
        put = mf.store.put_channels

        def timed(batches: Any, *, state: bytes | None = None) -> dict[str, int]:
            commits.append(time.monotonic())
            time.sleep(0.02)  # a slow disk: PDUs keep arriving while it commits
            return put(batches, state=state)

        mf.store.put_channels = timed  # type: ignore[method-assign]
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        await _send_all(poi, x2x3_for(packets), per_second=2000)  # ~1.5 s of traffic
        await mf.drained(30)
        await poi.close()
        await mf.close()
        await rig.stop_lemf()
        assert rig.lemf is not None and rig.lemf.counters.cc_packets == 3000

    run(scenario())
    gaps = [b - a for a, b in itertools.pairwise(commits)]
    assert len(gaps) > 20
    assert statistics.median(gaps) < 0.06  # 20 ms commit + 5 ms interval (lost wake-up: 0.12)


def test_full_queue_pushes_back_then_refuses_with_an_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    packets = [udp_packet(n) for n in range(3000)]

    async def scenario() -> None:
        rig = Rig(tmp_path)
        mf = rig.mf(max_records=2500)  # the LEMF never comes: the queue fills
        mf.refuse_after = 1.0
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        await _send_all(poi, x2x3_for(packets))
        await asyncio.sleep(1.5)
        status = mf.status()
        await poi.close()
        await mf.close()
        assert status.refused > 0 and status.accepted + status.refused == status.x2x3_received
        assert status.accepted > 2000 and status.queued <= 2500
        # what was accepted is all there, numbered without gaps, for the next run
        queue = SQLiteQueue.with_keystore(tmp_path / "mf-queue.db", rig.keys)
        records = [codec.decode(r) for _, r in queue.peek(10**6, channel="LEA-A")]
        hi3 = [r.header.sequence_number for r in records
               if not isinstance(r.payload, m.NullTRI | m.IntegrityCheck)
               and r.header.communication_identifier.communication_identity_number is not None
               and isinstance(r.payload, m.EncryptionContainer)]  # fmt: skip
        assert hi3 == sorted(hi3)

    with caplog.at_level(logging.CRITICAL):
        run(scenario())
    assert "ALARM: MF queue full" in caplog.text


def test_delivery_needs_tls_unless_the_lea_allows_plain_tcp() -> None:
    with pytest.raises(ConfigurationError):
        Destination("127.0.0.1", 1, None)
    assert Destination("127.0.0.1", 1, None, allow_plain_tcp=True).tls is None


def test_lemf_refuses_an_mf_certified_by_another_ca(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = Rig(tmp_path)
        lemf = await rig.start_lemf()
        mf = rig.mf(tls=rig.pki["rogue_mf"].client_context())
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        await _send_all(poi, x2x3_for([udp_packet(1)]))
        await asyncio.sleep(1.0)
        status = mf.status()
        await poi.close()
        await mf.close()
        await rig.stop_lemf()
        assert lemf.counters.pdus == 0 and status.pending["LEA-A"] > 0
        assert not status.connected["LEA-A"]

    run(scenario())


async def _deliver_plain(server: LEMFServer, pdus: list[bytes]) -> None:
    """``pdus`` over one plain-TCP delivery connection without acknowledgement, then closed
    once the LEMF has read them all (or 2 s have passed)."""
    target = server.counters.pdus + len(pdus)
    connection = await open_connection("127.0.0.1", server.port, tls=None)
    session = DeliverySession(0.0, operator_id=b"OP", acknowledgement=False)
    for position, octets in enumerate(pdus):
        session.send(position, octets, 0.0)
    connection.write(session.data_to_send())
    await connection.drain()
    for _ in range(100):
        await asyncio.sleep(0.02)
        if server.counters.pdus >= target:
            break
    await close_writer(connection)


def _liid9(count: int) -> tuple[CCTemplate, list[bytes]]:
    """LIID-9's CC header writer and its first ``count`` clear PDUs (packet n in PDU n)."""
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-9", network_identifier=m.NetworkIdentifier(b"OP")
    )
    clear = [
        template.encode(n, 1, T0, m.PayloadDirection.TO_TARGET, udp_packet(n)) for n in range(count)
    ]
    return template, clear


def test_the_lemf_keeps_aside_what_it_does_not_write(tmp_path: Path) -> None:
    """A PDU numbered far outside its stream and one that does not decrypt are kept, raw, in
    the quarantine file with why; the genuine PDUs around them reach the pcap."""
    key = os.urandom(32)
    template, clear = _liid9(6)
    sealer = PayloadEncryptor(key, EncryptionProfile(), byte_counter=2**60)
    genuine = [sealer.encrypt(pdu) for pdu in clear]
    forged = PayloadEncryptor(key, EncryptionProfile(), byte_counter=2**60).encrypt(
        template.encode(4_000_000_000, 1, T0, m.PayloadDirection.TO_TARGET, udp_packet(99))
    )
    wrong_key = PayloadEncryptor(os.urandom(32), EncryptionProfile(), byte_counter=2**60)
    garbled = wrong_key.encrypt(template.encode(6, 1, T0, m.PayloadDirection.TO_TARGET, b"x"))
    stream = [*genuine[:3], forged, garbled, *genuine[3:]]

    async def scenario() -> None:
        receiver = LEMFReceiver(key=key, profile=EncryptionProfile())
        with (tmp_path / "cc.pcap").open("wb") as pcap, (tmp_path / "q.jsonl").open("w") as kept:
            server = LEMFServer(None, receiver, pcap=pcap, quarantine=kept, allow_plain_tcp=True)
            await server.start()
            await _deliver_plain(server, stream)
            await server.close()
            c = server.counters
            assert (c.cc_packets, c.out_of_window, c.undecryptable, c.quarantined) == (6, 1, 1, 2)

    run(scenario())
    kept = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert [k["reason"] for k in kept] == ["out of window", "undecryptable"]
    assert [base64.b64decode(k["pdu"]) for k in kept] == [forged, garbled]
    assert (kept[0]["liid"], kept[0]["sequence"], kept[0]["expected"]) == (
        b"LIID-9".hex(),
        4_000_000_000,
        3,
    )
    assert pcap_packets(tmp_path / "cc.pcap") == [udp_packet(n) for n in range(6)]


def test_a_restarted_lemf_cuts_back_only_its_own_outputs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What a killed LEMF wrote after its last acknowledgement is cut off at restart (the MF
    sends it again); a different file given in its place is left whole."""
    from lawful_intercept.protocol.lemf_receiver import LEMFReceiver
    from lawful_intercept.services.lemf import LEMFServer

    state, pcap = tmp_path / "lemf.state", tmp_path / "cc.pcap"

    def server(path: Path) -> None:
        """A LEMF started and stopped on loopback: its state records the outputs' sizes."""
        with path.open("ab") as out:
            made = LEMFServer(None, LEMFReceiver(), pcap=out, state=state, allow_plain_tcp=True)

            async def life() -> None:
                await made.start()
                await made.close()

            asyncio.run(life())

    server(pcap)
    acknowledged = pcap.read_bytes()
    with pcap.open("ab") as out:
        out.write(b"records written, never acknowledged")
    server(pcap)
    assert pcap.read_bytes() == acknowledged
    other = tmp_path / "other.pcap"
    other.write_bytes(b"evidence of another run" * 10)
    with caplog.at_level(logging.WARNING):
        LEMFServer(None, LEMFReceiver(), pcap=other.open("ab"), state=state, allow_plain_tcp=True)
    assert other.read_bytes() == b"evidence of another run" * 10
    assert "not the file its state recorded" in caplog.text


def test_x2x3_the_mf_does_not_mediate_is_counted_and_named_never_silent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A POI with the wrong XID (li poi --pcap without --xid) and a payload format the MF does
    not mediate: every such PDU is counted in MFStatus (and so in --status-file and the
    progress line) and one line says so, without the XID; the good PDUs are delivered."""

    packets = [udp_packet(n, to_target=True) for n in range(40)]
    stranger = uuid.UUID("0e0e0e0e-0e0e-4e0e-8e0e-0e0e0e0e0e0e")
    strays = [x.encode(attrs.evolve(x.decode(pdu), xid=stranger)) for pdu in x2x3_for(packets[:30])]
    odd_format = x.encode(
        x.X2X3PDU(pdu_type=x.PDUType.X3, payload_format=x.PayloadFormat.ETHERNET_FRAME,
                  payload_direction=x.PayloadDirection.TO_TARGET, xid=XID,
                  attributes=(x.SequenceNumber(0),), payload=b"\x00" * 60)
    )  # fmt: skip

    async def scenario() -> Any:
        _, status, lemf = await _through_the_rig(
            Rig(tmp_path), [*strays, odd_format, *x2x3_for(packets)]
        )
        return status, lemf.counters.cc_packets

    with caplog.at_level(logging.INFO, logger="lawful_intercept"):
        status, delivered = run(scenario())
    assert (status.unknown_xid, status.unsupported) == (len(strays), 1)
    assert delivered == len(packets)
    lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert lines and lines[0].startswith("X2/X3 PDUs dropped: ")
    assert str(stranger) not in caplog.text and stranger.hex not in caplog.text


def test_the_lemf_writes_each_liid_to_its_own_files_and_cuts_them_back(tmp_path: Path) -> None:
    """`li lemf --pcap 'cc-{liid}.pcap'`: CC and IRI of each LIID in its own files, named by
    the LIID where it is a safe name (hex otherwise); a restart cuts each back to what was
    acknowledged and appends."""
    from lawful_intercept.cli.mf import liid_file_name
    from lawful_intercept.protocol.lemf_receiver import LEMFReceiver
    from lawful_intercept.services.lemf import LEMFServer

    state = tmp_path / "lemf.state"
    templates = {
        "pcap": str(tmp_path / "cc-{liid}.pcap"),
        "iri": str(tmp_path / "iri-{liid}.jsonl"),
    }

    def per_liid(kind: str, liid: bytes) -> IO[Any]:
        name = templates[kind].replace("{liid}", liid_file_name(liid))
        return open(name, "ab" if kind == "pcap" else "a")  # the server closes it

    liids = (b"LIID-A", b"../etc/passwd")
    operator = m.NetworkIdentifier(b"OP")
    stream = [
        CCTemplate(lawful_interception_identifier=liid, network_identifier=operator)
        .encode(n, 1, T0, m.PayloadDirection.TO_TARGET, udp_packet(n + 10 * index))
        for n in range(3)
        for index, liid in enumerate(liids)
    ]  # fmt: skip

    async def scenario(pdus: list[bytes]) -> None:
        server = LEMFServer(None, LEMFReceiver(), state=state, per_liid=per_liid,
                            allow_plain_tcp=True)  # fmt: skip
        await server.start()
        await _deliver_plain(server, pdus)
        await server.close()
        assert server.counters.gaps == 0

    iri = (Path(__file__).resolve().parents[1] / "vectors/pspdu/iri-begin.der.ber").read_bytes()
    run(scenario([iri, *stream[:4]]))
    hexed = tmp_path / f"cc-x{liids[1].hex()}.pcap"
    assert sorted(p.name for p in tmp_path.glob("cc-*")) == sorted(["cc-LIID-A.pcap", hexed.name])
    with hexed.open("ab") as out:
        out.write(b"written after the last acknowledgement")
    run(scenario(stream[4:]))
    assert pcap_packets(tmp_path / "cc-LIID-A.pcap") == [udp_packet(n) for n in range(3)]
    assert pcap_packets(hexed) == [udp_packet(n + 10) for n in range(3)]
    records = (tmp_path / "iri-LIID-CONFORMANCE.jsonl").read_text().splitlines()
    assert [json.loads(r)["payload"]["iRIPayloadSequence"][0]["iRIType"] for r in records] == [
        "iRI-Begin"
    ]
    assert [p.name for p in tmp_path.glob("iri-*")] == ["iri-LIID-CONFORMANCE.jsonl"]


def test_delivery_lag_says_how_long_the_oldest_record_has_waited(tmp_path: Path) -> None:
    """Per LEA, MFStatus.delivery_lag_seconds (a gauge in the metrics, in the progress line)
    grows while the LEMF is away and is 0 once everything is delivered."""
    from support.processes import free_port

    async def scenario() -> None:
        rig = Rig(tmp_path)
        rig.lemf_port = free_port()  # nothing listens there yet
        mf = rig.mf()
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        await _send_all(poi, x2x3_for([udp_packet(n) for n in range(50)]))
        assert mf.status().delivery_lag_seconds["LEA-A"] < 1.0
        await asyncio.sleep(1.5)
        waiting = mf.status()
        await rig.start_lemf()
        await mf.drained(30)
        delivered = mf.status()
        await poi.close()
        await mf.close()
        await rig.stop_lemf()
        assert waiting.pending["LEA-A"] > 0 and not waiting.connected["LEA-A"]
        assert waiting.delivery_lag_seconds["LEA-A"] >= 1.3  # queued just before the wait
        assert delivered.delivery_lag_seconds["LEA-A"] == 0.0

    run(scenario(), timeout=60)


def test_the_lemf_acknowledges_only_what_it_has_synced_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before each acknowledgement the LEMF syncs its outputs (fdatasync) and its state; a
    disk that fails the sync (EIO, simulated: the test machine has no failing disk) gets
    nothing acknowledged, so the MF keeps every record and delivers it once the disk is back."""
    import errno as errnos

    from lawful_intercept.services import lemf as lemf_module

    synced: list[int] = []
    failing = threading.Event()
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        if failing.is_set():
            raise OSError(errnos.EIO, "Input/output error")
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(lemf_module.os, "fdatasync", fdatasync)
    packets = [udp_packet(n) for n in range(200)]

    async def scenario() -> None:
        rig = Rig(tmp_path)
        lemf = await rig.start_lemf(state=tmp_path / "lemf.state")
        mf = rig.mf()
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        await _send_all(poi, x2x3_for(packets[:100]))
        await mf.drained(30)
        assert rig.pcap.fileno() in synced
        failing.set()
        await _send_all(poi, x2x3_for(packets[100:]))
        await asyncio.sleep(1.0)
        held = mf.status().pending["LEA-A"]
        failing.clear()
        await mf.drained(30)
        await poi.close()
        await mf.close()
        await rig.stop_lemf()
        assert held > 0  # not released while the LEMF could not make it durable
        assert lemf.counters.gaps == 0

    run(scenario(), timeout=90)
    assert pcap_packets(tmp_path / "cc.pcap") == packets


def test_a_lemf_with_a_key_refuses_content_in_clear(tmp_path: Path) -> None:
    """A LEMF that holds the LEA's key writes no clear CC or IRI (a sender without the key
    could invent evidence): kept aside in quarantine, counted, said; encrypted PDUs go on."""
    key = os.urandom(32)
    template, clear = _liid9(4)
    sealer = PayloadEncryptor(key, EncryptionProfile(), byte_counter=2**60)
    forged = template.encode(2, 1, T0, m.PayloadDirection.TO_TARGET, udp_packet(99))
    iri = (Path(__file__).resolve().parents[1] / "vectors/pspdu/iri-begin.der.ber").read_bytes()
    stream = [sealer.encrypt(clear[0]), sealer.encrypt(clear[1]), forged, iri,
              sealer.encrypt(clear[2]), sealer.encrypt(clear[3])]  # fmt: skip

    async def scenario() -> None:
        receiver = LEMFReceiver(key=key, profile=EncryptionProfile())
        with (tmp_path / "cc.pcap").open("wb") as pcap, (tmp_path / "q.jsonl").open("w") as kept:
            server = LEMFServer(None, receiver, pcap=pcap, quarantine=kept, allow_plain_tcp=True)
            await server.start()
            await _deliver_plain(server, stream)
            await server.close()
            c = server.counters
            assert (c.cc_packets, c.iri_records, c.unprotected, c.quarantined, c.gaps) == (
                4, 0, 2, 2, 0,
            )  # fmt: skip

    run(scenario())
    kept = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert [k["reason"] for k in kept] == ["in clear where encryption is required"] * 2
    assert [base64.b64decode(k["pdu"]) for k in kept] == [forged, iri]
    assert pcap_packets(tmp_path / "cc.pcap") == [udp_packet(n) for n in range(4)]


def test_a_lemf_takes_deliveries_only_from_the_mfs_it_names(tmp_path: Path) -> None:
    """`li lemf --allow-mf SHA256`: a POI's certificate from the same CA cannot deliver (it
    could invent evidence for any LIID); the named MF's can."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from lawful_intercept.adapters.aio import Senders, certificate_fingerprint

    pki = delivery_pki(tmp_path)
    mf_der = x509.load_pem_x509_certificate(pki["mf_client"].certificate.read_bytes())
    senders = Senders({certificate_fingerprint(mf_der.public_bytes(Encoding.DER)): None})
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-9", network_identifier=m.NetworkIdentifier(b"OP")
    )
    pdu = template.encode(0, 1, T0, m.PayloadDirection.TO_TARGET, udp_packet(0))

    async def deliver(server: LEMFServer, client: str) -> None:
        connection = await open_connection(
            "127.0.0.1", server.port, tls=pki[client].client_context(), server_hostname="lemf"
        )
        session = DeliverySession(0.0, operator_id=b"OP", acknowledgement=False)
        session.send(0, pdu, 0.0)
        with contextlib.suppress(OSError, ssl.SSLError):
            connection.write(session.data_to_send())
            await connection.drain()
            await asyncio.sleep(0.3)
        await close_writer(connection)

    async def scenario() -> None:
        with (tmp_path / "cc.pcap").open("wb") as pcap:
            server = LEMFServer(pki["lemf"].server_context(), LEMFReceiver(), pcap=pcap,
                                senders=senders)  # fmt: skip
            await server.start()
            await deliver(server, "poi")
            assert (server.counters.refused_peers, server.counters.pdus) == (1, 0)
            await deliver(server, "mf_client")
            await server.close()
            assert (server.counters.refused_peers, server.counters.cc_packets) == (1, 1)

    run(scenario())
    assert pcap_packets(tmp_path / "cc.pcap") == [udp_packet(0)]


def test_a_lemf_closes_a_connection_that_brings_no_whole_pdu(tmp_path: Path) -> None:
    """The idle timeout is per connection and counts whole PDUs: a peer dripping an octet
    every 0.2 s (never finishing a PDU) and a silent one are closed at it; one sending a
    keep-alive every 0.4 s stays."""
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-9", network_identifier=m.NetworkIdentifier(b"OP")
    )
    keepalive = template.keepalive(0, 1, T0)
    pdu = template.encode(0, 1, T0, m.PayloadDirection.TO_TARGET, udp_packet(0))

    async def peer(server: LEMFServer, octets: list[bytes], every: float) -> float:
        """Seconds until the LEMF closed the connection (the test's limit if it did not)."""
        connection = await open_connection("127.0.0.1", server.port, tls=None)
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def send() -> None:
            for piece in octets:
                connection.write(piece)
                await connection.drain()
                await asyncio.sleep(every)

        sender = asyncio.ensure_future(send())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3.0):
                while await connection.read():
                    pass
        took = loop.time() - started
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await sender
        await close_writer(connection)
        return took

    async def scenario() -> None:
        server = LEMFServer(None, LEMFReceiver(), allow_plain_tcp=True, idle_timeout=1.0)
        await server.start()
        dripped = await peer(server, [bytes([octet]) for octet in pdu], 0.2)
        silent = await peer(server, [], 0.2)
        alive = await peer(server, [keepalive] * 20, 0.4)
        await server.close()
        assert 0.9 < dripped < 2.0 and 0.9 < silent < 2.0, (dripped, silent)
        assert alive >= 3.0  # still open when the test stopped waiting
        assert server.counters.idle_closed == 2

    run(scenario())


def test_a_lemf_holds_at_most_its_cap_of_connections() -> None:
    """One connection over ``max_connections`` is closed at once and counted; once one of
    the others goes, a new one is taken again."""

    async def scenario() -> None:
        server = LEMFServer(None, LEMFReceiver(), allow_plain_tcp=True, max_connections=2)
        await server.start()
        held = [await open_connection("127.0.0.1", server.port, tls=None) for _ in range(2)]
        await asyncio.sleep(0.1)
        extra = await open_connection("127.0.0.1", server.port, tls=None)
        async with asyncio.timeout(5):
            assert await extra.read() == b""  # closed by the LEMF at once
        assert server.counters.refused_over_cap == 1
        await close_writer(held.pop())
        await asyncio.sleep(0.1)
        again = await open_connection("127.0.0.1", server.port, tls=None)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await again.read()
            raise AssertionError("the connection under the cap was closed")
        assert server.counters.refused_over_cap == 1
        for connection in (*held, extra, again):
            await close_writer(connection)
        await server.close()

    run(scenario())
