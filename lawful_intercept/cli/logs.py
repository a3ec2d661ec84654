"""The ``li`` command's log lines: ``--log-level`` and ``--log-format text|json`` for every
subcommand, on standard error. The library's loggers never name a target, LIID, key or
content (tests check their output), whatever the level."""

from __future__ import annotations

import json
import logging
import sys
import time

__all__ = ["LEVELS", "configure", "release"]

LEVELS = ("debug", "info", "warning", "error")


class _JSONFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return json.dumps(
            {
                "time": f"{stamp}.{int(record.msecs):03d}Z",
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


#: the AMQP client's loggers: they print a traceback for every lost broker connection, which
#: the cluster's roles report in one line of their own (and count)
QUIETED = ("aiormq", "aio_pika")


def configure(level: str, form: str) -> logging.Handler:
    """Send the package's records at ``level`` and above to stderr, as text or JSON; the
    handler is returned for :func:`release`."""
    handler = logging.StreamHandler(sys.stderr)
    if form == "json":
        handler.setFormatter(_JSONFormatter())
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    package = logging.getLogger("lawful_intercept")
    package.addHandler(handler)
    package.setLevel(level.upper())
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return handler


def release(handler: logging.Handler) -> None:
    """Undo :func:`configure` (``main`` called in process, as tests do, leaves nothing)."""
    package = logging.getLogger("lawful_intercept")
    package.removeHandler(handler)
    package.setLevel(logging.NOTSET)
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.NOTSET)
