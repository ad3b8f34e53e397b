"""`thisday stats`: what followers did with each published thread.

For every thread the ledger says was sent, each account's server is asked how many likes
(Mastodon favourites), reposts (boosts), replies and quotes each part has, and every answer
is kept in the ledger as a dated snapshot (table `engagement`). The report is then built from
the snapshots alone, so a post deleted since, or a server that cannot be reached today,
keeps its last known numbers and the trend across fetches stays whole.

Replies are the followers' replies: each part but the last of a thread is answered by our
own next part, which the servers count as a reply; that one is subtracted.

Fetching is polite: one request at a time per account (Bluesky: 25 posts per request),
at most `MAX_WORKERS` accounts at once, a 429 waits for the time the server names (at most
`publishing.max_rate_limit_wait`), other transient errors back off like publishing does,
and every wait is bounded by `publishing.attempts`.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from bot.ledger.base import Row, Snapshot, now_utc

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.publishing.publishers.base import Engagement
    from bot.workspace import Workspace

COUNTS = ("likes", "reposts", "replies", "quotes")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TOP = 10  # events in "top"
MAX_WORKERS = 4  # accounts fetched at the same time
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")

T = TypeVar("T")
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class Thread:
    """One published thread on one account: its sent parts in order."""

    day: str
    account: str
    platform: str
    event_id: str
    rows: list[Row]


@dataclass(frozen=True, slots=True)
class Failure:
    account: str
    day: str
    event_id: str
    error: str


@dataclass(slots=True)
class Fetched:
    snapshots: list[Snapshot] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def threads_of(rows: Iterable[Row]) -> list[Thread]:
    out: dict[tuple[str, str, str], Thread] = {}
    for row in rows:
        key = (row.day, row.account, row.event_id)
        thread = out.get(key)
        if thread is None:
            thread = out[key] = Thread(row.day, row.account, row.platform, row.event_id, [])
        thread.rows.append(row)
    for thread in out.values():
        thread.rows.sort(key=lambda r: r.idx)
    return list(out.values())


# -- fetching ----------------------------------------------------------------------------------


def fetch(
    settings: Settings,
    threads: Sequence[Thread],
    progress: Progress | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """Ask each account's server about its threads; never raises for a network problem: a
    thread that could not be fetched is a `Failure` (its older snapshots still count)."""
    by_account: dict[str, list[Thread]] = {}
    for thread in threads:
        by_account.setdefault(thread.account, []).append(thread)
    result = Fetched()
    lock = threading.Lock()
    done = [0]
    total = len(threads)
    if progress and total:
        progress(0, total)

    def tick(snapshots: list[Snapshot], failure: Failure | None) -> None:
        with lock:
            result.snapshots.extend(snapshots)
            if failure is not None:
                result.failures.append(failure)
            done[0] += 1
            if progress:
                progress(done[0], total)

    if by_account:
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(by_account))) as pool:
            futures = [
                pool.submit(_fetch_account, settings, name, mine, tick, sleep)
                for name, mine in by_account.items()
            ]
            for future in futures:
                future.result()
    return result


Tick = Callable[[list[Snapshot], Failure | None], None]


def _fetch_account(
    settings: Settings,
    name: str,
    mine: list[Thread],
    tick: Tick,
    sleep: Callable[[float], None],
) -> None:
    """One account's threads, one request at a time, with one publisher."""
    from bot.publishing.publishers.base import PublishError, open_publisher

    def fail_all(threads: Sequence[Thread], why: str) -> None:
        for thread in threads:
            tick([], Failure(name, thread.day, thread.event_id, why))

    account = settings.accounts.get(name)
    if account is None:
        return fail_all(mine, "the account is no longer in the config")
    if account.platform != mine[0].platform:
        return fail_all(mine, f"the account is now on {account.platform}, not {mine[0].platform}")
    try:
        publisher = open_publisher(name, account, settings)
    except PublishError as exc:
        return fail_all(mine, str(exc))
    with publisher:
        for n, thread in enumerate(mine):
            rows = thread.rows
            try:
                counts = polite(partial(publisher.engagement, rows), settings, sleep=sleep)
            except PublishError as exc:
                tick([], Failure(name, thread.day, thread.event_id, str(exc)))
                if exc.retryable:
                    # Still failing after the bounded waits: the rest would fail too.
                    return fail_all(mine[n + 1 :], f"skipped: {exc}")
                continue
            at = now_utc()
            tick([_snapshot(at, row, found) for row, found in zip(rows, counts, strict=True)], None)
    return None


