"""`thisday preview --html`: the page in a real headless Chromium at phone and desktop widths
(no console error, nothing fetched, every part shown, nothing overflowing its card, images
with alt text), hostile post content shown literally, and the highlighting rules."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, launch
from support import ROOT, png, thisday, write_config, write_post

from bot import text as textlib
from bot.text import BLUESKY_DEFAULT, facets, prepare
from bot.tools import preview_html
from bot.tools.preview import Preview, preview
from bot.workspace import Workspace

DAY = "2027-07-20"
ACCOUNTS = """
[accounts.masto]
platform = "mastodon"
server = "https://masto.example"

[accounts.sky]
platform = "bluesky"
server = "https://pds.example"
handle = "sky.example.com"
numbering = true
"""
LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3
HOSTILE_TITLE = "<script>alert(1)</script> & \"quotes\" 'too'"
HOSTILE_SUMMARY = "{{ 7*7 }} <img src=x onerror=alert(2)> {% if 1 %}yes{% endif %}"
HOSTILE_LINK = 'https://example.com/?q="><script>alert(4)</script>'

# Run inside the page: every post card, what it shows, and whatever overflows its card.
PROBE = """
(() => {
  const out = {posts: [], overflow: [], columns: [], images: [], scripts: document.scripts.length,
               pageOverflow: document.documentElement.scrollWidth - window.innerWidth};
  for (const card of document.querySelectorAll('article.post')) {
    const box = card.getBoundingClientRect();
    const text = card.querySelector('.text');
    const shown = text.getBoundingClientRect();
    out.posts.push({account: card.dataset.account, event: card.dataset.event,
                    part: Number(card.dataset.part), text: text.textContent,
                    visible: shown.width > 0 && shown.height > 0,
                    meta: card.querySelector('.meta').textContent});
    const what = `${card.dataset.account}/${card.dataset.event}/${card.dataset.part}`;
    if (card.scrollWidth > card.clientWidth) out.overflow.push(`${what}: card scrolls`);
    if (box.right > window.innerWidth + 0.5 || box.left < -0.5)
      out.overflow.push(`${what}: card outside the viewport`);
    for (const el of card.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5)
        out.overflow.push(`${what}: <${el.tagName.toLowerCase()} class=${el.className}> `
                          + `${r.left}..${r.right} outside ${box.left}..${box.right}`);
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
        out.overflow.push(`${what}: <${el.tagName.toLowerCase()}> scrolls`);
    }
  }
  for (const section of document.querySelectorAll('section.event')) {
    out.columns.push([...section.querySelectorAll('.column')].map(c => {
      const r = c.getBoundingClientRect();
      return {platform: c.dataset.platform, left: r.left, top: r.top, width: r.width};
    }));
  }
  for (const img of document.images)
    out.images.push({alt: img.getAttribute('alt'), loaded: img.complete && img.naturalWidth > 0,
                     src: img.src.slice(0, 22), caption: img.closest('figure')
                       .querySelector('figcaption').textContent});
  return out;
})()
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config with a Mastodon and a Bluesky account and three events on one day."""
    folder = tmp_path_factory.mktemp("site")
    config = write_config(folder, accounts=ACCOUNTS, extra="events_per_day = 3")
    posts = folder / "posts"
    (posts / "moon.png").write_bytes(png(1600, 500))  # wider than any phone
    write_post(
        posts,
        "moon.md",
        """
        date: "1969-07-20"
        title: Apollo 11 lands on the Moon — 🚀 月面着陸
        summary: "Ünïcödé 👩‍🚀 before the link, so facets sit at byte offsets, not characters."
        tags: [Space, Apollo11]
        link: https://en.wikipedia.org/wiki/Apollo_11_(spaceflight)#Lunar_surface_operations_and_more
        image: moon.png
        alt: The lunar module Eagle on a grey plain, a long shadow to its right
        cw: spaceflight peril
        id: moon
        """,
        f"""
        See https://www.nasa.gov/history/apollo-11-mission-overview-of-the-whole-flight/, and
        #MoonLanding (not a tag: a#b, #1969). {LONG_WORD}

        Second paragraph: 日本語のテキストも表示されます。 🌕🌖🌗🌘🌑 family: 👨‍👩‍👧‍👦.
        """,
    )
    write_post(
        posts,
        "hostile.md",
        f"""
        date: "07-20"
        title: '{HOSTILE_TITLE.replace("'", "''")}'
        summary: "{HOSTILE_SUMMARY}"
        link: '{HOSTILE_LINK}'
        cw: "<b>not bold</b>"
        tags: [Test]
        id: hostile
        """,
        "</p></article><script>alert(3)</script><style>*{display:none}</style>",
    )
    write_post(
        posts,
        "plain.md",
        """
        date: "07-20"
        title: A plain event with a link card
        summary: Nothing special here.
        link: https://example.org/plain
        id: plain
        """,
    )
    return config


@pytest.fixture(scope="module")
def expected(site: Path) -> Preview:
    result = preview(Workspace(site), dt.date.fromisoformat(DAY))
    assert not result.problems, result.problems
    assert {e.id for e in result.events} == {"moon", "hostile", "plain"}
    return result


@pytest.fixture(scope="module")
def page_file(site: Path) -> Path:
    out = site.parent / "preview.html"
    result = thisday("preview", "--config", str(site), "--date", DAY, "--html", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    return out


@pytest.mark.parametrize("width", [390, 1280])
def test_page_in_a_real_browser(
    chromium: Browser, page_file: Path, expected: Preview, width: int, tmp_path: Path
) -> None:
    page = chromium.open(page_file, width)
    try:
        probe: dict[str, Any] = page.evaluate(PROBE)
        page.screenshot(tmp_path / f"preview-{width}.png")  # kept by pytest for a look
        page.collect()
    finally:
        page.close()

    assert page.errors == []
    assert page.requests == []  # works offline: nothing fetched
    assert probe["scripts"] == 0
    assert probe["pageOverflow"] <= 0
    assert probe["overflow"] == []

    shown = {(p["account"], p["event"], p["part"]): p for p in probe["posts"]}
    wanted = {
        (t.account, t.event.id, part.index): (part, len(t.parts))
        for t in expected.threads
        for part in t.parts
    }
    assert shown.keys() == wanted.keys()
    for key, (part, total) in wanted.items():
        assert shown[key]["text"] == part.text, key
        assert shown[key]["visible"], key
        assert f"part {part.index + 1}/{total}" in shown[key]["meta"]
        assert f"{part.length}/{part.limit}" in shown[key]["meta"]

    # One image per platform (head posts), each embedded, loaded and described.
    assert len(probe["images"]) == 2
    for image in probe["images"]:
        assert image["loaded"]
        assert image["src"].startswith("data:image/png;base64")
        assert image["alt"] == "The lunar module Eagle on a grey plain, a long shadow to its right"
        assert image["alt"] in image["caption"]

    for columns in probe["columns"]:
        assert [c["platform"] for c in columns] == ["mastodon", "bluesky"]
        masto, sky = columns
        if width == 390:  # stacked
            assert masto["left"] == sky["left"]
            assert sky["top"] > masto["top"]
        else:  # side by side
            assert sky["left"] > masto["left"] + masto["width"] - 1
            assert sky["top"] == masto["top"]


def test_hostile_content_is_shown_literally(chromium: Browser, page_file: Path) -> None:
    page = chromium.open(page_file, 1280)
    try:
        found = page.evaluate(
            """(() => {
              const s = document.querySelector('section[data-event="hostile"]');
              return {
                title: s.querySelector('h2').textContent,
                texts: [...s.querySelectorAll('.text')].map(t => t.textContent).join('\\n'),
                cw: s.querySelector('details.cw summary').textContent,
                cards: [...s.querySelectorAll('a.card')].map(a => a.getAttribute('href')),
                cardTitles: [...s.querySelectorAll('.card-title')].map(t => t.textContent),
                hrefs: [...document.querySelectorAll('a')].map(a => a.getAttribute('href')),
                images: document.images.length,
                styles: document.querySelectorAll('style').length,
                hidden: [...document.querySelectorAll('article.post')]
                  .filter(a => a.getBoundingClientRect().height === 0).length,
              };
            })()"""
        )
        page.collect()
    finally:
        page.close()
    assert page.errors == []  # no alert dialog, no script error
    assert found["title"] == HOSTILE_TITLE
    assert "{{ 7*7 }}" in found["texts"]
    assert "<img src=x onerror=alert(2)>" in found["texts"]
    assert "{% if 1 %}yes{% endif %}" in found["texts"]
    assert "</p></article><script>alert(3)</script>" in found["texts"]
    assert "<b>not bold</b>" in found["cw"]
    assert found["cards"] == [HOSTILE_LINK]
    assert found["cardTitles"] == [HOSTILE_TITLE]
    assert found["images"] == 2  # the moon's two; the hostile `<img>` is text
    assert found["styles"] == 1
    assert found["hidden"] == 0
    assert all(h.startswith(("https://", "http://")) for h in found["hrefs"])


def test_overflow_probe_catches_a_card_that_overflows(chromium: Browser, tmp_path: Path) -> None:
    """The probe is not vacuous: a card holding an unbreakable wide box is reported."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        '<!DOCTYPE html><meta name="viewport" content="width=device-width">'
        '<article class="post" data-account="a" data-event="e" data-part="0">'
        '<p class="text">x</p><div style="width:900px">wide</div><footer class="meta"></footer>'
        "</article>",
        encoding="utf-8",
    )
    page = chromium.open(broken, 390)
    try:
        probe = page.evaluate(PROBE)
    finally:
        page.close()
    assert any("outside" in item for item in probe["overflow"])


