"""Which event is posted on which local day: leap days, rotation, stability."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from support import EXAMPLE_ACCOUNTS, rows_for, write_config, write_post

from bot.content import corpus as corpus_module
from bot.content.post import Event
from bot.content.selection import choose, day_keys, next_posting_day
from bot.ledger.store import Ledger
from bot.workspace import Workspace


def event(event_id: str, month: int = 4, day: int = 12, year: int = 1961) -> Event:
    return Event(
        id=event_id,
        path=f"posts/{event_id}.md",
        month=month,
        day=day,
        year=year,
        title=event_id,
        summary="s",
        story="",
    )


def test_day_keys_leap_rules():
    assert day_keys(dt.date(2027, 2, 28), "feb28") == (228, 229)
    assert day_keys(dt.date(2028, 2, 28), "feb28") == (228,)
    assert day_keys(dt.date(2028, 2, 29), "feb28") == (229,)
    assert day_keys(dt.date(2027, 3, 1), "mar1") == (301, 229)
    assert day_keys(dt.date(2027, 2, 28), "mar1") == (228,)
    assert day_keys(dt.date(2027, 2, 28), "skip") == (228,)


def test_next_posting_day():
    today = dt.date(2026, 11, 26)
    assert next_posting_day(116, today, "feb28") == dt.date(2027, 1, 16)
    assert next_posting_day(1126, today, "feb28") == dt.date(2026, 11, 26)
    assert next_posting_day(229, today, "feb28") == dt.date(2027, 2, 28)
    assert next_posting_day(229, today, "mar1") == dt.date(2027, 3, 1)
    assert next_posting_day(229, today, "skip") == dt.date(2028, 2, 29)


def test_choice_is_stable_for_a_date_and_rotates_across_years():
    events = [event(f"e{n}") for n in range(5)]
    day = dt.date(2027, 4, 12)
    first = choose(events, day, 1)
    assert all(choose(list(reversed(events)), day, 1) == first for _ in range(3))
    picks = Counter(choose(events, dt.date(year, 4, 12), 1)[0].id for year in range(2000, 2100))
    assert len(picks) == 5, picks  # every event gets its turn over a century
    assert max(picks.values()) < 40


def test_least_recently_published_wins(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    events = [event("gagarin"), event("columbia", year=1981)]
    ledger.plan(rows_for("2026-04-12", "gagarin", "acct"))
    # Gagarin was posted last year: Columbia's turn, whatever the hash says.
    assert [e.id for e in choose(events, dt.date(2027, 4, 12), 1, ledger)] == ["columbia"]
    ledger.plan(rows_for("2027-04-12", "columbia", "acct"))
    assert [e.id for e in choose(events, dt.date(2028, 4, 12), 1, ledger)] == ["gagarin"]


def test_a_day_already_planned_keeps_its_choice(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    events = [event("gagarin"), event("columbia", year=1981)]
    day = dt.date(2027, 4, 12)
    chosen = choose(events, day, 1, ledger)[0].id
    ledger.plan(rows_for(day.isoformat(), chosen, "acct"))
    # Once the day is planned, its choice stands (a second account gets the same event).
    assert choose(events, day, 1, ledger)[0].id == chosen


def crowded_site(tmp_path, per_day: int = 6):
    """A posts folder with `per_day` events on each of three days, one with an invalid file."""
    config = write_config(tmp_path, EXAMPLE_ACCOUNTS, extra="events_per_day = 2")
    for month_day in ("04-12", "04-13", "02-29"):
        for n in range(per_day):
            write_post(
                tmp_path / "posts",
                f"{month_day}/e{n}.md",
                f"date: 1960-{month_day}\ntitle: Event {n} of {month_day}\nid: e{month_day}-{n}",
                "Story.",
            )
    write_post(tmp_path / "posts", "04-12/broken.md", "date: 1961-04-12\ntitle: [unclosed")
    return config


def test_selection_from_the_index_reads_only_the_chosen_files(tmp_path, monkeypatch):
    workspace = Workspace(crowded_site(tmp_path))
    ledger = workspace.ledger(create=True)
    ledger.plan(rows_for("2026-04-12", "e04-12-3", "acct"))
    read = []
    real_read_post = corpus_module.read_post

    def counting(root, rel):
        read.append(rel)
        return real_read_post(root, rel)

    monkeypatch.setattr(corpus_module, "read_post", counting)
    workspace.corpus.refresh()  # the index is built: every file read once
    for day in (dt.date(2027, 4, 12), dt.date(2027, 4, 13), dt.date(2027, 2, 28)):
        read.clear()
        chosen = workspace.select(day, history=ledger)
        assert len(read) == 2  # the two chosen files, not the day's six (or seven)
        everything = choose(workspace.candidates(day), day, 2, ledger)
        assert [e.id for e in chosen] == [e.id for e in everything]
        assert "e04-12-3" not in [e.id for e in chosen]  # published last year


def test_selection_reads_every_file_when_a_chosen_one_changed(tmp_path, monkeypatch):
    workspace = Workspace(crowded_site(tmp_path))
    day = dt.date(2027, 4, 13)
    chosen = workspace.select(day)
    workspace.corpus.refresh()
    # The first chosen file gets another id after the index saw it (no refresh in between).
    monkeypatch.setattr(workspace.corpus, "refresh", lambda *args, **kwargs: [])
    path = tmp_path / "posts" / "04-13" / f"e{chosen[0].id.rsplit('-', 1)[1]}.md"
    path.write_text(path.read_text().replace(f"id: {chosen[0].id}", "id: renamed"))
    again = workspace.select(day)
    assert [e.id for e in again] == [e.id for e in choose(workspace.candidates(day), day, 2)]
    assert "renamed" in {e.id for e in workspace.corpus.events_for([413])}
