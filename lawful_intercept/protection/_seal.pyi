"""Native EncryptionContainer sealing (``_seal.c``): see handover.encryption."""

from collections.abc import Sequence

class Sealer:
    """AES-CBC (192 or 256 by key length) with one OpenSSL context per key."""

    def __init__(
        self, key: bytes | bytearray, repeat_sequence: bool = True, lanes: bool = True
    ) -> None: ...
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
        """seal() of each job in order; AES-256 PDUs encrypted four side by side."""
