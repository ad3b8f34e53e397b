from __future__ import annotations

import sys

import click

from bot.cli.common import config_option, friendly_errors


@click.command(name="doctor")
@config_option
@friendly_errors
def command(config_file: str | None) -> None:
    """Tell why posting would fail: one line per check, ✓ or ✗ with a fix.

    Checks the config, the timezone, the state folder and its locks, that credentials are
    present (never printed), that each server answers and accepts them and what its limits
    are, the Bluesky session (a stored one is reused without a new login), that the
    templates render for today, the next scheduled run, and the local clock against the
    servers' Date headers (within a minute). Posts nothing. Exits 1 if any check fails.

    \b
    Example:
      thisday doctor
      thisday doctor --config /etc/thisday/thisday.toml
    """
    from bot.tools.doctor import run

    failures = 0
    for check in run(config_file):
        colour = None if check.ok is None else "green" if check.ok else "red"
        click.secho(str(check), fg=colour)
        failures += check.ok is False
    sys.exit(1 if failures else 0)
