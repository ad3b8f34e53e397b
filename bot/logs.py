"""Logging: JSON lines when stderr is not a terminal (journald, files), readable text on one.

A redacting filter masks every secret the process has read, as a last line of defence: no
code path is meant to log one, and none may leak one by accident.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

_FIELDS = ("account", "event", "part", "url", "day")
_secrets: set[str] = set()


def remember_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = redact(record.getMessage())
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))  # tracebacks included
        account = getattr(record, "account", None)
        return f"{line}  [{account}]" if account else line


def setup(level: str = "INFO", *, json_lines: bool | None = None, stream: Any = None) -> None:
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not stream.isatty()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(_Redact())
    root = logging.getLogger("thisday")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # Libraries' own loggers may print request details; keep them quiet and redacted.
    for name in ("httpx", "httpcore", "urllib3", "apscheduler"):
        other = logging.getLogger(name)
        other.setLevel(logging.WARNING)
        other.handlers[:] = [handler]
        other.propagate = False
