"""The Mastodon simulator (mastodon-mock from PyPI) as a server process, with its own faults."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .net import http_json, pick_port
from .processes import ServerProcess
from .proxy import FaultProxy, iso_in


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
