"""Mastodon's length rule, as the server (app/validators/status_length_validator.rb) and
Mastodon.py's ``get_status_length`` count: grapheme clusters, every http(s) URL found by the
web composer's URL regex weighs ``url_weight``, and ``@user@host`` counts as ``@user``."""

from __future__ import annotations

import re
from functools import cache

from bot.text import tables as text_data
from bot.text.base import end_of_run, find_all

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


_M_LABELS = rf"(?:(?:{_M_DOMAIN_CHAR}(?:[_-]|{_M_DOMAIN_CHAR})*)?{_M_DOMAIN_CHAR}\.)*"
_M_LAST_LABEL = rf"(?:(?:{_M_DOMAIN_CHAR}(?:-|{_M_DOMAIN_CHAR})*)?{_M_DOMAIN_CHAR}\.)"
_M_TLD_END = "(?=[^0-9a-zA-Z@+-]|$)"
_M_PAREN = rf"\((?:{_M_PATH_CHAR}+|(?:{_M_PATH_CHAR}*\({_M_PATH_CHAR}+\){_M_PATH_CHAR}*))\)"
_M_PATH = (
    rf"(\/(?:(?:{_M_PATH_CHAR}*(?:{_M_PAREN}{_M_PATH_CHAR}*)*{_M_PATH_END}|(?:{_M_PAREN}))"
    rf"|(?:@{_M_PATH_CHAR}+\/))*)?"
)
_M_AFTER_HOST = rf"(?::([0-9]+))?{_M_PATH}{_M_QUERY}"


def _mastodon_url_pattern() -> str:
    """Mastodon.py's URL regex, character for character (a test compares the two)."""
    gtlds = "|".join(text_data.MASTODON_GTLDS.split())
    cctlds = "|".join(text_data.MASTODON_CCTLDS.split())
    tld = rf"(?:(?:(?:{gtlds}){_M_TLD_END})|(?:(?:{cctlds}){_M_TLD_END})|(?:xn--[\-0-9a-z]+))"
    domain = f"(?:{_M_LABELS}{_M_LAST_LABEL}{tld})"
    # group 2: the character before the URL, group 3: the URL (as Mastodon.py numbers them)
    return rf"(({_M_BEFORE})((https?:\/\/)({domain}){_M_AFTER_HOST}))"


@cache
def mastodon_url_re() -> re.Pattern[str]:
    """The whole regex. Compiling its ~1,600 case-insensitive TLD alternatives takes ~30 ms,
    so `mastodon_urls` uses it only for hosts it cannot decide by itself."""
    return re.compile(_mastodon_url_pattern(), re.IGNORECASE)


MASTODON_MENTION = re.compile(r"(^|[^/\w])@(([a-z0-9_]+)@[a-z0-9\.\-]+[a-z0-9]+)", re.IGNORECASE)

# The same regex in pieces, without the TLD alternatives: a TLD is looked up in a set.
_HEAD = re.compile(rf"{_M_BEFORE}(https?:\/\/)", re.IGNORECASE)
_LABEL_RUN = re.compile(_M_LABELS, re.IGNORECASE)
_TLD_END = re.compile(_M_TLD_END, re.IGNORECASE)
_PUNYCODE_TLD = re.compile(r"xn--[\-0-9a-z]+", re.IGNORECASE)
_ASCII_ALNUM_RUN = re.compile(r"[0-9A-Za-z]*")
# The only non-ASCII code points that case-insensitive matching takes for ASCII letters
# (dotted capital I, dotless i, long s, Kelvin sign; a test checks every code point).
FOLDS_TO_ASCII = frozenset("\u0130\u0131\u017f\u212a")


@cache
def _after_host() -> re.Pattern[str]:
    """Port, path and query (~4 ms to compile: only once a URL is found)."""
    return re.compile(_M_AFTER_HOST, re.IGNORECASE)


@cache
def _tld_tables() -> tuple[frozenset[str], frozenset[str]]:
    """The ASCII TLDs, and the ASCII beginnings of TLDs that go on in other letters
    ("verm" of "vermögensberater")."""
    tlds = (text_data.MASTODON_GTLDS + " " + text_data.MASTODON_CCTLDS).split()
    ascii_tlds = frozenset(t for t in tlds if t.isascii())
    heads = set()
    for tld in tlds:
        head = _ASCII_ALNUM_RUN.match(tld)
        if head is not None and 0 < head.end() < len(tld):
            heads.add(tld[: head.end()])
    return ascii_tlds, frozenset(heads)


class _Undecided(Exception):
    """A host whose TLD may hold letters beyond ASCII: only the whole regex can tell."""


def mastodon_urls(text: str) -> list[tuple[int, int]]:
    """Spans of the URLs Mastodon weighs as `url_weight` characters each: group 3 of
    ``mastodon_url_re().finditer(text)``, found without scanning the whole text and, for hosts
    with an ASCII TLD (nearly all), without the whole regex.

    A match is one character (or the start of the text) and "http(s)" before a "://", so it can
    only begin 4 to 6 characters before one."""
    found: list[tuple[int, int]] = []
    done = 0
    for at in find_all(text, "://"):
        if at < done:
            continue
        for start in (at - 6, at - 5, at - 4):
            if start < done:
                continue
            try:
                span = _url_at(text, start)
            except _Undecided:
                whole = mastodon_url_re().match(text, start)
                span = None if whole is None else whole.span(3)
            if span is not None:
                found.append(span)
                done = span[1]
                break
    return found


def _url_at(text: str, start: int) -> tuple[int, int] | None:
    """What ``mastodon_url_re().match(text, start)`` finds, as the span of its group 3.

    The domain is labels ending in dots, then a TLD. The regex takes as many labels as it can,
    then gives them back one at a time until a TLD follows, and the rest of the URL (port,
    path, query) is optional: the first place with a TLD ends the host."""
    head = _HEAD.match(text, start)
    if head is None:
        return None
    host = head.end()
    dots = find_all(text[host : end_of_run(_LABEL_RUN, text, host)], ".")
    for n in range(len(dots) - 1, -1, -1):
        label = text[host + dots[n - 1] + 1 if n else host : host + dots[n]]
        if "_" in label:  # allowed in the labels before, not in the one just before the TLD
            continue
        tld_end = _tld_end(text, host + dots[n] + 1)
        if tld_end is not None:
            return head.start(1), end_of_run(_after_host(), text, tld_end)
    return None


def _tld_end(text: str, at: int) -> int | None:
    """Where a TLD starting at `at` ends, if one does (the regex's TLD alternatives)."""
    if not text[at : at + 1].isascii():
        raise _Undecided
    ascii_tlds, heads = _tld_tables()
    word_end = end_of_run(_ASCII_ALNUM_RUN, text, at)
    word = text[at:word_end].lower()
    after = text[word_end : word_end + 1]
    if not after.isascii() and (after in FOLDS_TO_ASCII or word in heads):
        raise _Undecided
    # An ASCII TLD is letters only and must be followed by no letter or digit: the whole run.
    if word in ascii_tlds and _TLD_END.match(text, word_end):
        return word_end
    punycode = _PUNYCODE_TLD.match(text, at)
    return None if punycode is None else punycode.end()


def mastodon_countable(text: str, url_weight: int) -> str:
    if "://" in text:
        filler = "x" * url_weight
        pieces = []
        pos = 0
        for start, end in mastodon_urls(text):
            pieces.append(text[pos:start])
            pieces.append(filler)
            pos = end
        pieces.append(text[pos:])
        text = "".join(pieces)
    if text.count("@") >= 2:
        text = MASTODON_MENTION.sub(r"\1@\3", text)
    return text
