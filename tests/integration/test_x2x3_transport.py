"""X2/X3 transport: sans-IO session timers, and the asyncio sender/receiver over mutual TLS."""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from typing import Any

import pytest

import lawful_intercept as li
import lawful_intercept.x2x3 as x
from lawful_intercept.adapters.aio import Backoff
from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.adapters.x2x3_transport import QueuePolicy, X2X3Receiver, X2X3Sender
from lawful_intercept.protocol.sequence import SequenceCounters
from lawful_intercept.protocol.x2x3_session import (
    KeepaliveAcknowledged,
    KeepaliveReceived,
    PDUReceived,
    Timers,
    X2X3Session,
)

XID = uuid.UUID("5a9c1b7e-0f3d-4c2a-8e61-9d4b2c7f0a13")
FAST = Timers(keepalive_interval=0.2, dead_after=0.6)
QUICK = Backoff(initial=0.05, maximum=0.2)


def x3(seq: int) -> bytes:
    return x.encode(
        x.X2X3PDU(
            pdu_type=x.PDUType.X3,
            payload_format=x.PayloadFormat.IPV4_PACKET,
            payload_direction=x.PayloadDirection.TO_TARGET,
            xid=XID,
            attributes=(x.SequenceNumber(seq),),
            payload=bytes(100),
        )
    )


# --- sans-IO session ------------------------------------------------------------------------


def test_session_sends_keepalive_after_idle_time_and_matches_the_ack() -> None:
    poi = X2X3Session(0.0, Timers(60, 180))
    mf = X2X3Session(0.0, Timers(60, 180), expect_traffic=True)
    assert poi.next_deadline() == 60
    poi.handle_timer(59.9)
    assert poi.data_to_send() == b""
    poi.handle_timer(60.0)
    wire = poi.data_to_send()
    assert x.decode(wire) == x.keepalive(0)
    assert mf.receive_data(wire, 61.0) == [KeepaliveReceived(0)]
    ack = mf.data_to_send()
    assert x.decode(ack) == x.keepalive_ack(0)
    assert poi.receive_data(ack, 62.5) == [KeepaliveAcknowledged(0, 2.5)]
    assert poi.keepalives_acknowledged == 1


def test_session_declares_link_dead_when_keepalive_unanswered() -> None:
    poi = X2X3Session(0.0, Timers(60, 180))
    poi.handle_timer(60)
    poi.handle_timer(120)  # second keepalive, first still outstanding
    assert poi.next_deadline() == 180  # the third keepalive is due before the deadline
    poi.handle_timer(180)
    assert poi.keepalives_sent == 3
    assert poi.next_deadline() == 240  # P2 after the first unanswered keepalive
    with pytest.raises(li.LinkDeadError):
        poi.handle_timer(240)


def test_sending_data_postpones_keepalives() -> None:
    poi = X2X3Session(0.0, Timers(60, 180))
    poi.send(x3(1), 50.0)
    poi.data_to_send()
    poi.handle_timer(100.0)
    assert poi.data_to_send() == b""
    assert poi.next_deadline() == 110.0


def test_receiver_declares_a_silent_peer_dead_and_reports_pdus() -> None:
    mf = X2X3Session(0.0, Timers(60, 180), expect_traffic=True, send_keepalives=False)
    events = mf.receive_data(x3(7), 10.0)
    assert isinstance(events[0], PDUReceived) and events[0].view.sequence_number == 7
    assert mf.next_deadline() == 190.0  # no keepalive of its own: only the silence deadline
    mf.handle_timer(189.0)
    assert mf.data_to_send() == b""
    mf.receive_data(x.encode(x.keepalive(0)), 100.0)  # the POI's keepalive is traffic too
    assert x.decode(mf.data_to_send()) == x.keepalive_ack(0)
    with pytest.raises(li.LinkDeadError, match="nothing received"):
        mf.handle_timer(280.0)


