"""`thisday stats` cost, offline and against the Mastodon simulator on loopback.

ledger   a year of threads (365 days x 2 accounts x 3 parts) and 30 daily fetches
         (65,700 snapshots) in a SQLite ledger: seconds to store them, read them back,
         build the report and render the HTML page
fetch    N published 3-part threads on one mastodon-mock account: wall time of a real
         `thisday stats --json` process (fetch, store, report), and statuses fetched per
         second

  python bench/bench_stats.py [--threads 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from loopback import MastodonServer  # noqa: E402
from support import rows_for, write_config  # noqa: E402

from bot.ledger.base import Snapshot  # noqa: E402
from bot.ledger.store import Ledger, Remote  # noqa: E402
from bot.tools import stats  # noqa: E402


def bench_ledger(folder: Path) -> None:
    ledger = Ledger(folder / "ledger.sqlite")
    rows = []
    for n in range(365):
        day = (dt.date(2027, 1, 1) + dt.timedelta(n)).isoformat()
        for account in ("masto", "sky"):
            thread = rows_for(day, f"e{n}", account, parts=3)
            ledger.plan(thread)
            ledger.mark_sending(thread)
            ledger.mark_sent(thread, [Remote(id=str(i)) for i in range(3)])
            rows += thread
    shots = [
        Snapshot(
            f"2028-01-{k + 1:02d}T00:00:00+00:00",
            r.day,
            r.account,
            r.event_id,
            r.idx,
            r.platform,
            k,
            1,
            1,
            0,
            False,
        )
        for k in range(30)
        for r in rows
    ]
    t0 = time.perf_counter()
    ledger.record_engagement(shots)
    t1 = time.perf_counter()
    stored, sent = ledger.engagement(), ledger.sent_parts()
    t2 = time.perf_counter()
    data = stats.report(stored, sent)
    t3 = time.perf_counter()
    page = stats.html_page(data)
    t4 = time.perf_counter()
    print(
        f"ledger: {len(shots)} snapshots: store {t1 - t0:.2f} s, read {t2 - t1:.2f} s, "
        f"report {t3 - t2:.2f} s, html {t4 - t3:.2f} s ({len(page) // 1024} KiB)"
    )


def bench_fetch(folder: Path, threads: int, rounds: int) -> None:
    mastodon = MastodonServer(folder / "mastodon")
    try:
        _, token = mastodon.new_account()
        client = mastodon.client(token)
        config = write_config(
            folder,
            accounts=f"""
            [accounts.masto]
            platform = "mastodon"
            server = "{mastodon.url}"
            token_env = "BENCH_TOKEN"
            """,
        )
        ledger = Ledger(folder / "state" / "ledger.sqlite")
        for n in range(threads):
            day = (dt.date(2027, 1, 1) + dt.timedelta(n)).isoformat()
            thread = rows_for(day, f"e{n}", "masto", parts=3)
            ids, parent = [], None
            for row in thread:
                status = client.status_post(row.text, in_reply_to_id=parent)
                parent = status["id"]
                ids.append(Remote(id=str(status["id"])))
            ledger.plan(thread)
            ledger.mark_sending(thread)
            ledger.mark_sent(thread, ids)
        ledger.close()
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "bot", "stats", "--json", "--config", str(config)],
                capture_output=True,
                text=True,
                env={"BENCH_TOKEN": token, "PATH": "/usr/bin:/bin"},
                cwd=ROOT,
            )
            times.append(time.perf_counter() - t0)
            assert done.returncode == 0, done.stderr
        best = statistics.median(times)
        print(
            f"fetch: {threads} threads ({threads * 3} statuses) on one account: "
            f"`thisday stats --json` {best:.2f} s median of {rounds} "
            f"({threads * 3 / best:.0f} statuses/s, including the process start)"
        )
    finally:
        mastodon.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        bench_ledger(Path(tmp) / "a")
        bench_fetch(Path(tmp) / "b", args.threads, args.rounds)


if __name__ == "__main__":
    main()
