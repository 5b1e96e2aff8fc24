"""Streamed uploads: request body → (multipart parse) → sniff → hash → blob store.

Nothing holds more than one chunk: the multipart body is parsed incrementally
(python-multipart's streaming parser), the first bytes are checked against
video container signatures (415 otherwise), the video bytes and form fields
are hashed for Idempotency-Key, and the blob store refuses the upload the
moment it passes the byte limit (413).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from service.api.body import body_chunks
from service.errors import InvalidRequestError, UnsupportedMediaError, VideoTooLargeError
from service.storage.base import BlobStore

# Multipart framing and small form fields on top of the video itself.
MULTIPART_SLACK = 64 * 1024
MAX_FIELD_BYTES = 4096
# Enough for three MPEG-TS packets (188 bytes each) and the first ISO BMFF boxes.
SNIFF_BYTES = 512
RAW_TYPES = ("video/", "application/octet-stream")

# Still images and audio that share a container with video (ISO BMFF brands).
_NOT_VIDEO_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1", b"M4A ", b"M4B ")
_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_FOURCC = re.compile(rb"[A-Za-z0-9 \xa9]{4}")
_TS_PACKET = 188


def _boxes_chain(head: bytes) -> bool:
    """The head parses as ISO BMFF boxes (size, four-letter type) up to where it ends.

    A real `ftyp` box is followed by another box (`moov`, `mdat`, `free`, …); bytes of
    another format after a forged `ftyp` (a PNG, a GIF) are not a box.
    """
    pos = 0
    while pos + 8 <= len(head):
        size = int.from_bytes(head[pos : pos + 4], "big")
        if not _FOURCC.fullmatch(head[pos + 4 : pos + 8]):
            return False
        if size in (0, 1):  # to the end of the file / a 64-bit size follows
            return True
        if size < 8:
            return False
        pos += size
    return True


def sniff_video(head: bytes) -> str:
    """Container name from the first bytes (up to SNIFF_BYTES), or raise UnsupportedMediaError."""
    if len(head) >= 16 and head[4:8] == b"ftyp" and _boxes_chain(head):
        if head[8:12] in _NOT_VIDEO_BRANDS:
            raise UnsupportedMediaError("an image or audio file in an MP4 container, not a video")
        return "mp4"
    if len(head) >= 16 and head[4:8] in _QT_ATOMS and _boxes_chain(head):
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "mpeg"
    # A transport stream is 188-byte packets, each starting 0x47 ("G": a GIF starts so too).
    if len(head) > 2 * _TS_PACKET and all(head[i] == 0x47 for i in range(0, len(head), _TS_PACKET)):
        return "mpegts"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    raise UnsupportedMediaError(
        "the upload is not a recognised video container (mp4, mov, webm, …)"
    )


@dataclass
class UploadInfo:
    size: int = 0
    container: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    video_hash: str = ""


class _MultipartVideo:
    """Feeds body chunks to the streaming parser; collects the `video` part's bytes per
    feed and the (small) text fields."""

    def __init__(self, boundary: bytes) -> None:
        self.fields: dict[str, bytearray] = {}
        self.saw_video = False
        self._out: list[bytes] = []
        self._name: str | None = None
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
            },
        )

    def _part_begin(self) -> None:
        self._headers, self._name = {}, None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_field, self._header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == "video":
            if self.saw_video:
                raise InvalidRequestError("send one `video` part")
            self.saw_video = True
        self._name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._name == "video":
            self._out.append(data[start:end])
            return
        value = self.fields.setdefault(self._name or "", bytearray())
        value += data[start:end]
        if len(value) > MAX_FIELD_BYTES or len(self.fields) > 16:
            raise InvalidRequestError("form fields other than `video` must be short")

    def feed(self, chunk: bytes) -> list[bytes]:
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise InvalidRequestError(f"malformed multipart body: {exc}") from exc
        out, self._out = self._out, []
        return out

    def finish(self) -> None:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise InvalidRequestError(f"malformed multipart body: {exc}") from exc
        if not self.saw_video:
            raise InvalidRequestError("the multipart body has no `video` part")


async def _multipart_chunks(
    body: AsyncIterator[bytes], mp: _MultipartVideo, max_bytes: int
) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in body:
        # The framing counts too: a chunked body could otherwise pad the parts without end.
        received += len(chunk)
        if received > max_bytes + MULTIPART_SLACK:
            raise VideoTooLargeError(f"the upload exceeds {max_bytes} bytes")
        for piece in mp.feed(chunk):
            yield piece
    mp.finish()


async def _checked(chunks: AsyncIterator[bytes], info: UploadInfo) -> AsyncIterator[bytes]:
    """Sniff the first bytes and hash everything that passes through."""
    digest = hashlib.sha256()
    head = b""
    async for chunk in chunks:
        piece = chunk
        if not info.container:
            head += chunk
            if len(head) < SNIFF_BYTES:
                continue
            info.container, piece, head = sniff_video(head[:SNIFF_BYTES]), head, b""
        digest.update(piece)
        yield piece
    if not info.container:
        if not head:
            raise InvalidRequestError("the upload is empty")
        info.container = sniff_video(head[:SNIFF_BYTES])
        digest.update(head)
        yield head
    info.video_hash = digest.hexdigest()


def check_declared_length(request: Request, max_bytes: int) -> None:
    """Refuse before reading a byte when Content-Length already says too much."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + MULTIPART_SLACK:
        raise VideoTooLargeError(f"the upload ({declared} bytes) exceeds {max_bytes} bytes")


async def receive_video(
    request: Request, blobs: BlobStore, key: str, max_bytes: int, idle_s: float
) -> UploadInfo:
    """Store the request's video under ``key``; form fields come back in ``fields``."""
    check_declared_length(request, max_bytes)
    body = body_chunks(request, idle_s)
    content_type = request.headers.get("content-type", "")
    info = UploadInfo()
    mp: _MultipartVideo | None = None
    if content_type.startswith("multipart/form-data"):
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise InvalidRequestError("multipart/form-data without a boundary")
        mp = _MultipartVideo(boundary)
        chunks = _multipart_chunks(body, mp, max_bytes)
    elif content_type.startswith(RAW_TYPES):
        chunks = body
    else:
        raise UnsupportedMediaError(
            "send multipart/form-data with a `video` part, or the raw video with a video/*"
            " content type"
        )
    info.size = await blobs.put(key, _checked(chunks, info), max_bytes)
    if mp is not None:
        info.fields = {k: v.decode("utf-8", "replace") for k, v in mp.fields.items()}
    return info
