"""The SQLite ledger: one row per (day, event, account, part), the truth of what was published
by a single process (the default; `bot.ledger.postgres` serves replicas).

Every part goes planned → sending → sent. `sending` (with the idempotency key) is
committed BEFORE the request leaves; `sent` (with the remote ids) after the answer. A part
found in `sending` by a later process is `uncertain`: the publisher must look before it
resends. The schema only ever grows by appended migrations (bot.ledger.base): operators'
ledgers live for years and upgrade in place. The queries are shared with PostgreSQL
(`bot.ledger.parts`, `bot.ledger.revisions`); here is what only SQLite does: the file, its
write transactions, the publish lock and the `user_version` migrations.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.ledger.base import (
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
    Row,
    State,
    now_utc,
    statements,
)
from bot.ledger.parts import PartQueries
from bot.ledger.revisions import RevisionQueries
from bot.ledger.sql import SQLITE, Db, T

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


class Ledger(PartQueries, RevisionQueries):
    replicated = False  # one process at a time (the publish lock), no claims
    dialect = SQLITE

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

    # -- how the shared queries (bot.ledger.parts, bot.ledger.revisions) run here ---------

    def _read(self, work: Callable[[Db], T]) -> T:
        return work(self.db)

    def _write(
        self,
        work: Callable[[Db], T],
        *,
        durable: bool = False,
        claim: Claim | None = None,
        pipelined: bool = False,
    ) -> T:
        with self.transaction(durable=durable) as db:
            return work(db)

    def uncertain_after_crash(
        self, day: str, account: str, *, claim: Claim | None = None
    ) -> list[Row]:
        found = self.db.execute(
            "SELECT 1 FROM parts WHERE day = ? AND account = ? AND state = 'sending' LIMIT 1",
            (day, account),
        ).fetchone()
        if found is None:
            return []  # the usual case, without taking the write lock
        return super().uncertain_after_crash(day, account, claim=claim)

    def replicas(self) -> list[ReplicaSeen]:
        return []  # a SQLite ledger serves one process: no replicas, no claims

    def claims(self, day: str | None = None) -> list[ClaimSeen]:
        return []
