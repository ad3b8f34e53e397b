"""Pure text rules, a leaf package (no I/O, nothing imported from the rest of `bot`).

- `base`: a platform's counting `Rules`, a `Rich` text with its `Link`s, `TextTooLong`.
- `clusters`: grapheme clusters and UTF-8 length; `counting`: `length`/`fits` per platform.
- `mastodon`: Mastodon's URL and mention rules; `bluesky`: the official client's link and tag
  detection; `urls`: the app's short display of a link (WHATWG parsing by ada-url);
  `richtext`: Bluesky rich text (the links as shown, and the facets).
- `sentences`: where sentences end, in the post's language (sentencex, loaded on first use).
- `splitting`: splitting a story into the fewest parts that fit, balanced.
- `tables`: generated data (TLD lists, Unicode punctuation).

The rules are mirrored from the platforms; each module says where its rule comes from.
"""

from __future__ import annotations

from bot.text.base import BLUESKY_DEFAULT, MASTODON_DEFAULT, Link, Rich, Rules, TextTooLong
from bot.text.clusters import count_graphemes, graphemes, utf8_length
from bot.text.counting import fits, length
from bot.text.mastodon import mastodon_urls
from bot.text.richtext import facets, prepare
from bot.text.sentences import sentence_ends
from bot.text.splitting import split
from bot.text.urls import short_url

__all__ = [
    "BLUESKY_DEFAULT",
    "MASTODON_DEFAULT",
    "Link",
    "Rich",
    "Rules",
    "TextTooLong",
    "count_graphemes",
    "facets",
    "fits",
    "graphemes",
    "length",
    "mastodon_urls",
    "prepare",
    "sentence_ends",
    "short_url",
    "split",
    "utf8_length",
    "warm_up",
]


def warm_up() -> None:
    """Build the large patterns and tables now rather than on the first text that needs them
    (the hashtag patterns, the grapheme joiners, Bluesky's TLDs)."""
    from bot.text.bluesky import bluesky_tlds, tag_patterns
    from bot.text.clusters import joiner

    joiner()
    tag_patterns()
    bluesky_tlds()
