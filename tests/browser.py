"""A real headless Chromium for page tests, driven over the DevTools protocol on a pipe.

No extra Python package: Chromium's ``--remote-debugging-pipe`` reads NUL-terminated JSON
commands on fd 3 and writes answers and events on fd 4. Debian's ``chromium`` is enough
(``apt-get install chromium``). Without it, tests that use a fixture built on ``launch()``
SKIP, except with ``THISDAY_REQUIRE_SERVERS=1`` (CI), where they FAIL.

    page = browser.open(path, width=390)        # load a local file at that viewport width
    page.errors        # console errors, uncaught exceptions, failed loads, dialogs
    page.requests      # every URL the page asked for that is not file: or data:
    page.evaluate("document.title")
    page.screenshot(Path("out.png"))
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)
TIMEOUT = 30.0


def find_chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="thisday-chromium-")
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")  # noqa: SIM115
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:
            # The protocol's fixed descriptors; dup2 leaves them inheritable across exec.
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            close_fds=False,
            preexec_fn=wire_pipes,
            start_new_session=True,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.call("Browser.getVersion")

    # -- protocol -------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._to_browser, data)
            data = data[written:]

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer from Chromium in {TIMEOUT}s ({self.log_tail()})")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium closed the pipe ({self.log_tail()})")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message = json.loads(raw)
        if message.get("method") == "Page.javascriptDialogOpening":
            # A dialog blocks the page (and its load event) until answered: dismiss it now,
            # and let the event stand as an error of that page.
            self._next_id += 1
            self._send(
                {
                    "id": self._next_id,
                    "method": "Page.handleJavaScriptDialog",
                    "params": {"accept": False},
                    "sessionId": message.get("sessionId"),
                }
            )
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None):
        self._next_id += 1
        mine = self._next_id
        message: dict[str, Any] = {"id": mine, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == mine:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def wait_for(self, method: str, session: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["method"] == method and event.get("sessionId") == session:
                    self.events.remove(event)
                    return event
            message = self._receive(deadline)
            if "method" in message:
                self.events.append(message)

    def log_tail(self) -> str:
        self.log.flush()
        try:
            return Path(self.log.name).read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    # -- pages ----------------------------------------------------------------------------

    def open(self, path: Path, width: int, height: int = 900) -> Page:
        """Load a local file in a fresh tab at this viewport width; wait for `load`."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, target, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
            session=session,
        )
        self.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        self.wait_for("Page.loadEventFired", session)
        # Fonts and layout settle after `load`; one animation frame is enough here.
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.collect()
        return page

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self.errors: list[str] = []
        self.requests: list[str] = []

    def collect(self) -> None:
        """Move this page's events seen so far into `errors` and `requests`."""
        mine = [e for e in self.browser.events if e.get("sessionId") == self.session]
        self.browser.events = [e for e in self.browser.events if e not in mine]
        for event in mine:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text")
                self.errors.append(f"exception: {text}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "assert",
            ):
                args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                self.errors.append(f"console.{params['type']}: {args}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                self.errors.append(f"log: {params['entry'].get('text')}")
            elif method == "Page.javascriptDialogOpening":
                self.errors.append(f"dialog: {params.get('message')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:")):
                    self.requests.append(url)

    def evaluate(self, expression: str) -> Any:
        result = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluate failed: {result['exceptionDetails']}")
        self.collect()
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path) -> None:
        data = self.browser.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True},
            session=self.session,
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})


def require_servers() -> bool:
    return os.environ.get("THISDAY_REQUIRE_SERVERS", "") not in ("", "0", "false", "no")


def launch() -> Iterator[Browser]:
    """For a fixture: `yield from launch()`. Skips (or, on CI, fails) without Chromium."""
    if os.environ.get("THISDAY_NO_BROWSER"):
        pytest.skip("browser tests left out (scripts/test --fast)")
    executable = find_chromium()
    if executable is None:
        message = (
            "headless browser tests need Debian's chromium "
            "(apt-get install chromium); none found at /usr/bin/chromium or on PATH"
        )
        if require_servers():
            pytest.fail(f"{message} (THISDAY_REQUIRE_SERVERS is set)", pytrace=False)
        pytest.skip(message)
    instance = Browser(executable)
    try:
        yield instance
    finally:
        instance.close()
