"""Dates, eras, "N years ago" and numbers in a post's language, from CLDR through Babel.

Babel is imported on the first call, never at module level: `--help`, and `check` on an
unchanged corpus, render nothing and must not pay for it. Each language's results are
cached in memory (a day's few posts ask for the same phrases again and again).

Results are also kept on disk, one small JSON file per locale in the state folder's cache
(`use_cache`): a run that renders only what an earlier run rendered (`preview` of a day, the
daemon after a restart) answers from there and never imports Babel. The file is keyed by
Babel's installed files, so an upgrade of Babel (new CLDR data) starts it afresh.

Python's dates stop at year 1 and BC years have no `date` at all, so a date is formatted
with a stand-in leap year and its year and era written in by us (`_Format`): 29 February of
any year, and 44 BC, come out in CLDR's own pattern for the language.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import importlib.util
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.render.frames import Frame

# Years before this get an era label ("AD 800", "800 ap. J.-C."): a bare "800" reads as a
# number. BC years always have one.
ERA_BELOW = 1000
_STAND_IN_YEAR = 2000  # a leap year: every month and day exists in it


def on_its_day(month: int, day: int, posted: dt.date) -> bool:
    """Whether the event's own day is the posting day (not so for 29 February in common years,
    posted on 28 February or 1 March)."""
    return posted.month == month and posted.day == day


def years_ago(year: int | None, posted: dt.date) -> int | None:
    if year is None:
        return None
    # There is no year 0: from 44 BC to AD 2026 is 2069 years.
    return posted.year - year - (1 if year < 0 else 0)


def year_label(frame: Frame, year: int | None) -> str:
    """ "1940", "44 BC", "AD 5"; "1940", "44 av. J.-C."; "1940年", "紀元前44年"."""
    if year is None:
        return ""
    return _year_label(frame.locale, frame.era_before_ad, year)


def event_date(frame: Frame, month: int, day: int, year: int | None) -> str:
    """The event's own date: "29 February 1940", "29 février 1940", "1940年2月29日"; without
    a year, the day and month ("29 February")."""
    return _event_date(frame.locale, frame.era_before_ad, frame.first_day, month, day, year)


def years_ago_phrase(frame: Frame, years: int | None) -> str:
    """ "1 year ago", "87 years ago", "il y a 2 069 ans", "87 年前"; "" for none or 0."""
    if years is None or years <= 0:
        return ""
    return _remembered(frame.locale, f"a {years}", lambda: _years_ago(frame.locale, years))


def number(frame: Frame, value: int) -> str:
    """An integer as the language writes it ("2,069", "2 069", "2.069")."""
    return _remembered(frame.locale, f"n {value}", lambda: _number(frame.locale, value))


def opening(frame: Frame, month: int, day: int, year: int | None, posted: dt.date) -> str:
    """What the default head post opens with: "On this day in 1940 (87 years ago)" on the
    event's own day, "On 29 February 1940 (87 years ago)" on any other, "On this day" for an
    event without a year."""
    if on_its_day(month, day, posted):
        if year is None:
            text = frame.phrase("on_this_day")
        else:
            label = year_label(frame, year)
            elide = "on_this_day_in" in frame.elided and _italian_vowel(abs(year))
            pattern = frame.elided["on_this_day_in"] if elide else frame.phrase("on_this_day_in")
            text = pattern.format(year=label)
    else:
        date = event_date(frame, month, day, year)
        # "l'8 marzo", "l'11 marzo": the day is said first.
        elide = "on_date" in frame.elided and _italian_vowel(day)
        pattern = frame.elided["on_date"] if elide else frame.phrase("on_date")
        text = pattern.format(date=date)
    return _with_ago(frame, text, year, posted)


def _with_ago(frame: Frame, text: str, year: int | None, posted: dt.date) -> str:
    ago = years_ago_phrase(frame, years_ago(year, posted))
    return frame.phrase("with_ago", text=text, ago=ago) if ago else text


def _italian_vowel(year: int) -> bool:
    """Whether an Italian number is said with a vowel first ("nell'800", "l'11"): otto,
    undici, ottanta, ottocento, ottomila, undicimila."""
    digits = str(year)
    return digits[0] == "8" or (digits[:2] == "11" and len(digits) in (2, 5))


# -- what earlier runs computed ----------------------------------------------------------------

_cache_folder: Path | None = None
_memos: dict[str, dict[str, str]] = {}
_dirty: set[str] = set()  # locales with results not yet on disk (written at exit: one write)


def use_cache(folder: Path | None) -> None:
    """Keep results in `folder` (created when first written); None: in memory only."""
    global _cache_folder
    if folder != _cache_folder:
        flush()
        _cache_folder = folder
        _memos.clear()


@functools.cache
def _babel_key() -> str:
    """Changes when Babel (and so its CLDR data) is reinstalled, without importing it."""
    spec = importlib.util.find_spec("babel")
    origin = spec.origin if spec and spec.origin else ""
    try:
        return f"{origin} {os.stat(origin).st_mtime_ns}"
    except OSError:
        return origin


def _memo(locale: str) -> dict[str, str]:
    memo = _memos.get(locale)
    if memo is None:
        memo = {}
        if _cache_folder is not None:
            with contextlib.suppress(OSError, ValueError):
                data = json.loads((_cache_folder / f"{locale}.json").read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("babel") == _babel_key():
                    memo = {k: v for k, v in data.get("texts", {}).items() if isinstance(v, str)}
        _memos[locale] = memo
    return memo


def _remembered(locale: str, key: str, compute: Callable[[], str]) -> str:
    memo = _memo(locale)
    found = memo.get(key)
    if found is None:
        found = memo[key] = compute()
        if _cache_folder is not None:
            _dirty.add(locale)
            _register_flush()
    return found


@functools.cache
def _register_flush() -> None:
    atexit.register(flush)


def flush() -> None:
    """Write what this process computed: atomically, and never failing anything (the cache
    only saves time). Worker processes of `check` end without it, which costs nothing."""
    folder = _cache_folder
    if folder is None:
        _dirty.clear()
        return
    for locale in sorted(_dirty):
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{locale}.json.{os.getpid()}"
            document = {"babel": _babel_key(), "texts": _memos.get(locale, {})}
            tmp.write_text(json.dumps(document, ensure_ascii=False, sort_keys=True), "utf-8")
            os.replace(tmp, folder / f"{locale}.json")
    _dirty.clear()


# -- Babel, imported on first use ------------------------------------------------------------


@functools.cache
def _locale(name: str) -> Any:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        # A region CLDR does not know ("en_XX"): the language's own default.
        return Locale.parse(name.split("_")[0])


@functools.cache
def _formatter() -> type:
    from babel.dates import DateTimeFormat

    class _Format(DateTimeFormat):
        """CLDR's formatting of one date, with our year, era and first-day spelling."""

        def __init__(self, value: dt.date, locale: Any, year: str, era: str, first: str) -> None:
            super().__init__(value, locale)
            self.year, self.era, self.first, self.day = year, era, first, value.day

        def __getitem__(self, name: str) -> str:
            char = name[0]
            if char == "G":
                return self.era
            if char in ("y", "Y", "u"):
                return self.year
            if char == "d" and self.day == 1 and len(name) == 1:
                return self.first
            return str(super().__getitem__(name))

    return _Format


