"""Replicas of `thisday run` on one PostgreSQL ledger (a real server started by the tests),
publishing to the loopback PDS and the Mastodon simulator, judged from the outside: the
servers' view of each account, the ledger, the logs.

A short lease (`ledger_lease = 2`) keeps takeovers quick; the waits below are bounds on
how long the tests wait, not timed asserts.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from support import ROOT, bsky_records, mastodon_statuses, write_post
from test_daemon import STORY, Daemon, assert_mastodon_chain, zone_in_midday

from bot.ledger.postgres import PostgresLedger

pytestmark = pytest.mark.servers

LEASE = 2.0


class Replicas:
    """Several replica folders (each its own config and `state/`), one posts folder, one
    PostgreSQL ledger, a Mastodon and a Bluesky account."""

    def __init__(self, tmp: Path, pg_url: str, pds, mastodon) -> None:
        self.tmp, self.pg_url = tmp, pg_url
        _, self.token = mastodon.new_account()
        self.sky = pds.new_account()
        self.mastodon_url, self.proxy_url, self.pds_url = mastodon.url, mastodon.proxy.url, pds.url
        self.posts = tmp / "posts"
        self.posts.mkdir()
        self.zone = zone_in_midday()
        self.today = dt.datetime.now(ZoneInfo(self.zone)).date()
        past = (dt.datetime.now(ZoneInfo(self.zone)) - dt.timedelta(minutes=5)).strftime("%H:%M")
        write_post(
            self.posts,
            "first.md",
            f"""
            date: 1928-{self.today.month:02d}-{self.today.day:02d}
            title: Trotsky exiled
            summary: Moscow sent Leon Trotsky to Alma-Ata.
            id: first
            """,
            STORY,
        )
        self.post_at = past  # the slot has passed: every replica catches up at start
        self.started: list[Daemon] = []
        self.health = ""
        self.ledger = PostgresLedger(pg_url)

    def start(self, n: int, env: dict[str, str] | None = None) -> Daemon:
        folder = self.tmp / f"replica-{n}"
        folder.mkdir(exist_ok=True)
        (folder / "thisday.toml").write_text(
            f"""
timezone = "{self.zone}"
post_at = "{self.post_at}"
posts = "{self.posts}"
state = "state"
templates = "{ROOT / "config" / "templates"}"
ledger = "{self.pg_url}"
ledger_lease = {LEASE}

[publishing]
backoff = 0.05
max_backoff = 0.2
timeout = 5

[daemon]
warm_up = 0
retry_every = 1
{self.health}

[accounts.masto]
platform = "mastodon"
server = "{self.proxy_url}"
token_env = "TEST_MASTODON_TOKEN"
limit = 200

[accounts.sky]
platform = "bluesky"
server = "{self.pds_url}"
handle = "{self.sky.handle}"
password_env = "TEST_BSKY_PASSWORD"
""",
            encoding="utf-8",
        )

        where = SimpleNamespace(  # what test_daemon.Daemon reads of its world
            runs=n * 100 + len(self.started),
            folder=folder,
            config=folder / "thisday.toml",
            env={"TEST_MASTODON_TOKEN": self.token, "TEST_BSKY_PASSWORD": self.sky.password},
        )
        daemon = Daemon(where, env=env)  # type: ignore[arg-type]
        self.started.append(daemon)
        return daemon

    def complete(self) -> bool:
        iso = self.today.isoformat()
        return self.ledger.complete(iso, "masto") and self.ledger.complete(iso, "sky")

    def sent(self, account: str) -> int:
        return sum(r.state == "sent" for r in self.ledger.parts(self.today.isoformat(), account))

    def wait(self, check, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        logs = "\n\n".join(f"--- {d.log_path.name}\n{d.text()[-4000:]}" for d in self.started)
        raise AssertionError(f"timed out waiting for {what}\n{logs}")

    def assert_one_complete_thread_each(self) -> None:
        statuses = mastodon_statuses(self.mastodon_url, self.token)
        assert len(statuses) == 5, "a part was sent twice or not at all"
        assert_mastodon_chain(statuses)
        rows = self.ledger.parts(self.today.isoformat(), "masto")
        assert [s["id"] for s in statuses] == [r.remote_id for r in rows]
        records = bsky_records(self.pds_url, self.sky.did)
        sky = self.ledger.parts(self.today.isoformat(), "sky")
        assert len(sky) >= 2 and all(r.state == "sent" for r in sky)
        assert sorted(r["uri"].rsplit("/", 1)[1] for r in records) == sorted(r.key for r in sky)

    def stop_all(self) -> None:
        for daemon in self.started:
            if daemon.proc.poll() is None:
                with_signal = signal.SIGCONT
                daemon.proc.send_signal(with_signal)
                daemon.stop(signal.SIGKILL, timeout=5)
        self.ledger.close()


@pytest.fixture
def replicas(tmp_path, pg_url, pds, mastodon, mastodon_proxy):
    world = Replicas(tmp_path, pg_url, pds, mastodon)
    try:
        yield world
    finally:
        world.stop_all()


# Seconds from starting the replicas to the slot: time to start three Pythons and open the
# sessions, so that all three are up and idle when the slot comes.
SLOT_LEAD = 8


@pytest.mark.parametrize(
    "crash", ["sending:mastodon:0", "sent:mastodon:2", "sending:bluesky:0", "sent:bluesky:0"]
)
def test_kill_9_of_the_working_replica_at_each_crash_point_another_completes_once(
    replicas: Replicas, crash: str
):
    """Three replicas running before the slot; the one that reaches the crash point first
    dies by SIGKILL there (the others pass it: the hook fires once); one of the two left
    completes that account's thread within the lease plus a few seconds of the kill."""
    slot = dt.datetime.now(ZoneInfo(replicas.zone)) + dt.timedelta(seconds=SLOT_LEAD)
    replicas.post_at = slot.strftime("%H:%M:%S")
    marker = replicas.tmp / "crashed"
    env = {"THISDAY_TEST_CRASH": crash, "THISDAY_TEST_CRASH_ONCE": str(marker)}
    daemons = [replicas.start(n, env=env) for n in (1, 2, 3)]
    for daemon in daemons:
        daemon.wait_log("nothing to publish (catch-up at start)", timeout=SLOT_LEAD + 20)
    assert dt.datetime.now(ZoneInfo(replicas.zone)) < slot, "a replica started after the slot"
    replicas.wait(lambda: marker.exists() and marker.read_text() != "", 60, "the crash point")
    killed_at = time.monotonic()
    dead = next(d for d in daemons if d.pid == int(marker.read_text()))
    assert dead.proc.wait(timeout=10) == -signal.SIGKILL
    alive = [d for d in daemons if d is not dead]
    account = "masto" if ":mastodon:" in crash else "sky"
    taken_over = not replicas.ledger.complete(replicas.today.isoformat(), account)
    replicas.wait(replicas.complete, LEASE + 5, "another replica to finish the thread")
    # Bound on the takeover: the lease plus a few seconds, from the kill.
    assert time.monotonic() - killed_at < LEASE + 5
    replicas.assert_one_complete_thread_each()
    assert all(d.proc.poll() is None for d in alive)
    if taken_over:
        takers = [d for d in alive if f"claimed {account}" in "".join(d.messages())]
        assert len(takers) >= 1
    text = "".join(d.text() for d in alive)
    if crash.startswith("sending"):
        assert "in flight when a previous run stopped" in text


