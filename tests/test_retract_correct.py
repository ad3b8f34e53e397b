# ruff: noqa: F811 (tests take the `world` fixture imported from test_publish)
"""`thisday retract` and `thisday correct` against the real servers on loopback: a real atproto
PDS and mastodon-mock. Each test publishes the day with the real command, then retracts or
corrects it with the real command (killed with SIGKILL at the crash points) and reads back
what followers would see: records gone, statuses edited (with their edit history), the
correction reply under the head, and no second copy of anything."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import test_daemon as daemon_tests
from support import NETWORK_PUBLISHING, appview_account, thisday, write_config, write_post
from test_daemon import daemons  # noqa: F401 (the fixture)
from test_publish import DAY, STORY, World, preview_parts, world  # noqa: F401 (the fixture)

pytestmark = pytest.mark.servers


def run_json(world: World, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    done = world.run(*args, "--json", env=env)
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        pytest.fail(
            f"{args[0]} printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


def published(world: World) -> dict[str, Any]:
    code, doc, stderr = world.publish()
    assert code == 0, stderr
    return {r["account"]: r for r in doc["results"]}


def mastodon_status(world: World, status_id: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.mastodon_token}"}
    return httpx.get(f"{world.mastodon_url}/api/v1/statuses/{status_id}", headers=headers)


def mastodon_history(world: World, status_id: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {world.mastodon_token}"}
    return httpx.get(
        f"{world.mastodon_url}/api/v1/statuses/{status_id}/history", headers=headers
    ).json()


def bsky_record(world: World, uri: str) -> httpx.Response:
    did, collection, rkey = uri.removeprefix("at://").split("/")
    return httpx.get(
        f"{world.pds_url}/xrpc/com.atproto.repo.getRecord",
        params={"repo": did, "collection": collection, "rkey": rkey},
    )


def edit_story(world: World, old: str, new: str) -> None:
    path = world.folder / "posts" / "01" / "trotsky.md"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def journal(world: World) -> list[str]:
    with sqlite3.connect(world.folder / "state" / "ledger.sqlite") as db:
        return [r[0] for r in db.execute("SELECT kind FROM journal ORDER BY id")]


# -- retract ------------------------------------------------------------------------------------


def test_retract_deletes_every_part_once_and_publish_never_reposts(world: World, pds, mastodon):
    first = published(world)
    masto_ids = [p["id"] for p in first["masto"]["parts"]]
    sky_uris = [p["uri"] for p in first["sky"]["parts"]]
    applies = pds.faults.count("com.atproto.repo.applyWrites")

    code, plan = run_json(world, "retract", "--date", DAY, "--dry-run")
    assert code == 0
    assert all(r["status"] == "dry-run" and r["plan"] for r in plan["results"])
    assert len(world.mastodon_statuses()) == len(masto_ids)  # the dry run sent nothing

    deletes = mastodon.proxy.count("DELETE", f"/api/v1/statuses/{masto_ids[-1]}")
    code, doc = run_json(world, "retract", "--date", DAY, "--yes")
    assert code == 0, doc
    assert {r["account"]: r["status"] for r in doc["results"]} == {
        "masto": "retracted",
        "sky": "retracted",
    }
    assert world.mastodon_statuses() == []
    assert all(mastodon_status(world, i).status_code == 404 for i in masto_ids)
    assert world.bsky_records() == []
    assert all(bsky_record(world, u).status_code == 400 for u in sky_uris)
    # Bluesky: the whole thread in ONE applyWrites of deletes.
    assert pds.faults.count("com.atproto.repo.applyWrites") == applies + 1
    assert mastodon.proxy.count("DELETE", f"/api/v1/statuses/{masto_ids[-1]}") == deletes + 1

    # Again: nothing left to do, nothing sent.
    code, again = run_json(world, "retract", "--date", DAY, "--yes")
    assert code == 0
    assert {r["status"] for r in again["results"]} == {"already-retracted"}
    assert pds.faults.count("com.atproto.repo.applyWrites") == applies + 1

    # publish (what the daemon calls) posts nothing on a retracted day...
    code, doc, stderr = world.publish()
    assert code == 0, stderr
    assert {r["status"] for r in doc["results"]} == {"retracted"}
    assert world.mastodon_statuses() == [] and world.bsky_records() == []
    # ... until the operator forces it: a new thread, once.
    code, doc, stderr = world.publish("--force")
    assert code == 0, stderr
    assert {r["status"] for r in doc["results"]} == {"published"}
    assert len(world.mastodon_statuses()) == len(masto_ids)
    assert len(world.bsky_records()) == len(sky_uris)
    assert {r["status"] for r in world.publish()[1]["results"]} == {"already-published"}


def test_retract_refuses_a_day_never_published(world: World):
    done = world.run("retract", "--date", "2027-01-17", "--yes")
    assert done.returncode == 2
    assert "2027-01-17 was never published" in done.stderr
    assert "Traceback" not in done.stderr
    done = world.run("correct", "--date", "2027-01-17")
    assert done.returncode == 2 and "was never published" in done.stderr


def test_retract_without_yes_off_a_terminal_deletes_nothing(world: World):
    published(world)
    done = world.run("retract", "--date", DAY)
    assert done.returncode == 2 and "--yes" in done.stderr
    assert world.mastodon_statuses() and world.bsky_records()


@pytest.mark.parametrize(
    "crash",
    [
        "revise-sending:mastodon:0",
        "revise-done:mastodon:0",
        "revise-sending:mastodon:1",
        "revise-sending:bluesky:0",
        "revise-done:bluesky:0",
    ],
)
def test_retract_killed_at_each_crash_point_completes_once(world: World, crash: str, pds):
    published(world)
    crashed = world.run("retract", "--date", DAY, "--yes", env={"THISDAY_TEST_CRASH": crash})
    assert crashed.returncode == -signal.SIGKILL
    applies = pds.faults.count("com.atproto.repo.applyWrites")
    code, doc = run_json(world, "retract", "--date", DAY, "--yes")
    assert code == 0, doc
    assert {r["status"] for r in doc["results"]} <= {"retracted", "already-retracted"}
    assert world.mastodon_statuses() == [] and world.bsky_records() == []
    if crash == "revise-sending:bluesky:0":
        # Killed after `sending` was committed, before the request: looked, then sent once.
        assert pds.faults.count("com.atproto.repo.applyWrites") == applies + 1
    elif crash == "revise-done:bluesky:0":
        assert pds.faults.count("com.atproto.repo.applyWrites") == applies
    kinds = journal(world)
    assert kinds.count("retract-planned") == 2  # once per account, finished by the rerun
    code, doc, _ = world.publish()
    assert code == 0 and {r["status"] for r in doc["results"]} == {"retracted"}
    assert world.mastodon_statuses() == [] and world.bsky_records() == []


# -- correct --------------------------------------------------------------------------------------


def test_correct_edits_mastodon_in_place_and_replies_on_bluesky(world: World, pds, mastodon):
    first = published(world)
    masto_ids = [p["id"] for p in first["masto"]["parts"]]
    sky = first["sky"]["parts"]
    edit_story(world, "He lived a year in Alma-Ata", "He lived nearly a year in Alma-Ata")
    masto_new = preview_parts(world, "masto")
    assert len(masto_new) == len(masto_ids)

    code, plan = run_json(world, "correct", "--date", DAY, "--dry-run")
    assert code == 0, plan
    by_account = {r["account"]: r for r in plan["results"]}
    assert any(line.startswith("edit part") for line in by_account["masto"]["plan"])
    assert any(line.startswith("reply under the head") for line in by_account["sky"]["plan"])
    assert len(world.bsky_records()) == len(sky)

    code, doc = run_json(world, "correct", "--date", DAY)
    assert code == 0, doc
    by_account = {r["account"]: r for r in doc["results"]}
    assert by_account["masto"]["status"] == "corrected"
    assert by_account["sky"]["status"] == "corrected"

    # Mastodon: the same statuses, edited; the changed one has an edit history.
    statuses = world.mastodon_statuses()
    assert [s["id"] for s in statuses] == masto_ids
    for status, part in zip(statuses, masto_new, strict=True):
        assert world.mastodon_source(status["id"]) == part["text"]
    changed = [s for s in statuses if "nearly a year" in world.mastodon_source(s["id"])]
    assert len(changed) == 1
    history = mastodon_history(world, changed[0]["id"])
    assert len(history) == 2 and "nearly" not in history[0]["content"]
    assert "nearly a year" in history[1]["content"]
    unchanged = [s for s in statuses if s["id"] != changed[0]["id"]]
    assert all(len(mastodon_history(world, s["id"])) == 1 for s in unchanged)

    # Bluesky: the thread as it was, plus a "Correction:" reply under the head.
    records = world.bsky_records()
    assert [r["uri"] for r in records[: len(sky)]] == [p["uri"] for p in sky]
    (reply,) = records[len(sky) :]
    assert reply["value"]["text"].startswith("Correction: ")
    assert "nearly a year in Alma-Ata" in reply["value"]["text"]
    head = {"uri": sky[0]["uri"], "cid": sky[0]["cid"]}
    assert reply["value"]["reply"] == {"root": head, "parent": head}
    # The ledger knows the reply's URL; a rerun has nothing left to do.
    assert any(p.get("uri") == reply["uri"] and p.get("url") for p in by_account["sky"]["parts"])
    code, again = run_json(world, "correct", "--date", DAY)
    assert code == 0 and {r["status"] for r in again["results"]} == {"unchanged"}
    assert len(world.bsky_records()) == len(sky) + 1

    # status shows the corrected day.
    done = world.run("status", "--json")
    assert done.returncode == 0, done.stderr
    revised = json.loads(done.stdout)["revisions"]
    assert {(r["account"], r["kind"], r["complete"]) for r in revised} == {
        ("masto", "correct", True),
        ("sky", "correct", True),
    }


def test_correct_replace_on_bluesky_is_one_applywrites(world: World, pds):
    first = published(world)
    old = first["sky"]["parts"]
    edit_story(world, "He lived a year in Alma-Ata", "He lived nearly a year in Alma-Ata")
    applies = pds.faults.count("com.atproto.repo.applyWrites")
    code, doc = run_json(world, "correct", "--date", DAY, "--account", "sky", "--replace")
    assert code == 0, doc
    (result,) = doc["results"]
    assert result["status"] == "corrected"
    assert pds.faults.count("com.atproto.repo.applyWrites") == applies + 1
    records = world.bsky_records()
    expected = preview_parts(world, "sky")
    assert [r["value"]["text"] for r in records] == [p["text"] for p in expected]
    assert not {r["uri"] for r in records} & {p["uri"] for p in old}
    assert all(bsky_record(world, p["uri"]).status_code == 400 for p in old)
    assert [p["uri"] for p in result["parts"]] == [r["uri"] for r in records]
    root = {"uri": records[0]["uri"], "cid": records[0]["cid"]}
    assert all(r["value"]["reply"]["root"] == root for r in records[1:])


def test_correct_mastodon_adds_and_removes_parts(world: World):
    first = published(world)
    masto_ids = [p["id"] for p in first["masto"]["parts"]]
    path = world.folder / "posts" / "01" / "trotsky.md"
    text = path.read_text()
    # A much longer story: more parts, posted as replies under the last one.
    path.write_text(text.rstrip() + "\n\n" + ("In exile he kept writing letters. " * 20) + "\n")
    grown = preview_parts(world, "masto")
    assert len(grown) > len(masto_ids)
    code, doc = run_json(world, "correct", "--date", DAY, "--account", "masto")
    assert code == 0, doc
    statuses = world.mastodon_statuses()
    assert [s["id"] for s in statuses[: len(masto_ids)]] == masto_ids
    assert len(statuses) == len(grown)
    for n, (status, part) in enumerate(zip(statuses, grown, strict=True)):
        assert world.mastodon_source(status["id"]) == part["text"]
        assert status["in_reply_to_id"] == (statuses[n - 1]["id"] if n else None)
    # Back to the original: the added parts are deleted, the rest edited back.
    path.write_text(text)
    code, doc = run_json(world, "correct", "--date", DAY, "--account", "masto")
    assert code == 0, doc
    statuses = world.mastodon_statuses()
    assert [s["id"] for s in statuses] == masto_ids
    for status, part in zip(statuses, preview_parts(world, "masto"), strict=True):
        assert world.mastodon_source(status["id"]) == part["text"]


@pytest.mark.parametrize(
    "crash",
    [
        "revise-sending:mastodon:0",
        "revise-done:mastodon:0",
        "revise-sending:bluesky:0",
        "revise-done:bluesky:0",
    ],
)
@pytest.mark.parametrize("replace", [False, True])
def test_correct_killed_at_each_crash_point_completes_once(world: World, crash: str, replace):
    first = published(world)
    sky = first["sky"]["parts"]
    edit_story(world, "He lived a year in Alma-Ata", "He lived nearly a year in Alma-Ata")
    args = ["correct", "--date", DAY] + (["--replace"] if replace else [])
    crashed = world.run(*args, env={"THISDAY_TEST_CRASH": crash})
    assert crashed.returncode == -signal.SIGKILL
    code, doc = run_json(world, *args)
    assert code == 0, doc
    # Mastodon: edited once (one edit, two history entries), no duplicate.
    statuses = world.mastodon_statuses()
    assert [s["id"] for s in statuses] == [p["id"] for p in first["masto"]["parts"]]
    histories = [len(mastodon_history(world, s["id"])) for s in statuses]
    assert sorted(histories)[-1] == 2 and histories.count(2) == 1
    # Bluesky: exactly one correction reply, or exactly the new thread.
    records = world.bsky_records()
    if replace:
        assert [r["value"]["text"] for r in records] == [
            p["text"] for p in preview_parts(world, "sky")
        ]
    else:
        assert len(records) == len(sky) + 1
        assert records[-1]["value"]["text"].startswith("Correction: ")
    code, again = run_json(world, *args)
    assert code == 0 and {r["status"] for r in again["results"]} == {"unchanged"}
    assert len(world.bsky_records()) == len(records)


@pytest.mark.parametrize("command", ["retract", "replace"])
def test_bluesky_write_committed_but_answer_lost(world: World, pds_faults, command):
    """The PDS applies the applyWrites and closes the socket without an answer: the step is
    uncertain; the retry looks first (getRecord), finds it done, and writes nothing more."""
    first = published(world)
    if command == "replace":
        edit_story(world, "He lived a year in Alma-Ata", "He lived nearly a year in Alma-Ata")
        args = ["correct", "--date", DAY, "--account", "sky", "--replace"]
    else:
        args = ["retract", "--date", DAY, "--account", "sky", "--yes"]
    method = "com.atproto.repo.applyWrites"
    before = pds_faults.count(method)
    pds_faults.drop_after_commit(method)
    code, doc = run_json(world, *args)
    pds_faults.clear()
    assert code == 0, doc
    assert pds_faults.count(method) == before + 1, "the retry must not write again"
    records = world.bsky_records()
    if command == "retract":
        assert records == []
    else:
        assert [r["value"]["text"] for r in records] == [
            p["text"] for p in preview_parts(world, "sky")
        ]
        assert not {r["uri"] for r in records} & {p["uri"] for p in first["sky"]["parts"]}


# -- what a follower sees through the AppView (the full dev-env network) --------------------------


def network_world(tmp_path: Path, atproto_network) -> tuple[World, Any]:
    """The Trotsky day on one Bluesky account of the full network (PLC + PDS + AppView), and
    a second account that follows it and reads through the AppView as followers do."""
    from atproto import Client

    author = atproto_network.new_account()
    follower = atproto_network.new_account()
    write_config(
        tmp_path,
        accounts=appview_account(atproto_network, author.handle),
        extra=NETWORK_PUBLISHING,
    )
    write_post(
        tmp_path / "posts",
        "01/trotsky.md",
        """
        date: 1928-01-16
        title: Stalin sends Trotsky into internal exile
        summary: The Soviet leadership deported Leon Trotsky from Moscow to Alma-Ata.
        tags: [history, SovietUnion]
        lang: en
        id: trotsky-exile
        """,
        STORY,
    )
    world = World(
        folder=tmp_path,
        config=tmp_path / "thisday.toml",
        env={"TEST_BSKY_PASSWORD": author.password},
        mastodon_url="",
        mastodon_token="",
        bsky_handle=author.handle,
        bsky_did=author.did,
        pds_url=atproto_network.pds_url,
    )
    reader = Client(base_url=atproto_network.pds_url)
    deadline = time.monotonic() + 30
    while True:  # login reads the new account's profile, which the AppView indexes a bit later
        try:
            reader.login(follower.handle, follower.password)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    reader.follow(author.did)
    return world, reader


def thread_view(reader: Any, uri: str) -> Any:
    """getPostThread of `uri` as the follower: the thread, or "notFound" (the AppView answers
    a deleted root with an error NotFound, or a notFoundPost node)."""
    from atproto_client.exceptions import BadRequestError

    try:
        thread = reader.get_post_thread(uri, depth=20).thread
    except BadRequestError as exc:
        content = getattr(exc.response, "content", None)
        if getattr(content, "error", None) == "NotFound":
            return "notFound"
        raise
    if getattr(thread, "not_found", False):
        return "notFound"
    return thread


def poll(reader: Any, uri: str, ready: Callable[[Any], bool], what: str) -> Any:
    deadline = time.monotonic() + 60
    while True:  # the AppView indexes the firehose asynchronously
        try:
            view = thread_view(reader, uri)
        except Exception as exc:  # not indexed yet
            view = exc
        if not isinstance(view, Exception) and ready(view):
            return view
        if time.monotonic() > deadline:
            pytest.fail(f"the AppView did not show {what} in time: {view}")
        time.sleep(0.3)


def chain(thread: Any, skip: str = "") -> list[Any]:
    """The posts of a thread from its head down its chain of own parts (not `skip`'s reply)."""
    posts = []
    node = thread
    while node is not None:
        posts.append(node.post)
        replies = [
            r for r in node.replies or [] if not (skip and r.post.record.text.startswith(skip))
        ]
        assert len(replies) <= 1, "the parts must form one chain"
        node = replies[0] if replies else None
    return posts


@pytest.mark.network
def test_the_correction_reply_is_in_the_thread_followers_read(tmp_path: Path, atproto_network):
    world, reader = network_world(tmp_path, atproto_network)
    first = published(world)["sky"]["parts"]
    head = first[0]["uri"]
    poll(reader, head, lambda t: t != "notFound" and len(chain(t)) == len(first), "the thread")

    edit_story(world, "He lived a year in Alma-Ata", "He lived nearly a year in Alma-Ata")
    code, doc = run_json(world, "correct", "--date", DAY)
    assert code == 0, doc
    (result,) = doc["results"]
    assert result["status"] == "corrected"

    def corrected(thread: Any) -> bool:
        return thread != "notFound" and any(
            r.post.record.text.startswith("Correction: ") for r in thread.replies or []
        )

    thread = poll(reader, head, corrected, "the correction reply")
    (reply,) = [r.post for r in thread.replies if r.post.record.text.startswith("Correction: ")]
    assert reply.author.did == world.bsky_did
    assert "He lived nearly a year in Alma-Ata" in reply.record.text
    assert reply.record.reply.root.uri == head and reply.record.reply.parent.uri == head
    assert reply.record.reply.parent.cid == first[0]["cid"]
    assert reply.record.langs == ["en"]
    # The thread itself is untouched: the same posts, in the same chain, as first published.
    assert [p.uri for p in chain(thread, skip="Correction: ")] == [p["uri"] for p in first]
    # The ledger's record of the reply is the one followers see.
    assert any(p.get("uri") == reply.uri for p in result["parts"])


@pytest.mark.network
def test_replace_shows_the_new_thread_and_the_old_head_is_gone(tmp_path: Path, atproto_network):
    world, reader = network_world(tmp_path, atproto_network)
    old = published(world)["sky"]["parts"]
    poll(reader, old[0]["uri"], lambda t: t != "notFound" and len(chain(t)) == len(old), "it")

    edit_story(world, "He lived a year in Alma-Ata", "He lived nearly a year in Alma-Ata")
    expected = preview_parts(world, "sky")
    code, doc = run_json(world, "correct", "--date", DAY, "--replace")
    assert code == 0, doc
    (result,) = doc["results"]
    assert result["status"] == "corrected"
    new_head = result["parts"][0]["uri"]
    assert new_head != old[0]["uri"]

    thread = poll(
        reader,
        new_head,
        lambda t: t != "notFound" and len(chain(t)) == len(expected),
        "the new thread",
    )
    posts = chain(thread)
    assert [p.record.text for p in posts] == [p["text"] for p in expected]
    assert any("nearly a year in Alma-Ata" in p.record.text for p in posts)
    assert [p.uri for p in posts] == [p["uri"] for p in result["parts"]]
    assert all(p.author.did == world.bsky_did for p in posts)
    assert poll(reader, old[0]["uri"], lambda t: t == "notFound", "the old head gone")


# -- the daemon after a retraction ----------------------------------------------------------------


@pytest.fixture
def daemon_world(tmp_path: Path, pds, mastodon) -> daemon_tests.World:
    return daemon_tests.new_world(tmp_path, pds, mastodon)


@pytest.mark.parametrize("partial", [False, True], ids=["complete", "partial"])
def test_a_daemon_run_after_a_retraction_posts_nothing(
    daemon_world: daemon_tests.World, daemons: list[daemon_tests.Daemon], partial: bool
):
    """Published (whole, or Mastodon killed after its head), then retracted by the operator;
    the daemon then meets today's slot and, restarted, its catch-up: neither sends anything
    to either network, and each says why."""
    world = daemon_world
    zone = daemon_tests.zone_in_midday()
    today = dt.datetime.now(ZoneInfo(zone)).date()
    past = (dt.datetime.now(ZoneInfo(zone)) - dt.timedelta(minutes=5)).strftime("%H:%M:%S")
    world.configure(timezone=zone, post_at=past)
    world.post("first.md", today, "Trotsky exiled", "first")
    config = ("--config", str(world.config))
    if partial:  # the rest of the Mastodon thread is still planned when the day is retracted
        crash = {**world.env, "THISDAY_TEST_CRASH": "sent:mastodon:0"}
        done = thisday(
            "publish", "--date", today.isoformat(), "--account", "masto", *config, env=crash
        )
        assert done.returncode == -signal.SIGKILL, done.stderr
    accounts = ("--account", "sky") if partial else ()
    done = thisday("publish", "--date", today.isoformat(), *accounts, *config, env=world.env)
    assert done.returncode == 0, done.stderr
    assert world.mastodon_statuses() and world.bsky_records()
    done = thisday(
        "retract", "--date", today.isoformat(), "--yes", "--json", *config, env=world.env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert world.mastodon_statuses() == [] and world.bsky_records() == []
    rows = world.rows(today)
    journal_before = len(all_journal(world))

    # A slot a few seconds ahead today: it comes, and nothing is sent.
    slot, post_at = daemon_tests.slot_soon(zone)
    assert slot.date() == today
    world.configure(timezone=zone, post_at=post_at)
    first = daemon_tests.Daemon(world)
    daemons.append(first)
    first.wait_log("thisday daemon started")
    at_slot = f"(slot {slot.time().isoformat()})"
    # Complete threads: nothing is due. A thread cut short: due, found retracted, not sent.
    said = "masto: " + today.isoformat() + " was retracted" if partial else at_slot
    first.wait_log(said, timeout=30)
    assert first.stop()[0] == 0

    # Restarted after the slot, inside the catch-up window: the catch-up sends nothing either.
    second = daemon_tests.Daemon(world)
    daemons.append(second)
    second.wait_log("(catch-up at start)", timeout=30)
    if partial:
        second.wait_log("masto: " + today.isoformat() + " was retracted", timeout=30)
    assert second.stop()[0] == 0

    for daemon in (first, second):
        messages = daemon.messages()
        assert not any(m.startswith("published part") for m in messages)
        if not partial:
            assert any("nothing to publish" in m and "complete" in m for m in messages)
    assert world.mastodon_statuses() == [] and world.bsky_records() == []
    assert world.rows(today) == rows  # the ledger's parts untouched
    # The journal says why: the day is retracted on both accounts; the daemons sent nothing
    # (no part planned, sending or sent), and where one found the thread unfinished it noted
    # that the day is retracted.
    entries = all_journal(world)
    added = [(e["account"], e["kind"], e["detail"]) for e in entries[journal_before:]]
    skipped = ("masto", "skipped", "retracted (publish --force sends it)")
    assert added == ([skipped, skipped] if partial else [])
    retracted = {(e["account"], e["kind"]) for e in entries if e["day"] == today.isoformat()}
    assert {("masto", "retract-planned"), ("sky", "retract-planned")} <= retracted
    assert {("masto", "retract-done"), ("sky", "retract-done")} <= retracted
    with sqlite3.connect(world.folder / "state" / "ledger.sqlite") as db:
        marked = db.execute("SELECT account FROM retractions WHERE day = ?", (today.isoformat(),))
        assert sorted(r[0] for r in marked) == ["masto", "sky"]


def all_journal(world: daemon_tests.World) -> list[dict[str, Any]]:
    with sqlite3.connect(world.folder / "state" / "ledger.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM journal ORDER BY id")]
