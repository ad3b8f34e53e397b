"""`thisday doctor` against the loopback servers (a real PDS and mastodon-mock), run as an
operator runs it, plus the checks that need no server: locks, schedule, clock, config."""

from __future__ import annotations

import datetime as dt
import email.utils
import fcntl
import http.server
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import ROOT, thisday, write_config, write_post

from bot import config
from bot.runtime.schedule import Schedule, next_slot
from bot.tools import doctor

EVERY_CHECK = [
    "config",
    "timezone",
    "state",
    "ledger",
    "lock",
    "credentials masto",
    "credentials sky",
    "server masto",
    "login masto",
    "limits masto",
    "server sky",
    "session sky",
    "limits sky",
    "templates",
    "next run",
    "clock",
]


def accounts(mastodon_url: str, pds_url: str, handle: str) -> str:
    return f"""
    [accounts.masto]
    platform = "mastodon"
    server = "{mastodon_url}"
    token_env = "TEST_DOCTOR_TOKEN"

    [accounts.sky]
    platform = "bluesky"
    server = "{pds_url}"
    handle = "{handle}"
    password_env = "TEST_DOCTOR_PASSWORD"
    """


PUBLISHING = """
[publishing]
timeout = 5
"""


@dataclass
class Site:
    folder: Path
    config: Path
    env: dict[str, str]

    def doctor(self, env: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        """Exit code, check name -> its whole line, and everything printed."""
        done = thisday("doctor", "--config", str(self.config), env={**self.env, **(env or {})})
        lines = {}
        for line in done.stdout.splitlines():
            mark, _, rest = line.partition(" ")
            assert mark in ("✓", "✗", "-"), line
            lines[rest.split(":", 1)[0]] = line
        return done.returncode, lines, done.stdout + done.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def site(tmp_path: Path, pds, mastodon) -> Site:
    _, token = mastodon.new_account()
    account = pds.new_account()
    write_config(
        tmp_path, accounts=accounts(mastodon.url, pds.url, account.handle), extra=PUBLISHING
    )
    today = dt.datetime.now(dt.UTC).astimezone(config.load(tmp_path / "thisday.toml").zone)
    write_post(
        tmp_path / "posts",
        "today.md",
        f'date: "{today:%m-%d}"\ntitle: Something happened today\nid: today-event',
        "It happened.\n\nThen more happened.",
    )
    return Site(
        tmp_path,
        tmp_path / "thisday.toml",
        {"TEST_DOCTOR_TOKEN": token, "TEST_DOCTOR_PASSWORD": account.password},
    )


@pytest.mark.servers
def test_all_checks_pass_and_a_stored_session_is_reused(site: Site, pds) -> None:
    code, lines, output = site.doctor()
    assert code == 0, output
    assert list(lines) == EVERY_CHECK
    assert all(line.startswith("✓") for line in lines.values()), output
    assert "logged in" in lines["session sky"]
    assert "the server allows 500 characters" in lines["limits masto"]
    assert "today-event" in lines["templates"]
    for secret in site.env.values():
        assert secret not in output

    logins = pds.faults.count("com.atproto.server.createSession")
    code, lines, output = site.doctor()
    assert code == 0, output
    assert "stored session reused, no new login" in lines["session sky"]
    assert pds.faults.count("com.atproto.server.createSession") == logins


@pytest.mark.servers
def test_wrong_bluesky_password_without_a_stored_session(site: Site) -> None:
    wrong = "wrong-password-7c1e9a"
    code, lines, output = site.doctor({"TEST_DOCTOR_PASSWORD": wrong})
    assert code == 1
    assert lines["session sky"].startswith("✗")
    assert "Invalid identifier or password" in lines["session sky"]
    assert "fix: create an app password" in lines["session sky"]
    assert "$TEST_DOCTOR_PASSWORD" in lines["session sky"]
    assert lines["login masto"].startswith("✓")
    assert wrong not in output
    assert not (site.folder / "state/sessions/sky.json").exists()


@pytest.mark.servers
def test_wrong_mastodon_token(site: Site) -> None:
    wrong = "not-the-token-5d2f"
    code, lines, output = site.doctor({"TEST_DOCTOR_TOKEN": wrong})
    assert code == 1
    assert lines["login masto"].startswith("✗") and "refused" in lines["login masto"]
    assert "limits masto" not in lines
    assert wrong not in output


@pytest.mark.servers
def test_a_stopped_server(site: Site, pds) -> None:
    port = closed_port()
    text = site.config.read_text().replace(pds.url, f"http://127.0.0.1:{port}")
    site.config.write_text(text)
    code, lines, output = site.doctor()
    assert code == 1
    assert lines["server sky"].startswith("✗")
    assert "connection refused" in lines["server sky"] and "fix: check `server`" in output
    assert lines["session sky"].startswith("-")  # not checked, and not a second failure
    assert lines["server masto"].startswith("✓") and lines["clock"].startswith("✓")


def test_bad_timezone(tmp_path: Path) -> None:
    config_file = write_config(tmp_path, extra="")
    config_file.write_text(config_file.read_text().replace("Europe/London", "Mars/Olympus_Mons"))
    done = thisday("doctor", "--config", str(config_file))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("✗ config:") and "Mars/Olympus_Mons" in lines[0]
    assert lines[1].startswith("✗ timezone: unknown timezone 'Mars/Olympus_Mons'")
    assert "fix: set timezone" in lines[1]


def test_missing_credentials_name_the_variable(tmp_path: Path) -> None:
    port = closed_port()
    config_file = write_config(
        tmp_path,
        accounts=accounts(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", "a.test"),
        extra=PUBLISHING,
    )
    done = thisday("doctor", "--config", str(config_file), env={"TEST_DOCTOR_PASSWORD": "set"})
    assert done.returncode == 1
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("✗ credentials masto")]
    assert "$TEST_DOCTOR_TOKEN is not set" in line and "fix: set TEST_DOCTOR_TOKEN" in line
    assert "✓ credentials sky: app password from $TEST_DOCTOR_PASSWORD is set" in done.stdout


def test_secret_files_are_checked_without_showing_them(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    settings = config.load(
        write_config(
            tmp_path,
            accounts=f"""
            [accounts.masto]
            platform = "mastodon"
            server = "https://m.example"
            token_file = "{secret}"
            """,
        )
    )
    account = settings.accounts["masto"]
    check = doctor.credential_check("masto", account, settings)
    assert not check.ok and "does not exist" in check.detail and str(secret) in check.fix
    secret.write_text("\n")
    assert "is empty" in doctor.credential_check("masto", account, settings).detail
    secret.write_text("s3cret-value\n")
    secret.chmod(0o644)
    check = doctor.credential_check("masto", account, settings)
    assert check.ok and "chmod 600" in check.detail and "s3cret" not in str(check)


def test_doctor_does_not_load_network_sdks_before_the_server_checks(tmp_path: Path) -> None:
    config_file = write_config(tmp_path, extra="")
    config_file.write_text(config_file.read_text().replace("Europe/London", "Nowhere"))
    code = textwrap.dedent(
        f"""
        import sys
        from bot.tools import doctor
        print([c.ok for c in doctor.run({str(config_file)!r})])
        print(sorted(m for m in ("mastodon", "atproto", "httpx", "libipld") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.splitlines() == ["[False, False, None]", "[]"], done.stderr


# -- state folder and its locks --------------------------------------------------------------


def lock_line(tmp_path: Path) -> doctor.Check:
    settings = config.load(write_config(tmp_path))
    (settings.state_dir).mkdir(exist_ok=True)
    (check,) = list(doctor._locks(doctor._Run(settings, str(settings.source))))
    return check


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_lock_held_by_a_running_daemon(tmp_path: Path) -> None:
    lock = tmp_path / "state" / "daemon.lock"
    lock.parent.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"f = open({str(lock)!r}, 'a+')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.truncate(0); f.write(str(os.getpid())); f.flush()\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        check = lock_line(tmp_path)
        assert check.ok and f"daemon running (pid {holder.pid})" in check.detail
    finally:
        holder.kill()
        holder.wait()
    check = lock_line(tmp_path)
    assert check.ok and "harmless" in check.detail and str(holder.pid) in check.detail


def test_lock_held_but_its_pid_is_dead(tmp_path: Path) -> None:
    lock = tmp_path / "state" / "daemon.lock"
    lock.parent.mkdir()
    pid = dead_pid()
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a child the dead daemon left behind would
        handle.write(str(pid))
        handle.flush()
        check = lock_line(tmp_path)
    assert check.ok is False and f"pid {pid}" in check.detail and "fuser" in (check.fix or "")


def test_no_lock_at_all(tmp_path: Path) -> None:
    check = lock_line(tmp_path)
    assert check.ok and "not locked" in check.detail


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_state_folder_not_writable(tmp_path: Path) -> None:
    settings = config.load(write_config(tmp_path))
    settings.state_dir.mkdir()
    settings.state_dir.chmod(0o500)
    try:
        (check,) = list(doctor._state_folder(doctor._Run(settings, None)))
    finally:
        settings.state_dir.chmod(0o700)
    assert check.ok is False and "not writable" in check.detail and "chown" in (check.fix or "")


# -- schedule and clock ---------------------------------------------------------------------------


def settings_with(tmp_path: Path, post_at: str, zone: str = "Europe/London") -> config.Settings:
    path = write_config(tmp_path)
    text = path.read_text().replace('post_at = "09:00"', f"post_at = {post_at}")
    path.write_text(text.replace('"Europe/London"', f'"{zone}"'))
    return config.load(path)


def next_run(settings: config.Settings, now: dt.datetime) -> dt.datetime:
    """What doctor reports as the next run."""
    return next_slot(Schedule.of(settings), now).astimezone(settings.zone)


def test_next_run_is_the_next_slot_in_the_configured_zone(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, '["09:00", "18:00"]')

    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text)

    assert next_run(settings, at("2027-01-16T10:00:00+00:00")) == at("2027-01-16T18:00:00+00:00")
    assert next_run(settings, at("2027-07-16T18:30:00+01:00")) == at("2027-07-17T09:00:00+01:00")
    assert next_run(settings, at("2027-01-16T08:59:59+00:00")).hour == 9


def test_next_run_across_a_daylight_saving_gap(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, '"02:30"', "America/New_York")
    # 2027-03-14 02:30 does not exist in New York: the clock jumps from 02:00 to 03:00.
    now = dt.datetime(2027, 3, 14, 5, 0, tzinfo=dt.UTC)  # 00:00 EST
    moment = next_run(settings, now)
    assert moment > now and moment.date() == dt.date(2027, 3, 14)
    assert moment.utcoffset() == dt.timedelta(hours=-4)


def test_clock_offset_from_a_date_header() -> None:
    now = time.time()
    header = email.utils.formatdate(now + 300, usegmt=True)
    assert doctor.clock_offset(header, now - 0.1, now + 0.1) == pytest.approx(300, abs=1.5)
    assert doctor.clock_offset(None, now, now) is None
    assert doctor.clock_offset("garbage", now, now) is None


@pytest.fixture
def skewed_server() -> Iterator[str]:
    """An HTTP server whose clock is ten minutes fast (every answer a 404)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(time.time() + 600, usegmt=True)

        def do_GET(self) -> None:
            self.send_error(404)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_clock_ten_minutes_off_fails_the_clock_check(
    tmp_path: Path, skewed_server: str
) -> None:
    config_file = write_config(
        tmp_path,
        accounts=f"""
        [accounts.masto]
        platform = "mastodon"
        server = "{skewed_server}"
        token_env = "TEST_DOCTOR_TOKEN"
        """,
        extra=PUBLISHING,
    )
    done = thisday("doctor", "--config", str(config_file), env={"TEST_DOCTOR_TOKEN": "tok-123"})
    assert done.returncode == 1
    (line,) = [x for x in done.stdout.splitlines() if x.split(" ", 1)[1].startswith("clock")]
    assert line.startswith("✗ clock: the local clock is")
    assert "behind masto's" in line and "timedatectl set-ntp true" in line


def test_templates_that_do_not_render_fail(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "post.j2").write_text("{{ title }} {{ no_such_variable }}\n")
    (templates / "thread.j2").write_text("{{ story }}\n")
    settings = config.load(
        write_config(
            tmp_path,
            accounts="""
            [accounts.masto]
            platform = "mastodon"
            server = "https://m.example"
            token_env = "X"
            """,
            templates=templates,
        )
    )
    (check,) = list(doctor._templates(doctor._Run(settings, str(settings.source))))
    assert check.ok is False and "no_such_variable" in check.detail
