"""Logging: JSON lines when stderr is not a terminal (journald, files), readable text on one.

A redacting filter masks every secret the process has read, as a last line of defence: no
code path is meant to log one, and none may leak one by accident. `escape` is the one rule
for printing untrusted text (file names, keys, values): no control or bidi character reaches
a terminal or a log as itself.
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


def _escape_table() -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
    table.update({c: f"\\u{c:04x}" for c in range(0x80, 0xA0)})
    table.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})
    table.update({0x2028: "\\u2028", 0x2029: "\\u2029"})
    # File names that are not UTF-8 arrive as lone surrogates (surrogateescape): the byte.
    table.update({c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)})
    table.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
    return table


_ESCAPES = _escape_table()
_ESCAPES_KEEP_LINES = {c: v for c, v in _ESCAPES.items() if c not in (0x09, 0x0A)}


def escape(text: str, *, keep_lines: bool = False) -> str:
    """`text` with every control, bidi and separator character written as an escape (`\\x1b`,
    `\\n`, `\\u202e`): printed, it is exactly one line (or, with keep_lines, only the lines it
    says) and sends nothing to the terminal but text."""
    if text.isascii() and text.isprintable():  # the fast path: nearly every line
        return text
    return text.translate(_ESCAPES_KEEP_LINES if keep_lines else _ESCAPES)


# For whole output streams, which may carry JSON: every escape here is also a JSON escape of
# the same character (JSON never holds a raw C0 control), so a JSON document stays valid.
STREAM_ESCAPES = {c: f"\\u{c:04x}" for c, v in _ESCAPES.items() if c >= 0x7F}
STREAM_ESCAPES.update({c: v for c, v in _ESCAPES.items() if c < 0x20 and c not in (9, 10)})
STREAM_ESCAPES.update({c: f"\\u{c:04x}" for c in range(0xD800, 0xDC80)})
STREAM_ESCAPES.update({c: f"\\u{c:04x}" for c in range(0xDD00, 0xE000)})


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
        line = escape(redact(super().format(record)), keep_lines=True)  # tracebacks included
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
