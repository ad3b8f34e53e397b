"""`thisday publish` against real servers on loopback: a real atproto PDS and mastodon-mock.

Every test runs the real command in a subprocess, as an operator would, then reads back
what followers would see and compares it with `thisday preview --json`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import (
    ROOT,
    bsky_records,
    mastodon_statuses,
    png,
    thisday,
    write_config,
    write_post,
)

pytestmark = pytest.mark.servers

DAY = "2027-01-16"
STORY = """
    Trotsky had built the Red Army and led the October seizure of power, yet by 1927 he had lost
    the struggle for the party leadership to Stalin and been expelled from the party.

    The secret police set his departure for the evening of 16 January. Supporters filled the
    station to stop the train, so agents carried him out of his flat and put him aboard another
    one. See https://en.wikipedia.org/wiki/Alma-Ata for the city he was sent to. #exile

    He lived a year in Alma-Ata, writing to other oppositionists, before the regime expelled
    him from the Soviet Union altogether in February 1929, shipping him to Turkey.
    """


@dataclass
class World:
    """A config with one Mastodon and one Bluesky account on the loopback servers."""

    folder: Path
    config: Path
    env: dict[str, str]
    mastodon_url: str
    mastodon_token: str
    bsky_handle: str
    bsky_did: str
    pds_url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
        return thisday(
            *args, "--config", str(self.config), env={**self.env, **(env or {})}, timeout=timeout
        )

    def publish(
        self, *args: str, day: str = DAY, env: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], str]:
        done = self.run("publish", "--date", day, "--json", *args, env=env)
        try:
            document = json.loads(done.stdout)
        except ValueError:
            pytest.fail(
                f"publish printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        return done.returncode, document, done.stderr

    def preview(self, day: str = DAY) -> dict[str, Any]:
        done = self.run("preview", "--date", day, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", *args, "--config", str(self.config)],
            cwd=ROOT,
            env={**os.environ, **self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ledger_rows(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.folder / "state" / "ledger.sqlite") as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM parts ORDER BY account, idx")]

    # -- reading back as followers do --------------------------------------------------------

    def mastodon_statuses(self) -> list[dict[str, Any]]:
        return mastodon_statuses(self.mastodon_url, self.mastodon_token)

    def mastodon_source(self, status_id: str) -> str:
        headers = {"Authorization": f"Bearer {self.mastodon_token}"}
        return httpx.get(
            f"{self.mastodon_url}/api/v1/statuses/{status_id}/source", headers=headers
        ).json()["text"]

    def bsky_records(self) -> list[dict[str, Any]]:
        return bsky_records(self.pds_url, self.bsky_did)


@pytest.fixture
def world(tmp_path: Path, pds, mastodon) -> World:
    _, token = mastodon.new_account()
    account = pds.new_account()
    write_config(
        tmp_path,
        accounts=f"""
        [accounts.masto]
        platform = "mastodon"
        server = "{mastodon.proxy.url}"
        token_env = "TEST_MASTODON_TOKEN"
        visibility = "unlisted"

        [accounts.sky]
        platform = "bluesky"
        server = "{pds.url}"
        handle = "{account.handle}"
        password_env = "TEST_BSKY_PASSWORD"
        """,
        extra="""
        [publishing]
        backoff = 0.05
        max_backoff = 0.2
        timeout = 5
        """,
    )
    write_post(
        tmp_path / "posts",
        "01/trotsky.md",
        """
        date: 1928-01-16
        title: Stalin sends Trotsky into internal exile
        summary: The Soviet leadership deported Leon Trotsky from Moscow to Alma-Ata.
        tags: [history, SovietUnion]
        link: https://en.wikipedia.org/wiki/Leon_Trotsky
        cw: political persecution
        lang: en
        id: trotsky-exile
        """,
        STORY,
    )
    return World(
        folder=tmp_path,
        config=tmp_path / "thisday.toml",
        env={"TEST_MASTODON_TOKEN": token, "TEST_BSKY_PASSWORD": account.password},
        mastodon_url=mastodon.url,
        mastodon_token=token,
        bsky_handle=account.handle,
        bsky_did=account.did,
        pds_url=pds.url,
    )


def preview_parts(world: World, account: str, day: str = DAY) -> list[dict[str, Any]]:
    (post,) = [p for p in world.preview(day)["posts"] if p["account"] == account]
    return post["parts"]


def assert_mastodon_thread(
    world: World, expected: list[dict[str, Any]], cw: str | None = None
) -> None:
    statuses = world.mastodon_statuses()
    assert len(statuses) == len(expected), "duplicate or missing statuses"
    for n, (status, part) in enumerate(zip(statuses, expected, strict=True)):
        assert world.mastodon_source(status["id"]) == part["text"]
        assert status["in_reply_to_id"] == (statuses[n - 1]["id"] if n else None)
        assert status["language"] == "en"
        assert status["visibility"] == "unlisted"
        assert status["spoiler_text"] == (cw or "")


def assert_bluesky_thread(world: World, expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records = world.bsky_records()
    assert len(records) == len(expected), "duplicate or missing records"
    root = {"uri": records[0]["uri"], "cid": records[0]["cid"]}
    for n, (record, part) in enumerate(zip(records, expected, strict=True)):
        value = record["value"]
        assert value["text"] == part["text"]
        assert value["langs"] == ["en"]
        got_facets = [{k: v for k, v in f.items() if k != "$type"} for f in value.get("facets", [])]
        assert got_facets == part["facets"]
        for facet in value.get("facets", []):
            shown = (
                value["text"]
                .encode()[facet["index"]["byteStart"] : facet["index"]["byteEnd"]]
                .decode()
            )
            feature = facet["features"][0]
            if feature["$type"].endswith("#tag"):
                assert shown == "#" + feature["tag"]
            else:
                assert feature["uri"].startswith("https://")
        if n == 0:
            assert "reply" not in value
        else:
            assert value["reply"]["root"] == root
            assert value["reply"]["parent"] == {
                "uri": records[n - 1]["uri"],
                "cid": records[n - 1]["cid"],
            }
    return records


def test_publish_matches_preview_on_both_networks_and_runs_once(world: World, pds, mastodon):
    parts_masto = preview_parts(world, "masto")
    parts_sky = preview_parts(world, "sky")
    assert len(parts_masto) >= 2 and len(parts_sky) >= 3
    applies_before = pds.faults.count("com.atproto.repo.applyWrites")
    posts_before = mastodon.proxy.count("POST", "/api/v1/statuses")

    code, first, stderr = world.publish()
    assert code == 0, stderr
    by_account = {r["account"]: r for r in first["results"]}
    assert (
        by_account["masto"]["status"] == "published" and by_account["sky"]["status"] == "published"
    )
    assert [p["index"] for p in by_account["sky"]["parts"]] == list(range(len(parts_sky)))
    assert all(
        p["uri"].startswith("at://") and p["cid"] and p["url"] for p in by_account["sky"]["parts"]
    )
    assert all(p["id"] and p["url"] for p in by_account["masto"]["parts"])

    assert_mastodon_thread(world, parts_masto, cw="political persecution")
    records = assert_bluesky_thread(world, parts_sky)
    assert [r["uri"] for r in records] == [p["uri"] for p in by_account["sky"]["parts"]]
    assert [r["cid"] for r in records] == [p["cid"] for p in by_account["sky"]["parts"]]
    card = records[0]["value"]["embed"]
    assert card["$type"] == "app.bsky.embed.external"
    assert card["external"]["uri"] == "https://en.wikipedia.org/wiki/Leon_Trotsky"
    # The whole Bluesky thread went in one request.
    assert pds.faults.count("com.atproto.repo.applyWrites") == applies_before + 1
    assert mastodon.proxy.count("POST", "/api/v1/statuses") == posts_before + len(parts_masto)

    code, second, stderr = world.publish()
    assert code == 0, stderr
    assert {r["status"] for r in second["results"]} == {"already-published"}
    assert second["results"] == [{**r, "status": "already-published"} for r in first["results"]]
    # Nothing left the machine the second time.
    assert pds.faults.count("com.atproto.repo.applyWrites") == applies_before + 1
    assert mastodon.proxy.count("POST", "/api/v1/statuses") == posts_before + len(parts_masto)
    assert len(world.mastodon_statuses()) == len(parts_masto)
    assert len(world.bsky_records()) == len(parts_sky)


def test_image_with_alt_text_on_both_networks(world: World):
    (world.folder / "posts" / "01" / "pixel.png").write_bytes(png(40, 30))
    write_post(
        world.folder / "posts",
        "01/exile-map.md",
        """
        date: 1928-01-17
        title: A test event with a picture
        summary: The picture shows a small test pattern.
        image: pixel.png
        alt: A forty by thirty test image, black
        link: https://example.org/about
        """,
        "One more paragraph to make a reply.",
    )
    code, _, stderr = world.publish(day="2027-01-17")
    assert code == 0, stderr
    masto = world.mastodon_statuses()
    media = masto[0]["media_attachments"]
    assert [m["description"] for m in media] == ["A forty by thirty test image, black"]
    head = world.bsky_records()[0]["value"]
    embed = head["embed"]
    assert embed["$type"] == "app.bsky.embed.images"  # an image wins over the link card
    assert embed["images"][0]["alt"] == "A forty by thirty test image, black"
    assert embed["images"][0]["aspectRatio"] == {"width": 40, "height": 30}
    blob = httpx.get(
        f"{world.pds_url}/xrpc/com.atproto.sync.getBlob",
        params={"did": world.bsky_did, "cid": embed["images"][0]["image"]["ref"]["$link"]},
    )
    # Written again from its pixels (nothing but the pixels leaves: see test_publish_media.py).
    assert blob.content.startswith(b"\x89PNG") and blob.content[16:24] == png(40, 30)[16:24]


def test_bluesky_session_is_stored_private_and_reused(world: World, pds):
    logins = pds.faults.count("com.atproto.server.createSession")
    assert world.publish()[0] == 0
    assert world.publish(day="2027-01-17")[0] == 0  # no event that day: nothing to do
    write_post(world.folder / "posts", "x.md", "date: 1999-01-18\ntitle: Another day", "Text.")
    assert world.publish(day="2027-01-18")[0] == 0
    assert pds.faults.count("com.atproto.server.createSession") == logins + 1
    session = world.folder / "state" / "sessions" / "sky.json"
    assert session.stat().st_mode & 0o777 == 0o600
    assert world.env["TEST_BSKY_PASSWORD"] not in session.read_text()


def test_accounts_are_independent(world: World):
    code, doc, stderr = world.publish(env={"TEST_MASTODON_TOKEN": "wrong-token-123"})
    assert code == 1
    by_account = {r["account"]: r for r in doc["results"]}
    assert by_account["sky"]["status"] == "published"
    assert by_account["masto"]["status"] == "failed"
    assert "token was refused" in by_account["masto"]["error"]
    # The failed account completes on the next run; the other is not sent again.
    code, doc, stderr = world.publish()
    assert code == 0, stderr
    assert {r["account"]: r["status"] for r in doc["results"]} == {
        "masto": "published",
        "sky": "already-published",
    }


def test_missing_credentials_fail_clearly(world: World):
    code, doc, _ = world.publish(env={"TEST_BSKY_PASSWORD": ""})
    assert code == 1
    sky = next(r for r in doc["results"] if r["account"] == "sky")
    assert sky["status"] == "failed" and "$TEST_BSKY_PASSWORD" in sky["error"]


def test_dry_run_publishes_nothing_and_writes_no_ledger(world: World, pds, mastodon):
    applies = pds.faults.count("com.atproto.repo.applyWrites")
    statuses = mastodon.proxy.count("POST", "/api/v1/statuses")
    code, doc, stderr = world.publish("--dry-run")
    assert code == 0, stderr
    assert {r["status"] for r in doc["results"]} == {"dry-run"}
    assert not (world.folder / "state" / "ledger.sqlite").exists()
    assert pds.faults.count("com.atproto.repo.applyWrites") == applies
    assert mastodon.proxy.count("POST", "/api/v1/statuses") == statuses
    human = world.run("publish", "--date", DAY, "--dry-run")
    assert human.returncode == 0 and "would publish" in human.stdout
    # The human form indents each line of a part under its number.
    shown = [line.strip() for line in human.stdout.splitlines()]
    for line in preview_parts(world, "sky")[1]["text"].splitlines():
        assert any(line.strip() in s for s in shown), line


def test_one_account_only(world: World):
    code, doc, stderr = world.publish("--account", "sky")
    assert code == 0, stderr
    assert [r["account"] for r in doc["results"]] == ["sky"]
    assert world.mastodon_statuses() == []
    bad = world.run("publish", "--date", DAY, "--account", "nope")
    assert bad.returncode == 2 and "unknown or disabled account" in bad.stderr


# -- faults survived -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    ["server-error", "rate-limit", "lost-response", "timeout", "connection-reset"],
)
def test_mastodon_faults_are_survived_without_duplicates(world: World, mastodon_proxy, fault):
    path = "/api/v1/statuses"
    if fault == "server-error":
        mastodon_proxy.fail("POST", path, 503, times=2)
    elif fault == "rate-limit":
        mastodon_proxy.rate_limit("POST", path, reset_in=1)
    elif fault == "lost-response":
        mastodon_proxy.drop("POST", path, times=2)  # committed, answer lost: twice
    elif fault == "timeout":
        mastodon_proxy.hang("POST", path, ms=10_000)
    else:
        mastodon_proxy.reset("POST", path)
    started = time.monotonic()
    code, _, stderr = world.publish("--account", "masto")
    assert code == 0, stderr
    if fault == "rate-limit":
        assert time.monotonic() - started >= 0.9, "did not wait for the rate limit reset"
    assert_mastodon_thread(world, preview_parts(world, "masto"), cw="political persecution")


def test_mastodon_uncertain_part_after_an_hour_is_found_not_resent(world: World, mastodon_proxy):
    # Part 2 reaches the server but its answer is lost, and the process dies right after.
    mastodon_proxy.delay("POST", "/api/v1/statuses", ms=1500, times=None)
    proc = world.popen("publish", "--date", DAY, "--account", "masto")
    wait_for(lambda: any(r["idx"] == 1 and r["state"] == "sending" for r in safe_rows(world)), 20)
    time.sleep(0.2)
    proc.kill()
    proc.wait()
    mastodon_proxy.clear()
    wait_for(lambda: len(world.mastodon_statuses()) == 2, 10)  # the delayed request landed
    # Pretend the crash was two hours ago: the server has forgotten the Idempotency-Key.
    with sqlite3.connect(world.folder / "state" / "ledger.sqlite") as db:
        db.execute(
            "UPDATE parts SET sending_at = '2000-01-01T00:00:00+00:00' WHERE state = 'sending'"
        )
    before = mastodon_proxy.count("POST", "/api/v1/statuses")
    code, _, stderr = world.publish("--account", "masto")
    assert code == 0, stderr
    parts = preview_parts(world, "masto")
    assert_mastodon_thread(world, parts, cw="political persecution")
    # Part 2 was found among recent statuses, not posted again.
    assert mastodon_proxy.count("POST", "/api/v1/statuses") - before == len(parts) - 2
    with sqlite3.connect(world.folder / "state" / "ledger.sqlite") as db:
        kinds = [r[0] for r in db.execute("SELECT kind FROM journal WHERE idx = 1 ORDER BY id")]
    assert "reconciled" in kinds


@pytest.mark.parametrize(
    "fault",
    [
        "server-error",
        "rate-limit",
        "error-after-commit",
        "lost-response",
        "timeout",
        "connection-reset",
    ],
)
def test_bluesky_faults_are_survived_without_duplicates(world: World, pds_faults, fault):
    method = "com.atproto.repo.applyWrites"
    if fault == "server-error":
        pds_faults.fail(method, 502, times=2)
    elif fault == "rate-limit":
        pds_faults.rate_limit(method, reset_in=1)
    elif fault == "error-after-commit":
        pds_faults.fail(method, 500, after_commit=True)
    elif fault == "lost-response":
        pds_faults.drop_after_commit(method)
    elif fault == "timeout":
        pds_faults.hang(method, ms=8000)
    else:
        pds_faults.reset(method)
    code, _, stderr = world.publish("--account", "sky")
    assert code == 0, stderr
    assert_bluesky_thread(world, preview_parts(world, "sky"))


# -- crashes: kill -9 of a real publish process ----------------------------------------------


def safe_rows(world: World) -> list[dict[str, Any]]:
    try:
        return world.ledger_rows()
    except sqlite3.Error:
        return []


def wait_for(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    pytest.fail("condition not reached in time")


@pytest.mark.parametrize(
    ("stage", "index"), [("sending", 0), ("sent", 0), ("sending", 2), ("sent", 2)]
)
def test_mastodon_crash_between_requests_then_resume(world: World, stage: str, index: int):
    crashed = world.run(
        "publish",
        "--date",
        DAY,
        "--account",
        "masto",
        env={"THISDAY_TEST_CRASH": f"{stage}:mastodon:{index}"},
    )
    assert crashed.returncode == -signal.SIGKILL
    code, _, stderr = world.publish("--account", "masto")
    assert code == 0, stderr
    assert_mastodon_thread(world, preview_parts(world, "masto"), cw="political persecution")


def test_mastodon_crash_with_a_request_in_flight_then_resume(world: World, mastodon_proxy):
    mastodon_proxy.delay("POST", "/api/v1/statuses", ms=1500, times=None)
    proc = world.popen("publish", "--date", DAY, "--account", "masto")
    wait_for(lambda: any(r["idx"] == 1 and r["state"] == "sending" for r in safe_rows(world)), 20)
    proc.kill()
    proc.wait()
    mastodon_proxy.clear()
    code, _, stderr = world.publish("--account", "masto")
    assert code == 0, stderr
    assert_mastodon_thread(world, preview_parts(world, "masto"), cw="political persecution")


class Watcher:
    """Polls the repo while a run is going on: followers must never see half a thread."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                self.seen.add(len(self.world.bsky_records()))
            time.sleep(0.005)

    def stop(self) -> set[int]:
        self._stop.set()
        self._thread.join()
        return self.seen


