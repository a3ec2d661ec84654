"""EncryptionContainer (TS 102 232-1 clause 7.3 and its encryption annex): AES-CBC over
EncryptedPayload, on encoded PS-PDUs.

The header stays in clear (the LEMF needs LIID and sequence number to route); the Payload
moves into ``EncryptedPayload ::= SEQUENCE { byteCounter [0], payload [1] Payload }``, which
is DER-encoded, padded with zero octets to the 16-octet block, encrypted with AES-192-CBC or
AES-256-CBC and carried as ``encryptedPayload`` with ``encryptedPayloadType``.

byteCounter (the module's comment on EncryptedPayload, referring to annex G): the first
PDU's is ``unixTime(now) << 32``; each next is the previous plus size(PDU[N-1]), the octets
of the previous PS-PDU of the stream as delivered (encrypted, whole). OpenLI counts the same
way; lawful_intercept 0.2 added the clear PS-PDU's size instead. The decryptor reads every
step and says which rule it follows (:class:`CounterStep`) rather than refuse a PDU for it.

The IV is a profile choice (:class:`IVRule`), agreed with the LEA:

- ``SEQUENCE_REPEATED``: the PDU's 32-bit sequenceNumber, big-endian, four times — the rule
  of a deployed national profile (and of OpenLI's mediator); the default.
- ``ZERO``: an all-zero IV; each PDU's first plaintext block still differs, because it holds
  the strictly increasing byteCounter.

Fast path: one long-lived CBC context per key, no cipher object built per PDU. The native
helper ``protection._crypto`` (C, OpenSSL EVP; ``_native.loaded()`` says whether it is in
use) sets each PDU's IV on that context and writes the whole encrypted PDU in one call; for
several PDUs at once (:meth:`PayloadEncryptor.encrypt_parts_many`) it lays out and encrypts
the batch in one call. Without it, pure Python:
CBC with IV ``v`` equals continuing a chain whose last ciphertext block is ``c`` on a first
block XORed with ``v ^ c``. Both give the same octets. With a key held by an HSM
(:class:`~lawful_intercept.protection.keys.base.DeviceKey`) each PDU's EncryptedPayload is
encrypted in the device, under its own IV, in one call.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lawful_intercept import _native
from lawful_intercept.codec.ber import element, encode_integer, encode_length, tlv_size
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.codec import join_pspdu
from lawful_intercept.codec.handover.psheader import frame
from lawful_intercept.codec.handover.psheader import sequence_number as psheader_sequence
from lawful_intercept.errors import DecodeError, EncodeError, IntegrityError
from lawful_intercept.protection.keys.base import DeviceKey

try:
    from lawful_intercept.protection import _crypto
except ImportError:  # built without a C compiler or OpenSSL's headers: pure Python, same octets
    _crypto = None  # type: ignore[assignment]
if not _native.use("lawful_intercept.protection._crypto", _crypto is not None):
    _crypto = None  # type: ignore[assignment]
_Sealer = None if _crypto is None else _crypto.Sealer

__all__ = [
    "ByteCounterTrack",
    "CounterStep",
    "DecryptedPDU",
    "EncryptionProfile",
    "IVRule",
    "PayloadDecryptor",
    "PayloadEncryptor",
]

_BLOCK = 16
_KEY_OCTETS = {m.EncryptionType.AES_192_CBC: 24, m.EncryptionType.AES_256_CBC: 32}
_TYPE_NUMBER = {m.EncryptionType.AES_192_CBC: 3, m.EncryptionType.AES_256_CBC: 4}
_PAYLOAD_TYPE_NUMBER = {t: i + 1 for i, t in enumerate(m.EncryptedPayloadType)}
_MAX_COUNTER = 2**64 - 1
_REPEAT_4 = 0x00000001_00000001_00000001_00000001  # n * this = n in four 32-bit words
_EIGHT_OCTETS_LOW, _EIGHT_OCTETS_HIGH = 2**55, 2**63  # minimal INTEGER is exactly 8 octets
_SHORT = [bytes((n,)) for n in range(16)]
_PADDING = [bytes(-n % _BLOCK) for n in range(_BLOCK)]


class IVRule(enum.Enum):
    """How the CBC IV of each PDU is formed (a profile agreed with the LEA)."""

    SEQUENCE_REPEATED = "sequence-repeated"
    ZERO = "zero"


@attrs.frozen
class EncryptionProfile:
    """Cipher, IV rule and encryptedPayloadType for one delivery."""

    encryption_type: m.EncryptionType = m.EncryptionType.AES_256_CBC
    iv_rule: IVRule = IVRule.SEQUENCE_REPEATED
    payload_type: m.EncryptedPayloadType | None = m.EncryptedPayloadType.PART3

    def __attrs_post_init__(self) -> None:
        if self.encryption_type not in _KEY_OCTETS:
            raise EncodeError(f"{self.encryption_type.value} is not supported (AES-CBC only)")


def _iv(rule: IVRule, sequence_number: int) -> int:
    """The IV as an integer: 0, or the 32-bit sequence number in each of four words."""
    return sequence_number * _REPEAT_4 if rule is IVRule.SEQUENCE_REPEATED else 0


def _children(data: bytes | bytearray, start: int, end: int) -> dict[int, tuple[int, int]]:
    """Content bounds of the elements in [start, end), by first identifier octet."""
    found = {}
    while start < end:
        tag, content_start, content_end, start = element(data, start, end)
        found[tag] = (content_start, content_end)
    return found


class _Chain:
    """A CBC context reused across PDUs, re-based to each PDU's IV (see the module doc)."""

    def __init__(self, key: bytes | bytearray, decrypt: bool) -> None:
        cipher = Cipher(algorithms.AES(key), modes.CBC(bytes(_BLOCK)))
        self._ctx = cipher.decryptor() if decrypt else cipher.encryptor()
        self.update = self._ctx.update
        self.last = 0  # the chain's last ciphertext block, as an int

    def encrypt(self, iv: int, head: bytes, body: tuple[bytes, ...], padding: bytes) -> bytes:
        """CBC of head + body pieces + padding under ``iv`` (joined once, with the first
        block XORed)."""
        if len(head) < _BLOCK:
            head, body, padding = b"".join((head, *body, padding)), (), b""
        first = int.from_bytes(head[:_BLOCK], "big") ^ iv ^ self.last
        out: bytes = self._ctx.update(
            b"".join((first.to_bytes(_BLOCK, "big"), head[_BLOCK:], *body, padding))
        )
        self.last = int.from_bytes(out[-_BLOCK:], "big")
        return out

    def decrypt(self, iv: int, cipher_text: bytes | memoryview) -> memoryview:
        """CBC decryption of whole blocks under ``iv``, into one new buffer."""
        size = len(cipher_text)
        out = bytearray(size + _BLOCK - 1)  # what update_into asks room for
        self._ctx.update_into(cipher_text, out)
        first = int.from_bytes(out[:_BLOCK], "big") ^ iv ^ self.last
        out[:_BLOCK] = first.to_bytes(_BLOCK, "big")
        self.last = int.from_bytes(cipher_text[-_BLOCK:], "big")
        return memoryview(out)[:size]


