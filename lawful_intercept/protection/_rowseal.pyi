"""Native sealing of the durable queue's rows (``_rowseal.c``): see store.sealing."""

from collections.abc import Sequence

class RowSealer:
    """AES-256-GCM under one key; the work of each call runs outside the GIL."""

    def __init__(self, key: bytes | bytearray) -> None: ...
    def seal(self, nonce: bytes, aad: bytes, records: Sequence[bytes]) -> bytes:
        """nonce | AES-GCM of each record after its 4-octet length | tag."""
    def open(self, sealed: bytes, aad: bytes) -> bytes | None:
        """The plain text, or None if it does not authenticate."""
    def close(self) -> None:
        """Forget the key; later calls raise ValueError."""
