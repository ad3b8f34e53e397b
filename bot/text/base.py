"""The vocabulary shared by the text modules: a platform's counting rules, a text with its
links, and the one error splitting can raise."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rules:
    platform: str  # "mastodon" | "bluesky"
    limit: int  # max length as the platform counts it
    max_bytes: int | None = None  # bluesky: 3000 UTF-8 bytes; mastodon: None
    url_weight: int = 23  # mastodon: characters_reserved_per_url; unused for bluesky


MASTODON_DEFAULT = Rules("mastodon", 500, None, 23)
BLUESKY_DEFAULT = Rules("bluesky", 300, 3000)


@dataclass(frozen=True, slots=True)
class Link:
    start: int  # str (code point) offsets into the Rich.text it belongs to
    end: int
    uri: str


@dataclass(frozen=True, slots=True)
class Rich:
    text: str
    links: tuple[Link, ...] = ()


class TextTooLong(ValueError):
    """Something that may not be cut (a URL, a grapheme cluster) is longer than a whole part."""


_PLATFORMS = ("mastodon", "bluesky")


def check_platform(rules: Rules) -> None:
    if rules.platform not in _PLATFORMS:
        raise ValueError(f"unknown platform {rules.platform!r}; expected one of {_PLATFORMS}")


def find_all(text: str, needle: str) -> list[int]:
    found = []
    at = text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def end_of_run(run: re.Pattern[str], text: str, pos: int, endpos: int | None = None) -> int:
    """Where a run of `run` (a pattern that also matches nothing) starting at `pos` ends."""
    found = run.match(text, pos, len(text) if endpos is None else endpos)
    assert found is not None  # a `*` pattern matches the empty string
    return found.end()


def range_class(spec: str) -> str:
    """The body of a regex character class for code point ranges written as in bot.text.tables
    ("21-23 25 2c-2f", hexadecimal)."""
    out = []
    for item in spec.split():
        first, _, last = item.partition("-")
        out.append(f"\\U{int(first, 16):08x}" + (f"-\\U{int(last, 16):08x}" if last else ""))
    return "".join(out)
