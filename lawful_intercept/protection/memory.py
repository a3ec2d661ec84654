"""Secrets in memory: their pages locked in RAM (mlock: never swapped out) and left out of
core dumps (MADV_DONTDUMP). Linux only (libc via ctypes); elsewhere :func:`lock` does
nothing. Pages stay locked until the process ends: a page is shared by several objects and
mlock does not count, so unlocking one secret could unlock another; zeroising a secret is
:func:`~lawful_intercept.protection.keys.base.zeroise`."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import mmap
import os

__all__ = ["LIBC", "lock"]

log = logging.getLogger(__name__)

_MADV_DONTDUMP = 16
_PAGE = mmap.PAGESIZE


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]  # fmt: skip
    return libc


#: the C library, when there is one to call
LIBC = _libc()
_warned: set[str] = set()


def lock(secret: bytearray) -> bytearray:
    """Lock the pages of ``secret`` in RAM and exclude them from core dumps (best effort: a
    memlock limit too low is said once); returns ``secret``."""
    if LIBC is None or not secret:
        return secret
    address = ctypes.addressof((ctypes.c_char * len(secret)).from_buffer(secret))
    start = address - address % _PAGE
    if LIBC.mlock(address, len(secret)) != 0:
        text = f"mlock failed ({os.strerror(ctypes.get_errno())}): raise RLIMIT_MEMLOCK"
        if text not in _warned:
            _warned.add(text)
            log.warning(text)
    LIBC.madvise(start, address + len(secret) - start, _MADV_DONTDUMP)
    return secret