def test_receive_pdus_gives_the_data_pdus_and_answers_keepalives_as_receive_data_does() -> None:
    wire = x3(1) + x.encode(x.keepalive(4)) + x3(2) + x.encode(x.keepalive_ack(0)) + x3(3)
    by_events = X2X3Session(0.0, Timers(60, 180))
    by_views = X2X3Session(0.0, Timers(60, 180))
    for session in (by_events, by_views):
        session.handle_timer(60.0)  # keepalive 0 outstanding: the ack in the wire answers it
        session.data_to_send()
    events = by_events.receive_data(wire, 61.0)
    views = by_views.receive_pdus(wire, 61.0)
    assert [v.sequence_number for v in views] == [1, 2, 3]
    assert [e.view.data for e in events if isinstance(e, PDUReceived)] == [v.data for v in views]
    assert KeepaliveReceived(4) in events and KeepaliveAcknowledged(0, 1.0) in events
    assert by_views.data_to_send() == by_events.data_to_send() == x.encode(x.keepalive_ack(4))
    assert by_views.keepalives_acknowledged == by_events.keepalives_acknowledged == 1
    assert by_views.next_deadline() == by_events.next_deadline()


def test_receiver_may_send_keepalives_too() -> None:
    mf = X2X3Session(0.0, Timers(60, 180), expect_traffic=True, send_keepalives=True)
    mf.handle_timer(60.0)
    assert x.decode(mf.data_to_send()) == x.keepalive(0)
    with pytest.raises(ValueError, match="dead link"):
        X2X3Session(0.0, expect_traffic=False, send_keepalives=False)


def test_sequence_counters_count_per_context() -> None:
    seq = SequenceCounters()
    other = uuid.uuid4()
    assert [seq.next(XID) for _ in range(3)] == [0, 1, 2]
    assert seq.next(XID, correlation_id=5) == 0
    assert seq.next(XID, domain_id="d") == 0
    assert seq.next(other) == 0
    seq.forget(XID)
    assert seq.next(XID) == 0 and seq.next(other) == 1


# --- asyncio over TLS -------------------------------------------------------------------------


class Collector:
    def __init__(self) -> None:
        self.sequences: list[int | None] = []
        self.peers: set[str] = set()
        self.arrived = asyncio.Event()
        self.want = 0

    def __call__(self, view: x.X2X3View, peer: Any) -> None:
        self.sequences.append(view.sequence_number)
        self.peers.add(peer.common_name)
        if len(self.sequences) >= self.want:
            self.arrived.set()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_pdus_arrive_in_order_over_mutual_tls(pki: dict[str, TLSConfig]) -> None:
    async def main() -> None:
        got = Collector()
        got.want = 500
        mf = X2X3Receiver(pki["mf"].server_context(), got, timers=FAST)
        await mf.start()
        poi = X2X3Sender("127.0.0.1", mf.port, pki["poi"].client_context(), backoff=QUICK)
        await poi.start()
        counters = SequenceCounters()
        for _ in range(500):
            await poi.send(x3(counters.next(XID)))
        await asyncio.wait_for(got.arrived.wait(), 20)
        assert got.sequences == list(range(500))
        assert got.peers == {"poi-1"}
        assert poi.queued == 0 and poi.pdus_sent == 500
        await poi.close()
        await mf.close()

    run(main())


def test_a_client_from_another_ca_is_refused(
    pki: dict[str, TLSConfig], caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        got = Collector()
        mf = X2X3Receiver(pki["mf"].server_context(), got)
        await mf.start()
        with pytest.raises((ssl.SSLError, ConnectionError)):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", mf.port, ssl=pki["rogue_poi"].client_context(),
                server_hostname="127.0.0.1",
            )  # fmt: skip
            writer.write(x3(1))  # TLS 1.3: the refusal arrives with the first read
            await writer.drain()
            assert await reader.read(10) == b""
            raise ConnectionError("closed by the MF")
        await asyncio.sleep(0.1)
        assert got.sequences == [] and mf.pdus_received == 0
        await mf.close()

    run(main())


def test_a_server_outside_the_ca_is_refused_by_the_sender(pki: dict[str, TLSConfig]) -> None:
    async def main() -> None:
        # the POI trusts only the li-test CA; an MF with a rogue-signed cert must not get data
        rogue_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        rogue_cfg = pki["rogue_poi"]
        rogue_ctx.load_cert_chain(str(rogue_cfg.certificate), str(rogue_cfg.private_key))
        got = Collector()
        fake = X2X3Receiver(rogue_ctx, got)
        await fake.start()
        poi = X2X3Sender("127.0.0.1", fake.port, pki["poi"].client_context(), backoff=QUICK)
        await poi.start()
        await poi.send(x3(1))
        await asyncio.sleep(0.5)
        assert not poi.connected and poi.queued == 1 and got.sequences == []
        assert isinstance(poi.last_error, ssl.SSLError)
        await poi.close()
        await fake.close()

    run(main())


