"""When to publish which day, and the APScheduler alarms that ask.

The ledger is the truth; APScheduler is only a set of alarms, in memory, rebuilt from the
config at start and on SIGHUP. Every alarm — a slot, a background retry, the catch-up at
start, a wake after a suspend or a clock jump, a reload — ends in one call,
`Runner.publish_now(reason)`, which decides from the clock and the ledger alone:

- the day published is always *today* in the configured zone, never a past day;
- only between today's first slot and the end of the catch-up window (`catch_up_until`,
  never past the local midnight); a run still going at the window's end is stopped there;
- only for accounts whose thread for today is not complete in the ledger: a second alarm
  the same day (APScheduler fires a 01:30 job twice on the autumn night) sends nothing.

The decisions are small pure functions of an instant, so tests drive them with a simulated
clock across years of days.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.ledger.base import LedgerError
from bot.runtime.schedule import (
    MIN_WINDOW,
    Schedule,
    decide,
    next_slot,
    retry_delay,
    utcnow,
)

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    from bot.daemon.live import LiveWorkspace
    from bot.ledger.base import LedgerStore
    from bot.publishing.pipeline import Result

log = logging.getLogger("thisday.daemon")

# The main loop compares the wall clock with the monotonic one this often (seconds).
CLOCK_CHECK = 60.0
# Seconds before the slot at which a warm-up still running is cut short.
WARM_UP_MARGIN = 1.0

# -- triggers ----------------------------------------------------------------------------------


def slot_triggers(schedule: Schedule) -> list[tuple[dt.time, CronTrigger]]:
    from apscheduler.triggers.cron import CronTrigger

    return [
        (at, CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=schedule.zone))
        for at in schedule.post_at
    ]


def warm_up_trigger(at: dt.time, seconds: float, zone: ZoneInfo) -> CronTrigger:
    from apscheduler.triggers.cron import CronTrigger

    moment = dt.datetime.combine(dt.date(2000, 1, 2), at) - dt.timedelta(seconds=seconds)
    return CronTrigger(hour=moment.hour, minute=moment.minute, second=moment.second, timezone=zone)


def misfire_grace(schedule: Schedule, at: dt.time) -> int:
    """APScheduler may run a late slot alarm until the catch-up window would close (the
    window check in `decide` is the real rule; this only keeps APScheduler from dropping
    an alarm that is still useful)."""
    slot = dt.datetime.combine(dt.date(2000, 1, 1), at)
    until = dt.datetime.combine(dt.date(2000, 1, 1), schedule.until)
    return max(int(MIN_WINDOW.total_seconds()), int((until - slot).total_seconds()))


# -- running one decision ----------------------------------------------------------------------


class PipelineLike(Protocol):
    def publish(
        self, day: dt.date, accounts: Sequence[str] | None = None, *, dry_run: bool = False
    ) -> list[Result]: ...

    def warm_up(self, accounts: Sequence[str] | None = None) -> dict[str, str | None]: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class RunState:
    """When the last runs happened and the next retry is due, for /healthz."""

    last_attempt: dt.datetime | None = None
    last_success: dt.datetime | None = None
    retry_at: dt.datetime | None = None
    ledger_error: str | None = None  # why the ledger cannot be used now (nothing is sent)


class Runner:
    """Runs `decide` and, when something is due, the pipeline; one run at a time."""

    def __init__(
        self,
        workspace: LiveWorkspace,
        pipeline: PipelineLike,
        *,
        halt: threading.Event,
        retry: Callable[[dt.datetime], None],
        dry_run: bool = False,
    ) -> None:
        self.workspace = workspace
        self.pipeline = pipeline
        self.halt = halt  # the pipeline's stop event: set on shutdown and at deadlines
        self.retry = retry
        self.dry_run = dry_run
        self.state = RunState()
        self.stopping = False
        self.lock = threading.Lock()  # one publish (or warm-up, or reload) at a time
        self._stop_lock = threading.Lock()
        self._failures: dict[dt.date, int] = {}
        self._ledger: LedgerStore | None = None
        self._ledger_for: tuple[object, ...] | None = None

    @property
    def settings(self) -> Settings:
        return self.workspace.settings

    @property
    def schedule(self) -> Schedule:
        return Schedule.of(self.settings)

    def accounts(self) -> list[str]:
        return list(self.settings.active_accounts())

    # -- the ledger's answers -------------------------------------------------------------

    def ledger(self) -> LedgerStore | None:
        wanted = (self.settings.state_dir, self.settings.ledger)
        if self._ledger is None or self._ledger_for != wanted:
            # A dry run never creates the ledger.
            self._ledger = self.workspace.ledger(create=not self.dry_run)
            self._ledger_for = wanted if self._ledger is not None else None
        return self._ledger

    def complete(self, day: dt.date, account: str) -> bool:
        ledger = self.ledger()
        return ledger is not None and ledger.complete(day.isoformat(), account)

    def _completeness(self, today: dt.date) -> Callable[[dt.date, str], bool]:
        """`complete` for `decide`; on a shared ledger today's answers come from one query
        for all accounts (a round trip per account adds up at a slot with dozens)."""
        ledger = self.ledger()
        batch = getattr(ledger, "complete_accounts", None)
        if batch is None:
            return self.complete
        done: set[str] = batch(today.isoformat(), self.accounts())

        def complete(day: dt.date, account: str) -> bool:
            return account in done if day == today else self.complete(day, account)

        return complete

    # -- publishing -----------------------------------------------------------------------

    def publish_now(self, reason: str) -> list[Result]:
        """Publish today's thread where it is due and missing; nothing otherwise."""
        with self.lock:
            if self.stopping:
                return []
            try:
                results = self._publish(reason)
                if self.settings.ledger is None:
                    self.state.ledger_error = None
                return results
            except LedgerError as exc:
                # Nothing is sent without the ledger. A shared one is watched by the
                # heartbeat, which publishes as soon as it answers again.
                log.error("nothing published (%s): %s", reason, exc)
                self.state.ledger_error = str(exc)
                self._failed_unexpectedly(exc)
                return []
            except Exception as exc:
                # Never let an alarm die silently: say so, and try again in the background.
                log.exception("publishing (%s) failed unexpectedly", reason)
                self._failed_unexpectedly(exc)
                return []
            finally:
                if self._ledger is not None:
                    self._ledger.close()  # this thread's connection

    def _publish(self, reason: str) -> list[Result]:
        from bot.publishing.pipeline import FAILED, Result

        now = utcnow()
        schedule = self.schedule
        decision = decide(schedule, now, self.accounts(), self._completeness(schedule.today(now)))
        if decision.day is None:
            log.info("nothing to publish (%s): %s", reason, decision.why)
            return []
        day = decision.day
        _, end = schedule.window(day)
        log.info(
            "publishing %s to %s (%s)%s",
            day.isoformat(),
            ", ".join(decision.accounts),
            reason,
            " [dry run]" if self.dry_run else "",
            extra={"day": day.isoformat()},
        )
        self.workspace.refresh_templates()
        self.state.last_attempt = now
        try:
            with self.deadline(end):
                results = self.pipeline.publish(day, decision.accounts, dry_run=self.dry_run)
        except Exception as exc:
            log.error("publishing %s failed: %s", day.isoformat(), exc)
            results = [
                Result(name, self.settings.accounts[name].platform, None, FAILED, str(exc))
                for name in decision.accounts
            ]
        self._report(day, results)
        self._follow_up(day, results, end)
        return results

    def _failed_unexpectedly(self, exc: Exception) -> None:
        from bot.publishing.pipeline import FAILED, Result

        now = utcnow()
        schedule = self.schedule
        today = schedule.today(now)
        start, end = schedule.window(today)
        if start <= now <= end:
            failed = [Result(name, "", None, FAILED, str(exc)) for name in self.accounts()]
            self._follow_up(today, failed, end)

    def _report(self, day: dt.date, results: list[Result]) -> None:
        from bot.publishing.pipeline import DRY_RUN, FAILED, PUBLISHED, RETRACTED

        if not results:
            log.info("%s: no event to publish", day.isoformat(), extra={"day": day.isoformat()})
        for result in results:
            extra = {"account": result.account, "event": result.event, "day": day.isoformat()}
            if result.status == PUBLISHED:
                log.info(
                    "%s: %s is published (%d parts)",
                    result.account,
                    result.event,
                    len(result.parts),
                    extra=extra,
                )
            elif result.status == DRY_RUN:
                for n, text in enumerate(result.texts, 1):
                    log.info(
                        "dry run: would publish part %d/%d of %s to %s:\n%s",
                        n,
                        len(result.texts),
                        result.event,
                        result.account,
                        text,
                        extra=extra,
                    )
            elif result.status == RETRACTED:
                log.info(
                    "%s: %s was retracted (thisday retract): nothing sent",
                    result.account,
                    day.isoformat(),
                    extra=extra,
                )
            elif result.status == FAILED:
                what = f"{result.event} failed" if result.event else "failed"
                log.warning("%s: %s: %s", result.account, what, result.error, extra=extra)
        if results and not any(r.status == FAILED for r in results) and not self.dry_run:
            self.state.last_success = utcnow()

    def _follow_up(self, day: dt.date, results: list[Result], end: dt.datetime) -> None:
        """Accounts still failing are retried in the background, with backoff, until the
        window closes; the others are done and not held up."""
        from bot.publishing.pipeline import FAILED

        failed = sorted({r.account for r in results if r.status == FAILED})
        for old in [d for d in self._failures if d != day]:
            del self._failures[old]
        if not failed:
            self._failures.pop(day, None)
            self.state.retry_at = None
            return
        if self.dry_run or self.stopping:
            return
        count = self._failures[day] = self._failures.get(day, 0) + 1
        policy = self.settings.daemon
        at = utcnow() + dt.timedelta(
            seconds=retry_delay(count, policy.retry_every, policy.retry_max)
        )
        if at >= end:
            self.state.retry_at = None
            log.error(
                "giving up on %s for %s: the catch-up window closes at %s",
                day.isoformat(),
                ", ".join(failed),
                self.schedule.local(end),
                extra={"day": day.isoformat()},
            )
            return
        self.state.retry_at = at
        log.warning(
            "retrying %s for %s at %s",
            day.isoformat(),
            ", ".join(failed),
            self.schedule.local(at),
            extra={"day": day.isoformat()},
        )
        self.retry(at)

    # -- warm-up and new day --------------------------------------------------------------

    def warm_up(self, reason: str, until: dt.datetime | None = None) -> None:
        """Read the day's content and open every session ahead of a slot, so the slot itself
        only sends. Cut short at `until` (just before the slot) whatever happens."""
        if not self.lock.acquire(blocking=False):
            return  # a publish is running: the sessions are as warm as they get
        try:
            if self.stopping:
                return
            today = self.schedule.today(utcnow())
            count = self.workspace.prime(today, today + dt.timedelta(days=1))
            self.workspace.refresh_templates()
            log.info("warm-up (%s): %d event(s) for %s", reason, count, today.isoformat())
            self._rehearse(reason, today)
            if self.dry_run:
                return
            began = time.monotonic()
            with self.deadline(until) if until else contextlib.nullcontext():
                outcome = self.pipeline.warm_up()
            for account, error in outcome.items():
                if error:
                    log.warning("%s: cannot connect ahead of time: %s", account, error)
            log.info(
                "warm-up (%s) done: %d of %d account(s) connected in %.2f s",
                reason,
                sum(error is None for error in outcome.values()),
                len(outcome),
                time.monotonic() - began,
            )
        except Exception:
            log.exception("warm-up (%s) failed", reason)
        finally:
            self.lock.release()

    def _rehearse(self, reason: str, today: dt.date) -> None:
        """Render the day's threads now, recording and sending nothing: what rendering loads
        on first use (Babel's data for a new "N years ago", compiled templates, text patterns)
        is then in memory, and the slot only sends. A failure here is the slot's to report."""
        try:
            self.pipeline.publish(today, dry_run=True)
        except Exception:
            log.debug("warm-up (%s): rendering %s ahead failed", reason, today, exc_info=True)

    def new_day(self) -> None:
        """At local midnight: read today's and tomorrow's files (their last good versions)."""
        with self.lock:
            today = self.schedule.today(utcnow())
            try:
                count = self.workspace.prime(today, today + dt.timedelta(days=1))
            except Exception:
                log.exception("reading the posts for %s failed", today.isoformat())
                return
            log.info("new day %s: %d event(s) available", today.isoformat(), count)

    # -- stopping -------------------------------------------------------------------------

    @contextlib.contextmanager
    def deadline(self, at: dt.datetime) -> Iterator[None]:
        """Stop the pipeline at `at` (between requests, and any backoff wait at once)."""
        seconds = max(0.0, (at - utcnow()).total_seconds())
        timer = threading.Timer(seconds, self.halt.set)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            with self._stop_lock:
                if not self.stopping:
                    self.halt.clear()

    def stop(self) -> None:
        with self._stop_lock:
            self.stopping = True
            self.halt.set()


