"""Independent oracles for bot.text, shared by its example and property tests (test-only
dependencies): the `regex` module's \\X for grapheme clusters, Mastodon.py's
get_status_length for Mastodon lengths, the atproto SDK's offline detect_facets for Bluesky."""

from __future__ import annotations

import types

import regex
from atproto_client import models
from atproto_client.utils import detect_facets, detect_mentions
from mastodon import Mastodon
from mastodon import utility as mastodon_utility


def clusters(s: str) -> list[str]:
    return regex.findall(r"\X", s)


def mastodon_length(s: str) -> int:
    """Mastodon.py's get_status_length, with regex's \\X in place of the `grapheme` package."""
    saved = mastodon_utility.IMPL_HAS_GRAPHEME, mastodon_utility.grapheme
    mastodon_utility.IMPL_HAS_GRAPHEME = True
    mastodon_utility.grapheme = types.SimpleNamespace(length=lambda x: len(clusters(x)))
    try:
        return Mastodon.get_status_length(s)
    finally:
        mastodon_utility.IMPL_HAS_GRAPHEME, mastodon_utility.grapheme = saved


def sdk_facets(s: str) -> list[tuple[int, int, str, str | None]]:
    """Links, tags and mentions (their DID None: unresolved) as the SDK finds them offline."""
    out: list[tuple[int, int, str, str | None]] = [
        (m.byte_start, m.byte_end, "mention", None) for m in detect_mentions(s)
    ]
    for facet in detect_facets(s):
        feature = facet.features[0]
        if isinstance(feature, models.AppBskyRichtextFacet.Link):
            out.append((facet.index.byte_start, facet.index.byte_end, "link", feature.uri))
        else:
            out.append((facet.index.byte_start, facet.index.byte_end, "tag", feature.tag))
    return sorted(out, key=lambda f: f[0])


def flat(found: list[dict]) -> list[tuple[int, int, str, str | None]]:
    """Our facets in the same flat shape as sdk_facets."""
    out = []
    for facet in found:
        feature = facet["features"][0]
        kind = feature["$type"].rpartition("#")[2]
        value = {"link": "uri", "tag": "tag", "mention": "did"}[kind]
        value = feature[value]
        out.append((facet["index"]["byteStart"], facet["index"]["byteEnd"], kind, value))
    return out
