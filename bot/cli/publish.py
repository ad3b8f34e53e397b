from __future__ import annotations

import click

from bot.cli.common import (
    AccountsRequest,
    accounts_command,
    exit_for,
    print_results_json,
    publish_errors_exit,
)


@accounts_command(
    "publish",
    dry_run_help="Show what would be published; no network, no ledger.",
    options=[
        click.option(
            "--force",
            is_flag=True,
            help="Publish a day that was retracted (thisday retract) again, as a new thread.",
        )
    ],
)
def command(request: AccountsRequest, force: bool) -> None:
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

    workspace = request.open_workspace()
    day = request.day or workspace.settings.today()
    pipeline = Pipeline(workspace)
    with publish_errors_exit("publish", pipeline):
        results = pipeline.publish(day, request.chosen, dry_run=request.dry_run, force=force)

    if request.as_json:
        print_results_json(day, results)
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
    exit_for(results)
