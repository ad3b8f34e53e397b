from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING

import click

from bot.cli.common import (
    AccountsRequest,
    accounts_command,
    exit_for,
    revise_and_report,
    show_revisions,
)

if TYPE_CHECKING:
    from bot.publishing.revise import Result, Reviser


@accounts_command(
    "retract",
    dry_run_help="Show what would be deleted; nothing is sent.",
    options=[click.option("--yes", is_flag=True, help="Do not ask for confirmation.")],
)
def command(request: AccountsRequest, yes: bool) -> None:
    """Delete a day's published thread on every account (or one), exactly once.

    Bluesky: the whole thread in one atomic applyWrites; Mastodon: every part, replies
    first. The day is then marked retracted: neither `publish` nor the daemon posts it again
    (`publish --force` does). Safe to run again after a crash: it finishes what was started.
    Asks for confirmation unless --yes (required when not on a terminal).

    \b
    Example:
      thisday retract --date 2027-01-16 --dry-run
      thisday retract --date 2027-01-16 --account bluesky --yes
    """

    def retract(reviser: Reviser, day: dt.date) -> list[Result]:
        if not request.dry_run and not yes:
            confirm(request, reviser, day)
        return reviser.retract(day, request.chosen, dry_run=request.dry_run)

    revise_and_report(request, "retract", retract)


def confirm(request: AccountsRequest, reviser: Reviser, day: dt.date) -> None:
    """Shows the plan on stderr and asks; exits unless the operator says yes."""
    plan = reviser.retract(day, request.chosen, dry_run=True)
    show_revisions(plan, day, as_json=False, err=request.as_json)
    if not any(r.plan for r in plan):
        exit_for(plan)
    if not sys.stdin.isatty():
        click.echo("thisday retract: not on a terminal: add --yes to confirm", err=True)
        sys.exit(2)
    if not click.confirm(f"Delete these posts of {day.isoformat()}?", err=True):
        click.echo("nothing deleted", err=True)
        sys.exit(1)
