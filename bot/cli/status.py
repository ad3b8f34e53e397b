from __future__ import annotations

import json
import sys

import click

from bot.cli.common import config_option, friendly_errors, json_option, posts_option


@click.command(name="status")
@config_option
@posts_option
@click.option(
    "--limit", default=10, show_default=True, metavar="N", help="How many journal entries."
)
@json_option
@friendly_errors
def command(config_file: str | None, posts_dir: str | None, limit: int, as_json: bool) -> None:
    """Show the next run, today's selection, and the last publishes and failures.

    Read from the config, the posts folder and the ledger: it works whether or not the
    daemon runs, and says whether one does.

    \b
    Example:
      thisday status
      thisday status --json | jq '.accounts[] | {account, state}'
    """
    from bot.tools.status import collect, render
    from bot.workspace import Workspace

    report = collect(Workspace(config_file, posts_dir), recent=limit)
    if as_json:
        json.dump(report.as_json(), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        click.echo(render(report))
