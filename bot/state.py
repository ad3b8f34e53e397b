"""The state folder: every file thisday keeps under `state/`, named in one place, and the one
way those files are replaced.

Nothing here is in the repository: the ledger (the truth of what was published), the locks,
the Bluesky sessions, the cached instance limits and the caches. Losing the caches costs a
slower next run; losing the ledger loses the memory of what was published.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class StateFolder:
    root: Path

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.sqlite"

    @property
    def daemon_lock(self) -> Path:
        """Held by `thisday run` for its whole life: one daemon per state folder."""
        return self.root / "daemon.lock"

    @property
    def publish_lock(self) -> Path:
        """Held only while a publish run writes to the ledger."""
        return self.root / "publish.lock"

    @property
    def sessions(self) -> Path:
        return self.root / "sessions"

    def session(self, account: str) -> Path:
        """A Bluesky account's saved login session (0600, in a 0700 folder)."""
        return self.sessions / f"{account}.json"

    @property
    def instances(self) -> Path:
        """The Mastodon instances' limits as last read, so `check` works offline."""
        return self.root / "instances.json"

    @property
    def cache(self) -> Path:
        """The posts index and the compiled templates: safe to delete at any time."""
        return self.root / "cache"

    @property
    def handles(self) -> Path:
        """Bluesky handles resolved to DIDs for mentions, each with its expiry (a cache)."""
        return self.cache / "handles.json"


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that a reader (or a crash) sees the old file or the new
    one, never half of one: write a temporary file beside it, then rename it over. The new
    file gets `mode` from its creation on (a secret is never readable by others, even for an
    instant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
