"""Post text for Mastodon and Bluesky: length as each platform counts it, splitting a story into
parts that fit, and Bluesky rich-text facets.

Pure and offline: imports only the stdlib and (lazily) ``wcwidth`` for grapheme clusters. The
rules mirrored here and where they come from:

* Mastodon length: Mastodon.py ``get_status_length`` (the web composer's URL regex, every
  http(s) URL weighs ``url_weight``, ``@user@host`` counts as ``@user``), grapheme clusters.
* Bluesky link/tag detection: ``detectFacets`` of ``@atproto/api`` (rich-text/detection.ts and
  util.ts) as ported by the Python SDK ``atproto_client.utils.facet_detection``.
* Bluesky link display: the official app's ``shortenLinks`` / ``toShortUrl``
  (social-app src/lib/strings/rich-text-manip.ts and url-helpers.ts), which reads the link's
  visible text with the WHATWG URL parser.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate
from typing import Any

from bot.text import tables as text_data

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
    "short_url",
    "split",
    "utf8_length",
    "warm_up",
]


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


def _check_platform(rules: Rules) -> None:
    if rules.platform not in _PLATFORMS:
        raise ValueError(f"unknown platform {rules.platform!r}; expected one of {_PLATFORMS}")


# ---------------------------------------------------------------------------------------------
# Grapheme clusters
# ---------------------------------------------------------------------------------------------

_ASCII_CLUSTER = re.compile(r"\r\n|[\s\S]")


@cache
def _segmenter() -> Callable[[str], Iterator[str]]:
    # Imported on first use: ASCII text, the common case, never needs it.
    from wcwidth import iter_graphemes

    return iter_graphemes


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters (UAX #29) of ``text``."""
    if text.isascii():
        return list(text) if "\r\n" not in text else _ASCII_CLUSTER.findall(text)
    return list(_segmenter()(text))


def count_graphemes(text: str) -> int:
    if text.isascii():
        return len(text) - text.count("\r\n")
    return len(list(_segmenter()(text)))


def utf8_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _parse_ranges(spec: str) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for item in spec.split():
        first, _, last = item.partition("-")
        starts.append(int(first, 16))
        ends.append(int(last or first, 16))
    return starts, ends


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
def _mastodon_url_re() -> re.Pattern[str]:
    return re.compile(_mastodon_url_pattern(), re.IGNORECASE)


_MASTODON_MENTION = re.compile(r"(^|[^/\w])@(([a-z0-9_]+)@[a-z0-9\.\-]+[a-z0-9]+)", re.IGNORECASE)


def mastodon_urls(text: str) -> list[tuple[int, int]]:
    """Spans of the URLs Mastodon weighs as `url_weight` characters each."""
    return [m.span(3) for m in _mastodon_urls(text)] if "://" in text else []


def _mastodon_urls(text: str) -> list[re.Match[str]]:
    """What ``_mastodon_url_re().finditer(text)`` yields, without scanning the whole text.

    A match is one character (or the start of the text) and "http(s)" before a "://", so it can
    only begin 4 to 6 characters before one."""
    found: list[re.Match[str]] = []
    pattern = _mastodon_url_re()
    done = 0
    for at in _find_all(text, "://"):
        if at < done:
            continue
        for start in (at - 6, at - 5, at - 4):
            if start >= done and (m := pattern.match(text, start)) is not None:
                found.append(m)
                done = m.end()
                break
    return found


def _mastodon_countable(text: str, url_weight: int) -> str:
    if "://" in text:
        filler = "x" * url_weight
        pieces = []
        pos = 0
        for m in _mastodon_urls(text):
            pieces.append(text[pos : m.start(3)])
            pieces.append(filler)
            pos = m.end()
        pieces.append(text[pos:])
        text = "".join(pieces)
    if text.count("@") >= 2:
        text = _MASTODON_MENTION.sub(r"\1@\3", text)
    return text


def length(text: str, rules: Rules) -> int:
    """Length of ``text`` as ``rules.platform`` counts it against ``rules.limit``."""
    _check_platform(rules)
    if rules.platform == "mastodon":
        return count_graphemes(_mastodon_countable(text, rules.url_weight))
    return count_graphemes(text)


