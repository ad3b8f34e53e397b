"""`thisday calendar`: counts per day, error days, published days from a real ledger, the
summary (coverage, longest gap, next uncovered day), terminal, SVG and HTML output."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Browser, launch
from support import rows_for, thisday, write_config, write_post

from bot.ledger.store import Ledger, Remote
from bot.tools import calendar_view
from bot.tools.calendar_view import KEYS, LEFT, Day, YearView
from bot.workspace import Workspace

SVG = "{http://www.w3.org/2000/svg}"
ACCOUNTS = """
[accounts.masto]
platform = "mastodon"
server = "https://masto.example"

[accounts.sky]
platform = "bluesky"
server = "https://pds.example"
handle = "sky.example"
"""
TODAY = dt.date(2027, 3, 1)


def post(folder: Path, name: str, date: str, event_id: str, title: str | None = None) -> None:
    write_post(
        folder,
        name,
        f"""
        date: "{date}"
        title: "{title or "Event " + event_id}"
        id: {event_id}
        """,
        "A summary.",
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    config = write_config(tmp_path, accounts=ACCOUNTS)
    posts = tmp_path / "posts"
    post(posts, "01/a.md", "01-16", "trotsky", "Trotsky is exiled")
    post(posts, "01/b.md", "1928-01-16", "second-16-jan", "Another 16 January")
    post(posts, "02/leap.md", "02-29", "leap-event", "A leap day")
    post(posts, "05/dup-1.md", "05-05", "same-id")
    post(posts, "05/dup-2.md", "05-05", "same-id")  # loses the duplicate id: an error
    post(posts, "07/moon.md", "1969-07-20", "moon", "Apollo 11 lands on the Moon")
    post(posts, "12/eve.md", "12-31", "eve", "<script>alert(1)</script> & {{ 7*7 }}")
    # Files with errors: a readable date, a date only in the name, no date at all.
    write_post(posts, "03/no-title.md", 'date: "03-10"\nid: no-title')
    write_post(posts, "04/1999-04-01-bad-date.md", 'date: "banana"\ntitle: Bad')
    write_post(posts, "misc/broken.md", "title: [unclosed")
    return Workspace(config)


def sent(ledger: Ledger, day: str, event_id: str, account: str, platform: str) -> None:
    rows = rows_for(day, event_id, account, parts=2, platform=platform)
    ledger.plan(rows)
    ledger.mark_sending(rows)
    ledger.mark_sent(rows, [Remote(id=str(n), url=f"https://x.example/{n}") for n in range(2)])


def view_of(counts: dict[int, int], year: int = 2027, today: dt.date = TODAY) -> YearView:
    days = {k: Day(k, events=[(f"e{k}-{n}", "") for n in range(counts.get(k, 0))]) for k in KEYS}
    for day in days.values():
        day.posted_on = calendar_view.posting_date(day.key, year, "feb28")
    return YearView(year=year, today=today, leap_rule="feb28", days=days)


# -- data --------------------------------------------------------------------------------------


def test_counts_errors_and_published_days_from_index_and_ledger(workspace: Workspace) -> None:
    ledger = workspace.ledger(create=True)
    assert ledger is not None
    sent(ledger, "2027-01-16", "trotsky", "masto", "mastodon")
    sent(ledger, "2027-01-16", "trotsky", "sky", "bluesky")
    sent(ledger, "2027-07-20", "moon", "masto", "mastodon")
    sent(ledger, "2026-12-31", "eve", "masto", "mastodon")  # another year
    sent(ledger, "2027-02-28", "leap-event", "masto", "mastodon")  # 29 Feb, posted on 28 Feb
    ledger.plan(rows_for("2027-12-31", "eve", "masto"))  # planned, never sent
    ledger.close()

    view = calendar_view.build(workspace, 2027, today=TODAY, titles=True)

    assert len(view.days) == 366
    assert {k: d.count for k, d in view.days.items() if d.count} == {
        116: 2,
        229: 1,
        505: 1,
        720: 1,
        1231: 1,
    }
    assert view.days[116].events == [
        ("second-16-jan", "Another 16 January"),
        ("trotsky", "Trotsky is exiled"),
    ]
    assert view.days[1231].events == [("eve", "<script>alert(1)</script> & {{ 7*7 }}")]
    # Errors: the invalid file by its date line, the one by its name, the duplicate id.
    assert {k for k, d in view.days.items() if d.errors} == {310, 401, 505}
    assert "title" in view.days[310].errors[0][1]
    assert "duplicate id" in view.days[505].errors[0][1]
    assert [p for p, _ in view.undated_errors] == [workspace.corpus.shown("misc/broken.md")]
    # Published: complete threads only, this year only, per account.
    assert view.days[116].published == {"masto", "sky"}
    assert view.days[720].published == {"masto"}
    assert view.days[1231].published == frozenset()
    assert view.days[229].published == {"masto"}  # its own event went out on 28 February
    assert view.days[228].published == {"masto"}
    assert view.days[229].posted_on == dt.date(2027, 2, 28)
    assert "not on sky" in view.hover(view.days[720])


def test_fit_errors_found_by_check_mark_their_day(tmp_path: Path, workspace: Workspace) -> None:
    write_post(
        tmp_path / "posts",
        "08/long-cw.md",
        f'date: "08-06"\ntitle: Too long a warning\ncw: "{"very " * 130}long"\nid: long-cw',
        "A summary.",
    )
    config = str(tmp_path / "thisday.toml")
    assert thisday("check", "--config", config).returncode == 1
    view = calendar_view.build(Workspace(config), 2027, today=TODAY)
    assert view.days[806].count == 1  # valid as a file...
    assert "content warning" in view.days[806].errors[0][1]  # ...but it does not fit
    assert "! " in view.hover(view.days[806])


def test_29_february_in_a_leap_year_is_its_own_day(workspace: Workspace) -> None:
    view = calendar_view.build(workspace, 2028, today=TODAY)
    assert view.days[229].posted_on == dt.date(2028, 2, 29)
    assert view.leap_note() is None
    assert calendar_view.build(workspace, 2027, today=TODAY).leap_note() == (
        "29 February: its events are posted on 28 February in 2027"
    )


def test_hover_lists_ids_without_titles_when_titles_are_not_read(workspace: Workspace) -> None:
    view = calendar_view.build(workspace, 2027, today=TODAY)
    text = view.hover(view.days[116])
    assert "• second-16-jan\n• trotsky" in text
    assert "Trotsky is exiled" not in text


# -- summary -------------------------------------------------------------------------------------


def test_summary_numbers(workspace: Workspace) -> None:
    view = calendar_view.build(workspace, 2027, today=dt.date(2027, 1, 15))
    assert view.covered == 5
    assert view.events == 6
    gap = view.longest_gap()
    # Covered: 16 Jan, 29 Feb, 5 May, 20 Jul, 31 Dec. Longest: 21 Jul to 30 Dec.
    assert (gap.length, gap.first, gap.last, gap.wraps) == (163, 721, 1230, False)
    assert view.next_uncovered() == dt.date(2027, 1, 15)
    lines = view.summary_lines()
    assert lines[0] == "Covered: 5/366 days, 6 events"
    assert lines[1] == "Longest gap: 163 days, 21 Jul to 30 Dec"
    assert lines[2] == "Next uncovered day: Fri 2027-01-15 (today)"
    assert (
        lines[3] == "Errors: 4 files on 3 days, 1 with no readable date (thisday check lists them)"
    )
    assert lines[4] == "Published in 2027: 0 days"


def test_longest_gap_wraps_across_the_year_end() -> None:
    gap = view_of({501: 1, 901: 1}).longest_gap()
    # 2 September to 30 April, 29 February included: 29+31+30+31+31+29+31+30.
    assert (gap.length, gap.first, gap.last, gap.wraps) == (242, 902, 430, True)
    assert "(across the year end)" in view_of({501: 1, 901: 1}).summary_lines()[1]


def test_gap_extremes() -> None:
    assert view_of({}).longest_gap().length == 366
    assert view_of({}).covered == 0
    full = view_of(dict.fromkeys(KEYS, 1))
    assert (full.covered, full.longest_gap().length, full.next_uncovered()) == (366, 0, None)
    one = view_of({101: 1})
    assert (one.longest_gap().length, one.longest_gap().first, one.longest_gap().last) == (
        365,
        102,
        1231,
    )


def test_next_uncovered_day_follows_leap_day_and_the_year_end() -> None:
    every_day_but = {k: 1 for k in KEYS if k != 228}
    # 2027 is a common year: 28 February also posts the 29 February events, so it is covered;
    # the next uncovered 28 February is in 2028, a leap year.
    view = view_of(every_day_but, today=dt.date(2027, 2, 1))
    assert view.next_uncovered() == dt.date(2028, 2, 28)
    only_dec = view_of({k: 1 for k in KEYS if k != 105}, today=dt.date(2027, 12, 30))
    assert only_dec.next_uncovered() == dt.date(2028, 1, 5)


# -- terminal --------------------------------------------------------------------------------


def cell(text: str, month: str, day: int) -> str:
    row = next(line for line in text.splitlines() if line.startswith(month))
    at = LEFT + (day - 1) * 2
    return row[at : at + 2].ljust(2)


def test_terminal_grid_plain(workspace: Workspace) -> None:
    ledger = workspace.ledger(create=True)
    assert ledger is not None
    sent(ledger, "2027-07-20", "moon", "masto", "mastodon")
    ledger.close()
    text = calendar_view.terminal(calendar_view.build(workspace, 2027, today=TODAY))
    assert "\x1b" not in text
    assert cell(text, "Jan", 16) == "2 "
    assert cell(text, "Jan", 15) == ". "
    assert cell(text, "Mar", 10) == ".!"
    assert cell(text, "May", 5) == "1!"
    assert cell(text, "Jul", 20) == "1*"
    assert cell(text, "Feb", 29) == "1 "
    rows = [line for line in text.splitlines() if line[:3] in calendar_view.MONTH_ABBR[1:]]
    assert len(rows) == 12
    assert max(len(r) for r in rows) <= 80  # fits a classic terminal
    assert "29 February: its events are posted on 28 February in 2027" in text
    assert "Covered: 5/366 days" in text


def test_terminal_colour_only_when_asked() -> None:
    view = view_of({116: 3})
    coloured = calendar_view.terminal(view, colour=True)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == calendar_view.terminal(view)


def test_colour_needs_a_tty_and_no_NO_COLOR(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert calendar_view.use_colour(Tty())
    assert not calendar_view.use_colour(object())
    monkeypatch.setenv("NO_COLOR", "")
    assert not calendar_view.use_colour(Tty())


def test_command_output_is_plain_when_piped(tmp_path: Path, workspace: Workspace) -> None:
    config = str(tmp_path / "thisday.toml")
    result = thisday("calendar", "--config", config, "--year", "2027")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert result.stdout.startswith("thisday calendar 2027\n")
    assert "Covered: 5/366 days, 6 events" in result.stdout

    both = thisday("calendar", "--config", config, "--svg", "a.svg", "--html", "b.html")
    assert both.returncode == 2
    assert "not both" in both.stderr

    missing = thisday("calendar", "--config", config, "--posts", str(tmp_path / "nowhere"))
    assert missing.returncode == 0
    assert "posts folder not found" in missing.stderr
    assert "Covered: 0/366 days" in missing.stdout

    help_text = thisday("calendar", "--help").stdout
    assert "Example:" in help_text
    assert "thisday calendar --year 2028 --html calendar.html" in help_text


# -- SVG -------------------------------------------------------------------------------------


def test_svg_is_well_formed_with_366_days_titles_legend_and_month_labels(
    tmp_path: Path, workspace: Workspace
) -> None:
    out = tmp_path / "year.svg"
    result = thisday(
        "calendar", "--config", str(tmp_path / "thisday.toml"), "--year", "2027", "--svg", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    root = ET.fromstring(out.read_bytes())
    assert root.tag == f"{SVG}svg"
    days = [g for g in root.iter(f"{SVG}g") if "day" in (g.get("class") or "").split()]
    assert len(days) == 366
    assert len({g.get("data-key") for g in days}) == 366
    titles = {g.get("data-key"): g.find(f"{SVG}title") for g in days}
    assert all(t is not None and t.text for t in titles.values())
    jan16 = titles["0116"]
    assert jan16 is not None
    assert "2 events" in (jan16.text or "")
    assert "trotsky — Trotsky is exiled" in (jan16.text or "")
    eve = titles["1231"]
    assert eve is not None
    # Escaped in the file, literal once parsed; nothing executable made it into the picture.
    assert "<script>alert(1)</script> & {{ 7*7 }}" in (eve.text or "")
    assert "<script>" not in out.read_text()
    assert not list(root.iter(f"{SVG}script"))
    classes = {k: (g.get("class") or "").split() for k, g in zip(titles, days, strict=True)}
    assert "err" in classes["0310"]
    assert "leap" in classes["0229"]
    assert "l0" in classes["0101"]
    assert "l2" in classes["0116"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for month in calendar_view.MONTH_ABBR[1:]:
        assert month in texts
    legend = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert legend
    legend_text = [t.text for t in legend[0].iter(f"{SVG}text") if t.text != "!"]
    assert legend_text == [
        "no event",
        "1 event",
        "2 events",
        "3-4 events",
        "5 or more",
        "a file with errors",
        "published",
        "29 Feb in a common year",
        "today",
    ]
    assert "Covered: 5/366 days, 6 events" in texts


def test_svg_survives_characters_xml_forbids() -> None:
    view = view_of({116: 1})
    view.days[116].events = [("x", "bell \x07 and \x1b escape")]
    root = ET.fromstring(calendar_view.svg(view).encode())
    assert root is not None


# -- HTML in a real browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    yield from launch()


def test_html_page_loads_offline_and_hovering_a_day_lists_its_events(
    tmp_path: Path, workspace: Workspace, chromium: Browser
) -> None:
    out = tmp_path / "year.html"
    result = thisday(
        "calendar", "--config", str(tmp_path / "thisday.toml"), "--year", "2027", "--html", str(out)
    )
    assert result.returncode == 0, result.stderr
    for width in (390, 1280):
        page = chromium.open(out, width)
        try:
            assert page.evaluate("document.querySelectorAll('svg.calendar g.day').length") == 366
            assert page.evaluate(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
            box = page.evaluate(
                "(() => { const r = document.querySelector('g.day[data-key=\"0116\"]')"
                ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
            )
            chromium.call(
                "Input.dispatchMouseEvent",
                {"type": "mouseMoved", "x": box[0], "y": box[1]},
                session=page.session,
            )
            details = page.evaluate("document.getElementById('details').textContent")
            assert "trotsky — Trotsky is exiled" in details
            eve = page.evaluate(
                "document.querySelector('g.day[data-key=\"1231\"] title').textContent"
            )
            assert "<script>alert(1)</script>" in eve
            assert page.evaluate("document.scripts.length") == 1  # ours, nothing injected
            page.collect()
            assert page.errors == []
            assert page.requests == []
        finally:
            page.close()
