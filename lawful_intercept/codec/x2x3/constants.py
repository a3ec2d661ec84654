"""Code points of ETSI TS 103 221-2 (X2/X3): PDU types, payload formats, directions, attributes.

Header fields are carried as plain ``int`` in the PDU type so that values this library does
not know (a newer edition, a proprietary extension) survive a decode and re-encode; these
enumerations name the values the standard defines.
"""

from __future__ import annotations

import enum

__all__ = [
    "HEADER_LENGTH",
    "AttributeType",
    "PDUType",
    "PayloadDirection",
    "PayloadFormat",
    "VERSION_V1_6",
    "VERSION_V1_10",
    "KNOWN_VERSIONS",
]

#: Fixed part of every X2/X3 PDU header, in octets (clause 5.1).
HEADER_LENGTH = 40

#: Header version for TS 103 221-2 V1.6.1 to V1.9.1.
VERSION_V1_6 = 5
#: Header version for TS 103 221-2 V1.10.1 onwards.
VERSION_V1_10 = 6
#: Versions whose 40-octet header layout this codec implements (V1.1.1 used 1; the layout has
#: not changed since).
KNOWN_VERSIONS = frozenset(range(1, 7))


class PDUType(enum.IntEnum):
    """PDU Type field (clause 5.2.3)."""

    X2 = 1
    X3 = 2
    KEEPALIVE = 3
    KEEPALIVE_ACK = 4


class PayloadFormat(enum.IntEnum):
    """Payload Format field (clause 5.4, table 5.4.1-1)."""

    KEEPALIVE = 0
    ETSI_102_232_1 = 1
    TS_33_128 = 2
    TS_33_108 = 3
    PROPRIETARY = 4
    IPV4_PACKET = 5
    IPV6_PACKET = 6
    ETHERNET_FRAME = 7
    RTP_PACKET = 8
    SIP_MESSAGE = 9
    DHCP_MESSAGE = 10
    RADIUS_PACKET = 11
    GTP_U_MESSAGE = 12
    MSRP_MESSAGE = 13
    EPS_IRI_CONTENT = 14
    MIME = 15
    UNSTRUCTURED_PDU = 16
    PS_PDU_PAYLOAD = 17


class PayloadDirection(enum.IntEnum):
    """Payload Direction field (clause 5.2.6)."""

    KEEPALIVE = 0
    UNKNOWN = 1
    TO_TARGET = 2
    FROM_TARGET = 3
    MULTIPLE = 4
    NOT_APPLICABLE = 5


class AttributeType(enum.IntEnum):
    """Conditional attribute types (clause 5.3, table 5.3.1-1)."""

    ETSI_102_232_1 = 1
    TS_33_128 = 2
    TS_33_108 = 3
    PROPRIETARY = 4
    DOMAIN_ID = 5
    NETWORK_FUNCTION_ID = 6
    INTERCEPTION_POINT_ID = 7
    SEQUENCE_NUMBER = 8
    TIMESTAMP = 9
    SOURCE_IPV4_ADDRESS = 10
    DESTINATION_IPV4_ADDRESS = 11
    SOURCE_IPV6_ADDRESS = 12
    DESTINATION_IPV6_ADDRESS = 13
    SOURCE_PORT = 14
    DESTINATION_PORT = 15
    IP_PROTOCOL = 16
    MATCHED_TARGET_IDENTIFIER = 17
    OTHER_TARGET_IDENTIFIER = 18
    MIME_CONTENT_TYPE = 19
    MIME_CONTENT_TRANSFER_ENCODING = 20
    ADDITIONAL_XID_RELATED_INFORMATION = 21
    SDP_SESSION_DESCRIPTION = 22
