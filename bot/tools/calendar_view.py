"""`thisday calendar`: the year as 366 days — events per day, gaps, files with errors, days
already published — drawn for a terminal, as SVG or as a standalone HTML page (the templates
of bot/tools/pages/, imported only when a picture is asked for).

Everything comes from the index (`Corpus.entries`), never from parsing the whole corpus: only
files with errors are read again (for their date), and, for the SVG/HTML hover lists, the
`title:` line of valid files is read with a regex instead of a full parse.

The grid is months by days of the month (12 rows of up to 31 cells), so the same 366 cells
exist in every year and 29 February always has its own cell; in a common year it is flagged
with the day its events are posted on instead (the `leap_day` setting).
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.content.post import lenient_front_matter, plain_scalar
from bot.content.selection import LEAP_DAY, LeapRule, day_keys, posting_date

if TYPE_CHECKING:
    from bot.content.corpus import Corpus
    from bot.workspace import Workspace

DAYS_IN_YEAR = 366
# Every month-day key in calendar order; 2000 is a leap year, so 29 February is among them.
KEYS: tuple[int, ...] = tuple(
    month * 100 + day
    for month in range(1, 13)
    for day in range(1, calendar.monthrange(2000, month)[1] + 1)
)
MONTH_ABBR = tuple(calendar.month_abbr)
HOVER_LIMIT = 25  # events listed in one day's hover; the rest are counted
TITLE_BUDGET = 4.0  # seconds spent reading titles for hovers before falling back to ids
HEAD_BYTES = 8192  # front matter is read from the start of the file only

# A month and day at the start of a `date:` value or of a file name, read leniently: the
# file may be invalid, and the calendar still places it on its day.
_VALUE_DATE = re.compile(r"[\"']?[ \t]*(?:-?\d{1,6}-)?(?:--)?(\d{1,2})-(\d{1,2})(?!\d)")
_NAME_DATE = re.compile(r"^(?:\d{1,6}(?:bc)?-)?(\d{1,2})-(\d{1,2})(?!\d)", re.IGNORECASE)


@dataclass(slots=True)
class Day:
    key: int  # month * 100 + day
    events: list[tuple[str, str]] = field(default_factory=list)  # (id, title or '')
    errors: list[tuple[str, str]] = field(default_factory=list)  # (shown path, first error)
    published: frozenset[str] = frozenset()  # accounts whose thread that day is complete
    posted_on: dt.date | None = None  # when this day's events go out in the year shown

    @property
    def month(self) -> int:
        return self.key // 100

    @property
    def day(self) -> int:
        return self.key % 100

    @property
    def count(self) -> int:
        return len(self.events)

    def label(self) -> str:
        return f"{self.day} {calendar.month_name[self.month]}"


@dataclass(slots=True)
class Gap:
    length: int  # days without a valid event
    first: int | None = None  # key of its first day; None when nothing is covered
    last: int | None = None

    @property
    def wraps(self) -> bool:
        return self.first is not None and self.last is not None and self.last < self.first


@dataclass(slots=True)
class YearView:
    year: int
    today: dt.date
    leap_rule: LeapRule
    days: dict[int, Day]  # all 366 keys, in calendar order
    accounts: tuple[str, ...] = ()
    undated_errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def covered(self) -> int:
        return sum(1 for d in self.days.values() if d.count)

    @property
    def events(self) -> int:
        return sum(d.count for d in self.days.values())

    @property
    def error_files(self) -> int:
        return sum(len(d.errors) for d in self.days.values()) + len(self.undated_errors)

    @property
    def error_days(self) -> int:
        return sum(1 for d in self.days.values() if d.errors)

    @property
    def published_days(self) -> int:
        return sum(1 for d in self.days.values() if d.published)

    def longest_gap(self) -> Gap:
        """The longest run of days without a valid event.

        The calendar repeats every year, so a run may wrap from December into January; it is
        counted over the 366 cells, 29 February included.
        """
        covered = [self.days[k].count > 0 for k in KEYS]
        if not any(covered):
            return Gap(DAYS_IN_YEAR)
        # Start just after a covered day so that no run is cut by the year end.
        start = covered.index(True) + 1
        best = Gap(0)
        run = 0
        for step in range(DAYS_IN_YEAR):
            at = (start + step) % DAYS_IN_YEAR
            if covered[at]:
                run = 0
                continue
            run += 1
            if run > best.length:
                first = (at - run + 1) % DAYS_IN_YEAR
                best = Gap(run, KEYS[first], KEYS[at])
        return best

    def next_uncovered(self) -> dt.date | None:
        """The first date from today on when nothing would be posted (leap_day applied)."""
        covered = {k for k, d in self.days.items() if d.count}
        day = self.today
        # Four years and a day reach the next 29 February whatever today is.
        for _ in range(4 * 365 + 2):
            if not any(k in covered for k in day_keys(day, self.leap_rule)):
                return day
            day += dt.timedelta(days=1)
        return None

    def summary_lines(self) -> list[str]:
        lines = [f"Covered: {self.covered}/{DAYS_IN_YEAR} days, {plural(self.events, 'event')}"]
        gap = self.longest_gap()
        if gap.first is None or gap.last is None:
            lines.append(f"Longest gap: {DAYS_IN_YEAR} days (no day has an event)")
        elif gap.length:
            across = " (across the year end)" if gap.wraps else ""
            lines.append(
                f"Longest gap: {plural(gap.length, 'day')}, "
                f"{short_label(gap.first)} to {short_label(gap.last)}{across}"
            )
        else:
            lines.append("Longest gap: none, every day has an event")
        nxt = self.next_uncovered()
        if nxt is None:
            lines.append("Next uncovered day: none")
        else:
            wait = (nxt - self.today).days
            when = "today" if wait == 0 else "tomorrow" if wait == 1 else f"in {wait} days"
            lines.append(f"Next uncovered day: {nxt:%a} {nxt.isoformat()} ({when})")
        if self.error_files:
            text = f"Errors: {plural(self.error_files, 'file')}"
            if self.error_days:
                text += f" on {plural(self.error_days, 'day')}"
            if self.undated_errors:
                text += f", {len(self.undated_errors)} with no readable date"
            lines.append(text + " (thisday check lists them)")
        lines.append(f"Published in {self.year}: {plural(self.published_days, 'day')}")
        return lines

    def leap_note(self) -> str | None:
        if calendar.isleap(self.year):
            return None
        posted = self.days[LEAP_DAY].posted_on
        if posted is None:
            return f"29 February: not a day in {self.year}; its events are skipped (leap_day)"
        return f"29 February: its events are posted on {posted.day} {posted:%B} in {self.year}"

    def hover(self, day: Day) -> str:
        """What hovering a day shows: the date, its events, errors and publication."""
        lines = [self._heading(day)]
        if day.posted_on is not None and (day.posted_on.month, day.posted_on.day) != (
            day.month,
            day.day,
        ):
            lines.append(f"posted on {day.posted_on.day} {day.posted_on:%B} in {self.year}")
        elif day.posted_on is None and day.key == LEAP_DAY and not calendar.isleap(self.year):
            lines.append(f"not posted in {self.year} (leap_day = skip)")
        if day.events:
            lines.append(plural(day.count, "event") + ":")
            for event_id, title in day.events[:HOVER_LIMIT]:
                lines.append(f"• {event_id}" + (f" — {title}" if title else ""))
            if day.count > HOVER_LIMIT:
                lines.append(f"… and {day.count - HOVER_LIMIT} more")
        else:
            lines.append("no event")
        if day.errors:
            lines.append(plural(len(day.errors), "file") + " with errors:")
            for path, message in day.errors[:HOVER_LIMIT]:
                lines.append(f"! {path}: {message}")
            if len(day.errors) > HOVER_LIMIT:
                lines.append(f"… and {len(day.errors) - HOVER_LIMIT} more")
        if day.published:
            missing = [a for a in self.accounts if a not in day.published]
            text = "published on " + ", ".join(sorted(day.published))
            if missing:
                text += " (not on " + ", ".join(missing) + ")"
            lines.append(text)
        return "\n".join(lines)

    def _heading(self, day: Day) -> str:
        if day.key == LEAP_DAY and not calendar.isleap(self.year):
            return f"29 February (not a day in {self.year})"
        return f"{dt.date(self.year, day.month, day.day):%a} {day.label()} {self.year}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def short_label(key: int) -> str:
    return f"{key % 100} {MONTH_ABBR[key // 100]}"


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def build(
    workspace: Workspace,
    year: int | None = None,
    *,
    titles: bool = False,
    today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> YearView:
    """The year from the index and the ledger. `titles` reads event titles for hovers."""
    settings = workspace.settings
    today = today or settings.today()
    year = year or today.year
    corpus = workspace.corpus
    corpus.refresh(progress=progress)
    corpus.save()
    view = YearView(
        year=year,
        today=today,
        leap_rule=settings.leap_day,
        days={key: Day(key) for key in KEYS},
        accounts=tuple(settings.active_accounts()),
    )
    for day in view.days.values():
        day.posted_on = posting_date(day.key, year, settings.leap_day)

    losers = corpus.losers()
    fit_trusted = _fit_is_current(workspace)
    valid: list[tuple[str, int]] = []
    for rel in sorted(corpus.entries):
        entry = corpus.entries[rel]
        if entry.key and rel not in losers:
            valid.append((rel, entry.key))
            fit_errors = [m for _, sev, m in entry.fit or () if sev == "error"]
            if fit_errors and fit_trusted:
                view.days[entry.key].errors.append((corpus.shown(rel), fit_errors[0]))
        elif entry.key:
            view.days[entry.key].errors.append((corpus.shown(rel), f"duplicate id {entry.id!r}"))
        else:
            message = next((m for _, sev, m in entry.problems if sev == "error"), "invalid")
            key = guess_key(corpus.root / rel)
            if key in view.days:
                view.days[key].errors.append((corpus.shown(rel), message))
            else:
                view.undated_errors.append((corpus.shown(rel), message))

    found_titles = read_titles(corpus, (rel for rel, _ in valid)) if titles else {}
    for rel, key in valid:
        view.days[key].events.append((corpus.entries[rel].id, found_titles.get(rel, "")))
    for day in view.days.values():
        day.events.sort()

    _mark_published(view, workspace)
    return view


def _fit_is_current(workspace: Workspace) -> bool:
    """Fit problems in the index count only when made under today's templates and settings."""
    corpus = workspace.corpus
    if not corpus.fingerprint or not any(e.fit for e in corpus.entries.values()):
        return False
    try:
        return corpus.fingerprint == workspace.renderer.fingerprint()
    except Exception:
        return False  # a broken template is `thisday check`'s news, not the calendar's


