from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.common import (
    config_option,
    date_option,
    friendly_errors,
    json_option,
    output_file_option,
    posts_option,
    print_json,
)

if TYPE_CHECKING:
    from bot.tools.preview import Preview


@click.command(name="preview")
@date_option
@config_option
@posts_option
@json_option
@output_file_option(
    "--html",
    "html_file",
    help="Write a standalone page showing the threads side by side as followers will see "
    "them on each platform, and print its path instead of the text (with --json: on stderr).",
)
@friendly_errors
def command(
    day: dt.date | None,
    config_file: str | None,
    posts_dir: str | None,
    as_json: bool,
    html_file: str | None,
) -> None:
    """Show what would be posted on a day, for every account. No network, no credentials.

    \b
    Example:
      thisday preview --date 2027-01-16
      thisday preview --json | jq '.posts[].parts[].text'
      thisday preview --date 2027-03-15 --html preview.html
    """
    from bot.content import scanning

    # The entry point has started listing the posts folder already (bot.launch); this starts
    # it when the command is run another way. Either way it runs while the imports below do.
    scanning.prefetch_for(config_file, posts_dir)

    from bot.tools.preview import preview
    from bot.workspace import Workspace

    workspace = Workspace(config_file, posts_dir)
    result = preview(workspace, day)
    if html_file:
        from bot.tools.preview_html import page

        Path(html_file).write_text(page(result, workspace.settings), encoding="utf-8")
        # With --json, stdout stays one JSON document: the path goes to stderr.
        click.echo(html_file, err=as_json)
        if not as_json:
            for thread in result.threads:
                for note in thread.notes:
                    click.secho(f"warning: {note}", fg="yellow", err=True)
            for problem in result.problems:
                click.secho(str(problem), fg="red", err=True)
    if as_json:
        print_json(result.to_json())
    elif not html_file:
        _print_human(result)
    sys.exit(1 if result.problems else 0)


def _print_human(result: Preview) -> None:
    day = result.day
    click.echo(f"{day.isoformat()} ({day:%A})")
    if not result.events:
        click.echo("No event for this day: nothing would be posted.")
        if result.next_day:
            click.echo(
                f"The next day with an event is {result.next_day.isoformat()}:"
                f" thisday preview --date {result.next_day.isoformat()}"
            )
    for event in result.events:
        click.echo(f"  event {event.id}: {event.title}  [{event.path}]")
    for thread in result.threads:
        extras = [f"lang {thread.lang}"]
        if thread.cw:
            extras.append(f"cw: {thread.cw}")
        if len(thread.images) > 1:
            alts = ", ".join(str(len(p.alt)) for p in thread.images)
            extras.append(f"{len(thread.images)} images + alt ({alts} chars)")
        elif thread.image:
            extras.append(f"image + alt ({len(thread.alt or '')} chars)")
        if thread.card:
            thumb = " with the image as thumbnail" if thread.images else ""
            extras.append(f"link card {thread.card.uri}{thumb}")
        click.echo("")
        click.secho(f"== {thread.account} ({thread.platform}) · " + " · ".join(extras), bold=True)
        total = len(thread.parts)
        for part in thread.parts:
            click.secho(f"-- part {part.index + 1}/{total} · {part.length}/{part.limit}", dim=True)
            click.echo(part.text)
        for note in thread.notes:
            click.secho(f"warning: {note}", fg="yellow", err=True)
    for problem in result.problems:
        click.secho(str(problem), fg="red", err=True)
