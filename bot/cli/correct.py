from __future__ import annotations

import datetime as dt
import sys

import click

from bot.cli.common import config_option, date_option, friendly_errors, json_option, posts_option


@click.command(name="correct")
@date_option
@config_option
@posts_option
@click.option(
    "--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Show the plan; nothing is sent.")
@click.option(
    "--replace",
    is_flag=True,
    help="Bluesky: delete the old thread and post the new one in one atomic applyWrites"
    " (instead of a Correction reply; likes and replies of the old thread are lost).",
)
@json_option
@friendly_errors
def command(
    day: dt.date | None,
    config_file: str | None,
    posts_dir: str | None,
    accounts: tuple[str, ...],
    dry_run: bool,
    replace: bool,
    as_json: bool,
) -> None:
    """Bring a published thread in line with its edited post file, exactly once.

    Mastodon: parts whose text changed are edited in place (the thread and its replies
    stay), parts added are posted as replies, parts removed are deleted. Bluesky has no
    edits: a "Correction: ..." reply (template correction.j2) goes under the head, or with
    --replace the thread is replaced in one atomic write. The ledger keeps the new ids and
    URLs; a run interrupted by a crash is finished by the next one.

    \b
    Example:
      thisday correct --date 2027-01-16 --dry-run
      thisday correct --date 2027-01-16 --account bluesky --replace
    """
    from bot import logs
    from bot.cli.retract import show
    from bot.publishing.publishers.base import PublishError
    from bot.publishing.revise import Reviser
    from bot.workspace import Workspace

    if day is None:
        raise click.UsageError("--date is required: the day whose thread to correct")
    logs.setup("WARNING" if as_json else "INFO")
    workspace = Workspace(config_file, posts_dir)
    reviser = Reviser(workspace)
    try:
        results = reviser.correct(day, accounts or None, dry_run=dry_run, replace=replace)
    except PublishError as exc:
        click.echo(f"thisday correct: {logs.redact(str(exc))}", err=True)
        sys.exit(2)
    finally:
        reviser.close()
    show(results, day, as_json=as_json)
    sys.exit(1 if any(r.status == "failed" for r in results) else 0)
