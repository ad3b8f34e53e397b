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
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._module(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self._module(cmd_name)
        return getattr(module, "command", None) if module else None

    @staticmethod
    def _module(name: str):
        if name not in COMMANDS:
            return None
        try:
            return importlib.import_module(COMMANDS[name])
        except ModuleNotFoundError as exc:
            if exc.name == COMMANDS[name]:
                return None  # not built yet
            raise


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
