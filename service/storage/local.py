"""BlobStore on a local (or shared, in k8s) directory: write to a temp file, then rename.

Writes happen chunk by chunk on the event loop: 64 KiB page-cache writes take
microseconds, and keeping them inline keeps memory flat (no queue of chunks).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterable
from pathlib import Path

from service.errors import VideoTooLargeError

_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / ".partial"
        # Uploaded videos are people's bodies: owner-only, whatever the umask.
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in (root, self.tmp):
            d.chmod(0o700)

    def local_path(self, key: str) -> Path:
        if not _KEY.match(key) or key.startswith("."):
            raise ValueError(f"bad blob key {key!r}")
        return self.root / key

    async def put(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> int:
        final = self.local_path(key)
        partial = self.tmp / f"{key}.{uuid.uuid4().hex}"
        size = 0
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise VideoTooLargeError(f"the upload exceeds {max_bytes} bytes")
                    out.write(chunk)
                out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())
            partial.replace(final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return size

    async def exists(self, key: str) -> bool:
        return self.local_path(key).exists()

    async def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    async def list_keys(self, partial_max_age_s: float) -> dict[str, float]:
        cutoff = time.time() - partial_max_age_s
        keys: dict[str, float] = {}
        for entry in (*self.root.iterdir(), *self.tmp.iterdir()):
            with contextlib.suppress(FileNotFoundError):
                if not entry.is_file():
                    continue
                mtime = entry.stat().st_mtime
                if entry.parent != self.tmp:
                    if _KEY.match(entry.name) and not entry.name.startswith("."):
                        keys[entry.name] = mtime  # else not ours (NFS silly-rename, …)
                elif mtime < cutoff:
                    entry.unlink(missing_ok=True)
        return keys
