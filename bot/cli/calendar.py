from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import (
    config_option,
    friendly_errors,
    output_file_option,
    posts_option,
    progress_printer,
)


@click.command(name="calendar")
@config_option
@posts_option
@click.option(
    "--year",
    type=click.IntRange(1, 9999),
    default=None,
    metavar="YYYY",
    help="The year to draw (default: this year in the configured timezone).",
)
@output_file_option(
    "--svg",
    "svg_file",
    help="Write the year as a standalone SVG picture instead of the terminal grid.",
)
@output_file_option(
    "--html",
    "html_file",
    help="Write the year as a standalone HTML page instead of the terminal grid.",
)
@friendly_errors
def command(
    config_file: str | None,
    posts_dir: str | None,
    year: int | None,
    svg_file: str | None,
    html_file: str | None,
) -> None:
    """Show the year as 366 days: events per day, days without any, files with errors,
    days already published; then days covered, the longest gap and the next uncovered day.

    Reads the posts index and the ledger only: no network, no credentials. Hover over a day
    in the SVG or HTML picture to list its events.

    \b
    Example:
      thisday calendar
      thisday calendar --year 2028 --html calendar.html
      thisday calendar --svg calendar.svg
    """
    if svg_file and html_file:
        raise click.UsageError("use --svg or --html, not both")
    from bot.tools import calendar_view
    from bot.workspace import Workspace

    workspace = Workspace(config_file, posts_dir)
    if not workspace.posts_dir.is_dir():
        click.echo(f"thisday: warning: posts folder not found: {workspace.posts_dir}", err=True)
    out_file = svg_file or html_file
    view = calendar_view.build(
        workspace, year, titles=bool(out_file), progress=progress_printer("indexing")
    )
    if out_file is None:
        colour = calendar_view.use_colour(sys.stdout)
        click.echo(calendar_view.terminal(view, colour=colour), nl=False, color=colour)
        return
    document = calendar_view.svg(view) if svg_file else calendar_view.html_page(view)
    Path(out_file).write_text(document, encoding="utf-8")
    click.echo(out_file)
    for line in view.summary_lines():
        click.echo(line, err=True)
