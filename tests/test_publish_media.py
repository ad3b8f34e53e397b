"""Several images, the card's thumbnail and Bluesky mentions, published for real on loopback
(a real atproto PDS and mastodon-mock) and read back as followers get them: the image bytes
from the PDS (com.atproto.sync.getBlob) and from the simulator's media URL."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import pytest
import test_publish
from PIL import Image
from support import write_post
from test_publish import World

pytestmark = pytest.mark.servers
world = test_publish.world  # the fixture: a config with both networks on loopback

DAY = "2027-01-17"
SECRETS = (b"48/1", b"SERIAL-8841", b"our back garden", b"Canon", b"xmpmeta")


def photo(path: Path, kind: str, size: tuple[int, int], orientation: int) -> None:
    """A picture as a phone leaves it: EXIF with the GPS position, the camera and its serial,
    the orientation tag, a comment and XMP."""
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((40, 40, 200), (0, 0, size[0] // 2, size[1] // 3))  # shows which way is up
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Canon"
    exif[0x9286] = "our back garden"  # UserComment lives in the Exif IFD; this is enough
    exif.get_ifd(0x8769)[0xA431] = "SERIAL-8841"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 1.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">Canon at 48/1</x:xmpmeta>'
    if kind == "JPEG":
        image.save(path, "JPEG", exif=exif, comment=b"our back garden", xmp=xmp, quality=90)
    else:
        image.save(path, "PNG", exif=exif)
    reread = Image.open(path)
    assert reread.getexif().get_ifd(0x8825), "the test image carries a GPS position"


def assert_clean(data: bytes, width: int, height: int) -> None:
    """No metadata at all, the orientation applied to the pixels."""
    image = Image.open(io.BytesIO(data))
    assert image.size == (width, height)
    assert not dict(image.getexif()), dict(image.getexif())
    assert not {"exif", "comment", "xmp", "XML:com.adobe.xmp"} & set(image.info)
    for secret in SECRETS:
        assert secret not in data, secret
    # Orientation 6 (turn 90° clockwise to view): the blue top-left block ends up top right.
    rgb = image.convert("RGB")
    assert rgb.getpixel((width - 3, 3))[2] > 150 and rgb.getpixel((3, 3))[0] > 150


def two_image_post(world: World) -> None:
    folder = world.folder / "posts" / "01"
    photo(folder / "garden.jpg", "JPEG", (300, 200), orientation=6)
    photo(folder / "plan.png", "PNG", (240, 160), orientation=6)
    write_post(
        world.folder / "posts",
        "01/two-pictures.md",
        """
        date: 1928-01-17
        title: A test event with two pictures
        summary: The pictures show a test pattern.
        link: https://example.org/about
        images:
          - file: garden.jpg
            alt: A red test card, a blue block in one corner
          - {file: plan.png, alt: "The same pattern again, smaller"}
        """,
        "One more paragraph to make a reply.",
    )


def test_two_images_arrive_on_both_networks_with_alt_text_and_no_metadata(world: World):
    two_image_post(world)
    preview = world.preview(DAY)
    (sky_post,) = [p for p in preview["posts"] if p["account"] == "sky"]
    assert [i["alt"] for i in sky_post["images"]] == [
        "A red test card, a blue block in one corner",
        "The same pattern again, smaller",
    ]
    assert sky_post["image"]["alt"] == "A red test card, a blue block in one corner"

    code, _, stderr = world.publish(day=DAY)
    assert code == 0, stderr

    (head,) = [s for s in world.mastodon_statuses() if s["in_reply_to_id"] is None]
    media = head["media_attachments"]
    assert [m["description"] for m in media] == [i["alt"] for i in sky_post["images"]]
    sizes = [(200, 300), (160, 240)]
    for attachment, (width, height) in zip(media, sizes, strict=True):
        assert_clean(httpx.get(attachment["url"]).content, width, height)

    record = next(r for r in world.bsky_records() if "reply" not in r["value"])
    embed = record["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"  # images win over the link card
    assert [i["alt"] for i in embed["images"]] == [i["alt"] for i in sky_post["images"]]
    assert [i["aspectRatio"] for i in embed["images"]] == [
        {"width": w, "height": h} for w, h in sizes
    ]
    for image, (width, height) in zip(embed["images"], sizes, strict=True):
        blob = httpx.get(
            f"{world.pds_url}/xrpc/com.atproto.sync.getBlob",
            params={"did": world.bsky_did, "cid": image["image"]["ref"]["$link"]},
        )
        assert blob.status_code == 200
        assert image["image"]["size"] == len(blob.content) <= 2_000_000
        assert_clean(blob.content, width, height)


def test_card_image_puts_the_first_image_in_the_link_card(world: World):
    world.config.write_text(
        world.config.read_text().replace(
            'platform = "bluesky"\n', 'platform = "bluesky"\ncard_image = true\n', 1
        )
    )
    two_image_post(world)
    (post,) = [p for p in world.preview(DAY)["posts"] if p["account"] == "sky"]
    assert post["card"]["uri"] == "https://example.org/about"
    assert post["card"]["thumb"].endswith("garden.jpg")

    code, _, stderr = world.publish(day=DAY)
    assert code == 0, stderr
    record = next(r for r in world.bsky_records() if "reply" not in r["value"])
    embed = record["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    assert embed["external"]["uri"] == "https://example.org/about"
    thumb = embed["external"]["thumb"]
    assert thumb["mimeType"] == "image/jpeg" and thumb["size"] <= 1_000_000
    blob = httpx.get(
        f"{world.pds_url}/xrpc/com.atproto.sync.getBlob",
        params={"did": world.bsky_did, "cid": thumb["ref"]["$link"]},
    )
    assert_clean(blob.content, 200, 300)
    # Mastodon makes its own card: both images are attached there as usual.
    (head,) = [s for s in world.mastodon_statuses() if s["in_reply_to_id"] is None]
    assert len(head["media_attachments"]) == 2


def test_mention_carries_the_did_of_another_account_and_an_unknown_handle_stays_text(
    world: World, pds
):
    friend = pds.new_account()
    write_post(
        world.folder / "posts",
        "01/mention.md",
        """
        date: 1928-01-17
        title: A test event that names someone
        summary: Told to us by a friend.
        """,
        f"Thanks to @{friend.handle} for the photos, and to @nobody-{friend.handle[1:]} too.",
    )
    (post,) = [p for p in world.preview(DAY)["posts"] if p["account"] == "sky"]
    mentions = [
        f
        for part in post["parts"]
        for f in part["facets"]
        if f["features"][0]["$type"] == "app.bsky.richtext.facet#mention"
    ]
    assert len(mentions) == 2 and all(f["features"][0]["did"] is None for f in mentions)

    code, _, stderr = world.publish(day=DAY)
    assert code == 0, stderr
    assert re.search(rf"@nobody-{re.escape(friend.handle[1:])} does not resolve", stderr), stderr
    found = []
    for record in world.bsky_records():
        value = record["value"]
        for facet in value.get("facets", []):
            feature = facet["features"][0]
            if feature["$type"] == "app.bsky.richtext.facet#mention":
                index = facet["index"]
                shown = value["text"].encode()[index["byteStart"] : index["byteEnd"]].decode()
                found.append((shown, feature["did"]))
    assert found == [(f"@{friend.handle}", friend.did)]
    # The DID is kept in the state folder with an expiry: the next day needs no lookup.
    cache = (world.folder / "state" / "cache" / "handles.json").read_text()
    assert friend.did in cache
    lookups = pds.faults.count("com.atproto.identity.resolveHandle")
    assert lookups >= 2  # the friend and the unknown handle, once each
    write_post(
        world.folder / "posts",
        "01/mention-again.md",
        "date: 1928-01-18\ntitle: Another test event\nsummary: Again.",
        f"Thanks again to @{friend.handle}.",
    )
    code, _, stderr = world.publish(day="2027-01-18")
    assert code == 0, stderr
    assert pds.faults.count("com.atproto.identity.resolveHandle") == lookups
    again = [r for r in world.bsky_records() if friend.handle in r["value"]["text"]][-1]
    assert [f["features"][0].get("did") for f in again["value"]["facets"]] == [friend.did]
