"""After publishing: retract a day's thread, or correct it after its post file was edited —
on every account, exactly once across crashes, journaled in the ledger like publishing.

A retraction or correction of one thread on one account is a *revision*: numbered steps,
each one request (a Mastodon delete, edit or reply; one Bluesky applyWrites), all planned in
the ledger in one transaction before the first request. A step goes planned → sending
(committed durably before the request) → done (with what it made, and the thread's parts
rewritten to what followers now see, in the same transaction). A step found in `sending`
by a later run is `uncertain` and is looked up before anything is sent again:

    delete   Mastodon: the status answers 404; Bluesky: getRecord finds no record
    edit     the status' source already reads the new text
    create   the publisher's own `find` (Idempotency-Key memory, else a search; getRecord)
    replace  getRecord finds the new head (the applyWrites was atomic)

A retraction also marks the day retracted (table `retractions`): its parts stay `sent` in the
ledger, so neither `publish` nor the daemon plans it again; `publish --force` forgets them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import random
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.config import BlueskyAccount, MastodonAccount
from bot.content.post import Event
from bot.ledger.base import SENDING, SENT, LedgerStore, Remote, Row, Step, now_utc
from bot.publishing.keys import new_keys
from bot.publishing.pipeline import CRASH_ENV, chosen_accounts, part_json, plan_rows
from bot.publishing.publishers.base import PermanentError, Publisher, PublishError, open_publisher
from bot.render.renderer import RenderError
from bot.workspace import Workspace

log = logging.getLogger("thisday.revise")

RETRACT, CORRECT = "retract", "correct"
CORRECTION_TEMPLATE = "correction.j2"

OpenPublisher = Callable[[str, MastodonAccount | BlueskyAccount], Publisher]


class NotPublished(PermanentError):
    """The day's thread was never (completely) published on that account."""


