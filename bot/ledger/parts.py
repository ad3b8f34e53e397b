"""The parts of published threads, written once for both backends: planning, the states a
part goes through (planned → sending → sent, or uncertain), the questions selection and
`status` ask, and engagement snapshots.

`sending` (with the idempotency key) is committed durably BEFORE the request leaves;
`sent` (with the remote ids) after the answer. A part found in `sending` by a later process
is `uncertain`: the publisher must look before it resends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from bot.ledger.base import (
    ENGAGEMENT_COLUMNS,
    PLANNED,
    SENDING,
    SENT,
    UNCERTAIN,
    Claim,
    Figures,
    Remote,
    Row,
    Snapshot,
    State,
    group_threads,
    now_utc,
)
from bot.ledger.sql import WHERE_PART, Db, SqlLedger, journal, journal_row, key, payload_json


class PartQueries(SqlLedger):
    # -- planning -----------------------------------------------------------------------

    def plan(self, rows: Sequence[Row], *, claim: Claim | None = None) -> None:
        """Record a whole thread's parts at once (all or nothing). On PostgreSQL a repeat
        after a lost answer changes nothing: the caller reads the thread back."""

        def work(db: Db) -> None:
            inserted = 0
            for row in rows:
                cursor = db.execute(
                    "INSERT INTO parts (day, event_id, account, idx, total, platform, payload,"
                    " handle, created_at, state, attempts, planned_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', 0, ?)"
                    + self.dialect.repeatable,
                    (row.day, row.event_id, row.account, row.idx, row.total, row.platform,
                     payload_json(row.payload), row.key, row.created_at, row.planned_at),
                )  # fmt: skip
                inserted += cursor.rowcount
            if rows and inserted:
                first = rows[0]
                journal(db, first.day, first.account, first.event_id, None, "planned",
                        f"{len(rows)} parts")  # fmt: skip

        self._write(work, claim=claim)

    def parts(self, day: str, account: str | None = None) -> list[Row]:
        sql = "SELECT * FROM parts WHERE day = ?"
        args: list[Any] = [day]
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        sql += " ORDER BY account, planned_at, event_id, idx"
        return self._read(lambda db: [Row.from_sql(r) for r in db.execute(sql, args)])

    def threads(self, day: str, account: str) -> dict[str, list[Row]]:
        """The day's planned threads for an account, by event id, parts in order."""
        return group_threads(self.parts(day, account))

    # -- state changes (fenced on a shared ledger) -------------------------------------

    def mark_sending(
        self,
        rows: Sequence[Row],
        created_at: Sequence[str | None] | None = None,
        *,
        claim: Claim | None = None,
    ) -> None:
        """Committed before the request leaves: a crash after this leaves `sending` behind."""
        at = now_utc()
        stamps = [
            row.created_at or (created_at[n] if created_at else None) for n, row in enumerate(rows)
        ]
        self._change(
            "state = 'sending', attempts = attempts + 1, sending_at = ?, created_at = ?,"
            " error = NULL",
            [
                (row, (at, stamp), "sending", f"attempt {row.attempts + 1}")
                for row, stamp in zip(rows, stamps, strict=True)
            ],
            durable=True,
            claim=claim,
        )
        for row, stamp in zip(rows, stamps, strict=True):
            row.state, row.sending_at, row.created_at = SENDING, at, stamp
            row.attempts += 1

    def mark_sent(
        self,
        rows: Sequence[Row],
        remotes: Sequence[Remote],
        how: str = "sent",
        *,
        claim: Claim | None = None,
    ) -> None:
        at = now_utc()
        self._change(
            "state = 'sent', sent_at = ?, remote_id = ?, uri = ?, cid = ?, url = ?, error = NULL",
            [
                (
                    row,
                    (at, remote.id, remote.uri, remote.cid, remote.url),
                    how,
                    remote.url or remote.uri or remote.id,
                )
                for row, remote in zip(rows, remotes, strict=True)
            ],
            claim=claim,
        )
        for row, remote in zip(rows, remotes, strict=True):
            row.state, row.sent_at = SENT, at
            row.remote_id, row.uri, row.cid, row.url = remote.id, remote.uri, remote.cid, remote.url
            row.error = None

    def mark(
        self,
        rows: Iterable[Row],
        state: State,
        error: str | None = None,
        *,
        claim: Claim | None = None,
    ) -> None:
        """Back to `planned` (known not sent) or to `uncertain` (maybe sent), with the reason."""
        assert state in (PLANNED, UNCERTAIN)
        wanted = list(rows)

        self._change(
            "state = ?, error = ?",
            [(row, (str(state), error), str(state), error) for row in wanted],
            claim=claim,
        )
        for row in wanted:
            row.state, row.error = state, error

    def note(self, day: str, account: str, event_id: str | None, kind: str, detail: str) -> None:
        self._write(lambda db: journal(db, day, account, event_id, None, kind, detail))

    def uncertain_after_crash(
        self, day: str, account: str, *, claim: Claim | None = None
    ) -> list[Row]:
        """Parts left `sending` by a process that died (or a replica that lost its claim):
        their outcome is unknown."""

        def work(db: Db) -> list[Row]:
            found = [
                Row.from_sql(r)
                for r in db.execute(
                    "SELECT * FROM parts WHERE day = ? AND account = ? AND state = 'sending'",
                    (day, account),
                )
            ]
            for row in found:
                db.execute("UPDATE parts SET state = 'uncertain'" + WHERE_PART, key(row))
                journal_row(db, row, "uncertain", "found in sending at start")
            return found

        return self._write(work, claim=claim)

    def _change(
        self,
        assignments: str,
        changes: Sequence[tuple[Row, Sequence[Any], str, str | None]],
        *,
        durable: bool = False,
        claim: Claim | None = None,
    ) -> None:
        """Per (part, values of `assignments`, journal kind, detail): the part updated and
        the change journaled, all in one transaction that reads nothing back."""

        def work(db: Db) -> None:
            for row, values, kind, detail in changes:
                db.execute(f"UPDATE parts SET {assignments}" + WHERE_PART, (*values, *key(row)))
                journal_row(db, row, kind, detail)

        self._write(work, durable=durable, claim=claim, pipelined=True)

    # -- questions (selection's History, status) ----------------------------------------

    def events_on(self, day: dt.date) -> list[str]:
        return self._read(
            lambda db: [
                r["event_id"]
                for r in db.execute(
                    "SELECT event_id, MIN(planned_at) AS first FROM parts WHERE day = ?"
                    " GROUP BY event_id ORDER BY first",
                    (day.isoformat(),),
                )
            ]
        )

    def last_published(self, ids: Iterable[str], before: dt.date) -> dict[str, dt.date]:
        wanted = list(ids)

        def work(db: Db) -> dict[str, dt.date]:
            out: dict[str, dt.date] = {}
            for chunk in self.dialect.chunks(wanted):
                among, args = self.dialect.among("event_id", chunk)
                for r in db.execute(
                    f"SELECT event_id, MAX(day) AS last FROM parts WHERE day < ? AND {among}"
                    " GROUP BY event_id",
                    (before.isoformat(), *args),
                ):
                    out[r["event_id"]] = dt.date.fromisoformat(r["last"])
            return out

        return self._read(work) if wanted else {}

    def complete(self, day: str, account: str) -> bool:
        """Every planned part of the day's threads for the account is sent (and some exist)."""
        row = self._read(
            lambda db: db.execute(
                "SELECT COUNT(*) AS n, SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS done"
                " FROM parts WHERE day = ? AND account = ?",
                (day, account),
            ).fetchone()
        )
        return bool(row["n"]) and row["n"] == row["done"]

    def published_days(self) -> dict[str, set[str]]:
        """Day -> accounts whose thread that day is complete."""
        rows = self._read(
            lambda db: db.execute(
                "SELECT day, account FROM parts GROUP BY day, account"
                " HAVING SUM(CASE WHEN state <> 'sent' THEN 1 ELSE 0 END) = 0"
            ).fetchall()
        )
        out: dict[str, set[str]] = {}
        for r in rows:
            out.setdefault(r["day"], set()).add(r["account"])
        return out

    def recent_journal(
        self, limit: int = 50, kinds: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM journal"
        args: list[Any] = []
        if kinds:
            among, args = self.dialect.among("kind", kinds)
            sql += f" WHERE {among}"
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return self._read(lambda db: [dict(r) for r in db.execute(sql, args)])

    def figures(self) -> Figures:
        """Per account: parts sent, failed publish runs, time of the last part sent."""

        def work(db: Db) -> Figures:
            sent: dict[str, int] = {}
            last: dict[str, str] = {}
            for row in db.execute(
                "SELECT account, COUNT(*) AS n, MAX(sent_at) AS last FROM parts"
                " WHERE state = 'sent' GROUP BY account"
            ):
                sent[row["account"]] = int(row["n"])
                last[row["account"]] = row["last"]
            failed = {
                row["account"]: int(row["n"])
                for row in db.execute(
                    "SELECT account, COUNT(*) AS n FROM journal WHERE kind = 'failed'"
                    " GROUP BY account"
                )
            }
            return Figures(sent, failed, last)

        return self._read(work)

    def last_failure(self, day: str, account: str) -> str | None:
        """The error of the last failed publish run of a day's thread on an account."""
        row = self._read(
            lambda db: db.execute(
                "SELECT detail FROM journal WHERE day = ? AND account = ? AND kind = 'failed'"
                " ORDER BY id DESC LIMIT 1",
                (day, account),
            ).fetchone()
        )
        return str(row["detail"]) if row else None

    # -- engagement snapshots (schema 4, `thisday stats`) ------------------------------------

    def sent_parts(
        self, since: str | None = None, until: str | None = None, account: str | None = None
    ) -> list[Row]:
        """Sent parts of days from `since` to `until` (inclusive), in thread order."""
        days, args = _days(since, until, account)
        sql = f"SELECT * FROM parts WHERE state = 'sent' AND {days}"
        sql += " ORDER BY day, account, event_id, idx"
        return self._read(lambda db: [Row.from_sql(r) for r in db.execute(sql, args)])

    def record_engagement(self, snapshots: Sequence[Snapshot]) -> None:
        if not snapshots:
            return
        marks = ", ".join("?" * len(ENGAGEMENT_COLUMNS.split(",")))
        self._write(
            lambda db: db.executemany(
                f"INSERT INTO engagement ({ENGAGEMENT_COLUMNS}) VALUES ({marks})"
                " ON CONFLICT (day, account, event_id, idx, at) DO NOTHING",
                [snapshot.sql_values() for snapshot in snapshots],
            )
        )

    def engagement(
        self, since: str | None = None, until: str | None = None, account: str | None = None
    ) -> list[Snapshot]:
        """Every snapshot of parts of days from `since` to `until`, oldest fetch first."""
        days, args = _days(since, until, account)
        sql = f"SELECT {ENGAGEMENT_COLUMNS} FROM engagement WHERE {days}"
        sql += " ORDER BY at, day, account, event_id, idx"
        return self._read(lambda db: [Snapshot.from_sql(r) for r in db.execute(sql, args)])


def _days(since: str | None, until: str | None, account: str | None) -> tuple[str, list[Any]]:
    """The condition "a day from `since` to `until` (inclusive), of `account` if given"."""
    sql = "day >= ? AND day <= ?"
    args: list[Any] = [since or "0000", until or "9999"]
    if account is not None:
        sql += " AND account = ?"
        args.append(account)
    return sql, args
