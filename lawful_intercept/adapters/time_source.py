"""Is the clock that stamps evidence synchronised? The kernel's own answer (adjtimex(2) with
no change requested: the STA_UNSYNC status bit and the maximum and estimated errors an NTP or
PTP daemon keeps up to date), read the same way by every service (ETSI GS NFV-SEC 001:
authenticated time service; issue "NFV security" item 4).

A service flags an unsynchronised clock or one whose maximum error exceeds its bound: one
warning line when the state changes, and gauges in its status file and metrics
(``time_synchronised``, ``time_max_error_seconds``); X1 GetNEStatus reports it as a fault and
each audit entry records it. Under the ``refuse`` policy a service does not start on such a
clock, and an MF holds X2/X3 input back while it lasts. Linux only; elsewhere nothing is read
(and nothing refused).
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable

import attrs

from lawful_intercept.protection.memory import LIBC

__all__ = ["POLICIES", "ClockCheck", "ClockState", "read_clock", "untrusted"]

#: what a service does with an untrusted clock: say so (``flag``), or also refuse work
POLICIES = ("flag", "refuse")

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


def untrusted(state: ClockState, max_error: float) -> str | None:
    """Why a clock in ``state`` is not trusted within ``max_error`` seconds, in one line;
    None when it is."""
    if state.synchronised and state.max_error <= max_error:
        return None
    kernel = "synchronised" if state.synchronised else "unsynchronised"
    return (f"the clock is not synchronised within {max_error:g} s (kernel: {kernel}, "
            f"maximum error {state.max_error:.3f} s)")  # fmt: skip


class ClockCheck:
    """A service's view of its clock: trusted when synchronised within ``max_error`` seconds;
    :meth:`check` says so in one line each time that changes."""

    def __init__(
        self,
        max_error: float = 1.0,
        read: Callable[[], ClockState | None] = read_clock,
        name: str = "li",
        policy: str = "flag",
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"time policy {policy!r}: one of {', '.join(POLICIES)}")
        self.max_error, self.name, self.policy = max_error, name, policy
        self._read = read
        self._trusted: bool | None = None
        self.state: ClockState | None = None

    @property
    def trusted(self) -> bool:
        """The last :meth:`check` found the clock synchronised within the bound (or could
        not read it)."""
        return self._trusted is not False

    @property
    def refusing(self) -> bool:
        """Work is to be refused: the policy is ``refuse`` and the clock is not trusted."""
        return self.policy == "refuse" and not self.trusted

    def fault(self) -> str | None:
        """Read the clock: why it is not trusted, in one line (None when it is)."""
        self.check()
        return None if self.state is None else untrusted(self.state, self.max_error)

    def record(self) -> dict[str, object]:
        """Read the clock: its state for an audit entry (empty where it cannot be read)."""
        self.check()
        if self.state is None:
            return {}
        return {"synchronised": self.trusted, "max_error": round(self.state.max_error, 6)}

    def check(self) -> dict[str, float]:
        """Read the clock; the gauges for a status file and metrics (empty where the clock
        cannot be read)."""
        state = self._read()
        self.state = state
        if state is None:
            return {}
        trusted = untrusted(state, self.max_error) is None
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
