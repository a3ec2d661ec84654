"""asyncio helpers the transports share (X2/X3, HI delivery, the LEMF)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

__all__ = ["close_writer", "first_failure"]


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 2)


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
