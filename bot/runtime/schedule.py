"""The daily schedule as pure arithmetic: the slots and catch-up window of a day in the
operator's zone, what to publish at an instant, the next run, retry back-off, and clock jumps.

Used by the daemon to decide, and by `status` and `doctor` to report, so both say the same.
Every function is a pure function of an instant: tests drive them across years of days.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.config import Settings

# An on-time slot always gets this long, whatever catch_up_until says.
MIN_WINDOW = dt.timedelta(minutes=1)
# A wall-clock move of at least this much (seconds) against the monotonic clock is a jump.
JUMP_THRESHOLD = 5.0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_instant(
    day: dt.date, at: dt.time, zone: ZoneInfo, *, latest: bool = False
) -> dt.datetime:
    """The UTC instant of a local wall time on a day.

    A time inside a repeated hour is its first occurrence (or its second with `latest`); a
    time inside a skipped hour is read with the offset before the change, as APScheduler's
    CronTrigger fires it (01:30 on the spring night in London is 02:30 BST).
    """
    first = dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)
    if not latest:
        return first
    second = dt.datetime.combine(day, at, tzinfo=zone).replace(fold=1).astimezone(dt.UTC)
    return max(first, second)


@dataclass(frozen=True, slots=True)
class Schedule:
    """The daily slots and the catch-up window, in the operator's zone."""

    zone: ZoneInfo
    post_at: tuple[dt.time, ...]
    until: dt.time

    @classmethod
    def of(cls, settings: Settings) -> Schedule:
        return cls(settings.zone, tuple(sorted(settings.post_at)), settings.catch_up_until)

    def local(self, moment: dt.datetime) -> str:
        """An instant as local ISO time, to the second, for messages."""
        return moment.astimezone(self.zone).isoformat(timespec="seconds")

    def today(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.zone).date()

    def slots(self, day: dt.date) -> list[dt.datetime]:
        return sorted(local_instant(day, at, self.zone) for at in self.post_at)

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """From the day's first slot to the end of its catch-up window, as UTC instants."""
        start = self.slots(day)[0]
        end = max(local_instant(day, self.until, self.zone, latest=True), start + MIN_WINDOW)
        day_end = local_instant(day + dt.timedelta(days=1), dt.time(0), self.zone)
        return start, min(end, day_end - dt.timedelta(microseconds=1))


@dataclass(frozen=True, slots=True)
class Decision:
    day: dt.date | None  # the day to publish now; None: nothing to do
    accounts: tuple[str, ...]
    why: str


def decide(
    schedule: Schedule,
    now: dt.datetime,
    accounts: Sequence[str],
    complete: Callable[[dt.date, str], bool],
) -> Decision:
    """What to publish at `now`: today's thread for the accounts that lack it, if today's
    window is open. Never another day."""
    today = schedule.today(now)
    start, end = schedule.window(today)
    if now < start:
        return Decision(None, (), f"before today's first slot ({schedule.local(start)})")
    if now > end:
        return Decision(None, (), f"today's catch-up window closed at {schedule.local(end)}")
    pending = tuple(name for name in accounts if not complete(today, name))
    if not pending:
        return Decision(None, (), "today's thread is complete on every account")
    return Decision(today, pending, "due")


def next_slot(schedule: Schedule, now: dt.datetime, *, skip_today: bool = False) -> dt.datetime:
    """The next slot after `now` (not today's when today is done)."""
    today = schedule.today(now)
    for offset in range(3):
        day = today + dt.timedelta(days=offset)
        if offset == 0 and skip_today:
            continue
        for slot in schedule.slots(day):
            if slot > now:
                return slot
    raise AssertionError("a daily slot always comes within two days")


def retry_delay(failures: int, first: float, cap: float) -> float:
    """Seconds before the next background retry after `failures` failed runs in a row."""
    return float(min(cap, first * 2 ** max(0, failures - 1)))


class ClockWatch:
    """Notices the wall clock moving against the monotonic one: a suspend (the monotonic
    clock stops while the machine sleeps) or a clock stepped by hand or by NTP. APScheduler
    waits in monotonic time, so after either it would wake late or not at all for a slot."""

    def __init__(
        self,
        threshold: float = JUMP_THRESHOLD,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self._wall = wall
        self._monotonic = monotonic
        self._offset = self._read()

    def _read(self) -> float:
        return self._wall() - self._monotonic()

    def check(self) -> float:
        """Seconds the wall clock jumped since the last check (0.0 if it kept pace)."""
        offset = self._read()
        jump, self._offset = offset - self._offset, offset
        return jump if abs(jump) >= self.threshold else 0.0