def test_keepalives_flow_on_an_idle_link(pki: dict[str, TLSConfig]) -> None:
    async def main() -> None:
        mf = X2X3Receiver(pki["mf"].server_context(), Collector(), timers=FAST)
        await mf.start()
        poi = X2X3Sender(
            "127.0.0.1", mf.port, pki["poi"].client_context(), timers=FAST, backoff=QUICK
        )
        await poi.start()
        await poi.wait_connected(5)
        await asyncio.sleep(1.5)  # several P1 periods, more than P2: the link must stay up
        assert poi.connected and poi.connects == 1
        await poi.close()
        assert poi.keepalives_sent >= 3
        assert poi.keepalives_acknowledged >= poi.keepalives_sent - 1
        await mf.close()

    run(main())


def test_unanswered_keepalives_kill_the_link_and_the_sender_reconnects(
    pki: dict[str, TLSConfig],
) -> None:
    async def main() -> None:
        async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(1024):
                pass  # reads, never answers

        server = await asyncio.start_server(mute, "127.0.0.1", 0, ssl=pki["mf"].server_context())
        port = server.sockets[0].getsockname()[1]
        poi = X2X3Sender("127.0.0.1", port, pki["poi"].client_context(), timers=FAST, backoff=QUICK)
        await poi.start()
        await asyncio.sleep(2.0)
        assert poi.connects >= 2
        assert isinstance(poi.last_error, li.LinkDeadError)
        await poi.close()
        server.close()

    run(main())


def test_nothing_is_lost_across_an_mf_restart(pki: dict[str, TLSConfig]) -> None:
    async def main() -> None:
        got = Collector()
        got.want = 300
        mf = X2X3Receiver(pki["mf"].server_context(), got, timers=FAST)
        await mf.start()
        port = mf.port
        poi = X2X3Sender("127.0.0.1", port, pki["poi"].client_context(), backoff=QUICK)
        await poi.start()
        for n in range(100):
            await poi.send(x3(n))
        await poi.flush(10)
        await mf.close()
        for n in range(100, 300):  # queued while the MF is down
            await poi.send(x3(n))
        await asyncio.sleep(0.3)
        mf = X2X3Receiver(pki["mf"].server_context(), got, port=port, timers=FAST)
        await mf.start()
        await asyncio.wait_for(got.arrived.wait(), 20)
        # at-least-once: every PDU arrived, in order, at most resent after the break
        assert sorted(set(got.sequences)) == list(range(300))
        assert got.sequences[:100] == list(range(100))
        assert poi.connects >= 2
        await poi.close()
        await mf.close()

    run(main())


def test_full_queue_blocks_or_refuses_but_never_drops(pki: dict[str, TLSConfig]) -> None:
    async def main() -> None:
        refusing = X2X3Sender(
            "127.0.0.1", 1, pki["poi"].client_context(), queue_size=3,
            policy=QueuePolicy.REFUSE, backoff=QUICK,
        )  # fmt: skip
        for n in range(3):
            await refusing.send(x3(n))
        with pytest.raises(li.QueueFullError):
            await refusing.send(x3(3))
        assert refusing.queued == 3
        blocking = X2X3Sender("127.0.0.1", 1, pki["poi"].client_context(), queue_size=2)
        await blocking.send(x3(0))
        await blocking.send(x3(1))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(blocking.send(x3(2)), 0.3)
        assert blocking.queued == 2

    run(main())


def test_a_malformed_stream_is_cut_off_while_other_pois_carry_on(
    pki: dict[str, TLSConfig], caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        got = Collector()
        got.want = 50
        mf = X2X3Receiver(pki["mf"].server_context(), got, timers=FAST)
        await mf.start()
        good = X2X3Sender("127.0.0.1", mf.port, pki["poi"].client_context(), backoff=QUICK)
        await good.start()
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", mf.port, ssl=pki["poi"].client_context(), server_hostname="127.0.0.1"
        )
        writer.write(x3(0)[:4] + b"\xff" * 76)  # a header with an impossible length
        await writer.drain()
        assert await asyncio.wait_for(reader.read(100), 5) == b""  # disconnected
        for n in range(50):
            await good.send(x3(n))
        await asyncio.wait_for(got.arrived.wait(), 10)
        assert got.sequences == list(range(50))
        assert mf.streams_rejected == 1
        writer.close()
        await good.close()
        await mf.close()

    with caplog.at_level(logging.INFO, logger="lawful_intercept"):
        run(main())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "at byte offset" in errors[0].getMessage()
    assert str(XID) not in caplog.text  # no task identifier or content in the logs


