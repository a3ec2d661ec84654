"""Native sealing through OpenSSL EVP (``_crypto.c``): see protection.encryption and
protection.sealing."""

from collections.abc import Sequence

class Sealer:
    """AES-CBC (192 or 256 by key length) with one OpenSSL context per key."""

    def __init__(self, key: bytes | bytearray, repeat_sequence: bool = True) -> None: ...
    def seal(
        self,
        sequence_number: int,
        counter: int,
        header: tuple[bytes, ...],
        layout: tuple[bytes, int, bytes, int, bytes, bytes],
        payload: tuple[bytes, ...],
    ) -> bytes:
        """One encrypted PS-PDU (see the C source's doc)."""
    def seal_many(
        self,
        jobs: Sequence[
            tuple[
                int,
                int,
                tuple[bytes, ...],
                tuple[bytes, int, bytes, int, bytes, bytes],
                tuple[bytes, ...],
            ]
        ],
    ) -> list[bytes]:
        """seal() of each job in order (a list or tuple of jobs)."""

class RowSealer:
    """AES-256-GCM under one key; the work of each call runs outside the GIL."""

    def __init__(self, key: bytes | bytearray) -> None: ...
    def seal(self, nonce: bytes, aad: bytes, records: Sequence[bytes]) -> bytes:
        """nonce | AES-GCM of each record after its 4-octet length | tag."""
    def open(self, sealed: bytes, aad: bytes) -> bytes | None:
        """The plain text, or None if it does not authenticate."""
    def close(self) -> None:
        """Forget the key; later calls raise ValueError."""
