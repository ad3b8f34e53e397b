"""The daemon's figures against the loopback servers (a real atproto PDS and mastodon-mock).

One real `thisday run` process with a Mastodon and a Bluesky account (a head post + 4-part
thread, as in bench_publish.py):

  on time      from the scheduled instant to the last part of the thread stored on both
               networks (the ledger's sent_at), sessions warmed up before the slot
  idle         CPU time the process uses over --idle seconds doing nothing, its context
               switches (wake-ups) and its memory (RSS and PSS) with both accounts open
  after a week the same on-time figure once the stored sessions look a week old: the
               Bluesky access token expired, the Mastodon instance facts 8 days old, every
               kept-alive connection long closed by the servers

"The next day" comes without waiting: the first day is published in the zone Etc/GMT+12
(UTC-12), then the config moves to Etc/GMT-12 (UTC+12), where it is already tomorrow, and
the daemon gets SIGHUP. A reload that keeps the accounts keeps the sessions too.

    python bench/bench_daemon.py [--idle 60] [--rounds 1]

Needs the test servers installed (.ci/setup-servers.sh).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench_publish import accounts_toml  # noqa: E402
from loopback import MastodonServer, PdsServer, free_port, install_problem  # noqa: E402

WEST, EAST = "Etc/GMT+12", "Etc/GMT-12"
LEAD = 12  # seconds between (re)configuring and the slot: start-up and warm-up fit in it
PARAGRAPH = (
    "Paragraph {n} of the story for day {day}: a plain sentence about what happened, "
    "long enough to stand as a reply of its own. Another sentence adds detail, so that "
    "each paragraph lands in one part on both networks, as a real thread would."
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def write_post(folder: Path, day: dt.date) -> None:
    story = "\n\n".join(PARAGRAPH.format(n=n, day=day) for n in range(1, 5))
    (folder / "posts" / f"{day.isoformat()}.md").write_text(
        f"---\ndate: 1900-{day.month:02d}-{day.day:02d}\ntitle: Benchmark event of {day}\n"
        f"summary: A head post for the benchmark.\ntags: [bench]\n---\n{story}\n"
    )


def write_config(folder: Path, zone: str, post_at: str, accounts: str, port: int) -> None:
    (folder / "thisday.toml").write_text(
        f"""
timezone = "{zone}"
post_at = "{post_at}"
posts = "posts"
state = "state"
templates = "{ROOT / "config" / "templates"}"

[daemon]
health = "127.0.0.1:{port}"
warm_up = 5
{accounts}
"""
    )


def slot_in(zone: str, seconds: int) -> dt.datetime:
    now = dt.datetime.now(ZoneInfo(zone))
    if now.time() > dt.time(23, 58):
        time.sleep(130)  # do not straddle the local midnight
        now = dt.datetime.now(ZoneInfo(zone))
    return (now + dt.timedelta(seconds=seconds)).replace(microsecond=0)


def wait_complete(ledger: Path, day: dt.date, proc: subprocess.Popen, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited with {proc.returncode}")
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(ledger)) as db:
            rows = db.execute(
                "SELECT account, state, sent_at FROM parts WHERE day = ?", (day.isoformat(),)
            ).fetchall()
            if {r[0] for r in rows} == {"masto", "sky"} and all(r[1] == "sent" for r in rows):
                return rows
        time.sleep(0.05)
    raise SystemExit(f"no complete thread for {day} after {timeout} s")


def latency(rows: list, slot: dt.datetime) -> dict[str, float]:
    out = {}
    for account in ("masto", "sky"):
        last = max(dt.datetime.fromisoformat(r[2]) for r in rows if r[0] == account)
        out[account] = (last - slot).total_seconds()
    out["both"] = max(out.values())
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def memory(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
            key, value = line.split(":", 1)
            out[key] = float(value.split()[0])
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            out["Pss"] = float(line.split()[1])
    return out


def switches(pid: int) -> float:
    """Context switches of every thread of the process: each is a wake-up."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += float(line.split()[1])
    return total


