"""Listing the posts folder: every post file with its signature (mtime, size).

Stat-ing 50,000 files costs ~0.15 s of system calls. `prefetch` starts that listing in a
forked child while this process goes on importing what it needs, so a command that must
know whether anything changed pays for the listing and its own start-up at the same time,
not one after the other. This module imports nothing heavy on purpose.
"""

from __future__ import annotations

import array
import hashlib
import marshal
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.state import StateFolder

POST_SUFFIX = ".md"

_pending: dict[str, tuple[int, int]] = {}  # root -> (child pid, read end of its pipe)


@dataclass(slots=True)
class Listing:
    """Post files in the order the file system lists them, with their signatures as raw
    int64 columns: two listings of an unchanged folder compare equal in a few C calls."""

    rels: list[str]
    mtimes: bytes
    sizes: bytes

    def signatures(self) -> dict[str, tuple[int, int]]:
        mtimes, sizes = array.array("q"), array.array("q")
        mtimes.frombytes(self.mtimes)
        sizes.frombytes(self.sizes)
        return dict(zip(self.rels, zip(mtimes, sizes, strict=True), strict=True))


def scan_tree(root: str) -> Listing:
    """Every post file under `root` (hidden entries skipped), with its mtime and size.

    Folder by folder, with each file stat-ed relative to its folder's descriptor: the kernel
    does not walk the whole path again for every file."""
    rels: list[str] = []
    mtimes, sizes = array.array("q"), array.array("q")
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            fd = os.open(os.path.join(root, rel), os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            with os.scandir(fd) as listing:
                entries = [entry for entry in listing if entry.name[0] != "."]
            names = [e.name for e in entries if e.name.endswith(POST_SUFFIX) and e.is_file()]
            stack.extend(f"{rel}{e.name}/" for e in entries if e.is_dir())
            try:
                stats = [os.stat(name, dir_fd=fd) for name in names]
            except OSError:  # a file went away meanwhile: take the others one by one
                names, stats = _stat_each(names, fd)
        except OSError:
            continue
        finally:
            os.close(fd)
        rels.extend(rel + name for name in names)
        mtimes.extend(st.st_mtime_ns for st in stats)
        sizes.extend(st.st_size for st in stats)
    return Listing(rels, mtimes.tobytes(), sizes.tobytes())


def _stat_each(names: list[str], fd: int) -> tuple[list[str], list[os.stat_result]]:
    kept, stats = [], []
    for name in names:
        try:
            stats.append(os.stat(name, dir_fd=fd))
            kept.append(name)
        except OSError:
            continue
    return kept, stats


def index_file(cache_dir: Path, root: Path) -> Path:
    """Where the index of the posts folder `root` is saved (see bot.corpus)."""
    return cache_dir / f"posts-{hashlib.sha1(str(root.absolute()).encode()).hexdigest()[:12]}.idx"


def index_columns(raw: bytes) -> tuple[list[str], bytes, bytes] | None:
    """The listing part of a saved index: (rels, mtimes, sizes), in listing order."""
    try:
        data = marshal.loads(raw)
        return data[3], data[4], data[5]
    except (EOFError, ValueError, TypeError, IndexError):
        return None


@dataclass(frozen=True, slots=True)
class Unchanged:
    """The child found the folder exactly as the index file (this stat of it) says."""

    index_mtime_ns: int
    index_size: int


def prefetch(root: Path, cache_dir: Path | None = None) -> None:
    """Start listing `root` in a child process; `take` collects the result.

    With the index's folder, the child also compares the listing with the saved index and
    answers a few bytes when nothing changed, instead of handing over the whole listing."""
    key = str(root.absolute())
    if key in _pending or sys.platform != "linux" or not root.is_dir():
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: list, hand over, leave without running any cleanup
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                out.write(marshal.dumps(_listing_or_verdict(root, cache_dir)))
        finally:
            os._exit(0)
    os.close(write_end)
    _pending[key] = (pid, read_end)


def _listing_or_verdict(root: Path, cache_dir: Path | None) -> tuple[Any, ...]:
    found = scan_tree(str(root.absolute()))
    if cache_dir is not None:
        try:
            with open(index_file(cache_dir, root), "rb") as handle:
                stat = os.fstat(handle.fileno())
                saved = index_columns(handle.read())
        except OSError:
            saved = None
        if saved == (found.rels, found.mtimes, found.sizes):
            return ("unchanged", stat.st_mtime_ns, stat.st_size)
    return ("listing", found.rels, found.mtimes, found.sizes)


def take(root: Path) -> Listing | Unchanged | None:
    """What the child found for `root`, or None when none was started (or it failed)."""
    pending = _pending.pop(str(root.absolute()), None)
    if pending is None:
        return None
    pid, read_end = pending
    with os.fdopen(read_end, "rb") as source:
        data = source.read()
    os.waitpid(pid, 0)
    try:
        kind, *rest = marshal.loads(data)
        if kind == "unchanged":
            return Unchanged(*rest)
        rels, mtimes, sizes = rest
    except (EOFError, ValueError, TypeError):
        return None  # the child failed: the caller lists the folder itself
    return Listing(rels, mtimes, sizes)


def posts_folder(config_file: str | None, posts: str | None) -> tuple[Path, Path] | None:
    """Where the posts and the index cache are, read cheaply from the raw TOML (validation
    comes later, and the caller only uses this to start `prefetch`)."""
    path = Path(config_file or os.environ.get("THISDAY_CONFIG") or "config/thisday.toml")
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    folder, state = posts or raw.get("posts", "../posts"), raw.get("state", "../state")
    if not isinstance(folder, str) or not isinstance(state, str):
        return None
    base = path.parent
    root = Path(folder) if posts else base / folder
    return Path(os.path.normpath(root.absolute())), StateFolder(
        Path(os.path.normpath(base / state))
    ).cache
