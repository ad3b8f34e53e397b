"""`thisday run` as a real process against the loopback PDS and Mastodon simulator.

Each test starts the daemon exactly as systemd would (`python -m bot run --config ...`, JSON
logs on stderr, $NOTIFY_SOCKET) and judges it from the outside: the ledger, the servers'
own view of the account, the logs, the health endpoint and the exit code.

"The next day" comes without waiting a day and without test hooks in the daemon: the first
config uses the zone Etc/GMT+12 (UTC-12) and the reloaded one Etc/GMT-12 (UTC+12), whose
date is always exactly one day later.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from loopback import free_port
from support import ROOT, bsky_records, mastodon_statuses, thisday, write_post

pytestmark = pytest.mark.servers

WEST, EAST = "Etc/GMT+12", "Etc/GMT-12"  # POSIX signs: GMT+12 is UTC-12
STORY = """
    Trotsky had built the Red Army and led the October seizure of power, yet by 1927 he had
    lost the struggle for the party leadership to Stalin.

    The secret police set his departure for the evening of 16 January. Supporters filled the
    station to stop the train, so agents carried him out of his flat.

    He lived a year in Alma-Ata, writing to other oppositionists, before the regime expelled
    him from the Soviet Union altogether in February 1929.

    In Turkey he settled on the island of Büyükada, where he wrote his autobiography and a
    history of the revolution.
    """


# -- helpers --------------------------------------------------------------------------------------


class Notifications:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="thisday-notify-")  # short: sun_path is 108 bytes
        self.path = os.path.join(self.folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._closed = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.extend(data.decode().splitlines())

    def wait_for(self, line: str, timeout: float = 10, after: int = 0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n, got in enumerate(self.messages[after:], after):
                if got == line:
                    return n
            time.sleep(0.02)
        raise AssertionError(f"no {line!r} from the daemon; got {self.messages}")

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=1)
        self.sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class Daemon:
    """A running `thisday run`; stderr (JSON lines) goes to a file."""

    def __init__(self, world: World, *args: str, env: dict[str, str] | None = None) -> None:
        world.runs += 1
        self.log_path = world.folder / f"daemon-{world.runs}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(world.config), *args],
            cwd=ROOT,
            env={**os.environ, **world.env, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def messages(self) -> list[str]:
        return [r["message"] for r in self.records()]

    def wait_log(self, fragment: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.records():
                if fragment in record["message"]:
                    return record
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no log line with {fragment!r}; log:\n{self.text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> tuple[int, float]:
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()
        return code, time.monotonic() - started


@dataclass
class World:
    folder: Path
    config: Path
    env: dict[str, str]
    mastodon_url: str
    mastodon_proxy: str
    mastodon_token: str
    bsky_handle: str
    bsky_did: str
    bsky_password: str
    pds_url: str
    health_port: int
    runs: int = 0

    def configure(
        self,
        *,
        timezone: str,
        post_at: str,
        publishing: str = "",
        daemon: str = "",
        until: str = "23:59:59",
    ) -> None:
        self.config.write_text(
            f"""
timezone = "{timezone}"
post_at = "{post_at}"
catch_up_until = "{until}"
posts = "posts"
state = "state"
templates = "{ROOT / "config" / "templates"}"

[publishing]
backoff = 0.05
max_backoff = 0.2
timeout = 5
{publishing}

[daemon]
health = "127.0.0.1:{self.health_port}"
warm_up = 2
{daemon}

[accounts.masto]
platform = "mastodon"
server = "{self.mastodon_proxy}"
token_env = "TEST_MASTODON_TOKEN"
limit = 200