@pytest.mark.parametrize("fault", ["hang", "commit-then-die", "crash-after-sending"])
def test_bluesky_crash_then_resume_all_or_nothing(world: World, pds_faults, fault):
    parts = preview_parts(world, "sky")
    watcher = Watcher(world)
    method = "com.atproto.repo.applyWrites"
    env = {}
    if fault == "hang":
        pds_faults.hang(method, ms=3000)
    elif fault == "commit-then-die":
        pds_faults.fail(method, 500, after_commit=True, ms=3000)
    else:
        env = {"THISDAY_TEST_CRASH": "sending:bluesky:0"}
    proc = world.popen("publish", "--date", DAY, "--account", "sky", env=env)
    if fault != "crash-after-sending":
        wait_for(lambda: pds_faults.count(method) >= 1, 20)
        time.sleep(0.3)
        proc.kill()
    proc.wait()
    pds_faults.clear()
    time.sleep(0.5)
    code, _, stderr = world.publish("--account", "sky")
    assert code == 0, stderr
    assert_bluesky_thread(world, parts)
    assert watcher.stop() <= {0, len(parts)}, "a follower could have seen half a thread"


def test_ledger_rows_hold_handles_and_remote_ids(world: World):
    assert world.publish()[0] == 0
    rows = world.ledger_rows()
    assert {r["state"] for r in rows} == {"sent"}
    sky = [r for r in rows if r["account"] == "sky"]
    masto = [r for r in rows if r["account"] == "masto"]
    assert all(len(r["handle"]) == 13 and r["created_at"] and r["uri"] and r["cid"] for r in sky)
    assert len({r["created_at"] for r in sky}) == len(sky), "createdAt must differ per part"
    assert all(len(r["handle"]) == 36 and r["remote_id"] for r in masto)
    assert len({r["handle"] for r in masto}) == len(masto)