class _DeviceChain:
    """:class:`_Chain`'s encryption in a device that holds the key (one call per PDU)."""

    def __init__(self, key: DeviceKey) -> None:
        self._key = key

    def encrypt(self, iv: int, head: bytes, body: tuple[bytes, ...], padding: bytes) -> bytes:
        return self._key.cbc_encrypt(iv.to_bytes(_BLOCK, "big"), b"".join((head, *body, padding)))


class PayloadEncryptor:
    """Encrypts the payload of each PS-PDU of one delivery stream, in order. ``native``:
    seal with the native helper when it is built (the default); False forces pure Python.
    ``key``: its octets, or a :class:`DeviceKey` (the HSM encrypts; no native helper)."""

    def __init__(
        self,
        key: bytes | bytearray | DeviceKey,
        profile: EncryptionProfile,
        *,
        now: float | None = None,
        byte_counter: int | None = None,
        native: bool = True,
    ) -> None:
        octets = _KEY_OCTETS[profile.encryption_type]
        if (key.key_octets if isinstance(key, DeviceKey) else len(key)) != octets:
            raise EncodeError(f"{profile.encryption_type.value} needs a {8 * octets}-bit key")
        if byte_counter is None:
            if now is None:
                raise EncodeError("give the time of first use (now) or a byteCounter to resume")
            byte_counter = int(now) << 32
        if not 0 <= byte_counter <= _MAX_COUNTER:
            raise EncodeError("byteCounter out of range")
        self.profile = profile
        self.byte_counter = byte_counter
        self._sequence_iv = profile.iv_rule is IVRule.SEQUENCE_REPEATED
        self._chain: _Chain | _DeviceChain
        if isinstance(key, DeviceKey):
            self._chain, self._sealer = _DeviceChain(key), None
        else:
            self._chain = _Chain(key, decrypt=False)
            use_native = native and _Sealer is not None
            self._sealer = _Sealer(key, self._sequence_iv) if use_native else None
        # encryptionType [0], then the tag of encryptedPayload [1] (its length varies)
        self._container_head = bytes((0x80, 0x01, _TYPE_NUMBER[profile.encryption_type], 0x81))
        self._container_tail = (
            b""
            if profile.payload_type is None
            else bytes((0x82, 0x01, _PAYLOAD_TYPE_NUMBER[profile.payload_type]))
        )
        self._container_fixed = len(self._container_head) + len(self._container_tail)
        self._layouts: dict[int, _Layout] = {}

    def encrypt(self, pdu: bytes, sequence_number: int | None = None) -> bytes:
        """The PS-PDU with its payload replaced by an EncryptionContainer.

        ``sequence_number`` saves reading it from the header (the IV needs it).
        """
        parts = frame(pdu)
        h_start, h_end, p_start, p_end = (
            parts.header_start,
            parts.header_after,
            parts.payload_at,
            parts.payload_end,
        )
        if sequence_number is None and self.profile.iv_rule is IVRule.SEQUENCE_REPEATED:
            sequence_number = psheader_sequence(pdu, parts.header_at, parts.header_end)
        return self.encrypt_payload(
            pdu[h_start:h_end], (pdu[p_start:p_end],), p_end - p_start, sequence_number or 0
        )

    def encrypt_payload(
        self,
        header: bytes,
        payload: tuple[bytes, ...],
        payload_len: int,
        sequence_number: int,
    ) -> bytes:
        """The encrypted PS-PDU from its parts: the pSHeader element and the Payload CHOICE's
        octets in pieces (``payload_len`` in all).

        For encoders that hold the parts already (:meth:`CCTemplate.encode_encrypted`).
        """
        return self.encrypt_parts((header,), len(header), payload, payload_len, sequence_number)

    def _layout(self, payload_len: int, counter_len: int) -> _Layout:
        """What is fixed for a payload length and a byteCounter size: the EncryptedPayload's
        octets around the counter, the padding, and everything between the pSHeader and the
        cipher text."""
        payload_length = encode_length(payload_len)
        body_len = 2 + counter_len + 1 + len(payload_length) + payload_len
        before = b"\x30" + encode_length(body_len) + b"\x80" + _SHORT[counter_len]
        after = b"\xa1" + payload_length
        padding = _PADDING[(len(before) + counter_len + len(after) + payload_len) % _BLOCK]
        sealed_len = len(before) + counter_len + len(after) + payload_len + len(padding)
        sealed_length = encode_length(sealed_len)
        container_len = self._container_fixed + len(sealed_length) + sealed_len
        container = b"\xa4" + encode_length(container_len)
        wrapper = b"\xa2" + encode_length(len(container) + container_len)
        outer = wrapper + container + self._container_head + sealed_length
        tail = self._container_tail
        return _Layout(
            before, after, padding, outer, len(outer) + sealed_len + len(tail),
            (before, counter_len, after, len(padding), outer, tail),
        )  # fmt: skip

    def _cached_layout(self, payload_len: int) -> _Layout:
        """:meth:`_layout` for an eight-octet byteCounter (every ``unixTime << 32`` to 2038),
        kept: PDUs of one size repeat."""
        if len(self._layouts) >= 1024:
            self._layouts.clear()
        layout = self._layouts[payload_len] = self._layout(payload_len, 8)
        return layout

    def encrypt_parts(
        self,
        header: tuple[bytes, ...],
        header_len: int,
        payload: tuple[bytes, ...],
        payload_len: int,
        sequence_number: int,
    ) -> bytes:
        """:meth:`encrypt_payload` with the pSHeader element in pieces (``header_len``
        octets): the encoders' per-packet path, without joining the header first."""
        counter = self.byte_counter
        layout, size = self._checked_layout(counter, header_len, payload_len, sequence_number)
        if self._sealer is not None:
            pdu = self._sealer.seal(sequence_number, counter, header, layout.sealing, payload)
        else:
            iv = sequence_number * _REPEAT_4 if self._sequence_iv else 0
            counter_octets = counter.to_bytes(layout.sealing[1], "big")
            sealed = self._chain.encrypt(
                iv, layout.before + counter_octets + layout.after, payload, layout.padding
            )
            total = header_len + layout.outer_tail_len
            pdu = b"".join(
                (b"\x30", encode_length(total), *header, layout.outer, sealed,
                 self._container_tail)
            )  # fmt: skip
        self.byte_counter = counter + size  # only for a PDU made
        return pdu

    def encrypt_parts_many(self, jobs: Sequence[PartsJob]) -> list[bytes]:
        """:meth:`encrypt_parts` of each job (its six arguments), in order, each PDU's
        byteCounter after the one before; the native helper lays out and encrypts the whole
        batch in one call (without the GIL when it is large)."""
        if self._sealer is None or len(jobs) < 2:
            return [self.encrypt_parts(*job) for job in jobs]
        counter = self.byte_counter
        sealing = []
        for header, header_len, payload, payload_len, sequence_number in jobs:
            layout, size = self._checked_layout(counter, header_len, payload_len, sequence_number)
            sealing.append((sequence_number, counter, header, layout.sealing, payload))
            counter += size
        pdus = self._sealer.seal_many(sealing)
        self.byte_counter = counter  # only once every PDU is made
        return pdus

    def _checked_layout(
        self, counter: int, header_len: int, payload_len: int, sequence_number: int
    ) -> tuple[_Layout, int]:
        """The layout of a PDU sealed at byteCounter ``counter`` and the whole encrypted
        PDU's size (what the next byteCounter adds), after the range checks."""
        if not 0 <= sequence_number <= 0xFFFFFFFF:
            raise EncodeError("sequenceNumber out of range")
        if _EIGHT_OCTETS_LOW <= counter < _EIGHT_OCTETS_HIGH:
            layout = self._layouts.get(payload_len) or self._cached_layout(payload_len)
        else:
            layout = self._layout(payload_len, len(encode_integer(counter)))
        size = tlv_size(header_len + layout.outer_tail_len)
        if counter + size > _MAX_COUNTER:
            raise EncodeError("byteCounter would pass 2^64 - 1: rotate the key and restart")
        return layout, size


