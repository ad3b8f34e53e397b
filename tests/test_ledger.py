"""The ledger: schema upgrades in place, states, crash leftovers, questions it answers."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest
from support import rows_for

from bot.ledger.store import (
    MIGRATIONS,
    PLANNED,
    SENDING,
    SENT,
    UNCERTAIN,
    Ledger,
    LockedError,
    Remote,
)


def test_new_ledger_is_at_the_latest_schema_and_reopens(tmp_path):
    path = tmp_path / "ledger.sqlite"
    assert Ledger(path).schema_version == len(MIGRATIONS)
    assert Ledger(path).schema_version == len(MIGRATIONS)


def test_a_newer_ledger_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="upgrade thisday"):
        Ledger(path)


def test_states_and_remote_ids_are_recorded(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    rows = rows_for("2027-01-16", "trotsky", "masto", parts=2)
    ledger.plan(rows)
    ledger.mark_sending(rows[:1])
    assert [r.state for r in ledger.parts("2027-01-16")] == [SENDING, PLANNED]
    ledger.mark_sent(rows[:1], [Remote(id="1", url="https://m.example/@a/1")])
    stored = ledger.parts("2027-01-16")
    assert (stored[0].state, stored[0].remote_id, stored[0].url, stored[0].attempts) == (
        SENT,
        "1",
        "https://m.example/@a/1",
        1,
    )
    assert not ledger.complete("2027-01-16", "masto")
    ledger.mark_sending(rows[1:])
    ledger.mark_sent(rows[1:], [Remote(id="2")])
    assert ledger.complete("2027-01-16", "masto")
    assert ledger.published_days() == {"2027-01-16": {"masto"}}
    kinds = [r["kind"] for r in reversed(ledger.recent_journal())]
    assert kinds == ["planned", "sending", "sent", "sending", "sent"]


def test_created_at_is_fixed_at_the_first_attempt(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    rows = rows_for("2027-01-16", "e", "sky", platform="bluesky")
    ledger.plan(rows)
    ledger.mark_sending(rows, ["2027-01-16T09:00:00.000Z"])
    ledger.mark(rows, UNCERTAIN, "timed out")
    ledger.mark_sending(rows, ["2027-01-16T09:05:00.000Z"])
    assert ledger.parts("2027-01-16")[0].created_at == "2027-01-16T09:00:00.000Z"
    assert ledger.parts("2027-01-16")[0].attempts == 2


def test_sending_rows_found_at_start_become_uncertain(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    rows = rows_for("2027-01-16", "e", "masto", parts=2)
    ledger.plan(rows)
    ledger.mark_sending(rows[:1])
    again = Ledger(tmp_path / "l.sqlite")  # as a new process would
    found = again.uncertain_after_crash("2027-01-16", "masto")
    assert [r.idx for r in found] == [0]
    assert [r.state for r in again.parts("2027-01-16")] == [UNCERTAIN, PLANNED]


def test_plan_is_all_or_nothing(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    rows = rows_for("2027-01-16", "e", "masto", parts=3)
    rows[2].idx = 1  # a duplicate key makes the insert fail half-way
    with pytest.raises(sqlite3.IntegrityError):
        ledger.plan(rows)
    assert ledger.parts("2027-01-16") == []


def test_history_questions(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.plan(rows_for("2025-04-12", "gagarin", "a"))
    ledger.plan(rows_for("2026-04-12", "columbia", "a"))
    ledger.plan(rows_for("2026-04-12", "columbia", "b"))
    assert ledger.events_on(dt.date(2026, 4, 12)) == ["columbia"]
    assert ledger.last_published(["gagarin", "columbia", "x"], before=dt.date(2027, 4, 12)) == {
        "gagarin": dt.date(2025, 4, 12),
        "columbia": dt.date(2026, 4, 12),
    }
    assert ledger.last_published(["columbia"], before=dt.date(2026, 4, 12)) == {}


def test_publish_lock_is_exclusive(tmp_path):
    first, second = Ledger(tmp_path / "l.sqlite"), Ledger(tmp_path / "l.sqlite")
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with first.publish_lock():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    with pytest.raises(LockedError), second.publish_lock(wait=False):
        pass
    release.set()
    holder.join()
    with second.publish_lock(wait=False):
        pass
