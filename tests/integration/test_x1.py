"""X1 (TS 103 221-1): messages against the XSD (lxml and, independently, xmlschema), hostile
XML, the NE's rules and error codes, state across restarts, the audit trail, and HTTPS with
an ADMF certificate allow-list."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import logging
import sqlite3
import ssl
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import xmlschema
from lxml import etree

from lawful_intercept.adapters.audit import AuditLog, verify_audit
from lawful_intercept.adapters.time_source import ClockCheck, ClockState
from lawful_intercept.adapters.x1_state import X1State
from lawful_intercept.adapters.x1_transport import X1Server, certificate_fingerprint, post
from lawful_intercept.codec.x1 import messages as x
from lawful_intercept.codec.x1.schema import SCHEMA_DIR, X1SchemaError
from lawful_intercept.errors import TransportError, X1Error
from lawful_intercept.lab.pki import DevCA
from lawful_intercept.protection.keys.software import SoftwareKeyStore
from lawful_intercept.services.admf import ADMFClient, plan_from_mapping
from lawful_intercept.services.x1_element import NetworkElement

XID = uuid.UUID("3f1e2d4c-5b6a-4789-8a0b-1c2d3e4f5a6b")
DID_X2, DID_X3 = uuid.UUID(int=0x1000), uuid.UUID(int=0x2000)
TARGET = "10.20.30.40"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def header(ne: str = "ne-1", admf: str = "admf-1") -> x.Header:
    return x.Header(admf, ne, uuid.uuid4(), now())


def task(xid: uuid.UUID = XID, dids: tuple[uuid.UUID, ...] = (DID_X2, DID_X3)) -> x.TaskDetails:
    return x.TaskDetails(
        xid,
        [
            x.TargetIdentifier("ipv4Address", TARGET),
            x.TargetIdentifier("ipv6Cidr", "2001:db8::/48"),
        ],
        x.DeliveryType.X2_AND_X3,
        dids,
        [x.MediationDetails("LIID-7", dids=[DID_X2])],
        correlation_id=9,
    )


def destination(did: uuid.UUID, kind: x.DeliveryType) -> x.DestinationDetails:
    return x.DestinationDetails(did, kind, ipaddress.ip_address("127.0.0.1"), 9444,
                                friendly_name=f"d-{did.int}")  # fmt: skip


def independent_schema() -> xmlschema.XMLSchema:
    """The ETSI schemas read by xmlschema (pure Python): a validator that is not libxml2."""
    return xmlschema.XMLSchema(
        str(SCHEMA_DIR / "TS_103_221_01.xsd"),
        locations=[
            ("http://uri.etsi.org/03280/common/2017/07", str(SCHEMA_DIR / "TS_103_280.xsd")),
            ("http://uri.etsi.org/03221/X1/2017/10/HashedID",
             str(SCHEMA_DIR / "TS_103_221_01_HashedID.xsd")),
            (x.THREEGPP_X1, str(SCHEMA_DIR / "urn_3GPP_ns_li_3GPPX1Extensions.xsd")),
        ],
    )  # fmt: skip


ALL_REQUESTS: list[x.Request] = [
    x.ActivateTask(task()), x.ModifyTask(task()), x.DeactivateTask(XID), x.DeactivateAllTasks(),
    x.GetTaskDetails(XID), x.CreateDestination(destination(DID_X2, x.DeliveryType.X2_ONLY)),
    x.ModifyDestination(destination(DID_X3, x.DeliveryType.X3_ONLY)), x.RemoveDestination(DID_X2),
    x.GetDestinationDetails(DID_X3), x.GetNEStatus(), x.GetAllDetails(), x.Ping(), x.Keepalive(),
]  # fmt: skip


def test_every_message_round_trips_and_an_independent_validator_accepts_it() -> None:
    independent = independent_schema()
    requests = [x.RequestMessage(header(), r) for r in ALL_REQUESTS]
    document = x.encode_requests(requests)
    independent.validate(document.decode())
    assert x.decode_requests(document) == requests
    reports = [x.TaskReport(task(), "complete", [(3000, "a fault")])]
    dests = [x.DestinationReport(destination(DID_X2, x.DeliveryType.X2_ONLY))]
    responses = [
        x.ResponseMessage(header(), r)
        for r in [
            x.OK("ActivateTask"), reports[0], dests[0], x.NEStatus(),
            x.AllDetails(x.NEStatus("Faults", [(1000, "n")]), reports, dests),
            x.ErrorResponse("ActivateTask", 2010, str(XID)),
        ]
    ]  # fmt: skip
    document = x.encode_responses(responses)
    independent.validate(document.decode())
    assert x.decode_responses(document) == responses
    top = x.encode_top_level_error(header())
    independent.validate(top.decode())
    assert isinstance(x.decode_responses(top), x.TopLevelError)


def test_5g_target_identifiers_round_trip_and_validate() -> None:
    targets = [
        x.TargetIdentifier("supiimsi", "001010123456789"),
        x.TargetIdentifier("supinai", "user@example.net"),
        x.TargetIdentifier("gpsiMsisdn", "447700900123"),
        x.TargetIdentifier("gpsiNai", "msisdn-447700900123@example.net"),
        x.TargetIdentifier("peiImei", "35209900176148"),
        x.TargetIdentifier("peiImeisv", "3520990017614801"),
        x.TargetIdentifier("eui64", "02:00:00:ff:fe:00:00:01"),
    ]
    request = x.RequestMessage(header(), x.ActivateTask(attrs.evolve(task(), targets=targets)))
    document = x.encode_requests([request])
    independent_schema().validate(document.decode())
    assert x.decode_requests(document) == [request]
    bad = attrs.evolve(task(), targets=[x.TargetIdentifier("supiimsi", "12345")])  # < 6 digits
    with pytest.raises(x.X1SchemaError):
        x.encode_requests([x.RequestMessage(header(), x.ActivateTask(bad))])


def test_an_li_t3_task_with_the_3gpp_upf_extension_round_trips_and_validates() -> None:
    upf = x.UPFTarget(
        fseid=x.TunnelEndpoint(2**64 - 1, ipaddress.IPv4Address("192.0.2.7")),
        fteids=[x.TunnelEndpoint(0x1234, ipaddress.IPv4Address("192.0.2.1"),
                                 ipaddress.IPv6Address("2001:db8::1"))],
        pdr_ids=[1, 2], qer_ids=[3], network_instance=b"internet", direction="Inbound",
    )  # fmt: skip
    details = x.TaskDetails(
        XID, [x.TargetIdentifier("ipv4Address", "10.45.0.2"), upf], x.DeliveryType.X3_ONLY,
        [DID_X3], correlation_id=2**63 + 5,
    )  # fmt: skip
    request = x.RequestMessage(header(), x.ActivateTask(details))
    document = x.encode_requests([request])
    assert b"urn:3GPP:ns:li:3GPPX1Extensions:r19:v2" in document
    independent_schema().validate(document.decode())
    assert x.decode_requests(document) == [request]
    assert x.target_identifier(upf.kind, upf.value) == upf  # as stored and listed
    with pytest.raises(ValueError, match="at least one"):
        x.UPFTarget()
    with pytest.raises(ValueError, match="32 bits"):
        x.UPFTarget(fteids=[x.TunnelEndpoint(2**32)])
    with pytest.raises(ValueError, match="LI_T3 target"):
        x.target_identifier(upf.kind, "{}")
    # a valid extension this NE does not implement is answered as unsupported
    root = etree.fromstring(document)
    (found,) = root.iter(f"{{{x.THREEGPP_X1}}}UPFLIT3TargetIdentifierExtensions")
    edge = etree.Element(f"{{{x.THREEGPP_X1}}}ECX1TargetIdentifierExtensions")
    etree.SubElement(edge, f"{{{x.THREEGPP_X1}}}EECID").text = "eec-1"
    found.getparent().replace(found, edge)
    foreign = etree.tostring(root)
    independent_schema().validate(foreign.decode())
    ((_, answer),) = x.decode_requests(foreign)
    assert isinstance(answer, x.UnsupportedRequest)
    assert "extension is not supported" in answer.reason


def test_ipv6_identifiers_take_the_ts_103_280_form() -> None:
    target = x.TargetIdentifier("ipv6Address", "2001:DB8::1")
    assert target.value == "2001:0db8:0000:0000:0000:0000:0000:0001"
    with pytest.raises(ValueError):
        x.TargetIdentifier("ipv4Address", "10.0.0.300")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10">&lol3;</X1Request>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10">&x;</X1Request>"""


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS, XXE, b"<X1Request", b"not xml at all", b"\xff\xfe\x00",
        b'<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10"/>',  # no message: invalid
        b'<X1Response xmlns="http://uri.etsi.org/03221/X1/2017/10"/>',
        b"<a>" * 300 + b"</a>" * 300,
    ],
)  # fmt: skip
def test_hostile_or_malformed_xml_is_refused(document: bytes) -> None:
    with pytest.raises(X1SchemaError):
        x.decode_requests(document)


