"""`thisday status`, and the service pieces it reads: the daemon lock, systemd notifications."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import rows_for, thisday, write_config, write_post

from bot.daemon.service import notify, watchdog_interval
from bot.ledger.store import Ledger, Remote
from bot.runtime.lock import AlreadyRunning, DaemonLock, LockHolder, holder
from bot.tools.status import collect, render
from bot.workspace import Workspace

LONDON = ZoneInfo("Europe/London")
ACCOUNTS = """
[accounts.masto]
platform = "mastodon"
server = "https://mastodon.invalid"
token_env = "THISDAY_STATUS_UNUSED"

[accounts.sky]
platform = "bluesky"
server = "https://pds.invalid"
handle = "status.test"
password_env = "THISDAY_STATUS_UNUSED"
"""


def at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    local = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), LONDON)
    return local.astimezone(dt.UTC)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_config(tmp_path, accounts=ACCOUNTS, extra='catch_up_until = "20:00"')
    for event_id, title in (("trotsky", "Trotsky exiled"), ("other", "Something else")):
        write_post(
            tmp_path / "posts",
            f"{event_id}.md",
            f"date: 1928-01-16\ntitle: {title}\nsummary: It happened.\nid: {event_id}",
            "The story.",
        )
    return tmp_path


def test_before_anything_was_published(folder: Path):
    report = collect(Workspace(folder / "thisday.toml"), now=at("2027-01-16", 7))
    doc = report.as_json()
    assert doc["today"] == "2027-01-16"
    assert doc["daemon"] == {"running": False, "pid": None}
    assert doc["window"]["state"] == "before the first slot"
    assert doc["next_run"] == "2027-01-16T09:00:00+00:00"
    assert doc["due_now"] is False
    (chosen,) = doc["selection"]  # events_per_day = 1: one of the two
    assert chosen["id"] in ("trotsky", "other") and chosen["planned"] is False
    assert {a["account"]: a["state"] for a in doc["accounts"]} == {
        "masto": "scheduled",
        "sky": "scheduled",
    }
    assert doc["recent"] == [] and doc["failures"] == []
    assert not (folder / "state" / "ledger.sqlite").exists()  # status creates no ledger


def test_publishes_with_urls_partial_threads_and_failures(folder: Path):
    ledger = Ledger(folder / "state" / "ledger.sqlite")
    masto = rows_for("2027-01-16", "trotsky", "masto", parts=2)
    sky = rows_for("2027-01-16", "trotsky", "sky", parts=2, platform="bluesky")
    ledger.plan(masto)
    ledger.plan(sky)
    for rows, base in ((masto, "https://m.example/@a/"), (sky, "https://bsky.example/p/")):
        ledger.mark_sending(rows[:1])
        ledger.mark_sent(rows[:1], [Remote(id="1", url=base + "1")])
    ledger.mark_sending(masto[1:])
    ledger.mark_sent(masto[1:], [Remote(id="2", url="https://m.example/@a/2")])
    ledger.note("2027-01-16", "sky", "trotsky", "failed", "applyWrites: 503 Unavailable")
    ledger.close()

    workspace = Workspace(folder / "thisday.toml")
    report = collect(workspace, now=at("2027-01-16", 9, 30))
    doc = report.as_json()
    assert [e["id"] for e in doc["selection"]] == ["trotsky"]  # what the ledger planned
    assert doc["selection"][0] == {
        "id": "trotsky",
        "title": "Trotsky exiled",
        "year": 1928,
        "path": doc["selection"][0]["path"],
        "planned": True,
    }
    accounts = {a["account"]: a for a in doc["accounts"]}
    assert accounts["masto"]["state"] == "complete"
    assert accounts["masto"]["urls"] == ["https://m.example/@a/1", "https://m.example/@a/2"]
    assert accounts["masto"]["error"] is None
    assert (accounts["sky"]["state"], accounts["sky"]["parts_sent"]) == ("partial", 1)
    assert accounts["sky"]["error"] == "applyWrites: 503 Unavailable"
    assert doc["due_now"] is True
    assert doc["next_run"] == "2027-01-17T09:00:00+00:00"
    assert [r["url"] for r in doc["recent"]] == [
        "https://m.example/@a/2",
        "https://bsky.example/p/1",
        "https://m.example/@a/1",
    ]
    assert doc["failures"][0]["error"] == "applyWrites: 503 Unavailable"
    text = render(report)
    assert "sky (bluesky): partial 1/2" in text
    assert "last error: applyWrites: 503 Unavailable" in text
    assert "https://m.example/@a/2" in text
    assert "selection: trotsky — Trotsky exiled (1928)  [planned]" in text

    figures = Ledger(folder / "state" / "ledger.sqlite").figures()
    assert figures.sent == {"masto": 2, "sky": 1}
    assert figures.failed == {"sky": 1}
    assert set(figures.last_sent) == {"masto", "sky"}


def test_a_missed_day_and_a_complete_one(folder: Path):
    workspace = Workspace(folder / "thisday.toml")
    report = collect(workspace, now=at("2027-01-16", 21))
    doc = report.as_json()
    assert doc["window"]["state"] == "closed"
    assert {a["state"] for a in doc["accounts"]} == {"missed"}
    assert doc["due_now"] is False

    ledger = Ledger(folder / "state" / "ledger.sqlite")
    for account, platform in (("masto", "mastodon"), ("sky", "bluesky")):
        rows = rows_for("2027-01-16", "trotsky", account, platform=platform)
        ledger.plan(rows)
        ledger.mark_sending(rows)
        ledger.mark_sent(rows, [Remote(id="1", url=f"https://{account}.example/1")])
    report = collect(workspace, now=at("2027-01-16", 8))
    doc = report.as_json()
    assert {a["state"] for a in doc["accounts"]} == {"complete"}
    assert doc["next_run"] == "2027-01-17T09:00:00+00:00"  # today's slot is not needed


def test_the_running_daemon_is_named(folder: Path):
    lock = DaemonLock(folder / "state" / "daemon.lock")
    lock.acquire()
    try:
        report = collect(Workspace(folder / "thisday.toml"), now=at("2027-01-16", 7))
        doc = report.as_json()
        assert doc["daemon"] == {"running": True, "pid": os.getpid()}
        assert f"running (pid {os.getpid()})" in render(report)
    finally:
        lock.release()
    assert not holder(folder / "state" / "daemon.lock").held


def test_status_command_text_and_json(folder: Path):
    done = thisday("status", "--config", str(folder / "thisday.toml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("thisday status — ")
    assert "next run:" in done.stdout and "daemon:    not running" in done.stdout
    done = thisday("status", "--json", "--config", str(folder / "thisday.toml"))
    doc = json.loads(done.stdout)
    assert doc["timezone"] == "Europe/London" and len(doc["accounts"]) == 2


# -- the service pieces ---------------------------------------------------------------------------


def test_a_second_lock_names_the_first_holder(tmp_path: Path):
    first = DaemonLock(tmp_path / "daemon.lock")
    first.acquire()
    try:
        assert holder(tmp_path / "daemon.lock") == LockHolder(True, os.getpid())
        with pytest.raises(AlreadyRunning, match=rf"pid {os.getpid()}\).*{tmp_path}"):
            DaemonLock(tmp_path / "daemon.lock").acquire()
    finally:
        first.release()
    again = DaemonLock(tmp_path / "daemon.lock")
    again.acquire()  # free again once released
    again.release()


@pytest.mark.parametrize("abstract", [False, True])
def test_notify_sends_datagrams_to_the_notify_socket(monkeypatch, abstract: bool):
    folder = tempfile.mkdtemp(prefix="thisday-n-")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        name = f"@thisday-test-{os.getpid()}" if abstract else os.path.join(folder, "s")
        sock.bind("\0" + name[1:] if abstract else name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", name)
        assert notify("READY=1", "STATUS=next run soon")
        assert sock.recv(1024) == b"READY=1\nSTATUS=next run soon"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert notify("READY=1") is False
    shutil.rmtree(folder)


def test_watchdog_interval_is_half_of_systemds_and_only_for_us(monkeypatch):
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "180000000")
    assert watchdog_interval() == 90.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 90.0
