"""Just enough of image headers to know a file's type and size, without an imaging library."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MIME = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    kind: str  # png | jpeg | gif | webp
    width: int
    height: int
    size: int  # bytes

    @property
    def mime(self) -> str:
        return MIME[self.kind]


class ImageError(ValueError):
    pass


def inspect(path: str | Path) -> ImageInfo:
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
        handle.seek(0, 2)
        size = handle.tell()
    kind, width, height = _dimensions(head)
    return ImageInfo(kind, width, height, size)


def problem(path: str | Path) -> str | None:
    """What is wrong with an image file, or None when it can be posted."""
    try:
        inspect(path)
    except ImageError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read the image ({exc.strerror})"
    return None


def _dimensions(head: bytes) -> tuple[str, int, int]:
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return "png", width, height
    if head[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", head[6:10])
        return "gif", width, height
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ("webp", *_webp(head))
    if head[:2] == b"\xff\xd8":
        return ("jpeg", *_jpeg(head))
    raise ImageError("not a PNG, JPEG, GIF or WebP image")


def _webp(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    raise ImageError("unsupported WebP variant")


def _jpeg(head: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 9 < len(head):
        if head[pos] != 0xFF:
            pos += 1
            continue
        marker = head[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", head[pos + 2 : pos + 4])[0]
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise ImageError("JPEG without a frame header in its first 64 KiB")
