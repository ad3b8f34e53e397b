"""The official Bluesky app's short display of a link (``toShortUrl``).

The app parses the link with the browser's ``new URL()`` (the WHATWG URL standard). Here that
parsing is ada-url's: the Python binding of ada, the parser inside Node.js, so host
normalisation (IDNA, IPv4 forms, default ports), path dot-segments and percent-encoding are
the ones the app's JavaScript engine applies, and none of it is kept by hand any more.

What stays here, because it is not URL parsing:
- ``toShortUrl`` itself: host, then path + query + fragment cut to 13 characters and "..."
  when longer than 15; anything but http(s), or a link that does not parse, shown as written.
- A JavaScript string is UTF-16 and ``new URL()`` takes a USVString: a lone surrogate becomes
  U+FFFD before parsing. ada takes UTF-8, which cannot carry one, so the replacement is made
  here first.

ada-url is imported on first use (about 9 ms): only a Bluesky post with an http(s) link needs
it, and each link is parsed once per process (the result is cached).
"""

from __future__ import annotations

import re
from functools import lru_cache

_SURROGATE = re.compile("[\ud800-\udfff]")


@lru_cache(maxsize=4096)
def short_url(url: str) -> str:
    """The official Bluesky app's display form of a link's text (``toShortUrl``)."""
    from ada_url import URL

    source = url
    if not url.isascii() and _SURROGATE.search(url):
        source = _SURROGATE.sub("\ufffd", url)
    try:
        parsed = URL(source)
    except ValueError:
        return url
    if parsed.protocol not in ("http:", "https:"):
        return url
    pathname = parsed.pathname
    tail = ("" if pathname == "/" else pathname) + parsed.search + parsed.hash
    if len(tail) > 15:
        return parsed.host + tail[:13] + "..."
    return parsed.host + tail
