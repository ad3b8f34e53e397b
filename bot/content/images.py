"""Image files of posts: where they may be, their type and size from the header, and (for
`check`) a full decode with Pillow, imported only when an image is actually judged."""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from bot.content import scanning

# An image must be a file inside the posts folder, named relative to its post. One wording for
# every other case, so that a message never tells whether some outside path exists.
OUTSIDE = "must name a file inside the posts folder, relative to the post (like 'picture.jpg')"
MAX_IMAGE_BYTES = 40 * 1024 * 1024  # far above what either platform accepts
# Decoding needs width x height x 4 bytes: 25 MP is 100 MB, within the service's 256 MB.
MAX_PIXELS = 25_000_000

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


def inside(name: str, folder: str | Path, root: str | Path) -> str | None:
    """The real path of image `name` of a post in `folder`, when it is a relative path that
    stays inside `root` (links resolved); None otherwise, without telling why."""
    if not name or os.path.isabs(name) or name.startswith("~") or "\x00" in name:
        return None
    real = os.path.realpath(os.path.join(folder, name))
    return (
        real
        if scanning.is_inside(real, os.fspath(root)) and real != scanning.real_root(os.fspath(root))
        else None
    )


def inspect(path: str | Path, root: str | None = None) -> ImageInfo:
    """Type and size from the header; the file is opened only if regular (never blocks)."""
    fd, stat = scanning.open_regular(os.fspath(path), root)
    with os.fdopen(fd, "rb") as handle:
        head = handle.read(64 * 1024)
    kind, width, height = _dimensions(head)
    return ImageInfo(kind, width, height, stat.st_size)


def problem(path: str | Path, *, root: str | None = None, decode: bool = True) -> str | None:
    """What is wrong with an image file, or None when it can be posted. With `decode`, the
    whole image is decoded: a truncated or corrupt file, or a decompression bomb, is caught
    here rather than by a server at publishing time."""
    try:
        info = inspect(path, root)
        if info.size > MAX_IMAGE_BYTES:
            return f"the image is {info.size:,} bytes; at most {MAX_IMAGE_BYTES:,} are read"
        if info.width * info.height > MAX_PIXELS:
            return (
                f"the image is {info.width}x{info.height} pixels; at most {MAX_PIXELS:,} "
                "pixels (resize it)"
            )
        if decode:
            data, _ = scanning.read_regular(os.fspath(path), MAX_IMAGE_BYTES, root)
            return _decode_problem(data, info)
    except ImageError as exc:
        return str(exc)
    except scanning.Refused as exc:
        return f"cannot be read: {exc.strerror}"
    except FileNotFoundError:
        return "image file not found"
    except OSError as exc:
        return f"cannot read the image ({exc.strerror})"
    return None


def _decode_problem(data: bytes, info: ImageInfo) -> str | None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format is None or image.format.lower() != info.kind:
                    return f"the file says {info.kind} but decodes as {image.format}"
                if image.width * image.height > MAX_PIXELS:
                    return f"the image is {image.width}x{image.height} pixels: too large"
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "a decompression bomb (far more pixels than bytes): not an image to post"
    except Exception as exc:  # Pillow's decoders raise many types; any of them is a bad image
        reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        return f"truncated or corrupt image ({reason})"
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
