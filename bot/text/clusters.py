"""Extended grapheme clusters (UAX #29) and UTF-8 length, with an ASCII fast path (the common
case never loads the segmenter)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache

ASCII_CLUSTER = re.compile(r"\r\n|[\s\S]")


@cache
def segmenter() -> Callable[[str], Iterator[str]]:
    # Imported on first use: ASCII text, the common case, never needs it.
    from wcwidth import iter_graphemes

    return iter_graphemes


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters (UAX #29) of ``text``."""
    if text.isascii():
        return list(text) if "\r\n" not in text else ASCII_CLUSTER.findall(text)
    return list(segmenter()(text))


def count_graphemes(text: str) -> int:
    if text.isascii():
        return len(text) - text.count("\r\n")
    return len(list(segmenter()(text)))


def utf8_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
