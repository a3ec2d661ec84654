"""PKCS#11 key store (python-pkcs11; tested on SoftHSM2).

In the token: an AES-256 KEK created sensitive and non-extractable (it can wrap and unwrap,
nothing else), an HI KEK like it, and an ECDSA P-256 key pair whose private half is sensitive
and non-extractable. Data keys are wrapped with ``CKM_AES_KEY_WRAP_PAD`` (RFC 5649): the data
key enters the token as a session object just long enough to be wrapped, and an unwrapped key
is read back as a session object and destroyed. Signing hashes on the host and signs with
``CKM_ECDSA`` (SoftHSM2 has no ``CKM_ECDSA_SHA256``); r||s becomes RFC 3279 DER.

HI keys (TS 102 232-1 clause 7.3) never come back: the HI KEK carries a
``CKA_UNWRAP_TEMPLATE`` (PKCS#11 v2.40 clause 4.8), so the token itself refuses to unwrap an
HI key file into anything but a sensitive, non-extractable, encrypt-only session object, even
for someone who holds the PIN and the file. The MF encrypts with it in the token
(:class:`TokenAESKey`, ``CKM_AES_CBC``). python-pkcs11 has no packing for array attributes:
:func:`_attribute_mapper` packs the template as the ``CK_ATTRIBUTE`` array the module reads.

Module, token label and PIN come from arguments or the environment (``LI_PKCS11_MODULE``,
``LI_HSM_TOKEN``, ``LI_HSM_PIN``); the PIN is never logged or shown.

Records (:meth:`PKCS11KeyStore.store_record`) are private token data objects; a replacement
creates the new object before it destroys the old (SoftHSM2 keeps a data object's value
read-only). Every call into the token holds one lock: the module is used from an event loop
and a store's thread, and SoftHSM2 through python-pkcs11 crashed when two threads called it
at once.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from lawful_intercept.errors import ConfigurationError, IntegrityError, KeyCustodyError
from lawful_intercept.protection.hygiene import secret_from_environment
from lawful_intercept.protection.keys.base import (
    DeviceKey,
    KeyStore,
    KeyStoreStatus,
    key_fingerprint,
    prehashed,
    zeroise,
)
from lawful_intercept.protection.memory import lock

__all__ = ["DEFAULT_MODULE", "HI_KEK_LABEL", "KEK_LABEL", "SIGNING_LABEL", "PKCS11KeyStore"]

#: what to do about the PKCS#11 errors an operator meets first
_HINTS = {
    "NoSuchToken": " (no token with that label in the module: for SoftHSM2, make one with "
    "'softhsm2-util --init-token --free --label LABEL', then 'li keys init --backend pkcs11 "
    "--token LABEL' with LI_HSM_PIN set)",
    "PinIncorrect": " (LI_HSM_PIN is not the token's user PIN)",
    "PinLenRange": " (LI_HSM_PIN has a length the token does not take)",
    "UserPinNotInitialized": " (the token has no user PIN yet: initialise it with its tool)",
}

log = logging.getLogger(__name__)

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
KEK_LABEL = "li-kek"
HI_KEK_LABEL = "li-hi-kek"
SIGNING_LABEL = "li-signing"
RECORD_PREFIX = "li-record:"

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _serialised(
    method: Callable[Concatenate[PKCS11KeyStore, _P], _T],
) -> Callable[Concatenate[PKCS11KeyStore, _P], _T]:
    """One call into the token at a time, whichever thread makes it."""

    @functools.wraps(method)
    def call(self: PKCS11KeyStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        with self._lock:
            return method(self, *args, **kwargs)

    return call


class _Attribute(ctypes.Structure):
    """PKCS#11 ``CK_ATTRIBUTE`` (the platform's ``unsigned long`` and pointer sizes)."""

    _fields_ = (
        ("type", ctypes.c_ulong),
        ("pValue", ctypes.c_void_p),
        ("ulValueLen", ctypes.c_ulong),
    )


#: the CK_BBOOL values a packed template points at (alive as long as the module)
_BOOLEANS = {True: ctypes.c_ubyte(1), False: ctypes.c_ubyte(0)}


def _pack_boolean_template(template: dict[Any, bool]) -> bytes:
    """A template of boolean attributes as the ``CK_ATTRIBUTE`` array an array attribute
    (``CKA_UNWRAP_TEMPLATE``) holds; its values point at :data:`_BOOLEANS`."""
    array = (_Attribute * len(template))()
    for index, (key, value) in enumerate(template.items()):
        address = ctypes.cast(ctypes.byref(_BOOLEANS[bool(value)]), ctypes.c_void_p)
        array[index] = _Attribute(int(key), address, 1)
    return bytes(array)


