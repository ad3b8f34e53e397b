"""Publish day D for each account: plan the thread in the ledger, then make every unsent part
exist exactly once, in order, through the account's adapter. Retry policy lives here.

Accounts are independent: they run on a bounded pool of threads (config `workers`), each
with its own adapter and session, so one slow or failing network never holds up the others
and the cost of a slot grows with the slowest account, not the sum.

With a shared (PostgreSQL) ledger, several replicas run this at the same slot: each account
is published by the replica holding its claim (see bot.ledger.postgres), every write for it
fenced by the claim's token; a replica keeps polling until every account is complete, so a
claim whose holder died is taken over once its lease runs out, from the plan in the ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import random
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.config import BlueskyAccount, MastodonAccount, Publishing, Settings
from bot.content.post import Event
from bot.ledger.base import (
    PLANNED,
    SENDING,
    SENT,
    UNCERTAIN,
    Claim,
    Fenced,
    LedgerStore,
    LedgerUnavailable,
    Row,
    now_utc,
)
from bot.publishing.keys import new_keys
from bot.publishing.publishers.base import PermanentError, Publisher, PublishError, open_publisher
from bot.render.renderer import RenderError, Thread
from bot.workspace import Workspace

if TYPE_CHECKING:
    from bot.ledger.postgres import PostgresLedger

log = logging.getLogger("thisday.publish")


class Outcome(StrEnum):
    """What publishing did for one thread on one account; the value is the `status` field of
    `thisday publish --json`."""

    PUBLISHED = "published"
    ALREADY = "already-published"
    FAILED = "failed"
    DRY_RUN = "dry-run"
    RETRACTED = "retracted"  # `thisday retract` took it down: not published again


PUBLISHED, ALREADY, FAILED, DRY_RUN, RETRACTED = (
    Outcome.PUBLISHED,
    Outcome.ALREADY,
    Outcome.FAILED,
    Outcome.DRY_RUN,
    Outcome.RETRACTED,
)

# Test hook: "STAGE:PLATFORM:INDEX" (stage sending|sent) kills this process with SIGKILL right
# after that ledger commit, so tests can crash a real run between any two requests. With
# CRASH_ONCE_ENV naming a file, only the first process of several to get there dies (it
# creates the file, with its pid): replicas sharing the hook do not all crash in turn.
CRASH_ENV = "THISDAY_TEST_CRASH"
CRASH_ONCE_ENV = "THISDAY_TEST_CRASH_ONCE"

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
        if part.index == 0 and thread.images:
            # Every image (the publishers read this list; "image" stays for older readers).
            payload["images"] = [{"path": p.path, "alt": p.alt} for p in thread.images]
        if part.index == 0 and thread.card:
            payload["card"] = {
                "uri": thread.card.uri,
                "title": thread.card.title,
                "description": thread.card.description,
            }
            if thread.images:  # a card with an image: its thumbnail (card_image = true)
                payload["card"]["thumb"] = thread.images[0].path
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


def chosen_accounts(settings: Settings, accounts: Sequence[str] | None) -> list[str]:
    """The accounts a command acts on: the ones named (each must be active), else every
    active one."""
    active = settings.active_accounts()
    if not accounts:
        return list(active)
    unknown = [a for a in accounts if a not in active]
    if unknown:
        raise PermanentError(
            f"unknown or disabled account(s): {', '.join(unknown)}"
            f" (configured: {', '.join(active)})"
        )
    return list(accounts)


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
        self._render_lock = threading.Lock()

    # -- entry points ------------------------------------------------------------------

    def publish(
        self,
        day: dt.date,
        accounts: Sequence[str] | None = None,
        *,
        dry_run: bool = False,
        force: bool = False,
    ) -> list[Result]:
        names = chosen_accounts(self.settings, accounts)
        if dry_run:
            return self._dry_run(day, names)
        ledger = self.workspace.ledger(create=True)
        assert ledger is not None
        names, skipped = self._retracted(ledger, day, names, force)
        if ledger.replicated:
            return skipped + self._publish_replicated(ledger, day, names)  # type: ignore[arg-type]
        results = skipped
        with ledger.publish_lock():
            events = self._lazy_events(ledger, day)
            workers = max(1, min(self.settings.workers, len(names)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [
                    pool.submit(self._plan_and_deliver, ledger, day, name, events) for name in names
                ]
                for future in futures:
                    results.extend(future.result())
        return results

    def _retracted(
        self, ledger: LedgerStore, day: dt.date, names: list[str], force: bool
    ) -> tuple[list[str], list[Result]]:
        """A retracted day (`thisday retract`) is never published again, unless `force`
        (`publish --force`): then its old parts are forgotten and it is planned afresh."""
        keep, skipped = [], []
        for name in names:
            if not ledger.retracted(day.isoformat(), name):
                keep.append(name)
            elif force:
                ledger.unretract(day.isoformat(), name)
                keep.append(name)
            else:
                platform = self.settings.accounts[name].platform
                skipped.append(Result(name, platform, None, RETRACTED))
                # Says in the journal why a run that found the thread unfinished sent nothing.
                ledger.note(
                    day.isoformat(), name, None, "skipped", "retracted (publish --force sends it)"
                )
        return keep, skipped

    def warm_up(self, accounts: Sequence[str] | None = None) -> dict[str, str | None]:
        """Open (or refresh) every account's connection ahead of time, on the worker pool
        (each is a few requests, network-bound); with a shared ledger, open as many ledger
        connections as the slot's workers will use. Account -> error."""
        names = chosen_accounts(self.settings, accounts)

        def one(name: str) -> str | None:
            try:
                publisher = self._publishers.get(name)
                if publisher is None:
                    self._publisher(name)
                else:
                    self._retrying(publisher.open, what=f"refreshing {name}")
                return None
            except PublishError as exc:
                return str(exc)
            except Exception as exc:  # one account's bug must not cut the others' warm-up
                log.exception("warming up %s failed", name)
                return f"unexpected error: {exc}"

        workers = max(1, min(self.settings.workers, len(names)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcome = dict(zip(names, pool.map(one, names), strict=True))
        if self.settings.ledger and names:
            ledger = self.workspace.ledger(create=True)
            warm = getattr(ledger, "warm", None)
            if warm is not None:
                warm(workers + 1)  # + the slot loop's own
        return outcome

    def close(self) -> None:
        for publisher in self._publishers.values():
            try:
                publisher.close()
            except Exception:
                log.debug("closing a publisher failed", exc_info=True)
        self._publishers.clear()

    # -- planning ----------------------------------------------------------------------

    def _chosen(self, ledger: LedgerStore | None, day: dt.date) -> list[Event]:
        return self.workspace.select(day, history=ledger)

    def _lazy_events(self, ledger: LedgerStore, day: dt.date) -> Callable[[], list[Event]]:
        """The day's events, selected once by the first worker that needs them (a day that
        every account resumes from the ledger needs none)."""
        chosen: list[list[Event]] = []

        def events() -> list[Event]:
            with self._render_lock:
                if not chosen:
                    chosen.append(self._chosen(ledger, day))
                return chosen[0]

        return events

    def _plan_and_deliver(
        self,
        ledger: LedgerStore,
        day: dt.date,
        name: str,
        events: Callable[[], list[Event]],
    ) -> list[Result]:
        """One account's day, on a worker: its threads resumed from the ledger or planned
        now, then sent. An account starts sending once its own plan is written, not after
        every account's (rendering and planning are CPU; sending mostly waits)."""
        try:
            existing = ledger.threads(day.isoformat(), name)
            results: list[Result] = []
            if existing:
                threads = list(existing.values())
            else:
                threads, results = self._plan_account(ledger, day, name, events())
            return results + self._deliver_threads(ledger, day, name, threads)
        finally:
            ledger.close()  # connections are per thread: this one is done

    def _plan_account(
        self,
        ledger: LedgerStore,
        day: dt.date,
        name: str,
        events: list[Event],
        claim: Claim | None = None,
    ) -> tuple[list[list[Row]], list[Result]]:
        account = self.settings.accounts[name]
        threads: list[list[Row]] = []
        results: list[Result] = []
        for event in events:
            try:
                with self._render_lock:  # one renderer, shared by the pool's threads
                    thread = self.workspace.renderer.render(event, name, day)
            except RenderError as exc:
                log.error("cannot render %s for %s: %s", event.id, name, exc.problem)
                results.append(Result(name, account.platform, event.id, FAILED, str(exc.problem)))
                continue
            rows = plan_rows(thread, account)
            ledger.plan(rows, claim=claim)
            threads.append(rows)
        return threads, results

    # -- replicas on a shared ledger ---------------------------------------------------

    def _publish_replicated(
        self, ledger: PostgresLedger, day: dt.date, names: list[str]
    ) -> list[Result]:
        """Claim accounts (a fair share of those left, as many as the pool has room for),
        publish them, and keep polling until every account is complete or was tried here:
        an account whose holder stopped renewing is taken over when its lease runs out."""
        from bot.ledger.postgres import renewing

        iso = day.isoformat()
        results: list[Result] = []
        tried: set[str] = set()
        held: dict[str, Claim] = {}
        lost: set[str] = set()
        running: dict[Future[list[Result]], str] = {}
        events = self._lazy_events(ledger, day)
        poll = min(1.0, ledger.lease / 5)
        workers = self.settings.workers

        def finish(future: Future[list[Result]]) -> None:
            name = running.pop(future)
            claim = held.pop(name, None)
            try:
                results.extend(future.result())
            finally:
                if claim is not None:
                    ledger.release(claim)

        ledger.heartbeat()
        with renewing(ledger, held, lost), ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                while not self.stop.is_set():
                    for future in [f for f in running if f.done()]:
                        finish(future)
                    done = ledger.complete_accounts(iso, [n for n in names if n not in tried])
                    left = [n for n in names if n not in tried and n not in done]
                    if not left and not running:
                        break
                    waiting = [n for n in left if n not in held]
                    room = min(
                        workers - len(running),
                        max(1, math.ceil(len(left) / ledger.live_replicas())) - len(running),
                    )
                    for claim in ledger.claim(iso, waiting, room):
                        log.info(
                            "claimed %s for %s (token %d)",
                            claim.account,
                            iso,
                            claim.token,
                            extra={"account": claim.account, "day": iso},
                        )
                        held[claim.account] = claim
                        tried.add(claim.account)
                        future = pool.submit(self._work_claimed, ledger, day, claim, events)
                        running[future] = claim.account
                    if running:
                        wait(list(running), timeout=poll, return_when=FIRST_COMPLETED)
                    else:
                        self.stop.wait(poll)  # the others are held by live replicas
            finally:
                for future in list(running):
                    future.exception()  # the workers see `stop` between requests
                    finish(future)
        return results

    def _work_claimed(
        self,
        ledger: PostgresLedger,
        day: dt.date,
        claim: Claim,
        events: Callable[[], list[Event]],
    ) -> list[Result]:
        name, iso = claim.account, day.isoformat()
        platform = self.settings.accounts[name].platform
        results: list[Result] = []
        try:
            existing = ledger.threads(iso, name)
            if not existing:
                _, results = self._plan_account(ledger, day, name, events(), claim)
                # Read back: what the ledger holds is the plan, even after a lost answer.
                existing = ledger.threads(iso, name)
            return results + self._deliver_account(
                ledger, day, name, list(existing.values()), claim
            )
        except Fenced as exc:
            log.warning("%s", exc, extra={"account": name, "day": iso})
            return results
        except LedgerUnavailable as exc:
            log.error("%s: nothing sent: %s", name, exc, extra={"account": name, "day": iso})
            return [*results, Result(name, platform, None, FAILED, str(exc))]
        finally:
            ledger.close()

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
        self,
        ledger: LedgerStore,
        day: dt.date,
        name: str,
        threads: list[list[Row]],
        claim: Claim | None = None,
    ) -> list[Result]:
        try:
            return self._deliver_threads(ledger, day, name, threads, claim)
        finally:
            # Connections are per thread: this one is done (kept open for the whole account,
            # not reopened per thread; PostgreSQL keeps it for the next worker).
            ledger.close()

    def _deliver_threads(
        self,
        ledger: LedgerStore,
        day: dt.date,
        name: str,
        threads: list[list[Row]],
        claim: Claim | None = None,
    ) -> list[Result]:
        platform = self.settings.accounts[name].platform
        crashed = ledger.uncertain_after_crash(day.isoformat(), name, claim=claim)
        if crashed:
            log.warning(
                "%s: %d part(s) were in flight when a previous run stopped; checking them",
                name,
                len(crashed),
            )
            threads = list(ledger.threads(day.isoformat(), name).values())
        results = []
        for rows in threads:
            event_id = rows[0].event_id if rows else None
            if rows and all(r.state == SENT for r in rows):
                results.append(
                    Result(name, platform, event_id, ALREADY, parts=[part_json(r) for r in rows])
                )
                continue
            try:
                self._deliver_thread(ledger, name, rows, claim)
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
        return results

    def _deliver_thread(
        self, ledger: LedgerStore, name: str, rows: list[Row], claim: Claim | None = None
    ) -> None:
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
                        ledger.mark_sent(batch, found, how="reconciled", claim=claim)
                        self._announce(batch, "found already published")
                        continue
                ledger.mark_sending(batch, publisher.stamps(batch), claim=claim)
                _crash_point("sending", batch)
                remotes = publisher.send(batch, parent, root)
            except PublishError as exc:
                if any(r.state == SENDING for r in batch):
                    ledger.mark(
                        batch, UNCERTAIN if exc.maybe_sent else PLANNED, str(exc), claim=claim
                    )
                failures += 1
                self._wait_or_give_up(exc, failures, name)
                continue
            ledger.mark_sent(batch, remotes, claim=claim)
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
        once = os.environ.get(CRASH_ONCE_ENV)
        if once:
            try:
                fd = os.open(once, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return  # another process crashed here already
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
