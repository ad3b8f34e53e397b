"""Many accounts on replicas sharing a PostgreSQL ledger, against the loopback servers (a
real atproto PDS, two mastodon-mock simulators, a PostgreSQL started here).

  slot      N accounts (half Bluesky on the PDS, half Mastodon split over two simulators), a
            5-part thread each, published at one slot by 2 real `thisday run` processes on
            one PostgreSQL ledger, started ahead of the slot (each with its own state/ and
            its warm-up done before the slot): seconds from the slot to the last part's
            `sent` in the ledger, for N = 2, 10, 40. The floor is the same N accounts
            published by one `thisday run` on the SQLite ledger, measured the same way
  ledger    the ledger's own work per thread (plan, 5 x sending/sent, claim and release),
            no network: PostgreSQL minus SQLite, in ms
  failover  three real `thisday run` processes running before the slot; the one that
            reaches the crash point (a test hook: kill -9 right after a Mastodon part's
            `sent`) dies: seconds from the kill to the thread complete, against the lease

Two simulators because one mastodon-mock stalls for its 30 s pool timeout when more than
~15 requests are in flight at once (its SQLAlchemy pool is 5 + 10 connections and its async
handlers block the event loop waiting for one): a limit of the simulator, not of Mastodon.

    python bench/bench_replicas.py [--accounts 40] [--lease 2] [--workers N] [--in-process]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
# Seconds from starting the replicas to the slot: start, catch-up check and warm-up (one
# login per Bluesky account and state folder the first time) all fit before it.
LEAD = 25.0


def site(folder: Path, days: list[dt.date], accounts: str, extra: str, workers: int | None) -> Path:
    posts = folder / "posts"
    posts.mkdir(parents=True, exist_ok=True)
    for day in days:
        story = "\n\n".join(PARAGRAPH.format(n=n, day=day) for n in range(1, 5))
        (posts / f"{day.isoformat()}.md").write_text(
            f"---\ndate: 1900-{day.month:02d}-{day.day:02d}\ntitle: Benchmark event of {day}\n"
            f"summary: A head post for the benchmark.\ntags: [bench]\n---\n{story}\n"
        )
    config = folder / "thisday.toml"
    pool = f"workers = {workers}\n" if workers else ""
    config.write_text(
        f'timezone = "UTC"\nposts = "posts"\nstate = "state"\n'
        f'templates = "{ROOT / "config" / "templates"}"\n{pool}{extra}\n{accounts}'
    )
    return config


def make_accounts(
    n: int, pds: PdsServer, mastodons: list[MastodonServer]
) -> tuple[dict[str, str], dict[str, str]]:
    """name -> its TOML table, and the secrets' environment."""
    toml, env = {}, {}
    for i in range(n):
        if i % 2:
            acc = pds.new_account()
            env[f"BENCH_SKY_{i}"] = acc.password
            toml[f"sky{i}"] = (
                f'[accounts.sky{i}]\nplatform = "bluesky"\nserver = "{pds.url}"\n'
                f'handle = "{acc.handle}"\npassword_env = "BENCH_SKY_{i}"\n'
            )
        else:
            mastodon = mastodons[(i // 2) % len(mastodons)]
            _, token = mastodon.new_account()
            env[f"BENCH_MASTO_{i}"] = token
            toml[f"masto{i}"] = (
                f'[accounts.masto{i}]\nplatform = "mastodon"\nserver = "{mastodon.url}"\n'
                f'token_env = "BENCH_MASTO_{i}"\nlimit = 300\n'
            )
    return toml, env


def start_run(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(log, "wb"),
    )  # fmt: skip


def messages(log: Path) -> list[str]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line)["message"])
        except (ValueError, KeyError):
            out.append(line)
    return out


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def slot_processes(
    folder: Path, tables: list[str], env: dict[str, str], ledger_url: str | None,
    replicas: int, workers: int | None, lease: float,
) -> float:  # fmt: skip
    """Seconds from the slot to the last part sent, `replicas` real `thisday run`s."""
    today = dt.datetime.now(dt.UTC).date()
    slot = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEAD)).replace(microsecond=0)
    extra = f'post_at = "{slot:%H:%M:%S}"\n'
    if ledger_url:
        extra += f'ledger = "{ledger_url}"\nledger_lease = {lease}\n'
    extra += "[daemon]\nwarm_up = 0\n"  # the warm-up at start is the one before this slot
    procs, logs = [], []
    for r in range(replicas):
        sub = folder / f"replica-{r}"
        config = site(sub, [today], "\n".join(tables), extra, workers)
        logs.append(sub / "log")
        procs.append(start_run(config, env, logs[-1]))
    try:
        for log in logs:
            wait_for(lambda log=log: any("warm-up (start) done" in m for m in messages(log)),
                     LEAD + 30, f"the warm-up in {log}")  # fmt: skip
        if dt.datetime.now(dt.UTC) >= slot:
            print(f"  (warning: a warm-up ended after the slot; raise LEAD, see {folder})")
        if ledger_url:
            ledger: object = PostgresLedger(ledger_url)
        else:
            ledger = Ledger(folder / "replica-0" / "state" / "ledger.sqlite")
        names = [t.split("]", 1)[0].removeprefix("[accounts.") for t in tables]
        iso = today.isoformat()

        def done() -> bool:
            if dt.datetime.now(dt.UTC) < slot:
                return False
            return all(ledger.complete(iso, n) for n in names)  # type: ignore[attr-defined]

        wait_for(done, LEAD + 120, "every thread")
        last = max(
            dt.datetime.fromisoformat(r.sent_at)
            for n in names
            for r in ledger.parts(iso, n)  # type: ignore[attr-defined]
        )
        ledger.close()  # type: ignore[attr-defined]
        return (last - slot).total_seconds()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def slot_in_process(config: Path, day: dt.date, names: list[str], replicas: int) -> float:
    """The same with Pipelines in this process (each its own replica name, connections and
    sessions, warmed up first): no process start, no scheduler."""
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
    folder: Path, pg: PostgresServer, pds: PdsServer, mastodons: list[MastodonServer],
    lease: float,
) -> float:  # fmt: skip
    tables, env = make_accounts(2, pds, mastodons)
    today = dt.datetime.now(dt.UTC).date()
    slot = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEAD / 2)
    url = pg.new_database()
    extra = f'post_at = "{slot:%H:%M:%S}"\nledger = "{url}"\nledger_lease = {lease}\n'
    extra += "[daemon]\nwarm_up = 0\n"
    marker = folder / "failover-crashed"
    crash = {"THISDAY_TEST_CRASH": "sent:mastodon:1", "THISDAY_TEST_CRASH_ONCE": str(marker)}
    procs = []
    for n in range(3):
        sub = folder / f"failover-{n}"
        config = site(sub, [today], "\n".join(tables.values()), extra, None)
        procs.append(start_run(config, {**env, **crash}, sub / "log"))
    wait_for(lambda: marker.exists() and marker.read_text() != "", LEAD + 60, "the crash")
    killed = time.perf_counter()
    ledger = PostgresLedger(url)
    wait_for(lambda: all(ledger.complete(today.isoformat(), a) for a in tables), 60, "takeover")
    took = time.perf_counter() - killed
    ledger.close()
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=30)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=None, help="default: the config's")
    parser.add_argument("--in-process", action="store_true", help="Pipelines, not processes")
    parser.add_argument("--skip-failover", action="store_true")
    args = parser.parse_args()
    problem = install_problem("pds")
    if problem:
        print(problem, file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="thisday-bench-replicas-"))
    pds, pg = PdsServer(folder), PostgresServer(folder)
    mastodons = [MastodonServer(folder / f"mastodon-{n}") for n in range(2)]
    try:
        load = os.getloadavg()
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores,"
            f" Python {platform.python_version()}, load average {load[0]:.1f} {load[1]:.1f}"
        )
        tables, env = make_accounts(args.accounts, pds, mastodons)
        os.environ.update(env)
        sizes = [n for n in (2, 10, 40) if n <= args.accounts]
        every = [f"masto{i}" if i % 2 == 0 else f"sky{i}" for i in range(args.accounts)]
        days = [dt.date(2027, 1, 1) + dt.timedelta(days=n) for n in range(12)]
        day = iter(days)
        for n in sizes:
            names = every[:n]
            chosen = [tables[name] for name in names]
            if args.in_process:
                toml = "\n".join(chosen)
                sq = site(folder / f"sqlite-{n}", days, toml, "", args.workers)
                url = pg.new_database()
                extra = f'ledger = "{url}"\nledger_lease = {args.lease}'
                pgc = site(folder / f"pg-{n}", days, toml, extra, args.workers)
                floor = slot_in_process(sq, next(day), names, 1)
                took = slot_in_process(pgc, next(day), names, 2)
                how = "2 replicas (in process)"
            else:
                floor = slot_processes(
                    folder / f"sqlite-{n}", chosen, env, None, 1, args.workers, args.lease
                )
                took = slot_processes(
                    folder / f"pg-{n}", chosen, env, pg.new_database(), 2, args.workers,
                    args.lease,
                )  # fmt: skip
                how = "2 `thisday run`"
            print(
                f"slot {n:>2} accounts x 5 parts: {how} on PostgreSQL {took:.2f} s; "
                f"floor (1 process, SQLite) {floor:.2f} s; ratio {took / floor:.2f}",
                flush=True,
            )
        sqlite = ledger_cost(Ledger(folder / "cost.sqlite"), 50, claim=False)
        postgres = ledger_cost(PostgresLedger(pg.new_database()), 50, claim=True)
        print(
            f"ledger work per 5-part thread: SQLite {sqlite * 1000:.1f} ms, PostgreSQL "
            f"{postgres * 1000:.1f} ms (claims and fencing included):"
            f" +{(postgres - sqlite) * 1000:.1f} ms",
            flush=True,
        )
        if not args.skip_failover:
            took = failover(folder, pg, pds, mastodons, args.lease)
            print(
                f"failover after kill -9 (3 replicas running): {took:.2f} s with a "
                f"{args.lease:.0f} s lease (ratio to the lease {took / args.lease:.2f})"
            )
    finally:
        pds.stop()
        for mastodon in mastodons:
            mastodon.stop()
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