#: :meth:`PayloadEncryptor.encrypt_parts`'s arguments: pSHeader pieces and their length, the
#: Payload's pieces and their length, the sequence number
PartsJob = tuple[tuple[bytes, ...], int, tuple[bytes, ...], int, int]


@attrs.frozen
class _Layout:
    """See :meth:`PayloadEncryptor._layout`. The clear EncryptedPayload is ``before``, the
    byteCounter's octets, ``after``, the Payload's octets, then ``padding``; ``outer`` runs
    from payload [2] to encryptedPayload's length octets; ``outer_tail_len`` counts the
    octets after the pSHeader; ``sealing`` is the same for the native Sealer (its doc)."""

    before: bytes
    after: bytes
    padding: bytes
    outer: bytes
    outer_tail_len: int
    sealing: tuple[bytes, int, bytes, int, bytes, bytes]


class CounterStep(enum.Enum):
    """How a byteCounter followed the one before it in its stream."""

    #: the previous plus the previous PDU's size as delivered (annex G; OpenLI)
    ANNEX_G = "annex G"
    #: the previous plus the previous clear PS-PDU's size (lawful_intercept 0.2)
    CLEAR_SIZE = "clear PDU size"
    #: neither: PDUs missing or reordered, or another encoder's rule
    OTHER = "other"


