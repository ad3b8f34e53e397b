"""`thisday run` as a service: one daemon per state folder, signals, systemd, health.

- Lock: `state/daemon.lock` (flock, not blocking) holds the pid; a second daemon on the
  same state folder refuses to start and names the first one. With a shared PostgreSQL
  ledger there is no such lock: replicas are welcome, claims decide who publishes.
- Signals: SIGTERM, SIGINT and SIGHUP are blocked in every thread (the mask is set before
  any thread starts, and threads inherit it) and taken by the main thread alone with
  `sigtimedwait`: no handler runs in the middle of other code.
- The main thread sleeps in that wait. It wakes every CLOCK_CHECK seconds to compare the
  wall clock with the monotonic one (a suspend or a clock change; see scheduler.ClockWatch)
  and, only when systemd asks for it ($WATCHDOG_USEC), to send WATCHDOG=1 while the
  scheduler thread is alive. No other loop runs while idle.
- systemd notifications (READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1, STATUS=) go as
  datagrams to $NOTIFY_SOCKET; no dependency needed.
- /healthz and Prometheus /metrics on a loopback address when `[daemon] health` is set:
  one stdlib server thread that blocks until a request comes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import http.server
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.ledger.base import Figures, LedgerError
from bot.runtime.lock import AlreadyRunning, DaemonLock

if TYPE_CHECKING:
    from bot.daemon.scheduler import DailyScheduler

log = logging.getLogger("thisday.daemon")

SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
STOP_TIMEOUT = 8.0  # seconds to let the request in flight finish; systemd waits 15


# -- systemd -------------------------------------------------------------------------------


def notify(*lines: str) -> bool:
    """Send sd_notify lines to $NOTIFY_SOCKET; False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(lines).encode())
        return True
    except OSError as exc:
        log.warning("cannot notify systemd: %s", exc)
        return False


def _ready_again() -> None:
    notify("READY=1")


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of systemd's WatchdogSec), or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(0.05, int(usec) / 2_000_000)
    except ValueError:
        return None


# -- health and metrics --------------------------------------------------------------------


