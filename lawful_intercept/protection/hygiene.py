"""Secure crash and secret hygiene for processes that hold keys, targets or content
(ETSI GS NFV-SEC 001: secure crash, private keys within images; issue "NFV security").

- :func:`harden_process`: no core dump (RLIMIT_CORE 0) and not dumpable (PR_SET_DUMPABLE 0:
  no core, no ptrace by the same user, /proc/PID/mem and environ readable by root only),
  before any secret is loaded; umask 077, so no file it makes is readable by others.
- :func:`hide_environment_secrets`: the PIN and passphrase taken out of the environment: out
  of ``os.environ`` and overwritten in the process's initial environment block (what
  /proc/PID/environ shows), kept in a locked buffer until a key store takes it
  (:func:`secret_from_environment`, one use) and zeroised by it then.
- :func:`hide_arguments`: the command line others see (/proc/PID/cmdline, ``ps``) cut to a
  title: a target, LIID or file name given as an argument is not for every user of the host.
- Key material is locked in RAM and left out of dumps by ``protection.memory.lock``.

Linux only (libc via ctypes); elsewhere each step is skipped and says so once.
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource

import setproctitle

from lawful_intercept.protection.memory import LIBC, lock

__all__ = [
    "SECRET_ENVIRONMENT",
    "harden_process",
    "hide_arguments",
    "hide_environment_secrets",
    "secret_from_environment",
]

log = logging.getLogger(__name__)

#: environment variables that carry secrets (a PKCS#11 PIN, a key store passphrase)
SECRET_ENVIRONMENT = ("LI_HSM_PIN", "LI_KEYSTORE_PASSPHRASE")
_PR_SET_DUMPABLE = 4
_held: dict[str, bytearray] = {}


def harden_process() -> None:
    """No core dump, not dumpable, and every file made from now on readable by its owner
    only (umask 077: outputs, queues and their -wal/-shm, status files, keys)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.umask(0o077)
    if LIBC is None or LIBC.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning("could not mark the process non-dumpable: core dumps are only limited")


def hide_arguments(title: str) -> None:
    """Show ``title`` as the process's whole command line (its arguments overwritten in
    place, where /proc/PID/cmdline reads them); ``sys.argv`` keeps them for the process."""
    setproctitle.setproctitle(title)


def hide_environment_secrets(names: tuple[str, ...] = SECRET_ENVIRONMENT) -> None:
    """Take each secret in ``names`` out of the environment: held, locked, for one
    :func:`secret_from_environment`; gone from ``os.environ`` and from /proc/PID/environ."""
    for name in names:
        value = os.environ.get(name)
        if value is None:
            continue
        held = bytearray(value.encode())
        lock(held)
        _held[name] = held
        _scrub_initial_environment(name)  # while C's environ still lists it
        del os.environ[name]


def secret_from_environment(name: str) -> bytearray | None:
    """The secret ``name`` (held by :func:`hide_environment_secrets`, else from the
    environment), locked, for the caller to zeroise once used; None if not set."""
    held = _held.pop(name, None)
    if held is not None:
        return held
    value = os.environ.get(name)
    return None if value is None else lock(bytearray(value.encode()))


def _scrub_initial_environment(name: str) -> None:
    """Overwrite ``NAME=value`` in the block the process started with (C ``environ`` still
    points there; /proc/PID/environ reads it) with the name and zeros."""
    if LIBC is None:
        return
    environ = ctypes.POINTER(ctypes.c_char_p).in_dll(LIBC, "environ")
    prefix = name.encode() + b"="
    index = 0
    while environ[index] is not None:
        entry = environ[index]
        if entry.startswith(prefix):
            pointer = ctypes.cast(environ, ctypes.POINTER(ctypes.c_void_p))[index]
            assert pointer is not None
            ctypes.memset(pointer + len(prefix), 0, len(entry) - len(prefix))
        index += 1
