"""Bluesky link and tag detection as the official client does it: ``detectFacets`` of
``@atproto/api`` (rich-text/detection.ts and util.ts), as ported by the Python SDK
``atproto_client.utils.facet_detection`` and checked against the official test vectors."""

from __future__ import annotations

import re
from functools import cache

from bot.text import tables as text_data
from bot.text.base import end_of_run, find_all, range_class
from bot.text.clusters import count_graphemes

# JavaScript's \s, which the official regexes use (Python's \s differs).
JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_TAG_ZERO_WIDTH = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_MAX_TAG_GRAPHEMES = 64


@cache
def _punct_class() -> str:
    # \p{P} as of Unicode 16, the set the SDK ports; written as a character-class body.
    return range_class(text_data.PUNCT_RANGES)


# Patterns that open with a literal are found by a fast scan; an alternation would not be.
_DOT_HINT = re.compile(r"\.[A-Za-z0-9]")
_NOT_S_RUN = re.compile(f"[^{JS_SPACE}]*")


_LAST_S = re.compile(f"[\\s\\S]*[{JS_SPACE}]")
_URL_BODY = re.compile(
    f"(https?://[^{JS_SPACE}]+)|((?P<domain>[a-z][a-z0-9]*(\\.[a-z0-9]+)+)[^{JS_SPACE}]*)",
    re.IGNORECASE | re.ASCII,
)
_S_CHARS = frozenset("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)


@cache
def tag_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    p = _punct_class()
    zw = _TAG_ZERO_WIDTH
    body = re.compile(f"(?!\ufe0f)[^{JS_SPACE}{zw}]*[^0-9{JS_SPACE}{p}{zw}]+[^{JS_SPACE}{zw}]*")
    trailing = re.compile(f"[{p}]+\\Z")
    cashtag = re.compile(f"[A-Za-z][A-Za-z0-9]{{0,4}}(?=[{JS_SPACE}]|\\Z|[.,;:!?)\"'\u2019])")
    return body, trailing, cashtag


@cache
def bluesky_tlds() -> frozenset[str]:
    return frozenset(text_data.BLUESKY_TLDS.split())


def _is_valid_domain(domain: str) -> bool:
    _, dot, tld = domain.rpartition(".")
    return bool(dot) and tld in bluesky_tlds()


def _url_hints(text: str) -> list[int]:
    hints = [m.start() for m in _DOT_HINT.finditer(text)]
    if "://" in text:
        hints += find_all(text, "://")
        hints.sort()
    return hints


def detect_links(text: str) -> list[tuple[int, int, str]]:
    """(start, end, uri) of each link, as ``detectFacets`` finds them."""
    found: list[tuple[int, int, str]] = []
    n = len(text)
    scanned = 0
    # The official regex needs "://" or a dot before an alphanumeric; every match lies inside
    # one whitespace-delimited token and consumes it, so only tokens holding a hint are read.
    for hint in _url_hints(text):
        if hint < scanned:
            continue
        m = _LAST_S.match(text, scanned, hint)
        token_start = m.end() if m else scanned
        token_end = end_of_run(_NOT_S_RUN, text, hint)
        scanned = token_end
        starts = [token_start]
        p = text.find("(", token_start, token_end)
        while p != -1:
            starts.append(p + 1)
            p = text.find("(", p + 1, token_end)
        for start in starts:
            body = _URL_BODY.match(text, start, n)
            if body is None:
                continue
            uri = body.group(0)
            end = body.end()
            if not uri.startswith(("http://", "https://")):
                domain = body.group("domain")
                if not domain or not _is_valid_domain(domain):
                    break
                uri = "https://" + uri
            if uri[-1] in ".,;:!?":
                uri = uri[:-1]
                end -= 1
            if uri.endswith(")") and "(" not in uri:
                uri = uri[:-1]
                end -= 1
            found.append((start, end, uri))
            break
    return found


def detect_tags(text: str) -> list[tuple[int, int, str]]:
    """(start, end, tag) of each #tag and $cashtag, as ``detectFacets`` finds them."""
    found: list[tuple[int, int, str]] = []
    if "#" not in text and "\uff03" not in text and "$" not in text:
        return found
    body_re, trailing_re, cashtag_re = tag_patterns()
    for mark in re.finditer("[#\uff03$]", text):
        h = mark.start()
        before = text[h - 1] if h else ""
        if mark.group() == "$":
            if h and before not in _S_CHARS and before != "(":
                continue
            ticker = cashtag_re.match(text, h + 1)
            if ticker:
                found.append((h, ticker.end(), "$" + ticker.group().upper()))
            continue
        if h and before not in _S_CHARS:
            continue
        body = body_re.match(text, h + 1)
        if body is None:
            continue
        tag = trailing_re.sub("", body.group())
        if not tag or (len(tag) > _MAX_TAG_GRAPHEMES and count_graphemes(tag) > _MAX_TAG_GRAPHEMES):
            continue
        found.append((h, h + 1 + len(tag), tag))
    return found
