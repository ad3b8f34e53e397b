"""Options and error handling shared by the commands."""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $THISDAY_CONFIG or config/thisday.toml).",
)
posts_option = click.option(
    "--posts",
    "posts_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Posts folder (default: `posts` from the config).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")


def parse_day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2027-01-16") from None


date_option = click.option(
    "--date",
    "day",
    callback=lambda ctx, param, value: parse_day(value),
    default=None,
    metavar="YYYY-MM-DD",
    help="The day (default: today in the configured timezone).",
)


def _config_error() -> type[Exception]:
    # Imported only once an exception is being handled: bot.config loads pydantic, and a
    # command such as preview has work to start before that (see bot.scanning.prefetch).
    from bot.config import ConfigError

    return ConfigError


def friendly_errors(func: F) -> F:
    """Known failures become one clear line on stderr and exit 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except _config_error() as exc:
            click.echo(str(exc), err=True)
            sys.exit(2)
        except BrokenPipeError:
            # The reader went away (`thisday preview | head`): not an error worth a word.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except (click.ClickException, click.exceptions.Exit, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("THISDAY_DEBUG"):
                raise
            click.echo(f"thisday: error: {type(exc).__name__}: {exc}", err=True)
            click.echo("(set THISDAY_DEBUG=1 to see the traceback)", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def progress_printer(label: str) -> Callable[[int, int], None] | None:
    """A one-line progress bar on stderr when it is a terminal; None (no output) when piped.

    Redraws at most ten times a second, so that a fast loop is not slowed by the terminal,
    and ends its line when the work is done.
    """
    if not sys.stderr.isatty():
        return None
    last_drawn = [-1.0]
    finished = [False]

    def show(done: int, total: int) -> None:
        if total <= 0 or finished[0]:
            return
        now = time.monotonic()
        complete = done >= total
        if not complete and now - last_drawn[0] < 0.1:
            return
        last_drawn[0] = now
        done = min(done, total)
        width = 30
        filled = width * done // total
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r{label} [{bar}] {done * 100 // total:3d}% {done}/{total}\x1b[K")
        if complete:
            finished[0] = True
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