@attrs.frozen
class DecryptedPDU:
    """A decrypted PS-PDU and what its byteCounter says about the stream."""

    #: the pSHeader element's octets, as received
    header: bytes
    byte_counter: int
    #: the clear Payload CHOICE alternative (what :attr:`pdu`'s payload [2] holds)
    payload: bytes
    #: the encrypted PDU's octets as received (what annex G's next byteCounter adds)
    size: int
    #: byteCounter minus the annex G value expected from the PDU before: 0 in order; > 0
    #: octets of PDUs missing; < 0 repeated or reordered; None for the first PDU seen.
    counter_gap: int | None = None
    #: how the byteCounter stepped from the PDU before (None for the first PDU seen)
    counter_step: CounterStep | None = None

    @property
    def pdu(self) -> bytes:
        """The clear PS-PDU: the header, then payload [2] holding :attr:`payload` (built on
        demand: a LEMF reading CC from :attr:`payload` never needs it)."""
        return join_pspdu(self.header, self.payload)

    @property
    def clear_size(self) -> int:
        """The octets of :attr:`pdu`, without building it."""
        return tlv_size(len(self.header) + tlv_size(len(self.payload)))


class ByteCounterTrack:
    """One stream's byteCounters, PDU after PDU (the module's comment on EncryptedPayload):
    how each stepped from the one before. Never a reason to refuse a PDU."""

    def __init__(self) -> None:
        self._last: tuple[int, int, int] | None = None  # counter, size, clear size

    def follow(self, opened: DecryptedPDU) -> tuple[int | None, CounterStep | None]:
        """The gap from the annex G value and the step's rule, for the PDU after the last
        one followed."""
        last = self._last
        counter = opened.byte_counter
        self._last = (counter, opened.size, opened.clear_size)
        if last is None:
            return None, None
        gap = counter - (last[0] + last[1])
        if gap == 0:
            return 0, CounterStep.ANNEX_G
        if counter == last[0] + last[2]:
            return gap, CounterStep.CLEAR_SIZE
        return gap, CounterStep.OTHER


