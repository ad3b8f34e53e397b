"""How the ledger's shared queries reach either engine: the connection shape they use, the
few places where SQLite's and PostgreSQL's SQL differ, and the journal.

The shared queries (`bot.ledger.parts`, `bot.ledger.revisions`) are written once, with `?`
placeholders; PostgreSQL's connection adapter turns them into psycopg's `%s`. Each backend
says how a unit of work runs: SQLite in its own process-local transactions, PostgreSQL
with retries and, for a claimed account, the fence (see `bot.ledger.postgres`).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bot.ledger.base import Claim, Row, Step, now_utc

T = TypeVar("T")


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """A connection inside a unit of work (sqlite3's as it is; psycopg's adapted)."""

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, args: Iterable[Sequence[Any]], /) -> object: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """What the shared queries say differently on each engine."""

    # Appended to the INSERTs of `plan` and `plan_revision`: a PostgreSQL transaction may
    # be repeated after a commit whose answer was lost, and must then change nothing.
    repeatable: str
    # Appended to a SELECT of rows the same transaction then updates (SQLite's write
    # transactions already hold the whole database).
    lock_rows: str
    # PostgreSQL takes a list as one array parameter; SQLite needs one `?` per value, and
    # at most a few hundred of them per statement.
    arrays: bool

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column` is one of `values`: the condition and its arguments."""
        if self.arrays:
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def chunks(self, values: Sequence[T]) -> Iterator[Sequence[T]]:
        """`values` in lists short enough for `among`."""
        size = len(values) if self.arrays else 500
        for start in range(0, len(values), max(size, 1)):
            yield values[start : start + size]


SQLITE = Dialect(repeatable="", lock_rows="", arrays=False)
POSTGRES = Dialect(repeatable=" ON CONFLICT DO NOTHING", lock_rows=" FOR UPDATE", arrays=True)


class SqlLedger(abc.ABC):
    """What the shared queries need of a backend."""

    dialect: Dialect

    @abc.abstractmethod
    def _read(self, work: Callable[[Db], T]) -> T:
        """`work`, which only reads."""

    @abc.abstractmethod
    def _write(
        self,
        work: Callable[[Db], T],
        *,
        durable: bool = False,
        claim: Claim | None = None,
        pipelined: bool = False,
    ) -> T:
        """`work` in one write transaction, which may run again after a lost connection
        (so it must set the same final state, and change the Python objects only after).

        `durable`: it reaches the disk before the commit returns (SQLite; PostgreSQL always
        does). `claim`: the transaction first checks this replica still holds it
        (PostgreSQL; a SQLite ledger has no claims). `pipelined`: the work reads no result
        of its writes (`rowcount`), so PostgreSQL may send its statements together."""


# One part (its arguments: `key`), one step of a revision (`step_key`).
WHERE_PART = " WHERE day = ? AND account = ? AND event_id = ? AND idx = ?"
WHERE_STEP = " WHERE day = ? AND account = ? AND event_id = ? AND rev = ? AND step = ?"


def key(row: Row) -> tuple[str, str, str, int]:
    return (row.day, row.account, row.event_id, row.idx)


def step_key(step: Step) -> tuple[str, str, str, int, int]:
    return (step.day, step.account, step.event_id, step.rev, step.step)


def payload_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def journal(
    db: Db,
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


def journal_row(db: Db, row: Row, kind: str, detail: str | None) -> None:
    journal(db, row.day, row.account, row.event_id, row.idx, kind, detail)
