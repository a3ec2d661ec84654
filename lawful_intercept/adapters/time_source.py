"""Is the clock that stamps evidence synchronised? The kernel's own answer (adjtimex(2) with
no change requested: the STA_UNSYNC status bit and the maximum and estimated errors an NTP or
PTP daemon keeps up to date), read the same way by every service (ETSI GS NFV-SEC 001:
authenticated time service; issue "NFV security" item 4).

A service flags an unsynchronised clock or one whose maximum error exceeds its bound: one
warning line when the state changes, and gauges in its status file and metrics
(``time_synchronised``, ``time_max_error_seconds``). Linux only; elsewhere nothing is read.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable

import attrs

from lawful_intercept.protection.memory import LIBC

__all__ = ["ClockCheck", "ClockState", "read_clock"]

log = logging.getLogger(__name__)

_STA_UNSYNC = 0x0040
_TIME_ERROR = 5


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """struct timex (linux/timex.h), read with modes 0."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long), ("time", _Timeval), ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]  # fmt: skip


@attrs.frozen
class ClockState:
    """What the kernel says of the time-of-day clock."""

    synchronised: bool
    #: the kernel's maximum error bound of the time of day, in seconds
    max_error: float
    #: its estimated error, in seconds
    estimated_error: float


def read_clock() -> ClockState | None:
    """The kernel's clock state, or None where it cannot be read."""
    if LIBC is None or not hasattr(LIBC, "adjtimex"):
        return None
    timex = _Timex()
    state = LIBC.adjtimex(ctypes.byref(timex))
    if state < 0:
        return None
    synchronised = state != _TIME_ERROR and not timex.status & _STA_UNSYNC
    return ClockState(synchronised, timex.maxerror / 1e6, timex.esterror / 1e6)


class ClockCheck:
    """A service's view of its clock: trusted when synchronised within ``max_error`` seconds;
    :meth:`check` says so in one line each time that changes."""

    def __init__(
        self,
        max_error: float = 1.0,
        read: Callable[[], ClockState | None] = read_clock,
        name: str = "li",
    ) -> None:
        self.max_error, self.name = max_error, name
        self._read = read
        self._trusted: bool | None = None
        self.state: ClockState | None = None

    def check(self) -> dict[str, float]:
        """Read the clock; the gauges for a status file and metrics (empty where the clock
        cannot be read)."""
        state = self._read()
        self.state = state
        if state is None:
            return {}
        trusted = state.synchronised and state.max_error <= self.max_error
        if trusted != self._trusted:
            if trusted:
                log.info("%s: the clock is synchronised (maximum error %.3f s)", self.name,
                         state.max_error)  # fmt: skip
            else:
                log.warning("%s: the clock stamping evidence is NOT synchronised within %g s "
                            "(kernel: %s, maximum error %.3f s): time stamps are flagged "
                            "untrusted", self.name, self.max_error,
                            "synchronised" if state.synchronised else "unsynchronised",
                            state.max_error)  # fmt: skip
            self._trusted = trusted
        return {
            "time_synchronised": float(trusted),
            "time_max_error_seconds": state.max_error,
        }