def fits(text: str, rules: Rules, reserve: int = 0) -> bool:
    if rules.max_bytes is not None and utf8_length(text) + reserve > rules.max_bytes:
        return False
    return length(text, rules) + reserve <= rules.limit


# ---------------------------------------------------------------------------------------------
# Bluesky detection (links, tags) as the official client does it
# ---------------------------------------------------------------------------------------------

# JavaScript's \s, which the official regexes use (Python's \s differs).
_S = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_TAG_ZERO_WIDTH = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_MAX_TAG_GRAPHEMES = 64


@cache
def _punct_class() -> str:
    # \p{P} as of Unicode 16, the set the SDK ports; written as a character-class body.
    starts, ends = _parse_ranges(text_data.PUNCT_RANGES)
    return "".join(
        f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}"
        for a, b in zip(starts, ends, strict=True)
    )


# Patterns that open with a literal are found by a fast scan; an alternation would not be.
_DOT_HINT = re.compile(r"\.[A-Za-z0-9]")
_NOT_S_RUN = re.compile(f"[^{_S}]*")


def _run_end(run: re.Pattern[str], text: str, pos: int, endpos: int | None = None) -> int:
    """Where a run of `run` (a pattern that also matches nothing) starting at `pos` ends."""
    found = run.match(text, pos, len(text) if endpos is None else endpos)
    assert found is not None  # a `*` pattern matches the empty string
    return found.end()


