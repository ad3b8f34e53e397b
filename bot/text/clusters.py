"""Extended grapheme clusters (UAX #29) and UTF-8 length, with a fast path for text in which no
code point joins another (the common case, in most scripts, never loads the segmenter)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache

# A cluster of text without joining code points: a CR LF pair, or any one code point.
_SIMPLE_CLUSTER = re.compile(r"\r\n|[\s\S]")


@cache
def segmenter() -> Callable[[str], Iterator[str]]:
    # Imported on first use: text without joining code points, the common case, never needs it.
    from wcwidth import iter_graphemes

    return iter_graphemes


@cache
def joiner() -> re.Pattern[str]:
    """A code point that may join a neighbour into one cluster (a combining mark, a joiner,
    a Hangul jamo or syllable, a regional indicator...): text without any, as most Latin, Greek,
    Cyrillic and CJK text is, has one cluster per code point (a CR LF pair aside)."""
    from bot.text import tables
    from bot.text.base import range_class

    return re.compile(f"[{range_class(tables.GRAPHEME_JOINERS)}]")


def _simple(text: str) -> bool:
    """One cluster per code point (a CR LF pair aside): the segmenter is not needed."""
    return text.isascii() or joiner().search(text) is None


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters (UAX #29) of ``text``."""
    if _simple(text):
        return list(text) if "\r\n" not in text else _SIMPLE_CLUSTER.findall(text)
    return list(segmenter()(text))


def count_graphemes(text: str) -> int:
    if _simple(text):
        return len(text) - text.count("\r\n")
    return len(list(segmenter()(text)))


def utf8_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
