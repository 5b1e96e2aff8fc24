"""The BlobStore seam: where uploaded videos wait for a worker (deleted once scored)."""

from __future__ import annotations

from collections.abc import AsyncIterable
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class BlobStore(Protocol):
    async def put(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> int:
        """Write the stream under ``key`` and return its size. Raises VideoTooLargeError as
        soon as more than ``max_bytes`` arrived; nothing is left behind on any error."""
        ...

    def local_path(self, key: str) -> Path:
        """A filesystem path a decoder can open (the blob must exist)."""
        ...

    async def exists(self, key: str) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def list_keys(self, partial_max_age_s: float) -> dict[str, float]:
        """Every key with its last write time (Unix s); drops partial uploads older
        than ``partial_max_age_s`` on the way (an upload that never finished)."""
        ...
