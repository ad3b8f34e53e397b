"""`thisday status`: the next run, today's selection, the last publishes and failures — all
from the config, the posts folder and the ledger (the daemon need not be running)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.ledger.base import SENT, ClaimSeen, LedgerStore, ReplicaSeen
from bot.runtime import lock
from bot.runtime.schedule import Schedule, next_slot, utcnow
from bot.workspace import Workspace

RECENT_KINDS = ("sent", "reconciled", "failed")


@dataclass(frozen=True, slots=True)
class DaemonState:
    running: bool
    pid: int | None


@dataclass(frozen=True, slots=True)
class Window:
    start: str
    end: str
    state: str  # "before the first slot", "open" or "closed"


@dataclass(frozen=True, slots=True)
class Chosen:
    id: str
    title: str | None  # None: the file is no longer valid
    year: int | None
    path: str | None
    planned: bool


@dataclass(frozen=True, slots=True)
class AccountState:
    account: str
    platform: str
    state: str  # complete, partial, pending, due, missed or scheduled
    parts_sent: int
    parts: int
    urls: list[str]
    error: str | None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    at: str | None
    day: str
    account: str
    event: str | None
    part: int | None
    kind: str
    detail: str | None  # the URL, or the error of a failed run

    def as_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        detail = doc.pop("detail")
        doc["error" if self.kind == "failed" else "url"] = detail
        return doc


@dataclass(frozen=True, slots=True)
class RevisionSeen:
    """A retraction or correction (`thisday retract`/`correct`) of one thread on one account."""

    day: str
    account: str
    event: str
    kind: str  # retract or correct
    number: int  # 1, 2... per day, account and event
    complete: bool  # every request done; False: the next run of the command finishes it
    steps: int
    done: int
    at: str  # when it was planned (UTC)


@dataclass(frozen=True, slots=True)
class StatusReport:
    now: str
    timezone: str
    today: str
    daemon: DaemonState
    slots: list[str]
    window: Window
    due_now: bool
    next_run: str
    selection: list[Chosen]
    accounts: list[AccountState]
    recent: list[JournalEntry]
    failures: list[JournalEntry]
    # A shared (PostgreSQL) ledger: the replicas seen and who holds which claim today.
    ledger: str = "sqlite"
    replicas: list[ReplicaSeen] = dataclasses.field(default_factory=list)
    claims: list[ClaimSeen] = dataclasses.field(default_factory=list)
    # Days retracted or corrected after publishing, oldest first.
    revisions: list[RevisionSeen] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The `status --json` document (its field names are a contract)."""
        doc = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        doc["daemon"] = dataclasses.asdict(self.daemon)
        doc["window"] = dataclasses.asdict(self.window)
        doc["selection"] = [dataclasses.asdict(c) for c in self.selection]
        doc["accounts"] = [dataclasses.asdict(a) for a in self.accounts]
        doc["recent"] = [r.as_json() for r in self.recent]
        doc["failures"] = [r.as_json() for r in self.failures]
        doc["replicas"] = [dataclasses.asdict(r) for r in self.replicas]
        doc["claims"] = [dataclasses.asdict(c) for c in self.claims]
        doc["revisions"] = [dataclasses.asdict(r) for r in self.revisions]
        return doc


def collect(workspace: Workspace, now: dt.datetime | None = None, recent: int = 10) -> StatusReport:
    settings = workspace.settings
    schedule = Schedule.of(settings)
    now = now or utcnow()
    today = schedule.today(now)
    start, end = schedule.window(today)
    phase = "before the first slot" if now < start else "open" if now <= end else "closed"
    ledger = workspace.ledger(create=False)
    try:
        accounts = _accounts(workspace, ledger, today.isoformat(), phase)
        selection = _selection(workspace, ledger, today)
        journal = _journal(ledger, recent, schedule)
        replicas = ledger.replicas() if ledger else []
        claims = ledger.claims(today.isoformat()) if ledger else []
        revisions = [
            RevisionSeen(
                r.day,
                r.account,
                r.event_id,
                r.kind,
                r.rev,
                r.done == r.steps,
                r.steps,
                r.done,
                r.at,
            )
            for r in (ledger.revised() if ledger else [])
        ]
    finally:
        if ledger is not None:
            ledger.close()
    complete = bool(accounts) and all(a.state == "complete" for a in accounts)
    daemon = lock.holder(settings.state_folder.daemon_lock)
    return StatusReport(
        now=schedule.local(now),
        timezone=settings.timezone,
        today=today.isoformat(),
        daemon=DaemonState(daemon.held, daemon.pid if daemon.held else None),
        slots=[schedule.local(s) for s in schedule.slots(today)],
        window=Window(schedule.local(start), schedule.local(end), phase),
        due_now=phase == "open" and not complete and bool(accounts),
        next_run=schedule.local(next_slot(schedule, now, skip_today=complete)),
        selection=selection,
        accounts=accounts,
        recent=[r for r in journal if r.kind != "failed"],
        failures=[r for r in journal if r.kind == "failed"],
        ledger="postgresql" if settings.ledger else "sqlite",
        replicas=replicas,
        claims=claims,
        revisions=revisions,
    )


