from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import config_option, friendly_errors, posts_option, progress_printer


@click.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@config_option
@posts_option
@click.option("--dry-run", is_flag=True, help="Validate every row and report; write nothing.")
@friendly_errors
def command(file: str, config_file: str | None, posts_dir: str | None, dry_run: bool) -> None:
    """Write one post file per row of a CSV or JSON file, validated as `check` does.

    CSV needs a header row; JSON is a list of objects. Columns: date, title, summary, body,
    tags, link, lang, image, alt (also year, cw, id). `date` is YYYY-MM-DD, or MM-DD with
    `year` (-44 for 44 BC); `tags` a list or text separated by commas or spaces; `image` a
    file relative to FILE, copied next to the post. Rows with errors are reported as
    FILE:ROW: error: ... and skipped. Importing the same file again changes nothing; a
    post file that exists with other content is never overwritten. Exits 1 when a row was
    skipped.

    \b
    Example:
      thisday import events.csv
      thisday import --dry-run events.json
    """
    from bot.tools.authoring import AuthoringError, import_file
    from bot.workspace import Workspace

    workspace = Workspace(config_file, posts_dir)
    try:
        report = import_file(
            workspace,
            Path(file),
            shown=file,
            dry_run=dry_run,
            progress=progress_printer("importing"),
            index_progress=progress_printer("indexing posts"),
        )
    except AuthoringError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for message in report.messages:
        click.echo(message)
    click.echo(report.summary(dry_run))
    sys.exit(1 if report.skipped else 0)
