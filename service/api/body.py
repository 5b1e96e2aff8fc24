"""Reading request bodies: every chunk within `upload_idle_timeout_s`, a client that
drops mid-body reported as such (not as a server error)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

from service.errors import ClientDisconnectedError, RequestTimeoutError, RequestTooLargeError


async def body_chunks(request: Request, idle_s: float) -> AsyncIterator[bytes]:
    """The body's chunks; RequestTimeoutError when none comes for ``idle_s`` (a stalled
    client would otherwise hold its socket and partial file until TCP gives up)."""
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), idle_s)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RequestTimeoutError(f"no body data for {idle_s:g} s") from None
        except ClientDisconnect:
            raise ClientDisconnectedError("the client went away during the upload") from None
        yield chunk


async def read_body(request: Request, max_bytes: int, idle_s: float) -> bytes:
    """The whole body, refused (413) as soon as it is known to exceed ``max_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise RequestTooLargeError(f"the body ({declared} bytes) exceeds {max_bytes} bytes")
    body = bytearray()
    async for chunk in body_chunks(request, idle_s):
        body += chunk
        if len(body) > max_bytes:
            raise RequestTooLargeError(f"the body exceeds {max_bytes} bytes")
    return bytes(body)
