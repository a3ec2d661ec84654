"""Envelope encryption: data keys per (LEA, epoch), made in process, wrapped by the KEK.

The KeyStore (HSM or TPM) is touched when a key is made or recovered, never per packet:
content is encrypted in process with the data key. A key is rotated after ``max_uses`` uses
or ``max_age`` seconds, whichever comes first; the old key's bytes are zeroised then. The
wrapped form (:class:`WrappedDataKey`) is what gets stored or sent, so a restart or an
authorised party holding the KEK can recover the key for an epoch. Sans-IO: time is passed in.
"""

from __future__ import annotations

import os

import attrs

from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protection.keys.base import KeyStore, zeroise

__all__ = ["DataKey", "DataKeyRing", "WrappedDataKey"]


@attrs.frozen
class WrappedDataKey:
    """A data key as the KEK wrapped it (RFC 5649): safe to store next to the data."""

    lea: str
    epoch: int
    created: float
    wrapped: bytes


@attrs.define(eq=False)
class DataKey:
    """A live data key: ``key`` is a bytearray the ring zeroises on rotation or close."""

    lea: str
    epoch: int
    created: float
    key: bytearray = attrs.field(repr=False)
    wrapped: WrappedDataKey
    uses: int = 0


class DataKeyRing:
    """Current data key per LEA, rotated by use count and age."""

    def __init__(
        self,
        store: KeyStore,
        *,
        key_octets: int = 32,
        max_uses: int = 2**32,
        max_age: float = 86_400.0,
    ) -> None:
        if key_octets not in (16, 24, 32) or max_uses < 1 or max_age <= 0:
            raise ConfigurationError("data keys are 16, 24 or 32 octets; limits must be positive")
        self._store = store
        self._octets = key_octets
        self.max_uses = max_uses
        self.max_age = max_age
        self._current: dict[str, DataKey] = {}
        self._next_epoch: dict[str, int] = {}

    def current(self, lea: str, now: float, uses: int = 1) -> DataKey:
        """The LEA's key for ``uses`` more uses at ``now``; a new epoch once the old is spent."""
        key = self._current.get(lea)
        if key is None or key.uses + uses > self.max_uses or now - key.created >= self.max_age:
            key = self._rotate(lea, now)
        key.uses += uses
        return key

    def _rotate(self, lea: str, now: float) -> DataKey:
        old = self._current.pop(lea, None)
        if old is not None:
            zeroise(old.key)
        epoch = self._next_epoch.get(lea, 0)
        self._next_epoch[lea] = epoch + 1
        material = bytearray(os.urandom(self._octets))
        wrapped = WrappedDataKey(lea, epoch, now, self._store.wrap(material))
        key = DataKey(lea, epoch, now, material, wrapped)
        self._current[lea] = key
        return key

    def recover(self, wrapped: WrappedDataKey) -> bytearray:
        """Unwrap a stored key (after a restart, or on the receiving side); caller zeroises."""
        return self._store.unwrap(wrapped.wrapped)

    def resume(self, wrapped: WrappedDataKey, uses: int) -> DataKey:
        """Make a stored key current again (after a restart), with the uses already spent."""
        material = self.recover(wrapped)
        key = DataKey(wrapped.lea, wrapped.epoch, wrapped.created, material, wrapped, uses)
        old = self._current.pop(wrapped.lea, None)
        if old is not None:
            zeroise(old.key)
        self._current[wrapped.lea] = key
        self._next_epoch[wrapped.lea] = max(self._next_epoch.get(wrapped.lea, 0), wrapped.epoch + 1)
        return key

    def close(self) -> None:
        """Zeroise every live key."""
        for key in self._current.values():
            zeroise(key.key)
        self._current.clear()
