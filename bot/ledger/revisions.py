"""Retractions and corrections of published threads (schema 3, `thisday retract` and
`correct`), written once for both backends.

Each run plans numbered steps (one request each) committed durably before the first
request; a step goes planned → sending → done like a part, and one found in `sending` by a
later process is `uncertain`. A retraction marks its days never to publish again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.ledger.base import Remote, Revised, Row, Step, now_utc, remote_json
from bot.ledger.sql import (
    WHERE_PART,
    WHERE_STEP,
    Db,
    SqlLedger,
    journal,
    key,
    payload_json,
    step_key,
)


class RevisionQueries(SqlLedger):
    def plan_revision(self, steps: Sequence[Step], *, retract: bool = False) -> None:
        """Every step of a retraction or correction at once, before the first request; a
        retraction also marks its days never to be published again."""
        at = now_utc()

        def work(db: Db) -> None:
            inserted = 0
            for step in steps:
                step.planned_at = step.planned_at or at
                cursor = db.execute(
                    "INSERT INTO revisions (day, account, event_id, rev, step, kind, op, platform,"
                    " payload, state, attempts, planned_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', 0, ?)"
                    + self.dialect.repeatable,
                    (*step_key(step), step.kind, step.op, step.platform,
                     payload_json(step.payload), step.planned_at),
                )  # fmt: skip
                inserted += cursor.rowcount
            for day, account in sorted({(s.day, s.account) for s in steps}):
                if retract:
                    db.execute(
                        "INSERT INTO retractions (day, account, at) VALUES (?, ?, ?)"
                        " ON CONFLICT DO NOTHING",
                        (day, account, at),
                    )
                if inserted:
                    kind = "retract" if retract else "correct"
                    count = sum(1 for s in steps if (s.day, s.account) == (day, account))
                    journal(db, day, account, None, None, f"{kind}-planned", f"{count} steps")

        self._write(work, durable=True)

    def revisions(self, day: str, account: str) -> list[Step]:
        return self._read(
            lambda db: [
                Step.from_sql(r)
                for r in db.execute(
                    "SELECT * FROM revisions WHERE day = ? AND account = ?"
                    " ORDER BY event_id, rev, step",
                    (day, account),
                )
            ]
        )

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
        body = payload_json(payload if payload is not None else step.payload)

        def work(db: Db) -> None:
            if state == "sending":
                db.execute(
                    "UPDATE revisions SET state = 'sending', attempts = attempts + 1,"
                    " sending_at = ?, payload = ?, error = NULL" + WHERE_STEP,
                    (at, body, *step_key(step)),
                )
            else:
                db.execute(
                    "UPDATE revisions SET state = ?, error = ?" + WHERE_STEP,
                    (state, error, *step_key(step)),
                )
            journal(db, step.day, step.account, step.event_id, None, f"{step.kind}-{state}",
                    f"step {step.step} {step.op}" + (f": {error}" if error else ""))  # fmt: skip

        self._write(work, durable=state == "sending")
        if payload is not None:
            step.payload = payload
        if state == "sending":
            step.attempts += 1
            step.sending_at = at
        step.state, step.error = state, error

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

        def work(db: Db) -> None:
            db.execute(
                "UPDATE revisions SET state = 'done', done_at = ?, result = ?, error = NULL"
                + WHERE_STEP,
                (at, json.dumps(found), *step_key(step)),
            )
            drop_part = "DELETE FROM parts" + WHERE_PART
            for idx in drop:
                db.execute(drop_part, (step.day, step.account, step.event_id, idx))
            for row in put:
                db.execute(drop_part, key(row))
                db.execute(
                    "INSERT INTO parts (day, event_id, account, idx, total, platform, payload,"
                    " handle, created_at, state, attempts, planned_at, sending_at, sent_at,"
                    " remote_id, uri, cid, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?,"
                    " ?, ?, ?, ?, ?, ?)",
                    (row.day, row.event_id, row.account, row.idx, row.total, row.platform,
                     payload_json(row.payload), row.key, row.created_at, row.attempts,
                     row.planned_at, row.sending_at, at, row.remote_id, row.uri, row.cid,
                     row.url),
                )  # fmt: skip
            detail = ", ".join(r.get("url") or r.get("uri") or r.get("id") or "" for r in found)
            journal(db, step.day, step.account, step.event_id, None, f"{step.kind}-done",
                    f"step {step.step} {step.op} {detail}".rstrip())  # fmt: skip

        self._write(work)
        step.state, step.done_at, step.result = "done", at, found

    def steps_after_crash(self, day: str, account: str) -> list[Step]:
        """Steps left `sending` by a process that died: their outcome is unknown."""

        def work(db: Db) -> list[Step]:
            steps = [
                Step.from_sql(r)
                for r in db.execute(
                    "SELECT * FROM revisions WHERE day = ? AND account = ? AND state = 'sending'"
                    + self.dialect.lock_rows,
                    (day, account),
                )
            ]
            for step in steps:
                db.execute(
                    "UPDATE revisions SET state = 'uncertain'" + WHERE_STEP,
                    step_key(step),
                )
                step.state = "uncertain"
                journal(db, day, account, step.event_id, None, f"{step.kind}-uncertain",
                        f"step {step.step} found in sending at start")  # fmt: skip
            return steps

        return self._write(work)

    def retracted(self, day: str, account: str) -> bool:
        found = self._read(
            lambda db: db.execute(
                "SELECT 1 FROM retractions WHERE day = ? AND account = ?", (day, account)
            ).fetchone()
        )
        return found is not None

    def unretract(self, day: str, account: str) -> None:
        """`publish --force`: forget the retracted thread's parts (their history stays in
        `revisions` and the journal) so the day is planned afresh."""

        def work(db: Db) -> None:
            db.execute("DELETE FROM parts WHERE day = ? AND account = ?", (day, account))
            db.execute("DELETE FROM retractions WHERE day = ? AND account = ?", (day, account))
            journal(db, day, account, None, None, "unretracted", "publish --force")

        self._write(work, durable=True)

    def revised(self) -> list[Revised]:
        rows = self._read(
            lambda db: db.execute(
                "SELECT day, account, event_id, rev, kind, COUNT(*) AS steps,"
                " SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS done,"
                " MIN(planned_at) AS at FROM revisions"
                " GROUP BY day, account, event_id, rev, kind ORDER BY day, account, event_id, rev"
            ).fetchall()
        )
        return [
            Revised(**{**dict(r), "steps": int(r["steps"]), "done": int(r["done"])}) for r in rows
        ]
