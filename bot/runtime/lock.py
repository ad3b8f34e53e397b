"""One daemon per state folder: an exclusive `flock` on `state/daemon.lock`, holding the pid.

The same reader serves every lock file (the daemon's, and the ledger's publish lock), so
`status` and `doctor` tell "running", "not running" and "stale pid" the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path


class AlreadyRunning(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class LockHolder:
    held: bool  # someone holds the flock now
    pid: int | None  # the pid written in the file (may be stale when not held)


def holder(path: Path) -> LockHolder:
    """Who holds the lock file at `path`. Takes a shared lock for an instant only, so it
    never blocks, and never while the daemon holds its exclusive one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return LockHolder(False, None)
    try:
        text = os.read(fd, 64).decode("ascii", "replace").strip()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            held = True
        else:
            held = False
    finally:
        os.close(fd)  # closing drops the shared lock
    return LockHolder(held, int(text) if text.isdigit() and int(text) > 0 else None)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


class DaemonLock:
    """An exclusive flock on the daemon lock file, held for the daemon's lifetime. Separate
    from the ledger's publish lock, which is held only while publishing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = holder(self.path).pid
            who = f"pid {pid}" if pid else "another process"
            raise AlreadyRunning(
                f"another thisday daemon ({who}) is already running on the state folder "
                f"{self.path.parent}; stop it first (systemctl stop thisday), or give this one "
                "its own `state` folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None
