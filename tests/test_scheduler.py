"""The daemon's decisions under a simulated clock, live content, and the APScheduler wiring.

The centre piece drives the real decision code (`Runner.publish_now`, fed by APScheduler's own
CronTrigger, restarts, suspends and clock steps) with time-machine across three years in
Europe/London, with the slot at 01:30 — inside the hour skipped in spring and repeated in
autumn — and a real ledger: exactly one thread per event per day per account, none outside
the catch-up window, none for a past day.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from support import ROOT, rows_for, write_post

from bot import config
from bot.content.post import Event
from bot.daemon.live import LiveWorkspace
from bot.daemon.scheduler import DailyScheduler, Runner, misfire_grace, slot_triggers
from bot.ledger.store import Ledger, Remote
from bot.publishing.pipeline import ALREADY, FAILED, PUBLISHED, Result
from bot.runtime.schedule import (
    MIN_WINDOW,
    ClockWatch,
    Schedule,
    decide,
    local_instant,
    next_slot,
    retry_delay,
)

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
# London's clock changes in the simulated years: (spring forward, fall back).
DST = {2026: ("2026-03-29", "2026-10-25"), 2027: ("2027-03-28", "2027-10-31"),
       2028: ("2028-03-26", "2028-10-29")}  # fmt: skip


def write_settings(
    folder: Path, *, post_at: str = '"01:30"', until: str = "05:00", daemon: str = ""
) -> Path:
    (folder / "posts").mkdir(exist_ok=True)
    path = folder / "thisday.toml"
    path.write_text(
        f"""
timezone = "Europe/London"
post_at = {post_at}
catch_up_until = "{until}"
events_per_day = 2
leap_day = "feb28"
posts = "posts"
state = "state"
templates = "{ROOT / "config" / "templates"}"

[daemon]
retry_every = 600
retry_max = 3600
{daemon}

[accounts.masto]
platform = "mastodon"
server = "https://mastodon.invalid"
token_env = "THISDAY_SIM_UNUSED_TOKEN"

