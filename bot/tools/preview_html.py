"""`thisday preview --html`: one standalone page showing a day's threads side by side, as
Mastodon and Bluesky followers will see them.

Standalone means offline: CSS inline, images as data: URIs, no script at all, and a
Content-Security-Policy that forbids fetching anything. Post text is untrusted: this module
only decides what each piece of a post is (plain text, a link, a tag...), and the autoescaped
templates of bot/tools/pages/ (preview.html.j2, preview-text.html.j2) write it; links get an
href only when they are http(s).

Highlighting follows what each platform does with the text it receives:

* Bluesky shows exactly the facets sent with the post: link facets (their visible text is
  already the app's short form, the full URI is the facet's) and tag facets, located by
  UTF-8 byte offsets.
* Mastodon links http(s) URLs and #hashtags itself, and shows a link without its scheme and
  `www.`, cut after 30 characters with an ellipsis (its TextFormatter.shortened_link).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.config import BlueskyAccount, MastodonAccount, Settings
from bot.content.post import Event
from bot.render.renderer import Part, Thread, year_label
from bot.tools.preview import Preview

PLATFORM_NAMES = {"mastodon": "Mastodon", "bluesky": "Bluesky"}
PLATFORM_ORDER = ("mastodon", "bluesky")
MASTODON_DISPLAY = 30  # characters of a link Mastodon shows after its scheme

# A URL as Mastodon's server links it: a scheme, then anything up to whitespace or markup,
# not glued to a word, mention or tag before it; trailing punctuation stays outside.
_M_URL = re.compile(r"(?<![A-Za-z0-9@$#\uff20\uff03])https?://[^\s<>\"]+", re.IGNORECASE)
_M_URL_END = re.compile(r"[\w/=#+\-]", re.UNICODE)
_M_PREFIX = re.compile(r"https?://(?:www\.)?", re.IGNORECASE)
# Mastodon's HASHTAG_RE: '#' not after a word character, '/' or ')'; the name has a letter,
# and starts and ends with a word character (· and ZWNJ may join words inside).
_M_TAG = re.compile(r"(?<![\w/)])#(\w(?:[\w\u00b7\u200c]*\w)?)")

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def safe_href(uri: str) -> str | None:
    """Only http(s) links become clickable; anything else is shown as text."""
    return uri if re.match(r"https?://", uri, re.IGNORECASE) else None


# ---------------------------------------------------------------------------------------------
# Text as each platform shows it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of a post's text and what the platform makes of it (preview-text.html.j2)."""

    kind: str  # "text", "link", "short-link" (Mastodon's), "tag" or "mention"
    text: str  # what followers see
    href: str = ""  # links: where it goes (always http or https)
    tag: str = ""  # tags: the tag's name
    before: str = ""  # short links: the hidden start (scheme and www.)
    after: str = ""  # short links: the hidden rest, shown as an ellipsis


def bluesky_spans(text: str, facets: Iterable[Mapping[str, Any]]) -> list[Span]:
    """The post text cut at its facets (links, tags, mentions); offsets are UTF-8 bytes."""
    data = text.encode("utf-8", "surrogatepass")
    found = []
    for facet in facets:
        index = facet.get("index", {})
        start, end = index.get("byteStart"), index.get("byteEnd")
        features = facet.get("features") or [{}]
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data):
            found.append((start, end, features[0]))
    found.sort(key=lambda s: s[0])
    spans: list[Span] = []
    pos = 0
    for start, end, feature in found:
        if start < pos:
            continue  # overlapping facets are invalid; the app shows the first
        spans.append(Span("text", _decode(data[pos:start])))
        spans.append(_facet_span(_decode(data[start:end]), feature))
        pos = end
    spans.append(Span("text", _decode(data[pos:])))
    return spans


def _facet_span(shown: str, feature: Mapping[str, Any]) -> Span:
    kind = str(feature.get("$type", ""))
    href = safe_href(str(feature.get("uri", ""))) if kind.endswith("#link") else None
    if href:
        return Span("link", shown, href=href)
    if kind.endswith("#tag"):
        return Span("tag", shown, tag=str(feature.get("tag", "")))
    if kind.endswith("#mention"):
        return Span("mention", shown)
    return Span("text", shown)


