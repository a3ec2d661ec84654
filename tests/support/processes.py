"""Helpers for tests that run `li` processes, ports and waits, and namespace traffic."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import Any

from lawful_intercept.lab.network import TestBed

LI = [sys.executable, "-m", "lawful_intercept.cli"]


PASSPHRASE = "test pass phrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def exchange(bed: TestBed, count: int) -> None:
    """UDP from the peer (the target) to the VNF and back."""
    server = bed.socket("vnf", socket.AF_INET, socket.SOCK_DGRAM)
    client = bed.socket("peer", socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((bed.VNF_V4, 7100))
    for sock in (server, client):
        sock.settimeout(2)
    for n in range(count):
        client.sendto(bytes([n]) * 100, (bed.VNF_V4, 7100))
        data, address = server.recvfrom(2048)
        server.sendto(data, address)
        client.recvfrom(2048)
    server.close()
    client.close()
