"""`thisday status`: the next run, today's selection, the last publishes and failures — all
from the config, the posts folder and the ledger (the daemon need not be running)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.daemon.scheduler import Schedule, next_slot, utcnow
from bot.daemon.service import lock_holder
from bot.ledger.store import SENT, Ledger
from bot.workspace import Workspace

RECENT_KINDS = ("sent", "reconciled", "failed")


def ledger_figures(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Per account: parts sent, failed publish runs, time of the last part sent."""
    sent: dict[str, int] = {}
    last: dict[str, str] = {}
    for row in ledger.db.execute(
        "SELECT account, COUNT(*) AS n, MAX(sent_at) AS last FROM parts"
        " WHERE state = 'sent' GROUP BY account"
    ):
        sent[row["account"]] = row["n"]
        last[row["account"]] = row["last"]
    failed = {
        row["account"]: row["n"]
        for row in ledger.db.execute(
            "SELECT account, COUNT(*) AS n FROM journal WHERE kind = 'failed' GROUP BY account"
        )
    }
    return {"sent": sent, "failed": failed, "last_sent": last}


def collect(
    workspace: Workspace, now: dt.datetime | None = None, recent: int = 10
) -> dict[str, Any]:
    settings = workspace.settings
    schedule = Schedule.of(settings)
    now = now or utcnow()
    zone = settings.zone
    today = schedule.today(now)
    key = today.isoformat()
    start, end = schedule.window(today)
    phase = "before the first slot" if now < start else "open" if now <= end else "closed"
    ledger = workspace.ledger(create=False)

    def local(moment: dt.datetime | str | None) -> str | None:
        if moment is None:
            return None
        if isinstance(moment, str):
            moment = dt.datetime.fromisoformat(moment)
        return moment.astimezone(zone).isoformat(timespec="seconds")

    accounts = []
    for name, account in settings.active_accounts().items():
        rows = ledger.parts(key, name) if ledger else []
        done = sum(r.state == SENT for r in rows)
        if rows and done == len(rows):
            state = "complete"
        elif done:
            state = "partial"
        elif rows:
            state = "pending"
        else:
            state = {"open": "due", "closed": "missed"}.get(phase, "scheduled")
        error = _last_failure(ledger, key, name) if ledger and state != "complete" else None
        accounts.append(
            {
                "account": name,
                "platform": account.platform,
                "state": state,
                "parts_sent": done,
                "parts": len(rows),
                "urls": [r.url or r.uri for r in rows if r.state == SENT and (r.url or r.uri)],
                "error": error,
            }
        )
    complete = bool(accounts) and all(a["state"] == "complete" for a in accounts)

    planned = ledger.events_on(today) if ledger else []
    candidates = {event.id: event for event in workspace.candidates(today)}
    chosen = planned or [event.id for event in workspace.select(today, history=ledger)]
    selection = []
    for event_id in chosen:
        event = candidates.get(event_id)
        selection.append(
            {
                "id": event_id,
                "title": event.title if event else None,
                "year": event.year if event else None,
                "path": event.path if event else None,
                "planned": event_id in planned,
            }
        )

    journal = ledger.recent_journal(recent, RECENT_KINDS) if ledger else []
    last = [
        {
            "at": local(row["at"]),
            "day": row["day"],
            "account": row["account"],
            "event": row["event_id"],
            "part": None if row["idx"] is None else row["idx"] + 1,
            "kind": row["kind"],
            "url" if row["kind"] != "failed" else "error": row["detail"],
        }
        for row in journal
    ]
    pid = lock_holder(settings.state_dir)
    if ledger is not None:
        ledger.close()
    return {
        "now": local(now),
        "timezone": settings.timezone,
        "today": key,
        "daemon": {"running": pid is not None, "pid": pid if pid and pid > 0 else None},
        "slots": [local(s) for s in schedule.slots(today)],
        "window": {"start": local(start), "end": local(end), "state": phase},
        "due_now": phase == "open" and not complete and bool(accounts),
        "next_run": local(next_slot(schedule, now, skip_today=complete)),
        "selection": selection,
        "accounts": accounts,
        "recent": [r for r in last if r["kind"] != "failed"],
        "failures": [r for r in last if r["kind"] == "failed"],
    }


def _last_failure(ledger: Ledger, day: str, account: str) -> str | None:
    row = ledger.db.execute(
        "SELECT detail FROM journal WHERE day = ? AND account = ? AND kind = 'failed'"
        " ORDER BY id DESC LIMIT 1",
        (day, account),
    ).fetchone()
    return row["detail"] if row else None


def render(doc: dict[str, Any]) -> str:
    lines = [f"thisday status — {doc['now']} ({doc['timezone']})"]
    daemon = doc["daemon"]
    if daemon["running"]:
        pid = f" (pid {daemon['pid']})" if daemon["pid"] else ""
        lines.append(f"daemon:    running{pid}")
    else:
        lines.append("daemon:    not running")
    window = doc["window"]
    lines.append(
        f"today:     {doc['today']}, slots {', '.join(s[11:19] for s in doc['slots'])}; "
        f"catch-up window until {window['end']} ({window['state']})"
    )
    due = " — today's thread is due now" if doc["due_now"] else ""
    lines.append(f"next run:  {doc['next_run']}{due}")
    if doc["selection"]:
        for n, event in enumerate(doc["selection"]):
            label = "selection:" if n == 0 else ""
            year = f" ({event['year']})" if event["year"] is not None else ""
            title = event["title"] or "(file no longer valid)"
            planned = "  [planned]" if event["planned"] else ""
            lines.append(f"{label:<10} {event['id']} — {title}{year}{planned}")
    else:
        lines.append("selection: no event for today")
    lines.append("accounts:")
    for account in doc["accounts"]:
        count = f" {account['parts_sent']}/{account['parts']}" if account["parts"] else ""
        lines.append(f"  {account['account']} ({account['platform']}): {account['state']}{count}")
        for url in account["urls"]:
            lines.append(f"      {url}")
        if account["error"]:
            lines.append(f"      last error: {account['error']}")
    if doc["recent"]:
        lines.append("last publishes:")
        for row in doc["recent"]:
            part = f" part {row['part']}" if row["part"] else ""
            lines.append(
                f"  {row['at']}  {row['day']}  {row['account']}  {row['event']}{part}  "
                f"{row['url'] or ''}"
            )
    if doc["failures"]:
        lines.append("failures:")
        for row in doc["failures"]:
            lines.append(
                f"  {row['at']}  {row['day']}  {row['account']}  {row['event']}: {row['error']}"
            )
    return "\n".join(lines)