def _mark_published(view: YearView, workspace: Workspace) -> None:
    ledger = workspace.ledger()
    if ledger is None:
        return
    try:
        prefix = f"{view.year:04d}-"
        by_date = {
            dt.date.fromisoformat(day): frozenset(accounts)
            for day, accounts in ledger.published_days().items()
            if day.startswith(prefix)
        }
        for day in view.days.values():
            if day.posted_on is None:
                continue
            if day.key == LEAP_DAY and not calendar.isleap(view.year):
                # The shared date is this cell's only if one of its own events went out then.
                ids = {event_id for event_id, _ in day.events}
                if not ids.intersection(ledger.events_on(day.posted_on)):
                    continue
            day.published = by_date.get(day.posted_on, frozenset())
    finally:
        ledger.close()


def guess_key(path: Path) -> int:
    """The month and day a file with errors meant, read leniently: its `date:` line, else a
    date at the start of its name (1969-07-20-apollo.md, 0044bc-03-15-caesar.md); 0 if none."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES).decode("utf-8", "replace")
    except OSError:
        head = ""
    value = lenient_front_matter(head).get("date", "")
    for match in (_VALUE_DATE.match(value), _NAME_DATE.match(path.name)):
        if match:
            key = int(match.group(1)) * 100 + int(match.group(2))
            if key in _KEY_SET:
                return key
    return 0


_KEY_SET = frozenset(KEYS)


def read_titles(
    corpus: Corpus, rels: Iterable[str], budget: float = TITLE_BUDGET
) -> dict[str, str]:
    """rel -> title, read from each file's `title:` line; files left when the time budget is
    spent keep only their id (a slow disk must not make the calendar slow)."""
    deadline = time.monotonic() + budget
    root = str(corpus.root)
    out: dict[str, str] = {}
    for n, rel in enumerate(rels):
        if n % 256 == 0 and time.monotonic() > deadline:
            break
        try:
            with open(os.path.join(root, rel), "rb") as handle:
                head = handle.read(HEAD_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        title = plain_scalar(lenient_front_matter(head).get("title", ""))
        if title:
            out[rel] = title
    return out


# ---------------------------------------------------------------------------------------------
# Terminal
# ---------------------------------------------------------------------------------------------

CELL = 2  # characters per day: the count glyph, then a marker
LEFT = 5  # "Jan  "
# 256 colours: covered days are blocks shaded like a contributions chart; a day without any
# event is a red dot on the terminal's own background, readable on dark and light themes.
_EMPTY = "\x1b[1;38;5;160m"
_BG_LEVELS = (151, 114, 71, 28)
_ERROR = "\x1b[1;38;5;196m"
_PUBLISHED = "\x1b[1;38;5;33m"
_TODAY = "\x1b[4m"
_RESET = "\x1b[0m"


def level(count: int) -> int:
    """0 for no event, then 1..4 like a contributions chart (1, 2, 3-4, 5 or more)."""
    if count <= 0:
        return 0
    if count <= 2:
        return count
    return 3 if count <= 4 else 4


def glyph(count: int) -> str:
    if count <= 0:
        return "."
    return str(count) if count < 10 else "+"


def marker(day: Day) -> str:
    if day.errors:
        return "!"
    return "*" if day.published else " "


def use_colour(stream: object) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return (
        bool(isatty and isatty())
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM") != "dumb"
    )


def terminal(view: YearView, colour: bool = False) -> str:
    """The month-by-day grid, its legend and the summary, for a terminal."""
    lines = [f"thisday calendar {view.year}"]
    header = [" "] * (LEFT + 31 * CELL)
    for number in (1, 5, 10, 15, 20, 25, 30):
        text = str(number)
        at = LEFT + (number - 1) * CELL
        header[at : at + len(text)] = text
    lines.append("".join(header).rstrip())
    today_key = view.today.month * 100 + view.today.day if view.today.year == view.year else 0
    for month in range(1, 13):
        row = [f"{MONTH_ABBR[month]:<{LEFT}}"]
        for number in range(1, calendar.monthrange(2000, month)[1] + 1):
            day = view.days[month * 100 + number]
            row.append(_cell(day, colour, today=day.key == today_key))
        lines.append("".join(row).rstrip())
    lines.append("")
    lines.append(". no event   1-9 events (+ = 10 or more)   ! a file with errors   * published")
    note = view.leap_note()
    if note:
        lines.append(note)
    lines.append("")
    lines.extend(view.summary_lines())
    return "\n".join(lines) + "\n"


def _cell(day: Day, colour: bool, today: bool) -> str:
    text, mark = glyph(day.count), marker(day)
    if not colour:
        return text + mark
    lvl = level(day.count)
    if lvl == 0:
        style = _EMPTY
    else:
        style = f"\x1b[38;5;{16 if lvl < 4 else 231};48;5;{_BG_LEVELS[lvl - 1]}m"
    if today:
        style += _TODAY
    mark_style = _ERROR if mark == "!" else _PUBLISHED if mark == "*" else ""
    return f"{style}{text}{_RESET}{mark_style}{mark}{_RESET if mark_style else ''}"


# ---------------------------------------------------------------------------------------------
# SVG and HTML
# ---------------------------------------------------------------------------------------------

SIZE = 15  # a day's square, in px
STEP = 19  # square + gap
GRID_X = 44  # room for month labels
GRID_Y = 58  # room for the title and the day numbers
FILLS = ("#fbe0dc", "#c6e48b", "#7bc96f", "#239a3b", "#196127")
LEGEND_TEXT = (
    "no event",
    "1 event",
    "2 events",
    "3-4 events",
    "5 or more",
)
# The legend's second row: a mark drawn on top of a day, the fill under it, its text.
LEGEND_MARKS = (
    ("errors", FILLS[1], "a file with errors"),
    ("published", FILLS[0], "published"),
    ("leap", FILLS[0], "29 Feb in a common year"),
    ("today", FILLS[0], "today"),
)


@dataclass(frozen=True, slots=True)
class SvgDay:
    """One day's square as calendar.svg.j2 draws it."""

    key: str  # "0116"
    classes: tuple[str, ...]
    x: int
    y: int
    fill: str
    count: int
    errors: int
    published: bool
    hover: str
    dot: tuple[float, float] | None  # centre of the "published" dot
    bang: tuple[float, float] | None  # where the "!" of a day with errors stands


