"""The shared asyncio pieces over mutual TLS: Connection (order, back-pressure, end and loss),
open_connection and the reconnecting client loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import ssl
from typing import Any

import pytest

from lawful_intercept.adapters import aio
from lawful_intercept.adapters.aio import (
    Backoff,
    Connection,
    close_writer,
    keep_connected,
    open_connection,
    start_server,
    supervise,
)
from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.errors import IntegrityError, TransportError


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def _client(pki: dict[str, TLSConfig], port: int) -> tuple[Any, Any]:
    return await asyncio.open_connection(
        "127.0.0.1", port, ssl=pki["poi"].client_context(), server_hostname="mf"
    )


def test_reads_come_in_order_and_reading_pauses_past_the_limit(
    pki: dict[str, TLSConfig],
) -> None:
    """What the handler has not read stays bounded: past ``limit`` octets the connection
    stops reading (the peer's writes then wait in TCP), and reading resumes when the
    handler takes the data. Nothing is lost or reordered; the peer's close reads as b""."""
    data = os.urandom(3 << 20)
    limit = 1 << 18

    async def main() -> None:
        connected: asyncio.Queue[Connection] = asyncio.Queue()
        release = asyncio.Event()
        got: list[bytes] = []
        ended: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def handler(connection: Connection) -> None:
            await connected.put(connection)
            await release.wait()
            while sum(map(len, got)) < len(data):
                got.append(await connection.read())
            connection.write(b"done")
            await connection.drain()
            ended.set_result(await connection.read())  # the peer's close
            await close_writer(connection)

        server = await start_server(handler, "127.0.0.1", 0, tls=pki["mf"].server_context(),
                                    limit=limit)  # fmt: skip
        reader, writer = await _client(pki, server.sockets[0].getsockname()[1])
        connection = await connected.get()
        assert connection.get_extra_info("peercert")["subject"]  # mutual TLS: the POI's
        writer.write(data)
        sending = asyncio.ensure_future(writer.drain())
        for _ in range(200):  # the handler is not reading: the connection pauses
            await asyncio.sleep(0.01)
            if connection._reading_paused:
                break
        assert connection._reading_paused
        held = connection._held
        assert limit < held <= limit + (1 << 18)  # at most one receive area past the limit
        await asyncio.sleep(0.2)
        assert connection._held == held  # paused: nothing more is read
        release.set()
        await sending
        assert await reader.readexactly(4) == b"done"
        assert b"".join(got) == data
        assert not connection._reading_paused
        writer.close()
        assert await ended == b""
        server.close()

    run(main())


def test_a_lost_connection_fails_drain_and_ends_reading(pki: dict[str, TLSConfig]) -> None:
    """The peer aborts while the handler waits for room to write: drain raises
    ConnectionResetError, as a StreamWriter's does, then and after; read gives what had
    arrived, then the end."""

    async def main() -> None:
        waiting = asyncio.Event()
        outcome: asyncio.Future[tuple[bytes, bytes]] = asyncio.get_running_loop().create_future()

        async def handler(connection: Connection) -> None:
            first = await connection.read()
            connection.pause_writing()  # as the transport does when its buffer is full
            waiting.set()
            with pytest.raises(ConnectionResetError):
                await connection.drain()
            with pytest.raises(ConnectionResetError):
                await connection.drain()
            try:
                rest = await connection.read()
            except OSError:
                rest = b""
            outcome.set_result((first, rest))

        server = await start_server(handler, "127.0.0.1", 0, tls=pki["mf"].server_context())
        _, writer = await _client(pki, server.sockets[0].getsockname()[1])
        writer.write(b"hello")
        await writer.drain()
        await waiting.wait()
        writer.transport.abort()
        assert await asyncio.wait_for(outcome, 10) == (b"hello", b"")
        server.close()

    run(main())


def test_a_failing_handler_closes_its_connection(pki: dict[str, TLSConfig]) -> None:
    """An exception the handler lets out is the loop's to report; the peer sees the end."""

    async def main() -> None:
        reported: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: reported.append(ctx))

        async def handler(connection: Connection) -> None:
            await connection.read()
            raise RuntimeError("handler bug")

        server = await start_server(handler, "127.0.0.1", 0, tls=pki["mf"].server_context())
        reader, writer = await _client(pki, server.sockets[0].getsockname()[1])
        writer.write(b"x")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        assert [type(ctx.get("exception")) for ctx in reported] == [RuntimeError]
        writer.close()
        server.close()

    run(main())


