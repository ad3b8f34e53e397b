"""Options, error handling and reports shared by the commands."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

import click

if TYPE_CHECKING:
    from bot.publishing.revise import Result, Reviser
    from bot.workspace import Workspace

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
accounts_option = click.option(
    "--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable)."
)


def output_file_option(flag: str, name: str, help: str) -> Callable[[F], F]:
    """An option naming a file the command writes (a picture, a page)."""
    return click.option(
        flag,
        name,
        type=click.Path(dir_okay=False, writable=True),
        default=None,
        metavar="FILE",
        help=help,
    )


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


def print_json(document: Any) -> None:
    """`document` as the one JSON document on stdout."""
    json.dump(document, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


# -- publish, retract and correct: one day's thread on every account (or some) ----------------


@dataclass(frozen=True, slots=True)
class AccountsRequest:
    """What publish, retract and correct are asked alike: the day, the files, the accounts."""

    day: dt.date | None
    config_file: str | None
    posts_dir: str | None
    accounts: tuple[str, ...]
    dry_run: bool
    as_json: bool

    @property
    def chosen(self) -> tuple[str, ...] | None:
        """The accounts named, or None for every active one."""
        return self.accounts or None

    def required_day(self, purpose: str) -> dt.date:
        if self.day is None:
            raise click.UsageError(f"--date is required: {purpose}")
        return self.day

    def open_workspace(self) -> Workspace:
        """Reads the config; logs only warnings under --json, whose stdout is one document."""
        from bot import logs
        from bot.workspace import Workspace

        logs.setup("WARNING" if self.as_json else "INFO")
        return Workspace(self.config_file, self.posts_dir)


def accounts_command(
    name: str, *, dry_run_help: str, options: Sequence[Callable[[Any], Any]] = ()
) -> Callable[[Callable[..., None]], click.Command]:
    """The command `name` with --date, --config, --posts, --account, --dry-run, its own
    `options` and --json, in that order; the function gets an AccountsRequest and the values
    of its own options."""

    def decorate(func: Callable[..., None]) -> click.Command:
        @functools.wraps(func)
        def run(
            day: dt.date | None,
            config_file: str | None,
            posts_dir: str | None,
            accounts: tuple[str, ...],
            dry_run: bool,
            as_json: bool,
            **own: Any,
        ) -> None:
            func(AccountsRequest(day, config_file, posts_dir, accounts, dry_run, as_json), **own)

        dry_run_option = click.option("--dry-run", is_flag=True, help=dry_run_help)
        decorators = (
            date_option,
            config_option,
            posts_option,
            accounts_option,
            dry_run_option,
            *options,
            json_option,
        )
        command: Any = friendly_errors(run)
        for decorator in reversed(decorators):
            command = decorator(command)
        return click.command(name=name)(command)

    return decorate


class Closeable(Protocol):
    def close(self) -> None: ...


@contextlib.contextmanager
def publish_errors_exit(command_name: str, closing: Closeable) -> Iterator[None]:
    """A PublishError (an unknown account, a server refusing) ends the command with one line
    and exit 2; `closing` (a pipeline, a reviser) is closed either way."""
    from bot import logs
    from bot.publishing.publishers.base import PublishError

    try:
        yield
    except PublishError as exc:
        click.echo(f"thisday {command_name}: {logs.redact(str(exc))}", err=True)
        sys.exit(2)
    finally:
        closing.close()


class AccountResult(Protocol):
    @property
    def status(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


def print_results_json(day: dt.date, results: Sequence[AccountResult]) -> None:
    print_json({"date": day.isoformat(), "results": [r.to_json() for r in results]})


def exit_for(results: Sequence[AccountResult]) -> NoReturn:
    """Exits 1 when an account failed, else 0."""
    sys.exit(1 if any(r.status == "failed" for r in results) else 0)


def show_revisions(
    results: Sequence[Result], day: dt.date, *, as_json: bool, err: bool = False
) -> None:
    """What retract or correct did (or would do), as lines or one JSON document; `err`: on
    stderr (a plan before asking)."""
    from bot import logs

    if as_json:
        print_results_json(day, results)
        return
    for r in results:
        label = f"{r.account} ({r.platform})" + (f" · {r.event}" if r.event else "")
        if r.status == "failed":
            click.secho(f"✗ {label}: {logs.redact(r.error or '')}", fg="red", err=err)
        else:
            click.echo(f"{'~' if r.status == 'dry-run' else '✓'} {label}: {r.status}", err=err)
        for line in r.plan:
            click.echo(f"    {line}", err=err)
        for part in r.parts:
            if part.get("url"):
                click.echo(f"    {part['url']}", err=err)


def revise_and_report(
    request: AccountsRequest,
    command_name: str,
    revise: Callable[[Reviser, dt.date], Sequence[Result]],
) -> NoReturn:
    """retract and correct: `revise` the day's threads, show what was done, exit 1 if an
    account failed."""
    from bot.publishing.revise import Reviser

    day = request.required_day(f"the day whose thread to {command_name}")
    reviser = Reviser(request.open_workspace())
    with publish_errors_exit(command_name, reviser):
        results = revise(reviser, day)
    show_revisions(results, day, as_json=request.as_json)
    exit_for(results)
