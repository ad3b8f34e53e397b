"""A simulated week across the spring DST change (Europe/London, 2027-03-28) with replicas
joining and leaving: at every alarm, the replicas alive then run the daemon's decision
(`decide`) and the pipeline against one real PostgreSQL ledger, concurrently. Publishers are
counting stand-ins (the real ones are exercised by test_replicas.py): what matters here is
that every account gets exactly one thread per day, each part sent once."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import Sequence

import pytest
import time_machine
from support import write_config, write_post

from bot.ledger.base import Remote, Row
from bot.ledger.postgres import PostgresLedger
from bot.publishing.pipeline import Pipeline
from bot.runtime.schedule import Schedule, decide
from bot.workspace import Workspace

pytestmark = pytest.mark.servers

ACCOUNTS = ["m1", "m2", "m3", "m4"]
SENT: Counter[tuple[str, str, int]] = Counter()
SENT_LOCK = threading.Lock()


class Counting:
    """A publisher that records every part it is asked to send."""

    def __init__(self, name: str) -> None:
        self.name = name

    def open(self) -> None: ...

    def close(self) -> None: ...

    def batch(self, pending: Sequence[Row]) -> list[Row]:
        return [pending[0]]

    def stamps(self, rows: Sequence[Row]) -> list[str | None]:
        return [None for _ in rows]

    def find(self, rows: Sequence[Row], parent: Row | None, root: Row | None) -> None:
        return None

    def send(self, rows: Sequence[Row], parent: Row | None, root: Row | None) -> list[Remote]:
        with SENT_LOCK:
            for row in rows:
                SENT[(row.day, row.account, row.idx)] += 1
        return [Remote(id=f"{r.day}-{r.account}-{r.idx}") for r in rows]


def test_a_week_across_dst_with_replicas_joining_and_leaving(tmp_path, pg_url):
    accounts = "".join(
        f'\n[accounts.{name}]\nplatform = "mastodon"\nserver = "http://127.0.0.1:9"\n'
        f'token_env = "NONE"\nlimit = 200\n'
        for name in ACCOUNTS
    )
    config = write_config(
        tmp_path,
        accounts=accounts,
        extra=f'ledger = "{pg_url}"\nledger_lease = 1\nworkers = 2',
    )
    # 01:30 does not exist on the spring-forward night; 09:00 is a second slot each day.
    config.write_text(
        config.read_text().replace('post_at = "09:00"', 'post_at = ["01:30", "09:00"]')
    )
    for n in range(7):
        day = dt.date(2027, 3, 25) + dt.timedelta(days=n)
        write_post(
            tmp_path / "posts",
            f"e{n}.md",
            f"date: 1900-{day.month:02d}-{day.day:02d}\ntitle: Event {n}\n"
            f"summary: Something happened on day {n}.\nid: e{n}",
            "A paragraph long enough to be a body. " * 12,
        )
    rng = random.Random(7)
    names = [f"replica-{n}" for n in range(4)]
    alive = {names[0], names[1]}
    schedule = Schedule.of(Workspace(config).settings)
    start = dt.datetime(2027, 3, 25, 0, 0, tzinfo=schedule.zone)
    alarms = []
    for n in range(7):
        day = start.date() + dt.timedelta(days=n)
        for slot in schedule.slots(day):
            alarms += [slot, slot + dt.timedelta(minutes=1), slot + dt.timedelta(hours=3)]

    def replica(name: str, now: dt.datetime) -> None:
        workspace = Workspace(config)
        ledger = PostgresLedger(pg_url, lease=1, replica=name)
        workspace.__dict__["_shared_ledger"] = ledger
        pipeline = Pipeline(workspace, opener=lambda n, a: Counting(n))  # type: ignore[arg-type,return-value]
        try:
            decision = decide(
                schedule, now, ACCOUNTS, lambda d, a: ledger.complete(d.isoformat(), a)
            )
            if decision.day is not None:
                pipeline.publish(decision.day, decision.accounts)
        finally:
            ledger.close()

    for at in sorted(set(alarms)):
        # Replicas join and leave between alarms; at least one is alive.
        if rng.random() < 0.5:
            alive ^= {rng.choice(names)}
        alive = alive or {names[0]}
        with time_machine.travel(at.astimezone(dt.UTC), tick=True):
            threads = [
                threading.Thread(target=replica, args=(name, at.astimezone(dt.UTC)))
                for name in sorted(alive)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)

    ledger = PostgresLedger(pg_url)
    days = [(start.date() + dt.timedelta(days=n)).isoformat() for n in range(7)]
    for day in days:
        for account in ACCOUNTS:
            threads = ledger.threads(day, account)
            assert len(threads) == 1, (day, account, threads.keys())
            rows = next(iter(threads.values()))
            assert all(r.state == "sent" for r in rows)
            assert [SENT[(day, account, r.idx)] for r in rows] == [1] * len(rows)
    assert set(ledger.published_days()) == set(days)