@dataclass(slots=True)
class Result:
    """What a retraction or correction did (or would do) for one thread on one account;
    `status`: retracted, corrected, already-retracted, unchanged, dry-run, failed."""

    account: str
    platform: str
    event: str | None
    status: str
    error: str | None = None
    plan: list[str] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Reviser:
    def __init__(self, workspace: Workspace, *, opener: OpenPublisher | None = None) -> None:
        self.workspace = workspace
        self.settings = workspace.settings
        self._opener = opener
        self._publishers: dict[str, Publisher] = {}

    # -- entry points ----------------------------------------------------------------------

    def retract(
        self, day: dt.date, accounts: Sequence[str] | None = None, *, dry_run: bool = False
    ) -> list[Result]:
        return self._run(RETRACT, day, accounts, dry_run=dry_run, replace=False)

    def correct(
        self,
        day: dt.date,
        accounts: Sequence[str] | None = None,
        *,
        dry_run: bool = False,
        replace: bool = False,
    ) -> list[Result]:
        return self._run(CORRECT, day, accounts, dry_run=dry_run, replace=replace)

    def close(self) -> None:
        for publisher in self._publishers.values():
            publisher.close()
        self._publishers.clear()

    # -- the flow --------------------------------------------------------------------------

    def _run(
        self,
        kind: str,
        day: dt.date,
        accounts: Sequence[str] | None,
        *,
        dry_run: bool,
        replace: bool,
    ) -> list[Result]:
        iso = day.isoformat()
        names = chosen_accounts(self.settings, accounts)
        ledger = self.workspace.ledger(create=False)
        published = {
            name: ledger.threads(iso, name) if ledger is not None else {} for name in names
        }
        # A thread cut short (a part sent, the rest not) is public all the same: it can be
        # retracted, which also stops the rest from ever being sent; correcting it waits.
        shown = _complete if kind == CORRECT else _any_sent
        never = [n for n in names if not shown(published[n])]
        if not any(shown(published[n]) for n in names):
            raise NotPublished(
                f"{iso} was never published on {', '.join(names)}: nothing to {kind}"
            )
        assert ledger is not None
        results = [
            Result(
                n,
                self.settings.accounts[n].platform,
                None,
                "failed",
                f"{iso} was never published on {n}: nothing to {kind}",
            )
            for n in never
        ]
        names = [n for n in names if n not in never]
        if dry_run:
            for name in names:
                results.extend(self._dry_run(ledger, kind, day, name, replace))
            return results
        with ledger.publish_lock():
            for name in names:
                results.extend(self._account(ledger, kind, day, name, replace))
        return results

    def _dry_run(
        self, ledger: LedgerStore, kind: str, day: dt.date, name: str, replace: bool
    ) -> list[Result]:
        platform = self.settings.accounts[name].platform
        iso = day.isoformat()
        pending = _unfinished(ledger.revisions(iso, name))
        results = []
        if pending:
            for steps in pending.values():
                results.append(
                    Result(
                        name,
                        platform,
                        steps[0].event_id,
                        "dry-run",
                        plan=[f"resume: {describe(s)}" for s in steps if s.state != "done"],
                    )
                )
            return results
        if kind == RETRACT and ledger.retracted(iso, name):
            return [Result(name, platform, None, "already-retracted")]
        for event_id, rows in ledger.threads(iso, name).items():
            try:
                steps = self._plan(ledger, kind, day, name, event_id, rows, replace)
            except PublishError as exc:
                results.append(Result(name, platform, event_id, "failed", str(exc)))
                continue
            status = "dry-run" if steps else "unchanged"
            results.append(
                Result(name, platform, event_id, status, plan=[describe(s) for s in steps])
            )
        return results

    def _account(
        self, ledger: LedgerStore, kind: str, day: dt.date, name: str, replace: bool
    ) -> list[Result]:
        platform = self.settings.accounts[name].platform
        iso = day.isoformat()
        results: list[Result] = []
        try:
            crashed = ledger.steps_after_crash(iso, name)
            if crashed:
                log.warning(
                    "%s: %d step(s) were in flight when a previous run stopped; checking them",
                    name,
                    len(crashed),
                )
            # A revision a previous run left unfinished is completed first, as planned.
            for steps in _unfinished(ledger.revisions(iso, name)).values():
                results.append(self._execute(ledger, name, steps))
            if kind == RETRACT and ledger.retracted(iso, name) and not results:
                return [Result(name, platform, None, "already-retracted")]
            if kind == RETRACT and ledger.retracted(iso, name):
                return results
            planned: list[list[Step]] = []
            for event_id, rows in ledger.threads(iso, name).items():
                steps = self._plan(ledger, kind, day, name, event_id, rows, replace)
                if steps:
                    planned.append(steps)
                elif kind == CORRECT:
                    results.append(Result(name, platform, event_id, "unchanged"))
            if kind == RETRACT or any(planned):
                ledger.plan_revision(
                    [s for steps in planned for s in steps], retract=kind == RETRACT
                )
            for steps in planned:
                results.append(self._execute(ledger, name, steps))
        except PublishError as exc:
            log.error("%s: %s of %s failed: %s", name, kind, iso, exc)
            results.append(Result(name, platform, None, "failed", str(exc)))
        finally:
            ledger.close()
        return results

    # -- planning ----------------------------------------------------------------------------

    def _plan(
        self,
        ledger: LedgerStore,
        kind: str,
        day: dt.date,
        name: str,
        event_id: str,
        rows: list[Row],
        replace: bool,
    ) -> list[Step]:
        iso = day.isoformat()
        platform = rows[0].platform
        rev = 1 + max(
            (s.rev for s in ledger.revisions(iso, name) if s.event_id == event_id), default=0
        )

        def step(n: int, op: str, payload: dict[str, Any]) -> Step:
            return Step(iso, name, event_id, rev, n, kind, op, platform, payload)

        if kind == RETRACT:
            rows = [r for r in rows if r.state == SENT]  # what was never sent is not online
            if not rows:
                return []
            if platform == "bluesky":  # the whole thread in one applyWrites of deletes
                return [step(0, "delete", {"targets": [_target(r) for r in rows]})]
            # Mastodon: replies first, so no part is ever left replying to nothing.
            return [
                step(n, "delete", {"targets": [_target(r)]}) for n, r in enumerate(reversed(rows))
            ]

        account = self.settings.accounts[name]
        new = self._rendered(day, name, event_id, account)
        if platform == "mastodon":
            return self._plan_mastodon(rows, new, step)
        shown = rows[0].payload.get("corrected_to") or [r.text for r in rows]
        texts = [r.text for r in new]
        if texts == shown:
            return []
        if replace:
            return [
                step(
                    0,
                    "replace",
                    {"targets": [_target(r) for r in rows], "rows": [_row_json(r) for r in new]},
                )
            ]
        changed = [t for n, t in enumerate(texts) if n >= len(shown) or shown[n] != t]
        replies = self._correction(name, new[0].payload.get("lang"), changed)
        keys = new_keys("bluesky", len(replies))
        reply_rows = [
            {"idx": n, "key": key, "created_at": None, "payload": payload}
            for n, (key, payload) in enumerate(zip(keys, replies, strict=True))
        ]
        return [step(0, "reply", {"rows": reply_rows, "texts": texts})]

    @staticmethod
    def _plan_mastodon(
        rows: list[Row], new: list[Row], step: Callable[[int, str, dict[str, Any]], Step]
    ) -> list[Step]:
        steps: list[Step] = []
        # Parts removed: the last first (replies before what they answer).
        for row in reversed(rows[len(new) :]):
            steps.append(step(len(steps), "delete", {"targets": [_target(row)]}))
        for old, part in zip(rows, new, strict=False):
            if old.text != part.text or old.payload.get("cw") != part.payload.get("cw"):
                steps.append(
                    step(
                        len(steps),
                        "edit",
                        {"target": _target(old), "text": part.text, "cw": part.payload.get("cw")},
                    )
                )
        for part in new[len(rows) :]:
            keys = new_keys("mastodon", 1)
            steps.append(
                step(
                    len(steps),
                    "create",
                    {"rows": [{**_row_json(part), "key": keys[0], "total": len(new)}]},
                )
            )
        return steps

    def _rendered(
        self, day: dt.date, name: str, event_id: str, account: MastodonAccount | BlueskyAccount
    ) -> list[Row]:
        event = self._event(day, event_id)
        try:
            thread = self.workspace.renderer.render(event, name, day)
        except RenderError as exc:
            raise PermanentError(str(exc.problem)) from None
        return plan_rows(thread, account)

    def _event(self, day: dt.date, event_id: str) -> Event:
        for event in self.workspace.candidates(day):
            if event.id == event_id:
                return event
        raise PermanentError(
            f"event {event_id!r} is no longer posted on {day.isoformat()} (its id or date "
            "changed in the post file?): nothing to correct it with; retract it instead"
        )

    def _correction(self, name: str, lang: str | None, changed: list[str]) -> list[dict[str, Any]]:
        """The Bluesky reply that says what changed, from `correction.j2`, split to fit."""
        from bot import text

        renderer = self.workspace.renderer
        try:
            template = renderer.env(name).get_template(CORRECTION_TEMPLATE)
            body = template.render(changed=changed, lang=lang or "en").strip()
        except Exception as exc:  # a template error, named with the template
            raise PermanentError(f"{CORRECTION_TEMPLATE}: {exc}") from None
        rules = renderer.rules[name]
        pieces = text.split(text.prepare(body, rules), rules, lang=lang)
        return [
            {"text": piece.text, "facets": list(text.facets(piece)), "lang": lang or "en"}
            for piece in pieces
        ]

    # -- doing it ------------------------------------------------------------------------------

    def _publisher(self, name: str) -> Publisher:
        publisher = self._publishers.get(name)
        if publisher is None:
            account = self.settings.accounts[name]
            opener = self._opener or (lambda n, a: open_publisher(n, a, self.settings))
            publisher = self._publishers[name] = opener(name, account)
            self._retrying(publisher.open)
        return publisher

    def _execute(self, ledger: LedgerStore, name: str, steps: list[Step]) -> Result:
        publisher = self._publisher(name)
        first = steps[0]
        for step in steps:
            if step.state == "done":
                continue
            self._retrying(lambda step=step: self._step(ledger, publisher, step))  # type: ignore[misc]
        rows = ledger.threads(first.day, name).get(first.event_id, [])
        status = "retracted" if first.kind == RETRACT else "corrected"
        parts = [part_json(r) for r in rows] if first.kind == CORRECT else []
        for step in steps:
            if step.op == "reply":
                parts.extend({"index": None, **r} for r in step.result or [])
        return Result(
            name,
            first.platform,
            first.event_id,
            status,
            plan=[describe(s) for s in steps],
            parts=parts,
        )

    def _step(self, ledger: LedgerStore, publisher: Publisher, step: Step) -> None:
        current = ledger.threads(step.day, step.account).get(step.event_id, [])
        by_idx = {r.idx: r for r in current}
        targets = [_as_row(step, t) for t in step.payload.get("targets", [])]
        if "target" in step.payload:
            targets = [by_idx[step.payload["target"]["idx"]]]
        new = [_as_row(step, r) for r in step.payload.get("rows", [])]
        head = by_idx.get(0)

        if step.state == "uncertain":  # a previous attempt may have done it: look first
            found = self._reconcile(publisher, step, targets, new, by_idx, head)
            if found is not None:
                return self._done(ledger, step, found, targets, new)
            if step.op == "delete":  # only what is still there
                targets = [
                    t
                    for t, there in zip(targets, publisher.existing(targets), strict=True)
                    if there
                ]

        payload = step.payload
        if new and any(r.created_at is None for r in new):
            # Bluesky's createdAt: the real time of the first attempt, kept for retries.
            stamps = publisher.stamps(new)
            payload = {**payload, "rows": [
                {**raw, "created_at": raw.get("created_at") or stamp}
                for raw, stamp in zip(payload["rows"], stamps, strict=True)
            ]}  # fmt: skip
        ledger.mark_step(step, SENDING, payload=payload)
        new = [_as_row(step, r) for r in step.payload.get("rows", [])]
        _crash_point("revise-sending", step)
        try:
            if step.op == "delete":
                publisher.delete(targets)
                result: list[Remote] = []
            elif step.op == "edit":
                target = targets[0]
                result = [publisher.edit(target, payload["text"], payload.get("cw"))]
            elif step.op in ("create", "reply"):
                parent, root = self._anchors(step, new, by_idx, head)
                result = publisher.send(new, parent, root)
            elif step.op == "replace":
                result = publisher.replace(targets, new)
            else:
                raise PermanentError(f"unknown step {step.op!r}")
        except PublishError as exc:
            ledger.mark_step(step, "uncertain" if exc.maybe_sent else "planned", error=str(exc))
            raise
        self._done(ledger, step, result, targets, new)
        _crash_point("revise-done", step)
        return None

    def _reconcile(
        self,
        publisher: Publisher,
        step: Step,
        targets: list[Row],
        new: list[Row],
        by_idx: dict[int, Row],
        head: Row | None,
    ) -> list[Remote] | None:
        """What an uncertain step already made (it is then done), or None: send it again."""
        if step.op == "delete":
            return [] if not any(publisher.existing(targets)) else None
        if step.op == "edit":
            return (
                [_remote(targets[0])] if publisher.shows(targets[0], step.payload["text"]) else None
            )
        if step.op in ("create", "reply"):
            parent, root = self._anchors(step, new, by_idx, head)
            return publisher.find(new, parent, root)
        if step.op == "replace" and publisher.existing(new[:1])[0]:
            return publisher.find(new, None, None)
        return None

    @staticmethod
    def _anchors(
        step: Step, new: list[Row], by_idx: dict[int, Row], head: Row | None
    ) -> tuple[Row | None, Row | None]:
        if step.op == "reply":  # the correction answers the head
            return head, head
        return by_idx.get(new[0].idx - 1), head

    def _done(
        self,
        ledger: LedgerStore,
        step: Step,
        result: list[Remote],
        targets: list[Row],
        new: Sequence[Row] = (),
    ) -> None:
        drop: list[int] = []
        put: list[Row] = []
        if step.kind == CORRECT:
            if step.op == "delete":
                drop = [t.idx for t in targets]
            elif step.op == "edit":
                (target,) = targets
                payload = {**target.payload, "text": step.payload["text"]}
                if step.payload.get("cw"):
                    payload["cw"] = step.payload["cw"]
                else:
                    payload.pop("cw", None)
                put = [dataclasses.replace(target, payload=payload)]
            elif step.op == "create":
                put = [_with_remote(r, m) for r, m in zip(new, result, strict=True)]
            elif step.op == "reply":
                current = ledger.threads(step.day, step.account).get(step.event_id, [])
                head = current[0]
                payload = {**head.payload, "corrected_to": step.payload["texts"]}
                put = [dataclasses.replace(head, payload=payload)]
            elif step.op == "replace":
                put = [_with_remote(r, m) for r, m in zip(new, result, strict=True)]
                drop = [t.idx for t in targets if t.idx >= len(new)]
        ledger.finish_step(step, result, drop=drop, put=put)
        log.info(
            "%s step %d (%s) of %s done",
            step.kind,
            step.step,
            step.op,
            step.event_id,
            extra={"account": step.account, "day": step.day},
        )

    def _retrying(self, action: Callable[[], None]) -> None:
        policy = self.settings.publishing
        failures = 0
        while True:
            try:
                action()
                return
            except PublishError as exc:
                failures += 1
                if not exc.retryable or failures >= policy.attempts:
                    raise
                if exc.retry_after is not None and exc.retry_after > policy.max_rate_limit_wait:
                    raise
                ceiling = min(policy.max_backoff, policy.backoff * 2 ** (failures - 1))
                delay = exc.retry_after or random.uniform(ceiling / 2, ceiling)
                log.warning("%s; retrying in %.1f s (%d/%d)", exc, delay, failures, policy.attempts)
                import time

                time.sleep(delay)


