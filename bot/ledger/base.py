"""What both ledger backends share: the row types, the states, the schema migrations (one
numbered list, append-only, the same versions on SQLite and PostgreSQL) and the protocol
the rest of the code programs against.

SQLite (`state/ledger.sqlite`) is the default and serves one process; PostgreSQL serves
replicas on several machines, which take per-account claims with a lease and a fencing
token (`claims`), and say they are alive in `replicas`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class State(StrEnum):
    """Where a part stands. The values are what the ledger's `state` column holds."""

    PLANNED = "planned"
    SENDING = "sending"  # committed before the request leaves
    SENT = "sent"
    UNCERTAIN = "uncertain"  # found in `sending`, or a request whose outcome is unknown


PLANNED, SENDING, SENT, UNCERTAIN = State.PLANNED, State.SENDING, State.SENT, State.UNCERTAIN

# Append only. Each entry upgrades the schema by one version (SQLite: PRAGMA user_version;
# PostgreSQL: the thisday_schema table). Written in the SQL both engines accept; the one
# difference (the journal's auto-numbered id) is translated by the PostgreSQL backend.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE parts (
        day         TEXT NOT NULL,              -- local date of the post, YYYY-MM-DD
        event_id    TEXT NOT NULL,
        account     TEXT NOT NULL,
        idx         INTEGER NOT NULL,           -- 0 is the head post
        total       INTEGER NOT NULL,
        platform    TEXT NOT NULL,
        payload     TEXT NOT NULL,              -- JSON: text, facets, lang, cw, image, card...
        handle      TEXT NOT NULL,              -- Mastodon Idempotency-Key / Bluesky record key
        created_at  TEXT,                       -- Bluesky createdAt, fixed at the first attempt
        state       TEXT NOT NULL DEFAULT 'planned'
                    CHECK (state IN ('planned', 'sending', 'sent', 'uncertain')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        planned_at  TEXT NOT NULL,
        sending_at  TEXT,
        sent_at     TEXT,
        remote_id   TEXT,
        uri         TEXT,
        cid         TEXT,
        url         TEXT,
        error       TEXT,
        PRIMARY KEY (day, account, event_id, idx)
    );
    CREATE INDEX parts_by_event ON parts (event_id, day);
    CREATE INDEX parts_by_state ON parts (state);
    CREATE TABLE journal (
        id          INTEGER PRIMARY KEY,
        at          TEXT NOT NULL,
        day         TEXT,
        account     TEXT,
        event_id    TEXT,
        idx         INTEGER,
        kind        TEXT NOT NULL,              -- planned, sending, sent, uncertain, failed...
        detail      TEXT
    );
    CREATE INDEX journal_by_day ON journal (day, account);
    """,
    # 2: replicas on a shared ledger. Unused (and empty) on SQLite, present so that both
    # backends have the same schema at the same version and `ledger migrate` copies as is.
    """
    CREATE TABLE claims (
        day         TEXT NOT NULL,
        account     TEXT NOT NULL,
        holder      TEXT,                       -- replica name; NULL when released
        token       BIGINT NOT NULL DEFAULT 0,  -- fencing token: grows at every claim
        expires     DOUBLE PRECISION NOT NULL DEFAULT 0,  -- epoch seconds, the ledger's clock
        claimed_at  TEXT,
        PRIMARY KEY (day, account)
    );
    CREATE TABLE replicas (
        name        TEXT PRIMARY KEY,           -- host:pid:random
        host        TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        started_at  TEXT NOT NULL,
        seen        DOUBLE PRECISION NOT NULL   -- epoch seconds, the ledger's clock
    );
    """,
    # 3: retractions and corrections of published threads (`thisday retract`/`correct`).
    # Each run plans numbered steps (one request each: a Mastodon delete/edit/reply, or one
    # Bluesky applyWrites) committed before the first request; a step goes planned →
    # sending → done like a part. `retractions` marks the days never to publish again.
    """
    CREATE TABLE revisions (
        day         TEXT NOT NULL,
        account     TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        rev         INTEGER NOT NULL,           -- 1, 2, ... per day, account and event
        step        INTEGER NOT NULL,           -- order of the requests within the revision
        kind        TEXT NOT NULL,              -- retract | correct
        op          TEXT NOT NULL,              -- delete | edit | create | reply | replace
        platform    TEXT NOT NULL,
        payload     TEXT NOT NULL,              -- JSON: targets, new texts, keys, stamps
        state       TEXT NOT NULL DEFAULT 'planned'
                    CHECK (state IN ('planned', 'sending', 'done', 'uncertain')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        planned_at  TEXT NOT NULL,
        sending_at  TEXT,
        done_at     TEXT,
        result      TEXT,                       -- JSON: the remote ids and URLs it made
        error       TEXT,
        PRIMARY KEY (day, account, event_id, rev, step)
    );
    CREATE INDEX revisions_by_state ON revisions (state);
    CREATE TABLE retractions (
        day         TEXT NOT NULL,
        account     TEXT NOT NULL,
        at          TEXT NOT NULL,
        PRIMARY KEY (day, account)
    );
    """,
    # 4: engagement snapshots (`thisday stats`): what followers did with each sent part, as
    # its server counted it at `at`. Kept, never overwritten: trends survive a deleted post
    # (`gone`) or a server that cannot be reached today.
    """
    CREATE TABLE engagement (
        at          TEXT NOT NULL,              -- ISO UTC time of the fetch
        day         TEXT NOT NULL,
        account     TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        idx         INTEGER NOT NULL,
        platform    TEXT NOT NULL,
        likes       INTEGER NOT NULL DEFAULT 0,   -- Mastodon favourites, Bluesky likes
        reposts     INTEGER NOT NULL DEFAULT 0,   -- Mastodon boosts, Bluesky reposts
        replies     INTEGER NOT NULL DEFAULT 0,   -- as the server counts them (ours included)
        quotes      INTEGER NOT NULL DEFAULT 0,
        gone        INTEGER NOT NULL DEFAULT 0,   -- 1: the server no longer has the post
        PRIMARY KEY (day, account, event_id, idx, at)
    );
    CREATE INDEX engagement_by_at ON engagement (at);
    """,
)

TABLES = (
    "parts",
    "journal",
    "claims",
    "replicas",
    "revisions",
    "retractions",
    "engagement",
)


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def statements(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    cleaned = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in cleaned.split(";") if s.strip()]


@dataclass(slots=True)
class Row:
    """One part of one thread, as the ledger holds it."""

    day: str
    event_id: str
    account: str
    idx: int
    total: int
    platform: str
    payload: dict[str, Any]
    key: str  # the Mastodon Idempotency-Key or Bluesky record key (column `handle`)
    created_at: str | None
    state: State
    attempts: int
    planned_at: str
    sending_at: str | None
    sent_at: str | None
    remote_id: str | None
    uri: str | None
    cid: str | None
    url: str | None
    error: str | None

    @property
    def text(self) -> str:
        return str(self.payload["text"])

    @classmethod
    def from_sql(cls, row: Mapping[str, Any]) -> Row:
        values = dict(row)
        values["payload"] = json.loads(values["payload"])
        values["state"] = State(values["state"])
        values["key"] = values.pop("handle")
        return cls(**values)


@dataclass(slots=True)
class Step:
    """One request of a retraction or correction (table `revisions`)."""

    day: str
    account: str
    event_id: str
    rev: int
    step: int
    kind: str  # retract | correct
    op: str  # delete | edit | create | reply | replace
    platform: str
    payload: dict[str, Any]
    state: str = "planned"  # planned | sending | done | uncertain
    attempts: int = 0
    planned_at: str = ""
    sending_at: str | None = None
    done_at: str | None = None
    result: list[dict[str, Any]] | None = None
    error: str | None = None

    @classmethod
    def from_sql(cls, row: Mapping[str, Any]) -> Step:
        values = dict(row)
        values["payload"] = json.loads(values["payload"])
        values["result"] = json.loads(values["result"]) if values.get("result") else None
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Revised:
    """A retraction or correction as `status` shows it."""

    day: str
    account: str
    event_id: str
    rev: int
    kind: str
    steps: int
    done: int
    at: str  # when it was planned (ISO UTC)


@dataclass(frozen=True, slots=True)
class Remote:
    """Where a part now lives on its network."""

    id: str | None = None  # Mastodon status id
    uri: str | None = None  # at:// URI
    cid: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One part's engagement as fetched at `at` (table `engagement`, schema 4)."""

    at: str  # ISO UTC
    day: str
    account: str
    event_id: str
    idx: int
    platform: str
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    gone: bool = False

    @classmethod
    def from_sql(cls, row: Mapping[str, Any]) -> Snapshot:
        values = dict(row)
        values["gone"] = bool(values["gone"])
        return cls(**values)

    def sql_values(self) -> tuple[Any, ...]:
        return (
            self.at,
            self.day,
            self.account,
            self.event_id,
            self.idx,
            self.platform,
            self.likes,
            self.reposts,
            self.replies,
            self.quotes,
            int(self.gone),
        )


ENGAGEMENT_COLUMNS = (
    "at, day, account, event_id, idx, platform, likes, reposts, replies, quotes, gone"
)


@dataclass(frozen=True, slots=True)
class Figures:
    """What the ledger says per account, for `status`, /healthz and /metrics."""

    sent: dict[str, int]  # parts sent
    failed: dict[str, int]  # failed publish runs
    last_sent: dict[str, str]  # ISO time of the last part sent


@dataclass(frozen=True, slots=True)
class Claim:
    """This replica's right to publish one account's thread for one day. `token` is the
    fencing token: every write for the account checks, in its own transaction, that the
    claim still carries it (another replica taking over raises it)."""

    day: str
    account: str
    holder: str
    token: int


@dataclass(frozen=True, slots=True)
class ReplicaSeen:
    name: str
    host: str
    pid: int
    started_at: str
    last_seen: str  # ISO UTC
    age: float  # seconds since last seen, by the ledger's clock
    live: bool


@dataclass(frozen=True, slots=True)
class ClaimSeen:
    day: str
    account: str
    holder: str | None
    token: int
    expires_in: float  # seconds; negative once expired
    claimed_at: str | None


class LockedError(RuntimeError):
    pass


class LedgerError(RuntimeError):
    """A ledger problem phrased for the operator (no traceback, no secret)."""


class NotALedger(LedgerError):
    """The file at the ledger's place is corrupt or belongs to something else."""


class LedgerUnavailable(LedgerError):
    """The shared ledger cannot be reached (now): nothing may be sent until it can."""


class Fenced(LedgerError):
    """This replica's claim was taken over: it must not write or send for that account."""


class LedgerStore(Protocol):
    """What the pipeline, the daemon and the tools use; both backends implement it."""

    replicated: bool  # True: claims decide who publishes (PostgreSQL)

    @property
    def where(self) -> str: ...  # for messages: a file path or a password-free URL

    @property
    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def publish_lock(self, wait: bool = True) -> contextlib.AbstractContextManager[None]: ...

    def plan(self, rows: Sequence[Row], *, claim: Claim | None = None) -> None: ...

    def parts(self, day: str, account: str | None = None) -> list[Row]: ...

    def threads(self, day: str, account: str) -> dict[str, list[Row]]: ...

    def mark_sending(
        self,
        rows: Sequence[Row],
        created_at: Sequence[str | None] | None = None,
        *,
        claim: Claim | None = None,
    ) -> None: ...

    def mark_sent(
        self,
        rows: Sequence[Row],
        remotes: Sequence[Remote],
        how: str = "sent",
        *,
        claim: Claim | None = None,
    ) -> None: ...

    def mark(
        self,
        rows: Iterable[Row],
        state: State,
        error: str | None = None,
        *,
        claim: Claim | None = None,
    ) -> None: ...

    def note(
        self, day: str, account: str, event_id: str | None, kind: str, detail: str
    ) -> None: ...

    def uncertain_after_crash(
        self, day: str, account: str, *, claim: Claim | None = None
    ) -> list[Row]: ...

    def events_on(self, day: dt.date) -> list[str]: ...

    def last_published(self, ids: Iterable[str], before: dt.date) -> dict[str, dt.date]: ...

    def complete(self, day: str, account: str) -> bool: ...

    def published_days(self) -> dict[str, set[str]]: ...

    def recent_journal(
        self, limit: int = 50, kinds: Sequence[str] | None = None
    ) -> Sequence[Mapping[str, Any]]: ...

    def figures(self) -> Figures: ...

    def last_failure(self, day: str, account: str) -> str | None: ...

    def replicas(self) -> list[ReplicaSeen]: ...

    def claims(self, day: str | None = None) -> list[ClaimSeen]: ...

    # engagement snapshots (schema 4, `thisday stats`)

    def sent_parts(
        self, since: str | None = None, until: str | None = None, account: str | None = None
    ) -> list[Row]: ...

    def record_engagement(self, snapshots: Sequence[Snapshot]) -> None: ...

    def engagement(
        self, since: str | None = None, until: str | None = None, account: str | None = None
    ) -> list[Snapshot]: ...

    # retractions and corrections (schema 3)

    def plan_revision(self, steps: Sequence[Step], *, retract: bool = False) -> None: ...

    def revisions(self, day: str, account: str) -> list[Step]: ...

    def mark_step(
        self,
        step: Step,
        state: str,
        *,
        payload: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None: ...

    def finish_step(
        self,
        step: Step,
        result: Sequence[Remote],
        *,
        drop: Sequence[int] = (),
        put: Sequence[Row] = (),
    ) -> None: ...

    def steps_after_crash(self, day: str, account: str) -> list[Step]: ...

    def retracted(self, day: str, account: str) -> bool: ...

    def unretract(self, day: str, account: str) -> None: ...

    def revised(self) -> list[Revised]: ...


def remote_json(remote: Remote) -> dict[str, Any]:
    return {
        k: v
        for k, v in (
            ("id", remote.id),
            ("uri", remote.uri),
            ("cid", remote.cid),
            ("url", remote.url),
        )
        if v is not None
    }


def group_threads(rows: Iterable[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for row in rows:
        out.setdefault(row.event_id, []).append(row)
    return out


@contextlib.contextmanager
def nothing() -> Iterator[None]:
    yield
