"""`thisday preview --html`: one standalone page showing a day's threads side by side, as
Mastodon and Bluesky followers will see them.

Standalone means offline: CSS inline, images as data: URIs, no script at all, and a
Content-Security-Policy that forbids fetching anything. Post text is untrusted, so every
piece of it is escaped; links get an href only when they are http(s).

Highlighting follows what each platform does with the text it receives:

* Bluesky shows exactly the facets sent with the post: link facets (their visible text is
  already the app's short form, the full URI is the facet's) and tag facets, located by
  UTF-8 byte offsets.
* Mastodon links http(s) URLs and #hashtags itself, and shows a link without its scheme and
  `www.`, cut after 30 characters with an ellipsis (its TextFormatter.shortened_link).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping
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

STYLE = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;padding:12px;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;
color:#1f2328;background:#eef1f5}
main{max-width:1240px;margin:0 auto}
h1{font-size:1.3rem;margin:4px 0 2px}
h2{font-size:1.1rem;margin:0 0 2px}
h3{font-size:.95rem;margin:0 0 10px;display:flex;align-items:center;gap:8px}
p,ul{margin:4px 0}
a{color:inherit}
.sub{color:#57606a;font-size:.87rem;overflow-wrap:anywhere}
.problems{background:#fff1f0;border:1px solid #f5a9a3;border-radius:8px;padding:8px 12px;
margin:12px 0;overflow-wrap:anywhere;white-space:pre-wrap}
.problems li{color:#a40e26}
.empty{background:#fff;border-radius:8px;padding:16px;margin:12px 0}
.event{margin:16px 0 28px}
.event>header{margin-bottom:10px}
.platforms{display:grid;grid-template-columns:minmax(0,1fr);gap:16px}
@media (min-width:800px){.platforms{grid-template-columns:repeat(2,minmax(0,1fr))}}
.column{min-width:0}
.badge{font-size:.75rem;font-weight:600;color:#fff;border-radius:999px;padding:1px 8px}
.mastodon .badge{background:#563acc}
.bluesky .badge{background:#0a66d8}
.thread{margin:0 0 20px}
.thread>.notes{margin:0 0 8px}
.note{font-size:.85rem;background:#fff8c5;border:1px solid #e7d27a;border-radius:6px;
padding:4px 8px;margin:0 0 6px;overflow-wrap:anywhere}
.post{position:relative;background:#fff;border:1px solid #d0d7de;border-radius:12px;
padding:12px 14px;margin:0 0 10px;overflow-wrap:anywhere;min-width:0}
.post+.post::before{content:"";position:absolute;left:33px;top:-11px;height:10px;
border-left:2px solid #afb8c1}
.who{display:flex;align-items:center;gap:10px;margin-bottom:8px;min-width:0}
.avatar{flex:none;width:38px;height:38px;border-radius:50%;display:flex;align-items:center;
justify-content:center;font-weight:700;color:#fff;text-transform:uppercase}
.mastodon .avatar{background:#6364ff;border-radius:8px}
.bluesky .avatar{background:#1185fe}
.names{min-width:0}
.name{font-weight:700;display:block;overflow-wrap:anywhere}
.handle{color:#57606a;font-size:.85rem;display:block;overflow-wrap:anywhere}
.text{white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;margin:0}
.text a,a.card{text-decoration:none}
a.card{color:inherit}
.mastodon .text a{color:#563acc}
.bluesky .text a{color:#0a66d8}
.text .tag{font-weight:600}
.mastodon .text .tag{color:#563acc}
.bluesky .text .tag{color:#0a66d8}
.invisible{display:none}
.ellipsis::after{content:"\\2026"}
details.cw{margin:0}
details.cw>summary{cursor:pointer;list-style:none;background:#f6f8fa;border:1px solid #d0d7de;
border-radius:8px;padding:6px 10px;margin-bottom:8px}
details.cw>summary::-webkit-details-marker{display:none}
.cw-label{font-weight:700}
.cw-hint{display:block;color:#57606a;font-size:.8rem}
figure{margin:10px 0 0}
figure img{display:block;max-width:100%;height:auto;border-radius:8px;border:1px solid #d0d7de}
figcaption{font-size:.85rem;color:#3d444d;margin-top:4px;overflow-wrap:anywhere}
.alt-label{font-weight:700;font-size:.7rem;background:#1f2328;color:#fff;border-radius:4px;
padding:0 4px;margin-right:4px}
.missing{background:#f6f8fa;border:1px dashed #afb8c1;border-radius:8px;padding:10px}
.card{display:block;margin:10px 0 0;border:1px solid #d0d7de;border-radius:10px;padding:8px 10px;
overflow-wrap:anywhere}
.card-host{display:block;color:#57606a;font-size:.8rem}
.card-title{display:block;font-weight:600}
.card-desc{display:block;color:#3d444d;font-size:.88rem}
.meta{display:flex;flex-wrap:wrap;gap:4px 12px;margin-top:8px;font-size:.8rem;color:#57606a}
.meta .over{color:#a40e26;font-weight:700}
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def safe_href(uri: str) -> str | None:
    """Only http(s) links become clickable; anything else is shown as text."""
    return uri if re.match(r"https?://", uri, re.IGNORECASE) else None


# ---------------------------------------------------------------------------------------------
# Text as each platform shows it
# ---------------------------------------------------------------------------------------------


def bluesky_text(text: str, facets: Iterable[Mapping[str, Any]]) -> str:
    """The post text with its facets made links and tags; offsets are UTF-8 bytes."""
    data = text.encode("utf-8", "surrogatepass")
    spans = []
    for facet in facets:
        index = facet.get("index", {})
        start, end = index.get("byteStart"), index.get("byteEnd")
        features = facet.get("features") or [{}]
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data):
            spans.append((start, end, features[0]))
    spans.sort(key=lambda s: s[0])
    out: list[str] = []
    pos = 0
    for start, end, feature in spans:
        if start < pos:
            continue  # overlapping facets are invalid; the app shows the first
        out.append(esc(_decode(data[pos:start])))
        shown = esc(_decode(data[start:end]))
        kind = str(feature.get("$type", ""))
        href = safe_href(str(feature.get("uri", ""))) if kind.endswith("#link") else None
        if href:
            out.append(f'<a class="link" href="{esc(href)}" rel="nofollow noopener">{shown}</a>')
        elif kind.endswith("#tag"):
            out.append(f'<span class="tag" data-tag="{esc(str(feature.get("tag", "")))}">')
            out.append(f"{shown}</span>")
        elif kind.endswith("#mention"):
            out.append(f'<span class="mention">{shown}</span>')
        else:
            out.append(shown)
        pos = end
    out.append(esc(_decode(data[pos:])))
    return "".join(out)


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


def mastodon_text(text: str) -> str:
    """The post text with URLs and #hashtags linked and shown the way Mastodon shows them."""
    out: list[str] = []
    pos = 0
    for start, end in mastodon_urls(text):
        out.append(_mastodon_tags(text[pos:start]))
        out.append(_mastodon_link(text[start:end]))
        pos = end
    out.append(_mastodon_tags(text[pos:]))
    return "".join(out)


