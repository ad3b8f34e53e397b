"""Replicas on the shared PostgreSQL ledger: who publishes which account is decided by
claims (table `claims`, one row per day and account), taken in a transaction with
`SELECT ... FOR UPDATE SKIP LOCKED`, held for a lease (renewed while working) and carrying a
fencing token that grows at every claim. Every write for a claimed account first locks that
claim row and checks the token, in the same transaction (`_fence`): a replica that was paused
or cut off past its lease, and whose account another replica took over, can no longer write
`sending`, so it never sends. Times of leases and liveness are the ledger's own clock
(`clock_timestamp()`), never the replicas': their clocks may disagree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from bot.ledger.base import Claim, ClaimSeen, Fenced, LedgerError, ReplicaSeen, now_utc
from bot.ledger.pg_connections import PostgresConnections, log, one

if TYPE_CHECKING:
    from psycopg import Connection

NOW = "extract(epoch from clock_timestamp())::float8"


class PostgresClaims(PostgresConnections):
    def heartbeat(self) -> None:
        """Say this replica is alive (the `replicas` table; `status` lists them)."""
        host = socket.gethostname()

        def work(db: Connection[dict[str, Any]]) -> None:
            db.execute(
                "INSERT INTO replicas (name, host, pid, started_at, seen)"
                f" VALUES (%s, %s, %s, %s, {NOW})"
                f" ON CONFLICT (name) DO UPDATE SET seen = {NOW}",
                (self.replica, host, os.getpid(), self.started_at),
            )

        self._run(work, retry=False)

    def leave(self) -> None:
        """A clean stop: release this replica's claims and forget it."""

        def work(db: Connection[dict[str, Any]]) -> None:
            db.execute(
                "UPDATE claims SET holder = NULL, expires = 0 WHERE holder = %s", (self.replica,)
            )
            db.execute("DELETE FROM replicas WHERE name = %s", (self.replica,))

        with contextlib.suppress(LedgerError):
            self._run(work, retry=False)

    def live_replicas(self) -> int:
        def work(db: Connection[dict[str, Any]]) -> int:
            row = one(
                db.execute(
                    f"SELECT COUNT(*) AS n FROM replicas WHERE seen > {NOW} - %s",
                    (self.lease,),
                )
            )
            return int(row["n"])

        return max(1, self._run(work))

    def claim(self, day: str, accounts: Sequence[str], limit: int) -> list[Claim]:
        """Claim up to `limit` of these accounts' threads for `day`: those nobody holds, or
        whose holder's lease ran out. Each claim gets a new fencing token."""
        if not accounts or limit <= 0:
            return []

        def work(db: Connection[dict[str, Any]]) -> list[Claim]:
            # The rows first (a row a concurrent INSERT makes is not visible to the same
            # statement's UPDATE), then every free one taken in a single statement.
            db.execute(
                "INSERT INTO claims (day, account) SELECT %s, unnest(%s::text[])"
                " ON CONFLICT DO NOTHING",
                (day, list(accounts)),
            )
            got = db.execute(
                f"UPDATE claims SET holder = %s, token = token + 1, expires = {NOW} + %s,"
                " claimed_at = %s WHERE (day, account) IN ("
                " SELECT day, account FROM claims WHERE day = %s AND account = ANY(%s)"
                f" AND (holder IS NULL OR expires < {NOW})"
                " ORDER BY account LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING account, token",
                (self.replica, self.lease, now_utc(), day, list(accounts), limit),
            ).fetchall()
            return [
                Claim(day, r["account"], self.replica, int(r["token"]))
                for r in sorted(got, key=lambda r: str(r["account"]))
            ]

        return self._run(work, pipelined=True)

    def renew(self, claims: Iterable[Claim]) -> list[Claim]:
        """Extend the leases of claims still ours; returns the ones lost to another replica."""
        wanted = list(claims)

        def work(db: Connection[dict[str, Any]]) -> list[Claim]:
            lost = []
            for claim in wanted:
                row = db.execute(
                    f"UPDATE claims SET expires = {NOW} + %s WHERE day = %s AND account = %s"
                    " AND holder = %s AND token = %s RETURNING token",
                    (self.lease, claim.day, claim.account, claim.holder, claim.token),
                ).fetchone()
                if row is None:
                    lost.append(claim)
            return lost

        return self._run(work, retry=False) if wanted else []

    def release(self, claim: Claim) -> None:
        def work(db: Connection[dict[str, Any]]) -> None:
            db.execute(
                "UPDATE claims SET holder = NULL, expires = 0 WHERE day = %s AND account = %s"
                " AND holder = %s AND token = %s",
                (claim.day, claim.account, claim.holder, claim.token),
            )

        with contextlib.suppress(LedgerError):
            self._run(work)

    def _fence(self, db: Connection[dict[str, Any]], claim: Claim | None) -> None:
        """Within the caller's transaction: lock the claim row, check it is still ours, and
        renew its lease. A takeover waits on this lock, so it sees what we commit."""
        if claim is None:
            return
        # One statement: the UPDATE locks the row and, under READ COMMITTED, re-reads a row
        # a takeover changed meanwhile, so a claim no longer ours matches nothing.
        mine = db.execute(
            f"UPDATE claims SET expires = {NOW} + %s WHERE day = %s AND account = %s"
            " AND holder = %s AND token = %s RETURNING token",
            (self.lease, claim.day, claim.account, claim.holder, claim.token),
        ).fetchone()
        if mine is not None:
            return
        row = db.execute(
            "SELECT holder, token FROM claims WHERE day = %s AND account = %s",
            (claim.day, claim.account),
        ).fetchone()
        holder = row["holder"] if row else None
        raise Fenced(
            f"{claim.account}: the claim on {claim.day} passed to "
            f"{holder or 'nobody'} (token {row['token'] if row else '?'}, ours "
            f"{claim.token}): this replica sends nothing more for it"
        )

    def replicas(self) -> list[ReplicaSeen]:
        def work(db: Connection[dict[str, Any]]) -> list[ReplicaSeen]:
            out = []
            for r in db.execute(
                f"SELECT name, host, pid, started_at, seen, {NOW} - seen AS age FROM replicas"
                " ORDER BY name"
            ):
                seen = dt.datetime.fromtimestamp(float(r["seen"]), dt.UTC)
                age = float(r["age"])
                out.append(
                    ReplicaSeen(
                        r["name"],
                        r["host"],
                        int(r["pid"]),
                        r["started_at"],
                        seen.isoformat(timespec="seconds"),
                        round(age, 1),
                        age < self.lease,
                    )
                )
            return out

        return self._run(work, retry=False)

    def claims(self, day: str | None = None) -> list[ClaimSeen]:
        def work(db: Connection[dict[str, Any]]) -> list[ClaimSeen]:
            sql = f"SELECT day, account, holder, token, expires - {NOW} AS left_s, claimed_at"
            sql += " FROM claims WHERE holder IS NOT NULL"
            args: list[Any] = []
            if day is not None:
                sql += " AND day = %s"
                args.append(day)
            sql += " ORDER BY day, account"
            return [
                ClaimSeen(
                    r["day"],
                    r["account"],
                    r["holder"],
                    int(r["token"]),
                    round(float(r["left_s"]), 1),
                    r["claimed_at"],
                )
                for r in db.execute(sql, args)
            ]

        return self._run(work, retry=False)


@contextlib.contextmanager
def renewing(ledger: PostgresClaims, held: dict[str, Claim], lost: set[str]) -> Iterator[None]:
    """While publishing: renew the held claims and this replica's heartbeat every third of
    the lease, on a thread of its own. Accounts whose claim was taken over go to `lost`
    (their next fenced write would refuse anyway)."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(ledger.lease / 3):
            try:
                ledger.heartbeat()
                for claim in ledger.renew(list(held.values())):
                    lost.add(claim.account)
            except LedgerError as exc:
                log.warning("cannot renew the claims: %s", exc)
        ledger.close()

    thread = threading.Thread(target=beat, name="claims", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