def bluesky_text(text: str, facets: Iterable[Mapping[str, Any]]) -> str:
    """The post text as HTML, its facets made links and tags."""
    return _text_html(bluesky_spans(text, facets))


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def mastodon_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) of each URL Mastodon would link in `text`."""
    found = []
    for match in _M_URL.finditer(text):
        start, end = match.span()
        while end > start:
            last = text[end - 1]
            if last == ")" and text.count("(", start, end) >= text.count(")", start, end):
                break
            if last != ")" and _M_URL_END.match(last):
                break
            end -= 1
        if urlsplit(text[start:end]).netloc:
            found.append((start, end))
    return found


def mastodon_spans(text: str) -> list[Span]:
    """The post text with URLs and #hashtags found the way Mastodon finds them."""
    spans: list[Span] = []
    pos = 0
    for start, end in mastodon_urls(text):
        spans.extend(_mastodon_tags(text[pos:start]))
        spans.append(_mastodon_link(text[start:end]))
        pos = end
    spans.extend(_mastodon_tags(text[pos:]))
    return spans


def mastodon_text(text: str) -> str:
    """The post text as HTML, URLs and #hashtags linked and shown the way Mastodon shows them."""
    return _text_html(mastodon_spans(text))


def _mastodon_link(url: str) -> Span:
    prefix = _M_PREFIX.match(url)
    cut = prefix.end() if prefix else 0
    shown, rest = url[cut : cut + MASTODON_DISPLAY], url[cut + MASTODON_DISPLAY :]
    return Span("short-link", shown, href=url, before=url[:cut], after=rest)


def _mastodon_tags(text: str) -> list[Span]:
    spans: list[Span] = []
    pos = 0
    for match in _M_TAG.finditer(text):
        name = match.group(1)
        if not any(c.isalpha() for c in name):
            continue
        spans.append(Span("text", text[pos : match.start()]))
        spans.append(Span("tag", f"#{name}", tag=name))
        pos = match.end()
    spans.append(Span("text", text[pos:]))
    return spans


def _text_html(spans: list[Span]) -> str:
    from bot.tools import pages

    return str(pages.macro("preview-text.html.j2", "spans")(spans))


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """The head post's image: inline as a data: URI, or why it cannot be shown."""

    source: str  # a data: URI, else the reason
    alt: str
    blurred: bool  # Bluesky labels it graphic media (the post has a content warning)

    @property
    def inline(self) -> bool:
        return self.source.startswith("data:")


@dataclass(frozen=True, slots=True)
class LinkCard:
    host: str
    title: str
    description: str
    href: str | None  # None: not an http(s) link, so not clickable
    thumb: Figure | None = None  # Bluesky, card_image = true: the first image in the card


@dataclass(frozen=True, slots=True)
class Post:
    """One part of a thread, as its card on the page shows it."""

    thread: Thread
    part: Part
    spans: list[Span]
    handle: str
    figure: Figure | None  # the first of `figures`
    card: LinkCard | None
    figures: tuple[Figure, ...] = ()  # every image the post shows under its text

    @property
    def platform_name(self) -> str:
        return PLATFORM_NAMES.get(self.thread.platform, self.thread.platform)

    @property
    def folded(self) -> bool:
        """Mastodon folds a post with a content warning behind its summary line."""
        return bool(self.thread.cw) and self.thread.platform == "mastodon"


@dataclass(frozen=True, slots=True)
class ThreadView:
    account: str
    notes: list[str]
    posts: list[Post]


@dataclass(frozen=True, slots=True)
class Column:
    platform: str
    name: str
    threads: list[ThreadView]


@dataclass(frozen=True, slots=True)
class EventView:
    id: str
    title: str
    facts: str
    columns: list[Column]


