"""The official Bluesky app's short display of a link (``toShortUrl``)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

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
