# Lazy-import rule: this module's top imports only click (and the shared options); psycopg
# and the ledgers are imported inside the command.
from __future__ import annotations

import click

from bot.cli.common import config_option, friendly_errors


@click.group(name="ledger")
def command() -> None:
    """Manage the ledger (what was published): move it to a shared PostgreSQL database.

    \b
    Example:
      thisday ledger migrate --to postgresql://thisday@db.internal:5432/thisday
    """


@command.command(name="migrate")
@config_option
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The empty PostgreSQL ledger, postgresql://user@host:port/db (no password: use"
    " ledger_password_env/ledger_password_file in the config, or libpq's PGPASSFILE).",
)
@friendly_errors
def migrate(config_file: str | None, target: str) -> None:
    """Copy the SQLite ledger in `state/` into an empty PostgreSQL ledger.

    Every row, the whole journal and the schema version are copied in one transaction and
    the counts verified; a target that already holds rows is refused. The SQLite file is
    left as it was (upgraded to the current schema first). Then set `ledger = "URL"` in
    thisday.toml and start the replicas.

    \b
    Example:
      thisday ledger migrate --to postgresql://thisday@db.internal:5432/thisday
    """
    import sqlite3

    from bot import config
    from bot.ledger.base import TABLES, LedgerError
    from bot.ledger.postgres import PostgresLedger, has_password
    from bot.ledger.store import Ledger

    settings = config.load(config_file)
    if has_password(target):
        raise click.ClickException(
            "the URL holds a password: remove it and use ledger_password_env, "
            "ledger_password_file or PGPASSFILE"
        )
    path = settings.state_folder.ledger
    if not path.exists():
        raise click.ClickException(f"{path}: no SQLite ledger to copy")
    source = Ledger(path)  # brings it to the current schema first
    version = source.schema_version
    source.close()
    with sqlite3.connect(path) as db:
        expected = {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}
    password = config.read_secret(
        settings.ledger_password_env, settings.ledger_password_file, settings.base
    )
    ledger = PostgresLedger(target, password=password, retry_for=0)
    try:
        copied = ledger.import_sqlite(path)
        there = ledger.counts()
        target_version = ledger.schema_version
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        ledger.close()
    if copied != expected or there != expected or target_version != version:
        raise click.ClickException(
            f"the copy does not match: SQLite {expected} (schema {version}), "
            f"PostgreSQL {there} (schema {target_version})"
        )
    counts = ", ".join(f"{n} {t}" for t, n in there.items())
    click.echo(f"copied {path} to {ledger.where}: {counts}; schema version {version}")
    click.echo(f'next: set ledger = "{ledger.where}" in {settings.source} and restart')