def _attribute_mapper(pkcs11: Any) -> Any:
    """python-pkcs11's attribute mapper, able to write (never read) an unwrap template."""
    from pkcs11.attributes import AttributeMapper

    mapper = AttributeMapper()
    mapper.register_handler(
        pkcs11.Attribute.UNWRAP_TEMPLATE, _pack_boolean_template, lambda raw: raw
    )
    return mapper


def _hi_key_template(attribute: Any) -> dict[Any, bool]:
    """What an unwrapped HI key is: usable to encrypt, for nothing else, never readable."""
    return {
        attribute.SENSITIVE: True,
        attribute.EXTRACTABLE: False,
        attribute.ENCRYPT: True,
        attribute.DECRYPT: False,
        attribute.WRAP: False,
        attribute.UNWRAP: False,
        attribute.SIGN: False,
        attribute.VERIFY: False,
        attribute.DERIVE: False,
    }


def _setting(value: str | None, env: str, default: str | None = None) -> str:
    found = value if value is not None else os.environ.get(env, default)
    if not found:
        raise ConfigurationError(f"PKCS#11 setting missing (set {env})")
    return found


def _pin(given: str | None) -> bytearray:
    """The user PIN: given, or taken (once) from LI_HSM_PIN; locked, zeroised after login."""
    secret = (
        lock(bytearray(given.encode()))
        if given is not None
        else secret_from_environment("LI_HSM_PIN")
    )
    if not secret:
        raise ConfigurationError("PKCS#11 setting missing (set LI_HSM_PIN)")
    return secret


