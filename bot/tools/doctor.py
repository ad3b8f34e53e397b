"""`thisday doctor`: why would posting fail? Every check is one line, ✓ or ✗ with a fix.

The checks run in the order a failure would bite: config, timezone, state folder and
locks, credentials, each server (reachable, credentials accepted, limits), templates, the
next scheduled run, and the local clock against the servers' `Date` headers. Nothing is
posted. Network SDKs are imported only when the server checks are reached, and secrets
are never printed: not their values, not their lengths.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import datetime as dt
import email.utils
import enum
import os
import re
import tempfile
import time
import tomllib
import zoneinfo
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import config
from bot.config import BlueskyAccount, ConfigError, MastodonAccount, Settings
from bot.runtime.lock import holder, pid_alive
from bot.runtime.schedule import Schedule, next_slot

CLOCK_TOLERANCE = 60.0  # seconds between our clock and a server's Date header
PROBE_TIMEOUT = 10.0


class Outcome(enum.StrEnum):
    """A check's result, as its mark on the line."""

    PASSED = "✓"
    FAILED = "✗"
    SKIPPED = "-"  # not checked (the line says why): never a failure by itself


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool | None:
        """True passed, False failed, None skipped."""
        return None if self.outcome is Outcome.SKIPPED else self.outcome is Outcome.PASSED

    def __str__(self) -> str:
        line = f"{self.outcome} {self.name}: {self.detail}"
        if self.outcome is Outcome.FAILED and self.fix:
            line += f" — fix: {self.fix}"
        return line


def passed(name: str, detail: str) -> Check:
    return Check(name, Outcome.PASSED, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, Outcome.FAILED, detail, fix)


def skipped(name: str, why: str) -> Check:
    return Check(name, Outcome.SKIPPED, why)


@dataclass(slots=True)
class _Run:
    """What later checks learn from earlier ones."""

    settings: Settings
    config_file: str | None
    clock: list[tuple[str, float | None]] = field(default_factory=list)  # server, offset
    no_credentials: set[str] = field(default_factory=set)  # accounts whose secret is missing


def run(config_file: str | None = None) -> Iterator[Check]:
    """Every check, in order, as soon as it is done (server checks take a moment)."""
    path = config.config_path(config_file)
    try:
        settings = config.load(config_file)
    except ConfigError as exc:
        yield _config_failed(path, str(exc))
        zone_check = _raw_timezone(path)
        if zone_check is not None:
            yield zone_check
        yield skipped("other checks", "skipped until the config is valid")
        return
    state = _Run(settings, config_file)
    steps: list[tuple[str, Callable[[_Run], Iterator[Check]]]] = [
        ("config", _config_ok),
        ("timezone", _timezone),
        ("state", _state_folder),
        ("ledger", _ledger),
        ("lock", _locks),
        ("credentials", _credentials),
        ("server", _servers),
        ("templates", _templates),
        ("next run", _next_run),
        ("clock", _clock),
    ]
    for name, step in steps:
        try:
            yield from step(state)
        except Exception as exc:  # a doctor that crashes tells the operator nothing
            from bot.logs import redact

            yield failed(
                name,
                f"the check itself failed: {type(exc).__name__}: {redact(str(exc))}",
                "run again with THISDAY_DEBUG=1 and report the traceback",
            )
            if os.environ.get("THISDAY_DEBUG"):
                raise


# -- config and timezone ---------------------------------------------------------------------


def _config_failed(path: Path, message: str) -> Check:
    problems = []
    for line in message.splitlines():
        match = re.fullmatch(r".*?:(\d+)?:? ?error: (.*)", line.strip())
        if match:
            number, text = match.groups()
            problems.append(f"line {number}: {text}" if number else text)
    if "config file not found" in message:
        return failed(
            "config",
            f"{path} not found",
            f"pass --config FILE or set ${config.CONFIG_ENV}",
        )
    detail = "; ".join(problems[:3]) or message.strip()
    if len(problems) > 3:
        detail += f"; and {len(problems) - 3} more"
    return failed("config", f"{path}: {detail}", f"edit {path} (see the README, Configuration)")