@functools.cache
def _pattern(locale_name: str, skeleton: str, era_before: bool) -> Any:
    """The compiled CLDR pattern for a skeleton ("GyMMMMd"), or the long date ("long")."""
    from babel.dates import parse_pattern

    locale = _locale(locale_name)
    if skeleton == "long":
        text = locale.date_formats["long"].pattern
    else:
        text = locale.datetime_skeletons.get(skeleton)
        if text is None:
            from babel.dates import match_skeleton

            best = match_skeleton(skeleton, locale.datetime_skeletons)
            text = locale.datetime_skeletons[best] if best else "y"
        text = str(text.pattern if hasattr(text, "pattern") else text)
    if era_before and "y G" in text:
        text = text.replace("y G", "G y")
    return parse_pattern(text)


@functools.lru_cache(maxsize=4096)
def _year_label(locale_name: str, era_before_ad: bool, year: int) -> str:
    with_era = year < ERA_BELOW
    # English writes "AD 5" but "44 BC": only AD goes before the year.
    fmt = _pattern_format(locale_name, "Gy" if with_era else "y", era_before_ad and year > 0)
    return _format(fmt, locale_name, 1, 1, year, "1")


@functools.lru_cache(maxsize=4096)
def _event_date(
    locale_name: str, era_before_ad: bool, first: str, month: int, day: int, year: int | None
) -> str:
    if year is None:
        fmt = _pattern_format(locale_name, "MMMMd", False)
    elif year < ERA_BELOW:
        fmt = _pattern_format(locale_name, "GyMMMMd", era_before_ad and year > 0)
    else:
        fmt = _pattern_format(locale_name, "long", False)
    return _format(fmt, locale_name, month, day, year, first)


