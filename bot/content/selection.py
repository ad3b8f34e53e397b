"""Which events are posted on a given local date.

Rules: an event is posted on its month and day; 29 February events go to 28 February
(or 1 March, or nowhere — `leap_day`) in common years. When several events share the day,
the one published least recently wins (the ledger answers that); ties, and the time before
any history exists, are broken by a stable hash of date and id, so a date's choice is
deterministic and changes from year to year.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Sequence
from typing import Literal, Protocol

from bot.content.post import Event

LeapRule = Literal["feb28", "mar1", "skip"]
LEAP_DAY = 229


class History(Protocol):
    """What selection needs to know of the past (the ledger implements it)."""

    def events_on(self, day: dt.date) -> list[str]:
        """Ids already chosen for that day, in the order they were chosen."""
        ...

    def last_published(self, ids: Iterable[str], before: dt.date) -> dict[str, dt.date]:
        """The last day before `before` each of these ids was chosen, where it ever was."""
        ...


def day_keys(day: dt.date, leap_rule: LeapRule) -> tuple[int, ...]:
    """The month-day keys (`Event.key`) whose events are posted on `day`."""
    key = day.month * 100 + day.day
    if not calendar.isleap(day.year) and (
        (leap_rule == "feb28" and key == 228) or (leap_rule == "mar1" and key == 301)
    ):
        return (key, LEAP_DAY)
    return (key,)


def posting_date(key: int, year: int, leap_rule: LeapRule) -> dt.date | None:
    """The date in `year` when events of this month-day key are posted (None: not that
    year). The one place of the leap-day rule, with `day_keys` its inverse."""
    month, day = divmod(key, 100)
    if key == LEAP_DAY and not calendar.isleap(year):
        if leap_rule == "skip":
            return None
        return dt.date(year, 2, 28) if leap_rule == "feb28" else dt.date(year, 3, 1)
    return dt.date(year, month, day)


def next_posting_day(key: int, today: dt.date, leap_rule: LeapRule) -> dt.date | None:
    """The first day on or after `today` when events with this key are posted."""
    for year in range(today.year, today.year + 9):
        candidate = posting_date(key, year, leap_rule)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def stable_rank(day: dt.date, event_id: str) -> bytes:
    return hashlib.blake2b(f"{day.isoformat()}|{event_id}".encode(), digest_size=8).digest()


def choose(
    candidates: Sequence[Event], day: dt.date, count: int, history: History | None = None
) -> list[Event]:
    """The events to post on `day`, most fitting first; stable for a given day and ledger."""
    by_id = {event.id: event for event in candidates}
    return [by_id[i] for i in choose_ids(by_id.keys(), day, count, history)]


def choose_ids(
    ids: Collection[str], day: dt.date, count: int, history: History | None = None
) -> list[str]:
    """`choose` by id alone: which of these events' ids to post on `day`, most fitting first."""
    if history is not None:
        already = [i for i in history.events_on(day) if i in ids]
        if already:
            return already[:count]
    last = history.last_published(ids, before=day) if history is not None else {}
    never = dt.date.min
    return sorted(ids, key=lambda i: (last.get(i, never), stable_rank(day, i)))[:count]
