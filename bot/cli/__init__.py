"""The `thisday` command. Each subcommand lives in its own module, imported only when used,
so `--help`, `check` and `preview` never pay for the network SDKs."""

from __future__ import annotations

import importlib

import click

from bot import __version__

COMMANDS = {
    "check": "bot.cli.check",
    "preview": "bot.cli.preview",
    "publish": "bot.cli.publish",
    "run": "bot.cli.run",
    "status": "bot.cli.status",
    "calendar": "bot.cli.calendar",
    "new": "bot.cli.new",
    "import": "bot.cli.importer",
    "doctor": "bot.cli.doctor",
    "ledger": "bot.cli.ledger",
    "retract": "bot.cli.retract",
    "correct": "bot.cli.correct",
    "stats": "bot.cli.stats",
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command is used (or listed by --help).
    A module that is missing is a broken install, and fails loudly."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command: click.Command = importlib.import_module(COMMANDS[cmd_name]).command
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="thisday")
def main() -> None:
    """Post "This Day In History" threads to Mastodon and Bluesky, exactly once a day.

    \b
    Example:
      thisday check                 # validate posts/ and templates
      thisday preview --date 2027-01-16
      thisday publish --dry-run
    """
