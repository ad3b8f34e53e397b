from __future__ import annotations

import click

from bot.cli.common import AccountsRequest, accounts_command, revise_and_report


@accounts_command(
    "correct",
    dry_run_help="Show the plan; nothing is sent.",
    options=[
        click.option(
            "--replace",
            is_flag=True,
            help="Bluesky: delete the old thread and post the new one in one atomic applyWrites"
            " (instead of a Correction reply; likes and replies of the old thread are lost).",
        )
    ],
)
def command(request: AccountsRequest, replace: bool) -> None:
    """Bring a published thread in line with its edited post file, exactly once.

    Mastodon: parts whose text changed are edited in place (the thread and its replies
    stay), parts added are posted as replies, parts removed are deleted. Bluesky has no
    edits: a "Correction: ..." reply (template correction.j2) goes under the head, or with
    --replace the thread is replaced in one atomic write. The ledger keeps the new ids and
    URLs; a run interrupted by a crash is finished by the next one.

    \b
    Example:
      thisday correct --date 2027-01-16 --dry-run
      thisday correct --date 2027-01-16 --account bluesky --replace
    """
    revise_and_report(
        request,
        "correct",
        lambda reviser, day: reviser.correct(
            day, request.chosen, dry_run=request.dry_run, replace=replace
        ),
    )
