"""Bluesky rich text: links shown as the official app shows them (the full URI kept in the
Link), and app.bsky.richtext.facet dicts with UTF-8 byte offsets."""

from __future__ import annotations

from typing import Any

from bot.text.base import Link, Rich, Rules, check_platform
from bot.text.bluesky import detect_links, detect_tags
from bot.text.clusters import utf8_length
from bot.text.mentions import detect_mentions
from bot.text.urls import short_url


def prepare(text: str, rules: Rules) -> Rich:
    """Bluesky: detect links as the official client does and show each in the app's short form,
    keeping the full URI in the Link. Mastodon: the text unchanged (the server links URLs)."""
    check_platform(rules)
    if rules.platform == "mastodon":
        return Rich(text)
    detected = detect_links(text)
    if not detected:
        return Rich(text)
    pieces: list[str] = []
    links: list[Link] = []
    pos = 0
    out = 0
    for start, end, uri in detected:
        pieces.append(text[pos:start])
        out += start - pos
        visible = text[start:end]
        # shortenLinks reads the link's visible text, so a bare domain (no scheme) stays as is.
        shown = short_url(visible) if visible.startswith(("http://", "https://")) else visible
        pieces.append(shown)
        links.append(Link(out, out + len(shown), uri))
        out += len(shown)
        pos = end
    pieces.append(text[pos:])
    return Rich("".join(pieces), tuple(links))


_LINK_TYPE = "app.bsky.richtext.facet#link"
_TAG_TYPE = "app.bsky.richtext.facet#tag"
_MENTION_TYPE = "app.bsky.richtext.facet#mention"


def facets(rich: Rich) -> list[dict[str, Any]]:
    """app.bsky.richtext.facet dicts: ``rich.links`` plus @mentions and #tags/$cashtags
    detected in the text, with UTF-8 byte offsets, sorted and never overlapping (links win,
    then mentions). A mention's ``did`` is None: the publisher resolves the handle."""
    text = rich.text
    if (
        not rich.links
        and "#" not in text
        and "$" not in text
        and "\uff03" not in text
        and "@" not in text
    ):
        return []
    n = len(text)
    spans: list[tuple[int, int, dict[str, Any]]] = []
    for link in sorted(rich.links, key=lambda k: (k.start, k.end)):
        if not 0 <= link.start < link.end <= n:
            if link.start == link.end and 0 <= link.start <= n:
                continue
            raise ValueError(f"link {link} lies outside a text of {n} characters")
        spans.append((link.start, link.end, {"$type": _LINK_TYPE, "uri": link.uri}))
    kept: list[tuple[int, int, dict[str, Any]]] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    for start, end, _handle in detect_mentions(text):
        if not _overlaps(kept, start, end):
            kept.append((start, end, {"$type": _MENTION_TYPE, "did": None}))
    for start, end, tag in detect_tags(text):
        if not _overlaps(kept, start, end):
            kept.append((start, end, {"$type": _TAG_TYPE, "tag": tag}))
    kept.sort(key=lambda s: s[0])
    return [
        {"index": {"byteStart": b0, "byteEnd": b1}, "features": [feature]}
        for (b0, b1), (_, _, feature) in zip(_byte_offsets(text, kept), kept, strict=True)
    ]


def _overlaps(spans: list[tuple[int, int, dict[str, Any]]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e, _ in spans)


def _byte_offsets(text: str, spans: list[tuple[int, int, dict[str, Any]]]) -> list[tuple[int, int]]:
    if text.isascii():
        return [(s, e) for s, e, _ in spans]
    out: list[tuple[int, int]] = []
    pos = 0
    byte = 0
    for s, e, _ in spans:
        byte += utf8_length(text[pos:s])
        b0 = byte
        byte += utf8_length(text[s:e])
        out.append((b0, byte))
        pos = e
    return out
