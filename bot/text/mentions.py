"""Bluesky @mentions as the official client finds them, without resolving them.

``detectFacets`` of ``@atproto/api`` (rich-text/detection.ts and util.ts) uses
``MENTION_REGEX = /(^|\\s|\\()(@)([a-zA-Z0-9.-]+)(\\b)/g`` and keeps a match whose handle ends
with a known TLD (``isValidDomain``) or with ``.test``; the Python SDK's ``detect_mentions``
(atproto_client.utils) also requires a syntactically valid handle (labels of 1-63 letters,
digits and inner hyphens, a TLD that starts with a letter, 253 characters at most), and so do
we: anything else could never resolve to an account. The DID is looked up when publishing.
"""

from __future__ import annotations

import re

from bot.text.bluesky import JS_SPACE, bluesky_tlds

# JavaScript's \s and "(" before the "@" (a lookbehind: the official regex consumes that
# character, which no later match could use anyway); \b is ASCII in both languages.
_MENTION = re.compile(f"(?:^|(?<=[{JS_SPACE}(]))@([a-zA-Z0-9.-]+)\\b", re.ASCII)
_HANDLE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
MAX_HANDLE = 253


def is_handle(handle: str) -> bool:
    """A syntactically valid atproto handle (a domain name)."""
    return len(handle) <= MAX_HANDLE and _HANDLE.fullmatch(handle) is not None


def detect_mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, handle) of each @mention: str offsets of the "@handle", the handle
    without its "@"."""
    if "@" not in text:
        return []
    found: list[tuple[int, int, str]] = []
    for match in _MENTION.finditer(text):
        handle = match.group(1)
        if not is_handle(handle):
            continue
        # isValidDomain: the handle ends with ".<tld>" (case-sensitive, as in the client).
        if not (handle.rpartition(".")[2] in bluesky_tlds() or handle.endswith(".test")):
            continue
        found.append((match.start(), match.end(1), handle))
    return found
