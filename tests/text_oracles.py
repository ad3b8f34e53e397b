"""Independent oracles for bot.text, shared by its example and property tests (test-only
dependencies): the `regex` module's \\X for grapheme clusters, Mastodon.py's
get_status_length for Mastodon lengths, the atproto SDK's offline detect_facets for Bluesky."""

from __future__ import annotations

import types

import regex
from atproto_client import models
from atproto_client.utils import detect_facets
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


def sdk_facets(s: str) -> list[tuple[int, int, str, str]]:
    out = []
    for facet in detect_facets(s):
        feature = facet.features[0]
        if isinstance(feature, models.AppBskyRichtextFacet.Link):
            out.append((facet.index.byte_start, facet.index.byte_end, "link", feature.uri))
        else:
            out.append((facet.index.byte_start, facet.index.byte_end, "tag", feature.tag))
    return out


def flat(found: list[dict]) -> list[tuple[int, int, str, str]]:
    """Our facets in the same flat shape as sdk_facets."""
    out = []
    for facet in found:
        feature = facet["features"][0]
        kind = "link" if feature["$type"].endswith("#link") else "tag"
        value = feature["uri"] if kind == "link" else feature["tag"]
        out.append((facet["index"]["byteStart"], facet["index"]["byteEnd"], kind, value))
    return out