def test_a_client_connection_is_the_servers_kind_and_checks_the_server_name(
    pki: dict[str, TLSConfig],
) -> None:
    """open_connection gives the same Connection as a server's handler gets (mutual TLS,
    read/write/drain), and refuses a server whose certificate does not name the host asked."""

    async def main() -> None:
        async def echo(connection: Connection) -> None:
            while data := await connection.read():
                connection.write(data)
            await close_writer(connection)

        server = await start_server(echo, "127.0.0.1", 0, tls=pki["mf"].server_context())
        port = server.sockets[0].getsockname()[1]
        client = await open_connection(
            "127.0.0.1", port, tls=pki["poi"].client_context(), server_hostname="mf"
        )
        assert isinstance(client, Connection)
        assert dict(x[0] for x in client.get_extra_info("peercert")["subject"])["commonName"] == (
            "mf"
        )
        client.write(b"x" * 100_000)
        await client.drain()
        got = b""
        while len(got) < 100_000:
            got += await client.read()
        assert got == b"x" * 100_000
        await close_writer(client)
        with pytest.raises(ssl.SSLCertVerificationError):
            await open_connection(
                "127.0.0.1", port, tls=pki["poi"].client_context(), server_hostname="lemf"
            )
        server.close()
        await server.wait_closed()

    run(main())


def test_keep_connected_reconnects_after_a_lost_link_and_stops_on_tampered_data(
    pki: dict[str, TLSConfig],
) -> None:
    """A connect that fails is retried with the backoff, a link that ends with a transport
    error is reconnected, and IntegrityError (stored data tampered with) ends the loop with
    it; every error reaches on_error first."""

    async def main() -> None:
        async def idle(connection: Connection) -> None:
            await connection.read()

        server = await start_server(idle, "127.0.0.1", 0, tls=pki["mf"].server_context())
        port = server.sockets[0].getsockname()[1]
        errors: list[Exception] = []
        links = 0

        async def link(connection: Connection) -> None:
            nonlocal links
            links += 1
            if links == 1:
                raise TransportError("first link lost")
            raise IntegrityError("a stored row was altered")

        server.close()  # nobody listens at first: the connect fails and is retried
        await server.wait_closed()
        loop = asyncio.get_running_loop()
        started = loop.time()
        supervisor = asyncio.ensure_future(
            keep_connected(
                "127.0.0.1", port, link, tls=pki["poi"].client_context(),
                server_hostname="mf", backoff=Backoff(initial=0.05, maximum=0.1, jitter=0),
                name="test", on_error=errors.append,
            )
        )  # fmt: skip
        while not errors:
            await asyncio.sleep(0.01)
        server = await start_server(idle, "127.0.0.1", port, tls=pki["mf"].server_context())
        with pytest.raises(IntegrityError):
            await supervisor
        assert links == 2
        assert isinstance(errors[0], OSError)
        assert [type(e) for e in errors[-2:]] == [TransportError, IntegrityError]
        assert loop.time() - started >= 0.05  # waited for the backoff
        server.close()
        await server.wait_closed()

    run(main())


def test_supervise_restarts_a_failed_task_with_an_alarm(caplog: pytest.LogCaptureFixture) -> None:
    """A background task that fails is alarmed, counted and run again; one that returns ends
    the supervision; cancelling the supervision cancels the task."""
    runs: list[int] = []
    failures: list[Exception] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise sqlite3.OperationalError("disk I/O error")

    async def main() -> None:
        await supervise("flaky", flaky, on_failure=failures.append, restart_after=0.01)
        forever = asyncio.ensure_future(
            supervise("idle", asyncio.Event().wait, on_failure=failures.append)
        )
        await asyncio.sleep(0.05)
        forever.cancel()
        with pytest.raises(asyncio.CancelledError):
            await forever

    with caplog.at_level(logging.CRITICAL):
        run(main())
    assert runs == [0, 1, 2] and len(failures) == 2
    assert caplog.text.count("ALARM: flaky failed (OperationalError: disk I/O error)") == 2