_LAST_S = re.compile(f"[\\s\\S]*[{_S}]")
_URL_BODY = re.compile(
    f"(https?://[^{_S}]+)|((?P<domain>[a-z][a-z0-9]*(\\.[a-z0-9]+)+)[^{_S}]*)",
    re.IGNORECASE | re.ASCII,
)
_S_CHARS = frozenset("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)


@cache
def _tag_res() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    p = _punct_class()
    zw = _TAG_ZERO_WIDTH
    body = re.compile(f"(?!\ufe0f)[^{_S}{zw}]*[^0-9{_S}{p}{zw}]+[^{_S}{zw}]*")
    trailing = re.compile(f"[{p}]+\\Z")
    cashtag = re.compile(f"[A-Za-z][A-Za-z0-9]{{0,4}}(?=[{_S}]|\\Z|[.,;:!?)\"'\u2019])")
    return body, trailing, cashtag


@cache
def _bluesky_tlds() -> frozenset[str]:
    return frozenset(text_data.BLUESKY_TLDS.split())


def _is_valid_domain(domain: str) -> bool:
    _, dot, tld = domain.rpartition(".")
    return bool(dot) and tld in _bluesky_tlds()


def _url_hints(text: str) -> list[int]:
    hints = [m.start() for m in _DOT_HINT.finditer(text)]
    if "://" in text:
        hints += _find_all(text, "://")
        hints.sort()
    return hints


def _find_all(text: str, needle: str) -> list[int]:
    found = []
    at = text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def _detect_links(text: str) -> list[tuple[int, int, str]]:
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
        token_end = _run_end(_NOT_S_RUN, text, hint)
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


def _detect_tags(text: str) -> list[tuple[int, int, str]]:
    """(start, end, tag) of each #tag and $cashtag, as ``detectFacets`` finds them."""
    found: list[tuple[int, int, str]] = []
    if "#" not in text and "\uff03" not in text and "$" not in text:
        return found
    body_re, trailing_re, cashtag_re = _tag_res()
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


# ---------------------------------------------------------------------------------------------
# The official app's short display of a link (toShortUrl over the WHATWG URL parser)
# ---------------------------------------------------------------------------------------------

_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_FORBIDDEN_HOST = set("\x00\t\n\r #/:<>?@[\\]^|%\x7f") | {chr(c) for c in range(0x20)}
_QUERY_SET = frozenset(" \"#<>'")
_PATH_SET = frozenset(' "#<>?`{}')
_FRAGMENT_SET = frozenset(' "<>`')
_DOUBLE_DOT = frozenset(("..", ".%2e", "%2e.", "%2e%2e"))
_SINGLE_DOT = frozenset((".", "%2e"))
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _percent_encode(text: str, keep_out: frozenset[str]) -> str:
    if text.isascii() and not any(c in keep_out or c < " " or c == "\x7f" for c in text):
        return text
    out: list[str] = []
    for c in text:
        if c in keep_out or c < " " or c > "~":
            if "\ud800" <= c <= "\udfff":
                c = "\ufffd"
            out.extend(f"%{b:02X}" for b in c.encode("utf-8"))
        else:
            out.append(c)
    return "".join(out)


def _ipv4_number(part: str) -> int | None:
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0
    try:
        return int(part, radix)
    except ValueError:
        return None


def _ends_in_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and last.isascii() and last.isdigit():
        return True
    return last[:2] in ("0x", "0X") and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def _ipv4(host: str) -> str | None:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4 or any(p == "" for p in parts):
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(v is None for v in numbers):
        return None
    values = [v for v in numbers if v is not None]
    if any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    address = values[-1]
    for i, v in enumerate(values[:-1]):
        address += v * 256 ** (3 - i)
    return ".".join(str((address >> shift) & 255) for shift in (24, 16, 8, 0))


def _host_to_ascii(raw: str) -> str | None:
    from urllib.parse import unquote

    host = unquote(raw, errors="replace") if "%" in raw else raw
    if host.startswith("["):
        return host.lower() if host.endswith("]") else None
    if not host.isascii():
        host = unicodedata.normalize("NFKC", host).replace("\u3002", ".")
    host = host.lower()
    if not host or any(c in _FORBIDDEN_HOST for c in host):
        return None
    if not host.isascii():
        labels = []
        for label in host.split("."):
            if label.isascii():
                labels.append(label)
                continue
            try:
                labels.append("xn--" + label.encode("punycode").decode("ascii"))
            except UnicodeError:
                return None
        host = ".".join(labels)
    if _ends_in_number(host):
        return _ipv4(host)
    return host


def _normalize_path(raw: str) -> str:
    segments: list[str] = []
    pieces = raw.replace("\\", "/").split("/")[1:] if raw else [""]
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        folded = piece.lower()
        if folded in _DOUBLE_DOT:
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif folded in _SINGLE_DOT:
            if last:
                segments.append("")
        else:
            segments.append(_percent_encode(piece, _PATH_SET))
    return "/" + "/".join(segments)


def _whatwg_http(url: str) -> tuple[str, str, str, str] | None:
    """(host, pathname, search, hash) as ``new URL(url)`` reports them for an http(s) URL."""
    url = url.strip(_C0_OR_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in _DEFAULT_PORTS:
        return None
    rest = rest.lstrip("/\\")
    cut = len(rest)
    for delimiter in "/\\?#":
        at = rest.find(delimiter)
        if at != -1 and at < cut:
            cut = at
    authority, remainder = rest[:cut], rest[cut:]
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        close = authority.find("]")
        raw_host, port_part = authority[: close + 1], authority[close + 1 :]
        if close == -1 or (port_part and not port_part.startswith(":")):
            return None
        port = port_part[1:]
    else:
        raw_host, _, port = authority.partition(":")
    if port:
        if not (port.isascii() and port.isdigit()) or int(port) > 65535:
            return None
        port = str(int(port))
        if port == _DEFAULT_PORTS[scheme]:
            port = ""
    host = _host_to_ascii(raw_host)
    if not host:
        return None
    if port:
        host = f"{host}:{port}"
    before_hash, has_hash, fragment = remainder.partition("#")
    raw_path, has_query, query = before_hash.partition("?")
    search = "?" + _percent_encode(query, _QUERY_SET) if has_query and query else ""
    fragment_part = "#" + _percent_encode(fragment, _FRAGMENT_SET) if has_hash and fragment else ""
    return host, _normalize_path(raw_path), search, fragment_part


@lru_cache(maxsize=4096)
def short_url(url: str) -> str:
    """The official Bluesky app's display form of a link's text (``toShortUrl``)."""
    parsed = _whatwg_http(url)
    if parsed is None:
        return url
    host, pathname, search, fragment = parsed
    tail = ("" if pathname == "/" else pathname) + search + fragment
    if len(tail) > 15:
        return host + tail[:13] + "..."
    return host + tail


def prepare(text: str, rules: Rules) -> Rich:
    """Bluesky: detect links as the official client does and show each in the app's short form,
    keeping the full URI in the Link. Mastodon: the text unchanged (the server links URLs)."""
    _check_platform(rules)
    if rules.platform == "mastodon":
        return Rich(text)
    detected = _detect_links(text)
    if not detected:
        return Rich(text)
    pieces: list[str] = []
    links: list[Link] = []
    pos = 0
    out = 0
    for start, end, uri in detected:
        pieces.append(text[pos:start])
        out += start - pos
        visible = text[start:end]
        # shortenLinks reads the link's visible text, so a bare domain (no scheme) stays as is.
        shown = short_url(visible) if visible.startswith(("http://", "https://")) else visible
        pieces.append(shown)
        links.append(Link(out, out + len(shown), uri))
        out += len(shown)
        pos = end
    pieces.append(text[pos:])
    return Rich("".join(pieces), tuple(links))


# ---------------------------------------------------------------------------------------------
# Facets
# ---------------------------------------------------------------------------------------------

_LINK_TYPE = "app.bsky.richtext.facet#link"
_TAG_TYPE = "app.bsky.richtext.facet#tag"


def facets(rich: Rich) -> list[dict[str, Any]]:
    """app.bsky.richtext.facet dicts: ``rich.links`` plus #tags/$cashtags detected in the text,
    with UTF-8 byte offsets, sorted and never overlapping (links win)."""
    text = rich.text
    if not rich.links and "#" not in text and "$" not in text and "\uff03" not in text:
        return []
    n = len(text)
    spans: list[tuple[int, int, dict[str, Any]]] = []
    for link in sorted(rich.links, key=lambda k: (k.start, k.end)):
        if not 0 <= link.start < link.end <= n:
            if link.start == link.end and 0 <= link.start <= n:
                continue
            raise ValueError(f"link {link} lies outside a text of {n} characters")
        spans.append((link.start, link.end, {"$type": _LINK_TYPE, "uri": link.uri}))
    kept: list[tuple[int, int, dict[str, Any]]] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    for start, end, tag in _detect_tags(text):
        if not _overlaps(kept, start, end):
            kept.append((start, end, {"$type": _TAG_TYPE, "tag": tag}))
    kept.sort(key=lambda s: s[0])
    return [
        {"index": {"byteStart": b0, "byteEnd": b1}, "features": [feature]}
        for (b0, b1), (_, _, feature) in zip(_byte_offsets(text, kept), kept, strict=True)
    ]


def _overlaps(spans: list[tuple[int, int, dict[str, Any]]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e, _ in spans)


def _byte_offsets(text: str, spans: list[tuple[int, int, dict[str, Any]]]) -> list[tuple[int, int]]:
    if text.isascii():
        return [(s, e) for s, e, _ in spans]
    out: list[tuple[int, int]] = []
    pos = 0
    byte = 0
    for s, e, _ in spans:
        byte += utf8_length(text[pos:s])
        b0 = byte
        byte += utf8_length(text[s:e])
        out.append((b0, byte))
        pos = e
    return out


# ---------------------------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------------------------

_ASCII_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e"
_LINE_BREAK_CHARS = _ASCII_LINE_BREAKS + "\x85\u2028\u2029"
_SENTENCE_END = (
    ".!?\u2026\u203c\u2047\u2048\u2049\u3002\uff01\uff1f\uff0e\uff61\u0964\u0965\u061f\u06d4"
)
_CLOSERS = (
    "\"')]}\u2019\u201d\u00bb\u203a\u300d\u300f\u3011\u3015\u3017\u3019\u301b"
    "\uff09\uff3d\uff5d\u3009\u300b"
)
_NO_SPACE_STOPS = "\u3002\uff01\uff1f\uff0e\uff61"
# Searched in the reversed window: the first match there is the last one in the text, and a
# forward scan is much cheaper than backtracking from the end.
_REVERSED_SENTENCE_SPACE = re.compile(f"\\s[{re.escape(_CLOSERS)}]*[{re.escape(_SENTENCE_END)}]")
_LAST_STOP_NO_SPACE = re.compile(f"[\\s\\S]*[{_NO_SPACE_STOPS}][{re.escape(_CLOSERS)}]*()(?=\\S)")
_REVERSED_SPACE = re.compile(r"\s+(?=\S)")
_WS_RUN = re.compile(r"\s*")
_GENERIC_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_NOT_JS_SPACE = re.compile(f"[^{_S}]")

_PARAGRAPH, _SENTENCE, _WORD = range(3)


class _Splitter:
    """Greedy packing of one text into parts; offsets are code points into ``text``."""

    def __init__(self, rich: Rich, rules: Rules, reserve: int) -> None:
        self.text = text = rich.text
        self.rules = rules
        self.reserve = reserve
        self.n = len(text)
        self.room = rules.limit - reserve
        self.byte_room = None if rules.max_bytes is None else rules.max_bytes - reserve
        self.ascii = text.isascii()
        # Cluster boundaries; None when every offset is one (ASCII without CRLF).
        self.bounds: list[int] | None = None
        if not self.ascii or "\r\n" in text:
            self.bounds = list(accumulate(map(len, _clusters(text)), initial=0))
        self.links = sorted(rich.links, key=lambda k: (k.start, k.end))
        self.line_runs: list[tuple[int, int, int]] = []
        self.events: list[tuple[int, int, int]] = []
        self.span_starts: list[int] = []
        self.span_ends: list[int] = []
        self.urls_known = False

    # -- clusters ----------------------------------------------------------------------------
    def index(self, pos: int) -> int:
        return pos if self.bounds is None else bisect_right(self.bounds, pos) - 1

    def offset(self, idx: int) -> int:
        return idx if self.bounds is None else self.bounds[idx]

    def total(self) -> int:
        return self.n if self.bounds is None else len(self.bounds) - 1

    def floor(self, pos: int) -> int:
        return self.offset(self.index(pos))

    def ceil(self, pos: int) -> int:
        if self.bounds is None:
            return pos
        return self.bounds[bisect_left(self.bounds, pos)]

    def strip_start(self, pos: int, end: int) -> int:
        # A space that a combining mark attaches to is part of that cluster: keep it.
        pos = _run_end(_WS_RUN, self.text, pos, end)
        return self.floor(pos) if pos < end else end

    def strip_end(self, start: int, end: int) -> int:
        return self.ceil(start + len(self.text[start:end].rstrip()))

    # -- what the parts are measured and protected by --------------------------------------------
    def prepare(self) -> None:
        self.line_runs = self._line_break_runs()
        link_spans = _merge((k.start, k.end) for k in self.links if k.start < k.end)
        self.span_starts = [s for s, _ in link_spans]
        self.span_ends = [e for _, e in link_spans]
        if self.rules.platform == "mastodon":
            urls = []
            if "://" in self.text:
                urls = [m.span(3) for m in _mastodon_urls(self.text)]
            self.events = self._mastodon_events(urls)
        # Detected URLs hold no whitespace, so only a break inside a word (or one at a
        # whitespace character the JavaScript \s lacks) needs them: found on first such use.
        self.urls_known = False

    def _add_url_spans(self) -> None:
        text = self.text
        spans = list(zip(self.span_starts, self.span_ends, strict=True))
        if "://" in text:
            spans += [m.span() for m in _GENERIC_URL.finditer(text)]
            if self.rules.platform == "mastodon":
                spans += [m.span(3) for m in _mastodon_urls(text)]
        if self.rules.platform == "bluesky":
            spans += [(s, e) for s, e, _ in _detect_links(text)]
        merged = _merge(spans)
        self.span_starts = [s for s, _ in merged]
        self.span_ends = [e for _, e in merged]
        self.urls_known = True

    def _mastodon_events(self, urls: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """(first cluster, end cluster, weight of the whole span) of URLs and @host parts."""
        events = [(self.index(s), self.index(e), self.rules.url_weight) for s, e in urls]
        if self.text.count("@") >= 2:
            for m in _MASTODON_MENTION.finditer(self.text):
                a, b = m.end(3), m.end(2)
                if not any(s < b and a < e for s, e in urls):
                    events.append((self.index(a), self.index(b), 0))
        return events

    def _line_break_runs(self) -> list[tuple[int, int, int]]:
        """(run start, run end, level) of each whitespace run holding a line break."""
        text = self.text
        breaks: list[int] = []
        for ch in _ASCII_LINE_BREAKS if self.ascii else _LINE_BREAK_CHARS:
            if ch in text:
                breaks += _find_all(text, ch)
        if not breaks:
            return []
        breaks.sort()
        runs = []
        run_end = -1
        for at in breaks:
            if at < run_end:
                continue
            a = at
            while a > 0 and text[a - 1].isspace():
                a -= 1
            run_end = _run_end(_WS_RUN, text, at)
            count = bisect_left(breaks, run_end) - bisect_left(breaks, a)
            count -= text.count("\r\n", a, run_end)
            runs.append((a, run_end, _PARAGRAPH if count >= 2 else _SENTENCE))
        return runs

    def weight(self, i: int, j: int) -> int:
        """Mastodon length of clusters [i, j) by estimate: URLs weigh url_weight, @host nothing."""
        w = j - i
        for a, b, span_weight in self.events:
            lo, hi = max(a, i), min(b, j)
            if lo < hi:
                w -= hi - lo
                if i <= a < j:
                    w += span_weight
        return w

    def reach(self, start: int) -> int:
        """Farthest boundary the part starting at ``start`` may end at, by estimate."""
        i = self.index(start)
        total = self.total()
        if not self.events:
            j = min(i + self.room, total)
        else:
            lo, hi = i, total
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.weight(i, mid) <= self.room:
                    lo = mid
                else:
                    hi = mid - 1
            j = lo
        if self.byte_room is not None:
            if self.ascii:
                if self.offset(j) - start > self.byte_room:
                    j = self.index(start + self.byte_room)
            elif utf8_length(self.text[start : self.offset(j)]) > self.byte_room:
                lo, hi = i, j
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if utf8_length(self.text[start : self.offset(mid)]) <= self.byte_room:
                        lo = mid
                    else:
                        hi = mid - 1
                j = lo
        return self.offset(j)

    # -- where to cut ------------------------------------------------------------------------
    def blocker(self, cut: int, resume: int) -> tuple[int, int] | None:
        """A protected span that a break dropping [cut, resume) would cut into, if any."""
        if not self.urls_known and (
            cut == resume
            or not self.text[cut:resume].isspace()
            or _NOT_JS_SPACE.search(self.text, cut, resume)
        ):
            self._add_url_spans()
        k = bisect_left(self.span_starts, resume) - 1
        if k >= 0 and self.span_ends[k] > cut:
            return self.span_starts[k], self.span_ends[k]
        return None

    def last_break(self, level: int, start: int, hi: int) -> tuple[int, int] | None:
        """The last break of ``level`` (or a stronger one) whose cut lies in (start, hi)."""
        text = self.text
        best: tuple[int, int] | None = None
        if level <= _SENTENCE:
            for a, b, run_level in reversed(self.line_runs):
                if a >= hi:
                    continue
                if a <= start:
                    break
                if run_level <= level:
                    best = (a, b)
                    break
        if level == _SENTENCE:
            m = _REVERSED_SENTENCE_SPACE.search(text[start:hi][::-1])
            if m and (best is None or hi - 1 - m.start() > best[0]):
                cut = hi - 1 - m.start()
                best = (cut, _run_end(_WS_RUN, text, cut))
            if not self.ascii:
                m = _LAST_STOP_NO_SPACE.match(text, start, hi)
                if m and (best is None or m.start(1) > best[0]):
                    best = (m.start(1), m.start(1))
        elif level == _WORD:
            m = _REVERSED_SPACE.search(text[start:hi][::-1])
            if m:
                cut = hi - m.end()
                best = (cut, _run_end(_WS_RUN, text, cut))
        return best

    def choose(self, start: int, reach: int, end: int) -> tuple[int, int]:
        """Where the part starting at ``start`` ends (cut) and the next one begins (resume)."""
        if reach >= end:
            return end, end
        for level in (_PARAGRAPH, _SENTENCE, _WORD):
            hi = reach + 1
            while (found := self.last_break(level, start, hi)) is not None:
                cut, resume = self.ceil(found[0]), self.floor(found[1])
                if cut <= start or cut > resume:
                    hi = found[0]
                    continue
                blocker = self.blocker(cut, resume)
                if blocker is not None:
                    hi = min(found[0], blocker[0])
                    continue
                return cut, resume
        # A single word longer than a part: cut it between clusters, never inside a URL.
        cut = reach
        blocker = self.blocker(cut, cut)
        if blocker is not None:
            cut = self.floor(blocker[0])
        if cut <= start:
            around = self.blocker(start, start + 1)
            if around is not None:
                self.too_long(around[0], around[1], "the URL")
            self.too_long(start, self.offset(self.index(start) + 1), "the grapheme cluster")
        return cut, cut

    def too_long(self, a: int, b: int, what: str) -> None:
        piece = self.text[a:b]
        shown = piece if len(piece) <= 60 else piece[:57] + "..."
        rules = self.rules
        need = length(piece, rules)
        if need > self.room:
            unit = "characters" if rules.platform == "mastodon" else "graphemes"
            detail = f"{need} {unit} > {self.room} ({rules.limit} minus reserve {self.reserve})"
            over = need - self.room
        else:
            need = utf8_length(piece)
            unit = "bytes"
            byte_room = self.byte_room or 0
            detail = (
                f"{need} UTF-8 bytes > {byte_room} ({rules.max_bytes} minus reserve {self.reserve})"
            )
            over = need - byte_room
        raise TextTooLong(
            f"{what} {shown!r} cannot be split and does not fit one {rules.platform} part: "
            f"{detail}, too long by {over} {unit}"
        )

    def run(self, *, checked: bool = False) -> list[tuple[int, int]]:
        """Part spans; ``checked`` when the caller already found the whole text too long."""
        text = self.text
        begin = self.strip_start(0, self.n)
        end = self.strip_end(begin, self.n)
        if begin >= end:
            return []
        if not checked and fits(text[begin:end], self.rules, self.reserve):
            return [(begin, end)]
        if self.room <= 0 or (self.byte_room is not None and self.byte_room <= 0):
            raise TextTooLong(
                f"a reserve of {self.reserve} leaves no room in a {self.rules.platform} part "
                f"(limit {self.rules.limit}, max bytes {self.rules.max_bytes})"
            )
        self.prepare()
        # On ASCII, Bluesky's count (code points less CRLFs) and bytes are what reach() used.
        exact = self.ascii and self.rules.platform == "bluesky"
        parts: list[tuple[int, int]] = []
        start = begin
        while start < end:
            reach = self.reach(start)
            while True:
                cut, resume = self.choose(start, reach, end)
                part_end = self.strip_end(start, cut)
                if exact or fits(text[start:part_end], self.rules, self.reserve):
                    break
                # The estimate was optimistic (a URL or mention reads differently at the edge
                # of a part): try again with less.
                reach = self.floor(cut - 1)
                if reach <= start:
                    self.too_long(start, cut, "the text")
            parts.append((start, part_end))
            start = self.strip_start(resume, end) if resume < end else end
        return parts


def _clusters(text: str) -> Iterable[str]:
    return _ASCII_CLUSTER.findall(text) if text.isascii() else _segmenter()(text)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def split(rich: Rich, rules: Rules, *, reserve: int = 0) -> list[Rich]:
    """Split ``rich`` into parts that each satisfy ``fits(part.text, rules, reserve)``.

    Prefers paragraph breaks, then sentence ends and line breaks, then spaces; only a word
    longer than a whole part is cut, between grapheme clusters. Links and URLs are never cut
    (TextTooLong when one alone cannot fit). Parts are stripped; links are re-based."""
    _check_platform(rules)
    text = rich.text
    checked = text.isascii()
    if checked:
        # ASCII whitespace never shares a cluster with anything else: a plain strip is exact.
        stripped = text.strip()
        if not stripped:
            return []
        if fits(stripped, rules, reserve):
            offset = text.index(stripped[0])
            return [_rebase(rich, offset, offset + len(stripped))]
    splitter = _Splitter(rich, rules, reserve)
    return [_rebase(rich, a, b) for a, b in splitter.run(checked=checked)]


def _rebase(rich: Rich, start: int, end: int) -> Rich:
    if start == 0 and end == len(rich.text):
        return rich
    links = []
    for link in rich.links:
        a, b = max(link.start, start), min(link.end, end)
        if a < b:
            links.append(Link(a - start, b - start, link.uri))
    return Rich(rich.text[start:end], tuple(links))


def warm_up() -> None:
    """Build the large patterns and tables now rather than on the first text that needs them
    (Mastodon's URL pattern alone takes ~12 ms to compile)."""
    _segmenter()
    _mastodon_url_re()
    _tag_res()
    _bluesky_tlds()
