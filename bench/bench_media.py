"""Images before upload (bot/publishing/media.py): time to orient, strip and re-encode a
phone-sized photo for each network, and what it costs to import Pillow.

    .venv/bin/python bench/bench_media.py [--rounds 5]

The photo is synthetic but photo-like (smooth gradients plus fine noise, 4032x3024, EXIF
with GPS and orientation), written as a JPEG at quality 92 like a phone's camera app."""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def photo(path: Path) -> None:
    from PIL import Image, ImageFilter

    width, height = 4032, 3024
    base = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40).filter(ImageFilter.GaussianBlur(1))
    image = Image.merge("RGB", (base, noise, base.rotate(180)))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 1.0, 24.0)})
    image.save(path, "JPEG", quality=92, exif=exif)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from bot.publishing import media

    importing = [
        float(
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import time; t=time.perf_counter(); "
                    "from PIL import Image, ImageOps; print(time.perf_counter()-t)",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(args.rounds)
    ]
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"import PIL.Image + ImageOps: median {statistics.median(importing) * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        photo(path)
        print(f"source: 4032x3024 JPEG, {path.stat().st_size:,} bytes")
        for name, budget in (
            ("Bluesky image", media.BLUESKY_IMAGE),
            ("Bluesky card thumb", media.BLUESKY_THUMB),
            ("Mastodon", media.MASTODON_IMAGE),
        ):
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                prepared = media.prepare(path, budget)
                times.append(time.perf_counter() - start)
            print(
                f"{name}: {prepared.width}x{prepared.height} {prepared.mime}, "
                f"{len(prepared.data):,} bytes; median {statistics.median(times) * 1000:.0f} ms "
                f"(min {min(times) * 1000:.0f} ms)"
            )


if __name__ == "__main__":
    main()