def test_attributes_of_another_edition_are_taken_counted_and_logged(
    pki: dict[str, TLSConfig], caplog: pytest.LogCaptureFixture
) -> None:
    """A POI that sends an optional attribute in another edition's form (a 4-octet port,
    attribute 21 as a bare XID) is not cut off: every PDU arrives, each is counted, and one
    line names the attribute, never its value."""

    def odd(seq: int) -> bytes:
        good = x3(seq)
        extra = x.SourcePort(443).encode()[:2] + b"\x00\x04\x00\x00\x01\xbb"
        extra += b"\x00\x15\x00\x10" + XID.bytes
        header = int.from_bytes(good[4:8], "big") + len(extra)
        return good[:4] + header.to_bytes(4, "big") + good[8:40] + extra + good[40:]

    async def main() -> None:
        got = Collector()
        got.want = 20
        mf = X2X3Receiver(pki["mf"].server_context(), got, timers=FAST)
        await mf.start()
        poi = X2X3Sender("127.0.0.1", mf.port, pki["poi"].client_context(), backoff=QUICK)
        await poi.start()
        for n in range(20):
            await poi.send(odd(n) if n % 2 else x3(n))
        await asyncio.wait_for(got.arrived.wait(), 10)
        assert got.sequences == list(range(20))
        assert (mf.raw_attribute_pdus, mf.streams_rejected) == (10, 0)
        await poi.close()
        await mf.close()

    with caplog.at_level(logging.INFO, logger="lawful_intercept"):
        run(main())
    lines = [r.getMessage() for r in caplog.records if "kept raw" in r.getMessage()]
    assert len(lines) == 1 and "source_port attribute has length 4, expected 2" in lines[0]
    assert str(XID) not in caplog.text and XID.hex not in caplog.text


def test_spill_keeps_order_and_nothing_is_lost(pki: dict[str, TLSConfig], tmp_path: Any) -> None:
    async def main() -> None:
        store = li.mf.SQLiteQueue(tmp_path / "spill.db", bytearray(range(32)))
        poi = X2X3Sender(
            "127.0.0.1", 1, pki["poi"].client_context(), queue_size=20,
            policy=QueuePolicy.SPILL, spill=store, backoff=QUICK,
        )  # fmt: skip
        for n in range(300):  # no MF yet: 20 in memory, 280 spilled, none refused
            await poi.send(x3(n))
        assert poi.queued == 300 and len(store) == 280
        await poi.close()
        got = Collector()
        got.want = 300
        mf = X2X3Receiver(pki["mf"].server_context(), got, timers=FAST)
        await mf.start()
        poi.port = mf.port
        await poi.start()
        await poi.flush(20)
        await asyncio.wait_for(got.arrived.wait(), 10)
        assert got.sequences == list(range(300))
        assert len(store) == 0
        await poi.close()
        await mf.close()
        store.close()

    run(main())


def test_spilled_pdus_outlive_the_sender(pki: dict[str, TLSConfig], tmp_path: Any) -> None:
    async def main() -> None:
        path = tmp_path / "spill.db"
        first = X2X3Sender(
            "127.0.0.1", 1, pki["poi"].client_context(), queue_size=1,
            policy=QueuePolicy.SPILL, spill=li.mf.SQLiteQueue(path, bytearray(range(32))),
        )  # fmt: skip
        for n in range(100):
            await first.send(x3(n))
        assert first.spill is not None and len(first.spill) == 99
        first.spill.close()  # the process ends here; PDU 0 was only in memory
        got = Collector()
        got.want = 109
        mf = X2X3Receiver(pki["mf"].server_context(), got, timers=FAST)
        await mf.start()
        second = X2X3Sender(
            "127.0.0.1", mf.port, pki["poi"].client_context(), queue_size=5,
            policy=QueuePolicy.SPILL, spill=li.mf.SQLiteQueue(path, bytearray(range(32))),
            backoff=QUICK,
        )  # fmt: skip
        for n in range(100, 110):
            await second.send(x3(n))  # go behind the spilled ones
        await second.start()
        await asyncio.wait_for(got.arrived.wait(), 20)
        assert got.sequences == list(range(1, 110))
        await second.close()
        await mf.close()

    run(main())