# -- helpers ------------------------------------------------------------------------------------


def describe(step: Step) -> str:
    """One line of the plan, for --dry-run and the report."""
    p = step.payload
    if step.op == "delete":
        parts = ", ".join(str(t["idx"] + 1) for t in p["targets"])
        how = " in one applyWrites" if step.platform == "bluesky" else ""
        return f"delete part(s) {parts}{how}"
    if step.op == "edit":
        return f"edit part {p['target']['idx'] + 1} in place: {_short(p['text'])}"
    if step.op == "create":
        row = p["rows"][0]
        return f"post part {row['idx'] + 1} as a reply: {_short(row['payload']['text'])}"
    if step.op == "reply":
        texts = " / ".join(_short(r["payload"]["text"]) for r in p["rows"])
        return f"reply under the head: {texts}"
    if step.op == "replace":
        return (
            f"replace the thread in one applyWrites: delete {len(p['targets'])} part(s),"
            f" create {len(p['rows'])}"
        )
    return step.op


def _short(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _complete(threads: dict[str, list[Row]]) -> bool:
    return bool(threads) and all(r.state == SENT for rows in threads.values() for r in rows)


def _any_sent(threads: dict[str, list[Row]]) -> bool:
    return any(r.state == SENT for rows in threads.values() for r in rows)


def _unfinished(steps: list[Step]) -> dict[tuple[str, int], list[Step]]:
    revs: dict[tuple[str, int], list[Step]] = {}
    for step in steps:
        revs.setdefault((step.event_id, step.rev), []).append(step)
    return {k: v for k, v in revs.items() if any(s.state != "done" for s in v)}


def _target(row: Row) -> dict[str, Any]:
    return {"idx": row.idx, "key": row.key, "id": row.remote_id, "uri": row.uri, "cid": row.cid,
            "url": row.url}  # fmt: skip


def _row_json(row: Row) -> dict[str, Any]:
    return {"idx": row.idx, "key": row.key, "created_at": None, "payload": row.payload,
            "total": row.total}  # fmt: skip


def _as_row(step: Step, raw: dict[str, Any]) -> Row:
    """A ledger-shaped row for the publisher: a target (published part) or a part to create."""
    return Row(
        day=step.day,
        event_id=step.event_id,
        account=step.account,
        idx=int(raw["idx"]),
        total=int(raw.get("total") or 1),
        platform=step.platform,
        payload=raw.get("payload") or {"text": ""},
        key=str(raw["key"]),
        created_at=raw.get("created_at"),
        state=SENDING if step.state in ("sending", "uncertain") else SENT,
        attempts=step.attempts,
        planned_at=step.planned_at or now_utc(),
        sending_at=step.sending_at,
        sent_at=None,
        remote_id=raw.get("id"),
        uri=raw.get("uri"),
        cid=raw.get("cid"),
        url=raw.get("url"),
        error=None,
    )


def _remote(row: Row) -> Remote:
    return Remote(id=row.remote_id, uri=row.uri, cid=row.cid, url=row.url)


def _with_remote(row: Row, remote: Remote) -> Row:
    return dataclasses.replace(
        row, remote_id=remote.id, uri=remote.uri, cid=remote.cid, url=remote.url, state=SENT
    )


def _crash_point(stage: str, step: Step) -> None:
    """Test hook, as in the pipeline: THISDAY_TEST_CRASH="revise-sending:bluesky:0" kills this
    process right after that step's ledger commit."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    want_stage, platform, index = spec.split(":")
    if stage == want_stage and step.platform == platform and str(step.step) == index:
        os.kill(os.getpid(), signal.SIGKILL)
