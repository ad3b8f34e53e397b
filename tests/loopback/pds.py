"""A real atproto PDS (Node) with its in-process fault injector."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from .installs import DEFAULT_PDS_ACCOUNTS, cache_dir
from .net import http_json, pick_port
from .processes import ServerProcess, node_argv, node_env


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
