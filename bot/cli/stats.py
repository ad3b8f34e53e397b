from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import (
    config_option,
    friendly_errors,
    json_option,
    output_file_option,
    parse_day,
    posts_option,
    print_json,
    progress_printer,
)


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
    return parse_day(value)


@click.command(name="stats")
@config_option
@posts_option
@click.option(
    "--since", callback=_day, default=None, metavar="YYYY-MM-DD", help="First published day."
)
@click.option(
    "--until", callback=_day, default=None, metavar="YYYY-MM-DD", help="Last published day."
)
@click.option("--account", default=None, metavar="NAME", help="Only this account.")
@json_option
@output_file_option(
    "--html", "html_file", help="Also write a standalone HTML page with the charts."
)
@click.option(
    "--no-fetch",
    "offline",
    is_flag=True,
    help="Report from the snapshots already in the ledger; ask no server.",
)
@friendly_errors
def command(
    config_file: str | None,
    posts_dir: str | None,
    since: object,
    until: object,
    account: str | None,
    as_json: bool,
    html_file: str | None,
    offline: bool,
) -> None:
    """Show what followers did with each published thread: likes (Mastodon favourites),
    reposts (boosts), replies and quotes, per event, account, weekday and tag, and the trend.

    Every fetch is kept in the ledger as a dated snapshot: a post deleted since, or a
    server that cannot be reached, keeps its last numbers. Bluesky counts are read from
    the account's `appview` (default https://public.api.bsky.app), without logging in.
    Exits 1 when some threads could not be fetched (their last numbers are shown).

    \b
    Example:
      thisday stats --since 2027-01-01
      thisday stats --account sky --json | jq '.top[0]'
      thisday stats --html stats.html
    """
    import datetime as dt

    from bot.tools import stats
    from bot.workspace import Workspace

    first = since if isinstance(since, dt.date) else None
    last = until if isinstance(until, dt.date) else None
    if first and last and first > last:
        raise click.BadParameter(f"--since {first} is after --until {last}")
    workspace = Workspace(config_file, posts_dir)
    if account is not None and account not in workspace.settings.accounts:
        known = ", ".join(sorted(workspace.settings.accounts)) or "none"
        raise click.BadParameter(f"no account {account!r} in the config (known: {known})")
    data = stats.collect(
        workspace,
        since=first,
        until=last,
        account=account,
        fetch_now=not offline,
        progress=progress_printer("fetching"),
    )
    if html_file:
        Path(html_file).write_text(stats.html_page(data), encoding="utf-8")
    if as_json:
        print_json(data)
    elif html_file:
        click.echo(html_file)
    else:
        click.echo(stats.terminal(data), nl=False)
    if data["failures"]:
        click.echo(
            f"thisday: warning: {len(data['failures'])} threads could not be fetched "
            "(their last known numbers are shown)",
            err=True,
        )
        sys.exit(1)