# -- the daemon's alarms -----------------------------------------------------------------------

SLOT, WARM_UP, NEW_DAY, RETRY = "slot", "warm-up", "new-day", "retry"


class DailyScheduler:
    """The APScheduler side: a BackgroundScheduler with an in-memory job store whose alarms
    call the Runner. Jobs are built from the config, never stored."""

    def __init__(self, config_file: str | None, posts: str | None = None, *, dry_run: bool = False):
        from bot.daemon.live import LiveWorkspace
        from bot.publishing.pipeline import Pipeline

        self.config_file = config_file
        self.dry_run = dry_run
        self.workspace = LiveWorkspace(config_file, posts)
        self.halt = threading.Event()
        self.pipeline: PipelineLike = Pipeline(self.workspace, stop=self.halt)
        self.runner = Runner(
            self.workspace, self.pipeline, halt=self.halt, retry=self._retry_at, dry_run=dry_run
        )
        self._scheduler: BackgroundScheduler | None = None
        self._beating = threading.Event()
        self._beat_thread: threading.Thread | None = None

    @property
    def settings(self) -> Settings:
        return self.workspace.settings

    # -- replicas: the heartbeat on a shared ledger ----------------------------------------

    def _start_heartbeat(self) -> None:
        if not self.settings.ledger or self.dry_run:
            return
        self._beat_thread = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        self._beat_thread.start()

    def _heartbeat(self) -> None:
        """Every third of the lease: say this replica is alive. While the ledger cannot be
        reached, retry with backoff (0.5 s doubling to 30 s), say why in the log and on
        /healthz; when it answers again, publish whatever is due at once."""
        ledger = self.workspace.shared_ledger()
        failures = 0
        delay = 0.0
        while not self._beating.wait(delay):
            try:
                ledger.heartbeat()
            except LedgerError as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2 ** (failures - 1))
                if failures == 1 or failures % 10 == 0:
                    log.error(
                        "the ledger is unreachable, nothing is sent until it answers: %s"
                        " (retrying in %.1f s)",
                        exc,
                        delay,
                    )
                self.runner.state.ledger_error = str(exc)
                continue
            delay = ledger.lease / 3
            if failures or self.runner.state.ledger_error:
                log.info("the ledger %s answers again", ledger.where)
                self.runner.state.ledger_error = None
                failures = 0
                self._now("ledger back", lambda: self.runner.publish_now("ledger reachable again"))
        ledger.leave()
        ledger.close()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, *, paused: bool = False) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
            timezone=self.settings.zone,
        )
        self._build_jobs()
        self._scheduler.start(paused=paused)
        self._start_heartbeat()
        self._now("start", self._start_up)

    def _start_up(self) -> None:
        """Catch up at start, then open the sessions (and so check the credentials)."""
        self.runner.publish_now("catch-up at start")
        if self.runner.stopping:
            return
        soon = next_slot(self.runner.schedule, utcnow())
        self.runner.warm_up("start", until=soon - dt.timedelta(seconds=WARM_UP_MARGIN))

    def _build_jobs(self) -> None:
        scheduler = self._scheduler
        assert scheduler is not None
        for job in scheduler.get_jobs():
            if job.id.startswith((SLOT, WARM_UP, NEW_DAY)):
                job.remove()  # a pending retry or catch-up stays
        schedule = self.runner.schedule
        zone = schedule.zone
        warm = self.settings.daemon.warm_up
        for at, trigger in slot_triggers(schedule):
            label = at.isoformat()
            scheduler.add_job(
                self.runner.publish_now,
                trigger,
                args=[f"slot {label}"],
                id=f"{SLOT} {label}",
                name=f"publish at {label} {zone.key}",
                misfire_grace_time=misfire_grace(schedule, at),
                coalesce=True,
                max_instances=1,
            )
            if warm > 0:
                slot_local = at.isoformat()
                scheduler.add_job(
                    self._warm_up_for,
                    warm_up_trigger(at, warm, zone),
                    args=[at],
                    id=f"{WARM_UP} {label}",
                    name=f"warm up for {slot_local}",
                    misfire_grace_time=max(1, int(warm) - 1),
                    coalesce=True,
                    max_instances=1,
                )
        from apscheduler.triggers.cron import CronTrigger

        scheduler.add_job(
            self.runner.new_day,
            CronTrigger(hour=0, minute=0, second=5, timezone=zone),
            id=NEW_DAY,
            name="new day",
            misfire_grace_time=3600,
            coalesce=True,
            max_instances=1,
        )

    def _warm_up_for(self, at: dt.time) -> None:
        slot = next_slot(self.runner.schedule, utcnow())
        self.runner.warm_up(
            f"before {at.isoformat()}", until=slot - dt.timedelta(seconds=WARM_UP_MARGIN)
        )

    def _retry_at(self, when: dt.datetime) -> None:
        if self._scheduler is None:
            return
        from apscheduler.triggers.date import DateTrigger

        self._scheduler.add_job(
            self.runner.publish_now,
            DateTrigger(when),
            args=["background retry"],
            id=RETRY,
            name="retry the accounts still failing",
            replace_existing=True,
            misfire_grace_time=3600,  # decide() says whether it is still in time
        )

    def _now(self, name: str, func: Callable[[], Any]) -> None:
        """Run `func` on a scheduler thread as soon as possible (one at a time per name)."""
        if self._scheduler is None:
            return
        self._scheduler.add_job(
            func,
            id=f"now {name}",
            name=name,
            replace_existing=True,
            misfire_grace_time=None,
        )

    # -- events from the service loop -----------------------------------------------------

    def clock_jumped(self, seconds: float) -> None:
        log.warning(
            "the clock moved %+.0f s against the monotonic clock (suspend or clock change):"
            " checking what is due",
            seconds,
        )
        if self._scheduler is not None:
            self._scheduler.wakeup()
        self._now("wake", lambda: self.runner.publish_now("wake after a clock jump"))

    def request_reload(self, done: Callable[[bool], None] | None = None) -> None:
        self._now("reload", lambda: self._reload(done))

    def _reload(self, done: Callable[[bool], None] | None) -> None:
        """SIGHUP: read the config again; a bad one is reported and the old one kept."""
        ok = False
        try:
            settings = self._reloadable_settings()
            keep = None if settings is None else self._adopt(settings)
            if settings is None or keep is None:
                return  # nothing changed: no catch-up either
            log.info(
                "config reloaded (%s)%s",
                ", ".join(t.isoformat() for t in settings.post_at) + f" {settings.timezone}",
                "" if keep else "; accounts changed, sessions reopened",
            )
            ok = True
        except Exception:
            log.exception("config reload failed; the old config stays in use")
        finally:
            if done is not None:
                done(ok)
        self.runner.publish_now("catch-up after reload")

    def _reloadable_settings(self) -> Settings | None:
        """The config as it is now on disk, or None (logged) when it cannot replace the
        running one."""
        from bot import config

        try:
            settings = config.load(self.config_file)
        except config.ConfigError as exc:
            log.error("config not reloaded, the old one stays in use:\n%s", exc)
            return None
        old = self.settings
        if settings.ledger != old.ledger:
            log.error("config not reloaded: the ledger changed; restart to use the new one")
            return None
        if settings.state_dir != old.state_dir:
            log.error(
                "config not reloaded: the state folder changed (%s -> %s); restart to use it",
                old.state_dir,
                settings.state_dir,
            )
            return None
        return settings

    def _adopt(self, settings: Settings) -> bool | None:
        """Run with `settings` from now on. True when the accounts and credentials stayed
        the same (sessions kept); None when the daemon is stopping and nothing changed."""
        from bot.publishing.pipeline import Pipeline

        old = self.settings
        with self.runner.lock:
            if self.runner.stopping:
                return None
            keep = (
                settings.accounts == old.accounts
                and settings.publishing == old.publishing
                and settings.base == old.base
                and _secrets(settings) == _secrets(old)
            )
            self.workspace.adopt(settings)
            if not keep:
                # Accounts or credentials changed: new sessions (tokens are read anew).
                self.pipeline.close()
                self.pipeline = Pipeline(self.workspace, stop=self.halt)
                self.runner.pipeline = self.pipeline
            if self._scheduler is not None:
                self._build_jobs()  # each trigger carries the (new) zone
        return keep

    def stop(self, timeout: float = 8.0) -> bool:
        """Stop the alarms and the pipeline; True if the run in flight (if any) finished
        within `timeout` seconds, False if it was abandoned (the ledger's `sending` rows
        are reconciled at the next start)."""
        self.runner.stop()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        finished = self.runner.lock.acquire(timeout=timeout)
        self._beating.set()  # a clean stop releases this replica's claims
        if self._beat_thread is not None:
            self._beat_thread.join(timeout=2)
        if finished:
            try:
                self.pipeline.close()
            finally:
                self.runner.lock.release()
        return finished

    # -- questions (health, metrics) ------------------------------------------------------

    @property
    def running(self) -> bool:
        scheduler = self._scheduler
        thread = getattr(scheduler, "_thread", None)
        return bool(scheduler and scheduler.running and thread and thread.is_alive())

    def next_run(self) -> dt.datetime | None:
        """The next alarm that may publish: a slot or a pending retry."""
        if self._scheduler is None:
            return None
        times = [
            job.next_run_time
            for job in self._scheduler.get_jobs()
            if (job.id.startswith(SLOT) or job.id == RETRY) and job.next_run_time
        ]
        return min(times).astimezone(dt.UTC) if times else None


def _secrets(settings: Settings) -> tuple[str | None, ...]:
    """The credentials as read now, to tell whether a reload must reopen the sessions."""
    from bot.config import MastodonAccount, read_secret

    values = []
    for account in settings.accounts.values():
        if isinstance(account, MastodonAccount):
            values.append(read_secret(account.token_env, account.token_file, settings.base))
        else:
            values.append(read_secret(account.password_env, account.password_file, settings.base))
    return tuple(values)
