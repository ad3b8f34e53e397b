"""Many accounts on replicas sharing a PostgreSQL ledger, against the loopback servers (a
real atproto PDS, mastodon-mock, a PostgreSQL started here).

  slot      N accounts (half Bluesky on the PDS, half Mastodon on the simulator), a 5-part
            thread each, published at one "slot" by 2 replicas (two Pipelines in this
            process, each with its own replica name, ledger connections and sessions,
            warmed up first as the daemon does): seconds from the slot to the last part,
            for N = 2, 10, 40; the floor is the same N accounts published by one process on
            the SQLite ledger, in the same run
  ledger    the ledger's own work per thread (plan, 5 x sending/sent, claim and release),
            no network: PostgreSQL minus SQLite, in ms
  failover  a real `thisday run` killed -9 mid-thread (crash hook), a second one already
            running: seconds from the kill to the thread complete, against the lease

    python bench/bench_replicas.py [--accounts 40] [--lease 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from loopback import MastodonServer, PdsServer, install_problem  # noqa: E402
from loopback.postgres import PostgresServer  # noqa: E402
from support import rows_for  # noqa: E402

from bot.ledger.base import Remote  # noqa: E402
from bot.ledger.postgres import PostgresLedger  # noqa: E402
from bot.ledger.store import Ledger  # noqa: E402
from bot.publishing.pipeline import Pipeline  # noqa: E402
from bot.workspace import Workspace  # noqa: E402

PARAGRAPH = (
    "Paragraph {n} of the story for day {day}: a plain sentence about what happened, "
    "long enough to stand as a reply of its own. Another sentence adds detail, so that "
    "each paragraph lands in one part on both networks, as a real thread would."
)


def site(folder: Path, days: list[dt.date], accounts: str, extra: str) -> Path:
    posts = folder / "posts"
    posts.mkdir(parents=True, exist_ok=True)
    for day in days:
        story = "\n\n".join(PARAGRAPH.format(n=n, day=day) for n in range(1, 5))
        (posts / f"{day.isoformat()}.md").write_text(
            f"---\ndate: 1900-{day.month:02d}-{day.day:02d}\ntitle: Benchmark event of {day}\n"
            f"summary: A head post for the benchmark.\ntags: [bench]\n---\n{story}\n"
        )
    config = folder / "thisday.toml"
    config.write_text(
        f'timezone = "UTC"\nposts = "posts"\nstate = "state"\n'
        f'templates = "{ROOT / "config" / "templates"}"\nworkers = 16\n{extra}\n{accounts}'
    )
    return config


def make_accounts(n: int, pds: PdsServer, mastodon: MastodonServer) -> tuple[str, dict[str, str]]:
    toml, env = [], {}
    for i in range(n):
        if i % 2:
            acc = pds.new_account()
            env[f"BENCH_SKY_{i}"] = acc.password
            toml.append(
                f'[accounts.sky{i}]\nplatform = "bluesky"\nserver = "{pds.url}"\n'
                f'handle = "{acc.handle}"\npassword_env = "BENCH_SKY_{i}"\n'
            )
        else:
            _, token = mastodon.new_account()
            env[f"BENCH_MASTO_{i}"] = token
            toml.append(
                f'[accounts.masto{i}]\nplatform = "mastodon"\nserver = "{mastodon.url}"\n'
                f'token_env = "BENCH_MASTO_{i}"\nlimit = 300\n'
            )
    return "\n".join(toml), env


def slot(config: Path, day: dt.date, names: list[str], replicas: int) -> float:
    pipelines = []
    for r in range(replicas):
        workspace = Workspace(config)
        if workspace.settings.ledger:
            workspace.__dict__["_shared_ledger"] = PostgresLedger(
                workspace.settings.ledger, lease=workspace.settings.ledger_lease, replica=f"r{r}"
            )
        pipeline = Pipeline(workspace)
        pipeline.warm_up(names)
        workspace.select(day)  # the daemon reads the day's posts before the slot
        pipelines.append(pipeline)
    start = time.perf_counter()
    threads = [threading.Thread(target=p.publish, args=(day, names)) for p in pipelines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - start
    for p in pipelines:
        p.close()
    return took


def ledger_cost(ledger: object, threads: int, claim: bool) -> float:
    start = time.perf_counter()
    for n in range(threads):
        rows = rows_for("2030-01-01", f"e{n}", f"a{n}", parts=5)
        held = None
        if claim:
            assert isinstance(ledger, PostgresLedger)
            held = ledger.claim("2030-01-01", [f"a{n}"], 1)[0]
        ledger.plan(rows, claim=held)  # type: ignore[attr-defined]
        for row in rows:
            ledger.mark_sending([row], claim=held)  # type: ignore[attr-defined]
            ledger.mark_sent([row], [Remote(id="x")], claim=held)  # type: ignore[attr-defined]
        if held is not None:
            assert isinstance(ledger, PostgresLedger)
            ledger.release(held)
    return (time.perf_counter() - start) / threads


def failover(
    folder: Path, pg: PostgresServer, pds: PdsServer, mastodon: MastodonServer, lease: float
) -> float:
    accounts, env = make_accounts(2, pds, mastodon)
    today = dt.datetime.now(dt.UTC).date()
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).strftime("%H:%M")
    url = pg.new_database()
    extra = f'post_at = "{past}"\nledger = "{url}"\nledger_lease = {lease}\n'
    extra += "[daemon]\nwarm_up = 0\n"
    procs = []
    for n, crash in ((1, "sent:mastodon:1"), (2, "")):
        sub = folder / f"failover-{n}"
        config = site(sub, [today], accounts, extra)
        extra_env = {"THISDAY_TEST_CRASH": crash} if crash else {}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(config)],
                cwd=ROOT, env={**os.environ, **env, **extra_env},
                stdout=subprocess.DEVNULL, stderr=open(sub / "log", "wb"),  # noqa: SIM115
            )
        )  # fmt: skip
        if n == 1:
            ledger = PostgresLedger(url)
            while not ledger.claims(today.isoformat()):
                time.sleep(0.02)
    procs[0].wait(timeout=120)
    killed = time.perf_counter()
    ledger = PostgresLedger(url)
    while not all(ledger.complete(today.isoformat(), a) for a in ("masto0", "sky1")):
        time.sleep(0.02)
    took = time.perf_counter() - killed
    procs[1].send_signal(signal.SIGTERM)
    procs[1].wait(timeout=30)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--lease", type=float, default=2.0)
    args = parser.parse_args()
    problem = install_problem("pds")
    if problem:
        print(problem, file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="thisday-bench-replicas-"))
    pds, mastodon, pg = PdsServer(folder), MastodonServer(folder), PostgresServer(folder)
    try:
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores,"
            f" Python {platform.python_version()}"
        )
        accounts, env = make_accounts(args.accounts, pds, mastodon)
        os.environ.update(env)
        days = [dt.date(2027, 1, 1) + dt.timedelta(days=n) for n in range(12)]
        sizes = [n for n in (2, 10, 40) if n <= args.accounts]
        every = [f"masto{i}" if i % 2 == 0 else f"sky{i}" for i in range(args.accounts)]
        sqlite_cfg = site(folder / "sqlite", days, accounts, "")
        pg_cfg = site(
            folder / "pg",
            days,
            accounts,
            f'ledger = "{pg.new_database()}"\nledger_lease = {args.lease}',
        )
        day = iter(days)
        for n in sizes:
            names = every[:n]
            floor = slot(sqlite_cfg, next(day), names, 1)
            took = slot(pg_cfg, next(day), names, 2)
            print(
                f"slot {n:>2} accounts x 5 parts: 2 replicas on PostgreSQL {took:.2f} s; "
                f"floor (1 process, SQLite) {floor:.2f} s; ratio {took / floor:.2f}"
            )
        sqlite = ledger_cost(Ledger(folder / "cost.sqlite"), 50, claim=False)
        postgres = ledger_cost(PostgresLedger(pg.new_database()), 50, claim=True)
        print(
            f"ledger work per 5-part thread: SQLite {sqlite * 1000:.1f} ms, PostgreSQL "
            f"{postgres * 1000:.1f} ms (claims and fencing included):"
            f" +{(postgres - sqlite) * 1000:.1f} ms"
        )
        took = failover(folder, pg, pds, mastodon, args.lease)
        print(
            f"failover after kill -9: {took:.2f} s with a {args.lease:.0f} s lease"
            f" (ratio to the lease {took / args.lease:.2f})"
        )
    finally:
        pds.stop()
        mastodon.stop()
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