def _snapshot(at: str, row: Row, found: Engagement | None) -> Snapshot:
    return Snapshot(
        at=at,
        day=row.day,
        account=row.account,
        event_id=row.event_id,
        idx=row.idx,
        platform=row.platform,
        likes=found.likes if found else 0,
        reposts=found.reposts if found else 0,
        replies=found.replies if found else 0,
        quotes=found.quotes if found else 0,
        gone=found is None,
    )


def polite(call: Callable[[], T], settings: Settings, *, sleep: Callable[[float], None]) -> T:
    """`call`, retried on RetryableError at most `publishing.attempts` times: after a 429 the
    wait the server named (refused when longer than `max_rate_limit_wait`), else a doubling
    backoff with jitter."""
    from bot.publishing.publishers.base import RetryableError

    rules = settings.publishing
    delay = rules.backoff
    attempt = 1
    while True:
        try:
            return call()
        except RetryableError as exc:
            if attempt >= rules.attempts:
                raise
            if exc.retry_after is not None:
                if exc.retry_after > rules.max_rate_limit_wait:
                    raise RetryableError(
                        f"{exc} (rate limited for {exc.retry_after:.0f} s more, above "
                        f"max_rate_limit_wait = {rules.max_rate_limit_wait:g}: try later)"
                    ) from None
                wait = exc.retry_after
            else:
                wait = min(delay, rules.max_backoff) * random.uniform(0.5, 1.0)
                delay *= 2
            sleep(wait)
            attempt += 1


# -- the report --------------------------------------------------------------------------------


def _zero() -> dict[str, int]:
    return dict.fromkeys((*COUNTS, "total"), 0)


def _add(into: dict[str, Any], counts: Mapping[str, Any]) -> None:
    for key in (*COUNTS, "total"):
        into[key] += counts[key]


def report(
    snapshots: Sequence[Snapshot],
    rows: Sequence[Row],
    *,
    describe: Callable[[Iterable[str]], dict[str, tuple[str, list[str]]]] | None = None,
    failures: Sequence[Failure] = (),
    since: dt.date | None = None,
    until: dt.date | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    """The numbers behind every output (terminal, --json, --html), from snapshots alone."""
    parts: dict[Key, set[int]] = {}
    platform: dict[Key, str] = {}
    heads: dict[Key, Row] = {}
    for row in rows:
        key = (row.day, row.account, row.event_id)
        parts.setdefault(key, set()).add(row.idx)
        platform[key] = row.platform
        if key not in heads or row.idx < heads[key].idx:
            heads[key] = row
    for snap in snapshots:
        key = (snap.day, snap.account, snap.event_id)
        parts.setdefault(key, set()).add(snap.idx)
        platform.setdefault(key, snap.platform)
    seen = _History(parts, snapshots)
    described = describe(sorted({key[2] for key in parts})) if describe else {}
    threads: list[dict[str, Any]] = []
    for key in sorted(parts):
        day, name, event_id = key
        counts = _sum(seen.latest[(*key, i)] for i in parts[key] if (*key, i) in seen.latest)
        head = heads.get(key)
        title, tags = described.get(event_id) or ("", [])
        if not tags and head is not None:
            tags = list(dict.fromkeys(_HASHTAG.findall(head.text)))
        threads.append(
            {
                "day": day,
                "weekday": WEEKDAYS[dt.date.fromisoformat(day).weekday()],
                "account": name,
                "platform": platform[key],
                "event_id": event_id,
                "title": title,
                "tags": tags,
                "url": head.url if head is not None else None,
                "parts": len(parts[key]),
                **counts,
                "fetched_at": seen.fetched_at.get(key),
                "gone": any(seen.gone.get((*key, i), False) for i in parts[key]),
            }
        )
    top = sorted(threads, key=lambda t: (-t["total"], t["day"], t["account"], t["event_id"]))
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "account": account,
        "fetched_at": max(seen.fetched_at.values(), default=None),
        **_groups(threads),
        "top": top[:TOP],
        "trend": seen.trend,
        "threads": threads,
        "failures": [
            {"account": f.account, "day": f.day, "event_id": f.event_id, "error": f.error}
            for f in failures
        ],
    }


