"""The shipped posts/ folder: a post every day of the year, in the shape followers are promised.

These tests read the real files operators start from; the facts themselves are checked by
people, not here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from support import ROOT, thisday

from bot.content.corpus import Corpus
from bot.content.post import Event
from bot.workspace import Workspace

POSTS = ROOT / "posts"
MONTH_FOLDERS = [
    "01-january",
    "02-february",
    "03-march",
    "04-april",
    "05-may",
    "06-june",
    "07-july",
    "08-august",
    "09-september",
    "10-october",
    "11-november",
    "12-december",
]
# The events shipped before the full year: operators' ledgers remember them by these ids.
FIRST_IDS = [
    "galileo-jupiter-moons",
    "london-underground-opens",
    "trotsky-exile",
    "pluto-discovered",
    "hattie-mcdaniel-oscar",
    "beatles-ed-sullivan",
    "mandela-released",
    "caesar-assassinated",
    "alaska-purchase",
    "bell-first-telephone-call",
    "athens-olympics-open",
    "gagarin-first-human-in-space",
    "sts-1-columbia",
    "beethoven-ninth-premiere",
    "golden-spike",
    "everest-first-ascent",
    "bannister-four-minute-mile",
    "magna-carta",
    "tunguska-event",
    "tereshkova-first-woman-in-space",
    "prise-de-la-bastille",
    "first-world-cup-final",
    "apollo-11-moon-landing",
    "mona-lisa-stolen",
    "indian-independence",
    "march-on-washington",
    "world-wide-web-public",
    "victoria-circumnavigation",
    "new-zealand-womens-suffrage",
    "otzi-discovered",
    "luther-ninety-five-theses",
    "statue-of-liberty-dedicated",
    "sputnik-launch",
    "shinkansen-opens",
    "origin-of-species-published",
    "tutankhamun-tomb-found",
    "berlin-wall-opens",
    "wright-brothers-first-flight",
    "amundsen-south-pole",
    "rosa-parks-arrest",
]
# Tags followers mute: too broad to help anyone find a post.
GENERIC_TAGS = {
    "art", "books", "culture", "events", "film", "history", "law", "music", "news", "politics",
    "religion", "science", "space", "sport", "sports", "technology", "women", "war", "world",
}  # fmt: skip
CAMEL_CASE = re.compile(r"[A-Z0-9][A-Za-z0-9]*")
FILE_NAME = re.compile(r"(\d{4}|\d{4}bc)-(\d\d)-(\d\d)-[a-z0-9]+(?:-[a-z0-9]+)*\.md")


@cache
def events() -> list[Event]:
    corpus = Corpus(POSTS)
    corpus.refresh()
    found = corpus.events_for({entry.key for entry in corpus.entries.values() if entry.key})
    assert found, "no valid event in posts/"
    return found


def test_check_covers_every_day_with_no_error_and_no_warning() -> None:
    done = thisday("check")
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"(\d+) files, \1 events, 0 errors, 0 warnings; 366/366 days of the year covered", last
    ), last


def test_enough_events_for_rotation_to_show() -> None:
    per_day = Counter((event.month, event.day) for event in events())
    assert len(per_day) == 366
    assert sum(per_day.values()) >= 420
    assert sum(1 for count in per_day.values() if count >= 2) >= 50


def test_files_are_where_an_operator_looks_for_them() -> None:
    for event in events():
        path = ROOT / event.path
        assert path.parent.name == MONTH_FOLDERS[event.month - 1], event.path
        match = FILE_NAME.fullmatch(path.name)
        assert match, f"{event.path}: name it YYYY-MM-DD-slug.md"
        assert (int(match.group(2)), int(match.group(3))) == (event.month, event.day), event.path
        if event.year is not None:
            year = match.group(1)
            expected = f"{-event.year:04d}bc" if event.year < 0 else f"{event.year:04d}"
            assert year == expected, event.path


def test_the_first_events_keep_their_ids() -> None:
    ids = {event.id for event in events()}
    assert set(FIRST_IDS) <= ids, sorted(set(FIRST_IDS) - ids)


def test_every_event_has_a_readable_link_specific_tags_and_a_short_story() -> None:
    for event in events():
        where = event.path
        assert event.link and event.link.startswith("https://"), where
        assert "%" not in event.link, f"{where}: write the link as a readable IRI"
        assert 1 <= len(event.tags) <= 3, where
        for tag in event.tags:
            assert CAMEL_CASE.fullmatch(tag), f"{where}: #{tag} is not CamelCase"
            assert tag.lower() not in GENERIC_TAGS, f"{where}: #{tag} is too generic"
        paragraphs = event.story.split("\n\n")
        assert 2 <= len(paragraphs) <= 4, f"{where}: {len(paragraphs)} paragraphs"
        assert event.summary and event.summary not in event.story, where


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return Workspace(ROOT / "config" / "thisday.toml", POSTS)


def test_every_day_of_2027_has_a_thread_on_both_accounts(workspace: Workspace) -> None:
    accounts = list(workspace.settings.active_accounts())
    assert len(accounts) == 2
    day = dt.date(2027, 1, 1)
    while day.year == 2027:
        chosen = workspace.select(day, history=None)
        assert chosen, f"nothing to post on {day}"
        for event in chosen:
            for account in accounts:
                thread = workspace.renderer.render(event, account, day)
                platform = thread.platform
                most = 4 if platform == "mastodon" else 5
                assert 2 <= len(thread.parts) <= most, (day, event.id, account, len(thread.parts))
                assert all(part.length <= part.limit for part in thread.parts), (day, event.id)
                assert not thread.notes, (day, event.id, thread.notes)
        day += dt.timedelta(days=1)


def test_shipped_folder_has_only_posts() -> None:
    strays = [p for p in Path(POSTS).rglob("*") if p.is_file() and p.suffix != ".md"]
    assert not strays
