"""`thisday stats`: engagement snapshots in the ledger (both backends), the report's
arithmetic (property tests), polite fetching (429 waits, bounded), the terminal, JSON and HTML
outputs (the page in headless Chromium), and, against the loopback servers, exactly the likes,
reposts, replies and quotes a second account gave a published thread (Mastodon simulator, and
the dev-env network's AppView for Bluesky)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import Browser, launch
from hypothesis import given, settings
from hypothesis import strategies as st
from support import NETWORK_PUBLISHING, appview_account, rows_for, thisday, write_config, write_post

from bot.config import load
from bot.ledger.base import MIGRATIONS, Row, Snapshot
from bot.ledger.store import Ledger, Remote
from bot.publishing.publishers.base import Engagement, RetryableError
from bot.tools import stats

COUNTS = ("likes", "reposts", "replies", "quotes")


def sent(
    ledger: Ledger, day: str, event_id: str, account: str, platform: str, parts: int = 2
) -> list[Row]:
    rows = rows_for(day, event_id, account, parts=parts, platform=platform)
    rows[0].payload["text"] = f"{event_id} head #History #{event_id.title().replace('-', '')}"
    ledger.plan(rows)
    ledger.mark_sending(rows)
    ledger.mark_sent(
        rows,
        [
            Remote(id=f"{event_id}-{n}", uri=f"at://did:plc:x/app.bsky.feed.post/{event_id}{n}")
            for n in range(parts)
        ],
    )
    return rows


def snap(at: str, row: Row, likes=0, reposts=0, replies=0, quotes=0, gone=False) -> Snapshot:
    return Snapshot(
        at, row.day, row.account, row.event_id, row.idx, row.platform,
        likes, reposts, replies, quotes, gone,
    )  # fmt: skip


# -- the ledger ---------------------------------------------------------------------------------


def test_snapshots_are_kept_per_fetch_and_read_back_by_day_and_account(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    assert ledger.schema_version == len(MIGRATIONS)
    a = sent(ledger, "2027-01-16", "trotsky", "masto", "mastodon")
    b = sent(ledger, "2027-01-17", "apollo", "sky", "bluesky", parts=1)
    planned = rows_for("2027-01-18", "unsent", "masto")
    ledger.plan(planned)  # never sent: not a published thread
    assert [(r.day, r.idx) for r in ledger.sent_parts()] == [
        ("2027-01-16", 0), ("2027-01-16", 1), ("2027-01-17", 0)
    ]  # fmt: skip
    assert [r.event_id for r in ledger.sent_parts("2027-01-17", "2027-01-18")] == ["apollo"]
    assert [r.account for r in ledger.sent_parts(account="masto")] == ["masto", "masto"]

    first = [
        snap("2027-01-18T10:00:00+00:00", a[0], likes=2),
        snap("2027-01-18T10:00:00+00:00", b[0]),
    ]
    ledger.record_engagement(first)
    ledger.record_engagement(first)  # the same fetch twice is kept once
    later = [snap("2027-01-19T10:00:00+00:00", a[0], likes=3, gone=True)]
    ledger.record_engagement(later)
    assert ledger.engagement() == [*first, *later]
    assert ledger.engagement(account="sky") == [first[1]]
    assert ledger.engagement(since="2027-01-17") == [first[1]]


@pytest.mark.servers
def test_snapshots_on_the_postgresql_ledger(pg_url: str) -> None:
    from bot.ledger.postgres import PostgresLedger

    ledger = PostgresLedger(pg_url)
    assert ledger.schema_version == len(MIGRATIONS)
    rows = rows_for("2027-02-01", "pg-event", "masto", parts=2)
    ledger.plan(rows)
    ledger.mark_sending(rows)
    ledger.mark_sent(rows, [Remote(id="1"), Remote(id="2")])
    assert [r.idx for r in ledger.sent_parts("2027-02-01", "2027-02-01", "masto")] == [0, 1]
    shots = [
        snap("2027-02-02T08:00:00+00:00", row, likes=n, replies=1) for n, row in enumerate(rows)
    ]
    ledger.record_engagement(shots)
    ledger.record_engagement(shots)
    assert ledger.engagement("2027-02-01", "2027-02-01", "masto") == shots
    ledger.close()


# -- the report's arithmetic ---------------------------------------------------------------------


def test_own_next_part_is_not_a_follower_reply_and_deleted_posts_keep_their_numbers() -> None:
    rows = rows_for("2027-01-16", "e", "masto", parts=3)
    shots = [
        snap("2027-01-17T09:00:00+00:00", rows[0], likes=1, replies=1),  # only our part 2
        snap("2027-01-17T09:00:00+00:00", rows[1], likes=0, replies=3),  # ours + 2 followers
        snap("2027-01-17T09:00:00+00:00", rows[2], reposts=1, replies=1),  # a follower's
        snap("2027-01-18T09:00:00+00:00", rows[0], likes=4, replies=1),
        snap("2027-01-19T09:00:00+00:00", rows[0], gone=True),  # deleted: 4 likes stay
        snap("2027-01-19T09:00:00+00:00", rows[1], gone=True),
        snap("2027-01-19T09:00:00+00:00", rows[2], gone=True),
    ]
    data = stats.report(shots, rows)
    (thread,) = data["threads"]
    assert {k: thread[k] for k in (*COUNTS, "total")} == {
        "likes": 4, "reposts": 1, "replies": 3, "quotes": 0, "total": 8
    }  # fmt: skip
    assert thread["gone"] is True
    assert thread["weekday"] == "Saturday"
    assert [(p["date"], p["total"], p["change"]) for p in data["trend"]] == [
        ("2027-01-17", 5, 5), ("2027-01-18", 8, 3), ("2027-01-19", 8, 0)
    ]  # fmt: skip


counts = st.integers(min_value=0, max_value=50)


@st.composite
def histories(draw: Any) -> tuple[list[Row], list[Snapshot]]:
    rows: list[Row] = []
    for n in range(draw(st.integers(1, 6))):
        account = draw(st.sampled_from(["masto", "sky"]))
        day = f"2027-03-{draw(st.integers(1, 28)):02d}"
        rows += rows_for(day, f"e{n}", account, parts=draw(st.integers(1, 4)))
    for row in rows:
        row.payload["text"] = "head " + " ".join(
            f"#{t}" for t in draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=2))
        )
    shots = [
        snap(
            f"2027-04-{draw(st.integers(1, 5)):02d}T0{draw(st.integers(0, 9))}:00:00+00:00",
            row,
            draw(counts),
            draw(counts),
            draw(counts),
            draw(counts),
            draw(st.booleans()),
        )
        for row in rows
        for _ in range(draw(st.integers(0, 3)))
    ]
    return rows, shots


@settings(max_examples=150, deadline=None)
@given(histories())
def test_every_total_is_the_sum_of_what_it_groups(history: tuple[list[Row], list[Snapshot]]):
    rows, shots = history
    data = stats.report(shots, rows)
    threads = data["threads"]
    for key in (*COUNTS, "total"):
        assert data["totals"][key] == sum(t[key] for t in threads)
        for group in ("accounts", "weekdays", "days"):
            assert sum(g[key] for g in data[group]) == data["totals"][key]
        for tag in data["tags"]:
            assert tag[key] == sum(t[key] for t in threads if tag["tag"] in t["tags"])
    for thread in threads:
        assert thread["total"] == sum(thread[k] for k in COUNTS)
        assert all(thread[k] >= 0 for k in COUNTS)
    assert [t["total"] for t in data["top"]] == sorted((t["total"] for t in threads), reverse=True)[
        : stats.TOP
    ]
    if data["trend"]:  # the last point is what the threads show now
        assert data["trend"][-1]["total"] == data["totals"]["total"]
        assert sum(p["change"] for p in data["trend"]) == data["totals"]["total"]


# -- polite fetching ------------------------------------------------------------------------------


def quick_settings(tmp_path: Path, **publishing: Any):
    extra = "[publishing]\n" + "\n".join(f"{k} = {v}" for k, v in publishing.items())
    return load(write_config(tmp_path, extra=extra))


def test_a_429_waits_for_the_reset_the_server_names_then_succeeds(tmp_path: Path) -> None:
    settings_ = quick_settings(tmp_path, attempts=3, max_rate_limit_wait=120)
    answers: list[Any] = [RetryableError("429", retry_after=42.0), [Engagement(1, 2, 3)]]
    waits: list[float] = []

    def call() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert stats.polite(call, settings_, sleep=waits.append) == [Engagement(1, 2, 3)]
    assert waits == [42.0]


def test_rate_limit_waits_are_bounded(tmp_path: Path) -> None:
    settings_ = quick_settings(tmp_path, attempts=3, max_rate_limit_wait=60)
    waits: list[float] = []

    def too_long() -> Any:
        raise RetryableError("429", retry_after=3600.0)

    with pytest.raises(RetryableError, match="max_rate_limit_wait"):
        stats.polite(too_long, settings_, sleep=waits.append)
    assert waits == []

    calls = [0]

    def always() -> Any:
        calls[0] += 1
        raise RetryableError("503")

    with pytest.raises(RetryableError):
        stats.polite(always, settings_, sleep=waits.append)
    assert calls[0] == 3 and len(waits) == 2


# -- the command, offline ---------------------------------------------------------------------

ACCOUNTS = """
[accounts.masto]
platform = "mastodon"
server = "https://masto.example"

