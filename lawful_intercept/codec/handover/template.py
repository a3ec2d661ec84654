"""Fast HI3 encoding: iPCC PS-PDUs and keep-alives from pre-encoded templates (TS 102 232-1/-3).

A :class:`CCTemplate` fixes what does not change between one LIID's PDUs — LIID, network
identifier, country codes, interception point, which time stamps are sent — and pre-encodes
it. Per PDU it writes the sequence number, CIN, time stamps, direction and packet with
definite, minimal lengths. The octets equal :func:`~lawful_intercept.codec.handover.codec.encode`
of :meth:`CCTemplate.pdu` for the same arguments (a property test checks it).

Aggregation (clause 6.2.3): :meth:`CCTemplate.encode_items` puts several packets of one
communication (one CIN) in one PDU's cCPayloadSequence, each CCPayload with its own
microSecondTimeStamp, so per-PDU costs (framing, encryption set-up, integrity, delivery) are
paid once for many packets.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from lawful_intercept import _native
from lawful_intercept.codec.ber import encode_integer, encode_subidentifiers, tlv
from lawful_intercept.codec.ber import encode_length as _length
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.codec import IPCC_OBJ_ID, format_time
from lawful_intercept.errors import EncodeError

if TYPE_CHECKING:
    from lawful_intercept.protection.encryption import PartsJob, PayloadEncryptor

# the native cCPayloadSequence encoder (setup.py builds it; same octets, faster)
try:
    from lawful_intercept.codec.handover import _ccitems
except ImportError:  # pragma: no cover - a build without a C compiler
    _ccitems = None  # type: ignore[assignment]
if not _native.use("lawful_intercept.codec.handover._ccitems", _ccitems is not None):
    _ccitems = None  # type: ignore[assignment]
_native_items = None if _ccitems is None else _ccitems.encode

__all__ = ["CCItem", "CCTemplate"]


#: One packet of an aggregated PDU: (direction, IP packet octets, capture time in POSIX ns).
CCItem = tuple["m.PayloadDirection | None", bytes, int]


def _domain_id(dotted: str) -> bytes:
    """li-psDomainId [0] for an OBJECT IDENTIFIER in dotted form (X.690 8.19: the first two
    arcs in one subidentifier, each subidentifier base 128, high bit on all but its last)."""
    arcs = [int(a) for a in dotted.split(".")]
    return tlv(b"\x80", encode_subidentifiers([arcs[0] * 40 + arcs[1], *arcs[2:]]))


_SHORT = [bytes((n,)) for n in range(128)]
_DIRECTION: dict[m.PayloadDirection | None, bytes] = {
    None: b"",
    **{d: b"\x80\x01" + bytes((i,)) for i, d in enumerate(m.PayloadDirection)},
}
# GeneralizedTime fractions without trailing zeros, from two 1000-entry tables:
# micro = ms * 1000 + us gives ".mmm" + "uuu" with trailing zeros removed (X.690 11.7.3).
_MS_FULL = [b".%03d" % ms for ms in range(1000)]
_MS_ALONE = [b"." + (b"%03d" % ms).rstrip(b"0") for ms in range(1000)]
_US_TAIL = [(b"%03d" % us).rstrip(b"0") for us in range(1000)]
_KEEPALIVE = b"\xa2\x04\xa2\x02\x83\x00"  # payload [2] / tRIPayload [2] / keep-alive [3] NULL
_CACHE_MAX = 4096  # encoded CIN blocks and length chains kept per template
_YEAR_10000_NS = 253_402_300_800 * 1_000_000_000  # GeneralizedTime has four year digits
_QUALIFIER = {q: bytes((i,)) for i, q in enumerate(m.TimeStampQualifier)}
_DIRECTIONS = tuple(m.PayloadDirection)  # payloadDirection i is _DIRECTIONS[i]


def _uint(tag: bytes, value: int) -> bytes:
    content = encode_integer(value)
    return tag + _SHORT[len(content)] + content


@attrs.frozen(kw_only=True)
class CCTemplate:
    """Encoder of iPCC PS-PDUs for one LIID (the MF's per-packet hot path)."""

    lawful_interception_identifier: bytes = attrs.field(validator=attrs.validators.min_len(1))
    network_identifier: m.NetworkIdentifier
    authorization_country_code: str | None = None
    delivery_country_code: str | None = None
    interception_point_id: str | None = None
    generalized_time: bool = True
    micro_second_time_stamp: bool = False
    time_stamp_qualifier: m.TimeStampQualifier | None = None
    #: the module edition written (some LEMFs insist on theirs: OpenLI's is .17)
    li_ps_domain_id: str = m.LI_PS_DOMAIN_ID
    #: extendedInterceptionPointID [9] and networkFunctionIdentifier [10] (TS 33.128 clause
    #: 5.5: an MDF's PDUs name the POI's IPID and NFID)
    extended_interception_point_id: bytes | None = None
    network_function_identifier: bytes | None = None
    _head: bytes = attrs.field(init=False, repr=False, eq=False)
    _network: bytes = attrs.field(init=False, repr=False, eq=False)
    _middle: bytes = attrs.field(init=False, repr=False, eq=False)
    _tail: bytes = attrs.field(init=False, repr=False, eq=False)
    _clock: list[Any] = attrs.field(init=False, repr=False, eq=False)
    _fixed: int = attrs.field(init=False, repr=False, eq=False)
    _cache: dict[object, bytes] = attrs.field(init=False, repr=False, eq=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        # validate through the typed model once: the same bounds as the generic path
        self.pdu(0, None, 0, None, b"")
        head = _domain_id(self.li_ps_domain_id) + tlv(b"\x81", self.lawful_interception_identifier)
        if self.authorization_country_code is not None:
            head += tlv(b"\x82", self.authorization_country_code.encode("ascii"))
        network = tlv(b"\x80", self.network_identifier.operator_identifier)
        if self.network_identifier.network_element_identifier is not None:
            network += tlv(b"\x81", self.network_identifier.network_element_identifier)
        middle = b""
        if self.interception_point_id is not None:
            middle = tlv(b"\x86", self.interception_point_id.encode("ascii"))
        tail = b""
        if self.time_stamp_qualifier is not None:
            tail = b"\x88\x01" + _QUALIFIER[self.time_stamp_qualifier]
        if self.extended_interception_point_id is not None:
            tail += tlv(b"\x89", self.extended_interception_point_id)
        if self.network_function_identifier is not None:
            tail += tlv(b"\x8a", self.network_function_identifier)
        object.__setattr__(self, "_head", head)
        object.__setattr__(self, "_network", tlv(b"\xa0", network))
        object.__setattr__(self, "_middle", middle)
        object.__setattr__(self, "_tail", tail)
        object.__setattr__(self, "_clock", [-1, b""])  # last second seen, its time text
        object.__setattr__(self, "_fixed", len(middle) + len(tail) + 2)  # head is in comm

    def _communication(self, cin: int | None) -> bytes:
        """The fixed head, then communicationIdentifier [3] for ``cin`` (cached: a CIN lasts a
        communication)."""
        cache = self._cache
        found = cache.get(cin)
        if found is None:
            comm = self._network
            if cin is not None:
                comm += _uint(b"\x81", cin)
            if self.delivery_country_code is not None:
                comm += b"\x82\x02" + self.delivery_country_code.encode("ascii")
            found = self._head + b"\xa3" + _length(len(comm)) + comm  # with the fixed head
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[cin] = found
        return found

    def _chain(self, size: int, direction: m.PayloadDirection | None) -> bytes:
        """Everything from payload [2] down to the packet's own length octets (cached)."""
        key = (size, direction)
        cache = self._cache
        found = cache.get(key)
        if found is None:
            item = self._item_chain(size, direction)
            ccp = len(item) + size  # the CCPayload's content
            x5 = 1 + len(_length(ccp)) + ccp  # CCPayload SEQUENCE
            found = b"".join(
                (b"\xa2", _length(1 + len(_length(x5)) + x5), b"\xa1", _length(x5),
                 b"\x30", _length(ccp), item)
            )  # fmt: skip
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[key] = found
        return found

    def _item_chain(self, size: int, direction: m.PayloadDirection | None) -> bytes:
        """A CCPayload's content from payloadDirection down to the packet's length octets
        (cached)."""
        key = ("item", size, direction)
        found = self._cache.get(key)
        if found is None:
            x1 = 1 + len(_length(size)) + size  # iPPackets [0]
            x2 = 1 + len(_length(x1)) + x1  # iPCCContents [1]
            ipcc = 6 + x2
            x3 = 1 + len(_length(ipcc)) + ipcc  # iPCC [2]
            found = b"".join(
                (
                    _DIRECTION[direction], b"\xa2", _length(x3), b"\xa2", _length(ipcc),
                    b"\x80\x04", IPCC_OBJ_ID, b"\xa1", _length(x1), b"\x80", _length(size),
                )
            )  # fmt: skip
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _items(self, items: Sequence[CCItem]) -> tuple[list[bytes], int]:
        """The Payload alternative cCPayloadSequence [1] for ``items`` as pieces to join, and
        its length: each CCPayload with direction, iPCC and microSecondTimeStamp [3]. The
        native helper writes the usual items; what it refuses takes :meth:`_items_python`,
        which defines the octets and the errors."""
        if _native_items is not None:
            try:
                block = _native_items(items, _DIRECTIONS)
            except (TypeError, ValueError, OverflowError):
                pass
            else:
                return [block], len(block)
        return self._items_python(items)

    def _items_python(self, items: Sequence[CCItem]) -> tuple[list[bytes], int]:
        if not items:
            raise EncodeError("an aggregated PDU needs at least one packet")
        pieces: list[bytes] = [b"\xa1", b""]
        body = 0
        last_second, seconds_octets = -1, b""  # the seconds [0] element, once per second
        for direction, packet, stamp in items:
            if not 0 <= stamp < _YEAR_10000_NS:
                raise EncodeError("time stamp out of range")
            seconds, nanoseconds = divmod(stamp, 1_000_000_000)
            if last_second != seconds:
                last_second, seconds_octets = seconds, _uint(b"\x80", seconds)
            time_stamp = seconds_octets + _uint(b"\x81", nanoseconds // 1000)
            size = len(packet)
            chain = self._cache.get(("item", size, direction)) or self._item_chain(size, direction)
            content = len(chain) + size + 2 + len(time_stamp)
            head = b"\x30" + (_SHORT[content] if content < 128 else _length(content))
            pieces += (head, chain, packet, b"\xa3", _SHORT[len(time_stamp)], time_stamp)
            body += len(head) + content
        pieces[1] = _length(body)
        return pieces, 1 + len(pieces[1]) + body

    def encode_items(
        self,
        sequence_number: int,
        communication_identity_number: int | None,
        timestamp_ns: int,
        items: Sequence[CCItem],
    ) -> bytes:
        """One iPCC PS-PDU carrying several packets of one communication (clause 6.2.3);
        ``timestamp_ns`` goes in the header (the time the PDU is made), each item's own time
        in its microSecondTimeStamp."""
        pieces, payload_len = self._items(items)
        header, header_len = self._header(
            sequence_number, communication_identity_number, timestamp_ns
        )
        payload_head = b"\xa2" + _length(payload_len)
        total = header_len + len(payload_head) + payload_len
        return b"".join((b"\x30", _length(total), *header, payload_head, *pieces))

    def encode_items_encrypted(
        self,
        encryptor: PayloadEncryptor,
        sequence_number: int,
        communication_identity_number: int | None,
        timestamp_ns: int,
        items: Sequence[CCItem],
    ) -> bytes:
        """:meth:`encode_items`, then ``encryptor.encrypt``, in one pass."""
        return encryptor.encrypt_parts(
            *self._parts(sequence_number, communication_identity_number, timestamp_ns, items)
        )

    def encode_items_encrypted_many(
        self,
        encryptor: PayloadEncryptor,
        jobs: Sequence[tuple[int, int | None, int, Sequence[CCItem]]],
    ) -> list[bytes]:
        """:meth:`encode_items_encrypted` of each job (sequence number, CIN, time stamp,
        items) in order, sealed in one call (several PDUs at once: see
        :meth:`PayloadEncryptor.encrypt_parts_many`)."""
        return encryptor.encrypt_parts_many([self._parts(*job) for job in jobs])

    def _parts(
        self, sequence: int, cin: int | None, timestamp_ns: int, items: Sequence[CCItem]
    ) -> PartsJob:
        """An aggregated PDU's parts as :meth:`PayloadEncryptor.encrypt_parts` takes them."""
        pieces, payload_len = self._items(items)
        header, header_len = self._header(sequence, cin, timestamp_ns)
        return header, header_len, tuple(pieces), payload_len, sequence

    def _header(
        self, sequence: int, cin: int | None, timestamp_ns: int
    ) -> tuple[tuple[bytes, ...], int]:
        """The pSHeader [1] element as pieces to join, and its length in octets."""
        if not 0 <= sequence <= 0xFFFFFFFF or not 0 <= timestamp_ns < _YEAR_10000_NS:
            raise EncodeError("sequence number or time stamp out of range")
        if cin is not None and not 0 <= cin <= 0xFFFFFFFF:
            raise EncodeError("communicationIdentityNumber out of range")
        seconds, nanoseconds = divmod(timestamp_ns, 1_000_000_000)
        micro = nanoseconds // 1000
        seq = sequence.to_bytes((sequence.bit_length() >> 3) + 1, "big")
        time_octets = micro_octets = b""
        if self.generalized_time:
            clock = self._clock
            if clock[0] != seconds:  # the date and time text changes once a second
                when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
                clock[0], clock[1] = seconds, format_time(when)[:-1].encode("ascii")
            text: bytes = clock[1]
            if micro:
                ms, us = divmod(micro, 1000)
                text += _MS_FULL[ms] + _US_TAIL[us] if us else _MS_ALONE[ms]
            time_octets = b"\x85" + _SHORT[len(text) + 1] + text + b"Z"
        if self.micro_second_time_stamp:
            stamp = _uint(b"\x80", seconds) + _uint(b"\x81", micro)
            micro_octets = b"\xa7" + _SHORT[len(stamp)] + stamp
        comm = self._cache.get(cin) or self._communication(cin)
        hl = self._fixed + len(comm) + len(seq) + len(time_octets) + len(micro_octets)
        head = b"\xa1" + (_SHORT[hl] if hl < 128 else _length(hl))
        parts = (
            head, comm, b"\x84", _SHORT[len(seq)], seq, time_octets, self._middle, micro_octets,
            self._tail,
        )  # fmt: skip
        return parts, len(head) + hl

    def header_octets(
        self, sequence_number: int, communication_identity_number: int | None, timestamp_ns: int
    ) -> bytes:
        """The encoded pSHeader [1] element alone: for PDUs whose Payload is encoded
        elsewhere (an MF putting a POI's X2 Payload under its header)."""
        parts, _ = self._header(sequence_number, communication_identity_number, timestamp_ns)
        return b"".join(parts)

    def _encode(
        self, sequence: int, cin: int | None, timestamp: int, chain: bytes, body: bytes
    ) -> bytes:
        """The PS-PDU with this header, then ``chain`` (payload down to ``body``), then ``body``."""
        header, header_len = self._header(sequence, cin, timestamp)
        total = header_len + len(chain) + len(body)
        return b"".join((b"\x30", _length(total), *header, chain, body))

    def encode(
        self,
        sequence_number: int,
        communication_identity_number: int | None,
        timestamp_ns: int,
        direction: m.PayloadDirection | None,
        packet: bytes,
    ) -> bytes:
        """One iPCC PS-PDU carrying ``packet`` (one or more whole IP packets)."""
        size = len(packet)
        chain = self._cache.get((size, direction)) or self._chain(size, direction)
        return self._encode(
            sequence_number, communication_identity_number, timestamp_ns, chain, packet
        )

    def encode_encrypted(
        self,
        encryptor: PayloadEncryptor,
        sequence_number: int,
        communication_identity_number: int | None,
        timestamp_ns: int,
        direction: m.PayloadDirection | None,
        packet: bytes,
    ) -> bytes:
        """:meth:`encode`, then ``encryptor.encrypt``, in one pass: the octets equal
        ``encryptor.encrypt(self.encode(...))`` without building and re-reading the clear PDU."""
        size = len(packet)
        key = ("inner", size, direction)
        inner = self._cache.get(key)
        if inner is None:  # the chain without payload [2]'s own tag and length (cached)
            chain = self._chain(size, direction)
            inner = self._cache[key] = chain[2 if chain[1] < 0x80 else 2 + (chain[1] & 0x7F) :]
        header, header_len = self._header(
            sequence_number, communication_identity_number, timestamp_ns
        )
        return encryptor.encrypt_parts(
            header, header_len, (inner, packet), len(inner) + size, sequence_number
        )

    def keepalive(
        self, sequence_number: int, communication_identity_number: int | None, timestamp_ns: int
    ) -> bytes:
        """A keep-alive TRI PS-PDU (clause 6.3) from the same header template."""
        return self._encode(
            sequence_number, communication_identity_number, timestamp_ns, _KEEPALIVE, b""
        )

    def header(
        self, sequence_number: int, communication_identity_number: int | None, timestamp_ns: int
    ) -> m.PSHeader:
        """The typed PSHeader the template writes for these arguments."""
        seconds, nanoseconds = divmod(timestamp_ns, 1_000_000_000)
        micro = nanoseconds // 1000
        return m.PSHeader(
            lawful_interception_identifier=self.lawful_interception_identifier,
            communication_identifier=m.CommunicationIdentifier(
                self.network_identifier, communication_identity_number, self.delivery_country_code
            ),
            sequence_number=sequence_number,
            authorization_country_code=self.authorization_country_code,
            time_stamp=(
                datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(microsecond=micro)
                if self.generalized_time
                else None
            ),
            interception_point_id=self.interception_point_id,
            micro_second_time_stamp=(
                m.MicroSecondTimeStamp(seconds, micro) if self.micro_second_time_stamp else None
            ),
            time_stamp_qualifier=self.time_stamp_qualifier,
            extended_interception_point_id=self.extended_interception_point_id,
            network_function_identifier=self.network_function_identifier,
            li_ps_domain_id=self.li_ps_domain_id,
        )

    def pdu_items(
        self,
        sequence_number: int,
        communication_identity_number: int | None,
        timestamp_ns: int,
        items: Sequence[CCItem],
    ) -> m.PSPDU:
        """The typed PDU that :meth:`encode_items` encodes for the same arguments."""
        return m.PSPDU(
            self.header(sequence_number, communication_identity_number, timestamp_ns),
            m.CCPayloadSequence(
                [
                    m.CCPayload(
                        contents=m.IPCC(packet),
                        payload_direction=direction,
                        micro_second_time_stamp=m.MicroSecondTimeStamp.from_ns(stamp),
                    )
                    for direction, packet, stamp in items
                ]
            ),
        )

    def pdu(
        self,
        sequence_number: int,
        communication_identity_number: int | None,
        timestamp_ns: int,
        direction: m.PayloadDirection | None,
        packet: bytes,
    ) -> m.PSPDU:
        """The typed PDU that :meth:`encode` encodes for the same arguments."""
        return m.PSPDU(
            self.header(sequence_number, communication_identity_number, timestamp_ns),
            m.CCPayloadSequence(
                [m.CCPayload(contents=m.IPCC(packet), payload_direction=direction)]
            ),
        )
