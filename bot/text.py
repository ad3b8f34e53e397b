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
    # wcwidth >= 0.3.0 has iter_graphemes (a C extension from 0.9); older releases have none.
    try:
        from wcwidth import iter_graphemes
    except ImportError:
        return _fallback_iter_graphemes
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


# Fallback UAX #29 segmenter for wcwidth < 0.3.0. Properties come from unicodedata's general
# category plus the tables at the end of this module (generated from Unicode 17 data), so it
# agrees with wcwidth's own tables rather than with the Python build's older Unicode version.
_OTHER, _CR, _LF, _CONTROL, _EXTEND, _ZWJ, _RI, _PREPEND, _SPACING = range(9)
_L, _V, _T, _LV, _LVT = range(9, 14)
_INCB_NONE, _INCB_CONSONANT, _INCB_LINKER, _INCB_EXTEND = range(4)


def _parse_ranges(spec: str) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for item in spec.split():
        first, _, last = item.partition("-")
        starts.append(int(first, 16))
        ends.append(int(last or first, 16))
    return starts, ends


@cache
def _table(name: str) -> tuple[list[int], list[int]]:
    return _parse_ranges(globals()[name])


def _in_table(cp: int, name: str) -> bool:
    starts, ends = _table(name)
    k = bisect_right(starts, cp) - 1
    return k >= 0 and cp <= ends[k]


@lru_cache(maxsize=4096)
def _gcb(cp: int) -> int:
    if cp == 0x0D:
        return _CR
    if cp == 0x0A:
        return _LF
    if cp == 0x200D:
        return _ZWJ
    if cp < 0x7F:
        return _CONTROL if cp < 0x20 else _OTHER
    category = unicodedata.category(chr(cp))
    if (category in ("Mn", "Me") and cp != 0x1171E) or _in_table(cp, "_GB_EXTEND_EXTRA"):
        return _EXTEND
    if _in_table(cp, "_GB_CONTROL") or category == "Cs":
        return _CONTROL
    if _in_table(cp, "_GB_PREPEND"):
        return _PREPEND
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return _RI
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    if _in_table(cp, "_GB_L"):
        return _L
    if _in_table(cp, "_GB_V"):
        return _V
    if _in_table(cp, "_GB_T"):
        return _T
    if _in_table(cp, "_GB_SPACINGMARK_EXTRA") or (
        category == "Mc" and not _in_table(cp, "_GB_SPACINGMARK_EXCLUDE")
    ):
        return _SPACING
    return _OTHER


@lru_cache(maxsize=4096)
def _is_ext_pict(cp: int) -> bool:
    return cp >= 0xA9 and _in_table(cp, "_GB_EXT_PICT")


@lru_cache(maxsize=4096)
def _incb(cp: int) -> int:
    if _in_table(cp, "_GB_INCB_LINKER"):
        return _INCB_LINKER
    if _in_table(cp, "_GB_INCB_CONSONANT"):
        return _INCB_CONSONANT
    if cp == 0x200D or (cp != 0x200C and _gcb(cp) == _EXTEND):
        return _INCB_EXTEND
    return _INCB_NONE


_HANGUL_JOINS = {
    _L: (_L, _V, _LV, _LVT),
    _LV: (_V, _T),
    _V: (_V, _T),
    _LVT: (_T,),
    _T: (_T,),
}
_BREAK_AROUND = (_CONTROL, _CR, _LF)


def _joins(prev: int, cur: int, cp: int, ri_run: int, emoji: int, incb: int) -> bool:
    """No cluster boundary between a character of class ``prev`` and one of class ``cur``."""
    if prev == _CR and cur == _LF:
        return True  # GB3
    if prev in _BREAK_AROUND or cur in _BREAK_AROUND:
        return False  # GB4, GB5
    if cur in _HANGUL_JOINS.get(prev, ()):
        return True  # GB6-GB8
    if cur in (_EXTEND, _ZWJ, _SPACING) or prev == _PREPEND:
        return True  # GB9, GB9a, GB9b
    if incb == 2 and _incb(cp) == _INCB_CONSONANT:
        return True  # GB9c
    if emoji == 2 and _is_ext_pict(cp):
        return True  # GB11
    return prev == _RI and cur == _RI and ri_run % 2 == 1  # GB12, GB13


def _fallback_iter_graphemes(text: str) -> Iterator[str]:
    start = 0
    prev = -1
    ri_run = 0  # regional indicators immediately before the current character
    emoji = 0  # 1: ExtPict Extend*, 2: ExtPict Extend* ZWJ
    incb = 0  # 1: Consonant [Extend]*, 2: Consonant [Extend|Linker]* Linker [Extend|Linker]*
    for k, ch in enumerate(text):
        cp = ord(ch)
        cur = _gcb(cp)
        if k and not _joins(prev, cur, cp, ri_run, emoji, incb):
            yield text[start:k]
            start = k
        ri_run = ri_run + 1 if cur == _RI else 0
        if _is_ext_pict(cp):
            emoji = 1
        elif emoji == 1 and cur in (_EXTEND, _ZWJ):
            emoji = 1 if cur == _EXTEND else 2
        else:
            emoji = 0
        incb_prop = _incb(cp)
        if incb_prop == _INCB_CONSONANT:
            incb = 1
        elif incb and incb_prop == _INCB_LINKER:
            incb = 2
        elif not (incb and incb_prop == _INCB_EXTEND):
            incb = 0
        prev = cur
    if text:
        yield text[start:]


# ---------------------------------------------------------------------------------------------
# Length as the platforms count it
# ---------------------------------------------------------------------------------------------

# Mastodon.py's url_regex (Mastodon's web composer regex, itself twitter-text's), rebuilt from
# its parts; tests check it is the same pattern.
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
    gtlds = "|".join(_MASTODON_GTLDS.split())
    cctlds = "|".join(_MASTODON_CCTLDS.split())
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
    starts, ends = _table("_PUNCT_RANGES")
    return "".join(
        f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}"
        for a, b in zip(starts, ends, strict=True)
    )


