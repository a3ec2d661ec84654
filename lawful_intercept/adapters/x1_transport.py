"""X1 over HTTPS (TS 103 221-1 clause 7): POST of an XML document, the answer in the HTTP
200 response; mutual TLS (1.2+) both ways. HTTP/1.1 framing is h11's (sans-IO); these
asyncio adapters only move octets.

:class:`X1Server` serves one path on an NE. Beyond the TLS chain check, a client certificate
must be one of the configured ADMF certificates (by SHA-256 fingerprint of the DER), each
bound to the admfIdentifier(s) it may use; any other certificate is disconnected before a
request is read. :func:`post` is the client (the ADMF side).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Collection, Mapping

import h11

from lawful_intercept.adapters.aio import (
    Connection,
    Listener,
    Senders,
    certificate_fingerprint,
    close_writer,
    open_connection,
    peer_of,
)
from lawful_intercept.codec.x1.schema import MAX_DOCUMENT
from lawful_intercept.errors import TransportError

__all__ = ["X1Server", "certificate_fingerprint", "post"]

log = logging.getLogger(__name__)
CONTENT_TYPE = b"application/xml"

Handler = Callable[[bytes, Collection[str] | None], Awaitable[bytes]]


async def _next_event(http: h11.Connection, connection: Connection, deadline: float) -> h11.Event:
    """The next HTTP event, its octets all in by ``deadline`` (loop time): a deadline for the
    whole message, not per read, so a peer dripping an octet at a time is cut off too."""
    while True:
        event = http.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        async with asyncio.timeout_at(deadline):
            data = await connection.read()
        http.receive_data(data)


async def _read_body(http: h11.Connection, connection: Connection, deadline: float) -> bytes:
    body = bytearray()
    while True:
        event = await _next_event(http, connection, deadline)
        if isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_DOCUMENT:
                raise TransportError(f"X1 body over {MAX_DOCUMENT} octets")
        elif isinstance(event, h11.EndOfMessage):
            return bytes(body)
        else:
            raise TransportError(f"unexpected HTTP event {type(event).__name__}")


class X1Server:
    """HTTPS endpoint of an NE: POST ``path`` with an X1Request, answered by ``handler``."""

    def __init__(
        self,
        tls: ssl.SSLContext,
        handler: Handler,
        *,
        admf_certificates: Mapping[str, Collection[str]] | None,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/X1/NE",
        timeout: float = 30.0,
    ) -> None:
        """``admf_certificates``: certificate fingerprint -> the admfIdentifiers it may use;
        None accepts any certificate the TLS context trusts (tests, demos); ``timeout``: the
        seconds a request may take to arrive whole (headers and body, however it is split
        into reads), which is also how long an idle connection is kept."""
        self.tls, self.handler = tls, handler
        self.senders = Senders(
            {k.lower().replace(":", ""): frozenset(v) for k, v in admf_certificates.items()}
            if admf_certificates is not None
            else None
        )
        self.host, self.port, self.path, self.timeout = host, port, path.encode(), timeout
        self._listener = Listener(
            self._handle, host, port, tls=tls, max_connections=64, name="X1", senders=self.senders
        )
        self.requests = 0

    @property
    def refused_certificates(self) -> int:
        """Connections refused: a certificate not among the configured ADMFs'."""
        return self._listener.refused_peers

    async def start(self) -> None:
        self.port = await self._listener.start()

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        await self._listener.close()

    async def _handle(self, connection: Connection) -> None:
        peer = peer_of(connection)  # one the listener's senders admit
        admfs = self.senders.scope(peer)
        http = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
        loop = asyncio.get_running_loop()
        try:
            while True:  # each request whole within the timeout of when it was awaited
                deadline = loop.time() + self.timeout
                event = await _next_event(http, connection, deadline)
                if isinstance(event, h11.ConnectionClosed):
                    return
                if not isinstance(event, h11.Request):
                    return
                status, body = await self._respond(http, connection, event, admfs, deadline)
                length = str(len(body)).encode()
                headers = [(b"content-type", CONTENT_TYPE), (b"content-length", length)]
                connection.write(http.send(h11.Response(status_code=status, headers=headers)))
                connection.write(http.send(h11.Data(data=body)))
                connection.write(http.send(h11.EndOfMessage()))
                await connection.drain()
                if http.our_state is h11.MUST_CLOSE:
                    return
                http.start_next_cycle()
        except (h11.RemoteProtocolError, TransportError, TimeoutError, OSError, ssl.SSLError) as e:
            log.warning("X1 connection from %s dropped: %s", peer.address, type(e).__name__)
        finally:
            await close_writer(connection)

    async def _respond(
        self,
        http: h11.Connection,
        connection: Connection,
        request: h11.Request,
        admfs: Collection[str] | None,
        deadline: float,
    ) -> tuple[int, bytes]:
        body = await _read_body(http, connection, deadline)
        if request.target != self.path:
            return 404, b""
        if request.method != b"POST":
            return 405, b""
        self.requests += 1
        return 200, await self.handler(body, admfs)


#: what an ADMF is told when the NE closes the connection unanswered (as it does for a
#: certificate not in its allow-list)
_CLOSED = (
    "the NE closed the connection without answering: is this ADMF's certificate (its "
    "SHA-256) and admfIdentifier in the NE's admfs list?"
)


async def post(
    host: str,
    port: int,
    tls: ssl.SSLContext,
    document: bytes,
    *,
    path: str = "/X1/NE",
    server_hostname: str | None = None,
    timeout: float = 30.0,
) -> bytes:
    """POST an X1 document over mutual TLS; the response body (HTTP 200), else TransportError."""
    try:
        connection = await asyncio.wait_for(
            open_connection(host, port, tls=tls, server_hostname=server_hostname), timeout
        )
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        raise TransportError(f"X1 connect failed: {type(exc).__name__}: {exc}") from None
    http = h11.Connection(h11.CLIENT)
    try:
        headers = [
            (b"host", f"{host}:{port}".encode()), (b"content-type", CONTENT_TYPE),
            (b"content-length", str(len(document)).encode()), (b"connection", b"close"),
        ]  # fmt: skip
        request = h11.Request(method=b"POST", target=path.encode(), headers=headers)
        connection.write(http.send(request))
        connection.write(http.send(h11.Data(data=document)))
        connection.write(http.send(h11.EndOfMessage()))
        await connection.drain()
        deadline = asyncio.get_running_loop().time() + timeout  # the whole response
        event = await _next_event(http, connection, deadline)
        if isinstance(event, h11.ConnectionClosed):
            raise TransportError(_CLOSED)
        if not isinstance(event, h11.Response):
            raise TransportError(f"no HTTP response from the NE ({type(event).__name__})")
        body = await _read_body(http, connection, deadline)
        if event.status_code != 200:
            raise TransportError(f"the NE answered HTTP {event.status_code}")
        return body
    except h11.RemoteProtocolError as exc:
        closed = "ConnectionClosed" in str(exc)
        raise TransportError(_CLOSED if closed else f"X1 exchange failed: {exc}") from None
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        raise TransportError(f"X1 exchange failed: {type(exc).__name__}: {exc}") from None
    finally:
        await close_writer(connection)