def test_a_connection_holds_a_small_receive_area_until_its_peer_sends_in_bulk(
    pki: dict[str, TLSConfig],
) -> None:
    """An idle or trickling peer costs a 4 KiB receive area, not 256 KiB; the first read
    that fills it makes it the full size; a closed connection holds none."""
    from lawful_intercept.adapters.aio import FIRST_AREA, READ_AREA

    async def main() -> None:
        connected: asyncio.Queue[Connection] = asyncio.Queue()
        done = asyncio.Event()

        async def handler(connection: Connection) -> None:
            await connected.put(connection)
            while await connection.read():
                pass
            done.set()

        server = await start_server(handler, "127.0.0.1", 0, tls=pki["mf"].server_context())
        _reader, writer = await _client(pki, server.sockets[0].getsockname()[1])
        connection = await connected.get()
        writer.write(b"a few octets")
        await writer.drain()
        await asyncio.sleep(0.2)
        assert connection._area is not None and len(connection._area) == FIRST_AREA
        writer.write(os.urandom(1 << 20))
        await writer.drain()
        await asyncio.sleep(0.2)
        assert len(connection._area) == READ_AREA
        writer.close()
        await done.wait()
        await asyncio.sleep(0.1)
        assert connection._area is None
        server.close()

    run(main())


def test_connections_that_never_finish_tls_are_capped_timed_out_and_said(
    pki: dict[str, TLSConfig], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hostile peers before authentication: of 40 TCP connections that never speak TLS at
    most ``max_handshakes`` hold a handshake (asyncio's TLS layer allocates 256 KiB per
    handshake), the rest are closed at once; a held one ends at the handshake timeout; a peer
    sending garbage instead of a ClientHello is refused at once; each failure is counted and
    said with the peer's address and why. A good peer connected before keeps working and one
    connecting after gets in."""
    monkeypatch.setattr(aio, "HANDSHAKE_TIMEOUT", 1.0)

    async def main() -> None:
        echoed: list[bytes] = []

        async def handler(connection: Connection) -> None:
            while data := await connection.read():
                echoed.append(data)

        listener = aio.Listener(handler, "127.0.0.1", 0, tls=pki["mf"].server_context(),
                                max_handshakes=8, name="test")  # fmt: skip
        port = await listener.start()
        _, good = await _client(pki, port)
        silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(40)]
        await asyncio.sleep(0.3)
        assert len(listener._handshakes) == 8 and listener.refused_over_cap == 32
        closed_at_once = 0
        for reader, _ in silent:
            with contextlib.suppress(TimeoutError):
                closed_at_once += await asyncio.wait_for(reader.read(1), 0.05) == b""
        assert closed_at_once == 32
        good.write(b"still served")
        await good.drain()
        await asyncio.sleep(1.5)  # past the handshake timeout: the 8 are dropped
        assert listener.failed_handshakes == 8 and not listener._handshakes
        garbage_reader, garbage = await asyncio.open_connection("127.0.0.1", port)
        garbage.write(b"GET / HTTP/1.1\r\n\r\n")
        await garbage.drain()
        assert await asyncio.wait_for(garbage_reader.read(), 5) == b""
        assert listener.failed_handshakes == 9
        _, late = await _client(pki, port)
        late.write(b"after the attack")
        await late.drain()
        await asyncio.sleep(0.2)
        assert b"".join(echoed) == b"still servedafter the attack"
        for _, writer in [*silent, (None, good), (None, late), (None, garbage)]:
            writer.close()
        await listener.close()

    with caplog.at_level(logging.WARNING):
        run(main())
    lines = [r.getMessage() for r in caplog.records]
    assert any("its cap on connections or handshakes: one from 127.0.0.1:" in m for m in lines)
    assert any("TLS handshake from 127.0.0.1:" in m and "no handshake within 1 s" in m
               for m in lines)  # fmt: skip
    failures = [m for m in lines if "TLS handshake from 127.0.0.1:" in m]
    assert len(failures) == 2  # each reason once, not once per connection
    assert "failed: http request (9 so far)" in failures[1]  # OpenSSL knows HTTP


def test_a_peer_that_ignores_the_close_is_cut_off(pki: dict[str, TLSConfig]) -> None:
    """close_writer closes gracefully, but a peer that neither reads nor answers TLS's
    close_notify no longer holds the connection (and its buffers) through asyncio's 30 s
    shutdown: it is cut off after the timeout."""

    async def main() -> None:
        lost = asyncio.Event()

        async def handler(connection: Connection) -> None:
            connection.write(os.urandom(1 << 22))  # more than the peer's windows take
            await close_writer(connection, timeout=0.3)
            await connection._closed
            lost.set()

        server = await start_server(handler, "127.0.0.1", 0, tls=pki["mf"].server_context())
        _reader, writer = await _client(pki, server.sockets[0].getsockname()[1])
        writer.transport.pause_reading()  # reads nothing, answers nothing
        await asyncio.wait_for(lost.wait(), 3)
        writer.transport.abort()
        server.close()

    run(main())
