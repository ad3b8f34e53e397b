"""Images as followers get them: orientation applied, every piece of metadata removed, and
re-encoded (as little as possible) to fit what the network accepts.

A photo straight from a phone carries its EXIF: the GPS position where it was taken, the
camera's serial number, comments, XMP. None of that may leave the operator's machine, so
every image is decoded and written anew from its pixels; only the ICC colour profile is
kept (it says how the colours look, nothing about who or where). The orientation tag is
applied to the pixels first, since the tag itself goes with the rest.

Quality is kept as high as fits: a JPEG is written again with its own quantisation tables
(its own quality) and only searched down when it is over the byte limit; a PNG stays
lossless unless it cannot fit, then it becomes a JPEG, as the official Bluesky app does.

Pillow is imported inside `prepare`: only a publish run with images pays for it.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.content import scanning
from bot.content.images import MAX_IMAGE_BYTES, MAX_PIXELS

if TYPE_CHECKING:
    from PIL import Image

LOWEST_QUALITY = 40  # below this a photo looks broken: make it smaller instead
HIGHEST_QUALITY = 92  # a source without quantisation tables to keep is written at this
SHRINK = 0.8  # each step down in size when the lowest quality is still too large


@dataclass(frozen=True, slots=True)
class Budget:
    """What a network accepts for one image: bytes, the longest side, pixels in all, and
    whether an animated GIF may stay animated."""

    max_bytes: int
    max_side: int | None = None
    max_pixels: int | None = None
    animation: bool = False


# app.bsky.embed.images: 2,000,000 bytes; the official app sends at most 2000 px a side.
BLUESKY_IMAGE = Budget(2_000_000, max_side=2000)
# app.bsky.embed.external's thumb: 1,000,000 bytes.
BLUESKY_THUMB = Budget(1_000_000, max_side=2000)
# Mastodon's defaults (an instance may say otherwise in /api/v2/instance): 16 MB for images
# since 4.0 (10 MB before: the lower is the safe one), 8.3 MP (3840x2160).
MASTODON_IMAGE = Budget(10 * 1024 * 1024, max_pixels=8_294_400, animation=True)


@dataclass(frozen=True, slots=True)
class Prepared:
    data: bytes
    mime: str
    width: int
    height: int
    extension: str  # ".jpg", ".png"...: Mastodon names the upload with it


class MediaError(ValueError):
    """The image cannot be made to fit (or read): the message says why, without a path."""


def prepare(path: str | Path, budget: Budget) -> Prepared:
    """The image at `path` as it may be posted under `budget`: oriented, without metadata,
    and no larger than allowed. Raises MediaError."""
    try:
        raw, _ = scanning.read_regular(os.fspath(path), MAX_IMAGE_BYTES)
    except FileNotFoundError:
        raise MediaError("image file not found") from None
    except OSError as exc:
        raise MediaError(f"cannot read the image ({exc.strerror or exc})") from None
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _prepare(raw, budget)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError("a decompression bomb (far more pixels than bytes)") from None
    except Exception as exc:  # Pillow's decoders raise many types; any of them is a bad image
        reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise MediaError(f"cannot decode the image ({reason})") from None


def _prepare(raw: bytes, budget: Budget) -> Prepared:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(raw)) as source:
        if source.width * source.height > MAX_PIXELS:
            raise MediaError(f"the image is {source.width}x{source.height} pixels: too large")
        kind = (source.format or "").upper()
        if kind == "GIF" and getattr(source, "is_animated", False) and budget.animation:
            animated = _animated_gif(source, budget)
            if animated is not None:
                return animated
        icc = source.info.get("icc_profile")
        keep: dict[str, Any] = {}
        if kind == "JPEG":
            from PIL import JpegImagePlugin

            # The source's own tables: written again at the quality it already had.
            keep = {
                "qtables": getattr(source, "quantization", None),
                "subsampling": JpegImagePlugin.get_sampling(source),
            }
        source.seek(0)
        if kind == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 scale when the budget needs a smaller picture anyway
            # (never below the size it will be resized to): a 12 MP photo decodes ~3x faster.
            width, height = _target(source.width, source.height, budget)
            if (width, height) != source.size:
                source.draft(source.mode, (width, height))
        oriented = ImageOps.exif_transpose(source)  # a new image, the tag applied
        oriented.load()
    if oriented.mode == "CMYK":
        oriented, icc = oriented.convert("RGB"), None  # a CMYK profile no longer applies
    oriented.info = {}  # Pillow writes info's comment/XMP back by default: nothing goes
    image = _fit_pixels(oriented, budget, 1.0)
    if kind == "JPEG" or kind == "MPO":
        return _lossy(image, budget, "JPEG", icc, keep)
    if kind == "WEBP":
        return _lossy(image, budget, "WEBP", icc, {})
    png = _encode(_png_mode(image), "PNG", icc=icc)
    if len(png) <= budget.max_bytes:
        return _prepared(png, "PNG", image)
    return _lossy(image, budget, "JPEG", icc, {})


def _lossy(
    image: Image.Image, budget: Budget, kind: str, icc: bytes | None, keep: dict[str, Any]
) -> Prepared:
    """The best quality that fits, shrinking the picture only when the lowest quality does
    not: first the source's own tables, then a binary search on quality."""
    scale = 1.0
    base = image
    while True:
        picture = _for(kind, base)
        if keep.get("qtables"):
            data = _encode(picture, kind, icc=icc, **keep)
            if len(data) <= budget.max_bytes:
                return _prepared(data, kind, picture)
        data = _encode(picture, kind, icc=icc, quality=HIGHEST_QUALITY)
        if len(data) <= budget.max_bytes:
            return _prepared(data, kind, picture)
        low, high = LOWEST_QUALITY, HIGHEST_QUALITY - 1
        best: bytes | None = None
        while low <= high:
            quality = (low + high) // 2
            data = _encode(picture, kind, icc=icc, quality=quality)
            if len(data) <= budget.max_bytes:
                best, low = data, quality + 1
            else:
                high = quality - 1
        if best is not None:
            return _prepared(best, kind, picture)
        scale *= SHRINK
        if min(image.width, image.height) * scale < 16:
            raise MediaError(f"cannot fit the image in {budget.max_bytes:,} bytes")
        base = _fit_pixels(image, budget, scale)