def page(result: Preview, settings: Settings | None = None) -> str:
    """The whole page for a preview; `settings` adds handles and servers to account names."""
    from bot.tools import pages

    accounts: Mapping[str, MastodonAccount | BlueskyAccount] = (
        settings.active_accounts() if settings else {}
    )
    images: dict[str, str] = {}  # image path -> data: URI, each file read once
    events = [
        _event(event, [t for t in result.threads if t.event.id == event.id], accounts, images)
        for event in result.events
    ]
    return pages.render(
        "preview.html.j2",
        csp=CSP,
        style=pages.asset("preview.css"),
        title=f"thisday preview {result.day.isoformat()}",
        weekday=f"{result.day:%A}",
        problems=[str(p) for p in result.problems],
        events=events,
    )


def _event(
    event: Event, threads: list[Thread], accounts: Mapping[str, Any], images: dict[str, str]
) -> EventView:
    year = year_label(event.year)
    facts = [f"id {event.id}", event.path] + ([year] if year else [])
    platforms = sorted(
        {t.platform for t in threads},
        key=lambda p: (PLATFORM_ORDER.index(p) if p in PLATFORM_ORDER else 99, p),
    )
    columns = [
        Column(
            platform,
            PLATFORM_NAMES.get(platform, platform.title()),
            [
                _thread(thread, accounts.get(thread.account), images)
                for thread in threads
                if thread.platform == platform
            ],
        )
        for platform in platforms
    ]
    return EventView(event.id, event.title, " · ".join(facts), columns)


def _thread(thread: Thread, account: Any, images: dict[str, str]) -> ThreadView:
    notes = list(thread.notes)
    if thread.cw and thread.platform == "bluesky":
        notes.append(
            f"content warning {thread.cw!r}: Bluesky has no spoiler text; "
            + (
                "the image is labelled graphic media and blurred"
                if thread.image
                else "followers see the text as it is"
            )
        )
    handle = _handle(thread, account)
    in_card = thread.platform == "bluesky" and thread.card is not None
    figures = () if in_card else _figures(thread, images)
    posts = [
        Post(
            thread=thread,
            part=part,
            spans=(
                bluesky_spans(part.text, part.facets)
                if thread.platform == "bluesky"
                else mastodon_spans(part.text)
            ),
            handle=handle,
            figure=figures[0] if part.index == 0 and figures else None,
            card=_card(thread, images) if part.index == 0 and thread.card else None,
            figures=figures if part.index == 0 else (),
        )
        for part in thread.parts
    ]
    return ThreadView(thread.account, notes, posts)


def _handle(thread: Thread, account: Any) -> str:
    if isinstance(account, BlueskyAccount):
        return "@" + account.handle
    if isinstance(account, MastodonAccount):
        return urlsplit(account.server).netloc or account.server
    return PLATFORM_NAMES.get(thread.platform, thread.platform)


def _figures(thread: Thread, images: dict[str, str]) -> tuple[Figure, ...]:
    """Every image of the head post (the `images:` list, or the one `image:`)."""
    pictures = [(p.path, p.alt) for p in thread.images] or (
        [(thread.image, thread.alt or "")] if thread.image else []
    )
    out = []
    for path, alt in pictures:
        source = images.get(path)
        if source is None:
            source = images[path] = _data_uri(path)
        out.append(Figure(source, alt, blurred=thread.platform == "bluesky" and bool(thread.cw)))
    return tuple(out)


def _data_uri(path: str) -> str:
    """The image inline, so the page needs no file beside it; or why it cannot be shown."""
    from bot.content.images import ImageError, inspect

    try:
        mime = inspect(path).mime
        with open(path, "rb") as handle:
            data = handle.read()
    except (OSError, ImageError) as exc:
        return f"image not shown ({exc}): {path}"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _card(thread: Thread, images: dict[str, str] | None = None) -> LinkCard:
    card = thread.card
    assert card is not None
    host = urlsplit(card.uri).netloc
    thumb = None
    if thread.images and images is not None:  # card_image = true: the first image is its thumb
        thumb = _figures(thread, images)[0]
    return LinkCard(host or card.uri, card.title, card.description, safe_href(card.uri), thumb)
