"""Both ledgers: the SQLite one upgrades in place and refuses a foreign file clearly; the
PostgreSQL one (a real server started here on 127.0.0.1) keeps the same states, claims with
a lease and a fencing token, survives a server restart, and `ledger migrate` copies a year
of SQLite history into it."""

from __future__ import annotations

import datetime as dt
import sqlite3
import textwrap
import threading

import pytest
from support import rows_for, thisday, write_config

from bot.ledger.base import MIGRATIONS, SENDING, SENT, Fenced, NotALedger, Remote, statements
from bot.ledger.postgres import PostgresLedger, redact
from bot.ledger.store import Ledger

# -- SQLite: upgrade in place, foreign files --------------------------------------------------


def test_a_sqlite_ledger_of_the_previous_schema_upgrades_in_place(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:  # exactly what the previous thisday created
        for statement in statements(MIGRATIONS[0]):
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
    old = Ledger.__new__(Ledger)  # write rows through today's code paths at version 1
    old.path = path
    old._local = threading.local()
    old._write_lock = threading.Lock()
    rows = rows_for("2026-01-16", "trotsky", "masto", parts=2)
    old.plan(rows)
    old.mark_sending(rows)
    old.mark_sent(rows, [Remote(id="1"), Remote(id="2")])
    old.close()

    ledger = Ledger(path)
    assert ledger.schema_version == len(MIGRATIONS)  # every migration applied in place
    assert ledger.complete("2026-01-16", "masto")
    assert [r.remote_id for r in ledger.parts("2026-01-16")] == ["1", "2"]
    tables = {r[0] for r in ledger.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"parts", "journal", "claims", "replicas"} <= tables
    assert ledger.replicas() == [] and ledger.claims() == []


@pytest.mark.parametrize("content", [b"not a database at all, just text\n" * 100, "foreign"])
def test_a_corrupt_or_foreign_file_is_named_not_a_bare_database_error(tmp_path, content):
    path = tmp_path / "state" / "ledger.sqlite"
    path.parent.mkdir()
    if content == "foreign":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    else:
        path.write_bytes(content)
    with pytest.raises(NotALedger, match=r"state/ledger\.sqlite is not a thisday ledger.*move it"):
        Ledger(path)


def test_status_on_a_corrupt_ledger_is_one_clear_line(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "ledger.sqlite").write_bytes(b"garbage" * 1000)
    done = thisday("status", "--config", str(config))
    assert done.returncode == 2
    assert "ledger.sqlite is not a thisday ledger" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_password_in_the_ledger_url_is_refused_without_printing_it(tmp_path):
    config = write_config(tmp_path, extra='ledger = "postgresql://bot:hunter2@db:5432/thisday"')
    done = thisday("status", "--config", str(config))
    assert done.returncode == 2 and "holds a password" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert redact("postgresql://bot:hunter2@db:5432/x") == "postgresql://bot@db:5432/x"


# -- PostgreSQL ------------------------------------------------------------------------------

servers = pytest.mark.servers


@servers
def test_postgres_ledger_keeps_the_same_states_and_answers(pg_url):
    ledger = PostgresLedger(pg_url)
    assert ledger.schema_version == len(MIGRATIONS)
    assert PostgresLedger(pg_url).schema_version == len(MIGRATIONS)  # reopens, no re-run
    rows = rows_for("2027-01-16", "trotsky", "masto", parts=2)
    ledger.plan(rows)
    ledger.plan(rows)  # a repeat after a lost answer changes nothing
    ledger.mark_sending(rows[:1])
    assert [r.state for r in ledger.parts("2027-01-16")] == [SENDING, "planned"]
    assert [r.key for r in ledger.uncertain_after_crash("2027-01-16", "masto")] == [rows[0].key]
    ledger.mark_sending(rows)
    ledger.mark_sent(rows, [Remote(id="1"), Remote(id="2", url="https://m/2")])
    assert ledger.complete("2027-01-16", "masto")
    assert ledger.published_days() == {"2027-01-16": {"masto"}}
    assert ledger.events_on(dt.date(2027, 1, 16)) == ["trotsky"]
    assert ledger.last_published(["trotsky", "x"], dt.date(2028, 1, 1)) == {
        "trotsky": dt.date(2027, 1, 16)
    }
    assert ledger.figures().sent == {"masto": 2}
    kinds = [r["kind"] for r in reversed(ledger.recent_journal())]
    assert kinds == ["planned", "sending", "uncertain", "sending", "sending", "sent", "sent"]


@servers
def test_claims_spread_skip_held_ones_and_a_takeover_fences_the_old_holder(pg_url):
    a = PostgresLedger(pg_url, lease=1.0, replica="a")
    b = PostgresLedger(pg_url, lease=1.0, replica="b")
    accounts = [f"acct{n}" for n in range(4)]
    mine = a.claim("2027-01-16", accounts, 2)
    theirs = b.claim("2027-01-16", accounts, 10)
    assert {c.account for c in mine} == {"acct0", "acct1"}
    assert {c.account for c in theirs} == {"acct2", "acct3"}  # the held ones are skipped
    assert b.claim("2027-01-16", accounts, 10) == []

    rows = rows_for("2027-01-16", "trotsky", "acct0", parts=2)
    a.plan(rows, claim=mine[0])
    a.mark_sending(rows[:1], claim=mine[0])
    a.mark_sent(rows[:1], [Remote(id="1")], claim=mine[0])
    assert a.renew(mine) == []
    # `a` stops renewing (paused); after the lease, `b` takes over with a higher token.
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    taken: list = []
    while not taken and dt.datetime.now() < deadline:
        taken = b.claim("2027-01-16", ["acct0"], 1)
    assert taken and taken[0].token > mine[0].token
    with pytest.raises(Fenced, match="acct0"):
        a.mark_sending(rows[1:], claim=mine[0])
    assert a.renew(mine[:1]) == mine[:1]
    assert [r.state for r in b.parts("2027-01-16", "acct0")] == [SENT, "planned"]
    b.mark_sending(rows[1:], claim=taken[0])
    b.release(taken[0])
    assert {c.account for c in a.claims("2027-01-16")} == {"acct1", "acct2", "acct3"}


@servers
def test_a_postgres_restart_between_writes_loses_nothing(pg_url, postgres):
    ledger = PostgresLedger(pg_url, retry_for=60)
    rows = rows_for("2027-01-16", "trotsky", "masto", parts=3)
    ledger.plan(rows)
    ledger.mark_sending(rows[:1])
    postgres.restart(down_for=1.0)
    ledger.mark_sent(rows[:1], [Remote(id="1")])  # reconnects with backoff

    def writes() -> None:  # while the server restarts (started here: PDEATHSIG is per thread)
        ledger.mark_sending(rows[1:])
        ledger.mark_sent(rows[1:], [Remote(id="2"), Remote(id="3")])
        ledger.close()

    writer = threading.Thread(target=writes)
    postgres.process.stop(grace=15)
    writer.start()
    postgres.restart_stopped(down_for=1.5)
    writer.join()
    assert ledger.complete("2027-01-16", "masto")
    assert [r.remote_id for r in ledger.parts("2027-01-16")] == ["1", "2", "3"]


@servers
def test_ledger_migrate_copies_a_year_of_history_and_refuses_a_non_empty_target(tmp_path, pg_url):
    config = write_config(tmp_path)
    sqlite_ledger = Ledger(tmp_path / "state" / "ledger.sqlite")
    day = dt.date(2026, 1, 1)
    for n in range(365):
        iso = (day + dt.timedelta(days=n)).isoformat()
        for account, parts in (("masto", 3), ("sky", 2)):
            rows = rows_for(iso, f"event-{n}", account, parts=parts)
            sqlite_ledger.plan(rows)
            sqlite_ledger.mark_sending(rows)
            sqlite_ledger.mark_sent(rows, [Remote(id=f"{iso}-{i}") for i in range(parts)])
    sqlite_ledger.note("2026-12-31", "sky", None, "failed", "a failure to remember")
    before = sqlite_ledger.recent_journal(100000)
    published = sqlite_ledger.published_days()
    sqlite_ledger.close()

    done = thisday("ledger", "migrate", "--config", str(config), "--to", pg_url)
    assert done.returncode == 0, done.stderr
    assert "1825 parts" in done.stdout and f"schema version {len(MIGRATIONS)}" in done.stdout

    target = PostgresLedger(pg_url)
    assert target.published_days() == published
    assert target.recent_journal(100000) == before
    assert target.last_failure("2026-12-31", "sky") == "a failure to remember"
    assert target.schema_version == len(MIGRATIONS)
    rows = rows_for("2027-01-01", "new", "masto")
    target.plan(rows)  # the journal's numbering continues after the copied ids
    assert target.recent_journal(1)[0]["id"] == before[0]["id"] + 1

    again = thisday("ledger", "migrate", "--config", str(config), "--to", pg_url)
    assert again.returncode != 0 and "not empty" in again.stderr
    assert target.counts()["parts"] == 1826


@servers
def test_status_lists_replicas_and_claims(tmp_path, pg_url):
    config = write_config(
        tmp_path,
        accounts=textwrap.dedent(
            """
            [accounts.masto]
            platform = "mastodon"
            server = "http://127.0.0.1:9"
            token_env = "NONE"
            """
        ),
        extra=f'ledger = "{pg_url}"',
    )
    ledger = PostgresLedger(pg_url, replica="host-a:42:beef")
    ledger.heartbeat()
    today = dt.datetime.now(dt.UTC).astimezone().date().isoformat()
    ledger.claim(today, ["masto"], 1)
    import json

    done = thisday("status", "--json", "--config", str(config))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [r["name"] for r in doc["replicas"]] == ["host-a:42:beef"]
    assert doc["replicas"][0]["live"] is True
    assert [(c["account"], c["holder"]) for c in doc["claims"]] == [("masto", "host-a:42:beef")]
    text = thisday("status", "--config", str(config)).stdout
    assert "host-a:42:beef" in text
