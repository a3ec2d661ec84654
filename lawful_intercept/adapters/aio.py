"""The asyncio pieces every transport shares (X2/X3, HI delivery, the LEMF, X1): one
connection type for servers and clients (:class:`Connection`, on asyncio's buffered protocol),
:class:`Listener` and :func:`start_server` for servers, :func:`open_connection` and the
reconnecting client loop :func:`keep_connected` (with its :class:`Backoff`) for clients, a
connection's :class:`Peer`, and :func:`supervise` for a service's background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

import attrs

from lawful_intercept.errors import (
    ConfigurationError,
    DecodeError,
    IntegrityError,
    TransportError,
)

__all__ = [
    "Backoff",
    "Connection",
    "Listener",
    "ANYONE",
    "Peer",
    "Senders",
    "cancel_and_wait",
    "certificate_fingerprint",
    "close_writer",
    "first_failure",
    "keep_connected",
    "open_connection",
    "parse_address",
    "peer_of",
    "start_server",
    "supervise",
    "wait_event",
]

log = logging.getLogger(__name__)

#: octets TLS decrypts into at a time (asyncio's own read size)
READ_AREA = 1 << 18
#: the receive area a connection starts with, until a read fills it
FIRST_AREA = 1 << 12
#: a connection's handler, run in a task of its own
Handler = Callable[["Connection"], Coroutine[Any, Any, None]]


class Connection(asyncio.BufferedProtocol):
    """One connection, accepted (with a handler that runs in its own task) or opened by
    :func:`open_connection` (no handler), read as bytes.

    asyncio's TLS layer decrypts straight into this protocol's receive area (its buffered
    path: a plain Protocol gets a joined copy, which a StreamReader copies in and out again);
    :meth:`read` hands over one bytes copy. Reading pauses while more than ``limit`` octets
    wait for the handler; :meth:`drain` waits while the transport's write buffer is full.
    Writing side as StreamWriter's: write, drain, close, wait_closed, get_extra_info."""

    def __init__(self, handler: Handler | None, limit: int) -> None:
        self._handler = handler
        # the receive area: small until a read fills it (an idle or slow connection holds
        # little), then READ_AREA; none before the first read, and none once closed
        self._area: memoryview | None = None
        self._chunks: list[bytes] = []
        self._held = 0
        self._limit = limit
        self._reading_paused = False
        self._eof = False
        self._lost: Exception | None = None
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport = None  # type: ignore[assignment] # until made
        self.task: asyncio.Task[None] | None = None

    # the protocol's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self._handler is not None:
            self.task = asyncio.get_running_loop().create_task(self._handler(self))
            self.task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.transport.abort()  # as asyncio's streams do: the error is the loop's to log
            asyncio.get_running_loop().call_exception_handler(
                {"message": "connection handler failed", "exception": task.exception()}
            )

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._area is None:
            self._area = memoryview(bytearray(FIRST_AREA))
        return self._area

    def buffer_updated(self, nbytes: int) -> None:
        area = self._area
        assert area is not None  # asyncio fills get_buffer's area first
        self._chunks.append(bytes(area[:nbytes]))
        if nbytes == len(area) < READ_AREA:  # a full read: this peer sends in bulk
            self._area = memoryview(bytearray(READ_AREA))
        self._held += nbytes
        if self._held > self._limit and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        _wake(self._readable)

    def eof_received(self) -> bool:
        self._eof = True
        _wake(self._readable)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof, self._lost = True, exc
        self._area = None
        _wake(self._readable)
        _wake(self._writable, ConnectionResetError("connection lost"))
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        _wake(self._writable)
        self._writable = None

    # the handler's side

    async def read(self) -> bytes:
        """What has arrived since the last read (waiting for some); b"" at the end of the
        stream; the error that ended the connection, if one did."""
        while not self._chunks:
            if self._eof:
                if self._lost is not None:
                    raise self._lost
                return b""
            self._readable = asyncio.get_running_loop().create_future()
            try:
                await self._readable
            finally:
                self._readable = None
        chunks, self._chunks, self._held = self._chunks, [], 0
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport holds more than its high-water mark; ConnectionResetError
        once the connection is lost."""
        if self.transport.is_closing():
            await asyncio.sleep(0)  # as StreamWriter: let connection_lost run first
        if self._closed.done():
            raise ConnectionResetError("connection lost")
        if self._writable is not None:
            await asyncio.shield(self._writable)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def close(self) -> None:
        self.transport.close()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)


def _wake(waiter: asyncio.Future[None] | None, error: Exception | None = None) -> None:
    if waiter is not None and not waiter.done():
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)
            waiter.exception()  # retrieved: nobody may be waiting on it


async def start_server(
    handler: Handler,
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None,
    limit: int = 4 * READ_AREA,
) -> asyncio.Server:
    """Listen; each connection's ``handler`` runs in its own task once TLS is up (the
    handshake within 10 s), as with :func:`asyncio.start_server`, with a :class:`Connection`
    for reader and writer."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: Connection(handler, limit), host, port, ssl=tls,
        ssl_handshake_timeout=10 if tls is not None else None,
    )  # fmt: skip