def test_instance_limit_is_cached_for_offline_preview(world: World):
    assert world.publish("--account", "masto")[0] == 0
    cached = json.loads((world.folder / "state" / "instances.json").read_text())
    (info,) = cached.values()
    assert info["max_characters"] == 500 and info["characters_reserved_per_url"] == 23
    info["max_characters"] = 180
    (world.folder / "state" / "instances.json").write_text(json.dumps({next(iter(cached)): info}))
    parts = preview_parts(world, "masto")
    assert {p["limit"] for p in parts} == {180}
    assert all(p["length"] <= 180 for p in parts)


def test_secrets_never_appear_in_output_logs_or_ledger(world: World):
    token, password = world.env["TEST_MASTODON_TOKEN"], world.env["TEST_BSKY_PASSWORD"]
    outputs = []
    for args in (
        ["publish", "--date", DAY],
        ["publish", "--date", DAY, "--json"],
        ["preview", "--date", DAY],
    ):
        done = world.run(*args)
        outputs += [done.stdout, done.stderr]
    write_post(world.folder / "posts", "later.md", "date: 1930-01-19\ntitle: Later", "Text.")
    for session in (world.folder / "state" / "sessions").glob("*"):
        session.unlink()  # so the wrong password is really tried
    wrong = world.run("publish", "--date", "2027-01-19", env={"TEST_BSKY_PASSWORD": password + "x"})
    assert wrong.returncode == 1
    outputs += [wrong.stdout, wrong.stderr]
    ledger = world.folder / "state" / "ledger.sqlite"
    with sqlite3.connect(ledger) as db:
        for table in ("parts", "journal"):
            outputs += [json.dumps(row) for row in db.execute(f"SELECT * FROM {table}")]
    for path in (world.folder / "state").rglob("*"):
        if path.is_file() and path.suffix != ".sqlite":
            outputs.append(path.read_text(errors="replace"))
    blob = "\n".join(outputs)
    assert token not in blob
    assert password not in blob


