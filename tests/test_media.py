"""Images before upload (bot/publishing/media.py): orientation applied, every piece of metadata
removed, re-encoded only as far as the network's limits need; `images:` in front matter; and
Pillow imported only when an image is actually handled."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageSequence
from support import ROOT, png, write_config, write_post

from bot.content.post import MAX_IMAGES, parse
from bot.publishing import media

GPS_SECRET = (48.0, 1.0, 24.0)


def exif_photo(size: tuple[int, int] = (300, 200), orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Canon"
    exif.get_ifd(0x8769)[0xA431] = "SERIAL-8841"
    exif.get_ifd(0x8825).update({1: "N", 2: GPS_SECRET})
    return exif


def picture(size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((40, 40, 200), (0, 0, size[0] // 2, size[1] // 3))  # blue top-left block
    return image


def metadata_free(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert not dict(image.getexif())
    assert not {"exif", "comment", "xmp", "XML:com.adobe.xmp", "Comment"} & set(image.info)
    for secret in (b"SERIAL-8841", b"Canon", b"back garden", b"xmpmeta"):
        assert secret not in data
    return image


def test_a_phone_jpeg_loses_its_metadata_and_keeps_its_orientation_and_quality(tmp_path):
    path = tmp_path / "p.jpg"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">Canon</x:xmpmeta>'
    picture((300, 200)).save(
        path, "JPEG", exif=exif_photo(), comment=b"our back garden", xmp=xmp, quality=80
    )
    for budget in (media.BLUESKY_IMAGE, media.BLUESKY_THUMB, media.MASTODON_IMAGE):
        prepared = media.prepare(path, budget)
        image = metadata_free(prepared.data)
        assert (prepared.width, prepared.height) == image.size == (200, 300)  # turned
        assert prepared.mime == "image/jpeg"
        rgb = image.convert("RGB")
        assert rgb.getpixel((196, 4))[2] > 150 and rgb.getpixel((4, 4))[0] > 150
        # Written with the source's own tables: its quality, not some other.
        assert image.quantization == Image.open(path).quantization


def test_the_icc_profile_stays(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "p.png"
    picture((20, 10)).save(path, "PNG", icc_profile=icc, exif=exif_photo())
    prepared = media.prepare(path, media.BLUESKY_IMAGE)
    assert metadata_free(prepared.data).info.get("icc_profile") == icc


def test_a_png_stays_lossless_when_it_fits(tmp_path):
    path = tmp_path / "p.png"
    source = picture((64, 48))
    source.save(path, "PNG", exif=exif_photo(orientation=1))
    prepared = media.prepare(path, media.BLUESKY_IMAGE)
    image = metadata_free(prepared.data)
    assert prepared.mime == "image/png"
    assert image.convert("RGB").tobytes() == source.tobytes()


def test_a_large_image_is_shrunk_to_the_network_limits(tmp_path):
    path = tmp_path / "noise.png"
    Image.effect_noise((2600, 1300), 80).convert("RGB").save(path, "PNG")
    assert path.stat().st_size > 2_000_000
    bsky = media.prepare(path, media.BLUESKY_IMAGE)
    assert len(bsky.data) <= 2_000_000 and max(bsky.width, bsky.height) <= 2000
    assert bsky.mime == "image/jpeg" and (bsky.width, bsky.height) == (2000, 1000)
    thumb = media.prepare(path, media.BLUESKY_THUMB)
    assert len(thumb.data) <= 1_000_000
    small = media.prepare(path, media.Budget(30_000, max_pixels=400_000))
    assert len(small.data) <= 30_000 and small.width * small.height <= 400_000
    # The same file gives the same bytes: a retry rebuilds the same blob CID.
    assert media.prepare(path, media.BLUESKY_IMAGE).data == bsky.data


def test_animated_gif_stays_animated_on_mastodon_and_is_a_still_on_bluesky(tmp_path):
    path = tmp_path / "a.gif"
    frames = [Image.new("RGB", (30, 20), (r, 0, 0)) for r in (0, 120, 240)]
    frames[0].save(
        path, "GIF", save_all=True, append_images=frames[1:], duration=80, comment=b"secret"
    )
    on_mastodon = media.prepare(path, media.MASTODON_IMAGE)
    image = Image.open(io.BytesIO(on_mastodon.data))
    assert on_mastodon.mime == "image/gif" and len(list(ImageSequence.Iterator(image))) == 3
    assert b"secret" not in on_mastodon.data
    on_bluesky = media.prepare(path, media.BLUESKY_IMAGE)
    assert on_bluesky.mime == "image/png" and b"secret" not in on_bluesky.data


def test_what_cannot_be_an_image_is_a_media_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(png(4, 4)[:40])
    with pytest.raises(media.MediaError, match="cannot decode"):
        media.prepare(bad, media.BLUESKY_IMAGE)
    with pytest.raises(media.MediaError, match="not found"):
        media.prepare(tmp_path / "gone.png", media.BLUESKY_IMAGE)


# --- `images:` in front matter --------------------------------------------------------------


def parsed(tmp_path: Path, front: str):
    raw = f"---\ndate: 1928-01-16\ntitle: T\n{front.strip()}\n---\nStory.\n".encode()
    return parse(raw, path="posts/x.md", default_id="x", folder=tmp_path, root=tmp_path)


def errors_of(result) -> list[str]:
    return [p.message for p in result.problems if p.severity == "error"]


def test_images_list_becomes_pictures_and_keeps_the_one_image_fields(tmp_path):
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(png(4, 3))
    result = parsed(
        tmp_path,
        "images:\n  - file: a.png\n    alt: First\n  - {file: b.png, alt: Second}",
    )
    event = result.event
    assert event is not None, result.problems
    assert [(Path(p.path).name, p.alt) for p in event.pictures] == [
        ("a.png", "First"),
        ("b.png", "Second"),
    ]
    assert (Path(event.image).name, event.alt) == ("a.png", "First")


def test_the_image_alt_pair_is_one_picture(tmp_path):
    (tmp_path / "a.png").write_bytes(png(4, 3))
    event = parsed(tmp_path, "image: a.png\nalt: Only one").event
    assert event is not None and event.images == ()
    assert [(Path(p.path).name, p.alt) for p in event.pictures] == [("a.png", "Only one")]


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("images: a.png", "must be a list"),
        ("images: []", "but it is empty"),
        ("images:\n  - a.png", "must be a mapping with 'file' and 'alt'"),
        ("images:\n  - file: a.png", "needs 'alt:' text"),
        ("images:\n  - {file: a.png, alt: ''}", "needs 'alt:' text"),
        (f"images:\n  - {{file: a.png, alt: {'x' * 1501}}}", "alt text is 1501 characters"),
        ("images:\n  - {alt: x}", "needs 'file:'"),
        ("images:\n  - {file: gone.png, alt: x}", "image file not found"),
        ("images:\n  - {file: ../outside.png, alt: x}", "inside the posts folder"),
        ("image: a.png\nalt: x\nimages:\n  - {file: a.png, alt: x}", "not both"),
        ("images:\n" + "  - {file: a.png, alt: x}\n" * (MAX_IMAGES + 1), "at most 4"),
    ],
)
def test_images_list_problems(tmp_path, front, message):
    (tmp_path / "a.png").write_bytes(png(4, 3))
    found = errors_of(parsed(tmp_path, front))
    assert any(message in e for e in found), found


# --- cost -----------------------------------------------------------------------------------


def test_pillow_is_imported_only_for_images(tmp_path):
    write_config(
        tmp_path,
        accounts='[accounts.sky]\nplatform = "bluesky"\nserver = "http://127.0.0.1:9"\n'
        'handle = "a.test"\npassword_env = "NO_SUCH_PASSWORD"\n',
    )
    write_post(tmp_path / "posts", "p.md", "date: 1928-01-16\ntitle: T\nsummary: S")
    config = str(tmp_path / "thisday.toml")
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['thisday', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('PIL', 'PIL' in sys.modules, file=sys.stderr)\n"
    )
    for args in (["--help"], ["check", "--config", config], ["preview", "--config", config]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=ROOT
        )
        assert "PIL False" in done.stderr and "error" not in done.stderr, done.stderr[-800:]
    (tmp_path / "posts" / "a.png").write_bytes(png(4, 3))
    write_post(tmp_path / "posts", "q.md", "date: 1928-01-17\ntitle: T\nimage: a.png\nalt: A")
    done = subprocess.run(
        [sys.executable, "-c", probe, "check", "--config", config],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert "PIL True" in done.stderr  # `check` decodes the image in full (issue 13)


# --- the HTML preview ------------------------------------------------------------------------


def test_html_preview_shows_every_image_and_the_card_thumb(tmp_path):
    import datetime as dt

    from bot.tools import preview_html
    from bot.tools.preview import preview
    from bot.workspace import Workspace

    config = write_config(
        tmp_path,
        accounts='[accounts.masto]\nplatform = "mastodon"\nserver = "https://m.example"\n'
        'token_env = "T"\n\n[accounts.sky]\nplatform = "bluesky"\nserver = "https://b.example"\n'
        'handle = "a.test"\npassword_env = "P"\ncard_image = true\n',
    )
    for name, size in (("a.png", (4, 3)), ("b.png", (5, 2))):
        (tmp_path / "posts" / name).write_bytes(png(*size))
    write_post(
        tmp_path / "posts",
        "p.md",
        """
        date: 1928-01-16
        title: T
        summary: S
        link: https://example.org/x
        images:
          - {file: a.png, alt: First picture}
          - {file: b.png, alt: Second picture}
        """,
        "Thanks @friend.test",
    )
    workspace = Workspace(config)
    result = preview(workspace, dt.date(2027, 1, 16))
    html = preview_html.page(result, workspace.settings)
    mastodon, bluesky = html.split('data-platform="bluesky"', 1)
    assert mastodon.count("data:image/png;base64,") == 2
    assert "First picture" in mastodon and "Second picture" in mastodon
    # Bluesky with card_image: one embed, the card, with the first image as its thumbnail.
    assert bluesky.count("data:image/png;base64,") == 1 and 'class="card"' in bluesky
    assert '<span class="mention">@friend.test</span>' in bluesky