[accounts.sky]
platform = "bluesky"
server = "https://pds.example"
handle = "sky.example"
"""


@pytest.fixture
def offline(tmp_path: Path) -> Path:
    """A ledger with published threads and three days of snapshots; posts with titles."""
    config = write_config(tmp_path, accounts=ACCOUNTS)
    write_post(
        tmp_path / "posts",
        "01/trotsky.md",
        'date: "1928-01-16"\ntitle: "Trotsky <b>exiled</b> & more"\nid: trotsky\n'
        "tags: [SovietUnion, history]",
        "Story.",
    )
    ledger = Ledger(tmp_path / "state" / "ledger.sqlite")
    shots = []
    for n in range(12):
        day = f"2027-01-{n + 10:02d}"
        for account, platform in (("masto", "mastodon"), ("sky", "bluesky")):
            event_id = "trotsky" if n == 6 else f"event-{n}"
            rows = sent(ledger, day, event_id, account, platform, parts=2)
            for d in range(3):
                at = f"2027-02-0{d + 1}T12:00:00+00:00"
                likes = n + d + (20 if event_id == "trotsky" else 0)  # the top event
                shots += [snap(at, rows[0], likes=likes, reposts=d, replies=2, quotes=n % 2)]
                shots += [snap(at, rows[1], likes=1, replies=0)]
    ledger.record_engagement(shots)
    ledger.close()
    return config


def test_help_shows_an_example() -> None:
    result = thisday("stats", "--help")
    assert result.returncode == 0
    assert "Example:" in result.stdout and "thisday stats --since" in result.stdout


def test_without_a_ledger_it_says_nothing_was_published(tmp_path: Path) -> None:
    config = write_config(tmp_path, accounts=ACCOUNTS)
    result = thisday("stats", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "No published thread" in result.stdout


def test_terminal_and_json_from_stored_snapshots(offline: Path) -> None:
    result = thisday("stats", "--config", str(offline), "--no-fetch", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["threads"] == 24
    (trotsky,) = [
        t for t in data["threads"] if t["event_id"] == "trotsky" and t["account"] == "sky"
    ]
    # head: 6+2+20 likes, 2 reposts, 2 replies - ours; part 2: 1 like
    assert (trotsky["likes"], trotsky["reposts"], trotsky["replies"], trotsky["quotes"]) == (
        29, 2, 1, 0
    )  # fmt: skip
    assert trotsky["title"] == "Trotsky <b>exiled</b> & more"
    assert trotsky["tags"] == ["SovietUnion", "history"]
    assert [p["date"] for p in data["trend"]] == ["2027-02-01", "2027-02-02", "2027-02-03"]
    masto = thisday(
        "stats", "--config", str(offline), "--no-fetch", "--json", "--account", "masto",
        "--since", "2027-01-12", "--until", "2027-01-13",
    )  # fmt: skip
    assert {t["day"] for t in json.loads(masto.stdout)["threads"]} == {"2027-01-12", "2027-01-13"}

    text = thisday("stats", "--config", str(offline), "--no-fetch")
    assert text.returncode == 0, text.stderr
    for heading in ("Top events", "Per account", "Per weekday", "Per tag", "Trend"):
        assert heading in text.stdout
    assert "#SovietUnion" in text.stdout and "Saturday" in text.stdout
    assert "Trotsky <b>exiled</b> & more" in text.stdout
    assert "\x1b" not in text.stdout and "\r" not in text.stderr  # no progress bar when piped

    bad = thisday("stats", "--config", str(offline), "--account", "nobody")
    assert bad.returncode == 2 and "no account 'nobody'" in bad.stderr


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    yield from launch()


def test_html_page_draws_the_json_numbers_offline_at_phone_and_desktop_widths(
    tmp_path: Path, offline: Path, chromium: Browser
) -> None:
    out = tmp_path / "stats.html"
    result = thisday("stats", "--config", str(offline), "--no-fetch", "--json", "--html", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for width in (390, 1280):
        page = chromium.open(out, width)
        try:
            per_day = page.evaluate(
                "[...document.querySelectorAll('#per-day rect.bar')]"
                ".map(r => [r.dataset.day, +r.dataset.value, r.getBBox().height])"
            )
            assert [(d, v) for d, v, _ in per_day] == [(d["day"], d["total"]) for d in data["days"]]
            high = max(v for _, v, _ in per_day)
            tallest = max(h for _, _, h in per_day)
            for _, value, height in per_day:  # bar heights proportional to the numbers
                assert height == pytest.approx(tallest * value / high, abs=0.2)
            assert page.evaluate(
                "[...document.querySelectorAll('#top g.row')].map(g => +g.dataset.value)"
            ) == [t["total"] for t in data["top"]]
            assert page.evaluate(
                "[...document.querySelectorAll('#per-tag g.row')].map(g => +g.dataset.value)"
            ) == [t["total"] for t in data["tags"][:20]]
            assert "Trotsky <b>exiled</b> & more" in page.evaluate(
                "document.getElementById('top').textContent"
            )
            assert page.evaluate("document.querySelectorAll('b').length") == 0  # escaped
            assert page.evaluate(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
            # Nothing sticks out of the page: every element ends inside the viewport, except
            # inside the tables' own scroll boxes.
            assert (
                page.evaluate(
                    "[...document.querySelectorAll('main *')].filter(e => !e.closest('.table'))"
                    ".filter(e => e.getBoundingClientRect().right > innerWidth + 0.5).length"
                )
                == 0
            )
            assert page.evaluate("document.scripts.length") == 0
            page.collect()
            assert page.errors == []
            assert page.requests == []
        finally:
            page.close()


# -- against the loopback servers -----------------------------------------------------------------

DAY = "2027-07-20"


@pytest.mark.servers
@pytest.mark.network
def test_stats_reports_exactly_what_a_second_account_did(
    tmp_path: Path, atproto_network, mastodon
) -> None:
    author = atproto_network.new_account()
    follower = atproto_network.new_account()
    _, masto_token = mastodon.new_account()
    _, fan_token = mastodon.new_account()
    config = write_config(
        tmp_path,
        accounts=f"""
        [accounts.masto]
        platform = "mastodon"
        server = "{mastodon.url}"
        token_env = "TEST_MASTODON_TOKEN"
        """
        + appview_account(atproto_network, author.handle),
        extra=NETWORK_PUBLISHING,
    )
    write_post(
        tmp_path / "posts",
        "apollo.md",
        """
        date: 1969-07-20
        title: Apollo 11 lands on the Moon
        tags: [space, Apollo11]
        id: apollo-11
        """,
        "Eagle landed at 20:17 UTC with under a minute of descent fuel to spare. " * 4
        + "\n\nArmstrong stepped onto the surface six and a half hours later. " * 3,
    )
    env = {"TEST_MASTODON_TOKEN": masto_token, "TEST_BSKY_PASSWORD": author.password}
    done = thisday("publish", "--date", DAY, "--json", "--config", str(config), env=env)
    assert done.returncode == 0, done.stderr
    results = {r["account"]: r["parts"] for r in json.loads(done.stdout)["results"]}
    assert len(results["masto"]) >= 2 and len(results["sky"]) >= 2

    # Mastodon: the fan favourites the head and part 2, boosts the head, replies to part 2.
    fan = {"Authorization": f"Bearer {fan_token}"}
    head, second = results["masto"][0]["id"], results["masto"][1]["id"]
    with httpx.Client(base_url=mastodon.url, headers=fan, timeout=10) as m:
        for path in (f"{head}/favourite", f"{second}/favourite", f"{head}/reblog"):
            m.post(f"/api/v1/statuses/{path}").raise_for_status()
        m.post(
            "/api/v1/statuses", data={"status": "Great thread", "in_reply_to_id": second}
        ).raise_for_status()

    # Bluesky: the follower likes and reposts the head, replies to it, and quotes part 2.
    from atproto import Client, models

    reader = Client(base_url=atproto_network.pds_url)
    reader.login(follower.handle, follower.password)
    sky = results["sky"]
    head_ref = models.ComAtprotoRepoStrongRef.Main(uri=sky[0]["uri"], cid=sky[0]["cid"])
    second_ref = models.ComAtprotoRepoStrongRef.Main(uri=sky[1]["uri"], cid=sky[1]["cid"])
    reader.like(sky[0]["uri"], sky[0]["cid"])
    reader.repost(sky[0]["uri"], sky[0]["cid"])
    reader.send_post(
        "What a landing",
        reply_to=models.AppBskyFeedPost.ReplyRef(root=head_ref, parent=head_ref),
        langs=["en"],
    )
    reader.send_post(
        "Worth reading",
        embed=models.AppBskyEmbedRecord.Main(record=second_ref),
        langs=["en"],
    )

    expected = {
        "masto": {"likes": 2, "reposts": 1, "replies": 1, "quotes": 0, "total": 4},
        "sky": {"likes": 1, "reposts": 1, "replies": 1, "quotes": 1, "total": 4},
    }
    deadline = time.monotonic() + 60
    while True:  # the AppView indexes the firehose asynchronously
        result = thisday("stats", "--config", str(config), "--json", env=env)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        got = {a["account"]: {k: a[k] for k in (*COUNTS, "total")} for a in data["accounts"]}
        if got == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got == expected
    (apollo,) = [t for t in data["threads"] if t["account"] == "sky"]
    assert apollo["title"] == "Apollo 11 lands on the Moon"
    assert apollo["tags"] == ["space", "Apollo11"]
    assert apollo["url"] == sky[0]["url"]
    # Every fetch was kept: the ledger holds one snapshot per part per run.
    ledger = Ledger(tmp_path / "state" / "ledger.sqlite")
    shots = ledger.engagement()
    runs = len({s.at for s in shots if s.account == "masto"})
    assert len([s for s in shots if s.account == "masto"]) == runs * len(results["masto"])

    # The Mastodon thread is deleted: its numbers stay, marked as gone; a 429 is waited out.
    with httpx.Client(base_url=mastodon.url, timeout=10) as m:
        for part in reversed(results["masto"]):
            m.delete(
                f"/api/v1/statuses/{part['id']}", headers={"Authorization": f"Bearer {masto_token}"}
            ).raise_for_status()
    mastodon.mock_faults.rate_limit("GET", f"/api/v1/statuses/{head}", reset_in=1)
    again = thisday("stats", "--config", str(config), "--json", "--account", "masto", env=env)
    assert again.returncode == 0, again.stderr
    (masto,) = json.loads(again.stdout)["accounts"]
    assert {k: masto[k] for k in (*COUNTS, "total")} == expected["masto"]
    assert json.loads(again.stdout)["threads"][0]["gone"] is True
    assert mastodon.mock_faults.list() == [] or all(
        r.get("remaining") == 0 for r in mastodon.mock_faults.list()
    )


def test_an_unreachable_server_keeps_the_last_numbers_and_the_bar_shows_on_a_terminal(
    tmp_path: Path,
) -> None:
    import os
    import pty
    import subprocess
    import sys

    config = write_config(
        tmp_path,
        accounts="""
        [accounts.masto]
        platform = "mastodon"
        server = "http://127.0.0.1:9"
        token_env = "TEST_MASTODON_TOKEN"
        """,
        extra="[publishing]\nattempts = 2\nbackoff = 0.01\ntimeout = 2",
    )
    ledger = Ledger(tmp_path / "state" / "ledger.sqlite")
    rows = sent(ledger, "2027-01-16", "trotsky", "masto", "mastodon")
    ledger.record_engagement([snap("2027-01-17T09:00:00+00:00", rows[0], likes=5, reposts=2)])
    ledger.close()
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "stats", "--json", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
            env={**os.environ, "TEST_MASTODON_TOKEN": "t"},
            timeout=60,
        )
        os.close(slave)
        slave = -1
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert done.returncode == 1
    assert b"fetching [" in shown and b"100% 1/1" in shown
    assert b"1 threads could not be fetched" in shown
    data = json.loads(done.stdout)
    (thread,) = data["threads"]
    assert (thread["likes"], thread["reposts"], thread["gone"]) == (5, 2, False)
    (failure,) = data["failures"]
    assert failure["event_id"] == "trotsky" and "connection refused" in failure["error"]