class PKCS11KeyStore(KeyStore):
    """KEK and signing key inside a PKCS#11 token; one logged-in session per instance."""

    backend: ClassVar[str] = "pkcs11"
    hardware_protected: ClassVar[bool] = True
    keeps_records: ClassVar[bool] = True

    def __init__(
        self,
        *,
        module: str | None = None,
        token: str | None = None,
        pin: str | None = None,
        kek_label: str = KEK_LABEL,
        signing_label: str = SIGNING_LABEL,
    ) -> None:
        import pkcs11

        self._lock = threading.RLock()
        self._p11 = pkcs11
        self._module = _setting(module, "LI_PKCS11_MODULE", DEFAULT_MODULE)
        self._token_label = _setting(token, "LI_HSM_TOKEN")
        secret = _pin(pin)
        self._kek_label, self._signing_label = kek_label, signing_label
        try:
            library = pkcs11.lib(self._module)
            self._token = library.get_token(token_label=self._token_label)
            self._session: Any = self._token.open(
                user_pin=secret.decode(), rw=True, attribute_mapper=_attribute_mapper(pkcs11)
            )
        except pkcs11.PKCS11Error as exc:  # wrong PIN, no such token, module missing
            raise KeyCustodyError(
                f"cannot open PKCS#11 token {self._token_label!r}: {type(exc).__name__}"
                f"{_HINTS.get(type(exc).__name__, '')}"
            ) from None
        except RuntimeError as exc:
            raise KeyCustodyError(f"cannot load PKCS#11 module {self._module}") from exc
        finally:
            zeroise(secret)
        self._public: ec.EllipticCurvePublicKey | None = None

    # -- keys in the token ------------------------------------------------------------------

    def _find(self, label: str, object_class: Any) -> Any | None:
        if self._session is None:
            raise KeyCustodyError("the key store is closed")
        found = list(
            self._session.get_objects(
                {self._p11.Attribute.LABEL: label, self._p11.Attribute.CLASS: object_class}
            )
        )
        if len(found) > 1:
            raise KeyCustodyError(f"more than one {label!r} object in the token")
        return found[0] if found else None

    def _kek(self, label: str | None = None) -> Any:
        label = label or self._kek_label
        kek = self._find(label, self._p11.ObjectClass.SECRET_KEY)
        if kek is None:
            raise KeyCustodyError(f"no KEK {label!r} in the token (run li keys init)")
        return kek

    def _make_kek(self, label: str, extra: dict[Any, Any]) -> None:
        """A token AES-256 KEK that can wrap and unwrap, nothing else."""
        attribute = self._p11.Attribute
        self._session.generate_key(
            self._p11.KeyType.AES,
            256,
            label=label,
            store=True,
            template={
                attribute.SENSITIVE: True,
                attribute.EXTRACTABLE: False,
                attribute.WRAP: True,
                attribute.UNWRAP: True,
                attribute.ENCRYPT: False,
                attribute.DECRYPT: False,
                attribute.SIGN: False,  # no AES-CMAC with the KEK: wrap and unwrap only
                attribute.VERIFY: False,
                attribute.DERIVE: False,
                **extra,
            },
        )

    @_serialised
    def initialise(self) -> bool:
        """Create the KEK and the signing key pair if absent; True if anything was created."""
        attribute, key_type = self._p11.Attribute, self._p11.KeyType
        created = False
        if self._find(self._kek_label, self._p11.ObjectClass.SECRET_KEY) is None:
            self._make_kek(self._kek_label, {})
            created = True
        if self._find(HI_KEK_LABEL, self._p11.ObjectClass.SECRET_KEY) is None:
            # the token refuses to unwrap an HI key into anything but _hi_key_template
            self._make_kek(HI_KEK_LABEL, {attribute.UNWRAP_TEMPLATE: _hi_key_template(attribute)})
            created = True
        if self._find(self._signing_label, self._p11.ObjectClass.PRIVATE_KEY) is None:
            from pkcs11.util.ec import encode_named_curve_parameters

            parameters = self._session.create_domain_parameters(
                key_type.EC,
                {attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            parameters.generate_keypair(
                store=True,
                label=self._signing_label,
                private_template={attribute.SENSITIVE: True, attribute.EXTRACTABLE: False},
            )
            created = True
        if created:
            log.info("PKCS#11 token %r: key store keys created", self._token_label)
        return created

    # -- KeyStore ---------------------------------------------------------------------------

    @_serialised
    def wrap(self, data_key: bytes | bytearray) -> bytes:
        return self._wrap_under(self._kek(), data_key)

    @_serialised
    def wrap_hi_key(self, hi_key: bytes | bytearray) -> bytes:
        return self._wrap_under(self._kek(HI_KEK_LABEL), hi_key)

    def _wrap_under(self, kek: Any, data_key: bytes | bytearray) -> bytes:
        attribute = self._p11.Attribute
        session_key = self._session.create_object(
            {
                attribute.CLASS: self._p11.ObjectClass.SECRET_KEY,
                attribute.KEY_TYPE: self._p11.KeyType.AES,
                attribute.VALUE: bytes(data_key),
                attribute.TOKEN: False,
                attribute.EXTRACTABLE: True,
                attribute.SENSITIVE: False,
            }
        )
        try:
            wrapped: bytes = kek.wrap_key(
                session_key, mechanism=self._p11.Mechanism.AES_KEY_WRAP_PAD
            )
            return wrapped
        finally:
            session_key.destroy()

    @_serialised
    def unwrap(self, wrapped: bytes) -> bytearray:
        attribute = self._p11.Attribute
        readable = {attribute.EXTRACTABLE: True, attribute.SENSITIVE: False}
        try:
            session_key = self._unwrap_under(self._kek(), wrapped, readable)
        except self._p11.PKCS11Error as exc:
            raise IntegrityError("wrapped key does not unwrap under this KEK") from exc
        try:
            return lock(bytearray(session_key[attribute.VALUE]))
        finally:
            session_key.destroy()

    @_serialised
    def unwrap_hi_key(self, wrapped: bytes) -> bytearray | DeviceKey:
        """The HI key as a :class:`TokenAESKey`. A file wrapped by the data KEK (written
        before the HI KEK existed) still opens, into this process, with a warning."""
        attribute = self._p11.Attribute
        kek = self._find(HI_KEK_LABEL, self._p11.ObjectClass.SECRET_KEY)
        try:
            if kek is None:  # a token initialised before the HI KEK existed
                raise self._p11.PKCS11Error("no HI KEK")
            key = self._unwrap_under(kek, wrapped, _hi_key_template(attribute))
        except self._p11.PKCS11Error:
            legacy = self.unwrap(wrapped)  # IntegrityError if neither KEK wrapped it
            log.warning(
                "an HI key file wrapped by the data KEK (before the HI KEK) was opened: its key "
                "is held in this process; 'li keys init' (if the token has no %r yet), then "
                "'li mf keygen --force' makes one that stays in the token (give the LEMF its "
                "new copy)",
                HI_KEK_LABEL,
            )
            return legacy
        # RFC 5649 adds 8 octets to a key of whole 8-octet blocks (AES keys); SoftHSM2
        # leaves an unwrapped key's CKA_VALUE_LEN at 0
        return TokenAESKey(self, key, len(wrapped) - 8)

    def _unwrap_under(self, kek: Any, wrapped: bytes, template: dict[Any, Any]) -> Any:
        """``wrapped`` (RFC 5649) unwrapped by ``kek`` as an AES session object of
        ``template``; the caller destroys it. PKCS11Error if it does not unwrap."""
        return kek.unwrap_key(
            self._p11.ObjectClass.SECRET_KEY,
            self._p11.KeyType.AES,
            wrapped,
            mechanism=self._p11.Mechanism.AES_KEY_WRAP_PAD,
            store=False,
            template=template,
        )

    def _token_encrypt(self, key: Any, iv: bytes, data: bytes) -> bytes:
        with self._lock:
            if self._session is None:
                raise KeyCustodyError("the key store is closed")
            mechanism = self._p11.Mechanism.AES_CBC
            out: bytes = key.encrypt(data, mechanism=mechanism, mechanism_param=iv)
            return out

    def _token_destroy(self, key: Any) -> None:
        with self._lock:
            if self._session is not None:
                key.destroy()

    @_serialised
    def sign_digest(self, digest: bytes) -> bytes:
        prehashed(digest)  # refuses digests that are not SHA-256/384/512
        private = self._find(self._signing_label, self._p11.ObjectClass.PRIVATE_KEY)
        if private is None:
            raise KeyCustodyError(f"no signing key {self._signing_label!r} (run li keys init)")
        raw: bytes = private.sign(digest, mechanism=self._p11.Mechanism.ECDSA)
        half = len(raw) // 2
        r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        return encode_dss_signature(r, s)

    @_serialised
    def public_key(self) -> ec.EllipticCurvePublicKey:
        if self._public is None:
            from pkcs11.util.ec import encode_ec_public_key

            public = self._find(self._signing_label, self._p11.ObjectClass.PUBLIC_KEY)
            if public is None:
                raise KeyCustodyError(f"no signing key {self._signing_label!r} (run li keys init)")
            key = load_der_public_key(encode_ec_public_key(public))
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise KeyCustodyError("the token's signing key is not an EC key")
            self._public = key
        return self._public

    @_serialised
    def status(self) -> KeyStoreStatus:
        kek = self._find(self._kek_label, self._p11.ObjectClass.SECRET_KEY)
        signing = self._find(self._signing_label, self._p11.ObjectClass.PRIVATE_KEY)
        hi_kek = self._find(HI_KEK_LABEL, self._p11.ObjectClass.SECRET_KEY)
        details = [
            ("module", self._module),
            ("token", self._token_label),
            ("hi kek", "present" if hi_kek is not None else "absent (run li keys init)"),
        ]
        if kek is not None:
            attribute = self._p11.Attribute
            details.append(("kek sensitive", str(bool(kek[attribute.SENSITIVE]))))
            details.append(("kek extractable", str(bool(kek[attribute.EXTRACTABLE]))))
        return KeyStoreStatus(
            backend=self.backend,
            hardware_protected=True,
            kek_present=kek is not None,
            signing_key_present=signing is not None,
            signing_key_fingerprint=key_fingerprint(self.public_key()) if signing else None,
            details=tuple(details),
        )

    @_serialised
    def load_records(self, name: str) -> list[bytes]:
        data = self._p11.ObjectClass.DATA
        try:
            return [bytes(o[self._p11.Attribute.VALUE]) for o in self._records(name, data)]
        except self._p11.PKCS11Error as exc:
            raise KeyCustodyError(f"PKCS#11 record {name}: {type(exc).__name__}") from None

    @_serialised
    def store_record(self, name: str, value: bytes) -> None:
        attribute, data = self._p11.Attribute, self._p11.ObjectClass.DATA
        try:
            older = self._records(name, data)
            self._session.create_object(
                {
                    attribute.CLASS: data,
                    attribute.LABEL: RECORD_PREFIX + name,
                    attribute.TOKEN: True,
                    attribute.PRIVATE: True,
                    attribute.VALUE: bytes(value),
                }
            )
            for old in older:
                old.destroy()
        except self._p11.PKCS11Error as exc:
            raise KeyCustodyError(f"PKCS#11 record {name}: {type(exc).__name__}") from None

    def _records(self, name: str, data: Any) -> list[Any]:
        if self._session is None:
            raise KeyCustodyError("the key store is closed")
        attribute = self._p11.Attribute
        template = {attribute.LABEL: RECORD_PREFIX + name, attribute.CLASS: data}
        return list(self._session.get_objects(template))

    @_serialised
    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()


class TokenAESKey(DeviceKey):
    """An HI key inside the token (sensitive, non-extractable, encrypt only); a session
    object, gone when the store's session closes or :meth:`destroy` runs."""

    def __init__(self, store: PKCS11KeyStore, key: Any, key_octets: int) -> None:
        self._store, self._key = store, key
        self.key_octets = key_octets

    def cbc_encrypt(self, iv: bytes, data: bytes) -> bytes:
        if self._key is None:
            raise KeyCustodyError("the HI key was destroyed")
        return self._store._token_encrypt(self._key, iv, data)

    def destroy(self) -> None:
        key, self._key = self._key, None
        if key is not None:
            self._store._token_destroy(key)