def age_sessions(state: Path) -> None:
    """Make the stored sessions look a week old."""
    for path in (state / "sessions").glob("*.json"):
        session = json.loads(path.read_text())
        header, payload, signature = session["accessJwt"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["exp"] = int(time.time()) - 6 * 24 * 3600
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        session["accessJwt"] = f"{header}.{payload}.{signature}"
        path.write_text(json.dumps(session))
    instances = state / "instances.json"
    if instances.exists():
        data = json.loads(instances.read_text())
        old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat()
        for info in data.values():
            info["fetched_at"] = old
        instances.write_text(json.dumps(data))


def one_round(work: Path, mastodon: MastodonServer, pds: PdsServer, idle: float) -> dict:
    (work / "posts").mkdir(parents=True)
    _, token = mastodon.new_account()
    account = pds.new_account()
    accounts = accounts_toml(mastodon.url, pds.url, account.handle)
    port = free_port()
    slot = slot_in(WEST, LEAD)
    write_post(work, slot.date())
    write_post(work, slot.date() + dt.timedelta(days=1))
    write_config(work, WEST, slot.strftime("%H:%M:%S"), accounts, port)
    env = {
        **os.environ,
        "BENCH_MASTODON_TOKEN": token,
        "BENCH_BSKY_PASSWORD": account.password,
        "PYTHONUNBUFFERED": "1",
    }
    log = open(work / "daemon.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(work / "thisday.toml")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    ledger = work / "state" / "ledger.sqlite"
    try:
        rows = wait_complete(ledger, slot.date(), proc, LEAD + 30)
        first = latency(rows, slot)

        time.sleep(2)  # let the run's threads settle
        cpu0, wakes0, t0 = cpu_seconds(proc.pid), switches(proc.pid), time.monotonic()
        time.sleep(idle)
        cpu1, wakes1, t1 = cpu_seconds(proc.pid), switches(proc.pid), time.monotonic()
        mem = memory(proc.pid)
        idle_figures = {
            "seconds": t1 - t0,
            "cpu": cpu1 - cpu0,
            "wakeups": wakes1 - wakes0,
            "rss_mb": mem["VmRSS"] / 1024,
            "pss_mb": mem["Pss"] / 1024,
        }

        age_sessions(work / "state")
        before = pds.faults.counts()
        slot2 = slot_in(EAST, LEAD)
        write_config(work, EAST, slot2.strftime("%H:%M:%S"), accounts, port)
        proc.send_signal(signal.SIGHUP)
        rows2 = wait_complete(ledger, slot2.date(), proc, LEAD + 30)
        week = latency(rows2, slot2)
        after = pds.faults.counts()
        auth = {
            name.rsplit(".", 1)[1]: after.get(name, 0) - before.get(name, 0)
            for name in ("com.atproto.server.createSession", "com.atproto.server.refreshSession")
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    return {"on_time": first, "idle": idle_figures, "week": week, "exit": code, "auth": auth}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds to measure")
    parser.add_argument("--rounds", type=int, default=1, help="fresh daemons, one after another")
    args = parser.parse_args()
    problem = install_problem("pds")
    if problem:
        print(problem, file=sys.stderr)
        return 1
    base = Path(tempfile.mkdtemp(prefix="thisday-bench-daemon-"))
    pds = PdsServer(base / "logs", fixed_ports=False)
    mastodon = MastodonServer(base / "logs")
    try:
        results = [
            one_round(base / f"round{n}", mastodon, pds, args.idle) for n in range(args.rounds)
        ]
    finally:
        mastodon.stop()
        pds.stop()

    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"thisday daemon benchmark — {machine}")
    print(f"{'figure':<46} {'median':>10} {'max':>10}")

    def row(label: str, values: list[float], unit: str, digits: int = 3) -> None:
        print(
            f"{label:<46} {statistics.median(values):>{9 - len(unit)}.{digits}f}{unit} "
            f"{max(values):>{9 - len(unit)}.{digits}f}{unit}"
        )

    row("on time: slot -> thread on both networks", [r["on_time"]["both"] for r in results], " s")
    row("  Mastodon (5 chained posts)", [r["on_time"]["masto"] for r in results], " s")
    row("  Bluesky (one applyWrites)", [r["on_time"]["sky"] for r in results], " s")
    row("after a week idle: slot -> both networks", [r["week"]["both"] for r in results], " s")
    row("  Mastodon", [r["week"]["masto"] for r in results], " s")
    row("  Bluesky", [r["week"]["sky"] for r in results], " s")
    seconds = results[0]["idle"]["seconds"]
    row(f"idle CPU time over {seconds:.0f} s", [r["idle"]["cpu"] for r in results], " s", 2)
    row(
        f"idle wake-ups over {seconds:.0f} s (all threads)",
        [r["idle"]["wakeups"] for r in results],
        "",
        0,
    )
    row("RSS, both accounts open", [r["idle"]["rss_mb"] for r in results], " MB", 1)
    row("PSS, both accounts open", [r["idle"]["pss_mb"] for r in results], " MB", 1)
    print(f"Bluesky logins/refreshes in the week-old run: {[r['auth'] for r in results]}")
    print(f"exit codes after SIGTERM: {[r['exit'] for r in results]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
