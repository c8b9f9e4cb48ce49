"""The benches' HTTP/1.1 client step: one request on a kept-alive connection, its body read to the end."""

from __future__ import annotations

import asyncio


async def request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """Send `raw` (a whole request), read the response head and its Content-Length body; the status code."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status