def test_spill_policy_needs_a_store(pki: dict[str, TLSConfig]) -> None:
    with pytest.raises(li.ConfigurationError):
        X2X3Sender("127.0.0.1", 1, pki["poi"].client_context(), policy=QueuePolicy.SPILL)


def test_a_receiver_takes_exactly_one_kind_of_handler() -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with pytest.raises(ValueError, match="on_pdu"):
        X2X3Receiver(tls, None)
    with pytest.raises(ValueError, match="on_pdus"):
        X2X3Receiver(tls, lambda view, peer: None, on_pdus=lambda views, peer: None)


def test_a_destination_gets_its_header_version(pki: dict[str, TLSConfig]) -> None:
    """TS 103 221-2 V1.10.1 writes version 6, earlier editions 5, and some receivers refuse 6:
    a sender set to a version rewrites each PDU's and makes its keepalives with it."""

    async def main() -> None:
        versions: list[int] = []
        got = Collector()
        got.want = 3

        def collect(view: x.X2X3View, peer: Any) -> None:
            versions.append(view.version)
            got(view, peer)

        mf = X2X3Receiver(pki["mf"].server_context(), collect, timers=FAST)
        await mf.start()
        poi = X2X3Sender("127.0.0.1", mf.port, pki["poi"].client_context(), backoff=QUICK,
                         timers=FAST, version=6)  # fmt: skip
        await poi.start()
        for n in range(3):
            await poi.send(x3(n))  # encoded as version 5
        await asyncio.wait_for(got.arrived.wait(), 20)
        await asyncio.sleep(1.0)  # keepalives on the idle link, answered in their version
        await poi.close()  # the session's counts are added when its link ends
        assert versions == [6, 6, 6] and poi.keepalives_acknowledged >= 1
        await mf.close()
        with pytest.raises(li.ConfigurationError, match="5 or 6"):
            X2X3Sender("127.0.0.1", 1, pki["poi"].client_context(), version=7)

    run(main())


def test_only_the_named_pois_may_send_and_only_for_their_tasks(
    pki: dict[str, TLSConfig], tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A certificate the CA issued is not enough: the listener takes the POI certificates it
    names, each for its XIDs. Another certificate of the same CA (an ADMF's, the MF's own
    client one) is refused at once and logged by fingerprint; a named POI's PDUs for another
    task are dropped and counted; nothing of either reaches the MF."""
    from lawful_intercept.adapters.aio import Senders, certificate_fingerprint
    from lawful_intercept.lab.pki import DevCA

    other_xid = uuid.UUID("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")
    ca = DevCA(tmp_path, "li-senders")
    server = ca.config("mf", server=True)
    poi, admf = ca.config("poi-1", server=False), ca.config("admf-1", server=False)
    fingerprint = certificate_fingerprint(_der(poi))

    async def main() -> None:
        got = Collector()
        got.want = 3
        senders = Senders({fingerprint: frozenset({str(XID)})})
        mf = X2X3Receiver(server.server_context(), got, timers=FAST, senders=senders)
        await mf.start()
        stranger = X2X3Sender("127.0.0.1", mf.port, admf.client_context(), backoff=QUICK)
        await stranger.start()
        await stranger.send(x3(100))
        named = X2X3Sender("127.0.0.1", mf.port, poi.client_context(), backoff=QUICK)
        await named.start()
        for seq in range(3):
            await named.send(x3(seq))
            await named.send(x.encode(attrs_evolve_xid(x.decode(x3(50 + seq)), other_xid)))
        await asyncio.wait_for(got.arrived.wait(), 20)
        await named.flush(10)
        await asyncio.sleep(0.3)
        assert got.sequences == [0, 1, 2]
        assert mf.unauthorised_pdus == 3 and mf.refused_peers >= 1
        await stranger.close()
        await named.close()
        await mf.close()

    with caplog.at_level(logging.WARNING):
        run(main())
    admf_fingerprint = certificate_fingerprint(_der(admf))
    assert f"certificate sha256 {admf_fingerprint} is not one this listener takes" in caplog.text
    assert f"(certificate sha256 {fingerprint}): " in caplog.text
    assert "PDU(s) for XIDs it may not send for, dropped" in caplog.text


def attrs_evolve_xid(pdu: x.X2X3PDU, xid: uuid.UUID) -> x.X2X3PDU:
    import attrs

    return attrs.evolve(pdu, xid=xid)


def _der(files: TLSConfig) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(files.certificate.read_bytes()).public_bytes(Encoding.DER)
