"""The X1 state of an MF cluster as a log every node reads in the same order (sans-IO).

Each entry of the log (a RabbitMQ stream) is a whole version of the state. A node takes an
entry when its version is one more than the version it has (or, reading a log whose start was
trimmed, the first entry it reads): since every node reads the same entries in the same order,
every node takes the same ones. A node proposes a change by appending the next version; when it
reads its entry back it knows whether it was taken, or whether another node's entry took that
version first (the request is then applied again to the newer state). A probe (an entry with no
state) tells the node that wrote it that it has read everything written before.
"""

from __future__ import annotations

from lawful_intercept.codec.cluster import X1Record

__all__ = ["X1Log"]


class X1Log:
    """The versions one node has taken from the log."""

    def __init__(self) -> None:
        self.current: X1Record | None = None
        self.passed_over = 0  # entries read whose version was already taken

    @property
    def version(self) -> int:
        return self.current.version if self.current is not None else 0

    def offer(self, record: X1Record) -> bool:
        """Take ``record`` if it is the next version (True), else pass it over."""
        if not record.document:
            return False
        if self.current is not None and record.version != self.current.version + 1:
            self.passed_over += 1
            return False
        self.current = record
        return True

    def propose(self, document: bytes, nonce: bytes) -> X1Record:
        """The entry that would make ``document`` the next version."""
        if not document:
            raise ValueError("an X1 state document cannot be empty")
        return X1Record(self.version + 1, nonce, document)

    @staticmethod
    def probe(nonce: bytes) -> X1Record:
        return X1Record(0, nonce)
