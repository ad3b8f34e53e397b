# Lazy-import rule: this module's top imports only click (and the shared options); the
# daemon's modules, APScheduler and the SDKs are imported inside the command.
from __future__ import annotations

import sys

import click

from bot.cli.common import config_option, friendly_errors, posts_option


@click.command(name="run")
@config_option
@posts_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Log what would be posted at each slot; no network, no ledger.",
)
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
@friendly_errors
def command(config_file: str | None, posts_dir: str | None, dry_run: bool, verbose: bool) -> None:
    """Run the daemon: post today's thread at each `post_at` time, every day, exactly once.

    At start, and after a suspend or a clock change, a thread not yet complete is published
    at once if today's slot has passed (until `catch_up_until`; never a past day's). Post
    files and templates are re-read before each publish; SIGHUP reloads the config;
    SIGTERM or Ctrl-C stops it cleanly. Logs are JSON lines unless stderr is a terminal.

    \b
    Example:
      thisday run --config /etc/thisday/thisday.toml
      thisday run --dry-run          # see what would be posted, touch nothing
      systemctl reload thisday       # SIGHUP: reload the config
    """
    from bot.daemon.service import serve

    sys.exit(serve(config_file, posts_dir, dry_run=dry_run, level="DEBUG" if verbose else "INFO"))
