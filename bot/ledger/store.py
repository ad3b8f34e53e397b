"""The SQLite ledger: one row per (day, event, account, part), the truth of what was published
by a single process (the default; `bot.ledger.postgres` serves replicas).

Every part goes planned → sending → sent. `sending` (with the idempotency key) is
committed BEFORE the request leaves; `sent` (with the remote ids) after the answer. A part
found in `sending` by a later process is `uncertain`: the publisher must look before it
resends. The schema only ever grows by appended migrations (bot.ledger.base): operators'
ledgers live for years and upgrade in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bot.ledger.base import (
    ENGAGEMENT_COLUMNS,
    MIGRATIONS,
    PLANNED,
    SENDING,
    SENT,
    UNCERTAIN,
    Claim,
    ClaimSeen,
    Figures,
    LockedError,
    NotALedger,
    Remote,
    ReplicaSeen,
    Revised,
    Row,
    Snapshot,
    State,
    Step,
    now_utc,
    remote_json,
    statements,
)

__all__ = [
    "MIGRATIONS",
    "PLANNED",
    "SENDING",
    "SENT",
    "UNCERTAIN",
    "Figures",
    "Ledger",
    "LockedError",
    "NotALedger",
    "Remote",
    "Row",
    "State",
    "now_utc",
]


class Ledger:
    replicated = False  # one process at a time (the publish lock), no claims

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._migrate(self.db)
        except sqlite3.DatabaseError as exc:
            # A corrupt file, or another program's database: never a bare DatabaseError.
            self.close()
            raise NotALedger(
                f"{path} is not a thisday ledger ({exc}): move it aside, or point `state` at "
                "the folder that holds the real one"
            ) from None

    @property
    def where(self) -> str:
        return str(self.path)

    # -- connection and schema ----------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        """One connection per thread: accounts publish concurrently."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            self._local.synchronous = None

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction. `durable` ones reach the disk before COMMIT returns.

        Only `sending` must survive a power cut before its request leaves; the WAL is
        append-only, so flushing it then also flushes everything written before. Other
        changes lost to a power cut are recovered by reconciliation (a part left `sending`
        is looked up before it is resent)."""
        db = self.db
        level = "FULL" if durable else "NORMAL"
        if getattr(self._local, "synchronous", None) != level:
            db.execute(f"PRAGMA synchronous={level}")
            self._local.synchronous = level
        # Our own threads take turns here: SQLite's busy handler would make the loser sleep
        # a millisecond or more, in the middle of a thread being published.
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            foreign = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 3"
            ).fetchall()
            if foreign:
                names = ", ".join(str(r[0]) for r in foreign)
                raise sqlite3.DatabaseError(f"it holds other tables: {names}")
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"the ledger has schema version {version}, newer than this thisday "
                f"({len(MIGRATIONS)}): upgrade thisday"
            )
        for number in range(version, len(MIGRATIONS)):
            db.execute("BEGIN IMMEDIATE")
            try:
                # executescript would commit on its own; run statement by statement instead.
                for statement in statements(MIGRATIONS[number]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextlib.contextmanager
    def publish_lock(self, wait: bool = True) -> Iterator[None]:
        """Only one process publishes from a state folder at a time."""
        lock_path = self.path.with_name("publish.lock")
        with open(lock_path, "a+") as handle:
            flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle, flags)
            except BlockingIOError:
                raise LockedError(f"another thisday process is publishing ({lock_path})") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- planning -----------------------------------------------------------------------

    def plan(self, rows: Sequence[Row], *, claim: Claim | None = None) -> None:
        """Record a whole thread's parts at once (all or nothing)."""
        with self.transaction() as db:
            for row in rows:
                db.execute(
                    "INSERT INTO parts (day, event_id, account, idx, total, platform, payload,"
                    " handle, created_at, state, attempts, planned_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', 0, ?)",
                    (
                        row.day,
                        row.event_id,
                        row.account,
                        row.idx,
                        row.total,
                        row.platform,
                        json.dumps(row.payload, ensure_ascii=False, sort_keys=True),
                        row.key,
                        row.created_at,
                        row.planned_at,
                    ),
                )
            if rows:
                first = rows[0]
                self._log(
                    db,
                    first.day,
                    first.account,
                    first.event_id,
                    None,
                    "planned",
                    f"{len(rows)} parts",
                )

    def parts(self, day: str, account: str | None = None) -> list[Row]:
        sql = "SELECT * FROM parts WHERE day = ?"
        args: list[Any] = [day]
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        sql += " ORDER BY account, planned_at, event_id, idx"
        return [Row.from_sql(r) for r in self.db.execute(sql, args)]

    def threads(self, day: str, account: str) -> dict[str, list[Row]]:
        """The day's planned threads for an account, by event id, parts in order."""
        out: dict[str, list[Row]] = {}
        for row in self.parts(day, account):
            out.setdefault(row.event_id, []).append(row)
        return out

    # -- state changes ------------------------------------------------------------------

    def mark_sending(
        self,
        rows: Sequence[Row],
        created_at: Sequence[str | None] | None = None,
        *,
        claim: Claim | None = None,
    ) -> None:
        """Committed before the request leaves: a crash after this leaves `sending` behind."""
        at = now_utc()
        with self.transaction(durable=True) as db:
            for n, row in enumerate(rows):
                stamp = row.created_at or (created_at[n] if created_at else None)
                db.execute(
                    "UPDATE parts SET state = 'sending', attempts = attempts + 1, sending_at = ?,"
                    " created_at = ?, error = NULL"
                    " WHERE day = ? AND account = ? AND event_id = ? AND idx = ?",
                    (at, stamp, *self._key(row)),
                )
                row.state, row.sending_at, row.created_at = SENDING, at, stamp
                row.attempts += 1
                self._log_row(
                    db,
                    row,
                    "sending",
                    f"attempt {row.attempts}",
                )

    def mark_sent(
        self,
        rows: Sequence[Row],
        remotes: Sequence[Remote],
        how: str = "sent",
        *,
        claim: Claim | None = None,
    ) -> None:
        at = now_utc()
        with self.transaction() as db:
            for row, remote in zip(rows, remotes, strict=True):
                db.execute(
                    "UPDATE parts SET state = 'sent', sent_at = ?, remote_id = ?, uri = ?, cid = ?,"
                    " url = ?, error = NULL"
                    " WHERE day = ? AND account = ? AND event_id = ? AND idx = ?",
                    (at, remote.id, remote.uri, remote.cid, remote.url, *self._key(row)),
                )
                row.state, row.sent_at = SENT, at
                row.remote_id, row.uri, row.cid, row.url = (
                    remote.id,
                    remote.uri,
                    remote.cid,
                    remote.url,
                )
                row.error = None
                self._log_row(
                    db,
                    row,
                    how,
                    remote.url or remote.uri or remote.id,
                )

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
        with self.transaction() as db:
            for row in rows:
                db.execute(
                    "UPDATE parts SET state = ?, error = ?"
                    " WHERE day = ? AND account = ? AND event_id = ? AND idx = ?",
                    (state, error, *self._key(row)),
                )
                row.state, row.error = state, error
                self._log_row(db, row, state, error)

    def note(self, day: str, account: str, event_id: str | None, kind: str, detail: str) -> None:
        with self.transaction() as db:
            self._log(db, day, account, event_id, None, kind, detail)

    def uncertain_after_crash(
        self, day: str, account: str, *, claim: Claim | None = None
    ) -> list[Row]:
        """Parts left `sending` by a process that died: their outcome is unknown."""
        found = self.db.execute(
            "SELECT 1 FROM parts WHERE day = ? AND account = ? AND state = 'sending' LIMIT 1",
            (day, account),
        ).fetchone()
        if found is None:
            return []  # the usual case, without taking the write lock
        with self.transaction() as db:
            rows = [
                Row.from_sql(r)
                for r in db.execute(
                    "SELECT * FROM parts WHERE day = ? AND account = ? AND state = 'sending'",
                    (day, account),
                )
            ]
            for row in rows:
                db.execute(
                    "UPDATE parts SET state = 'uncertain' WHERE day = ? AND account = ?"
                    " AND event_id = ? AND idx = ?",
                    self._key(row),
                )
                self._log_row(
                    db,
                    row,
                    "uncertain",
                    "found in sending at start",
                )
        return rows

    # -- questions (selection's History, status) ----------------------------------------

    def events_on(self, day: dt.date) -> list[str]:
        rows = self.db.execute(
            "SELECT event_id, MIN(planned_at) AS first FROM parts WHERE day = ?"
            " GROUP BY event_id ORDER BY first",
            (day.isoformat(),),
        )
        return [r["event_id"] for r in rows]

    def last_published(self, ids: Iterable[str], before: dt.date) -> dict[str, dt.date]:
        wanted = list(ids)
        out: dict[str, dt.date] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.execute(
                "SELECT event_id, MAX(day) AS last FROM parts"
                f" WHERE day < ? AND event_id IN ({marks}) GROUP BY event_id",
                (before.isoformat(), *chunk),
            ):
                out[r["event_id"]] = dt.date.fromisoformat(r["last"])
        return out

    def complete(self, day: str, account: str) -> bool:
        """Every planned part of the day's threads for the account is sent (and some exist)."""
        row = self.db.execute(
            "SELECT COUNT(*) AS n, SUM(state = 'sent') AS done FROM parts"
            " WHERE day = ? AND account = ?",
            (day, account),
        ).fetchone()
        return bool(row["n"]) and row["n"] == row["done"]

    def published_days(self) -> dict[str, set[str]]:
        """Day -> accounts whose thread that day is complete."""
        out: dict[str, set[str]] = {}
        for r in self.db.execute(
            "SELECT day, account FROM parts GROUP BY day, account HAVING SUM(state != 'sent') = 0"
        ):
            out.setdefault(r["day"], set()).add(r["account"])
        return out

    def recent_journal(
        self, limit: int = 50, kinds: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM journal"
        args: list[Any] = []
        if kinds:
            sql += f" WHERE kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [dict(r) for r in self.db.execute(sql, args)]

    def figures(self) -> Figures:
        """Per account: parts sent, failed publish runs, time of the last part sent."""
        sent: dict[str, int] = {}
        last: dict[str, str] = {}
        for row in self.db.execute(
            "SELECT account, COUNT(*) AS n, MAX(sent_at) AS last FROM parts"
            " WHERE state = 'sent' GROUP BY account"
        ):
            sent[row["account"]] = row["n"]
            last[row["account"]] = row["last"]
        failed = {
            row["account"]: row["n"]
            for row in self.db.execute(
                "SELECT account, COUNT(*) AS n FROM journal WHERE kind = 'failed' GROUP BY account"
            )
        }
        return Figures(sent, failed, last)

    def last_failure(self, day: str, account: str) -> str | None:
        """The error of the last failed publish run of a day's thread on an account."""
        row = self.db.execute(
            "SELECT detail FROM journal WHERE day = ? AND account = ? AND kind = 'failed'"
            " ORDER BY id DESC LIMIT 1",
            (day, account),
        ).fetchone()
        return str(row["detail"]) if row else None

    def replicas(self) -> list[ReplicaSeen]:
        return []  # a SQLite ledger serves one process: no replicas, no claims

    def claims(self, day: str | None = None) -> list[ClaimSeen]:
        return []

    # -- retractions and corrections (schema 3) ---------------------------------------------

    def plan_revision(self, steps: Sequence[Step], *, retract: bool = False) -> None:
        """Every step of a retraction or correction at once, before the first request; a
        retraction also marks its days never to be published again."""
        at = now_utc()
        with self.transaction(durable=True) as db:
            for step in steps:
                step.planned_at = step.planned_at or at
                db.execute(
                    "INSERT INTO revisions (day, account, event_id, rev, step, kind, op, platform,"
                    " payload, state, attempts, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " 'planned', 0, ?)",
                    (*_step_key(step), step.kind, step.op, step.platform,
                     json.dumps(step.payload, ensure_ascii=False, sort_keys=True),
                     step.planned_at),
                )  # fmt: skip
            for day, account in sorted({(s.day, s.account) for s in steps}):
                if retract:
                    db.execute(
                        "INSERT INTO retractions (day, account, at) VALUES (?, ?, ?)"
                        " ON CONFLICT DO NOTHING",
                        (day, account, at),
                    )
                kind = "retract" if retract else "correct"
                count = sum(1 for s in steps if (s.day, s.account) == (day, account))
                self._log(db, day, account, None, None, f"{kind}-planned", f"{count} steps")

    def revisions(self, day: str, account: str) -> list[Step]:
        return [
            Step.from_sql(r)
            for r in self.db.execute(
                "SELECT * FROM revisions WHERE day = ? AND account = ?"
                " ORDER BY event_id, rev, step",
                (day, account),
            )
        ]

    def mark_step(
        self,
        step: Step,
        state: str,
        *,
        payload: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """`sending` is committed (durably) before the request leaves, with the payload's
        stamps fixed at the first attempt; `planned`/`uncertain` after a failed one."""
        at = now_utc()
        if payload is not None:
            step.payload = payload
        body = json.dumps(step.payload, ensure_ascii=False, sort_keys=True)
        with self.transaction(durable=state == "sending") as db:
            if state == "sending":
                db.execute(
                    "UPDATE revisions SET state = 'sending', attempts = attempts + 1,"
                    " sending_at = ?, payload = ?, error = NULL"
                    " WHERE day = ? AND account = ? AND event_id = ? AND rev = ? AND step = ?",
                    (at, body, *_step_key(step)),
                )
                step.attempts += 1
                step.sending_at = at
            else:
                db.execute(
                    "UPDATE revisions SET state = ?, error = ?"
                    " WHERE day = ? AND account = ? AND event_id = ? AND rev = ? AND step = ?",
                    (state, error, *_step_key(step)),
                )
            step.state, step.error = state, error
            self._log(db, step.day, step.account, step.event_id, None,
                      f"{step.kind}-{state}", f"step {step.step} {step.op}"
                      + (f": {error}" if error else ""))  # fmt: skip

    def finish_step(
        self,
        step: Step,
        result: Sequence[Remote],
        *,
        drop: Sequence[int] = (),
        put: Sequence[Row] = (),
    ) -> None:
        """The step is done; in the same transaction, the thread's parts become what
        followers now see (`drop`: part indexes gone; `put`: parts new or rewritten)."""
        at = now_utc()
        found = [remote_json(r) for r in result]
        with self.transaction() as db:
            db.execute(
                "UPDATE revisions SET state = 'done', done_at = ?, result = ?, error = NULL"
                " WHERE day = ? AND account = ? AND event_id = ? AND rev = ? AND step = ?",
                (at, json.dumps(found), *_step_key(step)),
            )
            for idx in drop:
                db.execute(
                    "DELETE FROM parts WHERE day = ? AND account = ? AND event_id = ? AND idx = ?",
                    (step.day, step.account, step.event_id, idx),
                )
            for row in put:
                db.execute(
                    "DELETE FROM parts WHERE day = ? AND account = ? AND event_id = ? AND idx = ?",
                    self._key(row),
                )
                db.execute(
                    "INSERT INTO parts (day, event_id, account, idx, total, platform, payload,"
                    " handle, created_at, state, attempts, planned_at, sending_at, sent_at,"
                    " remote_id, uri, cid, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?,"
                    " ?, ?, ?, ?, ?, ?)",
                    (row.day, row.event_id, row.account, row.idx, row.total, row.platform,
                     json.dumps(row.payload, ensure_ascii=False, sort_keys=True), row.key,
                     row.created_at, row.attempts, row.planned_at, row.sending_at, at,
                     row.remote_id, row.uri, row.cid, row.url),
                )  # fmt: skip
            step.state, step.done_at, step.result = "done", at, found
            detail = ", ".join(r.get("url") or r.get("uri") or r.get("id") or "" for r in found)
            self._log(
                db,
                step.day,
                step.account,
                step.event_id,
                None,
                f"{step.kind}-done",
                f"step {step.step} {step.op} {detail}".rstrip(),
            )

    def steps_after_crash(self, day: str, account: str) -> list[Step]:
        """Steps left `sending` by a process that died: their outcome is unknown."""
        with self.transaction() as db:
            steps = [
                Step.from_sql(r)
                for r in db.execute(
                    "SELECT * FROM revisions WHERE day = ? AND account = ? AND state = 'sending'",
                    (day, account),
                )
            ]
            for step in steps:
                db.execute(
                    "UPDATE revisions SET state = 'uncertain'"
                    " WHERE day = ? AND account = ? AND event_id = ? AND rev = ? AND step = ?",
                    _step_key(step),
                )
                step.state = "uncertain"
                self._log(
                    db,
                    day,
                    account,
                    step.event_id,
                    None,
                    f"{step.kind}-uncertain",
                    f"step {step.step} found in sending at start",
                )
        return steps

    def retracted(self, day: str, account: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM retractions WHERE day = ? AND account = ?", (day, account)
            ).fetchone()
            is not None
        )

    def unretract(self, day: str, account: str) -> None:
        """`publish --force`: forget the retracted thread's parts (their history stays in
        `revisions` and the journal) so the day is planned afresh."""
        with self.transaction(durable=True) as db:
            db.execute("DELETE FROM parts WHERE day = ? AND account = ?", (day, account))
            db.execute("DELETE FROM retractions WHERE day = ? AND account = ?", (day, account))
            self._log(db, day, account, None, None, "unretracted", "publish --force")

    def revised(self) -> list[Revised]:
        return [
            Revised(**dict(r))
            for r in self.db.execute(
                "SELECT day, account, event_id, rev, kind, COUNT(*) AS steps,"
                " SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS done,"
                " MIN(planned_at) AS at FROM revisions"
                " GROUP BY day, account, event_id, rev, kind ORDER BY day, account, event_id, rev"
            )
        ]

    # -- engagement snapshots (schema 4, `thisday stats`) ------------------------------------

    def sent_parts(
        self, since: str | None = None, until: str | None = None, account: str | None = None
    ) -> list[Row]:
        """Sent parts of days from `since` to `until` (inclusive), in thread order."""
        sql = "SELECT * FROM parts WHERE state = 'sent' AND day >= ? AND day <= ?"
        args: list[Any] = [since or "0000", until or "9999"]
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        sql += " ORDER BY day, account, event_id, idx"
        return [Row.from_sql(r) for r in self.db.execute(sql, args)]

    def record_engagement(self, snapshots: Sequence[Snapshot]) -> None:
        if not snapshots:
            return
        marks = ", ".join("?" * len(ENGAGEMENT_COLUMNS.split(",")))
        with self.transaction() as db:
            db.executemany(
                f"INSERT OR IGNORE INTO engagement ({ENGAGEMENT_COLUMNS}) VALUES ({marks})",
                [snapshot.sql_values() for snapshot in snapshots],
            )

    def engagement(
        self, since: str | None = None, until: str | None = None, account: str | None = None
    ) -> list[Snapshot]:
        """Every snapshot of parts of days from `since` to `until`, oldest fetch first."""
        sql = f"SELECT {ENGAGEMENT_COLUMNS} FROM engagement WHERE day >= ? AND day <= ?"
        args: list[Any] = [since or "0000", until or "9999"]
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        sql += " ORDER BY at, day, account, event_id, idx"
        return [Snapshot.from_sql(r) for r in self.db.execute(sql, args)]

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _key(row: Row) -> tuple[str, str, str, int]:
        return (row.day, row.account, row.event_id, row.idx)

    @classmethod
    def _log_row(cls, db: sqlite3.Connection, row: Row, kind: str, detail: str | None) -> None:
        cls._log(db, row.day, row.account, row.event_id, row.idx, kind, detail)

    @staticmethod
    def _log(
        db: sqlite3.Connection,
        day: str | None,
        account: str | None,
        event_id: str | None,
        idx: int | None,
        kind: str,
        detail: str | None,
    ) -> None:
        db.execute(
            "INSERT INTO journal (at, day, account, event_id, idx, kind, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now_utc(), day, account, event_id, idx, kind, detail),
        )


def _step_key(step: Step) -> tuple[str, str, str, int, int]:
    return (step.day, step.account, step.event_id, step.rev, step.step)