def test_harness_reports_errors_dialogs_and_fetches(chromium: Browser, tmp_path: Path) -> None:
    """The error and network checks are not vacuous either."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><title>bad</title><img src='http://127.0.0.1:9/x.png' alt='x'>"
        "<script>alert('hi'); console.error('boom'); notDefined();</script>",
        encoding="utf-8",
    )
    page = chromium.open(bad, 390)
    try:
        page.collect()
    finally:
        page.close()
    assert any(e.startswith("dialog: hi") for e in page.errors)
    assert any(e.startswith("console.error: boom") for e in page.errors)
    assert any("notDefined" in e for e in page.errors)
    assert page.requests == ["http://127.0.0.1:9/x.png"]


def test_html_with_json_keeps_stdout_one_document(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    result = thisday("preview", "--config", str(site), "--date", DAY, "--json", "--html", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["date"] == DAY
    assert str(out) in result.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "--html FILE" in thisday("preview", "--help").stdout
    assert "--html preview.html" in thisday("preview", "--help").stdout


def test_a_day_without_events_still_makes_a_page(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    result = thisday("preview", "--config", str(site), "--date", "2027-01-02", "--html", str(out))
    assert result.returncode == 0, result.stderr
    assert "No event for this day" in out.read_text(encoding="utf-8")


# -- highlighting ------------------------------------------------------------------------


def test_bluesky_facets_use_byte_offsets_and_show_the_short_link() -> None:
    text = "Ünï 👩‍🚀 https://en.wikipedia.org/wiki/Apollo_11_(spaceflight) #Space end"
    rich = prepare(text, BLUESKY_DEFAULT)
    shown = preview_html.bluesky_text(rich.text, facets(rich))
    assert (
        '<a class="link" href="https://en.wikipedia.org/wiki/Apollo_11_(spaceflight)" '
        'rel="nofollow noopener">en.wikipedia.org/wiki/Apollo_...</a>'
    ) in shown
    assert '<span class="tag" data-tag="Space">#Space</span> end' in shown
    assert shown.startswith("Ünï 👩‍🚀 <a")


def test_bluesky_ignores_bad_facets_and_unsafe_links() -> None:
    text = "click me and me"
    bad = [
        {
            "index": {"byteStart": 0, "byteEnd": 5},
            "features": [{"$type": "x#link", "uri": "javascript:alert(1)"}],
        },
        {"index": {"byteStart": 3, "byteEnd": 8}, "features": [{"$type": "x#tag", "tag": "x"}]},
        {"index": {"byteStart": 9, "byteEnd": 99}, "features": [{"$type": "x#tag", "tag": "y"}]},
    ]
    shown = preview_html.bluesky_text(text, bad)
    assert "javascript" not in shown
    assert shown == "click me and me"


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("see https://example.com/a.", ["https://example.com/a"]),
        ("(https://example.com/a)", ["https://example.com/a"]),
        (
            "https://en.wikipedia.org/wiki/Mercury_(planet)!",
            ["https://en.wikipedia.org/wiki/Mercury_(planet)"],
        ),
        ("x https://example.com/?q=1&r=2, more", ["https://example.com/?q=1&r=2"]),
        ("glued:xhttps://example.com no", []),
        (
            "two http://a.example/ and https://b.example/x",
            ["http://a.example/", "https://b.example/x"],
        ),
        ("https:// nothing", []),
    ],
)
def test_mastodon_links_urls_like_mastodon(text: str, urls: list[str]) -> None:
    assert [text[a:b] for a, b in preview_html.mastodon_urls(text)] == urls


def test_mastodon_shows_links_short_and_tags_outside_urls() -> None:
    shown = preview_html.mastodon_text(
        "Read https://www.example.com/a/very/long/path/that/goes/on#frag #Tag a#b #1969 #x_1"
    )
    assert (
        '<a class="link" href="https://www.example.com/a/very/long/path/that/goes/on#frag" '
        'rel="nofollow noopener"><span class="invisible">https://www.</span>'
        '<span class="ellipsis">example.com/a/very/long/path/t</span>'
        '<span class="invisible">hat/goes/on#frag</span></a>'
    ) in shown
    assert '<span class="tag" data-tag="Tag">#Tag</span>' in shown
    assert "a#b" in shown
    assert "#1969" in shown and 'data-tag="1969"' not in shown
    assert 'data-tag="x_1"' in shown
    assert 'data-tag="frag"' not in shown


def test_every_text_is_escaped() -> None:
    assert preview_html.mastodon_text("<b>&</b>") == "&lt;b&gt;&amp;&lt;/b&gt;"
    assert preview_html.bluesky_text("<i>\"'</i>", []) == "&lt;i&gt;&#34;&#39;&lt;/i&gt;"


def test_pages_come_from_autoescaped_templates_shipped_in_the_package() -> None:
    import importlib.resources

    import jinja2

    from bot.tools import pages

    env = pages.environment()
    assert env.autoescape is True
    assert env.undefined is jinja2.StrictUndefined
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing }}").render()
    shipped = importlib.resources.files("bot.tools.pages")
    for name in (
        "preview.html.j2",
        "preview-text.html.j2",
        "preview.css",
        "calendar.svg.j2",
        "calendar.html.j2",
        "calendar.css",
        "calendar-svg.css",
        "calendar.js",
    ):
        assert shipped.joinpath(name).is_file(), name
        env.get_template(name)  # and each one compiles


def test_markup_templates_keep_only_the_whitespace_they_ask_for() -> None:
    from bot.tools import pages

    source = "<p>\n  <b>{{ x }}</b>\n  <i>y</i>\n</p>{{ '\\n' }}\n"
    env = pages.environment()
    assert (
        env.from_string(env.preprocess(source, "t.j2")).render(x="a b")
        == "<p><b>a b</b><i>y</i></p>\n"
    )
    assert env.preprocess(source, "t.css") == source
    # Text with line breaks of its own (pre-wrap) keeps them: they come from the data.
    assert preview_html.mastodon_text("one\n  two") == "one\n  two"


def test_page_html_escapes_attributes_and_text_alike(site: Path) -> None:
    result = preview(Workspace(site), dt.date.fromisoformat(DAY))
    html = preview_html.page(result, Workspace(site).settings)
    assert "<script>" not in html.split("</style>", 1)[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="https://example.com/?q=&#34;&gt;&lt;script&gt;alert(4)&lt;/script&gt;"' in html
    assert "onerror=alert(2)" not in html.replace("&lt;img src=x onerror=alert(2)&gt;", "")


def test_without_chromium_tests_skip_but_fail_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import browser

    monkeypatch.setattr(browser, "find_chromium", lambda: None)
    monkeypatch.delenv("THISDAY_REQUIRE_SERVERS", raising=False)
    monkeypatch.delenv("THISDAY_NO_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        next(browser.launch())
    monkeypatch.setenv("THISDAY_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="THISDAY_REQUIRE_SERVERS"):
        next(browser.launch())


def test_mastodon_links_agree_with_the_urls_counted_for_length() -> None:
    """What the page links is what the length rules weigh as URLs, on every shipped post."""
    workspace = Workspace(ROOT / "config" / "thisday.toml")
    day = dt.date(2027, 1, 1)
    checked = 0
    while day.year == 2027:
        for thread in preview(workspace, day).threads:
            if thread.platform != "mastodon":
                continue
            for part in thread.parts:
                counted = [part.text[a:b] for a, b in textlib.mastodon_urls(part.text)]
                linked = [part.text[a:b] for a, b in preview_html.mastodon_urls(part.text)]
                assert linked == counted, part.text
                checked += len(counted)
        day += dt.timedelta(days=1)
    assert checked >= 30
