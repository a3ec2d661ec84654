"""Remote attestation, verifier side, in pure Python (``cryptography`` only; no TSS needed).

- :func:`make_credential` (TPM 2.0 Part 1 clause 24, Part 3 TPM2_MakeCredential): a secret
  encrypted to an endorsement key (ECC P-256: ECDH seed, KDFe/KDFa, AES-128-CFB, outer HMAC)
  and bound to the AK's name. Only the TPM holding both can activate it: that binds the AK to
  the EK.
- :func:`verify_quote`: TPMS_ATTEST from TPM2_Quote, checked for the magic, the type, the
  signature by the enrolled AK, the nonce, and the PCR digest against a :class:`PCRPolicy`.
- :class:`AttestationVerifier` and :class:`ReleaseGate`: single-use nonces with a lifetime;
  a wrapped key or a task is released to a host only with a fresh, valid quote from it.
- :func:`check_clock`: each host's TPMS_CLOCK_INFO across its quotes (Part 1 clause 36,
  Part 2 clause 10.11.1): within one power cycle (resetCount) the clock and restartCount never
  go back, resetCount never goes back, and a clock lower than one already reported is only
  possible after a reset with ``safe`` NO. A TPM whose state was restored from a copy (a
  cloned or rolled-back image) or a quote held back and shown late fails it.

Sans-IO: the caller passes ``now`` and moves the bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

import attrs
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # CFB moved to the "decrepit" module in cryptography 47
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from lawful_intercept.errors import AttestationError, IntegrityError
from lawful_intercept.protection.keys.base import verify_digest

__all__ = [
    "AttestationVerifier",
    "CredentialChallenge",
    "PCRPolicy",
    "Quote",
    "QuoteInfo",
    "ReleaseGate",
    "TPMPublic",
    "make_credential",
    "parse_attest",
    "parse_public",
    "verify_quote",
    "check_clock",
]

_ALG_SHA256, _ALG_NULL, _ALG_ECC, _ALG_ECDSA, _ALG_AES, _ALG_CFB = (
    0x000B, 0x0010, 0x0023, 0x0018, 0x0006, 0x0043,
)  # fmt: skip
_ECC_NIST_P256 = 0x0003
_GENERATED_VALUE = 0xFF544347  # TPM_GENERATED_VALUE
_ST_ATTEST_QUOTE = 0x8018
# TPMA_OBJECT bits an AK must have: fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign
_AK_ATTRIBUTES = 0x00000002 | 0x00000010 | 0x00000020 | 0x00010000 | 0x00040000
_MAX_INPUT = 4096


class _Reader:
    """Big-endian TPM marshalling reader; AttestationError on short or trailing input."""

    def __init__(self, data: bytes, what: str) -> None:
        if len(data) > _MAX_INPUT:
            raise AttestationError(f"{what}: {len(data)} octets is too long")
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise AttestationError(f"{self.what}: truncated at octet {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def tpm2b(self) -> bytes:
        return self.take(self.u16())

    def end(self) -> None:
        if self.pos != len(self.data):
            raise AttestationError(f"{self.what}: {len(self.data) - self.pos} trailing octets")


def _tpm2b(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


# -- TPMT_PUBLIC ------------------------------------------------------------------------------


@attrs.frozen
class TPMPublic:
    """An ECC P-256 TPMT_PUBLIC: what a verifier needs of an EK or an AK."""

    raw: bytes
    name_alg: int
    attributes: int
    symmetric: tuple[int, int, int]  # algorithm, key bits, mode (algorithm NULL: zeros)
    scheme: tuple[int, int]  # scheme, hash
    x: bytes
    y: bytes

    @property
    def name(self) -> bytes:
        """TPM name: nameAlg || H(TPMT_PUBLIC)."""
        return struct.pack(">H", self.name_alg) + hashlib.sha256(self.raw).digest()

    def ecc_public_key(self) -> ec.EllipticCurvePublicKey:
        try:
            return ec.EllipticCurvePublicNumbers(
                int.from_bytes(self.x, "big"), int.from_bytes(self.y, "big"), ec.SECP256R1()
            ).public_key()
        except ValueError as exc:
            raise AttestationError("TPM public key is not a point on P-256") from exc


def parse_public(data: bytes) -> TPMPublic:
    """Parse a marshalled TPMT_PUBLIC of an ECC P-256 key with SHA-256 names."""
    r = _Reader(bytes(data), "TPMT_PUBLIC")
    if r.u16() != _ALG_ECC:
        raise AttestationError("TPMT_PUBLIC: only ECC keys are supported")
    name_alg = r.u16()
    if name_alg != _ALG_SHA256:
        raise AttestationError("TPMT_PUBLIC: only SHA-256 names are supported")
    attributes = r.u32()
    r.tpm2b()  # authPolicy
    symmetric = (r.u16(), 0, 0)
    if symmetric[0] != _ALG_NULL:
        symmetric = (symmetric[0], r.u16(), r.u16())
    scheme = (r.u16(), 0)
    if scheme[0] != _ALG_NULL:
        scheme = (scheme[0], r.u16())
    if r.u16() != _ECC_NIST_P256:
        raise AttestationError("TPMT_PUBLIC: only NIST P-256 is supported")
    if r.u16() != _ALG_NULL:
        r.u16()  # kdf hash
    x, y = r.tpm2b(), r.tpm2b()
    r.end()
    return TPMPublic(bytes(data), name_alg, attributes, symmetric, scheme, x, y)


# -- MakeCredential ---------------------------------------------------------------------------


def _kdfa(key: bytes, label: bytes, context_u: bytes, context_v: bytes, bits: int) -> bytes:
    """KDFa with HMAC-SHA-256 (Part 1 clause 11.4.10.2), counter mode."""
    out = b""
    counter = 0
    while len(out) * 8 < bits:
        counter += 1
        block = struct.pack(">I", counter) + label + b"\x00" + context_u + context_v
        out += hmac.digest(key, block + struct.pack(">I", bits), "sha256")
    return out[: bits // 8]


def _kdfe(z: bytes, label: bytes, party_u: bytes, party_v: bytes, bits: int) -> bytes:
    """KDFe with SHA-256 (Part 1 clause 11.4.10.3), the ECDH key derivation."""
    out = b""
    counter = 0
    while len(out) * 8 < bits:
        counter += 1
        out += hashlib.sha256(
            struct.pack(">I", counter) + z + label + b"\x00" + party_u + party_v
        ).digest()
    return out[: bits // 8]


@attrs.frozen
class CredentialChallenge:
    """What the verifier sends the host: TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET."""

    credential_blob: bytes
    encrypted_secret: bytes


def make_credential(ek_public: TPMPublic, ak_name: bytes, secret: bytes) -> CredentialChallenge:
    """Encrypt ``secret`` (at most 32 octets) to the EK, bound to the AK's name."""
    if not 0 < len(secret) <= 32:
        raise AttestationError("a credential is 1..32 octets")
    if ek_public.symmetric[:2] != (_ALG_AES, 128) or ek_public.symmetric[2] != _ALG_CFB:
        raise AttestationError("EK: only an AES-128-CFB storage key is supported")
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    z = ephemeral.exchange(ec.ECDH(), ek_public.ecc_public_key())
    point = ephemeral.public_key().public_numbers()
    qe_x, qe_y = point.x.to_bytes(32, "big"), point.y.to_bytes(32, "big")
    seed = _kdfe(z, b"IDENTITY", qe_x, ek_public.x, 256)
    sym_key = _kdfa(seed, b"STORAGE", ak_name, b"", 128)
    encryptor = Cipher(algorithms.AES(sym_key), CFB(bytes(16))).encryptor()
    enc_identity = encryptor.update(_tpm2b(secret)) + encryptor.finalize()
    hmac_key = _kdfa(seed, b"INTEGRITY", b"", b"", 256)
    outer = hmac.digest(hmac_key, enc_identity + ak_name, "sha256")
    blob = _tpm2b(_tpm2b(outer) + enc_identity)
    encrypted = _tpm2b(_tpm2b(qe_x) + _tpm2b(qe_y))  # TPMS_ECC_POINT in a TPM2B
    return CredentialChallenge(blob, encrypted)