[accounts.sky]
platform = "bluesky"
server = "{self.pds_url}"
handle = "{self.bsky_handle}"
password_env = "TEST_BSKY_PASSWORD"
""",
            encoding="utf-8",
        )

    def post(self, name: str, day: dt.date, title: str, event_id: str) -> None:
        write_post(
            self.folder / "posts",
            name,
            f"""
            date: 1928-{day.month:02d}-{day.day:02d}
            title: {title}
            summary: Moscow sent Leon Trotsky to Alma-Ata.
            id: {event_id}
            """,
            STORY,
        )

    # -- the ledger and the servers ----------------------------------------------------------

    def rows(self, day: dt.date | None = None) -> list[dict[str, Any]]:
        path = self.folder / "state" / "ledger.sqlite"
        if not path.exists():
            return []
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            sql = "SELECT * FROM parts"
            args: tuple[str, ...] = ()
            if day is not None:
                sql, args = sql + " WHERE day = ?", (day.isoformat(),)
            try:
                return [dict(r) for r in db.execute(sql + " ORDER BY account, idx", args)]
            except sqlite3.OperationalError:
                return []  # created a moment ago; its tables are on their way

    def journal(self, kind: str) -> list[dict[str, Any]]:
        with contextlib.closing(sqlite3.connect(self.folder / "state" / "ledger.sqlite")) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM journal WHERE kind = ?", (kind,))]

    def complete(self, day: dt.date) -> bool:
        rows = self.rows(day)
        return {r["account"] for r in rows} == {"masto", "sky"} and all(
            r["state"] == "sent" for r in rows
        )

    def mastodon_statuses(self) -> list[dict[str, Any]]:
        return mastodon_statuses(self.mastodon_url, self.mastodon_token)

    def parts(self, day: dt.date) -> dict[str, int]:
        """How many parts each account's thread has, as `thisday preview --json` shows it."""
        done = thisday("preview", "--json", "--config", str(self.config), "--date", day.isoformat())
        assert done.returncode == 0, done.stderr
        return {post["account"]: len(post["parts"]) for post in json.loads(done.stdout)["posts"]}

    def bsky_records(self) -> list[dict[str, Any]]:
        return bsky_records(self.pds_url, self.bsky_did)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}") as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def new_world(tmp_path: Path, pds, mastodon) -> World:
    """A fresh account on each loopback server and an empty posts folder (no config yet)."""
    _, token = mastodon.new_account()
    account = pds.new_account()
    (tmp_path / "posts").mkdir()
    return World(
        folder=tmp_path,
        config=tmp_path / "thisday.toml",
        env={"TEST_MASTODON_TOKEN": token, "TEST_BSKY_PASSWORD": account.password},
        mastodon_url=mastodon.url,
        mastodon_proxy=mastodon.proxy.url,
        mastodon_token=token,
        bsky_handle=account.handle,
        bsky_did=account.did,
        bsky_password=account.password,
        pds_url=pds.url,
        health_port=free_port(),
    )


@pytest.fixture
def world(tmp_path: Path, pds, mastodon) -> World:
    return new_world(tmp_path, pds, mastodon)


@pytest.fixture
def notifications() -> Iterator[Notifications]:
    sock = Notifications()
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    try:
        yield started
    finally:
        for daemon in started:
            if daemon.proc.poll() is None:
                daemon.stop(signal.SIGKILL, timeout=5)


def wait_until(check: Callable[[], bool], timeout: float, what: str, daemon: Daemon) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; daemon log:\n{daemon.text()}")


def slot_soon(zone: str, seconds: int = 4) -> tuple[dt.datetime, str]:
    """A slot `seconds` ahead in `zone` (not across the local midnight) and its post_at."""
    now = dt.datetime.now(ZoneInfo(zone))
    if now.time() > dt.time(23, 59, 60 - seconds - 2):
        time.sleep(70 - now.second)
        now = dt.datetime.now(ZoneInfo(zone))
    slot = (now + dt.timedelta(seconds=seconds + 1)).replace(microsecond=0)
    return slot, slot.strftime("%H:%M:%S")


def zone_in_midday() -> str:
    """A zone where it is neither just after nor just before midnight."""
    for zone in (WEST, "UTC", EAST):
        now = dt.datetime.now(ZoneInfo(zone)).time()
        if dt.time(0, 10) < now < dt.time(23, 30):
            return zone
    raise AssertionError("unreachable: two of the zones are 12 hours apart")


def sent_at(rows: list[dict[str, Any]]) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(r["sent_at"]) for r in rows]


def assert_mastodon_chain(statuses: list[dict[str, Any]]) -> None:
    for n, status in enumerate(statuses):
        assert status["in_reply_to_id"] == (statuses[n - 1]["id"] if n else None)


# -- the tests ------------------------------------------------------------------------------------


