"""Bluesky @mentions: found as the official client finds them (the atproto SDK's offline
detect_mentions is the oracle), as facets with byte offsets, never overlapping a link or a
tag, their DID None until the publisher resolves the handle."""

from __future__ import annotations

import pytest
from atproto_client.utils import detect_mentions as sdk_mentions
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from text_oracles import flat

from bot.text import BLUESKY_DEFAULT, Rules, TextTooLong, facets, prepare, split
from bot.text.mentions import detect_mentions, is_handle

MENTION = "app.bsky.richtext.facet#mention"


def byte_spans(text: str) -> list[tuple[int, int, str]]:
    return [
        (len(text[:start].encode()), len(text[:end].encode()), handle)
        for start, end, handle in detect_mentions(text)
    ]


def oracle(text: str) -> list[tuple[int, int, str]]:
    return [(m.byte_start, m.byte_end, m.handle) for m in sdk_mentions(text)]


# The official client's own vectors (packages/api/tests/rich-text-detection.test.ts).
@pytest.mark.parametrize(
    ("text", "handles"),
    [
        ("no mention", []),
        ("@handle.com middle end", ["handle.com"]),
        ("start @handle.com end", ["handle.com"]),
        ("start middle @handle.com", ["handle.com"]),
        ("@handle.com @handle.com @handle.com", ["handle.com"] * 3),
        ("@full123-chars.test", ["full123-chars.test"]),
        ("not@right", []),
        ("@handle.com!@#$chars", ["handle.com"]),
        ("@handle.com\n@handle.com", ["handle.com"] * 2),
        ("parenthetical (@handle.com)", ["handle.com"]),
        ("\U0001f98b @handle.com \U0001f98b", ["handle.com"]),
        ("@user@mastodon.social is a Mastodon address", []),
        ("@nope.notatld and @-bad.com and @a..com", []),
        ("mail bob@example.com", []),
    ],
)
def test_mentions_as_the_official_client_finds_them(text: str, handles: list[str]) -> None:
    assert [h for *_, h in byte_spans(text)] == handles
    assert byte_spans(text) == oracle(text)


def test_mention_facets_have_no_did_until_published() -> None:
    text = "Photos by @alice.bsky.social \u00e9t\u00e9 (@bob.test) #history"
    found = flat(facets(prepare(text, BLUESKY_DEFAULT)))
    data = text.encode()
    assert [(data[b0:b1].decode(), kind, value) for b0, b1, kind, value in found] == [
        ("@alice.bsky.social", "mention", None),
        ("@bob.test", "mention", None),
        ("#history", "tag", "history"),
    ]


def test_a_mention_inside_a_link_is_part_of_the_link() -> None:
    text = "see https://example.com/(@alice.test) now"
    found = facets(prepare(text, BLUESKY_DEFAULT))
    assert [f["features"][0]["$type"] for f in found] == ["app.bsky.richtext.facet#link"]
    assert oracle(text)  # the SDK alone would overlap them


def test_handle_syntax() -> None:
    assert is_handle("alice.bsky.social") and is_handle("x-1.test")
    assert not is_handle("alice") and not is_handle("a.1com") and not is_handle("a" * 64 + ".com")


# --- properties ----------------------------------------------------------------------------

handles = st.sampled_from(
    [
        "alice.bsky.social",
        "Bob.Test",
        "x.com",
        "a.io",
        "full123-chars.test",
        "-bad.com",
        "a..com",
        "a.c0m",
        "1.com",
        "user",
        "user@host.example",
        "nope.notatld",
        "b.social.",
        "\u00e9t\u00e9.com",
    ]
)
mention_like = st.builds(
    lambda before, handle, after: f"{before}@{handle}{after}",
    st.sampled_from(["", "", "(", "x", "#", "@", "\u3000"]),
    handles,
    st.sampled_from(["", "", ".", "!", ")", ",", "'s", "-", "\U0001f98b", "@x.com"]),
)
others = st.sampled_from(
    [
        "word",
        "caf\u00e9",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "#tag",
        "https://example.com/@alice.test",
        "example.org/(@a.io)",
        "mail@example.com",
        "\u65e5\u672c\u8a9e",
    ]
)
gaps = st.sampled_from([" ", " ", "\n", "\t", "\u00a0", "\u2003", ""])
texts = st.lists(st.tuples(st.one_of(mention_like, others), gaps), max_size=12).map(
    lambda pieces: "".join(a + b for a, b in pieces)
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_detection_agrees_with_the_sdk(text: str) -> None:
    assert byte_spans(text) == oracle(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts | st.text(max_size=40))
def test_mention_facets_are_the_sdk_mentions_outside_links(text: str) -> None:
    rich = prepare(text, BLUESKY_DEFAULT)
    found = facets(rich)
    data = rich.text.encode()
    ends = [0]
    for facet in found:  # sorted, never overlapping, on UTF-8 boundaries
        b0, b1 = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        assert ends[-1] <= b0 < b1 <= len(data)
        data[b0:b1].decode()
        ends.append(b1)
    links = [
        (f["index"]["byteStart"], f["index"]["byteEnd"])
        for f in found
        if f["features"][0]["$type"].endswith("#link")
    ]
    expected = [
        (b0, b1) for b0, b1, _ in oracle(rich.text) if all(b1 <= s or e <= b0 for s, e in links)
    ]
    mine = [
        (f["index"]["byteStart"], f["index"]["byteEnd"])
        for f in found
        if f["features"][0]["$type"] == MENTION
    ]
    assert mine == expected
    assert all(
        f["features"][0]["did"] is None for f in found if f["features"][0]["$type"] == MENTION
    )


@settings(max_examples=100, deadline=None)
@given(text=texts)
@example(text="@alice.bsky.social @b.social.-word example.org/(@a.io) ")  # no space after "."
@example(text="@full123-chars.test@x.commail@example.com mail@example.com ")  # no cut before "@"
@example(text="word mail@example.com @x.com @nope.notatldhttps://example.com/@alice.test ")
def test_a_split_never_cuts_a_mention(text: str) -> None:
    rules = Rules("bluesky", 40, 3000)
    rich = prepare(text, rules)
    try:
        parts = split(rich, rules)
    except TextTooLong:
        return
    whole = sorted(h for *_, h in detect_mentions(rich.text))
    assert sorted(h for part in parts for *_, h in detect_mentions(part.text)) == whole
