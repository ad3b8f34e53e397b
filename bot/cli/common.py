"""Options and error handling shared by the commands."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
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


# Days a command can be asked about: date arithmetic near year 9999 overflows, and no
# operator schedules posts for the year 9999 (or 1066).
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9000, 12, 31)


def parse_day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    from bot.logs import escape

    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{escape(value[:40])!r} is not a date like 2027-01-16") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise click.BadParameter(
            f"{value} is out of range: use a day from {FIRST_DAY} to {LAST_DAY}"
        )
    return day


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


_SGR = re.compile(r"(\x1b\[[0-9;]*m)")


class EscapingStream:
    """A text stream that writes control, bidi and separator characters as escapes.

    The last line of defence, around every command's stdout and stderr: whatever a file name,
    key or value holds, nothing but text (and click's own colours) reaches the terminal.
    Newlines and tabs pass; the fields of a line (paths, messages) are escaped whole where the
    line is built (see bot.logs.escape), so that a name cannot forge a line either."""

    def __init__(self, stream: Any) -> None:
        from bot.logs import STREAM_ESCAPES

        self.raw_stream = stream
        self._table = STREAM_ESCAPES

    def write(self, text: str) -> int:
        if not (text.isascii() and text.isprintable()):
            parts = _SGR.split(text)  # click's colours (SGR) are the only sequences kept
            text = "".join(p if n % 2 else p.translate(self._table) for n, p in enumerate(parts))
        self.raw_stream.write(text)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw_stream, name)


def _escaped_streams() -> tuple[Any, Any]:
    old = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, EscapingStream):
        sys.stdout = EscapingStream(sys.stdout)
    if not isinstance(sys.stderr, EscapingStream):
        sys.stderr = EscapingStream(sys.stderr)
    return old


def friendly_errors(func: F) -> F:
    """Known failures become one clear line on stderr and exit 2, never a traceback; all
    output goes through EscapingStream."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        old = _escaped_streams()
        try:
            return _run(func, *args, **kwargs)
        finally:
            sys.stdout, sys.stderr = old

    return wrapper  # type: ignore[return-value]


def _run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
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
        # The raw stream: this line's own \r and erase-line are meant for the terminal.
        err = getattr(sys.stderr, "raw_stream", sys.stderr)
        err.write(f"\r{label} [{bar}] {done * 100 // total:3d}% {done}/{total}\x1b[K")
        if complete:
            finished[0] = True
            err.write("\n")
        err.flush()

    return show
