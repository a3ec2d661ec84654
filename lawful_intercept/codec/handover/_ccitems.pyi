"""Native cCPayloadSequence encoding (``_ccitems.c``): see handover.template."""

from collections.abc import Sequence

def encode(items: Sequence[tuple[object, bytes, int]], directions: tuple[object, ...]) -> bytes:
    """The cCPayloadSequence [1] element for aggregated iPCC items (see the C source's doc)."""
