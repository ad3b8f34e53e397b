"""The `thisday` command's entry point: runs before click or anything heavy is imported.

`check` and `preview` must know whether the posts folder changed, which takes a stat of every
post file (~0.15 s for 50,000). Started here, from a look at the arguments, that listing runs
in a child process (bot.content.scanning.prefetch) while click and the command's modules load,
and the fork copies a process that has imported almost nothing yet. The command collects the
listing for the folder it really uses (`scanning.take` is keyed by the folder), so a wrong
guess here only wastes the child's work: the command lists its folder itself.
"""

from __future__ import annotations

import sys

LISTING_COMMANDS = frozenset({"check", "preview"})
_FOLDER_OPTIONS = ("--config", "--posts")


def main() -> None:
    start_listing(sys.argv[1:])
    from bot.cli import main as command

    command(prog_name="thisday")


def start_listing(args: list[str]) -> None:
    """Start listing the posts folder when `args` run a command that reads it."""
    given = listing_options(args)
    if given is None:
        return
    from bot.content import scanning

    scanning.prefetch_for(*given)


def listing_options(args: list[str]) -> tuple[str | None, str | None] | None:
    """(--config, --posts) of a `check` or `preview` command line, or None for any other
    command line (another command, help, no command)."""
    command_at = next((n for n, arg in enumerate(args) if not arg.startswith("-")), None)
    if command_at is None or args[command_at] not in LISTING_COMMANDS:
        return None
    if "--help" in args or "-h" in args:
        return None
    found: dict[str, str | None] = dict.fromkeys(_FOLDER_OPTIONS)
    rest = iter(args[command_at + 1 :])
    for arg in rest:
        name, equals, value = arg.partition("=")
        if name in found:
            found[name] = value if equals else next(rest, None)
    return found["--config"], found["--posts"]
