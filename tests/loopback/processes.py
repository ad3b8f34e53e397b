"""Server processes: started in their own process group, killed at every kind of exit."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .installs import SERVERS_DIR, node_home
from .net import _descendants, rss_mb

_LIVE: list[Any] = []  # things with .stop(grace=...), in start order
_LIVE_LOCK = threading.Lock()
_CLEANUP_INSTALLED = False


def _register(obj: Any) -> None:
    _install_cleanup()
    with _LIVE_LOCK:
        _LIVE.append(obj)


def _unregister(obj: Any) -> None:
    with _LIVE_LOCK:
        if obj in _LIVE:
            _LIVE.remove(obj)


def _kill_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for obj in reversed(live):
        with contextlib.suppress(Exception):
            obj.stop(grace=3.0)


def _install_cleanup() -> None:
    """Stop our servers at interpreter exit and on SIGTERM (Ctrl-C runs fixture teardown).
    If the test runner is SIGKILLed, each direct child gets SIGTERM from the kernel
    (PR_SET_PDEATHSIG) and the Node servers also watch their parent pid."""
    global _CLEANUP_INSTALLED
    if _CLEANUP_INSTALLED:
        return
    _CLEANUP_INSTALLED = True
    atexit.register(_kill_all)
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous in (signal.SIG_DFL, None):

            def on_term(signum: int, frame: Any) -> None:
                _kill_all()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)

            signal.signal(signal.SIGTERM, on_term)


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when this thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)

    return preexec


class ServerError(RuntimeError):
    pass


class ServerProcess:
    """A child process in its own process group, logging to ``logdir/<name>.log``."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        logdir: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.argv = argv
        self.log_path = Path(logdir) / f"{name}.log"
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> ServerProcess:
        _install_cleanup()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # own process group: killpg() gets every child
                preexec_fn=_parent_death_signal(),
            )
        self.started_at = time.monotonic()
        _register(self)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """Wait until a log line matches ``pattern``; raise ServerError (with the log tail)
        if the process exits or the time runs out."""
        rx = re.compile(pattern, re.M)
        found: list[re.Match[str]] = []

        def check() -> bool:
            m = rx.search(self.log_text())
            if m:
                found.append(m)
            return m is not None

        self.wait_for(check, timeout)
        return found[0]

    def wait_for(self, check: Callable[[], bool], timeout: float) -> None:
        """Poll ``check`` (exceptions count as "not yet") until true; raise ServerError with
        the log tail if the process exits first or ``timeout`` s pass."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(Exception):
                if check():
                    return
            where = f"log {self.log_path}:\n{self.tail()}"
            if not self.alive():
                code = self.proc.returncode if self.proc else "?"
                raise ServerError(f"{self.name} exited (code {code}) before ready; {where}")
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name} not ready after {timeout:.0f} s; {where}")
            time.sleep(0.05)

    def group_rss_mb(self) -> float:
        """Memory of the process and all its descendants, in MB (see :func:`rss_mb`)."""
        if not self.alive():
            return 0.0
        return sum(rss_mb(p) or 0.0 for p in _descendants(self.pid))

    def stop(self, grace: float = 10.0) -> None:
        """Signal the process group (SIGTERM, or ``stop_signal``), wait up to ``grace`` s,
        then SIGKILL what is left of the group."""
        proc = self.proc
        if proc is None:
            return
        _unregister(self)
        pgid = proc.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, self.stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        # children of the group may outlive the leader
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def node_argv(script: str, *, faults: bool = True) -> list[str]:
    argv = [str(node_home() / "bin" / "node"), "--import", str(SERVERS_DIR / "loopback-guard.mjs")]
    if faults:
        argv += ["--import", str(SERVERS_DIR / "faults.mjs")]
    return [*argv, str(SERVERS_DIR / script)]


def node_env(extra: dict[str, str], tmpdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{node_home() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmpdir)
    env["NODE_ENV"] = "development"
    env["PARENT_PID"] = str(os.getpid())
    env.pop("NODE_OPTIONS", None)
    env.update(extra)
    return env


# ============================================================================ PDS faults