#: seconds a TLS handshake may take
HANDSHAKE_TIMEOUT = 10.0


class _Accepting(asyncio.Protocol):
    """A TCP connection accepted, before its TLS handshake: the listener decides at once
    whether it may start one (nothing is read or allocated here)."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._listener._accepted(transport)

    def data_received(self, data: bytes) -> None:  # pragma: no cover - reading is paused
        raise AssertionError("read before the TLS handshake began")


class Listener:
    """A server whose accepted connections each run ``handler`` in a task of their own (a
    :class:`Connection` each, TLS up within 10 s); only peers ``senders`` admits (another is
    closed before its handler runs, counted in :attr:`refused_peers` and said with its
    certificate's fingerprint); at most ``max_connections`` at once, of which at most
    ``max_handshakes`` still in their TLS handshake (one more is closed at once, before any
    TLS state is made for it, counted in :attr:`refused_over_cap` and said); a handshake that
    fails or times out is counted in :attr:`failed_handshakes` and said with the peer's
    address and why; :meth:`close` stops listening, drops every open connection and waits for
    their handlers to finish. ``on_refused``, ``on_refused_peer`` and ``on_failed_handshake``
    are told of each (a service's own counters).

    Why the handshake is started here rather than by asyncio's server: asyncio's TLS layer
    allocates its 256 KiB buffer as it begins a handshake, so a peer that opens connections
    and never speaks TLS cost 256 KiB each, unbounded; now at most ``max_handshakes`` do."""

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None,
        limit: int = 4 * READ_AREA,
        max_connections: int = 1024,
        name: str = "listener",
        on_refused: Callable[[], None] | None = None,
        senders: Senders | None = None,
        on_refused_peer: Callable[[], None] | None = None,
        max_handshakes: int = 64,
        on_failed_handshake: Callable[[], None] | None = None,
    ) -> None:
        self._handler, self.host, self.port, self.tls, self._limit = handler, host, port, tls, limit
        self.max_connections, self.name, self._on_refused = max_connections, name, on_refused
        self.max_handshakes = max_handshakes
        self.senders = ANYONE if senders is None else senders
        self._on_refused_peer = on_refused_peer
        self._on_failed_handshake = on_failed_handshake
        self.refused_over_cap = 0
        self.refused_peers = 0
        self.failed_handshakes = 0
        self._server: asyncio.Server | None = None
        self._open: dict[asyncio.Task[None], Connection] = {}
        self._handshakes: dict[asyncio.Task[None], asyncio.Transport] = {}
        self._reasons: set[str] = set()  # why handshakes failed, each said once

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def start(self) -> int:
        """Listen; returns the bound port (also :attr:`port`)."""
        if self.tls is None:
            self._server = await start_server(
                self._track, self.host, self.port, tls=None, limit=self._limit
            )
        else:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(lambda: _Accepting(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def _accepted(self, transport: asyncio.Transport) -> None:
        """A TCP connection: its TLS handshake begins if the caps allow, else it is closed."""
        if (
            len(self._handshakes) >= self.max_handshakes
            or len(self._open) + len(self._handshakes) >= self.max_connections
        ):
            self._over_cap(transport.get_extra_info("peername"), "connections or handshakes")
            transport.abort()
            return
        transport.pause_reading()  # nothing is read until TLS reads it
        task = asyncio.get_running_loop().create_task(self._handshake(transport))
        self._handshakes[task] = transport

    async def _handshake(self, transport: asyncio.Transport) -> None:
        assert self.tls is not None
        task = asyncio.current_task()
        assert task is not None
        connection = Connection(self._track, self._limit)
        try:
            secured = await asyncio.get_running_loop().start_tls(
                transport, connection, self.tls, server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            )  # fmt: skip
        except (OSError, ssl.SSLError, TimeoutError, EOFError) as exc:
            self.failed_handshakes += 1
            reason = _reason(exc)
            new = reason not in self._reasons and len(self._reasons) < 32
            if new or self.failed_handshakes % 100 == 0:  # each reason once, then a count
                self._reasons.add(reason)
                log.warning("%s: TLS handshake from %s failed: %s (%d so far)", self.name,
                            _address(transport.get_extra_info("peername")), reason,
                            self.failed_handshakes)  # fmt: skip
            if self._on_failed_handshake is not None:
                self._on_failed_handshake()
            transport.abort()
            return
        finally:
            self._handshakes.pop(task, None)
        if secured is None:  # the peer went away as the handshake ended
            transport.abort()
            return
        connection.connection_made(secured)  # its handler (:meth:`_track`) starts

    def _over_cap(self, peername: object, what: str) -> None:
        self.refused_over_cap += 1
        if self.refused_over_cap == 1 or self.refused_over_cap % 100 == 0:
            log.warning("%s: %d connections open (%d in their handshake), its cap on %s: one "
                        "from %s closed (%d so far)", self.name, len(self._open),
                        len(self._handshakes), what, _address(peername),
                        self.refused_over_cap)  # fmt: skip
        if self._on_refused is not None:
            self._on_refused()

    async def _track(self, connection: Connection) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self.senders.allowed is not None:
            peer = peer_of(connection)
            if not self.senders.admits(peer):
                self.refused_peers += 1
                self.senders.refuse(peer, self.name)
                if self._on_refused_peer is not None:
                    self._on_refused_peer()
                await close_writer(connection)
                return
        if len(self._open) >= self.max_connections:
            self._over_cap(connection.get_extra_info("peername"), "connections")
            connection.transport.abort()
            return
        self._open[task] = connection
        try:
            await self._handler(connection)
        finally:
            self._open.pop(task, None)

    async def close(self, timeout: float = 5.0) -> None:
        """Stop listening; abort every open connection (its handler then reads the end of the
        stream and returns) and wait up to ``timeout`` for the handlers."""
        if self._server is None:
            return
        self._server.close()
        for transport in self._handshakes.values():
            transport.abort()
        for connection in self._open.values():
            connection.transport.abort()
        pending = [*self._open, *self._handshakes]  # handshakes end as their transport does
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        self._server = None


async def open_connection(
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None,
    server_hostname: str | None = None,
    limit: int = 4 * READ_AREA,
) -> Connection:
    """Connect (TLS when ``tls`` is given, verified against ``server_hostname`` or ``host``);
    the same :class:`Connection` as a server's, with no handler."""
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(
        lambda: Connection(None, limit), host, port, ssl=tls,
        server_hostname=(server_hostname or host) if tls is not None else None,
        ssl_handshake_timeout=10 if tls is not None else None,
    )  # fmt: skip
    return connection


#: what ends one link of :func:`keep_connected` and is retried
LINK_ERRORS = (OSError, ssl.SSLError, TransportError, DecodeError)


async def keep_connected(
    host: str,
    port: int,
    link: Callable[[Connection], Awaitable[None]],
    *,
    tls: ssl.SSLContext | None,
    server_hostname: str | None = None,
    backoff: Backoff,
    name: str,
    on_error: Callable[[Exception], None],
    alternates: Sequence[tuple[str, int]] = (),
) -> None:
    """Connect, run ``link`` on the connection until it fails, close it, and connect again,
    until cancelled. A failed connect is retried after ``backoff``'s growing delay (logged
    the first time and every tenth time in a row); a failed link (:data:`LINK_ERRORS`) is
    logged and retried after the first delay. IntegrityError (stored data was tampered with)
    is logged as CRITICAL and ends the loop with it. ``on_error`` sees every error first.
    ``alternates``: further addresses of the same service (an MF cluster's ingest nodes),
    each tried in turn after a failed connect or a lost link."""
    attempt = 0
    addresses = [(host, port), *alternates]
    turn = 0
    while True:
        host, port = addresses[turn % len(addresses)]
        try:
            connection = await open_connection(host, port, tls=tls, server_hostname=server_hostname)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            on_error(exc)
            if attempt % 10 == 0:
                log.warning("%s: connect to %s:%s failed (%d in a row): %s", name, host, port,
                            attempt + 1, exc)  # fmt: skip
            turn += 1
            if turn % len(addresses) == 0:  # a whole round failed: back off
                await asyncio.sleep(backoff.delay(attempt))
                attempt += 1
            continue
        attempt = 0
        log.info("%s: connected to %s:%s", name, host, port)
        try:
            await link(connection)
        except LINK_ERRORS as exc:
            on_error(exc)
            log.warning("%s: link to %s:%s lost: %s", name, host, port, exc)
        except IntegrityError as exc:
            on_error(exc)
            log.critical("%s: stopped: %s", name, exc)
            raise
        finally:
            await close_writer(connection)
        turn += len(addresses) > 1
        await asyncio.sleep(backoff.delay(0))


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    on_failure: Callable[[Exception], None],
    restart_after: float = 1.0,
) -> None:
    """Run a service's background task, ``run()``, and run it again whenever it fails, until
    it returns or is cancelled: a task never dies silently while its process lives on. Each
    failure goes to ``on_failure`` and is logged as a CRITICAL ALARM line naming the task."""
    while True:
        try:
            await run()
            return
        except Exception as exc:  # any failure: counted, alarmed, restarted
            on_failure(exc)
            log.critical("ALARM: %s failed (%s: %s); restarting in %.0f s", name,
                         type(exc).__name__, exc, restart_after)  # fmt: skip
            await asyncio.sleep(restart_after)


async def close_writer(writer: Connection, timeout: float = 2.0) -> None:
    """Close gracefully (TLS close_notify); a peer that does not answer within ``timeout``
    is cut off, so its connection's buffers are not held through asyncio's 30 s shutdown."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), timeout)
    except (TimeoutError, OSError, ssl.SSLError):  # no answer, or a broken close: cut off
        writer.transport.abort()


async def first_failure(*coroutines: Awaitable[None]) -> None:
    """Run the coroutines until one ends; cancel the others; re-raise its exception."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds; True if it was set. A cancellation is
    never lost, unlike ``asyncio.wait_for`` on Python 3.11 when the event is set at the
    moment the waiter is cancelled (a close would then wait for the link timers)."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again if it swallowed one."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


@attrs.frozen
class Backoff:
    """Reconnect delays: ``initial`` * ``factor`` ** attempt, capped, with +-``jitter``."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.1

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * self.factor**attempt)
        return base * (1 + random.uniform(-self.jitter, self.jitter))


@attrs.frozen
class Peer:
    """A connected peer: its address, its certificate's subject common name and the SHA-256
    of its certificate's DER (lower-case hex; empty without a certificate)."""

    address: str
    common_name: str
    fingerprint: str = ""


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate's DER, lower-case hex (what allow-lists name)."""
    return hashlib.sha256(der).hexdigest()


@attrs.frozen
class Senders:
    """Who may send on a listener (NFV-SEC 001 LI across administrative domains): a CA
    certifies many parties (POIs, MFs, ADMFs, LEMFs), so a listener names the certificates
    it takes, by fingerprint, each with the scope it may send for (XIDs for a POI; None:
    anything). ``Senders.ANYONE`` keeps the CA's word alone."""

    allowed: Mapping[str, frozenset[str] | None] | None = None

    def admits(self, peer: Peer) -> bool:
        return self.allowed is None or peer.fingerprint in self.allowed

    def scope(self, peer: Peer) -> frozenset[str] | None:
        """What ``peer`` may send for (None: anything)."""
        return None if self.allowed is None else self.allowed.get(peer.fingerprint)

    def refuse(self, peer: Peer, interface: str) -> None:
        """The one line a refused connection gets: the certificate's fingerprint, never
        more of it."""
        log.warning("%s connection from %s refused: certificate sha256 %s is not one this "
                    "listener takes", interface, peer.address,
                    peer.fingerprint or "(none)")  # fmt: skip


#: a listener that takes any certificate its CA issued
ANYONE = Senders()


def _address(peername: Any) -> str:
    """``HOST:PORT`` of a transport's peername (``?`` when it has none)."""
    return f"{peername[0]}:{peername[1]}" if peername else "?"


def _reason(exc: BaseException) -> str:
    """Why a handshake failed, in a few words (OpenSSL's reason, or the error's kind)."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, TimeoutError) or "taking longer than" in str(exc):  # asyncio's words
        return f"no handshake within {HANDSHAKE_TIMEOUT:g} s"
    return type(exc).__name__


def peer_of(writer: Connection) -> Peer:
    """The address and certificate common name of a connection's peer."""
    address = writer.get_extra_info("peername")
    cert = writer.get_extra_info("peercert") or {}
    cn = ""
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
    host = _address(address)
    ssl_object = writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return Peer(host, cn, certificate_fingerprint(der) if der else "")


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as a (host, port) pair; ConfigurationError otherwise."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)
