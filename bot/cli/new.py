from __future__ import annotations

import sys

import click

from bot.cli.common import config_option, friendly_errors, posts_option


@click.command(name="new")
@click.option(
    "--date",
    "date",
    required=True,
    metavar="YYYY-MM-DD|MM-DD",
    help="The event's day: 1928-01-16, or 03-15 with --year for BC years or none.",
)
@click.option(
    "--year",
    type=int,
    default=None,
    help="The year with an MM-DD date; negative for BC (--year -44 is 44 BC).",
)
@click.option("--title", required=True, help="One line, at most 200 characters.")
@click.option(
    "--summary", default=None, help="The head post's text (default: the first paragraph)."
)
@click.option(
    "--tags",
    "tags",
    multiple=True,
    metavar="TAGS",
    help="Hashtags without '#', separated by commas or spaces (repeatable).",
)
@click.option("--link", default=None, help="A URL to read more.")
@click.option("--lang", default=None, help="Language code if not the config's, e.g. 'de'.")
@click.option("--id", "event_id", default=None, help="The id (default: made from the title).")
@config_option
@posts_option
@friendly_errors
def command(
    date: str,
    year: int | None,
    title: str,
    summary: str | None,
    tags: tuple[str, ...],
    link: str | None,
    lang: str | None,
    event_id: str | None,
    config_file: str | None,
    posts_dir: str | None,
) -> None:
    """Write a new post file with every front-matter key shown, and print its path.

    The file goes to posts/MM-monthname/YYYY-MM-DD-slug.md with an id made from the title
    (unique in the posts folder). Optional keys not given are written as comments, and the
    body holds a placeholder paragraph: replace it with the story. An existing file is
    never overwritten (exit 1).

    \b
    Example:
      thisday new --date 1928-01-16 --title "Stalin sends Trotsky into exile" --tags SovietUnion
      thisday new --date 03-15 --year -44 --title "Caesar is assassinated" --tags AncientRome
      $EDITOR "$(thisday new --date 1969-07-20 --title "Apollo 11 lands on the Moon")"
    """
    from bot.tools.authoring import AuthoringError, create, draft
    from bot.workspace import Workspace

    try:
        post = draft(
            date=date,
            year=year,
            title=title,
            summary=summary,
            tags=" ".join(tags),
            link=link,
            lang=lang,
            event_id=event_id,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--date/--year/--id") from None
    workspace = Workspace(config_file, posts_dir)
    try:
        created = create(workspace, post)
    except AuthoringError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for problem in created.problems:
        click.echo(f"{problem.severity}: {problem.message}", err=True)
    click.echo(created.path)
    click.echo(
        "Replace the placeholder paragraph with the story, then run `thisday check`.", err=True
    )