@dataclass(frozen=True, slots=True)
class SvgRow:
    label: str
    label_x: int
    label_y: int
    days: tuple[SvgDay, ...]


@dataclass(frozen=True, slots=True)
class LegendKey:
    kind: str  # "level" (a fill) or one of the marks of LEGEND_MARKS
    x: float
    y: int
    fill: str
    stroke: str  # for "level" keys; the marks' own strokes are in the template
    text: str


def _report(view: YearView) -> list[str]:
    note = view.leap_note()
    return view.summary_lines() + ([note] if note else [])


def svg(view: YearView, *, standalone: bool = True) -> str:
    """The year as an SVG picture: 366 squares, month labels, a legend and (standalone) the
    summary. Each day is a focusable group whose <title> lists its events (shown on hover)."""
    from bot.tools import pages

    return pages.render("calendar.svg.j2", **_svg_context(view, standalone))


def _svg_context(view: YearView, standalone: bool) -> dict[str, object]:
    from bot.tools import pages

    width = GRID_X + 31 * STEP + 12
    grid_bottom = GRID_Y + 12 * STEP
    # Inside the HTML page the summary is HTML text, readable however small the grid is drawn.
    lines = _report(view) if standalone else []
    height = grid_bottom + (72 + 18 * len(lines) if lines else 62)
    return {
        "standalone": standalone,
        "width": width,
        "height": height,
        "size": SIZE,
        "svg_style": pages.asset("calendar-svg.css"),
        "svg_title": f"thisday calendar {view.year}: {view.covered}/{DAYS_IN_YEAR} days covered",
        "grid_x": GRID_X,
        "numbers": [
            (GRID_X + (number - 1) * STEP + SIZE / 2, number)
            for number in (1, 5, 10, 15, 20, 25, 30)
        ],
        "numbers_y": GRID_Y - 8,
        "rows": _svg_rows(view),
        "legend": _svg_legend(grid_bottom + 14),
        "lines": [(GRID_X, grid_bottom + 82 + 18 * n, line) for n, line in enumerate(lines)],
    }