def _raw_timezone(path: Path) -> Check | None:
    """The timezone on its own, read from the raw file, when the config as a whole failed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    zone = data.get("timezone", "UTC")
    problem = _zone_problem(zone)
    return failed("timezone", problem, _ZONE_FIX) if problem else passed("timezone", str(zone))


_ZONE_FIX = (
    'set timezone = "Area/City", an IANA name like "Europe/London" '
    "(`timedatectl list-timezones` lists them; if none works, install the tzdata package)"
)


def _zone_problem(zone: object) -> str | None:
    if not isinstance(zone, str):
        return f"timezone must be text, got {zone!r}"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown timezone {zone!r}"
    return None


def _config_ok(run: _Run) -> Iterator[Check]:
    settings = run.settings
    active = settings.active_accounts()
    disabled = len(settings.accounts) - len(active)
    where = str(settings.source)
    with contextlib.suppress(ValueError):
        relative = os.path.relpath(where)
        where = where if relative.startswith("..") else relative
    if not active:
        yield failed(
            "config",
            f"{where}: no enabled account",
            "add an [accounts.NAME] section (platform, server and credentials; see the README)",
        )
        return
    names = ", ".join(f"{name} ({acc.platform})" for name, acc in active.items())
    note = f", {disabled} disabled" if disabled else ""
    yield passed("config", f"{where}: {len(active)} account(s): {names}{note}")


def _timezone(run: _Run) -> Iterator[Check]:
    settings = run.settings
    now = dt.datetime.now(settings.zone)
    offset = now.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}"
    yield passed(
        "timezone", f"{settings.timezone}, local time now {now:%H:%M} {now.tzname()} ({utc})"
    )


# -- state folder and locks ---------------------------------------------------------------------


def _state_folder(run: _Run) -> Iterator[Check]:
    folder = run.settings.state_dir
    owner_fix = f"make it writable by the user thisday runs as: sudo chown -R $(id -un) {folder}"
    if folder.exists():
        if not folder.is_dir():
            yield failed(
                "state", f"{folder} is not a folder", "point `state` in the config at a folder"
            )
            return
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            yield failed("state", f"{folder} is not writable ({exc.strerror})", owner_fix)
            return
        ledger = run.settings.state_folder.ledger
        if ledger.exists() and not os.access(ledger, os.R_OK | os.W_OK):
            yield failed("state", f"{ledger} is not writable", owner_fix)
            return
        yield passed("state", f"{folder} is writable")
        return
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if os.access(parent, os.W_OK | os.X_OK):
        yield passed("state", f"{folder} does not exist yet; it will be created in {parent}")
    else:
        yield failed(
            "state",
            f"{folder} does not exist and {parent} is not writable",
            f"create it: sudo install -d -o $(id -un) {folder}",
        )


def _ledger(run: _Run) -> Iterator[Check]:
    """The ledger opens: a corrupt or foreign state/ledger.sqlite, or a shared ledger that
    does not answer, fails every publish (read only: doctor changes nothing)."""
    settings = run.settings
    if settings.ledger:
        yield _shared_ledger(settings)
        return
    import sqlite3

    path = settings.state_folder.ledger
    if not path.exists():
        yield passed("ledger", f"{path} does not exist yet; the first publish creates it")
        return
    fix = (
        f"move it aside (mv {path} {path}.broken) so a new one is made, or point `state` at"
        " the folder that holds the real one"
    )
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as exc:
        yield failed("ledger", f"{path} is not a thisday ledger ({exc})", fix)
        return
    if "parts" not in tables:
        yield failed("ledger", f"{path} is not a thisday ledger (no parts table)", fix)
        return
    yield passed("ledger", f"{path} opens (schema version {version})")


def _shared_ledger(settings: Settings) -> Check:
    import psycopg

    from bot.logs import redact

    where = redact(settings.ledger or "")
    try:
        password = config.read_secret(
            settings.ledger_password_env, settings.ledger_password_file, settings.base
        )
        extra: dict[str, Any] = {"password": password} if password else {}
        with psycopg.connect(settings.ledger or "", connect_timeout=5, **extra) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, ConfigError, OSError) as exc:
        reason = redact(
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        return failed(
            "ledger",
            f"cannot reach the shared ledger {where}: {reason}",
            "start PostgreSQL or fix `ledger` (and its password reference) in the config",
        )
    return passed("ledger", f"the shared ledger {where} answers")


def _locks(run: _Run) -> Iterator[Check]:
    state = run.settings.state_folder
    lock = state.daemon_lock
    held, pid = dataclasses.astuple(holder(lock))
    busy = "; a publish is running right now" if holder(state.publish_lock).held else ""
    if held:
        if pid is None or pid_alive(pid):
            who = f"pid {pid}" if pid else "pid unknown"
            yield passed("lock", f"daemon running ({who}){busy}")
        else:
            yield failed(
                "lock",
                f"{lock} is held, but pid {pid} written in it is not running "
                "(a process it started still holds the lock?)",
                f"find the holder with `fuser -v {lock}` and stop it",
            )
    elif lock.exists() and pid is not None and not pid_alive(pid):
        yield passed(
            "lock",
            f"daemon not running; {lock.name} is left from pid {pid}, which is gone "
            f"(harmless: the lock died with it){busy}",
        )
    else:
        yield passed("lock", f"daemon not running; the state folder is not locked{busy}")


# -- credentials -------------------------------------------------------------------------------


def _reference(account: MastodonAccount | BlueskyAccount) -> tuple[str, str | None, Path | None]:
    if isinstance(account, MastodonAccount):
        return "access token", account.token_env, account.token_file
    return "app password", account.password_env, account.password_file


def _credentials(run: _Run) -> Iterator[Check]:
    for name, account in run.settings.active_accounts().items():
        check = credential_check(name, account, run.settings)
        if not check.ok:
            run.no_credentials.add(name)
        yield check


def credential_check(
    name: str, account: MastodonAccount | BlueskyAccount, settings: Settings
) -> Check:
    """Is the secret there? Says where it is looked for, never what it is."""
    from bot.config import read_secret

    what, env, file = _reference(account)
    key = "token" if isinstance(account, MastodonAccount) else "password"
    label = f"credentials {name}"
    if not env and not file:
        variable = f"THISDAY_{name.upper().replace('-', '_').replace('.', '_')}_{key.upper()}"
        return failed(
            label,
            f"no {what} configured",
            f'add {key}_env = "{variable}" to [accounts.{name}] and set {variable}',
        )
    if env:
        if not (os.environ.get(env) or "").strip():
            state = "is empty" if env in os.environ else "is not set"
            return failed(
                label,
                f"${env} {state}",
                f"set {env} to the {what} in thisday's environment "
                "(systemd: Environment= or EnvironmentFile=)"
                + _session_note(account, name, settings),
            )
        read_secret(env, None, settings.base)  # remembered, so any echo of it is masked
        return passed(label, f"{what} from ${env} is set")
    assert file is not None
    value = read_secret(None, file, settings.base)
    path = file if file.is_absolute() else settings.base / file
    credentials_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if not path.exists() and credentials_dir and not file.is_absolute():
        path = Path(credentials_dir) / file
    if value:
        note = ""
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                note = f" (other users can read it: chmod 600 {path})"
        return passed(label, f"{what} from {path} is set{note}")
    if not path.exists():
        problem, fix = f"{path} does not exist", f"write the {what} into {path} (chmod 600)"
    elif not os.access(path, os.R_OK):
        problem, fix = (
            f"{path} is not readable",
            f"let the user thisday runs as read it: sudo chown $(id -un) {path}",
        )
    else:
        problem, fix = f"{path} is empty", f"write the {what} into {path}"
    return failed(label, problem, fix + _session_note(account, name, settings))


def _session_note(account: MastodonAccount | BlueskyAccount, name: str, settings: Settings) -> str:
    if isinstance(account, BlueskyAccount) and settings.state_folder.session(name).exists():
        return "; a stored session may work for now, but the next login will fail"
    return ""


# -- servers -----------------------------------------------------------------------------------


def probe_url(account: MastodonAccount | BlueskyAccount) -> str:
    if isinstance(account, MastodonAccount):
        return f"{account.server}/api/v1/instance"
    return f"{account.server}/xrpc/_health"


def probe(url: str, timeout: float) -> tuple[int, float | None]:
    """GET url → (HTTP status, server clock minus ours in seconds, None without Date).
    Raises httpx.HTTPError when there is no answer."""
    import httpx

    from bot import __version__

    sent = time.time()
    with httpx.Client(timeout=timeout, headers={"User-Agent": f"thisday/{__version__}"}) as http:
        response = http.get(url)
    received = time.time()
    return response.status_code, clock_offset(response.headers.get("Date"), sent, received)


def clock_offset(date_header: str | None, sent: float, received: float) -> float | None:
    """Server time minus local time, judged at the middle of the request."""
    if not date_header:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if server.tzinfo is None:
        server = server.replace(tzinfo=dt.UTC)
    # Date has whole seconds, truncated: the server's true time was up to 1 s later.
    return server.timestamp() + 0.5 - (sent + received) / 2


def _servers(run: _Run) -> Iterator[Check]:
    settings = run.settings
    timeout = min(settings.publishing.timeout, PROBE_TIMEOUT)
    for name, account in settings.active_accounts().items():
        reachable = yield from _reachable(run, name, account, timeout)
        login = "login" if isinstance(account, MastodonAccount) else "session"
        if not reachable:
            yield skipped(f"{login} {name}", "not checked: the server is unreachable")
            continue
        session_file = settings.state_folder.session(name)
        if name in run.no_credentials and (login == "login" or not session_file.exists()):
            yield skipped(f"{login} {name}", "not checked: no credentials (see above)")
            continue
        yield from _verify(name, account, settings)


def _reachable(
    run: _Run, name: str, account: MastodonAccount | BlueskyAccount, timeout: float
) -> Generator[Check, None, bool]:
    import httpx

    url = probe_url(account)
    label = f"server {name}"
    fix = (
        f"check `server` in [accounts.{name}] ({account.server}), DNS, the firewall "
        "and whether the server is up"
    )
    try:
        status, offset = probe(url, timeout)
    except httpx.ConnectError as exc:
        yield failed(label, f"cannot connect to {account.server} ({_reason(exc)})", fix)
        return False
    except httpx.TimeoutException:
        yield failed(label, f"{account.server} did not answer within {timeout:.0f} s", fix)
        return False
    except httpx.HTTPError as exc:
        yield failed(label, f"{account.server}: {type(exc).__name__}: {_reason(exc)}", fix)
        return False
    run.clock.append((name, offset))
    if status >= 500:
        yield failed(
            label,
            f"{account.server} answered HTTP {status}",
            "the server is in trouble: try again later, or ask its admins",
        )
        return False
    yield passed(label, f"{account.server} answered (HTTP {status})")
    return True


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unknown host name"
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS: {text}"
    return text


def _verify(
    name: str, account: MastodonAccount | BlueskyAccount, settings: Settings
) -> Iterator[Check]:
    from bot.logs import redact
    from bot.publishing.publishers.base import PermanentError, PublishError, open_publisher
    from bot.render.limits import load_instances, rules_for

    mastodon = isinstance(account, MastodonAccount)
    label = f"login {name}" if mastodon else f"session {name}"
    _, env, file = _reference(account)
    where = f"${env}" if env else str(file)
    if isinstance(account, MastodonAccount):
        refused_fix = (
            f"create a new access token (Preferences → Development → New application, "
            f"scopes read and write) and put it in {where}"
        )
    else:
        refused_fix = (
            f"create an app password (Settings → Privacy and security → App passwords) for "
            f"{account.handle}, put it in {where}, and check `handle`"
        )
    try:
        publisher = open_publisher(name, account, settings)
    except PublishError as exc:
        yield failed(label, redact(str(exc)), refused_fix)
        return
    try:
        info = publisher.verify()
    except PermanentError as exc:
        yield failed(label, f"refused: {redact(str(exc))}", refused_fix)
        return
    except PublishError as exc:
        retry_after = getattr(exc, "retry_after", None)
        wait = f"wait {retry_after:.0f} s, then " if retry_after else ""
        yield failed(
            label,
            redact(str(exc)),
            f"{wait}try again; if it persists, check the server's status",
        )
        return
    finally:
        with contextlib.suppress(Exception):
            publisher.close()
    rules = rules_for(account, load_instances(settings.state_dir))
    if mastodon:
        yield passed(label, f"access token accepted for {info.account}")
        server_limit = "?" if info.limit is None else info.limit
        yield passed(
            f"limits {name}",
            f"the server allows {server_limit} characters per post "
            f"(Mastodon {info.version or '?'}); posting within {rules.limit}",
        )
    else:
        how = (
            "stored session reused, no new login"
            if not info.new_login
            else f"logged in; session stored in {settings.state_folder.sessions}"
        )
        yield passed(label, f"{info.account}: {how}")
        yield passed(f"limits {name}", f"posting within {rules.limit} graphemes per post")


# -- templates, schedule, clock ------------------------------------------------------------------


def _templates(run: _Run) -> Iterator[Check]:
    from bot.content.post import Event
    from bot.render.renderer import RenderError
    from bot.workspace import Workspace

    workspace = Workspace(run.config_file)
    renderer = workspace.renderer
    errors = [p for p in renderer.check_templates() if p.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        yield failed(
            "templates", f"{errors[0]}{more}", "fix the template; `thisday check` shows all"
        )
        return
    today = run.settings.today()
    events = workspace.candidates(today)
    label = f"{today.day} {calendar.month_name[today.month]}"
    if events:
        what = f"today's event{'s' if len(events) > 1 else ''} ({', '.join(e.id for e in events)})"
    else:
        what = f"a sample event (no post file for {label}: nothing is posted today)"
        events = [
            Event(
                id="doctor-sample",
                path="(sample event)",
                month=today.month,
                day=today.day,
                year=today.year - 100,
                title="A sample event to render the templates",
                summary="One sentence about what happened on this day a hundred years ago.",
                story="A first paragraph of the story.\n\nA second paragraph.",
                tags=("History",),
                link="https://example.org/history",
            )
        ]
    for event in events:
        for account in renderer.accounts:
            try:
                renderer.render(event, account, today)
            except RenderError as exc:
                yield failed(
                    "templates",
                    f"{what} does not render for {account!r}: {exc.problem}",
                    "fix the template or the post file; `thisday check` shows all",
                )
                return
    yield passed("templates", f"{what} renders for every account")


def _next_run(run: _Run) -> Iterator[Check]:
    from bot.content.selection import day_keys
    from bot.workspace import Workspace

    settings = run.settings
    moment = next_slot(Schedule.of(settings), dt.datetime.now(dt.UTC)).astimezone(settings.zone)
    wait = moment - dt.datetime.now(dt.UTC)
    minutes = max(0, int(wait.total_seconds() // 60))
    corpus = Workspace(run.config_file).corpus
    corpus.refresh()
    counts = corpus.valid_keys()
    events = sum(counts.get(key, 0) for key in day_keys(moment.date(), settings.leap_day))
    day = f"{moment.day} {calendar.month_name[moment.month]}"
    posts = (
        f"{events} event{'s' if events != 1 else ''} for {day}"
        if events
        else f"no event for {day}: nothing will be posted"
    )
    yield passed(
        "next run",
        f"{moment:%a %Y-%m-%d %H:%M} {moment.tzname()} (in {minutes // 60} h {minutes % 60} min);"
        f" {posts}",
    )


def _clock(run: _Run) -> Iterator[Check]:
    measured = [(name, offset) for name, offset in run.clock if offset is not None]
    if not measured:
        yield skipped("clock", "not compared: no server answered with a Date header")
        return
    name, worst = max(measured, key=lambda item: abs(item[1]))
    names = ", ".join(n for n, _ in measured)
    if abs(worst) <= CLOCK_TOLERANCE:
        yield passed("clock", f"within {max(1, round(abs(worst)))} s of {names}")
        return
    direction = "behind" if worst > 0 else "ahead of"
    yield failed(
        "clock",
        f"the local clock is {abs(worst):.0f} s {direction} {name}'s "
        f"(its Date header); more than {CLOCK_TOLERANCE:.0f} s",
        "turn on time synchronisation: `timedatectl set-ntp true` (or chrony / ntpd)",
    )
