"""Native X2/X3 view checks (``_viewcheck.c``): see x2x3.decoder."""

from collections.abc import Iterable
from typing import TypeVar

_V = TypeVar("_V")

class Checker:
    """The checks of X2X3View with the attribute rules given here."""

    def __init__(
        self,
        fixed: dict[int, int],
        other: dict[int, int],
        texts: Iterable[int],
        sequence_type: int,
        timestamp_type: int,
    ) -> None: ...
    def fields(
        self, data: bytes, versions: frozenset[int], max_header_length: int, max_payload_length: int
    ) -> (
        tuple[
            tuple[int, int, int, int, int, int, bytes, int],
            int,
            tuple[tuple[int, int, int], ...],
            int | None,
        ]
        | None
    ):
        """The view's fields, or None when the Python path must decide (see the C doc)."""
    def split(
        self,
        data: bytes,
        start: int,
        versions: frozenset[int],
        max_header_length: int,
        max_payload_length: int,
        view: type[_V],
    ) -> tuple[list[_V], int]:
        """Views of the whole PDUs from ``start`` on, and where they end (see the C doc)."""