# What a date needs from CLDR is a few patterns, month names and eras per locale: those are
# what is remembered (on disk too), and dates are put together from them in Python. Babel's
# general formatter costs ~0.1 ms a date, which a cold `check` of 50,000 events feels.


def _pattern_format(locale_name: str, skeleton: str, era_before: bool) -> str:
    """The pattern as a %-format over its fields ("%(d)s %(MMMM)s %(y)s")."""
    return _remembered(
        locale_name,
        f"pattern {skeleton} {era_before:d}",
        lambda: str(_pattern(locale_name, skeleton, era_before).format),
    )


def _era_name(locale_name: str, year: int) -> str:
    index = 0 if year < 0 else 1
    return _remembered(
        locale_name,
        f"era {index}",
        lambda: str(_locale(locale_name).eras["abbreviated"][index]),
    )


_MONTH_WIDTHS = {
    "MMMM": ("format", "wide"),
    "MMM": ("format", "abbreviated"),
    "LLLL": ("stand-alone", "wide"),
    "LLL": ("stand-alone", "abbreviated"),
}


def _month_name(locale_name: str, key: str, month: int) -> str:
    context, width = _MONTH_WIDTHS[key]
    return _remembered(
        locale_name,
        f"month {key} {month}",
        lambda: str(_locale(locale_name).months[context][width][month]),
    )


def _format(fmt: str, locale_name: str, month: int, day: int, year: int | None, first: str) -> str:
    shown = str(abs(year)) if year is not None else ""
    keys = _keys(fmt)
    if keys <= _FAST:
        values: dict[str, str] = {}
        for key in keys:
            char = key[0]
            if char == "d":
                values[key] = (first if day == 1 else str(day)) if key == "d" else f"{day:02d}"
            elif key in _MONTH_WIDTHS:
                values[key] = _month_name(locale_name, key, month)
            elif char == "M":
                values[key] = str(month) if key == "M" else f"{month:02d}"
            elif char == "y":
                values[key] = shown
            else:  # G: the era
                values[key] = _era_name(locale_name, year) if year is not None else ""
        return (fmt % values).strip()
    # A field the tables do not cover: Babel's own formatter, with our year and era.
    era = _era_name(locale_name, year) if year is not None else ""
    stand_in = dt.date(_STAND_IN_YEAR, month, day)
    fields = _formatter()(stand_in, _locale(locale_name), shown, era, first)
    return str(fmt % fields).strip()


_FAST = frozenset(
    {"d", "dd", "M", "MM", "MMM", "MMMM", "LLL", "LLLL", "y", "yyyy", "G", "GG", "GGG"}
)


@functools.cache
def _keys(pattern_format: str) -> frozenset[str]:
    return frozenset(re.findall(r"%\((\w+)\)s", pattern_format))


@functools.cache
def _ago_patterns(locale_name: str) -> tuple[Any, dict[str, str]] | None:
    """The locale's plural rule and its "N years ago" pattern for each plural category: what
    Babel's format_timedelta reads, read once (it costs ~0.4 ms a call)."""
    locale = _locale(locale_name)
    try:
        fields = locale._data["date_fields"]
        relative = fields.get("year-long") or fields["year"]
        return locale.plural_form, {str(k): str(v) for k, v in relative["past"].items()}
    except (KeyError, TypeError, AttributeError):
        return None


@functools.cache
def _years_ago(locale_name: str, years: int) -> str:
    found = _ago_patterns(locale_name)
    if found is not None:
        plural, patterns = found
        pattern = patterns.get(plural(years)) or patterns.get("other")
        if pattern:
            return pattern.replace("{0}", _number(locale_name, years))
    from babel.dates import TIMEDELTA_UNITS, format_timedelta

    seconds = dict(TIMEDELTA_UNITS)["year"]
    text = str(
        format_timedelta(
            dt.timedelta(seconds=-years * seconds),
            granularity="year",
            threshold=1,
            add_direction=True,
            format="long",
            locale=_locale(locale_name),
        )
    )
    # CLDR's pattern ("{0} years ago", plural chosen by the locale's rules), with the number
    # written as the language writes numbers.
    return text.replace(str(years), _number(locale_name, years), 1)


@functools.cache
def _number(locale_name: str, value: int) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=_locale(locale_name)))
