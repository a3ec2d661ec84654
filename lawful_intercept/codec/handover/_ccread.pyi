"""Native iPCC cCPayloadSequence reading (``_ccread.c``): see handover.ccreader."""

def read_items(
    data: bytes, start: int, end: int, directions: tuple[object, ...]
) -> tuple[tuple[object, bytes, int | None], ...] | None:
    """Each CCPayload's (direction, packets, ns), or None: the Python path decides."""

def read_header(
    data: bytes,
) -> tuple[bytes, int | None, int, int | None, int, int] | None:
    """(LIID, CIN, sequence, micro ns, time start, time end), or None: the Python path."""