def _mastodon_link(url: str) -> str:
    prefix = _M_PREFIX.match(url)
    cut = prefix.end() if prefix else 0
    shown, rest = url[cut : cut + MASTODON_DISPLAY], url[cut + MASTODON_DISPLAY :]
    ellipsis = ' class="ellipsis"' if rest else ""
    return (
        f'<a class="link" href="{esc(url)}" rel="nofollow noopener">'
        f'<span class="invisible">{esc(url[:cut])}</span><span{ellipsis}>{esc(shown)}</span>'
        f'<span class="invisible">{esc(rest)}</span></a>'
    )


def _mastodon_tags(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _M_TAG.finditer(text):
        name = match.group(1)
        if not any(c.isalpha() for c in name):
            continue
        out.append(esc(text[pos : match.start()]))
        out.append(f'<span class="tag" data-tag="{esc(name)}">#{esc(name)}</span>')
        pos = match.end()
    out.append(esc(text[pos:]))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def page(result: Preview, settings: Settings | None = None) -> str:
    """The whole page for a preview; `settings` adds handles and servers to account names."""
    accounts: Mapping[str, MastodonAccount | BlueskyAccount] = (
        settings.active_accounts() if settings else {}
    )
    day = result.day
    title = f"thisday preview {day.isoformat()}"
    body: list[str] = [
        f"<header><h1>{esc(title)} ({day:%A})</h1>",
        '<p class="sub">What each account would post on this day, before anything is sent.'
        " Cards are drawn by thisday, not by the platforms.</p></header>",
    ]
    if result.problems:
        body.append('<ul class="problems" aria-label="problems">')
        body.extend(f"<li>{esc(str(p))}</li>" for p in result.problems)
        body.append("</ul>")
    if not result.events:
        body.append('<p class="empty">No event for this day: nothing would be posted.</p>')
    images: dict[str, str] = {}
    for event in result.events:
        threads = [t for t in result.threads if t.event.id == event.id]
        body.append(_event(event, threads, accounts, images))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def _event(
    event: Event, threads: list[Thread], accounts: Mapping[str, Any], images: dict[str, str]
) -> str:
    year = year_label(event.year)
    facts = [f"id {event.id}", event.path] + ([year] if year else [])
    out = [
        f'<section class="event" data-event="{esc(event.id)}"><header>',
        f"<h2>{esc(event.title)}</h2>",
        f'<p class="sub">{esc(" · ".join(facts))}</p></header>',
        '<div class="platforms">',
    ]
    platforms = sorted(
        {t.platform for t in threads},
        key=lambda p: (PLATFORM_ORDER.index(p) if p in PLATFORM_ORDER else 99, p),
    )
    for platform in platforms:
        name = PLATFORM_NAMES.get(platform, platform.title())
        out.append(f'<div class="column {esc(platform)}" data-platform="{esc(platform)}">')
        out.append(f'<h3><span class="badge">{esc(name)}</span></h3>')
        for thread in threads:
            if thread.platform == platform:
                out.append(_thread(thread, accounts.get(thread.account), images))
        out.append("</div>")
    if not threads:
        out.append('<p class="empty">No account could render this event (see problems).</p>')
    out.append("</div></section>")
    return "".join(out)


def _thread(thread: Thread, account: Any, images: dict[str, str]) -> str:
    out = [f'<div class="thread" data-account="{esc(thread.account)}">']
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
    if notes:
        out.append('<div class="notes">')
        out.extend(f'<p class="note">{esc(n)}</p>' for n in notes)
        out.append("</div>")
    for part in thread.parts:
        out.append(_post(thread, part, account, images))
    out.append("</div>")
    return "".join(out)


def _who(thread: Thread, account: Any) -> str:
    if isinstance(account, BlueskyAccount):
        handle = "@" + account.handle
    elif isinstance(account, MastodonAccount):
        handle = urlsplit(account.server).netloc or account.server
    else:
        handle = PLATFORM_NAMES.get(thread.platform, thread.platform)
    initial = thread.account[:1] or "?"
    return (
        f'<div class="who"><span class="avatar" aria-hidden="true">{esc(initial)}</span>'
        f'<span class="names"><span class="name">{esc(thread.account)}</span>'
        f'<span class="handle">{esc(handle)}</span></span></div>'
    )


def _post(thread: Thread, part: Part, account: Any, images: dict[str, str]) -> str:
    total = len(thread.parts)
    text_html = (
        bluesky_text(part.text, part.facets)
        if thread.platform == "bluesky"
        else mastodon_text(part.text)
    )
    content = [f'<p class="text" lang="{esc(thread.lang)}">{text_html}</p>']
    if part.index == 0 and thread.image:
        content.append(_figure(thread, images))
    if part.index == 0 and thread.card:
        content.append(_card(thread))
    inner = "".join(content)
    if thread.cw and thread.platform == "mastodon":
        # Open, so the operator reads everything; followers first see only the summary line.
        inner = (
            '<details class="cw" open><summary><span class="cw-label">Content warning: </span>'
            f'{esc(thread.cw)}<span class="cw-hint">followers see only this line until they'
            ' choose "Show more"</span></summary>'
            f"{inner}</details>"
        )
    over = part.length > part.limit
    meta = (
        f'<footer class="meta"><span>part {part.index + 1}/{total}</span>'
        f'<span class="{"over" if over else "length"}">{part.length}/{part.limit}</span>'
        f"<span>{esc(PLATFORM_NAMES.get(thread.platform, thread.platform))}</span>"
        f"<span>lang {esc(thread.lang)}</span></footer>"
    )
    return (
        f'<article class="post" data-platform="{esc(thread.platform)}" '
        f'data-account="{esc(thread.account)}" data-event="{esc(thread.event.id)}" '
        f'data-part="{part.index}">{_who(thread, account)}{inner}{meta}</article>'
    )


def _figure(thread: Thread, images: dict[str, str]) -> str:
    alt = thread.alt or ""
    source = images.get(thread.image or "")
    if source is None:
        source = images[thread.image or ""] = _data_uri(thread.image or "")
    if source.startswith("data:"):
        picture = f'<img src="{esc(source)}" alt="{esc(alt)}">'
    else:
        picture = f'<div class="missing" role="img" aria-label="{esc(alt)}">{esc(source)}</div>'
    if thread.platform == "bluesky" and thread.cw:
        picture = (
            '<details class="cw" open><summary><span class="cw-label">Graphic media</span>'
            '<span class="cw-hint">Bluesky blurs the image until followers choose "Show"'
            "</span></summary>"
            f"{picture}</details>"
        )
    return (
        f'<figure>{picture}<figcaption><span class="alt-label">ALT</span>{esc(alt)}'
        "</figcaption></figure>"
    )


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


def _card(thread: Thread) -> str:
    card = thread.card
    assert card is not None
    host = urlsplit(card.uri).netloc
    href = safe_href(card.uri)
    inner = (
        f'<span class="card-host">{esc(host or card.uri)}</span>'
        f'<span class="card-title">{esc(card.title)}</span>'
        + (f'<span class="card-desc">{esc(card.description)}</span>' if card.description else "")
    )
    if href:
        return f'<a class="card" href="{esc(href)}" rel="nofollow noopener">{inner}</a>'
    return f'<div class="card">{inner}</div>'
