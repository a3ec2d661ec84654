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
import contextlib
import hashlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Collection, Mapping

import h11

from lawful_intercept.adapters.aio import close_writer
from lawful_intercept.codec.x1.schema import MAX_DOCUMENT
from lawful_intercept.errors import TransportError

__all__ = ["X1Server", "certificate_fingerprint", "post"]

log = logging.getLogger(__name__)
READ_SIZE = 1 << 16
CONTENT_TYPE = b"application/xml"

Handler = Callable[[bytes, Collection[str] | None], Awaitable[bytes]]


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate's DER, lower-case hex (the allow-list's key)."""
    return hashlib.sha256(der).hexdigest()


async def _next_event(
    connection: h11.Connection, reader: asyncio.StreamReader, timeout: float
) -> h11.Event:
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        data = await asyncio.wait_for(reader.read(READ_SIZE), timeout)
        connection.receive_data(data)


async def _read_body(
    connection: h11.Connection, reader: asyncio.StreamReader, timeout: float
) -> bytes:
    body = bytearray()
    while True:
        event = await _next_event(connection, reader, timeout)
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
        None accepts any certificate the TLS context trusts (tests, demos)."""
        self.tls, self.handler = tls, handler
        self.admf_certificates = (
            {k.lower().replace(":", ""): v for k, v in admf_certificates.items()}
            if admf_certificates is not None
            else None
        )
        self.host, self.port, self.path, self.timeout = host, port, path.encode(), timeout
        self._server: asyncio.Server | None = None
        self.refused_certificates = 0
        self.requests = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, ssl=self.tls, ssl_handshake_timeout=10
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    def _admfs_for(self, writer: asyncio.StreamWriter) -> tuple[bool, Collection[str] | None]:
        """Whether the peer's certificate is allowed, and the admfIdentifiers it may use
        (None: any, when no allow-list is configured)."""
        if self.admf_certificates is None:
            return True, None
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        admfs = self.admf_certificates.get(certificate_fingerprint(der)) if der else None
        return admfs is not None, admfs

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        where = address[0] if address else "?"
        allowed, admfs = self._admfs_for(writer)
        if not allowed:
            self.refused_certificates += 1
            log.warning("X1 connection from %s refused: not a configured ADMF certificate", where)
            await close_writer(writer)
            return
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
        try:
            while True:
                event = await _next_event(connection, reader, self.timeout)
                if isinstance(event, h11.ConnectionClosed):
                    return
                if not isinstance(event, h11.Request):
                    return
                status, body = await self._respond(connection, reader, event, admfs)
                length = str(len(body)).encode()
                headers = [(b"content-type", CONTENT_TYPE), (b"content-length", length)]
                writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
                writer.write(connection.send(h11.Data(data=body)))
                writer.write(connection.send(h11.EndOfMessage()))
                await writer.drain()
                if connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (h11.RemoteProtocolError, TransportError, TimeoutError, OSError, ssl.SSLError) as e:
            log.warning("X1 connection from %s dropped: %s", where, type(e).__name__)
        finally:
            await close_writer(writer)

    async def _respond(
        self,
        connection: h11.Connection,
        reader: asyncio.StreamReader,
        request: h11.Request,
        admfs: Collection[str] | None,
    ) -> tuple[int, bytes]:
        body = await _read_body(connection, reader, self.timeout)
        if request.target != self.path:
            return 404, b""
        if request.method != b"POST":
            return 405, b""
        self.requests += 1
        return 200, await self.handler(body, admfs)


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
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=tls, server_hostname=server_hostname or host),
        timeout,
    )
    connection = h11.Connection(h11.CLIENT)
    try:
        headers = [
            (b"host", f"{host}:{port}".encode()), (b"content-type", CONTENT_TYPE),
            (b"content-length", str(len(document)).encode()), (b"connection", b"close"),
        ]  # fmt: skip
        request = h11.Request(method=b"POST", target=path.encode(), headers=headers)
        writer.write(connection.send(request))
        writer.write(connection.send(h11.Data(data=document)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()
        event = await _next_event(connection, reader, timeout)
        if not isinstance(event, h11.Response):
            raise TransportError(f"no HTTP response from the NE ({type(event).__name__})")
        body = await _read_body(connection, reader, timeout)
        if event.status_code != 200:
            raise TransportError(f"the NE answered HTTP {event.status_code}")
        return body
    except (h11.RemoteProtocolError, OSError, ssl.SSLError, TimeoutError) as exc:
        raise TransportError(f"X1 exchange failed: {type(exc).__name__}: {exc}") from None
    finally:
        await close_writer(writer)
