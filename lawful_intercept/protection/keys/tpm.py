"""TPM 2.0 key store and attester (tpm2-pytss ESAPI; tested on swtpm).

State kept in ``state_dir`` (none of it secret off this TPM): the KEK sealed to a PCR policy,
an ECDSA P-256 signing key, and a restricted attestation key (AK), each as the TPM's public
and private blobs under a storage root key (SRK) that is re-derived from the owner seed on
each use. A blob copied to another TPM (a cloned VM image) cannot be loaded there: the other
TPM's SRK differs.

The KEK is unsealed once, when the store opens, through a salted policy session with response
encryption (the KEK crosses the bus encrypted) and PolicyPCR over the chosen PCRs; if they have
changed since sealing, opening fails with :class:`PCRPolicyError`. The raw swtpm socket has no
resource manager, so every object and session is flushed in ``finally``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from lawful_intercept.errors import ConfigurationError, KeyCustodyError, PCRPolicyError
from lawful_intercept.protection.keys.attestation import Quote, parse_public
from lawful_intercept.protection.keys.base import (
    InProcessKEK,
    KeyStore,
    KeyStoreStatus,
    key_fingerprint,
    prehashed,
    zeroise,
)

__all__ = ["DEFAULT_PCRS", "TCTI_ENV", "TPMKeyStore", "pcr_selection_text"]

log = logging.getLogger(__name__)

TCTI_ENV = "LI_TPM_TCTI"
#: Boot measurements of firmware, option ROMs, boot loader and its configuration.
DEFAULT_PCRS = (0, 1, 2, 3, 4, 5, 6, 7)
_STATE = "tpm-keystore.json"
_POLICY_FAIL = 0x09D  # TPM_RC_POLICY_FAIL (format-one, session-relative)


def pcr_selection_text(pcrs: Sequence[int]) -> str:
    """The SHA-256 bank selection in tpm2-tools form, e.g. ``sha256:0,1,7``."""
    if not pcrs or any(not 0 <= p <= 23 for p in pcrs):
        raise ConfigurationError("PCR indices must be 0..23, at least one")
    return "sha256:" + ",".join(str(p) for p in sorted(set(pcrs)))


def _tss() -> Any:
    os.environ.setdefault("TSS2_LOG", "all+none")  # ESYS logs to stderr otherwise
    import tpm2_pytss

    return tpm2_pytss


@attrs.frozen
class _Blob:
    public: bytes
    private: bytes

    def to_json(self) -> dict[str, str]:
        return {"public": self.public.hex(), "private": self.private.hex()}

    @classmethod
    def from_json(cls, value: dict[str, str]) -> _Blob:
        return cls(bytes.fromhex(value["public"]), bytes.fromhex(value["private"]))


class TPMKeyStore(InProcessKEK, KeyStore):
    """KEK sealed to PCRs, signing key and AK in a TPM 2.0. Also the host side of attestation."""

    backend: ClassVar[str] = "tpm"
    hardware_protected: ClassVar[bool] = True

    def __init__(
        self, state_dir: str | os.PathLike[str], *, tcti: str | None = None, unseal: bool = True
    ) -> None:
        """Open the store and unseal its KEK; ``unseal=False`` opens it for attestation and
        signing only (a platform whose PCRs changed can still be attested, and refused)."""
        self._dir = Path(state_dir)
        self._tcti = self._tcti_or_env(tcti)
        try:
            state = json.loads((self._dir / _STATE).read_text())
            self._pcrs = str(state["pcrs"])
            self._sealed_kek = _Blob.from_json(state["kek"])
            self._signing = _Blob.from_json(state["signing"])
            self._ak = _Blob.from_json(state["ak"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyCustodyError(
                f"no TPM key store state in {self._dir} (run li keys seal)"
            ) from exc
        self._tss = _tss()
        self._esapi: Any = None
        self._open()
        try:
            kek = self._unseal(self._sealed_kek) if unseal else bytearray(32)
        except BaseException:
            self.close_session()
            raise
        InProcessKEK.__init__(self, kek)
        self._public: ec.EllipticCurvePublicKey | None = None

    # -- set-up -----------------------------------------------------------------------------

    @classmethod
    def initialise(
        cls,
        state_dir: str | os.PathLike[str],
        *,
        tcti: str | None = None,
        pcrs: Sequence[int] = DEFAULT_PCRS,
    ) -> TPMKeyStore:
        """Seal a new random KEK to the current values of ``pcrs``; make the signing key and AK.

        Refuses to overwrite an existing state file.
        """
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / _STATE
        if target.exists():
            raise KeyCustodyError(f"{target} exists: the TPM key store is already initialised")
        selection = pcr_selection_text(pcrs)
        tss = _tss()
        esapi = tss.ESAPI(cls._tcti_or_env(tcti))
        kek = bytearray(os.urandom(32))
        try:
            with _srk(tss, esapi) as srk:
                policy = _pcr_policy_digest(tss, esapi, selection)
                sealed = _create(tss, esapi, srk, _sealed_template(tss, policy), kek)
                signing = _create(tss, esapi, srk, _signing_template(tss, restricted=False))
                ak = _create(tss, esapi, srk, _signing_template(tss, restricted=True))
        finally:
            zeroise(kek)
            esapi.close()
        state = {
            "version": 1,
            "pcrs": selection,
            "kek": sealed.to_json(),
            "signing": signing.to_json(),
            "ak": ak.to_json(),
        }
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(state, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        log.info("TPM key store initialised: KEK sealed to %s", selection)
        return cls(directory, tcti=tcti)

    @staticmethod
    def _tcti_or_env(tcti: str | None) -> str:
        found = tcti or os.environ.get(TCTI_ENV)
        if not found:
            raise ConfigurationError(f"no TPM TCTI configured (set {TCTI_ENV})")
        return found

    def _open(self) -> None:
        try:
            self._esapi = self._tss.ESAPI(self._tcti)
        except self._tss.TSS2_Exception as exc:
            raise KeyCustodyError(f"cannot reach the TPM ({exc.error:#x})") from None

    @property
    def sealed_pcrs(self) -> tuple[int, ...]:
        """The SHA-256 PCRs the KEK is sealed to (and quotes cover by default)."""
        return tuple(int(p) for p in self._pcrs.split(":")[1].split(","))

    # -- sealing ----------------------------------------------------------------------------

    def _unseal(self, blob: _Blob) -> bytearray:
        tss, esapi = self._tss, self._require()
        with _srk(tss, esapi) as srk, self._loaded(srk, blob) as obj:
            session = esapi.start_auth_session(
                srk, tss.ESYS_TR.NONE, tss.TPM2_SE.POLICY, "aes128cfb", tss.TPM2_ALG.SHA256
            )
            try:
                esapi.trsess_set_attributes(
                    session, tss.TPMA_SESSION.ENCRYPT | tss.TPMA_SESSION.CONTINUESESSION
                )
                esapi.policy_pcr(session, b"", tss.TPML_PCR_SELECTION.parse(self._pcrs))
                try:
                    released = esapi.unseal(obj, session1=session)
                except tss.TSS2_Exception as exc:
                    if exc.error == _POLICY_FAIL:
                        raise PCRPolicyError(
                            f"PCRs {self._pcrs} have changed since sealing: unseal refused"
                        ) from None
                    raise KeyCustodyError(f"TPM unseal failed ({exc.error:#x})") from None
                return bytearray(bytes(released))
            finally:
                esapi.flush_context(session)

    @contextlib.contextmanager
    def _loaded(self, srk: Any, blob: _Blob) -> Iterator[Any]:
        tss, esapi = self._tss, self._require()
        public, _ = tss.TPM2B_PUBLIC.unmarshal(blob.public)
        private, _ = tss.TPM2B_PRIVATE.unmarshal(blob.private)
        try:
            handle = esapi.load(srk, private, public)
        except tss.TSS2_Exception:
            raise KeyCustodyError(
                "TPM refused a key blob: it was made by another TPM (cloned image?) or altered"
            ) from None
        try:
            yield handle
        finally:
            esapi.flush_context(handle)

    def seal(self, secret: bytes | bytearray) -> bytes:
        """Seal up to 128 octets to this store's PCR policy; the blob only opens on this TPM."""
        tss, esapi = self._tss, self._require()
        with _srk(tss, esapi) as srk:
            policy = _pcr_policy_digest(tss, esapi, self._pcrs)
            blob = _create(tss, esapi, srk, _sealed_template(tss, policy), secret)
        return json.dumps(blob.to_json()).encode()

    def unseal(self, blob: bytes) -> bytearray:
        try:
            parsed = _Blob.from_json(json.loads(blob))
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyCustodyError("not a sealed blob") from exc
        return self._unseal(parsed)

    # -- signing ----------------------------------------------------------------------------

    def sign_digest(self, digest: bytes) -> bytes:
        prehashed(digest)
        tss, esapi = self._tss, self._require()
        hash_alg = {32: tss.TPM2_ALG.SHA256, 48: tss.TPM2_ALG.SHA384, 64: tss.TPM2_ALG.SHA512}
        scheme = tss.TPMT_SIG_SCHEME(scheme=tss.TPM2_ALG.ECDSA)
        scheme.details.ecdsa.hashAlg = hash_alg[len(digest)]
        ticket = tss.TPMT_TK_HASHCHECK(tag=tss.TPM2_ST.HASHCHECK, hierarchy=tss.TPM2_RH.NULL)
        with _srk(tss, esapi) as srk, self._loaded(srk, self._signing) as key:
            signature = esapi.sign(key, digest, scheme, ticket)
        ecdsa = signature.signature.ecdsa
        return encode_dss_signature(
            int.from_bytes(bytes(ecdsa.signatureR), "big"),
            int.from_bytes(bytes(ecdsa.signatureS), "big"),
        )

    def public_key(self) -> ec.EllipticCurvePublicKey:
        if self._public is None:
            public, _ = self._tss.TPM2B_PUBLIC.unmarshal(self._signing.public)
            self._public = parse_public(public.publicArea.marshal()).ecc_public_key()
        return self._public

    # -- attestation (host side) ------------------------------------------------------------

    def ak_public(self) -> bytes:
        """The AK's TPMT_PUBLIC, as a verifier parses it."""
        public, _ = self._tss.TPM2B_PUBLIC.unmarshal(self._ak.public)
        return bytes(public.publicArea.marshal())

    def ek_public(self) -> bytes:
        """The endorsement key's TPMT_PUBLIC (TCG default ECC P-256 EK template)."""
        tss, esapi = self._tss, self._require()
        with _ek(tss, esapi) as (_, public):
            return bytes(public.publicArea.marshal())

    def activate_credential(self, credential_blob: bytes, encrypted_secret: bytes) -> bytes:
        """TPM2_ActivateCredential: recover the verifier's secret, proving the AK and EK share
        this TPM. Fails (KeyCustodyError) on any other TPM."""
        tss, esapi = self._tss, self._require()
        try:
            blob, _ = tss.TPM2B_ID_OBJECT.unmarshal(credential_blob)
            secret, _ = tss.TPM2B_ENCRYPTED_SECRET.unmarshal(encrypted_secret)
        except Exception as exc:  # tpm2-pytss raises assorted errors on short input
            raise KeyCustodyError("malformed credential") from exc
        with (
            _srk(tss, esapi) as srk,
            self._loaded(srk, self._ak) as ak,
            _ek(tss, esapi) as (ek, _),
        ):
            session = esapi.start_auth_session(
                tss.ESYS_TR.NONE, tss.ESYS_TR.NONE, tss.TPM2_SE.POLICY, "aes128cfb",
                tss.TPM2_ALG.SHA256,
            )  # fmt: skip
            try:
                esapi.policy_secret(tss.ESYS_TR.ENDORSEMENT, session, b"", b"", b"", 0)
                recovered = esapi.activate_credential(ak, ek, blob, secret, session2=session)
            except tss.TSS2_Exception as exc:
                raise KeyCustodyError(
                    f"credential activation failed ({exc.error:#x}): not for this TPM"
                ) from None
            finally:
                esapi.flush_context(session)
        return bytes(recovered)

    def quote(self, nonce: bytes, pcrs: Sequence[int] | None = None) -> Quote:
        """TPM2_Quote by the AK over ``pcrs`` (default: the sealing PCRs), with their values."""
        tss, esapi = self._tss, self._require()
        selection = pcr_selection_text(pcrs) if pcrs is not None else self._pcrs
        with _srk(tss, esapi) as srk, self._loaded(srk, self._ak) as ak:
            attest, signature = esapi.quote(ak, tss.TPML_PCR_SELECTION.parse(selection), nonce)
        values = self.read_pcrs(list(pcrs) if pcrs is not None else self.sealed_pcrs)
        return Quote(
            attest=bytes(attest.attestationData),
            signature=bytes(signature.marshal()),
            pcr_values=tuple(sorted(values.items())),
        )

    def read_pcrs(self, pcrs: Sequence[int]) -> dict[int, bytes]:
        """Current SHA-256 PCR values (read eight at a time, as TPM2_PCR_Read returns them)."""
        tss, esapi = self._tss, self._require()
        values: dict[int, bytes] = {}
        wanted = sorted(set(pcrs))
        while len(values) < len(wanted):
            rest = [p for p in wanted if p not in values]
            _, selected, digests = esapi.pcr_read(
                tss.TPML_PCR_SELECTION.parse(pcr_selection_text(rest))
            )
            got = [
                index
                for sel in selected
                for index in range(sel.sizeofSelect * 8)
                if sel.pcrSelect[index // 8] & (1 << (index % 8))
            ]
            if not got:
                raise KeyCustodyError("TPM returned no PCR values")
            for index, digest in zip(got, digests, strict=False):
                values[index] = bytes(digest)
        return values

    def extend_pcr(self, index: int, data: bytes) -> None:
        """Extend a SHA-256 PCR with SHA-256(``data``) (for measurements and for tests)."""
        tss, esapi = self._tss, self._require()
        digest = tss.TPMT_HA(
            hashAlg=tss.TPM2_ALG.SHA256, digest=tss.TPMU_HA(sha256=hashlib.sha256(data).digest())
        )
        esapi.pcr_extend(_pcr_handle(tss, index), tss.TPML_DIGEST_VALUES([digest]))

    # -- KeyStore ---------------------------------------------------------------------------

    def status(self) -> KeyStoreStatus:
        return KeyStoreStatus(
            backend=self.backend,
            hardware_protected=True,
            kek_present=any(self._kek),
            signing_key_present=True,
            signing_key_fingerprint=key_fingerprint(self.public_key()),
            details=(("tcti", self._tcti), ("sealed to", self._pcrs), ("state", str(self._dir))),
        )

    def _require(self) -> Any:
        if self._esapi is None:
            raise KeyCustodyError("the key store is closed")
        return self._esapi

    def close_session(self) -> None:
        """Close the connection to the TPM (every handle is already flushed)."""
        esapi, self._esapi = self._esapi, None
        if esapi is not None:
            esapi.close()

    def close(self) -> None:
        self._forget_kek()
        self.close_session()


def _pcr_handle(tss: Any, index: int) -> Any:
    return getattr(tss.ESYS_TR, f"PCR{index}")


@contextlib.contextmanager
def _srk(tss: Any, esapi: Any) -> Iterator[Any]:
    """The owner-hierarchy ECC P-256 storage key: same seed, same key, on each call."""
    attributes = tss.TPMA_OBJECT.DEFAULT_TPM2_TOOLS_CREATEPRIMARY_ATTRS | tss.TPMA_OBJECT.NODA
    template = tss.TPM2B_PUBLIC.parse("ecc256:aes128cfb", objectAttributes=attributes)
    handle = esapi.create_primary(None, template)[0]
    try:
        yield handle
    finally:
        esapi.flush_context(handle)


@contextlib.contextmanager
def _ek(tss: Any, esapi: Any) -> Iterator[tuple[Any, Any]]:
    """The TCG default ECC P-256 endorsement key (low range template)."""
    from tpm2_pytss.utils import NoSuchIndex, create_ek_template

    def no_certificate(index: int) -> bytes:
        raise NoSuchIndex(index)

    _, template = create_ek_template("EK-ECC256", no_certificate)
    handle, public, *_ = esapi.create_primary(None, template, tss.ESYS_TR.ENDORSEMENT)
    try:
        yield handle, public
    finally:
        esapi.flush_context(handle)


def _pcr_policy_digest(tss: Any, esapi: Any, selection: str) -> bytes:
    """PolicyPCR digest over the current values of ``selection``, from a trial session."""
    trial = esapi.start_auth_session(
        tss.ESYS_TR.NONE, tss.ESYS_TR.NONE, tss.TPM2_SE.TRIAL, "aes128cfb", tss.TPM2_ALG.SHA256
    )
    try:
        esapi.policy_pcr(trial, b"", tss.TPML_PCR_SELECTION.parse(selection))
        return bytes(esapi.policy_get_digest(trial))
    finally:
        esapi.flush_context(trial)


def _sealed_template(tss: Any, policy: bytes) -> Any:
    a = tss.TPMA_OBJECT
    attributes = a.FIXEDTPM | a.FIXEDPARENT | a.NODA | a.ADMINWITHPOLICY  # no userWithAuth
    return tss.TPM2B_PUBLIC.parse("keyedhash", objectAttributes=attributes, authPolicy=policy)


def _signing_template(tss: Any, *, restricted: bool) -> Any:
    a = tss.TPMA_OBJECT
    attributes = (
        a.SIGN_ENCRYPT | a.FIXEDTPM | a.FIXEDPARENT | a.SENSITIVEDATAORIGIN | a.USERWITHAUTH
    ) | a.NODA
    if restricted:  # an AK: signs only TPM-generated structures (quotes)
        return tss.TPM2B_PUBLIC.parse(
            "ecc256:ecdsa-sha256:null", objectAttributes=attributes | a.RESTRICTED
        )
    return tss.TPM2B_PUBLIC.parse("ecc256:null:null", objectAttributes=attributes)


def _create(
    tss: Any, esapi: Any, parent: Any, template: Any, data: bytes | bytearray | None = None
) -> _Blob:
    sensitive = None
    if data is not None:
        if len(data) > 128:
            raise KeyCustodyError("a sealed secret is at most 128 octets")
        sensitive = tss.TPM2B_SENSITIVE_CREATE(
            tss.TPMS_SENSITIVE_CREATE(data=tss.TPM2B_SENSITIVE_DATA(bytes(data)))
        )
    private, public, *_ = esapi.create(parent, sensitive, template)
    return _Blob(bytes(public.marshal()), bytes(private.marshal()))
