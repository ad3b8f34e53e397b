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
    if rules.max_bytes is not None and utf8_length(text) + reserve > rules.max_bytes:
        return False
    return length(text, rules) + reserve <= rules.limit