def test_expired_bluesky_session_is_refreshed_not_logged_in_again(world: World, pds):
    assert world.publish("--account", "sky")[0] == 0
    session_file = world.folder / "state" / "sessions" / "sky.json"
    session = json.loads(session_file.read_text())
    session["accessJwt"] = "expired.e30.x"  # unreadable: thisday must refresh it first
    session_file.write_text(json.dumps(session))
    logins = pds.faults.count("com.atproto.server.createSession")
    refreshes = pds.faults.count("com.atproto.server.refreshSession")
    write_post(world.folder / "posts", "next.md", "date: 1930-01-20\ntitle: Next day", "Story.")
    code, _, stderr = world.publish("--account", "sky", day="2027-01-20")
    assert code == 0, stderr
    assert pds.faults.count("com.atproto.server.refreshSession") == refreshes + 1
    assert pds.faults.count("com.atproto.server.createSession") == logins
    assert json.loads(session_file.read_text())["accessJwt"] != "expired.e30.x"


def test_revoked_bluesky_session_falls_back_to_one_login(world: World, pds):
    assert world.publish("--account", "sky")[0] == 0
    session_file = world.folder / "state" / "sessions" / "sky.json"
    session = json.loads(session_file.read_text())
    session["accessJwt"] = session["refreshJwt"] = "revoked.e30.x"
    session_file.write_text(json.dumps(session))
    logins = pds.faults.count("com.atproto.server.createSession")
    write_post(world.folder / "posts", "next.md", "date: 1930-01-21\ntitle: Next day", "Story.")
    code, _, stderr = world.publish("--account", "sky", day="2027-01-21")
    assert code == 0, stderr
    assert pds.faults.count("com.atproto.server.createSession") == logins + 1


