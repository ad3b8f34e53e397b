from __future__ import annotations

import datetime as dt
import json
import sys

import click

from bot.cli.common import config_option, date_option, friendly_errors, json_option, posts_option


@click.command(name="publish")
@date_option
@config_option
@posts_option
@click.option(
    "--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable)."
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be published; no network, no ledger."
)
@click.option(
    "--force",
    is_flag=True,
    help="Publish a day that was retracted (thisday retract) again, as a new thread.",
)
@json_option
@friendly_errors
def command(
    day: dt.date | None,
    config_file: str | None,
    posts_dir: str | None,
    accounts: tuple[str, ...],
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Publish the day's thread to every account (or one), exactly once.

    Safe to run again: what the ledger holds as sent is never sent twice, and a thread
    interrupted by a crash is completed. Exits 0 when every account holds the full thread.

    \b
    Example:
      thisday publish                      # today, every account
      thisday publish --account bluesky --date 2027-01-16 --json
    """
    from bot import logs
    from bot.publishing.pipeline import ALREADY, DRY_RUN, FAILED, RETRACTED, Pipeline
    from bot.publishing.publishers.base import PublishError
    from bot.workspace import Workspace

    logs.setup("WARNING" if as_json else "INFO")
    workspace = Workspace(config_file, posts_dir)
    day = day or workspace.settings.today()
    pipeline = Pipeline(workspace)
    try:
        results = pipeline.publish(day, accounts or None, dry_run=dry_run, force=force)
    except PublishError as exc:
        click.echo(f"thisday publish: {logs.redact(str(exc))}", err=True)
        sys.exit(2)
    finally:
        pipeline.close()

    if as_json:
        document = {"date": day.isoformat(), "results": [r.to_json() for r in results]}
        json.dump(document, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        if not results:
            click.echo(f"{day.isoformat()}: no event for this day, nothing to publish.")
        for result in results:
            label = f"{result.account} ({result.platform}) · {result.event}"
            if result.status == FAILED:
                click.secho(f"✗ {label}: failed: {logs.redact(result.error or '')}", fg="red")
            elif result.status == ALREADY:
                click.echo(f"= {label}: already published, nothing sent")
            elif result.status == RETRACTED:
                click.echo(f"= {label}: retracted, nothing sent (publish --force to post it again)")
            elif result.status == DRY_RUN:
                click.echo(f"~ {label}: would publish {len(result.texts)} part(s)")
                for n, text in enumerate(result.texts, 1):
                    click.echo(f"  [{n}] " + text.replace("\n", "\n      "))
            else:
                click.secho(f"✓ {label}: published", fg="green")
            for part in result.parts:
                if part.get("url"):
                    click.echo(f"    {part['url']}")
    sys.exit(1 if any(r.status == FAILED for r in results) else 0)