class PayloadDecryptor:
    """LEMF side: decrypts EncryptionContainers of one delivery stream, follows byteCounter."""

    def __init__(self, key: bytes | bytearray, profile: EncryptionProfile) -> None:
        if len(key) != _KEY_OCTETS[profile.encryption_type]:
            raise DecodeError(0, "decryption key has the wrong length for the profile")
        self.profile = profile
        self._chain = _Chain(key, decrypt=True)
        self._track = ByteCounterTrack()

    def decrypt(self, pdu: bytes, *, sequence_number: int | None = None) -> DecryptedPDU:
        """Decrypt and follow the byteCounter (one stream); see :meth:`open`."""
        opened = self.open(pdu, sequence_number=sequence_number)
        gap, step = self._track.follow(opened)
        return attrs.evolve(opened, counter_gap=gap, counter_step=step)

    def open(self, pdu: bytes, *, sequence_number: int | None = None) -> DecryptedPDU:
        """Decrypt one PDU, whatever its stream (no byteCounter followed); DecodeError if it
        is not an EncryptionContainer PDU, IntegrityError if it does not decrypt to an
        EncryptedPayload (wrong key, wrong IV rule, tampering). ``sequence_number``: the
        header's, when the caller has read it already."""
        parts = frame(pdu)
        p_start, p_end = parts.payload_at, parts.payload_end
        tag, container_start, container_end, after = element(pdu, p_start, p_end)
        if tag != 0xA4 or after != p_end:
            raise DecodeError(p_start, "payload is not an encryptionContainer")
        fields = _children(pdu, container_start, container_end)
        kind, sealed = fields.get(0x80), fields.get(0x81)
        if kind is None or sealed is None:
            raise DecodeError(container_start, "encryptionContainer lacks type or payload")
        number = int.from_bytes(pdu[kind[0] : kind[1]], "big")
        if number != _TYPE_NUMBER[self.profile.encryption_type]:
            raise DecodeError(kind[0], f"encryptionType {number} is not the agreed profile")
        cipher_text = memoryview(pdu)[sealed[0] : sealed[1]]
        if not cipher_text or len(cipher_text) % _BLOCK:
            raise DecodeError(sealed[0], "encryptedPayload is not a whole number of AES blocks")
        sequence = 0
        if self.profile.iv_rule is IVRule.SEQUENCE_REPEATED:
            sequence = (
                sequence_number
                if sequence_number is not None
                else psheader_sequence(pdu, parts.header_at, parts.header_end)
            )
        plain = self._chain.decrypt(_iv(self.profile.iv_rule, sequence), cipher_text)
        try:
            counter, inner = self._parse(plain)
        except DecodeError:
            raise IntegrityError(
                "encryptedPayload does not decrypt to an EncryptedPayload (wrong key or IV rule, "
                "or tampered)"
            ) from None
        header = pdu[parts.header_start : parts.header_after]
        return DecryptedPDU(header, counter, inner, len(pdu))

    @staticmethod
    def _parse(plain: memoryview) -> tuple[int, bytes]:
        tag, start, end, after = element(plain, 0, len(plain))
        if tag != 0x30 or len(plain) - after >= _BLOCK or any(plain[after:]):
            raise DecodeError(0, "not an EncryptedPayload followed by zero padding")
        counter_tag, counter_start, counter_end, next_at = element(plain, start, end)
        if counter_tag != 0x80 or counter_end == counter_start:
            raise DecodeError(start, "expected byteCounter [0]")
        value = int.from_bytes(plain[counter_start:counter_end], "big", signed=True)
        if not 0 <= value <= _MAX_COUNTER:
            raise DecodeError(counter_start, "byteCounter is not in 0..2^64-1")
        payload_tag, payload_start, payload_end, _ = element(plain, next_at, end)
        if payload_tag != 0xA1:
            raise DecodeError(next_at, "expected payload [1]")
        return value, bytes(plain[payload_start:payload_end])
