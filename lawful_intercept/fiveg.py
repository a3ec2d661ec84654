"""5G lawful interception (3GPP TS 33.127/33.128): the TS33128Payloads codec.

``PayloadType`` names the module's top-level payloads (XIRIPayload for X2, IRIPayload and
CCPayload for HI2/HI3, LINotificationPayload); ``encode_payload``/``decode_payload`` are their
BER, ``payload_to_json``/``payload_from_json`` their X.697 JER form (RELATIVE-OIDs dotted),
``payload_oid`` the RELATIVE-OID each carries first. Values are asn1tools values: a SEQUENCE
a dict keyed by the ASN.1 identifiers, a CHOICE a (name, value) pair, OCTET STRING bytes.

The AMF and SMF events are typed (``AMFRegistration`` ... ``SMFUnsuccessfulProcedure``, with
the identifiers ``IMSI``, ``NAI``, ``MSISDN``, ``IMEI``, ``IMEISV``, ``MACAddress``, ``EUI64``,
``SNSSAI``, ``FTEID``); ``encode_xiri``/``decode_xiri`` take and give them as an XIRIPayload,
``event_to_asn1``/``event_from_asn1`` as the XIRIEvent/IRIEvent value. Other events are an
``OtherEvent`` with their asn1tools value.

For an NF's own code: ``IRIPOI`` turns an AMF's or SMF's event into X2 xIRI PDUs (payload
format 2, TS 33.128 table 5.3.2-2 attributes) for the ``IRITask``s whose targets (X1
``TargetIdentifier``s: ``supiimsi``, ``gpsiMsisdn``, ``peiImei`` ...) it names; ``CCPOI``
turns a UPF's user-plane packet of a ``CCTask`` into an X3 xCC PDU with the PDU session's
Correlation ID. Both are sans-IO: send their octets with ``lawful_intercept.x2x3.X2X3Sender``.

LI_T3: ``CCTriggering`` (an SMF's CC-TF) turns the SMF's events into X1 requests that
provision the UPF's CC-POI per PDU session (``triggered_xid``: the XID of the session's UPF
task); ``NFInterception`` runs an NF's side: each reported event's X2 to the MF, then the
LI_T3 requests to the UPF's X1 element.
"""

from lawful_intercept.codec.ts33128.events import (
    EUI64,
    FTEID,
    GPSI,
    IMEI,
    IMEISV,
    IMSI,
    MSISDN,
    NAI,
    PEI,
    SNSSAI,
    SUPI,
    AMFDeregistration,
    AMFLocationUpdate,
    AMFRegistration,
    AMFStartOfInterceptionWithRegisteredUE,
    AMFUnsuccessfulProcedure,
    Event,
    MACAddress,
    OtherEvent,
    SMFPDUSessionEstablishment,
    SMFPDUSessionModification,
    SMFPDUSessionRelease,
    SMFStartOfInterceptionWithEstablishedPDUSession,
    SMFUnsuccessfulProcedure,
    UEEndpoint,
    decode_xiri,
    encode_xiri,
    event_from_asn1,
    event_to_asn1,
)
from lawful_intercept.codec.ts33128.payloads import (
    MODULE_ARCS,
    PayloadType,
    payload_oid,
)
from lawful_intercept.codec.ts33128.payloads import decode as decode_payload
from lawful_intercept.codec.ts33128.payloads import encode as encode_payload
from lawful_intercept.codec.ts33128.payloads import from_json as payload_from_json
from lawful_intercept.codec.ts33128.payloads import to_json as payload_to_json
from lawful_intercept.codec.x1.messages import TargetIdentifier
from lawful_intercept.protocol.fiveg_poi import (
    CCPOI,
    FIVEG_TARGET_KINDS,
    IRIPOI,
    CCPOICounters,
    CCTask,
    IRIPOICounters,
    IRITask,
)
from lawful_intercept.protocol.li_t3 import CCTriggering, triggered_xid
from lawful_intercept.services.fiveg import NFInterception, NFInterceptionCounters

__all__ = [
    "CCTriggering",
    "NFInterception",
    "NFInterceptionCounters",
    "triggered_xid",
    "CCPOI",
    "FIVEG_TARGET_KINDS",
    "IRIPOI",
    "CCPOICounters",
    "CCTask",
    "IRIPOICounters",
    "IRITask",
    "TargetIdentifier",
    "EUI64",
    "FTEID",
    "GPSI",
    "IMEI",
    "IMEISV",
    "IMSI",
    "MODULE_ARCS",
    "MSISDN",
    "NAI",
    "PEI",
    "SNSSAI",
    "SUPI",
    "AMFDeregistration",
    "AMFLocationUpdate",
    "AMFRegistration",
    "AMFStartOfInterceptionWithRegisteredUE",
    "AMFUnsuccessfulProcedure",
    "Event",
    "MACAddress",
    "OtherEvent",
    "PayloadType",
    "SMFPDUSessionEstablishment",
    "SMFPDUSessionModification",
    "SMFPDUSessionRelease",
    "SMFStartOfInterceptionWithEstablishedPDUSession",
    "SMFUnsuccessfulProcedure",
    "UEEndpoint",
    "decode_payload",
    "decode_xiri",
    "encode_payload",
    "encode_xiri",
    "event_from_asn1",
    "event_to_asn1",
    "payload_from_json",
    "payload_oid",
    "payload_to_json",
]
