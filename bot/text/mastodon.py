"""Mastodon's length rule, as the server (app/validators/status_length_validator.rb) and
Mastodon.py's ``get_status_length`` count: grapheme clusters, every http(s) URL found by the
web composer's URL regex weighs ``url_weight``, and ``@user@host`` counts as ``@user``."""

from __future__ import annotations

import re
from functools import cache

from bot.text import tables as text_data
from bot.text.base import find_all

_M_BEFORE = (
    r"(?:[^A-Za-z0-9@\uFF20$#\uFF03\uFFFE\uFEFF\uFFFF]"
    r"|[\u202A-\u202E\u061C\u200E\u200F\u2066\u2067\u2068\u2069]|^)"
)
_M_DOMAIN_CHAR = (
    r"[^/\!'#%&'\(\)*\+,\\\-\.\/:;<=>\?@\[\]\^_{|}~\$//\x09-\x0D\x20\x85\xA0\u1680\u180E"
    r"\u2000-\u200A\u2028\u2029\u202F\u205F\u3000//\uFFFE\uFEFF\uFFFF//\u202A-\u202E\u061C"
    r"\u200E\u200F\u2066\u2067\u2068\u2069/]"
)
_M_LATIN = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263"
    r"\u0268\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_M_PATH_CHAR = r"[a-z\u0400-\u04FF0-9!\*';:=\+,\.\$\/%#\[\]\-\u2013_~@\|&" + _M_LATIN + "]"
_M_PATH_END = r"[\+\-a-z\u0400-\u04FF0-9=_#\/" + _M_LATIN + "]"
_M_QUERY = r"(\?[a-z0-9!?\*'@\(\);:&=\+\$\/%#\[\]\-_\.,~|]*[a-z0-9\-_&=#\/])?"


def _mastodon_url_pattern() -> str:
    dc = _M_DOMAIN_CHAR
    pc = _M_PATH_CHAR
    paren = rf"\((?:{pc}+|(?:{pc}*\({pc}+\){pc}*))\)"
    tld_end = "(?=[^0-9a-zA-Z@+-]|$)"
    gtlds = "|".join(text_data.MASTODON_GTLDS.split())
    cctlds = "|".join(text_data.MASTODON_CCTLDS.split())
    domain = (
        rf"(?:(?:(?:{dc}(?:[_-]|{dc})*)?{dc}\.)*(?:(?:{dc}(?:-|{dc})*)?{dc}\.)"
        rf"(?:(?:(?:{gtlds}){tld_end})|(?:(?:{cctlds}){tld_end})|(?:xn--[\-0-9a-z]+)))"
    )
    path = rf"(\/(?:(?:{pc}*(?:{paren}{pc}*)*{_M_PATH_END}|(?:{paren}))|(?:@{pc}+\/))*)?"
    # group 2: the character before the URL, group 3: the URL (as Mastodon.py numbers them)
    return rf"(({_M_BEFORE})((https?:\/\/)({domain})(?::([0-9]+))?{path}{_M_QUERY}))"


@cache
def mastodon_url_re() -> re.Pattern[str]:
    return re.compile(_mastodon_url_pattern(), re.IGNORECASE)


MASTODON_MENTION = re.compile(r"(^|[^/\w])@(([a-z0-9_]+)@[a-z0-9\.\-]+[a-z0-9]+)", re.IGNORECASE)


def mastodon_urls(text: str) -> list[tuple[int, int]]:
    """Spans of the URLs Mastodon weighs as `url_weight` characters each."""
    return [m.span(3) for m in mastodon_url_matches(text)] if "://" in text else []


def mastodon_url_matches(text: str) -> list[re.Match[str]]:
    """What ``mastodon_url_re().finditer(text)`` yields, without scanning the whole text.

    A match is one character (or the start of the text) and "http(s)" before a "://", so it can
    only begin 4 to 6 characters before one."""
    found: list[re.Match[str]] = []
    pattern = mastodon_url_re()
    done = 0
    for at in find_all(text, "://"):
        if at < done:
            continue
        for start in (at - 6, at - 5, at - 4):
            if start >= done and (m := pattern.match(text, start)) is not None:
                found.append(m)
                done = m.end()
                break
    return found


def mastodon_countable(text: str, url_weight: int) -> str:
    if "://" in text:
        filler = "x" * url_weight
        pieces = []
        pos = 0
        for m in mastodon_url_matches(text):
            pieces.append(text[pos : m.start(3)])
            pieces.append(filler)
            pos = m.end()
        pieces.append(text[pos:])
        text = "".join(pieces)
    if text.count("@") >= 2:
        text = MASTODON_MENTION.sub(r"\1@\3", text)
    return text