class HealthServer:
    """GET /healthz (JSON; 200 while the scheduler runs, 503 otherwise) and GET /metrics
    (Prometheus text) on a loopback address, served by one thread that sleeps in accept."""

    def __init__(self, address: tuple[str, int], daemon: DailyScheduler) -> None:
        self.daemon = daemon
        self._closed = False
        self._events: tuple[float, dt.date, int] | None = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            server_version = "thisday"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes every few seconds would drown the journal

            def do_GET(self) -> None:
                owner._answer(self)

        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET

        class Server(http.server.HTTPServer):
            address_family = family
            allow_reuse_address = True

        self._server = Server(address, Handler)
        self._server.timeout = None
        host, port = self._server.server_address[:2]
        self.address = (str(host), int(port))
        self._thread = threading.Thread(target=self._serve, name="health", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health and metrics on http://%s:%d/healthz and /metrics", *self.address)
        return self

    def _serve(self) -> None:
        while not self._closed:
            with contextlib.suppress(Exception):
                self._server.handle_request()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError), socket.create_connection(self.address, timeout=0.5):
            pass  # wake the thread out of accept
        self._thread.join(timeout=1.0)
        self._server.server_close()

    def _answer(self, request: http.server.BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        try:
            if path == "/healthz":
                status, body = self.health()
                data = json.dumps(body, indent=1).encode()
                kind = "application/json"
            elif path == "/metrics":
                status, data = 200, self.metrics().encode()
                kind = "text/plain; version=0.0.4; charset=utf-8"
            else:
                status, data, kind = 404, b"not found\n", "text/plain"
        except Exception as exc:
            log.exception("answering %s failed", path)
            status, data, kind = 500, f"error: {type(exc).__name__}\n".encode(), "text/plain"
        request.send_response(status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    # -- what they say --------------------------------------------------------------------

    def _ledger_figures(self) -> Figures:
        if self.daemon.runner.state.ledger_error:
            return Figures({}, {}, {})
        try:
            ledger = self.daemon.workspace.ledger(create=False)
            if ledger is None:
                return Figures({}, {}, {})
            try:
                return ledger.figures()
            finally:
                ledger.close()
        except LedgerError:
            return Figures({}, {}, {})

    def _complete(self, today: dt.date, accounts: list[str]) -> dict[str, bool]:
        if self.daemon.runner.state.ledger_error:
            return {name: False for name in accounts}  # unknown: the ledger cannot say
        try:
            ledger = self.daemon.workspace.ledger(create=False)
            try:
                return {
                    name: bool(ledger and ledger.complete(today.isoformat(), name))
                    for name in accounts
                }
            finally:
                if ledger is not None:
                    ledger.close()
        except LedgerError as exc:
            self.daemon.runner.state.ledger_error = str(exc)
            return {name: False for name in accounts}

    def _replication(self) -> dict[str, Any] | None:
        """The shared ledger's view: this replica, the replicas seen, the claims held."""
        settings = self.daemon.settings
        if not settings.ledger:
            return None
        ledger = self.daemon.workspace.shared_ledger()
        out: dict[str, Any] = {
            "backend": "postgresql",
            "where": ledger.where,
            "replica": ledger.replica,
            "lease_seconds": ledger.lease,
            "replicas": [],
            "claims": [],
        }
        if self.daemon.runner.state.ledger_error:
            return out
        try:
            out["replicas"] = [dataclasses.asdict(r) for r in ledger.replicas()]
            out["claims"] = [dataclasses.asdict(c) for c in ledger.claims()]
        except LedgerError:
            pass
        finally:
            ledger.close()
        return out

    def _events_today(self, today: dt.date) -> int:
        # Reading the posts folder costs a directory scan: at most once a minute.
        cached = self._events
        if cached and cached[1] == today and time.monotonic() - cached[0] < 60:
            return cached[2]
        count = len(self.daemon.workspace.candidates(today))
        self._events = (time.monotonic(), today, count)
        return count

    def health(self) -> tuple[int, dict[str, Any]]:
        from bot.runtime.schedule import utcnow

        daemon = self.daemon
        runner = daemon.runner
        now = utcnow()
        today = runner.schedule.today(now)
        accounts = runner.accounts()
        done = self._complete(today, accounts)
        running = daemon.running and not runner.stopping
        state = runner.state
        ledger_ok = state.ledger_error is None
        next_run = daemon.next_run()
        body = {
            "status": "ok" if running else "stopping" if runner.stopping else "down",
            "dry_run": daemon.dry_run,
            "today": today.isoformat(),
            "complete": done,
            "next_run": next_run.isoformat() if next_run else None,
            "retry_at": state.retry_at.isoformat() if state.retry_at else None,
            "last_attempt": state.last_attempt.isoformat() if state.last_attempt else None,
            "last_success": state.last_success.isoformat() if state.last_success else None,
            "template_problems": [str(p) for p in daemon.workspace.template_problems],
            # Why nothing can be published now (the ledger cannot be reached or read).
            "ledger_error": state.ledger_error,
        }
        replication = self._replication()
        if replication is not None:
            body["ledger"] = replication
        if running and not ledger_ok:
            body["status"] = "ledger-unreachable"
        return (200 if running and ledger_ok else 503), body

    def metrics(self) -> str:
        from bot.runtime.schedule import utcnow

        daemon = self.daemon
        figures = self._ledger_figures()
        accounts = sorted(set(daemon.runner.accounts()) | set(figures.sent))
        now = utcnow()
        today = daemon.runner.schedule.today(now)
        out: list[str] = []

        def metric(name: str, kind: str, text: str, values: list[tuple[str, float]]) -> None:
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            for labels, value in values:
                out.append(f"{name}{labels} {_number(value)}")

        def by_account(table: Mapping[str, float]) -> list[tuple[str, float]]:
            return [(f'{{account="{name}"}}', table.get(name, 0)) for name in accounts]

        metric(
            "thisday_posts_published_total",
            "counter",
            "Parts (posts) published, by account (from the ledger).",
            by_account(figures.sent),
        )
        metric(
            "thisday_posts_failed_total",
            "counter",
            "Threads that failed a publish run, by account (from the ledger).",
            by_account(figures.failed),
        )
        metric(
            "thisday_last_success_timestamp_seconds",
            "gauge",
            "When the account's last part was published (Unix time; 0 = never).",
            [
                (labels, _timestamp(figures.last_sent.get(name)))
                for labels, name in ((f'{{account="{n}"}}', n) for n in accounts)
            ],
        )
        next_run = daemon.next_run()
        metric(
            "thisday_next_run_timestamp_seconds",
            "gauge",
            "The next scheduled publish (a slot or a retry; Unix time).",
            [("", next_run.timestamp() if next_run else 0)],
        )
        metric(
            "thisday_events_today",
            "gauge",
            "Valid events available for today in the configured timezone.",
            [("", self._events_today(today))],
        )
        complete = {name: float(done) for name, done in self._complete(today, accounts).items()}
        metric(
            "thisday_today_complete",
            "gauge",
            "1 when today's thread is complete on the account.",
            by_account(complete),
        )
        metric("thisday_up", "gauge", "1 while the scheduler runs.", [("", float(daemon.running))])
        metric(
            "thisday_ledger_up",
            "gauge",
            "1 while the ledger answers (0: nothing can be published).",
            [("", float(daemon.runner.state.ledger_error is None))],
        )
        replication = self._replication()
        if replication is not None:
            seen = replication["replicas"]
            metric(
                "thisday_replicas_live",
                "gauge",
                "Replicas that renewed their heartbeat within the lease (shared ledger).",
                [("", float(sum(1 for r in seen if r["live"])))],
            )
            held: dict[str, int] = {}
            for claim in replication["claims"]:
                if claim["expires_in"] > 0:
                    held[claim["holder"]] = held.get(claim["holder"], 0) + 1
            me = replication["replica"]
            metric(
                "thisday_claims_held",
                "gauge",
                "Accounts claimed (lease not expired), by replica.",
                [(f'{{replica="{name}"}}', float(n)) for name, n in sorted(held.items())]
                or [(f'{{replica="{me}"}}', 0.0)],
            )
            metric(
                "thisday_claims_mine",
                "gauge",
                "Accounts this replica holds a live claim on.",
                [("", float(held.get(me, 0)))],
            )
        return "\n".join(out) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _timestamp(iso: str | None) -> float:
    return dt.datetime.fromisoformat(iso).timestamp() if iso else 0.0


# -- the daemon's main thread ----------------------------------------------------------------


def serve(
    config_file: str | None, posts: str | None = None, *, dry_run: bool = False, level: str = "INFO"
) -> int:
    """Run until SIGTERM/SIGINT; return the exit code (or leave with os._exit when the
    request in flight had to be abandoned)."""
    # Before any thread exists: every thread inherits the mask, so only the wait below
    # ever sees these signals.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)

    from bot import logs
    from bot.daemon.scheduler import DailyScheduler

    logs.setup(level)
    daemon = DailyScheduler(config_file, posts, dry_run=dry_run)
    settings = daemon.settings
    lock: DaemonLock | None = None
    # A dry run touches no state: it may run beside the real daemon. Replicas on a shared
    # ledger are welcome: claims, not a lock, decide who publishes.
    if not dry_run and not settings.ledger:
        lock = DaemonLock(settings.state_folder.daemon_lock)
        try:
            lock.acquire()
        except AlreadyRunning as exc:
            log.error("%s", exc)
            return 1

    health: HealthServer | None = None
    clean = True
    try:
        daemon.start()
        address = settings.daemon.health_address
        if address:
            health = HealthServer(address, daemon).start()
        _announce(daemon, dry_run)
        _wait_for_a_stop(daemon)
    finally:
        notify("STOPPING=1")
        clean = daemon.stop(timeout=STOP_TIMEOUT)
        if health is not None:
            health.close()
        if lock is not None:
            lock.release()
    if not clean:
        log.warning(
            "stopped without waiting for the request in flight; its part is checked and "
            "completed exactly once at the next start"
        )
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)  # worker threads still wait on the network; the ledger is consistent
    log.info("stopped")
    return 0


def _announce(daemon: DailyScheduler, dry_run: bool) -> None:
    settings = daemon.settings
    next_run = daemon.next_run()
    status = f"next run {next_run.isoformat(timespec='seconds')}" if next_run else "idle"
    notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")
    log.info(
        "thisday daemon started (pid %d%s): posts at %s %s, catch-up until %s; %s",
        os.getpid(),
        ", dry run" if dry_run else "",
        ", ".join(t.isoformat() for t in settings.post_at),
        settings.timezone,
        settings.catch_up_until.isoformat(),
        status,
    )


def _wait_for_a_stop(daemon: DailyScheduler) -> None:
    """The main thread's loop: wait for a signal; meanwhile watch the wall clock and, when
    systemd asks, ping its watchdog. SIGHUP reloads; SIGTERM and SIGINT return."""
    from bot.daemon.scheduler import CLOCK_CHECK
    from bot.runtime.schedule import ClockWatch

    watch = ClockWatch()
    ping_every = watchdog_interval()
    next_ping = time.monotonic()
    while True:
        timeout = CLOCK_CHECK
        if ping_every:
            timeout = max(0.0, min(timeout, next_ping - time.monotonic()))
        info = signal.sigtimedwait(SIGNALS, timeout)
        if ping_every and time.monotonic() >= next_ping:
            if daemon.running:
                notify("WATCHDOG=1")
            next_ping = time.monotonic() + ping_every
        jump = watch.check()
        if jump:
            daemon.clock_jumped(jump)
        if info is None:
            continue
        if info.si_signo == signal.SIGHUP:
            log.info("SIGHUP: reloading the config")
            usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            notify("RELOADING=1", f"MONOTONIC_USEC={usec}")
            daemon.request_reload(done=lambda ok: _ready_again())
            continue
        log.info("%s: stopping", signal.Signals(info.si_signo).name)
        return