# Patterns that open with a literal are found by a fast scan; an alternation would not be.
_DOT_HINT = re.compile(r"\.[A-Za-z0-9]")
_NOT_S_RUN = re.compile(f"[^{_S}]*")
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
    return frozenset(_BLUESKY_TLDS.split())


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
        token_end = _NOT_S_RUN.match(text, hint).end()
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


def facets(rich: Rich) -> list[dict]:
    """app.bsky.richtext.facet dicts: ``rich.links`` plus #tags/$cashtags detected in the text,
    with UTF-8 byte offsets, sorted and never overlapping (links win)."""
    text = rich.text
    if not rich.links and "#" not in text and "$" not in text and "\uff03" not in text:
        return []
    n = len(text)
    spans: list[tuple[int, int, dict]] = []
    for link in sorted(rich.links, key=lambda k: (k.start, k.end)):
        if not 0 <= link.start < link.end <= n:
            if link.start == link.end and 0 <= link.start <= n:
                continue
            raise ValueError(f"link {link} lies outside a text of {n} characters")
        spans.append((link.start, link.end, {"$type": _LINK_TYPE, "uri": link.uri}))
    kept: list[tuple[int, int, dict]] = []
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


def _overlaps(spans: list[tuple[int, int, dict]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e, _ in spans)


def _byte_offsets(text: str, spans: list[tuple[int, int, dict]]) -> list[tuple[int, int]]:
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
        pos = _WS_RUN.match(self.text, pos, end).end()
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
            run_end = _WS_RUN.match(text, at).end()
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
                best = (cut, _WS_RUN.match(text, cut).end())
            if not self.ascii:
                m = _LAST_STOP_NO_SPACE.match(text, start, hi)
                if m and (best is None or m.start(1) > best[0]):
                    best = (m.start(1), m.start(1))
        elif level == _WORD:
            m = _REVERSED_SPACE.search(text[start:hi][::-1])
            if m:
                cut = hi - m.end()
                best = (cut, _WS_RUN.match(text, cut).end())
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


# ---------------------------------------------------------------------------------------------
# Data (generated from Unicode 17 / the tlds package / Mastodon.py's url_regex; see module doc)
# ---------------------------------------------------------------------------------------------

_MASTODON_GTLDS = (
    "\uc0bc\uc131 \ub2f7\ucef4 \ub2f7\ub137 \u9999\u683c\u91cc\u62c9 \u9910\u5385 \u98df\u54c1 "
    "\u98de\u5229\u6d66 \u96fb\u8a0a\u76c8\u79d1 \u96c6\u56e2 \u901a\u8ca9 \u8d2d\u7269 "
    "\u8c37\u6b4c \u8bfa\u57fa\u4e9a \u8054\u901a \u7f51\u7edc \u7f51\u7ad9 \u7f51\u5e97 "
    "\u7f51\u5740 \u7ec4\u7ec7\u673a\u6784 \u79fb\u52a8 \u73e0\u5b9d \u70b9\u770b \u6e38\u620f "
    "\u6de1\u9a6c\u9521 \u673a\u6784 \u66f8\u7c4d \u65f6\u5c1a \u65b0\u95fb \u653f\u5e9c "
    "\u653f\u52a1 \u62db\u8058 \u624b\u8868 \u624b\u673a \u6211\u7231\u4f60 \u6148\u5584 "
    "\u5fae\u535a \u5e7f\u4e1c \u5de5\u884c \u5bb6\u96fb \u5a31\u4e50 \u5929\u4e3b\u6559 "
    "\u5927\u62ff \u5927\u4f17\u6c7d\u8f66 \u5728\u7ebf \u5609\u91cc\u5927\u9152\u5e97 "
    "\u5609\u91cc \u5546\u6807 \u5546\u5e97 \u5546\u57ce \u516c\u76ca \u516c\u53f8 \u516b\u5366 "
    "\u5065\u5eb7 \u4fe1\u606f \u4f5b\u5c71 \u4f01\u4e1a \u4e2d\u6587\u7f51 \u4e2d\u4fe1 "
    "\u4e16\u754c \u30dd\u30a4\u30f3\u30c8 \u30d5\u30a1\u30c3\u30b7\u30e7\u30f3 "
    "\u30bb\u30fc\u30eb \u30b9\u30c8\u30a2 \u30b3\u30e0 \u30b0\u30fc\u30b0\u30eb "
    "\u30af\u30e9\u30a6\u30c9 \u307f\u3093\u306a \u0e04\u0e2d\u0e21 "
    "\u0938\u0902\u0917\u0920\u0928 \u0928\u0947\u091f \u0915\u0949\u092e "
    "\u0647\u0645\u0631\u0627\u0647 \u0645\u0648\u0642\u0639 "
    "\u0645\u0648\u0628\u0627\u064a\u0644\u064a \u0643\u0648\u0645 "
    "\u0643\u0627\u062b\u0648\u0644\u064a\u0643 \u0639\u0631\u0628 \u0634\u0628\u0643\u0629 "
    "\u0628\u064a\u062a\u0643 \u0628\u0627\u0632\u0627\u0631 "
    "\u0627\u0644\u0639\u0644\u064a\u0627\u0646 \u0627\u0631\u0627\u0645\u0643\u0648 "
    "\u0627\u062a\u0635\u0627\u0644\u0627\u062a \u0627\u0628\u0648\u0638\u0628\u064a "
    "\u05e7\u05d5\u05dd \u0441\u0430\u0439\u0442 \u0440\u0443\u0441 \u043e\u0440\u0433 "
    "\u043e\u043d\u043b\u0430\u0439\u043d \u043c\u043e\u0441\u043a\u0432\u0430 \u043a\u043e\u043c "
    "\u043a\u0430\u0442\u043e\u043b\u0438\u043a \u0434\u0435\u0442\u0438 zuerich zone zippo zip "
    "zero zara zappos yun youtube you yokohama yoga yodobashi yandex yamaxun yahoo yachts xyz xxx "
    "xperia xin xihuan xfinity xerox xbox wtf wtc wow world works work woodside wolterskluwer wme "
    "winners wine windows win williamhill wiki wien whoswho weir weibo wedding wed website weber "
    "webcam weatherchannel weather watches watch warman wanggou wang walter walmart wales vuelos "
    "voyage voto voting vote volvo volkswagen vodka vlaanderen vivo viva vistaprint vista vision "
    "visa virgin vip vin villas viking vig video viajes vet versicherung verm\u00f6gensberatung "
    "verm\u00f6gensberater verisign ventures vegas vanguard vana vacations ups uol uno university "
    "unicom uconnect ubs ubank tvs tushu tunes tui tube trv trust travelersinsurance travelers "
    "travelchannel travel training trading trade toys toyota town tours total toshiba toray top "
    "tools tokyo today tmall tkmaxx tjx tjmaxx tirol tires tips tiffany tienda tickets tiaa "
    "theatre theater thd teva tennis temasek telefonica telecity tel technology tech team tdk tci "
    "taxi tax tattoo tatar tatamotors target taobao talk taipei tab systems symantec sydney swiss "
    "swiftcover swatch suzuki surgery surf support supply supplies sucks style study studio "
    "stream store storage stockholm stcgroup stc statoil statefarm statebank starhub star staples "
    "stada srt srl spreadbetting spot sport spiegel space soy sony song solutions solar sohu "
    "software softbank social soccer sncf smile smart sling skype sky skin ski site singles sina "
    "silk shriram showtime show shouji shopping shop shoes shiksha shia shell shaw sharp "
    "shangrila sfr sexy sex sew seven ses services sener select seek security secure seat search "
    "scot scor scjohnson science schwarz schule school scholarships schmidt schaeffler scb sca "
    "sbs sbi saxo save sas sarl sapo sap sanofi sandvikcoromant sandvik samsung samsclub salon "
    "sale sakura safety safe saarland ryukyu rwe run ruhr rugby rsvp room rogers rodeo rocks "
    "rocher rmit rip rio ril rightathome ricoh richardli rich rexroth reviews review restaurant "
    "rest republican report repair rentals rent ren reliance reit reisen reise rehab redumbrella "
    "redstone red recipes realty realtor realestate read raid radio racing qvc quest quebec qpon "
    "pwc pub prudential pru protection property properties promo progressive prof productions "
    "prod pro prime press praxi pramerica post porn politie poker pohl pnc plus plumbing "
    "playstation play place pizza pioneer pink ping pin pid pictures pictet pics piaget physio "
    "photos photography photo phone philips phd pharmacy pfizer pet pccw pay passagens party "
    "parts partners pars paris panerai panasonic pamperedchef page ovh ott otsuka osaka origins "
    "orientexpress organic org orange oracle open ooo onyourside online onl ong one omega ollo "
    "oldnavy olayangroup olayan okinawa office off observer obi nyc ntt nrw nra nowtv nowruz now "
    "norton northwesternmutual nokia nissay nissan ninja nikon nike nico nhk ngo nfl nexus "
    "nextdirect next news newholland new neustar network netflix netbank net nec nba navy natura "
    "nationwide name nagoya nadex nab mutuelle mutual museum mtr mtpc mtn msd movistar movie mov "
    "motorcycles moto moscow mortgage mormon mopar montblanc monster money monash mom moi moe "
    "moda mobily mobile mobi mma mls mlb mitsubishi mit mint mini mil microsoft miami metlife "
    "merckmsd meo menu men memorial meme melbourne meet media med mckinsey mcdonalds mcd mba "
    "mattel maserati marshalls marriott markets marketing market map mango management man makeup "
    "maison maif madrid macys luxury luxe lupin lundbeck ltda ltd lplfinancial lpl love lotto "
    "lotte london lol loft locus locker loans loan llp llc lixil living live lipsy link linde "
    "lincoln limo limited lilly like lighting lifestyle lifeinsurance life lidl liaison lgbt "
    "lexus lego legal lefrak leclerc lease lds lawyer law latrobe latino lat lasalle lanxess "
    "landrover land lancome lancia lancaster lamer lamborghini ladbrokes lacaixa kyoto kuokgroup "
    "kred krd kpn kpmg kosher komatsu koeln kiwi kitchen kindle kinder kim kia kfh "
    "kerryproperties kerrylogistics kerryhotels kddi kaufen juniper juegos jprs jpmorgan joy jot "
    "joburg jobs jnj jmp jll jlc jio jewelry jetzt jeep jcp jcb java jaguar iwc iveco itv itau "
    "istanbul ist ismaili iselect irish ipiranga investments intuit international intel int "
    "insure insurance institute ink ing info infiniti industries inc immobilien immo imdb imamat "
    "ikano iinet ifm ieee icu ice icbc ibm hyundai hyatt hughes htc hsbc how house hotmail hotels "
    "hoteles hot hosting host hospital horse honeywell honda homesense homes homegoods homedepot "
    "holiday holdings hockey hkt hiv hitachi hisamitsu hiphop hgtv hermes here helsinki help "
    "healthcare health hdfcbank hdfc hbo haus hangout hamburg hair guru guitars guide guge gucci "
    "guardian group grocery gripe green gratis graphics grainger gov got gop google goog goodyear "
    "goodhands goo golf goldpoint gold godaddy gmx gmo gmbh gmail globo global gle glass glade "
    "giving gives gifts gift ggee george genting gent gea gdn gbiz gay garden gap games game "
    "gallup gallo gallery gal fyi futbol furniture fund fun fujixerox fujitsu ftr frontier "
    "frontdoor frogans frl fresenius free fox foundation forum forsale forex ford football "
    "foodnetwork food foo fly flsmidth flowers florist flir flights flickr fitness fit fishing "
    "fish firmdale firestone fire financial finance final film fido fidelity fiat ferrero ferrari "
    "feedback fedex fast fashion farmers farm fans fan family faith fairwinds fail fage "
    "extraspace express exposed expert exchange everbank events eus eurovision etisalat esurance "
    "estate esq erni ericsson equipment epson epost enterprises engineering engineer energy "
    "emerck email education edu edeka eco eat earth dvr dvag durban dupont duns dunlop duck dubai "
    "dtv drive download dot doosan domains doha dog dodge doctor docs dnp diy dish discover "
    "discount directory direct digital diet diamonds dhl dev design desi dentist dental democrat "
    "delta deloitte dell delivery degree deals dealer deal dds dclk day datsun dating date data "
    "dance dad dabur cyou cymru cuisinella csc cruises cruise crs crown cricket creditunion "
    "creditcard credit cpa courses coupons coupon country corsica coop cool cookingchannel "
    "cooking contractors contact consulting construction condos comsec computer compare company "
    "community commbank comcast com cologne college coffee codes coach clubmed club cloud "
    "clothing clinique clinic click cleaning claims cityeats city citic citi citadel cisco circle "
    "cipriani church chrysler chrome christmas chloe chintai cheap chat chase charity channel "
    "chanel cfd cfa cern ceo center ceb cbs cbre cbn cba catholic catering cat casino cash caseih "
    "case casa cartier cars careers career care cards caravan car capitalone capital capetown "
    "canon cancerresearch camp camera cam calvinklein call cal cafe cab bzh buzz buy business "
    "builders build bugatti budapest brussels brother broker broadway bridgestone bradesco box "
    "boutique bot boston bostik bosch boots booking book boo bond bom bofa boehringer boats "
    "bnpparibas bnl bmw bms blue bloomberg blog blockbuster blanco blackfriday black biz bio "
    "bingo bing bike bid bible bharti bet bestbuy best berlin bentley beer beauty beats bcn bcg "
    "bbva bbt bbc bayern bauhaus basketball baseball bargains barefoot barclays barclaycard "
    "barcelona bar bank band bananarepublic banamex baidu baby azure axa aws avianca autos auto "
    "author auspost audio audible audi auction attorney athleta associates asia asda arte art "
    "arpa army archi aramco arab aquarelle apple app apartments aol anz anquan android analytics "
    "amsterdam amica amfam amex americanfamily americanexpress alstom alsace ally allstate "
    "allfinanz alipay alibaba alfaromeo akdn airtel airforce airbus aigo aig agency agakhan "
    "africa afl afamilycompany aetna aero aeg adult ads adac actor active aco accountants "
    "accountant accenture academy abudhabi abogado able abc abbvie abbott abb abarth aarp aaa "
    "onion "
)

_MASTODON_CCTLDS = (
    "\ud55c\uad6d \u9999\u6e2f \u6fb3\u9580 \u65b0\u52a0\u5761 \u53f0\u7063 \u53f0\u6e7e "
    "\u4e2d\u570b \u4e2d\u56fd \u10d2\u10d4 \u0ea5\u0eb2\u0ea7 \u0e44\u0e17\u0e22 "
    "\u0dbd\u0d82\u0d9a\u0dcf \u0d2d\u0d3e\u0d30\u0d24\u0d02 \u0cad\u0cbe\u0cb0\u0ca4 "
    "\u0c2d\u0c3e\u0c30\u0c24\u0c4d "
    "\u0b9a\u0bbf\u0b99\u0bcd\u0b95\u0baa\u0bcd\u0baa\u0bc2\u0bb0\u0bcd "
    "\u0b87\u0bb2\u0b99\u0bcd\u0b95\u0bc8 \u0b87\u0ba8\u0bcd\u0ba4\u0bbf\u0baf\u0bbe "
    "\u0b2d\u0b3e\u0b30\u0b24 \u0aad\u0abe\u0ab0\u0aa4 \u0a2d\u0a3e\u0a30\u0a24 "
    "\u09ad\u09be\u09f0\u09a4 \u09ad\u09be\u09b0\u09a4 \u09ac\u09be\u0982\u09b2\u09be "
    "\u092d\u093e\u0930\u094b\u0924 \u092d\u093e\u0930\u0924\u092e\u094d \u092d\u093e\u0930\u0924 "
    "\u0680\u0627\u0631\u062a \u067e\u0627\u06a9\u0633\u062a\u0627\u0646 "
    "\u0645\u0648\u0631\u064a\u062a\u0627\u0646\u064a\u0627 \u0645\u0644\u064a\u0633\u064a\u0627 "
    "\u0645\u0635\u0631 \u0642\u0637\u0631 \u0641\u0644\u0633\u0637\u064a\u0646 "
    "\u0639\u0645\u0627\u0646 \u0639\u0631\u0627\u0642 \u0633\u0648\u0631\u064a\u0629 "
    "\u0633\u0648\u062f\u0627\u0646 \u062a\u0648\u0646\u0633 \u0628\u06be\u0627\u0631\u062a "
    "\u0628\u0627\u0631\u062a \u0627\u06cc\u0631\u0627\u0646 \u0627\u0645\u0627\u0631\u0627\u062a "
    "\u0627\u0644\u0645\u063a\u0631\u0628 \u0627\u0644\u0633\u0639\u0648\u062f\u064a\u0629 "
    "\u0627\u0644\u062c\u0632\u0627\u0626\u0631 \u0627\u0644\u0628\u062d\u0631\u064a\u0646 "
    "\u0627\u0644\u0627\u0631\u062f\u0646 \u0570\u0561\u0575 \u049b\u0430\u0437 "
    "\u0443\u043a\u0440 \u0441\u0440\u0431 \u0440\u0444 \u043c\u043e\u043d \u043c\u043a\u0434 "
    "\u0435\u044e \u0431\u0435\u043b \u0431\u0433 \u03b5\u03c5 \u03b5\u03bb zw zm za yt ye ws wf "
    "vu vn vi vg ve vc va uz uy us um uk ug ua tz tw tv tt tr tp to tn tm tl tk tj th tg tf td tc "
    "sz sy sx sv su st ss sr so sn sm sl sk sj si sh sg se sd sc sb sa rw ru rs ro re qa py pw pt "
    "ps pr pn pm pl pk ph pg pf pe pa om nz nu nr np no nl ni ng nf ne nc na mz my mx mw mv mu mt "
    "ms mr mq mp mo mn mm ml mk mh mg mf me md mc ma ly lv lu lt ls lr lk li lc lb la kz ky kw kr "
    "kp kn km ki kh kg ke jp jo jm je it is ir iq io in im il ie id hu ht hr hn hm hk gy gw gu gt "
    "gs gr gq gp gn gm gl gi gh gg gf ge gd gb ga fr fo fm fk fj fi eu et es er eh eg ee ec dz do "
    "dm dk dj de cz cy cx cw cv cu cr co cn cm cl ck ci ch cg cf cd cc ca bz by bw bv bt bs br bq "
    "bo bn bm bl bj bi bh bg bf be bd bb ba az ax aw au at as ar aq ao an am al ai ag af ae ad ac "
)

_BLUESKY_TLDS = (
    "aaa aarp abb abbott abbvie abc able abogado abudhabi ac academy accenture accountant "
    "accountants aco actor ad ads adult ae aeg aero aetna af afl africa ag agakhan agency ai aig "
    "airbus airforce airtel akdn al alibaba alipay allfinanz allstate ally alsace alstom am "
    "amazon americanexpress americanfamily amex amfam amica amsterdam analytics android anquan "
    "anz ao aol apartments app apple aq aquarelle ar arab aramco archi army arpa art arte as asda "
    "asia associates at athleta attorney au auction audi audible audio auspost author auto autos "
    "aw aws ax axa az azure ba baby baidu banamex band bank bar barcelona barclaycard barclays "
    "barefoot bargains baseball basketball bauhaus bayern bb bbc bbt bbva bcg bcn bd be beats "
    "beauty beer berlin best bestbuy bet bf bg bh bharti bi bible bid bike bing bingo bio biz bj "
    "black blackfriday blockbuster blog bloomberg blue bm bms bmw bn bnpparibas bo boats "
    "boehringer bofa bom bond boo book booking bosch bostik boston bot boutique box br bradesco "
    "bridgestone broadway broker brother brussels bs bt build builders business buy buzz bv bw by "
    "bz bzh ca cab cafe cal call calvinklein cam camera camp canon capetown capital capitalone "
    "car caravan cards care career careers cars casa case cash casino cat catering catholic cba "
    "cbn cbre cc cd center ceo cern cf cfa cfd cg ch chanel channel charity chase chat cheap "
    "chintai christmas chrome church ci cipriani circle cisco citadel citi citic city ck cl "
    "claims cleaning click clinic clinique clothing cloud club clubmed cm cn co coach codes "
    "coffee college cologne com commbank community company compare computer comsec condos "
    "construction consulting contact contractors cooking cool coop corsica country coupon coupons "
    "courses cpa cr credit creditcard creditunion cricket crown crs cruise cruises cu cuisinella "
    "cv cw cx cy cymru cyou cz dad dance data date dating datsun day dclk dds de deal dealer "
    "deals degree delivery dell deloitte delta democrat dental dentist desi design dev dhl "
    "diamonds diet digital direct directory discount discover dish diy dj dk dm dnp do docs "
    "doctor dog domains dot download drive dtv dubai dupont durban dvag dvr dz earth eat ec eco "
    "edeka edu education ee eg email emerck energy engineer engineering enterprises epson "
    "equipment er ericsson erni es esq estate et eu eurovision eus events exchange expert exposed "
    "express extraspace fage fail fairwinds faith family fan fans farm farmers fashion fast fedex "
    "feedback ferrari ferrero fi fidelity fido film final finance financial fire firestone "
    "firmdale fish fishing fit fitness fj fk flickr flights flir florist flowers fly fm fo foo "
    "food football ford forex forsale forum foundation fox fr free fresenius frl frogans frontier "
    "ftr fujitsu fun fund furniture futbol fyi ga gal gallery gallo gallup game games gap garden "
    "gay gb gbiz gd gdn ge gea gent genting george gf gg ggee gh gi gift gifts gives giving gl "
    "glass gle global globo gm gmail gmbh gmo gmx gn godaddy gold goldpoint golf goodyear goog "
    "google gop got gov gp gq gr grainger graphics gratis green gripe grocery group gs gt gu "
    "gucci guge guide guitars guru gw gy hair hamburg hangout haus hbo hdfc hdfcbank health "
    "healthcare help here hermes hiphop hisamitsu hitachi hiv hk hkt hm hn hockey holdings "
    "holiday homedepot homegoods homes homesense honda horse hospital host hosting hot hotels "
    "hotmail house how hr hsbc ht hu hughes hyatt hyundai ibm icbc ice icu id ie ieee ifm ikano "
    "il im imamat imdb immo immobilien in inc industries infiniti info ing ink institute "
    "insurance insure int international intuit investments io ipiranga iq ir irish is ismaili ist "
    "istanbul it itau itv jaguar java jcb je jeep jetzt jewelry jio jll jm jmp jnj jo jobs joburg "
    "jot joy jp jpmorgan jprs juegos kaufen kddi ke kerryhotels kerryproperties kfh kg kh ki kia "
    "kids kim kindle kitchen kiwi km kn koeln komatsu kosher kp kpmg kpn kr krd kred kuokgroup kw "
    "ky kyoto kz la lacaixa lamborghini lamer land landrover lanxess lasalle lat latino latrobe "
    "law lawyer lb lc lds lease leclerc lefrak legal lego lexus lgbt li lidl life lifeinsurance "
    "lifestyle lighting like lilly limited limo lincoln link live living lk llc llp loan loans "
    "locker locus lol london lotte lotto love lpl lplfinancial lr ls lt ltd ltda lu lundbeck luxe "
    "luxury lv ly ma madrid maif maison makeup man management mango map market marketing markets "
    "marriott marshalls mattel mba mc mckinsey md me med media meet melbourne meme memorial men "
    "menu merck merckmsd mg mh miami microsoft mil mini mint mit mitsubishi mk ml mlb mls mm mma "
    "mn mo mobi mobile moda moe moi mom monash money monster mormon mortgage moscow moto "
    "motorcycles mov movie mp mq mr ms msd mt mtn mtr mu museum music mv mw mx my mz na nab "
    "nagoya name navy nba nc ne nec net netbank netflix network neustar new news next nextdirect "
    "nexus nf nfl ng ngo nhk ni nico nike nikon ninja nissan nissay nl no nokia norton now nowruz "
    "nowtv np nr nra nrw ntt nu nyc nz obi observer office okinawa olayan olayangroup ollo om "
    "omega one ong onl online ooo open oracle orange org organic origins osaka otsuka ott ovh pa "
    "page panasonic paris pars partners parts party pay pccw pe pet pf pfizer pg ph pharmacy phd "
    "philips phone photo photography photos physio pics pictet pictures pid pin ping pink pioneer "
    "pizza pk pl place play playstation plumbing plus pm pn pnc pohl poker politie porn post pr "
    "praxi press prime pro prod productions prof progressive promo properties property protection "
    "pru prudential ps pt pub pw pwc py qa qpon quebec quest racing radio re read realestate "
    "realtor realty recipes red redumbrella rehab reise reisen reit reliance ren rent rentals "
    "repair report republican rest restaurant review reviews rexroth rich richardli ricoh ril rio "
    "rip ro rocks rodeo rogers room rs rsvp ru rugby ruhr run rw rwe ryukyu sa saarland safe "
    "safety sakura sale salon samsclub samsung sandvik sandvikcoromant sanofi sap sarl sas save "
    "saxo sb sbi sbs sc scb schaeffler schmidt scholarships school schule schwarz science scot sd "
    "se search seat secure security seek select sener services seven sew sex sexy sfr sg sh "
    "shangrila sharp shell shia shiksha shoes shop shopping shouji show si silk sina singles site "
    "sj sk ski skin sky skype sl sling sm smart smile sn sncf so soccer social softbank software "
    "sohu solar solutions song sony soy spa space sport spot sr srl ss st stada staples star "
    "statebank statefarm stc stcgroup stockholm storage store stream studio study style su sucks "
    "supplies supply support surf surgery suzuki sv swatch swiss sx sy sydney systems sz tab "
    "taipei talk taobao target tatamotors tatar tattoo tax taxi tc tci td tdk team tech "
    "technology tel temasek tennis teva tf tg th thd theater theatre tiaa tickets tienda tips "
    "tires tirol tj tjmaxx tjx tk tkmaxx tl tm tmall tn to today tokyo tools top toray toshiba "
    "total tours town toyota toys tr trade trading training travel travelers travelersinsurance "
    "trust trv tt tube tui tunes tushu tv tvs tw tz ua ubank ubs ug uk unicom university uno uol "
    "ups us uy uz va vacations vana vanguard vc ve vegas ventures verisign versicherung vet vg vi "
    "viajes video vig viking villas vin vip virgin visa vision viva vivo vlaanderen vn vodka "
    "volvo vote voting voto voyage vu wales walmart walter wang wanggou watch watches weather "
    "weatherchannel web webcam weber website wed wedding weibo weir wf whoswho wien wiki "
    "williamhill win windows wine winners wme woodside work works world wow ws wtc wtf xbox xerox "
    "xihuan xin xn--11b4c3d xn--1ck2e1b xn--1qqw23a xn--2scrj9c xn--30rr7y xn--3bst00m "
    "xn--3ds443g xn--3e0b707e xn--3hcrj9c xn--3pxu8k xn--42c2d9a xn--45br5cyl xn--45brj9c "
    "xn--45q11c xn--4dbrk0ce xn--4gbrim xn--54b7fta0cc xn--55qw42g xn--55qx5d xn--5su34j936bgsg "
    "xn--5tzm5g xn--6frz82g xn--6qq986b3xl xn--80adxhks xn--80ao21a xn--80aqecdr1a xn--80asehdb "
    "xn--80aswg xn--8y0a063a xn--90a3ac xn--90ae xn--90ais xn--9dbq2a xn--9et52u xn--9krt00a "
    "xn--b4w605ferd xn--bck1b9a5dre4c xn--c1avg xn--c2br7g xn--cck2b3b xn--cckwcxetd xn--cg4bki "
    "xn--clchc0ea0b2g2a9gcd xn--czr694b xn--czrs0t xn--czru2d xn--d1acj3b xn--d1alf xn--e1a4c "
    "xn--eckvdtc9d xn--efvy88h xn--fct429k xn--fhbei xn--fiq228c5hs xn--fiq64b xn--fiqs8s "
    "xn--fiqz9s xn--fjq720a xn--flw351e xn--fpcrj9c3d xn--fzc2c9e2c xn--fzys8d69uvgm xn--g2xx48c "
    "xn--gckr3f0f xn--gecrj9c xn--gk3at1e xn--h2breg3eve xn--h2brj9c xn--h2brj9c8c xn--hxt814e "
    "xn--i1b6b1a6a2e xn--imr513n xn--io0a7i xn--j1aef xn--j1amh xn--j6w193g xn--jlq480n2rg "
    "xn--jvr189m xn--kcrx77d1x4a xn--kprw13d xn--kpry57d xn--kput3i xn--l1acc xn--lgbbat1ad8j "
    "xn--mgb9awbf xn--mgba3a3ejt xn--mgba3a4f16a xn--mgba7c0bbn0a xn--mgbaam7a8h xn--mgbab2bd "
    "xn--mgbah1a3hjkrd xn--mgbai9azgqp6j xn--mgbayh7gpa xn--mgbbh1a xn--mgbbh1a71e "
    "xn--mgbc0a9azcg xn--mgbca7dzdo xn--mgbcpq6gpa1a xn--mgberp4a5d4ar xn--mgbgu82a "
    "xn--mgbi4ecexp xn--mgbpl2fh xn--mgbt3dhd xn--mgbtx2b xn--mgbx4cd0ab xn--mix891f xn--mk1bu44c "
    "xn--mxtq1m xn--ngbc5azd xn--ngbe9e0a xn--ngbrx xn--node xn--nqv7f xn--nqv7fs00ema "
    "xn--nyqy26a xn--o3cw4h xn--ogbpf8fl xn--otu796d xn--p1acf xn--p1ai xn--pgbs0dh xn--pssy2u "
    "xn--q7ce6a xn--q9jyb4c xn--qcka1pmc xn--qxa6a xn--qxam xn--rhqv96g xn--rovu88b "
    "xn--rvc1e0am3e xn--s9brj9c xn--ses554g xn--t60b56a xn--tckwe xn--tiq49xqyj xn--unup4y "
    "xn--vermgensberater-ctb xn--vermgensberatung-pwb xn--vhquv xn--vuq861b xn--w4r85el8fhu5dnra "
    "xn--w4rs40l xn--wgbh1c xn--wgbl6a xn--xhq521b xn--xkc2al3hye2a xn--xkc2dl3a5ee0h xn--y9a3aq "
    "xn--yfro4i67o xn--ygbi2ammx xn--zfr164b xxx xyz yachts yahoo yamaxun yandex ye yodobashi "
    "yoga yokohama you youtube yt yun za zappos zara zero zip zm zone zuerich zw "
)

_PUNCT_RANGES = (
    "21-23 25-2a 2c-2f 3a-3b 3f-40 5b-5d 5f 7b 7d a1 a7 ab b6-b7 bb bf 37e 387 55a-55f 589-58a "
    "5be 5c0 5c3 5c6 5f3-5f4 609-60a 60c-60d 61b 61d-61f 66a-66d 6d4 700-70d 7f7-7f9 830-83e 85e "
    "964-965 970 9fd a76 af0 c77 c84 df4 e4f e5a-e5b f04-f12 f14 f3a-f3d f85 fd0-fd4 fd9-fda "
    "104a-104f 10fb 1360-1368 1400 166e 169b-169c 16eb-16ed 1735-1736 17d4-17d6 17d8-17da "
    "1800-180a 1944-1945 1a1e-1a1f 1aa0-1aa6 1aa8-1aad 1b4e-1b4f 1b5a-1b60 1b7d-1b7f 1bfc-1bff "
    "1c3b-1c3f 1c7e-1c7f 1cc0-1cc7 1cd3 2010-2027 2030-2043 2045-2051 2053-205e 207d-207e "
    "208d-208e 2308-230b 2329-232a 2768-2775 27c5-27c6 27e6-27ef 2983-2998 29d8-29db 29fc-29fd "
    "2cf9-2cfc 2cfe-2cff 2d70 2e00-2e2e 2e30-2e4f 2e52-2e5d 3001-3003 3008-3011 3014-301f 3030 "
    "303d 30a0 30fb a4fe-a4ff a60d-a60f a673 a67e a6f2-a6f7 a874-a877 a8ce-a8cf a8f8-a8fa a8fc "
    "a92e-a92f a95f a9c1-a9cd a9de-a9df aa5c-aa5f aade-aadf aaf0-aaf1 abeb fd3e-fd3f fe10-fe19 "
    "fe30-fe52 fe54-fe61 fe63 fe68 fe6a-fe6b ff01-ff03 ff05-ff0a ff0c-ff0f ff1a-ff1b ff1f-ff20 "
    "ff3b-ff3d ff3f ff5b ff5d ff5f-ff65 10100-10102 1039f 103d0 1056f 10857 1091f 1093f "
    "10a50-10a58 10a7f 10af0-10af6 10b39-10b3f 10b99-10b9c 10d6e 10ead 10f55-10f59 10f86-10f89 "
    "11047-1104d 110bb-110bc 110be-110c1 11140-11143 11174-11175 111c5-111c8 111cd 111db "
    "111dd-111df 11238-1123d 112a9 113d4-113d5 113d7-113d8 1144b-1144f 1145a-1145b 1145d 114c6 "
    "115c1-115d7 11641-11643 11660-1166c 116b9 1173c-1173e 1183b 11944-11946 119e2 11a3f-11a46 "
    "11a9a-11a9c 11a9e-11aa2 11b00-11b09 11be1 11c41-11c45 11c70-11c71 11ef7-11ef8 11f43-11f4f "
    "11fff 12470-12474 12ff1-12ff2 16a6e-16a6f 16af5 16b37-16b3b 16b44 16d6d-16d6f 16e97-16e9a "
    "16fe2 1bc9f 1da87-1da8b 1e5ff 1e95e-1e95f "
)

_GB_EXTEND_EXTRA = (
    "5c8-5c9 897 9be 9d7 b3e b53-b54 b57 bbe bd7 cc0 cc2 cc7-cc8 cca-ccb cd5-cd6 d3e d57 dcf ddf "
    "ece 1715 1734 1acf-1af0 1b35 1b3b 1b3d 1b43-1b44 1baa 1bf2-1bf3 200c 302e-302f a953 a9c0 "
    "ff9e-ff9f 10d69-10d6d 10ecb-10ecf 10ef0-10eff 111c0 11235 11241 1133e 1134d 11357 113b8 "
    "113bb-113c0 113c2 113c5 113c7-113c9 113ce-113d0 113d2 113e1-113e2 114b0 114bd 115af 116b6 "
    "11930 1193d 11b60 11b62-11b64 11b66 11df0 11f00-11f01 11f36-11f3a 11f40-11f42 11f5a 13440 "
    "13447-13455 1611e-16129 1612d-1612f 16ff0-16ff1 1d127-1d128 1d165-1d166 1d16d-1d172 "
    "1d250-1d252 1d25b-1d25c 1d25f 1d280-1d281 1e08f 1e4ec-1e4ef 1e5ee-1e5ef 1e6e3 1e6e6 "
    "1e6ee-1e6ef 1e6f5 1f3fb-1f3ff e0020-e007f "
)

_GB_SPACINGMARK_EXCLUDE = (
    "102b-102c 1038 1062-1064 1067-106d 1083 1087-108c 108f 109a-109c 1a61 1a63-1a64 aa7b aa7d "
    "11720-11721 "
)

_GB_SPACINGMARK_EXTRA = (
    "cf3 e33 eb3 113b9-113ba 113ca 113cc-113cd 1171e 11b61 11b65 11b67 11f03 11f34-11f35 "
    "11f3e-11f3f 1612a-1612c "
)

_GB_CONTROL = (
    "0-9 b-c e-1f 7f-9f ad 61c 180e 200b 200e-200f 2028-202e 2060-206f feff fff0-fffb 13430-1343f "
    "1bca0-1bca3 1d173-1d17a e0000-e001f e0080-e00ff e01f0-e0fff "
)

_GB_PREPEND = (
    "600-605 6dd 70f 890-891 8e2 d4e 110bd 110cd 111c2-111c3 113d1 1193f 11941 11a84-11a89 11d46 "
    "11f02 "
)

_GB_L = "1100-115f a960-a97c "

_GB_V = "1160-11a7 d7b0-d7c6 16d63 16d67-16d6a "

_GB_T = "11a8-11ff d7cb-d7fb "

_GB_EXT_PICT = (
    "a9 ae 203c 2049 2122 2139 2194-2199 21a9-21aa 231a-231b 2328 23cf 23e9-23f3 23f8-23fa 24c2 "
    "25aa-25ab 25b6 25c0 25fb-25fe 2600-2604 260e 2611 2614-2615 2618 261d 2620 2622-2623 2626 "
    "262a 262e-262f 2638-263a 2640 2642 2648-2653 265f-2660 2663 2665-2666 2668 267b 267e-267f "
    "2692-2697 2699 269b-269c 26a0-26a1 26a7 26aa-26ab 26b0-26b1 26bd-26be 26c4-26c5 26c8 "
    "26ce-26cf 26d1 26d3-26d4 26e9-26ea 26f0-26f5 26f7-26fa 26fd 2702 2705 2708-270d 270f 2712 "
    "2714 2716 271d 2721 2728 2733-2734 2744 2747 274c 274e 2753-2755 2757 2763-2764 2795-2797 "
    "27a1 27b0 27bf 2934-2935 2b05-2b07 2b1b-2b1c 2b50 2b55 3030 303d 3297 3299 1f004 1f02c-1f02f "
    "1f094-1f09f 1f0af-1f0b0 1f0c0 1f0cf-1f0d0 1f0f6-1f0ff 1f170-1f171 1f17e-1f17f 1f18e "
    "1f191-1f19a 1f1af-1f1e5 1f201-1f20f 1f21a 1f22f 1f232-1f23a 1f23c-1f23f 1f249-1f25f "
    "1f266-1f321 1f324-1f393 1f396-1f397 1f399-1f39b 1f39e-1f3f0 1f3f3-1f3f5 1f3f7-1f3fa "
    "1f400-1f4fd 1f4ff-1f53d 1f549-1f54e 1f550-1f567 1f56f-1f570 1f573-1f57a 1f587 1f58a-1f58d "
    "1f590 1f595-1f596 1f5a4-1f5a5 1f5a8 1f5b1-1f5b2 1f5bc 1f5c2-1f5c4 1f5d1-1f5d3 1f5dc-1f5de "
    "1f5e1 1f5e3 1f5e8 1f5ef 1f5f3 1f5fa-1f64f 1f680-1f6c5 1f6cb-1f6d2 1f6d5-1f6e5 1f6e9 "
    "1f6eb-1f6f0 1f6f3-1f6ff 1f7dc-1f7f0 1f80c-1f80f 1f848-1f84f 1f85a-1f85f 1f888-1f88f "
    "1f8ae-1f8af 1f8bc-1f8bf 1f8c2-1f8cf 1f8d9-1f8ff 1f90c-1f93a 1f93c-1f945 1f947-1f9ff "
    "1fa58-1fa5f 1fa6e-1faff 1fc00-1fffd "
)

_GB_INCB_LINKER = (
    "94d 9cd acd b4d c4d d4d 1039 17d2 1a60 1b44 1bab 1cf5-1cf6 a9c0 aaf6 10a3f 11133 113d0 1193e "
    "11a3a 11a47 11a99 11f42 "
)

_GB_INCB_CONSONANT = (
    "915-939 958-95f 978-97f 995-9a8 9aa-9b0 9b2 9b6-9b9 9dc-9dd 9df 9f0-9f1 a95-aa8 aaa-ab0 "
    "ab2-ab3 ab5-ab9 af9 b15-b28 b2a-b30 b32-b33 b35-b39 b5c-b5d b5f b71 c15-c28 c2a-c39 c58-c5a "
    "d15-d3a 1000-102a 103f 1050-1055 105a-105d 1061 1065-1066 106e-1070 1075-1081 108e 1780-17b3 "
    "1a20-1a54 1b0b-1b0c 1b13-1b33 1b45-1b4c 1b83-1ba0 1bae-1baf 1bbb-1bbd a989-a98b a98f-a9b2 "
    "a9e0-a9e4 a9e7-a9ef a9fa-a9fe aa60-aa6f aa71-aa73 aa7a aa7e-aa7f aae0-aaea abc0-abda 10a00 "
    "10a10-10a13 10a15-10a17 10a19-10a35 11103-11126 11144 11147 11380-11389 1138b 1138e "
    "11390-113b5 11900-11906 11909 1190c-11913 11915-11916 11918-1192f 11a00 11a0b-11a32 11a50 "
    "11a5c-11a83 11b0a 11df1 11f04-11f10 11f12-11f33 "
)