def _target(width: float, height: float, budget: Budget) -> tuple[int, int]:
    """The largest size within the budget's side and pixel limits, the aspect kept."""
    if budget.max_side and max(width, height) > budget.max_side:
        factor = budget.max_side / max(width, height)
        width, height = width * factor, height * factor
    if budget.max_pixels and width * height > budget.max_pixels:
        factor = math.sqrt(budget.max_pixels / (width * height))
        width, height = width * factor, height * factor
    return max(1, math.floor(width)), max(1, math.floor(height))


def _fit_pixels(image: Image.Image, budget: Budget, scale: float) -> Image.Image:
    """`image` scaled by `scale`, and further down to the budget's side and pixel limits."""
    from PIL import Image

    size = _target(image.width * scale, image.height * scale, budget)
    if size == image.size:
        return image
    resized = image.resize(size, Image.Resampling.LANCZOS)
    resized.info = {}
    return resized


def _for(kind: str, image: Image.Image) -> Image.Image:
    """The image in a mode `kind` can hold; transparency is flattened onto white for JPEG."""
    from PIL import Image

    if kind == "WEBP":
        return image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")
    if image.mode in ("RGB", "L"):
        return image
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _png_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        return image
    return image.convert("RGBA")


def _encode(image: Image.Image, kind: str, *, icc: bytes | None, **options: Any) -> bytes:
    buffer = io.BytesIO()
    if icc:
        options["icc_profile"] = icc
    if kind == "JPEG":
        options.setdefault("optimize", True)
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def _prepared(data: bytes, kind: str, image: Image.Image) -> Prepared:
    mime, extension = {
        "JPEG": ("image/jpeg", ".jpg"),
        "PNG": ("image/png", ".png"),
        "WEBP": ("image/webp", ".webp"),
        "GIF": ("image/gif", ".gif"),
    }[kind]
    return Prepared(data, mime, image.width, image.height, extension)


def _animated_gif(source: Image.Image, budget: Budget) -> Prepared | None:
    """An animated GIF written again frame by frame (without its comments and application
    blocks), or None when it does not fit: then its first frame is posted as a still."""
    from PIL import ImageSequence

    frames, durations = [], []
    for frame in ImageSequence.Iterator(source):
        durations.append(int(frame.info.get("duration", 100)))
        copy = frame.copy()
        copy.info = {}
        frames.append(_fit_pixels(copy, budget, 1.0))
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=int(source.info.get("loop", 0)),
        disposal=2,
    )
    data = buffer.getvalue()
    if len(data) > budget.max_bytes:
        return None
    return _prepared(data, "GIF", frames[0])
