"""A fault proxy in front of the Mastodon simulator: answers lost after the server committed,
rate limits and delays that the simulator cannot produce."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fnmatch
import http.client
import http.server
import json
import select
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

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


def iso_in(seconds: float) -> str:
    """UTC ISO 8601 timestamp ``seconds`` from now, as Mastodon's X-RateLimit-Reset."""
    t = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