# -- Quotes -----------------------------------------------------------------------------------


@attrs.frozen
class Quote:
    """What a host returns for a nonce: TPMS_ATTEST, TPMT_SIGNATURE, and the PCR values."""

    attest: bytes
    signature: bytes
    pcr_values: tuple[tuple[int, bytes], ...]


@attrs.frozen
class QuoteInfo:
    """The parsed TPMS_ATTEST of a quote."""

    qualified_signer: bytes
    extra_data: bytes
    clock: int
    reset_count: int
    restart_count: int
    safe: bool
    firmware_version: int
    pcr_selection: tuple[tuple[int, tuple[int, ...]], ...]
    pcr_digest: bytes


def parse_attest(data: bytes) -> QuoteInfo:
    """Parse a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE (Part 2 clause 10.12)."""
    r = _Reader(bytes(data), "TPMS_ATTEST")
    if r.u32() != _GENERATED_VALUE:
        raise AttestationError("TPMS_ATTEST: not generated by a TPM (magic)")
    if r.u16() != _ST_ATTEST_QUOTE:
        raise AttestationError("TPMS_ATTEST: not a quote")
    signer, extra = r.tpm2b(), r.tpm2b()
    clock, resets, restarts, safe = r.u64(), r.u32(), r.u32(), r.u8()
    firmware = r.u64()
    selection = []
    for _ in range(r.u32()):
        hash_alg, size = r.u16(), r.u8()
        bitmap = r.take(size)
        selection.append(
            (hash_alg, tuple(i for i in range(size * 8) if bitmap[i // 8] & (1 << (i % 8))))
        )
    digest = r.tpm2b()
    r.end()
    return QuoteInfo(
        signer, extra, clock, resets, restarts, bool(safe), firmware, tuple(selection), digest
    )


def _signature_der(data: bytes) -> tuple[int, bytes]:
    """TPMT_SIGNATURE (ECDSA) -> (hash algorithm, RFC 3279 DER signature)."""
    r = _Reader(bytes(data), "TPMT_SIGNATURE")
    if r.u16() != _ALG_ECDSA:
        raise AttestationError("TPMT_SIGNATURE: only ECDSA is supported")
    hash_alg = r.u16()
    sig_r, sig_s = r.tpm2b(), r.tpm2b()
    r.end()
    return hash_alg, encode_dss_signature(
        int.from_bytes(sig_r, "big"), int.from_bytes(sig_s, "big")
    )


def _sorted_values(values: Mapping[int, bytes]) -> dict[int, bytes]:
    return dict(sorted(dict(values).items()))


@attrs.frozen
class PCRPolicy:
    """The SHA-256 PCR values a trustworthy platform reports."""

    expected: Mapping[int, bytes] = attrs.field(converter=_sorted_values)

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(self.expected)

    def digest(self) -> bytes:
        """pcrDigest of a quote over exactly these PCRs: SHA-256 of their values in order."""
        return hashlib.sha256(b"".join(self.expected.values())).digest()


def verify_quote(ak: TPMPublic, quote: Quote, nonce: bytes, policy: PCRPolicy) -> QuoteInfo:
    """Check a quote; AttestationError says which check failed (never the PCR values)."""
    hash_alg, signature = _signature_der(quote.signature)
    if hash_alg != _ALG_SHA256:
        raise AttestationError("quote signature: only SHA-256 is supported")
    try:
        verify_digest(ak.ecc_public_key(), hashlib.sha256(quote.attest).digest(), signature)
    except IntegrityError:
        raise AttestationError("quote signature does not verify with the enrolled AK") from None
    info = parse_attest(quote.attest)
    if not hmac.compare_digest(info.extra_data, nonce):
        raise AttestationError("quote is not for this nonce (stale or replayed)")
    if info.pcr_selection != ((_ALG_SHA256, policy.indices),):
        raise AttestationError("quote covers other PCRs than the policy")
    if not hmac.compare_digest(info.pcr_digest, policy.digest()):
        raise AttestationError("PCR values differ from the policy: platform state not trusted")
    return info


# -- Verifier and gate ------------------------------------------------------------------------


@attrs.define
class _Host:
    ek: TPMPublic
    ak: TPMPublic
    credential: bytes | None  # the secret until activated, then None
    bound: bool = False
    last: QuoteInfo | None = None  # the host's last verified quote (its TPM clock)


def check_clock(last: QuoteInfo, info: QuoteInfo) -> None:
    """AttestationError if ``info``'s TPMS_CLOCK_INFO cannot follow ``last``'s on one TPM."""
    if info.reset_count < last.reset_count:
        raise AttestationError("TPM resetCount went back across quotes (restored TPM state)")
    if info.reset_count == last.reset_count:
        if info.restart_count < last.restart_count:
            raise AttestationError("TPM restartCount went back within one power cycle")
        if info.clock < last.clock:
            raise AttestationError(
                "TPM clock went back within one power cycle (a quote shown late, or "
                "restored TPM state)"
            )
    elif info.clock < last.clock and info.safe:
        raise AttestationError("TPM clock is below one it reported, yet says it is safe")


class AttestationVerifier:
    """Enrols hosts (EK + AK bound by credential activation) and verifies their quotes.

    ``trusted_eks``: SHA-256 hex of EK TPMT_PUBLICs allowed to enrol (None: any EK, for
    test beds; production lists the EKs of its platforms, as read from their EK certificates).
    """

    def __init__(
        self,
        policy: PCRPolicy,
        *,
        nonce_lifetime: float = 30.0,
        trusted_eks: Iterable[str] | None = None,
    ) -> None:
        self.policy = policy
        self.nonce_lifetime = nonce_lifetime
        self._trusted = None if trusted_eks is None else set(trusted_eks)
        self._hosts: dict[str, _Host] = {}
        self._nonces: dict[bytes, tuple[str, float]] = {}

    def begin_enrolment(self, host: str, ek_public: bytes, ak_public: bytes) -> CredentialChallenge:
        """Check the AK's attributes and make a credential only that TPM can activate."""
        ek, ak = parse_public(ek_public), parse_public(ak_public)
        if self._trusted is not None and hashlib.sha256(ek.raw).hexdigest() not in self._trusted:
            raise AttestationError("EK is not on the list of trusted platforms")
        if ak.attributes & _AK_ATTRIBUTES != _AK_ATTRIBUTES:
            raise AttestationError("AK is not a restricted, fixed, TPM-generated signing key")
        secret = os.urandom(32)
        self._hosts[host] = _Host(ek, ak, secret)
        return make_credential(ek, ak.name, secret)

    def finish_enrolment(self, host: str, activated: bytes) -> None:
        """Accept the AK once the host returned the activated secret."""
        record = self._hosts.get(host)
        if record is None or record.credential is None:
            raise AttestationError("no enrolment in progress for this host")
        expected, record.credential = record.credential, None
        if not hmac.compare_digest(expected, activated):
            del self._hosts[host]
            raise AttestationError("credential not activated: AK and EK are not in one TPM")
        record.bound = True

    def challenge(self, host: str, now: float) -> bytes:
        """A fresh single-use nonce for ``host``."""
        self._expire(now)
        nonce = os.urandom(32)
        self._nonces[nonce] = (host, now)
        return nonce

    def verify(self, host: str, nonce: bytes, quote: Quote, now: float) -> QuoteInfo:
        """Verify a quote for a nonce this verifier issued to this host, once."""
        self._expire(now)
        issued = self._nonces.pop(nonce, None)
        if issued is None or issued[0] != host:
            raise AttestationError("unknown, expired or already used nonce")
        record = self._hosts.get(host)
        if record is None or not record.bound:
            raise AttestationError("host has no enrolled attestation key")
        info = verify_quote(record.ak, quote, nonce, self.policy)
        if record.last is not None:
            check_clock(record.last, info)
        record.last = info
        return info

    def _expire(self, now: float) -> None:
        stale = [n for n, (_, at) in self._nonces.items() if now - at > self.nonce_lifetime]
        for nonce in stale:
            del self._nonces[nonce]


T = TypeVar("T")


class ReleaseGate(Generic[T]):
    """Releases an item (a wrapped key, a task) to a host only with a fresh valid quote."""

    def __init__(self, verifier: AttestationVerifier) -> None:
        self.verifier = verifier

    def release(self, host: str, nonce: bytes, quote: Quote, item: T, now: float) -> T:
        self.verifier.verify(host, nonce, quote, now)
        return item
