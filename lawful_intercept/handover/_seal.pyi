"""Native EncryptionContainer sealing (``_seal.c``): see handover.encryption."""

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
