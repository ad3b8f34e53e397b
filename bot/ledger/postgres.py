"""The PostgreSQL ledger: the same rows, journal and migrations as the SQLite one, shared by
replicas of `thisday run` on several machines.

It runs the SQLite ledger's queries (`bot.ledger.parts`, `bot.ledger.revisions`), their
`?` placeholders turned into psycopg's here: each write in one transaction, retried after a
lost connection, and for a claimed account fenced first (`bot.ledger.claims`), so a replica
whose claim was taken over can no longer write `sending`. Connections, retries and the
schema migrations are in `bot.ledger.pg_connections`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.ledger.base import TABLES, Claim, LedgerError
from bot.ledger.claims import PostgresClaims, renewing
from bot.ledger.parts import PartQueries
from bot.ledger.pg_connections import has_password, one, redact, replica_name
from bot.ledger.revisions import RevisionQueries
from bot.ledger.sql import POSTGRES, Cursor, Db, T

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = ["PostgresLedger", "has_password", "redact", "renewing", "replica_name"]


def psycopg_sql(shared: str) -> str:
    """A shared query in psycopg's parameter style: `%s` for `?`, a literal `%` doubled."""
    return shared.replace("%", "%%").replace("?", "%s")


class PsycopgDb:
    """A psycopg connection as the shared queries use it (`bot.ledger.sql.Db`)."""

    def __init__(self, conn: Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> Cursor:
        return self.conn.execute(psycopg_sql(sql), args)

    def executemany(self, sql: str, args: Iterable[Sequence[Any]], /) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(psycopg_sql(sql), args)


class PostgresLedger(PostgresClaims, PartQueries, RevisionQueries):
    replicated = True
    dialect = POSTGRES

    # -- how the shared queries (bot.ledger.parts, bot.ledger.revisions) run here ---------

    def _read(self, work: Callable[[Db], T]) -> T:
        return self._run(lambda db: work(PsycopgDb(db)))

    def _write(
        self,
        work: Callable[[Db], T],
        *,
        durable: bool = False,  # every PostgreSQL commit is
        claim: Claim | None = None,
        pipelined: bool = False,
    ) -> T:
        def fenced(db: Connection[dict[str, Any]]) -> T:
            self._fence(db, claim)
            return work(PsycopgDb(db))

        return self._run(fenced, pipelined=pipelined)

    def complete_accounts(self, day: str, accounts: Sequence[str]) -> set[str]:
        """Those of `accounts` whose threads for `day` are all sent: `complete` for many
        accounts in one query (the slot loop asks it after every finished account)."""
        if not accounts:
            return set()
        rows = self._run(
            lambda db: db.execute(
                "SELECT account FROM parts WHERE day = %s AND account = ANY(%s)"
                " GROUP BY account HAVING COUNT(*) FILTER (WHERE state <> 'sent') = 0",
                (day, list(accounts)),
            ).fetchall()
        )
        return {str(r["account"]) for r in rows}

    # -- `thisday ledger migrate` --------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return self._run(lambda db: {table: _count(db, table) for table in TABLES})

    def import_sqlite(
        self, path: Path, progress: Callable[[str, int], None] | None = None
    ) -> dict[str, int]:
        """Copy every table of the SQLite ledger at `path` (already at the latest schema)
        into this one, which must be empty; all in one transaction, counts verified."""
        source = sqlite3.connect(path)
        try:

            def work(db: Connection[dict[str, Any]]) -> dict[str, int]:
                busy = {table: n for table in TABLES if (n := _count(db, table))}
                if busy:
                    what = ", ".join(f"{n} {t}" for t, n in busy.items())
                    raise LedgerError(
                        f"the target ledger {self.where} is not empty ({what}): "
                        "refusing to mix two ledgers; give it an empty database"
                    )
                copied: dict[str, int] = {}
                for table in TABLES:
                    cols = [c[1] for c in source.execute(f"PRAGMA table_info({table})")]
                    names = ", ".join(cols)
                    count = 0
                    with db.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for values in source.execute(f"SELECT {names} FROM {table}"):
                            copy.write_row(values)
                            count += 1
                    copied[table] = count
                    if progress:
                        progress(table, count)
                db.execute(
                    "SELECT setval(pg_get_serial_sequence('journal', 'id'),"
                    " COALESCE((SELECT MAX(id) FROM journal), 0) + 1, false)"
                )
                for table in TABLES:
                    there = _count(db, table)
                    if there != copied[table]:
                        raise LedgerError(
                            f"{table}: copied {copied[table]} rows but the target holds {there};"
                            " nothing was committed"
                        )
                return copied

            return self._run(work, retry=False)
        finally:
            source.close()


def _count(db: Connection[dict[str, Any]], table: str) -> int:
    return int(one(db.execute(f"SELECT COUNT(*) AS n FROM {table}"))["n"])