def test_sigstop_past_the_lease_then_sigcont_the_paused_replica_sends_nothing(
    replicas: Replicas, mastodon_proxy
):
    mastodon_proxy.delay("POST", "/api/v1/statuses", ms=800, times=None)
    first = replicas.start(1)
    replicas.wait(lambda: replicas.sent("masto") >= 1, 40, "a first Mastodon part")
    first.proc.send_signal(signal.SIGSTOP)
    time.sleep(LEASE + 0.5)  # past its lease
    second = replicas.start(2)
    replicas.wait(replicas.complete, 40, "the second replica to finish")
    replicas.assert_one_complete_thread_each()
    posts_before = mastodon_proxy.count("POST", "/api/v1/statuses")
    first.proc.send_signal(signal.SIGCONT)
    replicas.wait(
        lambda: (
            "this replica sends nothing more" in first.text()
            or "nothing to publish" in first.text()
        ),
        20,
        "the resumed replica to notice",
    )
    time.sleep(1.0)
    assert mastodon_proxy.count("POST", "/api/v1/statuses") == posts_before
    replicas.assert_one_complete_thread_each()
    assert "claimed masto" in "".join(second.messages())


def test_postgres_restart_mid_thread_completes_once(replicas: Replicas, mastodon_proxy, postgres):
    mastodon_proxy.delay("POST", "/api/v1/statuses", ms=600, times=None)
    first = replicas.start(1)
    replicas.start(2)
    replicas.wait(lambda: replicas.sent("masto") >= 1, 40, "a first Mastodon part")
    replicas.ledger.close()
    postgres.restart(down_for=1.0)
    replicas.wait(replicas.complete, 60, "the thread to complete after the restart")
    replicas.assert_one_complete_thread_each()
    assert first.proc.poll() is None


def test_an_unreachable_ledger_sends_nothing_and_healthz_says_why(tmp_path, pds, mastodon):
    from loopback import free_port

    replicas = Replicas(tmp_path, f"postgresql://pg@127.0.0.1:{free_port()}/nothing", pds, mastodon)
    port = free_port()
    try:
        replicas.health = f'health = "127.0.0.1:{port}"'
        daemon = replicas.start(1)
        daemon.wait_log("the ledger is unreachable", timeout=30)
        import json
        import urllib.error
        import urllib.request

        def health() -> tuple[int, dict]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        deadline = time.monotonic() + 20
        while True:
            try:
                code, body = health()
                if body.get("ledger_error"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, daemon.text()
            time.sleep(0.1)
        assert code == 503 and body["status"] == "ledger-unreachable"
        assert "cannot reach the ledger" in body["ledger_error"]
        assert mastodon_statuses(replicas.mastodon_url, replicas.token) == []
    finally:
        for d in replicas.started:
            d.stop(signal.SIGKILL, timeout=5)
