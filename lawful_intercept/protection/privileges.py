"""Run as a dedicated unprivileged user with only the capabilities a service needs (ETSI GS
NFV-SEC 001: multi-administrator isolation; issue "NFV security" item 3).

:func:`drop_privileges`, called by a process started as root before it makes any thread or
reads any key: every capability not named leaves the bounding set, the process becomes the
user (its primary group, no supplementary groups), keeps exactly the named capabilities
(effective and permitted; none inheritable, none ambient) and can gain no privilege again
(PR_SET_NO_NEW_PRIVS). A POI keeps CAP_NET_ADMIN (tc mirroring, to add and remove its taps)
and CAP_NET_RAW (its AF_PACKET capture), and CAP_SYS_ADMIN only to enter another network
namespace; an MF or LEMF keeps none.

Capabilities are per thread in Linux: dropping them in one thread of several leaves the others
privileged, so a process with more than one thread is refused. Python imports some of its
library late: an interpreter installed where the user cannot read (under /root, say) is said
in one line at once rather than failing later.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import sysconfig
from collections.abc import Collection
from pathlib import Path

from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protection.memory import LIBC

__all__ = ["CAPABILITIES", "drop_privileges"]

#: capability numbers (linux/capability.h) by name
CAPABILITIES = {"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21}

_PR_SET_KEEPCAPS = 8
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _prctl(option: int, value: int) -> None:
    assert LIBC is not None
    if LIBC.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl({option}): {os.strerror(error)}")


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def drop_privileges(user: str, keep: Collection[str] = ()) -> None:
    """Become ``user`` with only the capabilities ``keep`` (names of :data:`CAPABILITIES`).
    ConfigurationError for an unknown user, a process that is not root or has threads."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ConfigurationError(f"--run-as {user}: no such user") from None
    if os.geteuid() != 0:
        raise ConfigurationError(f"--run-as {user}: only a process started as root can")
    if LIBC is None:
        raise ConfigurationError("--run-as: this platform has no prctl and capset")
    if _threads() != 1:
        raise ConfigurationError("--run-as: the process already has threads (capabilities "
                                 "are per thread)")  # fmt: skip
    unknown = set(keep) - set(CAPABILITIES)
    if unknown:
        raise ConfigurationError(f"unknown capabilities {sorted(unknown)}")
    kept = {CAPABILITIES[name] for name in keep}
    library = sysconfig.get_paths()["stdlib"]  # read as root: sysconfig imports lazily too
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for number in range(last + 1):
        if number not in kept:
            _prctl(_PR_CAPBSET_DROP, number)
    _prctl(_PR_SET_KEEPCAPS, 1)
    os.setgroups([])
    os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
    os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)
    mask = sum(1 << number for number in kept)  # all below 32: the first word
    data = (_CapData * 2)(_CapData(mask, mask, 0), _CapData(0, 0, 0))
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    if LIBC.capset(ctypes.byref(header), data) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"capset: {os.strerror(error)}")
    _prctl(_PR_SET_KEEPCAPS, 0)
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    if not os.access(library, os.R_OK | os.X_OK):
        raise ConfigurationError(f"--run-as {user}: the user cannot read Python's library "
                                 f"{library}; install the interpreter where it can")  # fmt: skip