Key = tuple[str, str, str]  # day, account, event id


class _History:
    """The snapshots replayed in time order: each part's latest known numbers (a `gone`
    snapshot keeps those seen before it), and the totals at the end of each fetch day."""

    def __init__(self, parts: dict[Key, set[int]], snapshots: Sequence[Snapshot]) -> None:
        self.parts = parts
        self.latest: dict[tuple[str, str, str, int], dict[str, int]] = {}
        self.gone: dict[tuple[str, str, str, int], bool] = {}
        self.fetched_at: dict[Key, str] = {}
        self.trend: list[dict[str, Any]] = []
        for snap in sorted(snapshots, key=lambda s: s.at):
            key = (snap.day, snap.account, snap.event_id)
            date = snap.at[:10]
            if not self.trend or self.trend[-1]["date"] != date:
                self._close_day()
                self.trend.append({"date": date})
            if not snap.gone:
                self.latest[(*key, snap.idx)] = self.followers(snap)
            self.gone[(*key, snap.idx)] = snap.gone
            self.fetched_at[key] = max(self.fetched_at.get(key, ""), snap.at)
        self._close_day()
        previous = 0
        for point in self.trend:
            point["change"] = point["total"] - previous
            previous = point["total"]

    def _close_day(self) -> None:
        if self.trend:
            self.trend[-1].update(_sum(self.latest.values()))

    def followers(self, snap: Snapshot) -> dict[str, int]:
        # Our own next part is a reply to this one: not a follower's.
        ours = 1 if snap.idx + 1 in self.parts[(snap.day, snap.account, snap.event_id)] else 0
        counts = {
            "likes": snap.likes,
            "reposts": snap.reposts,
            "replies": max(0, snap.replies - ours),
            "quotes": snap.quotes,
        }
        counts["total"] = sum(counts.values())
        return counts