def test_schema_invalid_value_is_refused_and_our_encoder_refuses_to_write_it() -> None:
    good = x.encode_requests([x.RequestMessage(header(), x.Ping())])
    bad = good.replace(b"<x1:version>v1.22.1<", b"<x1:version>2.0<")
    with pytest.raises(X1SchemaError):
        x.decode_requests(bad)
    with pytest.raises(X1SchemaError):  # the writer validates too
        x.encode_requests([x.RequestMessage(x.Header("a", "n", uuid.uuid4(), now(), "2.0"),
                                            x.Ping())])  # fmt: skip


class Recorder:
    """ElementHooks that remember what they were asked to do (and can be told to fail)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_activation = False

    async def activate(self, t: x.TaskDetails, d: Mapping[uuid.UUID, x.DestinationDetails]) -> None:
        if self.fail_activation:
            raise X1Error(x.ErrorCode.ACTIVATE_TASK_FAILED, "refused by the element")
        self.calls.append(("activate", t.xid))

    async def modify(self, old: x.TaskDetails, new: x.TaskDetails, d: Any) -> None:
        self.calls.append(("modify", new.xid))

    async def deactivate(self, t: x.TaskDetails) -> None:
        self.calls.append(("deactivate", t.xid))

    async def destination_changed(self, d: x.DestinationDetails) -> None:
        self.calls.append(("destination", d.did))

    async def destination_removed(self, did: uuid.UUID) -> None:
        self.calls.append(("removed", did))


@pytest.fixture
def keys(tmp_path: Path) -> Any:
    with SoftwareKeyStore.create(tmp_path / "ne-keys.json", "ne pass phrase") as store:
        yield store


def ne_for(tmp_path: Path, keys: Any, hooks: Any) -> NetworkElement:
    state = X1State.with_keystore(tmp_path / "x1.db", keys)
    audit = AuditLog(tmp_path / "audit.db", keys, sign_every=3)
    return NetworkElement("ne-1", state, hooks, audit=audit)


async def ask(element: NetworkElement, *requests: x.Request, to: str = "ne-1") -> list[x.Response]:
    document = x.encode_requests([x.RequestMessage(header(ne=to), r) for r in requests])
    answer = x.decode_responses(await element.handle(document, None))
    assert not isinstance(answer, x.TopLevelError)
    return [m.response for m in answer]


def codes(responses: list[x.Response]) -> list[int | str]:
    return [r.code if isinstance(r, x.ErrorResponse) else type(r).__name__ for r in responses]


def test_ne_rules_and_error_codes(tmp_path: Path, keys: Any) -> None:
    hooks = Recorder()
    ne = ne_for(tmp_path, keys, hooks)
    x2 = destination(DID_X2, x.DeliveryType.X2_ONLY)
    x3 = destination(DID_X3, x.DeliveryType.X3_ONLY)

    async def scenario() -> None:
        assert codes(await ask(ne, x.ActivateTask(task()))) == [2040]  # no destinations yet
        assert codes(await ask(ne, x.CreateDestination(x2))) == ["OK"]
        assert codes(await ask(ne, x.CreateDestination(x2))) == [2030]
        only_x2 = x.TaskDetails(XID, task().targets, x.DeliveryType.X2_AND_X3, [DID_X2])
        assert codes(await ask(ne, x.ActivateTask(only_x2))) == [3040]  # X2andX3 to X2 only
        assert codes(await ask(ne, x.CreateDestination(x3), x.ActivateTask(task()))) == [
            "OK", "OK"]  # fmt: skip
        assert codes(await ask(ne, x.ActivateTask(task()))) == [2010]
        assert codes(await ask(ne, x.ModifyTask(task(uuid.uuid4())))) == [2020]
        assert codes(await ask(ne, x.RemoveDestination(DID_X2))) == [7010]  # in use
        report = (await ask(ne, x.GetTaskDetails(XID)))[0]
        assert isinstance(report, x.TaskReport) and report.details == task()
        assert codes(await ask(ne, x.GetTaskDetails(uuid.uuid4()))) == [2020]
        assert codes(await ask(ne, x.Ping(), x.Keepalive(), x.GetNEStatus())) == [
            "OK", "OK", "NEStatus"]  # fmt: skip
        assert codes(await ask(ne, x.Ping(), to="another-ne")) == [1000]
        every = (await ask(ne, x.GetAllDetails()))[0]
        assert isinstance(every, x.AllDetails) and len(every.tasks) == 1
        assert len(every.destinations) == 2
        assert codes(await ask(ne, x.DeactivateTask(XID), x.RemoveDestination(DID_X2))) == [
            "OK", "OK"]  # fmt: skip
        assert codes(await ask(ne, x.RemoveDestination(DID_X2))) == [2040]
        hooks.fail_activation = True
        assert codes(await ask(ne, x.CreateDestination(x2), x.ActivateTask(task()))) == [
            "OK", 3000]  # fmt: skip
        # a valid request this NE does not implement: 1080, the others still answered
        ping = x.encode_requests([x.RequestMessage(header(), x.Ping())])
        other = ping.replace(b"x1:PingRequest", b"x1:ListAllDetailsRequest")
        answer = x.decode_responses(await ne.handle(other, None))
        assert not isinstance(answer, x.TopLevelError)
        assert codes([m.response for m in answer]) == [1080]
        top = x.decode_responses(await ne.handle(b"<broken", None))
        assert isinstance(top, x.TopLevelError)

    asyncio.run(scenario())
    assert hooks.calls[:3] == [("destination", DID_X2), ("destination", DID_X3),
                               ("activate", XID)]  # fmt: skip
    assert ("deactivate", XID) in hooks.calls and ("removed", DID_X2) in hooks.calls


def test_state_survives_a_restart_sealed_and_is_reapplied(tmp_path: Path, keys: Any) -> None:
    ne = ne_for(tmp_path, keys, Recorder())
    x2 = destination(DID_X2, x.DeliveryType.X2_ONLY)
    x3 = destination(DID_X3, x.DeliveryType.X3_ONLY)
    asyncio.run(ask(ne, x.CreateDestination(x2), x.CreateDestination(x3), x.ActivateTask(task())))
    ne.state.close()
    assert TARGET.encode() not in (tmp_path / "x1.db").read_bytes()  # sealed at rest
    hooks = Recorder()
    again = ne_for(tmp_path, keys, hooks)
    assert again.tasks == {XID: task()} and set(again.destinations) == {DID_X2, DID_X3}
    asyncio.run(again.restore())
    assert hooks.calls == [("destination", DID_X2), ("destination", DID_X3), ("activate", XID)]
    with SoftwareKeyStore.create(tmp_path / "other.json", "other") as other:
        from lawful_intercept.errors import IntegrityError

        with pytest.raises(IntegrityError):  # another key store cannot read it
            X1State.with_keystore(tmp_path / "x1.db", other).tasks()


def test_audit_trail_detects_change_removal_reordering_and_forgery(
    tmp_path: Path, keys: Any
) -> None:
    log = AuditLog(tmp_path / "a.db", keys, sign_every=4)
    for n in range(10):
        log.append("admf-1", "ActivateTask", str(uuid.UUID(int=n)), "ok")
    log.close()
    report = verify_audit(tmp_path / "a.db", keys.public_key())
    assert report.intact and report.entries == 10 and report.signed_through == 10

    def tampered(sql: str, *args: Any) -> list[str]:
        copy = tmp_path / f"t{abs(hash(sql))}.db"
        copy.write_bytes((tmp_path / "a.db").read_bytes())
        with sqlite3.connect(copy) as db:
            db.execute(sql, args)
        return list(verify_audit(copy, keys.public_key()).problems)

    changed = tampered("UPDATE entries SET body = replace(body, 'ok', 'no') WHERE seq = 3")
    assert any("entry 3: content changed" in p for p in changed)
    removed = tampered("DELETE FROM entries WHERE seq = 5")
    assert any("entry 6" in p for p in removed)
    copy = tmp_path / "reordered.db"  # entries 2 and 3 change places
    copy.write_bytes((tmp_path / "a.db").read_bytes())
    with sqlite3.connect(copy) as db:
        two, three = db.execute("SELECT body, hash FROM entries WHERE seq IN (2, 3) ORDER BY seq")
        db.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = 2", three)
        db.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = 3", two)
    reordered = verify_audit(copy, keys.public_key()).problems
    assert any("entry 2" in p for p in reordered) and any("entry 3" in p for p in reordered)
    with SoftwareKeyStore.create(tmp_path / "forger.json", "forger") as forger:
        forged = forger.sign_digest(b"\0" * 32)
    assert any("signature" in p for p in tampered(
        "UPDATE entries SET signature = ? WHERE seq = 4", forged))  # fmt: skip
    # rewriting entry 7 and re-hashing the rest of the chain still breaks the checkpoint
    import hashlib
    import json

    copy = tmp_path / "rechained.db"
    copy.write_bytes((tmp_path / "a.db").read_bytes())
    with sqlite3.connect(copy) as db:
        rows = db.execute("SELECT seq, body FROM entries ORDER BY seq").fetchall()
        prev = None
        for seq, body in rows:
            fields = json.loads(body)
            if seq == 7:
                fields["outcome"] = "error 3000"
            if prev is not None:
                fields["prev"] = prev.hex()
            new_body = json.dumps(fields, sort_keys=True, separators=(",", ":"))
            prev = hashlib.sha256(new_body.encode()).digest()
            db.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = ?", (new_body, prev,
                                                                                seq))  # fmt: skip
    problems = verify_audit(copy, keys.public_key()).problems
    assert any("entry 8: checkpoint signature" in p for p in problems)


# --- HTTPS ------------------------------------------------------------------------------


def test_https_admf_client_and_certificate_allow_list(
    tmp_path: Path, keys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ca = DevCA(tmp_path, "x1-ca")
    ne_tls = ca.config("ne-1", server=True)
    admf_tls = ca.config("admf-1", server=False)
    stranger_tls = ca.config("admf-stranger", server=False)  # same CA, not configured
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    admf_cert = x509.load_pem_x509_certificate(admf_tls.certificate.read_bytes())
    fingerprint = certificate_fingerprint(admf_cert.public_bytes(Encoding.DER))
    hooks = Recorder()
    ne = ne_for(tmp_path, keys, hooks)

    async def scenario() -> None:
        server = X1Server(ne_tls.server_context(), ne.handle,
                          admf_certificates={fingerprint: ["admf-1"]})  # fmt: skip
        await server.start()
        client = ADMFClient("127.0.0.1", server.port, admf_tls.client_context(),
                            admf_id="admf-1", ne_id="ne-1")  # fmt: skip
        await client.ping()
        destinations, tasks = plan_from_mapping({
            "destinations": [
                {"did": str(DID_X2), "address": "127.0.0.1", "port": 9000,
                 "delivery_type": "X2Only"},
                {"did": str(DID_X3), "address": "127.0.0.1", "port": 9001,
                 "delivery_type": "X3Only"},
            ],
            "tasks": [{"xid": str(XID), "targets": [{"ipv4Address": TARGET}],
                       "dids": [str(DID_X2), str(DID_X3)], "liid": "LIID-7"}],
        })  # fmt: skip
        assert len(await client.apply(destinations, tasks)) == 3
        assert (await client.apply(destinations, tasks))[-1] == f"modified task {XID}"
        details = await client.get_all_details()
        assert [t.details.xid for t in details.tasks] == [XID]
        with pytest.raises(X1Error) as refused:
            await client.activate_task(tasks[0])
        assert refused.value.code == 2010
        assert "X1 error 2010: XID already exists: " in str(refused.value)  # clause 6.7's words
        impostor = ADMFClient("127.0.0.1", server.port, admf_tls.client_context(),
                              admf_id="admf-other", ne_id="ne-1")  # fmt: skip
        with pytest.raises(X1Error) as wrong_id:
            await impostor.ping()
        assert wrong_id.value.code == 1000
        stranger = ADMFClient("127.0.0.1", server.port, stranger_tls.client_context(),
                              admf_id="admf-1", ne_id="ne-1")  # fmt: skip
        with pytest.raises(TransportError, match=r"is this ADMF's certificate .* in the NE's"):
            await stranger.ping()
        assert server.refused_certificates == 1
        raw = await post("127.0.0.1", server.port, admf_tls.client_context(), b"<oops")
        assert isinstance(x.decode_responses(raw), x.TopLevelError)
        await client.deactivate_task(XID)
        await server.close()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
    assert TARGET not in caplog.text  # no target identifier in any log line
    assert ("activate", XID) in hooks.calls and ("deactivate", XID) in hooks.calls
    report = verify_audit(tmp_path / "audit.db", keys.public_key())
    assert report.intact and report.entries >= 8


def test_a_request_dripped_an_octet_at_a_time_is_cut_off_at_the_timeout(
    tmp_path: Path, keys: Any
) -> None:
    """The X1 timeout bounds the whole request, not each read: a peer sending an octet
    every 0.2 s (each read within any per-read timeout) is dropped once the request has
    taken longer than the timeout; an idle connection is dropped as well."""
    ca = DevCA(tmp_path, "x1-ca")
    ne_tls, admf_tls = ca.config("ne-1", server=True), ca.config("admf-1", server=False)
    ne = ne_for(tmp_path, keys, Recorder())

    async def scenario() -> None:
        server = X1Server(ne_tls.server_context(), ne.handle, admf_certificates=None,
                          timeout=1.0)  # fmt: skip
        await server.start()
        context = admf_tls.client_context()
        context.check_hostname = False
        for drip in (b"POST /X1/NE HTTP/1.1\r\nhost: ne\r\n" * 20, b""):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=context)
            loop = asyncio.get_running_loop()
            started = loop.time()

            async def dripping(octets: bytes = drip, out: asyncio.StreamWriter = writer) -> None:
                for octet in octets:  # an octet every 0.2 s: each read well inside 1 s
                    out.write(bytes([octet]))
                    await out.drain()
                    await asyncio.sleep(0.2)

            drip_task = asyncio.ensure_future(dripping())
            async with asyncio.timeout(10):
                assert await reader.read(1) == b""  # the NE closed the connection
            closed_after = loop.time() - started
            drip_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, ssl.SSLError):
                await drip_task
            writer.close()
            assert 0.9 < closed_after < 2.5, closed_after  # at the 1 s timeout, not later
        await server.close()

    asyncio.run(scenario())


def test_ne_status_and_audit_entries_carry_the_clocks_state(tmp_path: Path, keys: Any) -> None:
    """An untrusted clock is a fault in GetNEStatus and GetAllDetails and is written into each
    audit entry; the audit's signing interval runs on the monotonic clock, so a time of day
    set forward a day forces no signature."""
    synchronised = [True]

    def read() -> ClockState:
        return ClockState(synchronised[0], 0.01 if synchronised[0] else 16.0, 0.0)

    check = ClockCheck(max_error=1.0, read=read)
    day, wall, mono = 86400.0, [1_800_000_000.0], [100.0]
    audit = AuditLog(
        tmp_path / "audit.db", keys, sign_every=100, sign_interval=60.0,
        clock=lambda: wall[0], monotonic=lambda: mono[0], time_check=check,
    )  # fmt: skip
    state = X1State.with_keystore(tmp_path / "x1.db", keys)
    ne = NetworkElement("ne-1", state, Recorder(), audit=audit, time_check=check)

    async def run() -> None:
        (ok,) = await ask(ne, x.GetNEStatus())
        assert ok == x.NEStatus()
        audit.append("admf-1", "Test", "-", "ok")
        synchronised[0] = False
        status, details = await ask(ne, x.GetNEStatus(), x.GetAllDetails())
        assert isinstance(status, x.NEStatus) and status.status == "Faults"
        ((code, text),) = status.faults
        assert code == x.ErrorCode.GENERIC and "not synchronised within 1 s" in text
        assert isinstance(details, x.AllDetails) and details.status == status
        wall[0] += day  # the time of day jumps; the monotonic clock does not
        audit.append("admf-1", "Test", "-", "ok")
        mono[0] += 61
        audit.append("admf-1", "Test", "-", "ok")

    asyncio.run(run())
    with sqlite3.connect(tmp_path / "audit.db") as db:
        rows = db.execute("SELECT body, signature IS NOT NULL FROM entries ORDER BY seq").fetchall()
    entries = [(json.loads(body), signed) for body, signed in rows]
    assert all("clock" in body for body, _ in entries)  # X1's own entries too
    tests = [(body["clock"], signed) for body, signed in entries if body["action"] == "Test"]
    trusted, untrusted = {"synchronised": True, "max_error": 0.01}, {
        "synchronised": False, "max_error": 16.0
    }  # fmt: skip
    assert tests == [(trusted, 0), (untrusted, 0), (untrusted, 1)]  # signed after 61 s only
    assert sum(signed for _, signed in entries) == 1
    ne.close()
    assert verify_audit(tmp_path / "audit.db", keys.public_key()).intact
    assert (tmp_path / "audit.db").stat().st_mode & 0o777 == 0o600