# -- the frame as followers read it (issue 10) ----------------------------------------------


def _heads(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The head posts on both networks, oldest first: Mastodon statuses, Bluesky records."""
    masto = [s for s in world.mastodon_statuses() if s["in_reply_to_id"] is None]
    sky = [r for r in world.bsky_records() if "reply" not in r["value"]]
    return masto, sky


def test_a_leap_day_event_published_on_28_february_says_29_february(world: World):
    write_post(
        world.folder / "posts",
        "02/leap.md",
        """
        date: 1940-02-29
        title: Hattie McDaniel wins an Oscar
        summary: The first African American to win an Academy Award.
        link: https://en.wikipedia.org/wiki/Hattie_McDaniel
        card: Her speech, and the hotel that would not let her in.
        lang: en
        """,
        "She won for Gone with the Wind. The ceremony was at the Ambassador Hotel.",
    )
    code, _, stderr = world.publish(day="2027-02-28")  # a common year: posted on 28 February
    assert code == 0, stderr
    (masto,), (sky,) = _heads(world)
    expected = "On 29 February 1940 (87 years ago): Hattie McDaniel wins an Oscar"
    assert world.mastodon_source(masto["id"]).startswith(expected)
    assert sky["value"]["text"].startswith(expected)
    for head in (world.mastodon_source(masto["id"]), sky["value"]["text"]):
        assert "on this day" not in head.lower()
        assert head.endswith("1/2")  # numbered by default
    card = sky["value"]["embed"]["external"]
    assert card["description"] == "Her speech, and the hotel that would not let her in."


FRAMED = {
    "fr": (
        "1789-07-14",
        "Un jour comme aujourd'hui, en 1789 (il y a 238 ans)\u00a0: La prise de la Bastille",
        "Avertissement\u00a0: violence",
    ),
    "de": (
        "1989-11-09",
        "An diesem Tag im Jahr 1989 (vor 38 Jahren): Die Berliner Mauer fällt",
        "Inhaltswarnung: violence",
    ),
    "ja": (
        "1964-10-01",
        "1964年の今日（63 年前）：東海道新幹線が開業",  # noqa: RUF001
        "閲覧注意：violence",  # noqa: RUF001
    ),
}


def test_french_german_and_japanese_events_have_their_frame_in_their_language(world: World):
    titles = {
        "fr": "La prise de la Bastille",
        "de": "Die Berliner Mauer fällt",
        "ja": "東海道新幹線が開業",
    }
    for lang, (date, _, _) in FRAMED.items():
        write_post(
            world.folder / "posts",
            f"{lang}.md",
            f"""
            date: {date}
            title: {titles[lang]}
            summary: {titles[lang]}.
            tags: [History]
            cw: violence
            lang: {lang}
            """,
            "Premier paragraphe. Zweiter Absatz. 三つ目の段落。",
        )
    for lang, (date, opening, warning) in FRAMED.items():
        day = "2027" + date[4:]
        code, _, stderr = world.publish(day=day)
        assert code == 0, stderr
        masto, sky = _heads(world)
        head_masto, head_sky = masto[-1], sky[-1]
        source = world.mastodon_source(head_masto["id"])
        assert source.startswith(opening), source
        assert head_masto["language"] == lang
        assert head_masto["spoiler_text"] == "violence"  # the operator's own words, as written
        text = head_sky["value"]["text"]
        assert text.startswith(f"{warning}\n\n{opening}"), text
        assert head_sky["value"]["langs"] == [lang]
        assert "On this day" not in source + text and "Content warning" not in text