def _groups(threads: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals overall, per account, per weekday (all seven), per tag and per day."""
    accounts: dict[str, dict[str, Any]] = {}
    weekdays: dict[str, dict[str, Any]] = {
        w: {"weekday": w, "threads": 0, **_zero()} for w in WEEKDAYS
    }
    tags: dict[str, dict[str, Any]] = {}
    days: dict[str, dict[str, Any]] = {}
    totals: dict[str, Any] = {"threads": 0, **_zero()}
    for thread in threads:
        blank = {"threads": 0, **_zero()}
        buckets = [
            totals,
            weekdays[thread["weekday"]],
            accounts.setdefault(
                thread["account"],
                {"account": thread["account"], "platform": thread["platform"], **blank},
            ),
            days.setdefault(thread["day"], {"day": thread["day"], **blank}),
        ]
        buckets += [
            tags.setdefault(tag.casefold(), {"tag": tag, **blank}) for tag in thread["tags"]
        ]
        for bucket in buckets:
            bucket["threads"] += 1
            _add(bucket, thread)
    return {
        "totals": totals,
        "accounts": sorted(accounts.values(), key=lambda a: a["account"]),
        "weekdays": list(weekdays.values()),
        "tags": sorted(tags.values(), key=lambda t: (-t["total"], t["tag"].casefold())),
        "days": [days[d] for d in sorted(days)],
    }


def _sum(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    out = _zero()
    for counts in parts:
        _add(out, counts)
    return out


def describer(workspace: Workspace) -> Callable[[Iterable[str]], dict[str, tuple[str, list[str]]]]:
    """Titles and tags of events from the posts folder (where the files still are)."""

    def describe(ids: Iterable[str]) -> dict[str, tuple[str, list[str]]]:
        from bot.content.corpus import read_post

        wanted = set(ids)
        out: dict[str, tuple[str, list[str]]] = {}
        if not wanted or not workspace.posts_dir.is_dir():
            return out
        corpus = workspace.corpus
        corpus.refresh()
        for rel, entry in corpus.entries.items():
            if entry.id in wanted and entry.id not in out:
                try:
                    parsed, _, _ = read_post(str(corpus.root), rel)
                except OSError:
                    continue
                if parsed.event is not None:
                    out[entry.id] = (parsed.event.title, list(parsed.event.tags))
        return out

    return describe


def collect(
    workspace: Workspace,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    account: str | None = None,
    fetch_now: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fetch (unless told not to), keep the snapshots, and report."""
    ledger = workspace.ledger()
    low = since.isoformat() if since else None
    high = until.isoformat() if until else None
    if ledger is None:
        return report([], [], since=since, until=until, account=account)
    try:
        rows = ledger.sent_parts(low, high, account)
        failures: list[Failure] = []
        if fetch_now and rows:
            fetched = fetch(workspace.settings, threads_of(rows), progress)
            ledger.record_engagement(fetched.snapshots)
            failures = fetched.failures
        snapshots = ledger.engagement(low, high, account)
    finally:
        ledger.close()
    return report(
        snapshots,
        rows,
        describe=describer(workspace),
        failures=failures,
        since=since,
        until=until,
        account=account,
    )


# -- terminal ----------------------------------------------------------------------------------


def _figures(item: dict[str, Any]) -> str:
    return (
        f"{item['total']:>5}  likes {item['likes']}, reposts {item['reposts']}, "
        f"replies {item['replies']}, quotes {item['quotes']}"
    )


def terminal(data: dict[str, Any]) -> str:
    from bot.logs import escape

    totals = data["totals"]
    span = f"{data['since'] or 'the first day'} to {data['until'] or 'the last day'}"
    lines = [
        f"Followers' response, {span}: {totals['threads']} threads, {totals['total']} in all"
        f" ({_figures(totals).split(None, 1)[1]})"
    ]
    if data["fetched_at"]:
        lines.append(f"Last fetched {data['fetched_at'][:16].replace('T', ' ')} UTC")
    if not data["threads"]:
        lines.append("No published thread in the ledger for these days.")
        return "\n".join(lines) + "\n"
    lines += ["", "Top events"]
    for n, thread in enumerate(data["top"], 1):
        name = escape(thread["title"] or thread["event_id"])
        mark = " (deleted since)" if thread["gone"] else ""
        lines.append(
            f"{n:>3}. {thread['day']} {escape(thread['account'])}: {name}{mark}"
            f"\n     {_figures(thread)}"
        )
    lines += ["", "Per account"]
    for acc in data["accounts"]:
        lines.append(
            f"  {escape(acc['account'])} ({acc['platform']}), {acc['threads']} threads: "
            f"{_figures(acc).strip()}"
        )
    lines += ["", "Per weekday"]
    for day in data["weekdays"]:
        if day["threads"]:
            lines.append(f"  {day['weekday']:<9} {day['threads']:>3} threads {_figures(day)}")
    if data["tags"]:
        lines += ["", "Per tag"]
        for tag in data["tags"][:20]:
            lines.append(f"  #{escape(tag['tag']):<24} {tag['threads']:>3} threads {_figures(tag)}")
    if data["trend"]:
        lines += ["", "Trend (all threads' numbers at each day's last fetch)"]
        for point in data["trend"][-14:]:
            lines.append(f"  {point['date']}  {point['total']:>6}  ({point['change']:+d})")
    if data["failures"]:
        lines += ["", f"Not fetched this time ({len(data['failures'])}; last numbers shown):"]
        for failure in data["failures"][:10]:
            lines.append(
                f"  {failure['day']} {escape(failure['account'])} "
                f"{escape(failure['event_id'])}: {escape(failure['error'])}"
            )
    return "\n".join(lines) + "\n"


# -- the HTML page -----------------------------------------------------------------------------

CHART_WIDTH = 720
BAR_ROW = 34  # height of one row of a horizontal bar chart (label above, bar below)
BARS_WIDTH = 480  # bar charts: narrower, so that their labels stay readable on a phone
LABEL = 60  # characters of a label kept in a bar chart


def _short(text: str) -> str:
    return text if len(text) <= LABEL else text[: LABEL - 1] + "…"


def _bars(
    items: Sequence[dict[str, Any]], label: Callable[[dict[str, Any]], str]
) -> dict[str, Any]:
    """A horizontal bar chart: one row per item, the label over its bar."""
    high = max((item["total"] for item in items), default=0) or 1
    usable = BARS_WIDTH - 50
    rows = []
    for n, item in enumerate(items):
        y = n * BAR_ROW
        rows.append(
            {
                "label": _short(label(item)),
                "value": item["total"],
                "y": y,
                "text_y": y + 12,
                "bar_y": y + 16,
                "width": round(usable * item["total"] / high, 1),
                "value_x": round(usable * item["total"] / high, 1) + 6,
                "title": f"{label(item)}: {_figures(item).strip()}",
            }
        )
    return {"width": BARS_WIDTH, "height": max(BAR_ROW * len(items), BAR_ROW), "rows": rows}


def _columns(days: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-day bars: one column per published day, the day's total engagement."""
    height, base = 180, 160
    high = max((d["total"] for d in days), default=0) or 1
    step = CHART_WIDTH / max(len(days), 1)
    width = max(step * 0.8, 1)
    columns = []
    for n, day in enumerate(days):
        tall = round((base - 10) * day["total"] / high, 1)
        columns.append(
            {
                "day": day["day"],
                "value": day["total"],
                "x": round(n * step + (step - width) / 2, 1),
                "y": round(base - tall, 1),
                "width": round(width, 1),
                "height": tall,
                "title": f"{day['day']}: {_figures(day).strip()}",
            }
        )
    labels = []
    if days:
        labels = [(0, "start", days[0]["day"]), (CHART_WIDTH, "end", days[-1]["day"])]
    return {
        "width": CHART_WIDTH,
        "height": height,
        "base": base,
        "columns": columns,
        "labels": [{"x": x, "anchor": a, "text": t} for x, a, t in labels],
        "high": high if days else 0,
    }


def _event_label(thread: dict[str, Any]) -> str:
    return f"{thread['day']} {thread['account']}: {thread['title'] or thread['event_id']}"


def html_page(data: dict[str, Any]) -> str:
    """One standalone page: inline style (allowed by its hash), no script, nothing fetched."""
    from bot.tools import pages

    style = pages.asset("stats.css")
    csp = (
        f"default-src 'none'; style-src {pages.script_hash(style)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    span = f"{data['since'] or 'first day'} to {data['until'] or 'last day'}"
    return pages.render(
        "stats.html.j2",
        csp=csp,
        page_style=style,
        title=f"thisday stats: {span}",
        data=data,
        counts=COUNTS,
        per_day=_columns(data["days"]),
        top=_bars(
            data["top"], lambda t: f"{t['day']} {t['account']}: {t['title'] or t['event_id']}"
        ),
        per_tag=_bars(data["tags"][:20], lambda t: f"#{t['tag']}"),
        active_weekdays=[w for w in data["weekdays"] if w["threads"]],
    )
