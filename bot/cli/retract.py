from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from bot.cli.common import config_option, date_option, friendly_errors, json_option, posts_option

if TYPE_CHECKING:
    from bot.publishing.revise import Result


@click.command(name="retract")
@date_option
@config_option
@posts_option
@click.option(
    "--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; nothing is sent.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@friendly_errors
def command(
    day: dt.date | None,
    config_file: str | None,
    posts_dir: str | None,
    accounts: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Delete a day's published thread on every account (or one), exactly once.

    Bluesky: the whole thread in one atomic applyWrites; Mastodon: every part, replies
    first. The day is then marked retracted: neither `publish` nor the daemon posts it again
    (`publish --force` does). Safe to run again after a crash: it finishes what was started.
    Asks for confirmation unless --yes (required when not on a terminal).

    \b
    Example:
      thisday retract --date 2027-01-16 --dry-run
      thisday retract --date 2027-01-16 --account bluesky --yes
    """
    from bot import logs
    from bot.publishing.publishers.base import PublishError
    from bot.publishing.revise import Reviser
    from bot.workspace import Workspace

    if day is None:
        raise click.UsageError("--date is required: the day whose thread to retract")
    logs.setup("WARNING" if as_json else "INFO")
    workspace = Workspace(config_file, posts_dir)
    reviser = Reviser(workspace)
    try:
        if not dry_run and not yes:
            plan = reviser.retract(day, accounts or None, dry_run=True)
            show(plan, day, as_json=False, err=as_json)
            if not any(r.plan for r in plan):
                sys.exit(1 if any(r.status == "failed" for r in plan) else 0)
            if not sys.stdin.isatty():
                click.echo("thisday retract: not on a terminal: add --yes to confirm", err=True)
                sys.exit(2)
            if not click.confirm(f"Delete these posts of {day.isoformat()}?", err=True):
                click.echo("nothing deleted", err=True)
                sys.exit(1)
        results = reviser.retract(day, accounts or None, dry_run=dry_run)
    except PublishError as exc:
        click.echo(f"thisday retract: {logs.redact(str(exc))}", err=True)
        sys.exit(2)
    finally:
        reviser.close()
    show(results, day, as_json=as_json)
    sys.exit(1 if any(r.status == "failed" for r in results) else 0)


def show(results: Sequence[Result], day: dt.date, *, as_json: bool, err: bool = False) -> None:
    """The results as lines (or one JSON document); `err`: on stderr (a plan before asking)."""
    from bot import logs

    if as_json:
        document = {"date": day.isoformat(), "results": [r.to_json() for r in results]}
        json.dump(document, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return
    for r in results:
        label = f"{r.account} ({r.platform})" + (f" · {r.event}" if r.event else "")
        if r.status == "failed":
            click.secho(f"✗ {label}: {logs.redact(r.error or '')}", fg="red", err=err)
        else:
            click.echo(f"{'~' if r.status == 'dry-run' else '✓'} {label}: {r.status}", err=err)
        for line in r.plan:
            click.echo(f"    {line}", err=err)
        for part in r.parts:
            if part.get("url"):
                click.echo(f"    {part['url']}", err=err)