def _svg_rows(view: YearView) -> list[SvgRow]:
    """A row of squares per month, each placed, classed and described."""
    today_key = view.today.month * 100 + view.today.day if view.today.year == view.year else 0
    rows = []
    for month in range(1, 13):
        last = calendar.monthrange(2000, month)[1]
        days = tuple(
            _svg_day(view, view.days[month * 100 + n], today_key) for n in range(1, last + 1)
        )
        label_y = GRID_Y + (month - 1) * STEP + SIZE - 3
        rows.append(SvgRow(MONTH_ABBR[month], GRID_X - 8, label_y, days))
    return rows


def _svg_day(view: YearView, day: Day, today_key: int) -> SvgDay:
    x = GRID_X + (day.day - 1) * STEP
    y = GRID_Y + (day.month - 1) * STEP
    classes = ["day", f"l{level(day.count)}"]
    if day.errors:
        classes.append("err")
    if day.key == today_key:
        classes.append("today")
    if day.key == LEAP_DAY and not calendar.isleap(view.year):
        classes.append("leap")
    dot: tuple[float, float] | None = None
    if day.published:
        # Beside the "!" of a day with errors, in the middle otherwise.
        dot = (x + SIZE - 3, y + 3) if day.errors else (x + SIZE / 2, y + SIZE / 2)
    return SvgDay(
        key=f"{day.key:04d}",
        classes=tuple(classes),
        x=x,
        y=y,
        fill=FILLS[level(day.count)],
        count=day.count,
        errors=len(day.errors),
        published=bool(day.published),
        hover=view.hover(day),
        dot=dot,
        bang=(x + SIZE / 2, y + SIZE - 3.5) if day.errors else None,
    )