[accounts.sky]
platform = "bluesky"
server = "https://pds.invalid"
handle = "sim.test"
password_env = "THISDAY_SIM_UNUSED_PASSWORD"
""",
        encoding="utf-8",
    )
    return path


def post(folder: Path, month: int, day: int, title: str | None = None) -> Path:
    return write_post(
        folder / "posts",
        f"{month:02d}/{month:02d}-{day:02d}.md",
        f"""
        date: 2000-{month:02d}-{day:02d}
        title: {title or f"Event of {day} {month}"}
        summary: Something happened on this day.
        id: e{month:02d}{day:02d}
        """,
        "The story of the day.",
    )


def every_day_posts(folder: Path) -> None:
    day = dt.date(2000, 1, 1)  # a leap year: 366 files, 29 February included
    while day.year == 2000:
        post(folder, day.month, day.day)
        day += dt.timedelta(days=1)


class FakePipeline:
    """Publishes through the real selection and the real ledger; nothing leaves the process.
    `fail(account, now)` decides which runs fail for an account."""

    def __init__(
        self,
        workspace: LiveWorkspace,
        ledger: Ledger,
        fail: Callable[[str, dt.datetime], bool] = lambda account, now: False,
    ) -> None:
        self.workspace = workspace
        self.ledger = ledger
        self.fail = fail
        self.calls: list[tuple[dt.datetime, dt.date, tuple[str, ...]]] = []
        self.failures: dict[tuple[dt.date, str], list[dt.datetime]] = defaultdict(list)
        self.block: Callable[[], None] | None = None

    def publish(
        self, day: dt.date, accounts: Sequence[str] | None = None, *, dry_run: bool = False
    ) -> list[Result]:
        now = dt.datetime.now(UTC)
        key = day.isoformat()
        names = list(accounts or self.workspace.settings.active_accounts())
        self.calls.append((now, day, tuple(names)))
        if self.block:
            self.block()
        results = []
        events = None
        for name in names:
            platform = self.workspace.settings.accounts[name].platform
            threads = self.ledger.threads(key, name)
            if threads and all(r.state == "sent" for rows in threads.values() for r in rows):
                results.append(Result(name, platform, None, ALREADY))
                continue
            if self.fail(name, now):
                self.ledger.note(key, name, None, "failed", "injected failure")
                self.failures[(day, name)].append(now)
                results.append(Result(name, platform, None, FAILED, "injected failure"))
                continue
            if not threads:
                if events is None:
                    events = self.workspace.select(day, history=self.ledger)
                for event in events:
                    rows = rows_for(key, event.id, name, parts=2, platform=platform)
                    self.ledger.plan(rows)  # a second plan of the same thread would not fit
                    threads[event.id] = rows
            for event_id, rows in threads.items():
                pending = [r for r in rows if r.state != "sent"]
                self.ledger.mark_sending(pending)
                self.ledger.mark_sent(pending, [Remote(id=f"{r.key}") for r in pending])
                results.append(Result(name, platform, event_id, PUBLISHED))
        return results

    def warm_up(self, accounts: Sequence[str] | None = None) -> dict[str, str | None]:
        return {}

    def close(self) -> None:
        pass


def fast_ledger(folder: Path) -> Ledger:
    ledger = Ledger(folder / "state" / "ledger.sqlite")
    ledger.db.execute("PRAGMA synchronous=OFF")  # thousands of commits; durability is not tested
    return ledger


def sent_threads(ledger: Ledger) -> dict[tuple[str, str, str], list[dt.datetime]]:
    """(day, account, event) -> sent_at of each part; every part must be sent."""
    out: dict[tuple[str, str, str], list[dt.datetime]] = defaultdict(list)
    for row in ledger.db.execute("SELECT * FROM parts ORDER BY day, account, event_id, idx"):
        assert row["state"] == "sent", dict(row)
        key = (row["day"], row["account"], row["event_id"])
        out[key].append(dt.datetime.fromisoformat(row["sent_at"]))
    return out


def local(day: str, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=LONDON)


# -- pure decisions ---------------------------------------------------------------------------


def test_slot_instants_are_apschedulers_fire_times_across_three_years_of_dst():
    for at in (dt.time(0, 30), dt.time(1, 30), dt.time(2, 30), dt.time(9, 0)):
        schedule = Schedule(LONDON, (at,), dt.time(23, 59, 59))
        ((_, trigger),) = slot_triggers(schedule)
        fires: dict[dt.date, list[dt.datetime]] = defaultdict(list)
        fire = trigger.get_next_fire_time(None, dt.datetime(2026, 1, 1, tzinfo=UTC))
        while fire.year < 2029:
            fires[fire.astimezone(LONDON).date()].append(fire.astimezone(UTC))
            fire = trigger.get_next_fire_time(fire, fire)
        assert len(fires) == 366 + 365 + 365
        for day, times in fires.items():
            assert times[0] == schedule.slots(day)[0]
            assert schedule.today(times[0]) == day
        twice = {day.isoformat() for day, times in fires.items() if len(times) > 1}
        if at == dt.time(1, 30):
            # The repeated hour: APScheduler fires twice (the ledger blocks the second).
            assert twice == {autumn for _, autumn in DST.values()}
            for _, autumn in DST.values():
                first, second = fires[dt.date.fromisoformat(autumn)]
                assert second - first == dt.timedelta(hours=1)
            for spring, _ in DST.values():
                # The skipped hour: 01:30 is read in the old offset, i.e. 02:30 BST.
                (only,) = fires[dt.date.fromisoformat(spring)]
                assert only.astimezone(LONDON).time() == dt.time(2, 30)
        else:
            assert twice == set()


def test_decide_publishes_only_today_only_within_the_window_only_what_is_missing():
    schedule = Schedule(LONDON, (dt.time(9, 0),), dt.time(18, 0))
    done: set[tuple[dt.date, str]] = set()

    def complete(day: dt.date, account: str) -> bool:
        return (day, account) in done

    day = dt.date(2027, 7, 1)
    at = lambda h, m=0: local(day.isoformat(), h, m).astimezone(UTC)  # noqa: E731
    assert decide(schedule, at(8, 59), ["a", "b"], complete).day is None
    assert decide(schedule, at(9), ["a", "b"], complete) == decide(
        schedule, at(17, 59), ["a", "b"], complete
    )
    assert decide(schedule, at(9), ["a", "b"], complete).day == day
    assert decide(schedule, at(9), ["a", "b"], complete).accounts == ("a", "b")
    done.add((day, "a"))
    assert decide(schedule, at(12), ["a", "b"], complete).accounts == ("b",)
    done.add((day, "b"))
    assert "complete" in decide(schedule, at(12), ["a", "b"], complete).why
    # Yesterday's thread was never published: it is not published late today.
    tomorrow = (local(day.isoformat(), 10) + dt.timedelta(days=1)).astimezone(UTC)
    assert decide(schedule, tomorrow, ["a", "b"], complete).day == day + dt.timedelta(days=1)
    early = (local(day.isoformat(), 3) + dt.timedelta(days=1)).astimezone(UTC)
    assert decide(schedule, early, ["a", "b"], complete).day is None
    closed = decide(schedule, at(18, 0) + dt.timedelta(seconds=1), ["a", "b"], lambda d, a: False)
    assert closed.day is None and "closed" in closed.why


def test_window_never_reaches_into_the_next_day_and_never_shrinks_below_the_minimum():
    late = Schedule(LONDON, (dt.time(23, 59, 30),), dt.time(23, 59, 59))
    start, end = late.window(dt.date(2027, 1, 16))
    assert end.astimezone(LONDON).date() == dt.date(2027, 1, 16)
    assert end - start < MIN_WINDOW
    odd = Schedule(LONDON, (dt.time(9, 0),), dt.time(8, 0))  # until before the slot
    start, end = odd.window(dt.date(2027, 1, 16))
    assert end - start == MIN_WINDOW
    assert misfire_grace(odd, dt.time(9, 0)) == MIN_WINDOW.total_seconds()
    normal = Schedule(LONDON, (dt.time(9, 0),), dt.time(23, 59, 59))
    assert misfire_grace(normal, dt.time(9, 0)) == 14 * 3600 + 59 * 60 + 59


def test_window_end_inside_the_repeated_hour_is_its_later_occurrence():
    schedule = Schedule(LONDON, (dt.time(0, 30),), dt.time(1, 30))
    _, end = schedule.window(dt.date(2027, 10, 31))
    assert end == dt.datetime(2027, 10, 31, 1, 30, tzinfo=UTC)  # 01:30 GMT, the second one


def test_next_slot_skips_a_completed_today():
    schedule = Schedule(LONDON, (dt.time(9, 0), dt.time(18, 0)), dt.time(23, 59, 59))
    now = local("2027-01-16", 10).astimezone(UTC)
    assert next_slot(schedule, now) == local("2027-01-16", 18).astimezone(UTC)
    assert next_slot(schedule, now, skip_today=True) == local("2027-01-17", 9).astimezone(UTC)


def test_retry_delay_doubles_up_to_the_cap():
    assert [retry_delay(n, 60, 1800) for n in range(1, 8)] == [60, 120, 240, 480, 960, 1800, 1800]


def test_clock_watch_sees_suspends_and_steps_not_the_passing_of_time():
    wall, mono = [1000.0], [50.0]
    watch = ClockWatch(5.0, wall=lambda: wall[0], monotonic=lambda: mono[0])
    wall[0] += 3600
    mono[0] += 3600
    assert watch.check() == 0.0  # an hour passed, both clocks agree
    wall[0] += 7200  # suspended two hours: the monotonic clock stood still
    assert watch.check() == 7200
    wall[0] -= 3600  # clock set back an hour
    assert watch.check() == -3600
    wall[0] += 1
    assert watch.check() == 0.0  # NTP-sized corrections are not jumps


# -- three simulated years ----------------------------------------------------------------------


class Simulation:
    """An event loop in simulated wall time standing in for the daemon's process: APScheduler's
    slot alarms (from its real CronTrigger), the Runner's background retries, restarts that
    lose every in-memory alarm, suspends and clock steps seen by the real ClockWatch."""

    def __init__(self, folder: Path, traveller: time_machine.Traveller, rng: random.Random):
        self.rng = rng
        self.traveller = traveller
        self.workspace = LiveWorkspace(folder / "thisday.toml")
        self.settings = self.workspace.settings
        self.schedule = Schedule.of(self.settings)
        self.ledger = fast_ledger(folder)
        self.fails: Counter[tuple[dt.date, str]] = Counter()
        self.pipeline = FakePipeline(self.workspace, self.ledger, self._fail)
        self.heap: list[tuple[dt.datetime, int, str, object]] = []
        self.seq = itertools.count()
        self.offset = 0.0  # wall minus monotonic, moved by suspends and steps
        self.watch = ClockWatch(monotonic=lambda: time.time() - self.offset)
        self.generation = 0
        self.runner = self._new_runner()
        self.fires: dict[dt.date, list[dt.datetime]] = defaultdict(list)
        self.reasons: Counter[str] = Counter()
        self.unavailable: list[tuple[dt.datetime, dt.datetime]] = []
        ((_, self.trigger),) = slot_triggers(self.schedule)
        self.grace = dt.timedelta(seconds=misfire_grace(self.schedule, self.settings.post_at[0]))

    def _fail(self, account: str, now: dt.datetime) -> bool:
        key = (self.schedule.today(now), account)
        if self.fails[key] < 2 and self.rng.random() < 0.15:
            self.fails[key] += 1
            return True
        return False

    def _new_runner(self) -> Runner:
        self.generation += 1
        generation = self.generation
        return Runner(
            self.workspace,
            self.pipeline,
            halt=threading.Event(),
            retry=lambda at: self.push(at, "retry", generation),
        )

    def push(self, at: dt.datetime, kind: str, data: object = None) -> None:
        heapq.heappush(self.heap, (at.astimezone(UTC), next(self.seq), kind, data))

    def publish(self, reason: str) -> None:
        results = self.runner.publish_now(reason)
        if any(r.status == PUBLISHED for r in results):
            self.reasons[reason] += 1

    def move(self, at: dt.datetime) -> None:
        self.traveller.move_to(at)
        # The main loop's tick: a jump of the wall clock against the monotonic one.
        if self.watch.check():
            self.publish("wake after a clock jump")

    def run(self, until: dt.datetime) -> None:
        self.publish("catch-up at start")
        fire = self.trigger.get_next_fire_time(None, dt.datetime.now(UTC))
        self.push(fire, "slot", fire)
        while self.heap:
            at, _, kind, data = heapq.heappop(self.heap)
            if at > until:
                break
            if kind == "slot":
                fire = data
                nxt = self.trigger.get_next_fire_time(fire, fire)
                self.push(nxt, "slot", nxt)
                self.move(at)
                self.fires[self.schedule.today(at)].append(at)
                self.publish("slot")
            elif kind == "retry":
                if data == self.generation:  # alarms die with the process
                    self.move(at)
                    self.publish("background retry")
            elif kind in ("down", "suspend", "step"):
                self._disrupt(at, kind, data)

    def _disrupt(self, at: dt.datetime, kind: str, length: dt.timedelta) -> None:
        self.move(at)
        if kind == "step" and length < dt.timedelta(0):
            self.offset += length.total_seconds()
            self.move(at + length)  # clock set back: nothing is missed, nothing repeats
            return
        end = at + length
        self.unavailable.append((at, end))
        missed = []
        while self.heap and self.heap[0][0] <= end:
            missed.append(heapq.heappop(self.heap))
        slots = [item for item in missed if item[2] == "slot"]
        retries = [item for item in missed if item[2] == "retry" and item[3] == self.generation]
        if slots:
            nxt = self.trigger.get_next_fire_time(slots[-1][3], end)
            self.push(nxt, "slot", nxt)
        if kind == "down":
            self.traveller.move_to(end)
            self.watch = ClockWatch(monotonic=lambda: time.time() - self.offset)
            self.runner = self._new_runner()
            self.publish("catch-up at start")
            return
        # Suspend, or the clock stepped forward: the process lives on, its alarms are late.
        self.offset += length.total_seconds()
        self.move(end)
        if slots and end - slots[-1][0] <= self.grace:
            self.publish("slot")  # APScheduler runs a missed alarm within its grace, once
        if retries and end - retries[-1][0] <= dt.timedelta(hours=1):
            self.publish("background retry")


def disruptions(rng: random.Random, protected: set[dt.date]):
    """Non-overlapping outages, suspends and clock steps, many around the slot or midnight."""
    out = []
    last_end = dt.datetime(2026, 1, 2, tzinfo=UTC)
    day = dt.date(2026, 1, 3)
    while day < dt.date(2028, 12, 25):
        day += dt.timedelta(days=rng.randint(3, 25))
        kind = rng.choice(["down", "down", "suspend", "suspend", "step", "step"])
        start = local(day.isoformat(), rng.choice([0, 1, 2, 3, 4, 23]), rng.randint(0, 59))
        if kind == "step":
            length = dt.timedelta(minutes=rng.choice([-1, 1]) * rng.randint(30, 360))
        elif rng.random() < 0.4:
            # Away for the whole window, back the next night before its slot: the missed
            # day must stay missed.
            start = local(day.isoformat(), 0, 30) + dt.timedelta(minutes=rng.randint(0, 50))
            back = local((day + dt.timedelta(days=1)).isoformat(), 0, 5)
            length = back + dt.timedelta(minutes=rng.randint(0, 80)) - start
        else:
            length = dt.timedelta(minutes=rng.randint(5, 30 * 60))
        end = start + abs(length)
        touched = {start.date() + dt.timedelta(days=n) for n in range(-1, (end - start).days + 3)}
        if start.astimezone(UTC) <= last_end or touched & protected:
            continue
        out.append((start, kind, length))
        last_end = end.astimezone(UTC) + dt.timedelta(hours=1)
    return out


def test_three_years_exactly_once_in_the_window_never_for_a_past_day(tmp_path):
    write_settings(tmp_path)
    every_day_posts(tmp_path)
    rng = random.Random(20260101)
    dst_days = {dt.date.fromisoformat(d) for pair in DST.values() for d in pair}
    leap_days = {dt.date(2026, 2, 28), dt.date(2027, 2, 28), dt.date(2028, 2, 28),
                 dt.date(2028, 2, 29), dt.date(2028, 3, 1)}  # fmt: skip
    begin = dt.datetime(2025, 12, 31, 12, tzinfo=UTC)
    with time_machine.travel(begin, tick=False) as traveller:
        sim = Simulation(tmp_path, traveller, rng)
        plan = disruptions(rng, dst_days | leap_days)
        for start, kind, length in plan:
            sim.push(start, kind, length)
        sim.run(until=dt.datetime(2029, 1, 1, 6, tzinfo=UTC))

    schedule = sim.schedule
    threads = sent_threads(sim.ledger)
    by_day: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (day, account, event), sent in threads.items():
        by_day[(day, account)].add(event)
        start, end = schedule.window(dt.date.fromisoformat(day))
        for moment in sent:
            assert schedule.today(moment).isoformat() == day, "published for another day"
            assert start <= moment <= end, f"{day} {account} published at {moment}, outside"

    # Exactly one thread per chosen event per day per account (the ledger's key forbids a
    # second plan; a second send would need a second plan), and both accounts agree.
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(366 + 365 + 365)]
    missing = []
    for day in days:
        key = day.isoformat()
        for account in ("masto", "sky"):
            if not by_day.get((key, account)):
                missing.append((day, account))
        if by_day.get((key, "masto")) and by_day.get((key, "sky")):
            assert by_day[(key, "masto")] == by_day[(key, "sky")]
        for event_set in (by_day.get((key, a), set()) for a in ("masto", "sky")):
            assert len(event_set) <= 2

    # A day is missing only for a reason: the daemon was away for its whole window, or the
    # account failed and its retries could not fit before the window closed.
    for day, account in missing:
        start, end = schedule.window(day)
        away = any(a <= start and end <= b for a, b in sim.unavailable)
        failed = sim.pipeline.failures.get((day, account))
        assert away or failed, f"{day} {account}: missed without a reason"
    assert len(missing) < 0.05 * 2 * len(days)
    assert len(plan) > 40

    # Every path to a publish was exercised, catch-ups included.
    for reason in ("slot", "catch-up at start", "wake after a clock jump", "background retry"):
        assert sim.reasons[reason] > 0, (reason, sim.reasons)

    # Both clock changes each year: the 01:30 slot fired twice on the autumn night and once
    # (at 02:30 BST) on the spring one; one thread each way.
    for spring, autumn in DST.values():
        assert len(sim.fires[dt.date.fromisoformat(autumn)]) == 2
        (fire,) = sim.fires[dt.date.fromisoformat(spring)]
        assert fire.astimezone(LONDON).time() == dt.time(2, 30)
        for day in (spring, autumn):
            assert by_day[(day, "masto")] == by_day[(day, "sky")]
            assert len(by_day[(day, "masto")]) == 1
            assert len(threads[(day, "masto", next(iter(by_day[(day, "masto")])))]) == 2

    # 29 February: its own day in 2028; with 28 February in common years (events_per_day 2).
    assert by_day[("2026-02-28", "masto")] == {"e0228", "e0229"}
    assert by_day[("2027-02-28", "sky")] == {"e0228", "e0229"}
    assert by_day[("2028-02-28", "masto")] == {"e0228"}
    assert by_day[("2028-02-29", "masto")] == {"e0229"}
    assert by_day[("2028-03-01", "sky")] == {"e0301"}


# -- the runner: retries, deadlines, stopping --------------------------------------------------


@pytest.fixture
def sim_folder(tmp_path: Path) -> Path:
    write_settings(tmp_path, post_at='"09:00"', until="12:00")
    post(tmp_path, 1, 16, "Trotsky exiled")
    return tmp_path


def test_a_failing_account_is_retried_with_backoff_until_the_window_closes(sim_folder, caplog):
    workspace = LiveWorkspace(sim_folder / "thisday.toml")
    ledger = fast_ledger(sim_folder)
    pipeline = FakePipeline(workspace, ledger, fail=lambda account, now: account == "masto")
    retries: list[dt.datetime] = []
    runner = Runner(workspace, pipeline, halt=threading.Event(), retry=retries.append)
    slot = local("2027-01-16", 9).astimezone(UTC)
    with time_machine.travel(slot, tick=False) as traveller, caplog.at_level(logging.INFO):
        runner.publish_now("slot")
        # The other account was not held up: complete at the slot itself.
        assert ledger.complete("2027-01-16", "sky")
        assert not ledger.complete("2027-01-16", "masto")
        while retries and len(retries) < 20:
            traveller.move_to(retries[-1])
            before = len(retries)
            runner.publish_now("background retry")
            if len(retries) == before:
                break
    waits = [(b - a).total_seconds() for a, b in itertools.pairwise([slot, *retries])]
    assert waits == [600, 1200, 2400, 3600]  # doubling, capped; the next would be late
    assert retries[-1] < local("2027-01-16", 12).astimezone(UTC)
    assert "giving up on 2027-01-16 for masto" in caplog.text
    # Only the failing account was ever asked again.
    assert all(accounts == ("masto",) for _, _, accounts in pipeline.calls[1:])


def test_the_run_is_stopped_at_the_end_of_the_window(sim_folder):
    workspace = LiveWorkspace(sim_folder / "thisday.toml")
    ledger = fast_ledger(sim_folder)
    pipeline = FakePipeline(workspace, ledger)
    halt = threading.Event()
    seen: list[bool] = []
    pipeline.block = lambda: seen.append(halt.wait(10))  # a publish stuck in backoff waits
    runner = Runner(workspace, pipeline, halt=halt, retry=lambda at: None)
    end = local("2027-01-16", 12).astimezone(UTC)
    with time_machine.travel(end - dt.timedelta(seconds=0.3), tick=True):
        started = time.monotonic()
        runner.publish_now("slot")
        elapsed = time.monotonic() - started
    assert seen == [True] and elapsed < 3
    assert not halt.is_set()  # cleared for the next day's run
    runner.stop()
    assert halt.is_set()
    assert runner.publish_now("slot") == []


def test_a_crashing_pipeline_is_logged_and_retried(sim_folder, caplog):
    workspace = LiveWorkspace(sim_folder / "thisday.toml")
    ledger = fast_ledger(sim_folder)
    pipeline = FakePipeline(workspace, ledger)

    def explode() -> None:
        raise OSError("disk full")

    pipeline.block = explode
    retries: list[dt.datetime] = []
    runner = Runner(workspace, pipeline, halt=threading.Event(), retry=retries.append)
    with time_machine.travel(local("2027-01-16", 9, 5), tick=False):
        assert [r.status for r in runner.publish_now("slot")] == [FAILED, FAILED]
    assert "disk full" in caplog.text
    assert len(retries) == 1


def test_dry_run_never_creates_the_ledger(sim_folder):
    workspace = LiveWorkspace(sim_folder / "thisday.toml")
    calls = []

    class DryPipeline:
        def publish(self, day, accounts=None, *, dry_run=False):
            calls.append((day, dry_run))
            return []

    runner = Runner(workspace, DryPipeline(), halt=threading.Event(), retry=None, dry_run=True)  # type: ignore[arg-type]
    with time_machine.travel(local("2027-01-16", 9, 5), tick=False):
        runner.publish_now("slot")
    assert calls == [(dt.date(2027, 1, 16), True)]
    assert not (sim_folder / "state" / "ledger.sqlite").exists()


# -- live content ---------------------------------------------------------------------------------


def test_an_edited_file_that_turned_invalid_keeps_its_last_good_version(sim_folder, caplog):
    workspace = LiveWorkspace(sim_folder / "thisday.toml")
    day = dt.date(2027, 1, 16)
    write_post(
        sim_folder / "posts",
        "other.md",
        "date: 1999-01-16\ntitle: Another event\nsummary: Also then.\nid: other",
        "More.",
    )
    assert sorted(e.title for e in workspace.candidates(day)) == ["Another event", "Trotsky exiled"]

    path = sim_folder / "posts" / "01" / "01-16.md"
    path.write_text(path.read_text().replace("date: 2000-01-16", "date: 2000-13-45"))
    with caplog.at_level(logging.ERROR, logger="thisday"):
        titles = sorted(e.title for e in workspace.candidates(day))
        workspace.candidates(day)
    assert titles == ["Another event", "Trotsky exiled"]  # the last good version
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once per version of the file, not at every look
    assert "01-16.md:2: error" in errors[0] and "last good version" in errors[0]

    # Fixed with new content: the new version is used.
    post(sim_folder, 1, 16, "Trotsky exiled to Alma-Ata")
    assert "Trotsky exiled to Alma-Ata" in [e.title for e in workspace.candidates(day)]
    # Removed: gone, even though a good version was known.
    path.unlink()
    assert [e.title for e in workspace.candidates(day)] == ["Another event"]
    # Added while running: used at once.
    post(sim_folder, 1, 16, "Back again")
    assert sorted(e.title for e in workspace.candidates(day)) == ["Another event", "Back again"]


def test_a_file_invalid_since_before_start_has_no_last_good_version(sim_folder):
    path = sim_folder / "posts" / "01" / "01-16.md"
    path.write_text(path.read_text().replace("title: Trotsky exiled\n", ""))
    workspace = LiveWorkspace(sim_folder / "thisday.toml")
    assert workspace.candidates(dt.date(2027, 1, 16)) == []


def test_a_file_moved_to_another_day_is_no_longer_used_for_this_one(sim_folder):
    workspace = LiveWorkspace(sim_folder / "thisday.toml")
    assert workspace.prime(dt.date(2027, 1, 16)) == 1
    path = sim_folder / "posts" / "01" / "01-16.md"
    path.write_text(path.read_text().replace("2000-01-16", "2000-01-17"))
    assert workspace.candidates(dt.date(2027, 1, 16)) == []
    assert [e.id for e in workspace.candidates(dt.date(2027, 1, 17))] == ["e0116"]


def head(workspace: LiveWorkspace, event: Event, day: dt.date) -> str:
    return workspace.renderer.render(event, "masto", day).parts[0].text


def test_templates_broken_while_running_keep_the_last_good_ones(tmp_path, sim_folder, caplog):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "post.j2").write_text("Good head: {{ title }}\n")
    (templates / "thread.j2").write_text("{{ story }}\n")
    settings = sim_folder / "thisday.toml"
    default = f'templates = "{ROOT / "config" / "templates"}"'
    settings.write_text(settings.read_text().replace(default, f'templates = "{templates}"'))
    workspace = LiveWorkspace(settings)
    day = dt.date(2027, 1, 16)
    (event,) = workspace.candidates(day)
    assert workspace.refresh_templates() == []
    assert (
        # The head without its thread number ("1/2", on by default).
        workspace.renderer.render(event, "masto", day).parts[0].text.split("\n\n")[0]
        == "Good head: Trotsky exiled"
    )

    (templates / "post.j2").write_text("Broken {{ title \n")
    with caplog.at_level(logging.ERROR, logger="thisday"):
        problems = workspace.refresh_templates()
    assert problems and "post.j2" in str(problems[0])
    assert "last good templates stay in use" in caplog.text
    assert (
        # The head without its thread number ("1/2", on by default).
        workspace.renderer.render(event, "masto", day).parts[0].text.split("\n\n")[0]
        == "Good head: Trotsky exiled"
    )

    (templates / "post.j2").write_text("New head: {{ title }}\n")
    assert workspace.refresh_templates() == []
    assert (
        workspace.renderer.render(event, "masto", day).parts[0].text.split("\n\n")[0]
        == "New head: Trotsky exiled"
    )


# -- the APScheduler wiring and SIGHUP ------------------------------------------------------------


def jobs_of(daemon: DailyScheduler) -> dict[str, object]:
    assert daemon._scheduler is not None
    return {job.id: job for job in daemon._scheduler.get_jobs()}


def test_jobs_are_built_from_the_config_and_rebuilt_on_reload(sim_folder, caplog):
    settings_file = write_settings(sim_folder, post_at='["09:00", "18:30"]', until="23:00")
    daemon = DailyScheduler(str(settings_file))
    with time_machine.travel(local("2027-01-16", 7), tick=False):
        daemon.start(paused=True)
        try:
            jobs = jobs_of(daemon)
            assert {"slot 09:00:00", "slot 18:30:00", "warm-up 09:00:00", "new-day"} <= set(jobs)
            slot = jobs["slot 09:00:00"]
            assert slot.misfire_grace_time == 14 * 3600  # until the window closes
            assert slot.coalesce is True and slot.max_instances == 1
            assert str(slot.trigger.timezone) == "Europe/London"
            warm = jobs["warm-up 09:00:00"]
            assert warm.trigger.get_next_fire_time(None, local("2027-01-16", 7)) == local(
                "2027-01-16", 8, 59
            )
            assert daemon.next_run() == local("2027-01-16", 9).astimezone(UTC)
            pipeline = daemon.pipeline

            # A broken config is reported; the old one stays.
            settings_file.write_text(settings_file.read_text().replace("post_at", "post_when"))
            with caplog.at_level(logging.ERROR, logger="thisday"):
                daemon._reload(None)
            assert "config not reloaded" in caplog.text and "post_when" in caplog.text
            assert set(jobs_of(daemon)) == set(jobs)

            # A good one: new slots and zone, same accounts -> the sessions are kept.
            write_settings(sim_folder, post_at='"10:15"', until="23:00")
            settings_file.write_text(
                settings_file.read_text().replace("Europe/London", "America/New_York")
            )
            outcome: list[bool] = []
            daemon._reload(outcome.append)
            assert outcome == [True]
            jobs = jobs_of(daemon)
            assert "slot 10:15:00" in jobs and "slot 09:00:00" not in jobs
            assert str(jobs["slot 10:15:00"].trigger.timezone) == "America/New_York"
            assert daemon.pipeline is pipeline
            assert daemon.workspace.settings.timezone == "America/New_York"

            # Accounts changed: new sessions.
            settings_file.write_text(settings_file.read_text().replace("sim.test", "other.test"))
            daemon._reload(outcome.append)
            assert outcome == [True, True]
            assert daemon.pipeline is not pipeline and daemon.runner.pipeline is daemon.pipeline
        finally:
            assert daemon.stop(timeout=2)


def test_a_reload_that_moves_the_state_folder_is_refused(sim_folder, caplog):
    settings_file = sim_folder / "thisday.toml"
    daemon = DailyScheduler(str(settings_file))
    settings_file.write_text(settings_file.read_text().replace('state = "state"', 'state = "s2"'))
    with caplog.at_level(logging.ERROR, logger="thisday"):
        daemon._reload(None)
    assert "state folder changed" in caplog.text
    assert daemon.settings.state == Path("state")


def test_health_must_stay_on_loopback(tmp_path):
    for bad in ("0.0.0.0:9108", "192.168.1.2:9108", "example.com:80", "127.0.0.1:0", "9108"):
        path = write_settings(tmp_path, daemon=f'health = "{bad}"')
        with pytest.raises(config.ConfigError, match=r"daemon\.health: .*loopback"):
            config.load(path)
    for good, address in (("127.0.0.1:9108", ("127.0.0.1", 9108)), ("[::1]:80", ("::1", 80))):
        path = write_settings(tmp_path, daemon=f'health = "{good}"')
        assert config.load(path).daemon.health_address == address
    assert config.load(write_settings(tmp_path)).daemon.health_address is None


def test_local_instant_follows_the_zone_rules():
    assert local_instant(dt.date(2027, 3, 28), dt.time(1, 30), LONDON) == dt.datetime(
        2027, 3, 28, 1, 30, tzinfo=UTC
    )
    assert local_instant(dt.date(2027, 10, 31), dt.time(1, 30), LONDON) == dt.datetime(
        2027, 10, 31, 0, 30, tzinfo=UTC
    )
    assert local_instant(dt.date(2027, 10, 31), dt.time(1, 30), LONDON, latest=True) == dt.datetime(
        2027, 10, 31, 1, 30, tzinfo=UTC
    )
