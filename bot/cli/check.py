from __future__ import annotations

import sys

import click

from bot.cli.common import config_option, friendly_errors, posts_option, progress_printer


@click.command(name="check")
@config_option
@posts_option
@friendly_errors
def command(config_file: str | None, posts_dir: str | None) -> None:
    """Validate every post file and template, and prove every event fits every account.

    Prints one line per problem (`path:line: error|warning: message`) and a summary.
    Exits 1 when there is any error.

    \b
    Example:
      thisday check --config config/thisday.toml
    """
    from bot.tools.checking import check
    from bot.workspace import Workspace

    workspace = Workspace(config_file, posts_dir)
    report = check(workspace, progress=progress_printer("checking"))
    for problem in sorted(report.problems, key=lambda p: (p.path, p.line)):
        click.echo(str(problem))
    click.echo(report.summary())
    sys.exit(1 if report.errors else 0)
