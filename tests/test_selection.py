"""Which event is posted on which local day: leap days, rotation, stability."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from support import rows_for

from bot.content.post import Event
from bot.content.selection import choose, day_keys, next_posting_day
from bot.ledger.store import Ledger


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
