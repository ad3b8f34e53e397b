"""Publish day D for each account: plan the thread in the ledger, then make every unsent part
exist exactly once, in order, through the account's adapter. Retry policy lives here.

Accounts are independent: each runs in its own thread with its own adapter, so one slow or
failing network never holds up the other.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.config import BlueskyAccount, MastodonAccount, Publishing
from bot.content.post import Event
from bot.ledger.store import PLANNED, SENDING, SENT, UNCERTAIN, Ledger, Row, now_utc
from bot.publishing.keys import new_keys
from bot.publishing.publishers.base import PermanentError, Publisher, PublishError, open_publisher
from bot.render.renderer import RenderError, Thread
from bot.workspace import Workspace

log = logging.getLogger("thisday.publish")


class Outcome(StrEnum):
    """What publishing did for one thread on one account; the value is the `status` field of
    `thisday publish --json`."""

    PUBLISHED = "published"
    ALREADY = "already-published"
    FAILED = "failed"
    DRY_RUN = "dry-run"


PUBLISHED, ALREADY, FAILED, DRY_RUN = (
    Outcome.PUBLISHED,
    Outcome.ALREADY,
    Outcome.FAILED,
    Outcome.DRY_RUN,
)

# Test hook: "STAGE:PLATFORM:INDEX" (stage sending|sent) kills this process with SIGKILL right
# after that ledger commit, so tests can crash a real run between any two requests.
CRASH_ENV = "THISDAY_TEST_CRASH"

OpenPublisher = Callable[[str, MastodonAccount | BlueskyAccount], Publisher]


@dataclass(slots=True)
class Result:
    account: str
    platform: str
    event: str | None
    status: Outcome
    error: str | None = None
    parts: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # for --dry-run output only

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "platform": self.platform,
            "event": self.event,
            "status": str(self.status),
            "error": self.error,
            "parts": self.parts,
        }


def part_json(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {"index": row.idx, "url": row.url}
    if row.platform == "mastodon":
        out["id"] = row.remote_id
    else:
        out["uri"], out["cid"] = row.uri, row.cid
    return out


def plan_rows(thread: Thread, account: MastodonAccount | BlueskyAccount) -> list[Row]:
    """The ledger rows for a rendered thread: payload and idempotency key per part."""
    keys = new_keys(thread.platform, len(thread.parts))
    planned_at = now_utc()
    rows = []
    for part, key in zip(thread.parts, keys, strict=True):
        payload: dict[str, Any] = {
            "text": part.text,
            "facets": list(part.facets),
            "lang": thread.lang,
        }
        if thread.cw:
            payload["cw"] = thread.cw
        if isinstance(account, MastodonAccount):
            payload["visibility"] = account.visibility
        if part.index == 0 and thread.image:
            payload["image"] = {"path": thread.image, "alt": thread.alt}
        if part.index == 0 and thread.card:
            payload["card"] = {
                "uri": thread.card.uri,
                "title": thread.card.title,
                "description": thread.card.description,
            }
        rows.append(
            Row(
                day=thread.day.isoformat(),
                event_id=thread.event.id,
                account=thread.account,
                idx=part.index,
                total=len(thread.parts),
                platform=thread.platform,
                payload=payload,
                key=key,
                created_at=None,
                state=PLANNED,
                attempts=0,
                planned_at=planned_at,
                sending_at=None,
                sent_at=None,
                remote_id=None,
                uri=None,
                cid=None,
                url=None,
                error=None,
            )
        )
    return rows


class Pipeline:
    def __init__(
        self,
        workspace: Workspace,
        *,
        stop: threading.Event | None = None,
        opener: OpenPublisher | None = None,
    ) -> None:
        self.workspace = workspace
        self.settings = workspace.settings
        self.policy: Publishing = workspace.settings.publishing
        self.stop = stop or threading.Event()
        self._opener = opener
        self._publishers: dict[str, Publisher] = {}
        self._lock = threading.Lock()

    # -- entry points ------------------------------------------------------------------

    def publish(
        self, day: dt.date, accounts: Sequence[str] | None = None, *, dry_run: bool = False
    ) -> list[Result]:
        names = self._accounts(accounts)
        if dry_run:
            return self._dry_run(day, names)
        ledger = self.workspace.ledger(create=True)
        assert ledger is not None
        with ledger.publish_lock():
            plans, results = self._plan(ledger, day, names)
            with ThreadPoolExecutor(max_workers=max(1, len(plans))) as pool:
                futures = [
                    pool.submit(self._deliver_account, ledger, day, name, threads)
                    for name, threads in plans.items()
                ]
                for future in futures:
                    results.extend(future.result())
        return results

    def warm_up(self, accounts: Sequence[str] | None = None) -> dict[str, str | None]:
        """Open (or refresh) every account's connection ahead of time; account -> error."""
        outcome: dict[str, str | None] = {}
        for name in self._accounts(accounts):
            try:
                publisher = self._publishers.get(name)
                if publisher is None:
                    self._publisher(name)
                else:
                    self._retrying(publisher.open, what=f"refreshing {name}")
                outcome[name] = None
            except PublishError as exc:
                outcome[name] = str(exc)
        return outcome

    def close(self) -> None:
        for publisher in self._publishers.values():
            try:
                publisher.close()
            except Exception:
                log.debug("closing a publisher failed", exc_info=True)
        self._publishers.clear()

    # -- planning ----------------------------------------------------------------------

    def _accounts(self, accounts: Sequence[str] | None) -> list[str]:
        active = self.settings.active_accounts()
        if not accounts:
            return list(active)
        unknown = [a for a in accounts if a not in active]
        if unknown:
            raise PermanentError(
                f"unknown or disabled account(s): {', '.join(unknown)}"
                f" (configured: {', '.join(active)})"
            )
        return list(accounts)

    def _chosen(self, ledger: Ledger | None, day: dt.date) -> list[Event]:
        return self.workspace.select(day, history=ledger)

    def _plan(
        self, ledger: Ledger, day: dt.date, names: list[str]
    ) -> tuple[dict[str, list[list[Row]]], list[Result]]:
        """Each account's threads for the day: resumed from the ledger, or planned now."""
        plans: dict[str, list[list[Row]]] = {}
        results: list[Result] = []
        events: list[Event] | None = None
        renderer = None
        for name in names:
            account = self.settings.accounts[name]
            existing = ledger.threads(day.isoformat(), name)
            if existing:
                plans[name] = list(existing.values())
                continue
            if events is None:
                events = self._chosen(ledger, day)
                renderer = self.workspace.renderer
            threads: list[list[Row]] = []
            for event in events:
                try:
                    thread = renderer.render(event, name, day)  # type: ignore[union-attr]
                except RenderError as exc:
                    log.error("cannot render %s for %s: %s", event.id, name, exc.problem)
                    results.append(
                        Result(name, account.platform, event.id, FAILED, str(exc.problem))
                    )
                    continue
                rows = plan_rows(thread, account)
                ledger.plan(rows)
                threads.append(rows)
            plans[name] = threads
        return plans, results

    def _dry_run(self, day: dt.date, names: list[str]) -> list[Result]:
        ledger = self.workspace.ledger(create=False)
        results = []
        events: list[Event] | None = None
        for name in names:
            account = self.settings.accounts[name]
            existing = ledger.threads(day.isoformat(), name) if ledger else {}
            if existing:
                for event_id, rows in existing.items():
                    done = all(r.state == SENT for r in rows)
                    results.append(
                        Result(
                            name,
                            account.platform,
                            event_id,
                            ALREADY if done else DRY_RUN,
                            parts=[part_json(r) for r in rows],
                            texts=[r.text for r in rows if r.state != SENT],
                        )
                    )
                continue
            if events is None:
                events = self._chosen(ledger, day)
            for event in events:
                try:
                    thread = self.workspace.renderer.render(event, name, day)
                except RenderError as exc:
                    results.append(
                        Result(name, account.platform, event.id, FAILED, str(exc.problem))
                    )
                    continue
                results.append(
                    Result(
                        name,
                        account.platform,
                        event.id,
                        DRY_RUN,
                        parts=[{"index": p.index} for p in thread.parts],
                        texts=[p.text for p in thread.parts],
                    )
                )
        return results

    # -- delivery ----------------------------------------------------------------------

    def _publisher(self, name: str) -> Publisher:
        with self._lock:
            publisher = self._publishers.get(name)
        if publisher is None:
            account = self.settings.accounts[name]
            opener = self._opener or (lambda n, a: open_publisher(n, a, self.settings))
            publisher = opener(name, account)
            self._retrying(publisher.open, what=f"connecting {name}")
            with self._lock:
                self._publishers[name] = publisher
        return publisher

    def _deliver_account(
        self, ledger: Ledger, day: dt.date, name: str, threads: list[list[Row]]
    ) -> list[Result]:
        platform = self.settings.accounts[name].platform
        try:
            crashed = ledger.uncertain_after_crash(day.isoformat(), name)
            if crashed:
                log.warning(
                    "%s: %d part(s) were in flight when a previous run stopped; checking them",
                    name,
                    len(crashed),
                )
                threads = list(ledger.threads(day.isoformat(), name).values())
        finally:
            ledger.close()  # connections are per thread; this one ends with the thread
        results = []
        for rows in threads:
            event_id = rows[0].event_id if rows else None
            if rows and all(r.state == SENT for r in rows):
                results.append(
                    Result(name, platform, event_id, ALREADY, parts=[part_json(r) for r in rows])
                )
                continue
            try:
                self._deliver_thread(ledger, name, rows)
                results.append(
                    Result(name, platform, event_id, PUBLISHED, parts=[part_json(r) for r in rows])
                )
            except PublishError as exc:
                error = str(exc)
                log.error("%s: %s not published: %s", name, event_id, error)
                # A thread cut short by shutdown is not a failure: it resumes on the next start.
                kind = "stopped" if self.stop.is_set() else "failed"
                ledger.note(day.isoformat(), name, event_id, kind, error)
                results.append(
                    Result(
                        name,
                        platform,
                        event_id,
                        FAILED,
                        error,
                        [part_json(r) for r in rows if r.state == SENT],
                    )
                )
            finally:
                ledger.close()
        return results

    def _deliver_thread(self, ledger: Ledger, name: str, rows: list[Row]) -> None:
        publisher = self._publisher(name)
        failures = 0
        while True:
            pending = [r for r in rows if r.state != SENT]
            if not pending:
                return
            if self.stop.is_set():
                raise PublishError(
                    "stopped before the thread was complete; it resumes on the next run"
                )
            batch = publisher.batch(pending)
            first = batch[0].idx
            parent = rows[first - 1] if first > 0 else None
            root = rows[0] if first > 0 else None
            try:
                if any(r.state == UNCERTAIN for r in batch):
                    found = publisher.find(batch, parent, root)
                    if found is not None:
                        ledger.mark_sent(batch, found, how="reconciled")
                        self._announce(batch, "found already published")
                        continue
                ledger.mark_sending(batch, publisher.stamps(batch))
                _crash_point("sending", batch)
                remotes = publisher.send(batch, parent, root)
            except PublishError as exc:
                if any(r.state == SENDING for r in batch):
                    ledger.mark(batch, UNCERTAIN if exc.maybe_sent else PLANNED, str(exc))
                failures += 1
                self._wait_or_give_up(exc, failures, name)
                continue
            ledger.mark_sent(batch, remotes)
            _crash_point("sent", batch)
            failures = 0
            self._announce(batch, "published")

    def _announce(self, rows: Sequence[Row], what: str) -> None:
        for row in rows:
            log.info(
                "%s part %d/%d of %s: %s",
                what,
                row.idx + 1,
                row.total,
                row.event_id,
                row.url or row.uri or row.remote_id,
                extra={
                    "account": row.account,
                    "event": row.event_id,
                    "part": row.idx,
                    "url": row.url,
                },
            )

    def _retrying(self, action: Callable[[], None], what: str) -> None:
        failures = 0
        while True:
            try:
                action()
                return
            except PublishError as exc:
                failures += 1
                self._wait_or_give_up(exc, failures, what)

    def _wait_or_give_up(self, exc: PublishError, failures: int, what: str) -> None:
        if not exc.retryable or failures >= self.policy.attempts:
            raise exc
        if exc.retry_after is not None:
            if exc.retry_after > self.policy.max_rate_limit_wait:
                raise PublishError(f"{exc} (the server asks to wait {exc.retry_after:.0f} s)")
            delay = exc.retry_after + random.uniform(0, 0.25)
        else:
            ceiling = min(self.policy.max_backoff, self.policy.backoff * 2 ** (failures - 1))
            delay = random.uniform(ceiling / 2, ceiling)  # jitter: never all at once
        log.warning(
            "%s: %s; retrying in %.1f s (%d/%d)", what, exc, delay, failures, self.policy.attempts
        )
        if self.stop.wait(delay):
            raise PublishError(f"stopped while waiting to retry: {exc}")


def _crash_point(stage: str, rows: Sequence[Row]) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    want_stage, platform, index = spec.split(":")
    if stage == want_stage and any(r.platform == platform and str(r.idx) == index for r in rows):
        os.kill(os.getpid(), signal.SIGKILL)