def test_publishes_on_time_then_uses_a_file_added_while_running_the_next_day(
    world: World, notifications: Notifications, daemons: list[Daemon]
):
    slot, post_at = slot_soon(WEST)
    today = slot.date()
    tomorrow = today + dt.timedelta(days=1)
    world.configure(timezone=WEST, post_at=post_at)
    world.post("first.md", today, "Trotsky exiled", "first")
    daemon = Daemon(world, env={"NOTIFY_SOCKET": notifications.path, "WATCHDOG_USEC": "1000000"})
    daemons.append(daemon)
    notifications.wait_for("READY=1")
    assert not world.rows(), "published before its time"

    wait_until(lambda: world.complete(today), 15, "today's thread", daemon)
    rows = world.rows(today)
    parts = {a: [r for r in rows if r["account"] == a] for a in ("masto", "sky")}
    expected = world.parts(today)
    assert {a: len(rows) for a, rows in parts.items()} == expected
    assert expected["masto"] >= 3 and expected["sky"] >= 2  # a thread, not one post
    first_sending = min(dt.datetime.fromisoformat(r["sending_at"]) for r in rows)
    last_sent = max(sent_at(rows))
    assert first_sending >= slot, "a part left before the slot"
    assert (last_sent - slot).total_seconds() < 2.0, "the thread was late"

    # One log line per published part, with event, account and URL; no secret anywhere.
    published = [r for r in daemon.records() if r["message"].startswith("published part")]
    assert sorted((r["account"], r["part"]) for r in published) == sorted(
        (r["account"], r["idx"]) for r in rows
    )
    assert all(r["event"] == "first" and r["url"].startswith("http") for r in published)
    assert {r["url"] for r in published} == {r["url"] for r in rows}
    for secret in (world.mastodon_token, world.bsky_password):
        assert secret not in daemon.text()

    # Health and metrics on loopback.
    status, body = world.get("/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok"
    assert health["complete"] == {"masto": True, "sky": True}
    assert dt.datetime.fromisoformat(health["next_run"]) == slot + dt.timedelta(days=1)
    status, metrics = world.get("/metrics")
    assert status == 200
    for account, count in expected.items():
        assert f'thisday_posts_published_total{{account="{account}"}} {count}' in metrics
    assert 'thisday_posts_failed_total{account="masto"} 0' in metrics
    assert "thisday_events_today 1" in metrics
    next_run = int((slot + dt.timedelta(days=1)).timestamp())
    assert f"thisday_next_run_timestamp_seconds {next_run}" in metrics
    assert "WATCHDOG=1" in notifications.messages

    # While it runs: a post file for tomorrow appears; then the config moves to a zone where
    # it is already tomorrow, and SIGHUP.
    world.post("second.md", tomorrow, "Trotsky in Alma-Ata", "second")
    slot2, post_at2 = slot_soon(EAST)
    assert slot2.date() == tomorrow
    world.configure(timezone=EAST, post_at=post_at2)
    mark = len(notifications.messages)
    daemon.proc.send_signal(signal.SIGHUP)
    notifications.wait_for("RELOADING=1", after=mark)
    notifications.wait_for("READY=1", after=mark)
    daemon.wait_log("config reloaded")
    wait_until(lambda: world.complete(tomorrow), 15, "tomorrow's thread", daemon)
    rows2 = world.rows(tomorrow)
    assert {r["event_id"] for r in rows2} == {"second"}
    assert min(dt.datetime.fromisoformat(r["sending_at"]) for r in rows2) >= slot2
    assert daemon.proc.poll() is None

    # `thisday status` sees the running daemon and what it did.
    done = thisday("status", "--json", "--config", str(world.config), env=world.env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["daemon"] == {"running": True, "pid": daemon.pid}
    assert report["today"] == tomorrow.isoformat()
    assert [e["id"] for e in report["selection"]] == ["second"]
    assert {a["account"]: a["state"] for a in report["accounts"]} == {
        "masto": "complete",
        "sky": "complete",
    }
    assert {r["url"] for r in report["recent"]} <= {r["url"] for r in rows + rows2}
    assert len(report["recent"]) == 10

    # Followers see each day's thread once.
    statuses = world.mastodon_statuses()
    masto = expected["masto"]
    assert len(statuses) == 2 * masto
    assert_mastodon_chain(statuses[:masto])
    assert_mastodon_chain(statuses[masto:])
    assert len(world.bsky_records()) == 2 * expected["sky"]

    code, seconds = daemon.stop()
    assert code == 0 and seconds < 3
    assert "STOPPING=1" in notifications.messages


def test_second_instance_is_refused_and_sigterm_when_idle_exits_fast(
    world: World, daemons: list[Daemon]
):
    far = (dt.datetime.now(ZoneInfo("UTC")) + dt.timedelta(hours=6)).strftime("%H:%M:%S")
    world.configure(timezone="UTC", post_at=far)
    first = Daemon(world)
    daemons.append(first)
    first.wait_log("thisday daemon started")

    second = Daemon(world)
    daemons.append(second)
    code = second.proc.wait(timeout=20)
    second.stop()
    assert code == 1
    assert "already running" in second.text() and f"pid {first.pid}" in second.text()
    assert first.proc.poll() is None

    code, seconds = first.stop()
    assert code == 0 and seconds < 2.0
    assert "SIGTERM: stopping" in first.messages() and "stopped" in first.messages()


def test_sigterm_mid_thread_then_restart_completes_the_thread_exactly_once(
    world: World, mastodon_proxy, daemons: list[Daemon]
):
    zone = zone_in_midday()
    today = dt.datetime.now(ZoneInfo(zone)).date()
    past = (dt.datetime.now(ZoneInfo(zone)) - dt.timedelta(minutes=5)).strftime("%H:%M:%S")
    world.configure(timezone=zone, post_at=past)  # the slot has passed: catch-up at start
    world.post("first.md", today, "Trotsky exiled", "first")
    mastodon_proxy.delay("POST", "/api/v1/statuses", ms=1500, times=None)

    first = Daemon(world)
    daemons.append(first)
    wait_until(
        lambda: any(r["account"] == "masto" and r["state"] == "sent" for r in world.rows()),
        20,
        "a first Mastodon part",
        first,
    )
    code, seconds = first.stop()
    assert code == 0 and seconds < 10
    masto = [r for r in world.rows(today) if r["account"] == "masto"]
    expected = world.parts(today)
    assert 1 <= sum(r["state"] == "sent" for r in masto) < len(masto) == expected["masto"]
    assert "catch-up at start" in first.wait_log("publishing")["message"]

    mastodon_proxy.clear()
    second = Daemon(world)
    daemons.append(second)
    wait_until(lambda: world.complete(today), 20, "the rest of the thread", second)
    code, _ = second.stop()
    assert code == 0

    statuses = world.mastodon_statuses()
    assert len(statuses) == expected["masto"], "a part was sent twice or not at all"
    assert_mastodon_chain(statuses)
    masto_rows = world.rows(today)[: expected["masto"]]
    assert [s["id"] for s in statuses] == [r["remote_id"] for r in masto_rows]
    assert len(world.bsky_records()) == expected["sky"]


def test_sigterm_with_a_hung_request_exits_within_10_s_and_the_part_is_sent_once(
    world: World, mastodon_proxy, daemons: list[Daemon]
):
    zone = zone_in_midday()
    today = dt.datetime.now(ZoneInfo(zone)).date()
    past = (dt.datetime.now(ZoneInfo(zone)) - dt.timedelta(minutes=5)).strftime("%H:%M:%S")
    world.configure(timezone=zone, post_at=past, publishing="attempts = 1")
    world.config.write_text(world.config.read_text().replace("timeout = 5", "timeout = 60"))
    world.post("first.md", today, "Trotsky exiled", "first")
    mastodon_proxy.hang("POST", "/api/v1/statuses", times=1, ms=120_000)

    first = Daemon(world)
    daemons.append(first)
    wait_until(
        lambda: any(r["account"] == "masto" and r["state"] == "sending" for r in world.rows()),
        20,
        "a Mastodon part in flight",
        first,
    )
    time.sleep(0.3)
    code, seconds = first.stop()
    assert code == 0 and seconds < 10
    assert "stopped without waiting for the request in flight" in first.text()
    masto = [r["state"] for r in world.rows(today) if r["account"] == "masto"]
    assert masto[0] == "sending"

    mastodon_proxy.clear()  # the hung request is dropped, never forwarded
    second = Daemon(world)
    daemons.append(second)
    wait_until(lambda: world.complete(today), 20, "the thread after the restart", second)
    second.stop()
    statuses = world.mastodon_statuses()
    assert len(statuses) == world.parts(today)["masto"]
    assert_mastodon_chain(statuses)


def test_a_failing_account_is_retried_in_the_background_without_holding_up_the_other(
    world: World, mastodon_proxy, daemons: list[Daemon]
):
    zone = zone_in_midday()
    today = dt.datetime.now(ZoneInfo(zone)).date()
    past = (dt.datetime.now(ZoneInfo(zone)) - dt.timedelta(minutes=5)).strftime("%H:%M:%S")
    world.configure(
        timezone=zone,
        post_at=past,
        publishing="attempts = 1",
        daemon="retry_every = 1\nretry_max = 2",
    )
    world.post("first.md", today, "Trotsky exiled", "first")
    mastodon_proxy.fail("POST", "/api/v1/statuses", 503, times=3)

    daemon = Daemon(world)
    daemons.append(daemon)
    wait_until(lambda: world.complete(today), 30, "both threads", daemon)
    rows = world.rows(today)
    sky_done = max(sent_at([r for r in rows if r["account"] == "sky"]))
    masto_start = min(sent_at([r for r in rows if r["account"] == "masto"]))
    assert (masto_start - sky_done).total_seconds() > 2.5  # three failed runs, 1 + 2 + 2 s
    failed = world.journal("failed")
    assert [f["account"] for f in failed] == ["masto"] * 3
    assert sum("retrying" in m for m in daemon.messages()) == 3
    _, metrics = world.get("/metrics")
    assert 'thisday_posts_failed_total{account="masto"} 3' in metrics
    assert 'thisday_posts_failed_total{account="sky"} 0' in metrics
    daemon.stop()
    assert len(world.mastodon_statuses()) == world.parts(today)["masto"]


def test_dry_run_logs_the_thread_and_touches_neither_network_nor_ledger(
    world: World, mastodon_proxy, pds_faults, daemons: list[Daemon]
):
    zone = zone_in_midday()
    today = dt.datetime.now(ZoneInfo(zone)).date()
    past = (dt.datetime.now(ZoneInfo(zone)) - dt.timedelta(minutes=5)).strftime("%H:%M:%S")
    world.configure(timezone=zone, post_at=past)
    world.post("first.md", today, "Trotsky exiled", "first")
    expected = world.parts(today)
    daemon = Daemon(world, "--dry-run")
    daemons.append(daemon)
    masto, sky = expected["masto"], expected["sky"]
    daemon.wait_log(f"dry run: would publish part {masto}/{masto} of first to masto")
    daemon.wait_log(f"dry run: would publish part {sky}/{sky} of first to sky")
    code, _ = daemon.stop()
    assert code == 0
    assert not (world.folder / "state" / "ledger.sqlite").exists()
    assert mastodon_proxy.counts() == {}
    assert pds_faults.counts() == {}


def test_a_bad_config_is_one_clear_line_not_a_traceback(tmp_path: Path):
    config = tmp_path / "thisday.toml"
    config.write_text('timezone = "Mars/Olympus"\n')
    done = thisday("run", "--config", str(config), timeout=30)
    assert done.returncode == 2
    assert "unknown timezone 'Mars/Olympus'" in done.stderr
    assert "Traceback" not in done.stderr


def test_hostile_files_beside_good_ones_are_logged_and_the_day_is_posted_on_time(
    world: World, notifications: Notifications, daemons: list[Daemon]
):
    slot, post_at = slot_soon(WEST)
    today = slot.date()
    world.configure(timezone=WEST, post_at=post_at)
    world.post("first.md", today, "Trotsky exiled", "first")
    posts = world.folder / "posts"
    os.symlink("loopy", posts / "loopy")  # a link loop
    os.symlink(".", posts / "again")  # the folder inside itself
    os.mkfifo(posts / "fifo.md")  # would block a plain open()
    (posts / "huge.md").write_text(
        f"---\ndate: 1928-{today.month:02d}-{today.day:02d}\ntitle: Big\nsummary: S.\n---\n"
        + "word " * 100_000,
        encoding="utf-8",
    )
    (posts / "evil\x1b[31m\nx.md:1: error: forged.md").write_text("---\n", encoding="utf-8")
    daemon = Daemon(world, env={"NOTIFY_SOCKET": notifications.path})
    daemons.append(daemon)
    notifications.wait_for("READY=1")

    wait_until(lambda: world.complete(today), 15, "today's thread", daemon)
    rows = world.rows(today)
    assert {r["event_id"] for r in rows} == {"first"}
    assert min(dt.datetime.fromisoformat(r["sending_at"]) for r in rows) >= slot
    assert (max(sent_at(rows)) - slot).total_seconds() < 2.0, "the thread was late"

    # The loop and the folder linked into itself are logged as errors, never followed.
    errors = [r["message"] for r in daemon.records() if r.get("level") in ("ERROR", "error")]
    text = daemon.text()
    assert any("posts/loopy" in m for m in errors), errors
    assert any("posts/again" in m for m in errors), errors
    assert "\x1b[31m" not in text  # the file name cannot colour or forge log lines
    assert daemon.proc.poll() is None
    code, _ = daemon.stop()
    assert code == 0
