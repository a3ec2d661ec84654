"""Run code in a network namespace: setns on the calling thread only, then back.

Sockets made inside stay in that namespace; other threads are not affected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["in_namespace"]


@contextlib.contextmanager
def in_namespace(name: str | None) -> Iterator[None]:
    """The body runs with this thread in namespace ``name`` (``None``: where it is)."""
    if name is None:
        yield
        return
    import pyroute2
    from pyroute2 import netns

    pyroute2.config.disable_mp_signal = True
    netns.pushns(name)
    try:
        yield
    finally:
        netns.popns()