def _svg_legend(top: int) -> list[LegendKey]:
    """Two rows: the fill per number of events, then the marks on top of it."""
    keys = []
    x: float = GRID_X
    for lvl, text in enumerate(LEGEND_TEXT):
        stroke = "#d9847a" if lvl == 0 else "#1f232822"
        keys.append(LegendKey("level", x, top, FILLS[lvl], stroke, text))
        x = _next_key(x, text)
    y = top + STEP + 4
    x = GRID_X
    for kind, fill, text in LEGEND_MARKS:
        keys.append(LegendKey(kind, x, y, fill, "", text))
        x = _next_key(x, text)
    return keys


def _next_key(x: float, text: str) -> float:
    """Where the legend's next square goes: after this one and its text."""
    return x + SIZE + 16 + 6.2 * len(text)


def html_page(view: YearView) -> str:
    """A standalone page (inline CSS and script, nothing fetched) around the SVG; hovering,
    focusing or tapping a day also lists its events below the grid."""
    from bot.tools import pages

    script = pages.asset("calendar.js")
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {pages.script_hash(script)}"
    )
    return pages.render(
        "calendar.html.j2",
        **_svg_context(view, standalone=False),
        csp=csp,
        title=f"thisday calendar {view.year}",
        page_style=pages.asset("calendar.css"),
        script=script,
        report=_report(view),
    )
