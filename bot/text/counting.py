"""Length as each platform counts it, and whether a text fits a part."""

from __future__ import annotations

from bot.text.base import Rules, check_platform
from bot.text.clusters import count_graphemes, utf8_length
from bot.text.mastodon import mastodon_countable


def length(text: str, rules: Rules) -> int:
    """Length of ``text`` as ``rules.platform`` counts it against ``rules.limit``."""
    check_platform(rules)
    if rules.platform == "mastodon":
        return count_graphemes(mastodon_countable(text, rules.url_weight))
    return count_graphemes(text)


def fits(text: str, rules: Rules, reserve: int = 0) -> bool:
    # Cheap upper bounds first, as most texts are well within both limits: a code point is
    # at most one grapheme and 4 bytes, and a Mastodon URL weighs url_weight at most more
    # than its own length (every URL has a "://").
    check_platform(rules)
    size = len(text)
    if (
        rules.max_bytes is not None
        and 4 * size + reserve > rules.max_bytes
        and utf8_length(text) + reserve > rules.max_bytes
    ):
        return False
    bound = size + (text.count("://") * rules.url_weight if rules.platform == "mastodon" else 0)
    if bound + reserve <= rules.limit:
        return True
    return length(text, rules) + reserve <= rules.limit