def _accounts(
    workspace: Workspace, ledger: LedgerStore | None, day: str, phase: str
) -> list[AccountState]:
    accounts = []
    for name, account in workspace.settings.active_accounts().items():
        rows = ledger.parts(day, name) if ledger else []
        done = sum(r.state == SENT for r in rows)
        if rows and done == len(rows):
            state = "complete"
        elif done:
            state = "partial"
        elif rows:
            state = "pending"
        else:
            state = {"open": "due", "closed": "missed"}.get(phase, "scheduled")
        error = ledger.last_failure(day, name) if ledger and state != "complete" else None
        urls = [url for r in rows if r.state == SENT and (url := r.url or r.uri)]
        accounts.append(AccountState(name, account.platform, state, done, len(rows), urls, error))
    return accounts


def _selection(workspace: Workspace, ledger: LedgerStore | None, today: dt.date) -> list[Chosen]:
    planned = ledger.events_on(today) if ledger else []
    candidates = {event.id: event for event in workspace.candidates(today)}
    chosen = planned or [event.id for event in workspace.select(today, history=ledger)]
    selection = []
    for event_id in chosen:
        event = candidates.get(event_id)
        selection.append(
            Chosen(
                id=event_id,
                title=event.title if event else None,
                year=event.year if event else None,
                path=event.path if event else None,
                planned=event_id in planned,
            )
        )
    return selection


def _journal(ledger: LedgerStore | None, recent: int, schedule: Schedule) -> list[JournalEntry]:
    if ledger is None:
        return []
    return [
        JournalEntry(
            at=schedule.local(dt.datetime.fromisoformat(row["at"])) if row["at"] else None,
            day=row["day"],
            account=row["account"],
            event=row["event_id"],
            part=None if row["idx"] is None else row["idx"] + 1,
            kind=row["kind"],
            detail=row["detail"],
        )
        for row in ledger.recent_journal(recent, RECENT_KINDS)
    ]


def render(report: StatusReport) -> str:
    lines = [f"thisday status — {report.now} ({report.timezone})"]
    daemon = report.daemon
    if daemon.running:
        pid = f" (pid {daemon.pid})" if daemon.pid else ""
        lines.append(f"daemon:    running{pid}")
    else:
        lines.append("daemon:    not running")
    lines.append(
        f"today:     {report.today}, slots {', '.join(s[11:19] for s in report.slots)}; "
        f"catch-up window until {report.window.end} ({report.window.state})"
    )
    due = " — today's thread is due now" if report.due_now else ""
    lines.append(f"next run:  {report.next_run}{due}")
    lines.extend(_selection_lines(report.selection))
    lines.append("accounts:")
    for account in report.accounts:
        count = f" {account.parts_sent}/{account.parts}" if account.parts else ""
        lines.append(f"  {account.account} ({account.platform}): {account.state}{count}")
        lines.extend(f"      {url}" for url in account.urls)
        if account.error:
            lines.append(f"      last error: {account.error}")
    if report.ledger != "sqlite":
        lines.append(f"replicas:  {sum(r.live for r in report.replicas)} live ({report.ledger})")
        for replica in report.replicas:
            state = "live" if replica.live else f"not seen for {replica.age:.0f} s"
            lines.append(
                f"  {replica.name}  host {replica.host}  pid {replica.pid}  "
                f"last seen {replica.last_seen} ({state})"
            )
        for claim in report.claims:
            lease = (
                f"lease {claim.expires_in:.0f} s left"
                if claim.expires_in > 0
                else f"lease expired {-claim.expires_in:.0f} s ago"
            )
            lines.append(f"  claim {claim.account}: {claim.holder} (token {claim.token}, {lease})")
    if report.revisions:
        lines.append("retracted and corrected:")
        for rev in report.revisions[-10:]:
            what = "retracted" if rev.kind == "retract" else "corrected"
            left = "" if rev.complete else f" — unfinished ({rev.done}/{rev.steps} steps)"
            lines.append(f"  {rev.day}  {rev.account}  {rev.event}: {what}{left}")
    if report.recent:
        lines.append("last publishes:")
        for row in report.recent:
            part = f" part {row.part}" if row.part else ""
            lines.append(
                f"  {row.at}  {row.day}  {row.account}  {row.event}{part}  {row.detail or ''}"
            )
    if report.failures:
        lines.append("failures:")
        lines.extend(
            f"  {row.at}  {row.day}  {row.account}  {row.event}: {row.detail}"
            for row in report.failures
        )
    return "\n".join(lines)


def _selection_lines(selection: list[Chosen]) -> list[str]:
    if not selection:
        return ["selection: no event for today"]
    lines = []
    for n, event in enumerate(selection):
        label = "selection:" if n == 0 else ""
        year = f" ({event.year})" if event.year is not None else ""
        title = event.title or "(file no longer valid)"
        planned = "  [planned]" if event.planned else ""
        lines.append(f"{label:<10} {event.id} — {title}{year}{planned}")
    return lines
