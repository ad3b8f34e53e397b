"""Listing the posts folder: every post file with its signature (mtime, size).

Stat-ing 50,000 files costs ~0.15 s of system calls. `prefetch` starts that listing in a
forked child while this process goes on importing what it needs, so a command that must
know whether anything changed pays for the listing and its own start-up at the same time,
not one after the other. This module imports nothing heavy on purpose.
"""

from __future__ import annotations

import array
import errno
import functools
import hashlib
import marshal
import os
import stat as stat_module
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.state import StateFolder

POST_SUFFIX = ".md"

_pending: dict[str, tuple[int, int]] = {}  # root -> (child pid, read end of its pipe)


@dataclass(slots=True)
class Listing:
    """Post files in the order the file system lists them, with their signatures as raw
    int64 columns: two listings of an unchanged folder compare equal in a few C calls.
    `problems` holds what could not be listed or followed: (relative path, message)."""

    rels: list[str]
    mtimes: bytes
    sizes: bytes
    problems: list[tuple[str, str]] = field(default_factory=list)

    def signatures(self) -> dict[str, tuple[int, int]]:
        mtimes, sizes = array.array("q"), array.array("q")
        mtimes.frombytes(self.mtimes)
        sizes.frombytes(self.sizes)
        return dict(zip(self.rels, zip(mtimes, sizes, strict=True), strict=True))


@functools.cache
def real_root(root: str) -> str:
    """The posts folder with every link resolved: what "inside the posts folder" means."""
    return os.path.realpath(root)


def is_inside(real: str, root: str) -> bool:
    top = real_root(root)
    return real == top or real.startswith(top.rstrip("/") + "/")


def scan_tree(root: str) -> Listing:
    """Every post file under `root` (hidden entries skipped), with its mtime and size.

    Folder by folder, with each file stat-ed relative to its folder's descriptor: the kernel
    does not walk the whole path again for every file. Links are followed only when their
    real path stays inside the posts folder, and each folder is listed once (by device and
    inode), so a link loop or `/proc/self` ends; folders reached through a link are listed
    after every real folder, so a file keeps its real path when a link duplicates it. What
    cannot be listed or followed becomes a problem, never a silent gap."""
    rels: list[str] = []
    mtimes, sizes = array.array("q"), array.array("q")
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[int, int], str] = {}
    linked_files: list[tuple[str, str]] = []  # (rel, real path) of post files behind a link
    stack, linked = [""], list[str]()
    while stack or linked:
        rel = stack.pop() if stack else linked.pop(0)
        try:
            fd = os.open(os.path.join(root, rel), os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            problems.append((rel, f"cannot list this folder: {exc.strerror}"))
            continue
        try:
            folder = os.fstat(fd)
            ident = (folder.st_dev, folder.st_ino)
            if ident in seen:
                first = seen[ident] or "the posts folder itself"
                problems.append((rel, f"link to a folder listed already ({first}): not followed"))
                continue
            seen[ident] = rel
            with os.scandir(fd) as listing:
                entries = [entry for entry in listing if entry.name[0] != "."]
            names = []
            for entry in entries:
                name = entry.name
                if entry.is_symlink():
                    kind, real = _follow(root, rel + name, problems)
                    if kind == "dir":
                        linked.append(f"{rel}{name}/")
                    elif kind == "file" and name.endswith(POST_SUFFIX):
                        names.append(name)
                        linked_files.append((rel + name, real))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(f"{rel}{name}/")
                elif name.endswith(POST_SUFFIX):
                    if entry.is_file(follow_symlinks=False):
                        names.append(name)
                    else:
                        problems.append((rel + name, "not a regular file: not read"))
            try:
                stats = [os.stat(name, dir_fd=fd) for name in names]
            except OSError:  # a file went away meanwhile: take the others one by one
                names, stats = _stat_each(names, fd)
        except OSError as exc:
            problems.append((rel, f"cannot list this folder: {exc.strerror}"))
            continue
        finally:
            os.close(fd)
        rels.extend(rel + name for name in names)
        mtimes.extend(st.st_mtime_ns for st in stats)
        sizes.extend(st.st_size for st in stats)
    if linked_files:
        _drop_duplicate_links(root, linked_files, rels, mtimes, sizes, problems)
    return Listing(rels, mtimes.tobytes(), sizes.tobytes(), problems)


def _follow(root: str, rel: str, problems: list[tuple[str, str]]) -> tuple[str | None, str]:
    """What a link in the posts folder leads to: "dir", "file" or None (reported, or not a
    post), with its real path."""
    path = os.path.join(root, rel)
    try:
        real = os.path.realpath(path, strict=True)
        stat = os.stat(real)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            problems.append((rel, "link loop: not followed"))
        elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
            problems.append((rel, "dangling link (its target does not exist): not followed"))
        else:
            problems.append((rel, f"cannot follow this link: {exc.strerror}"))
        return None, ""
    if not is_inside(real, root):
        # Not a word on the target: whether an outside path exists is not ours to tell.
        problems.append((rel, "link leads outside the posts folder: not followed"))
        return None, real
    if stat_module.S_ISDIR(stat.st_mode):
        return "dir", real
    if stat_module.S_ISREG(stat.st_mode):
        return "file", real
    if rel.endswith(POST_SUFFIX):
        problems.append((rel, "not a regular file: not read"))
    return None, real


def _drop_duplicate_links(
    root: str,
    linked_files: list[tuple[str, str]],
    rels: list[str],
    mtimes: array.array[int],
    sizes: array.array[int],
    problems: list[tuple[str, str]],
) -> None:
    """A link to a post file that is listed under its own name would post it twice."""
    top = real_root(root)
    listed = set(rels)
    drop = set()
    for rel, real in linked_files:
        target = os.path.relpath(real, top)
        if target != rel and target in listed:
            drop.add(rel)
            problems.append((rel, f"link to a post file listed already ({target}): not read"))
    if drop:
        keep = [n for n, rel in enumerate(rels) if rel not in drop]
        rels[:] = [rels[n] for n in keep]
        mtimes[:] = array.array("q", (mtimes[n] for n in keep))
        sizes[:] = array.array("q", (sizes[n] for n in keep))


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


# An index file is two marshalled sections, the listing first (with the length of its bytes
# in front): the listing child compares the listing without unmarshalling the rest.
_SECTION_LENGTH = 8


def index_bytes(listing: tuple[Any, ...], rest: tuple[Any, ...]) -> bytes:
    head = marshal.dumps(listing)
    return len(head).to_bytes(_SECTION_LENGTH, "little") + head + marshal.dumps(rest)


def index_sections(raw: bytes) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """(listing section, the rest) of an index file, or None when it is not one."""
    try:
        length = int.from_bytes(raw[:_SECTION_LENGTH], "little")
        view = memoryview(raw)
        head = marshal.loads(view[_SECTION_LENGTH : _SECTION_LENGTH + length])
        rest = marshal.loads(view[_SECTION_LENGTH + length :])
    except (EOFError, ValueError, TypeError):
        return None
    return (head, rest) if isinstance(head, tuple) and isinstance(rest, tuple) else None


def index_columns(raw: bytes) -> tuple[list[str], bytes, bytes, list[tuple[str, str]]] | None:
    """The listing section of a saved index: (rels, mtimes, sizes, problems), in listing order
    (after the index's form and root, which its reader checks)."""
    try:
        head = marshal.loads(memoryview(raw)[_SECTION_LENGTH:])  # stops at the section's end
        _, _, rels, mtimes, sizes, problems = head
    except (EOFError, ValueError, TypeError):
        return None
    return rels, mtimes, sizes, problems


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
                length = handle.read(_SECTION_LENGTH)
                saved = index_columns(length + handle.read(int.from_bytes(length, "little")))
        except OSError:
            saved = None
        if saved == (found.rels, found.mtimes, found.sizes, found.problems):
            return ("unchanged", stat.st_mtime_ns, stat.st_size)
    return ("listing", found.rels, found.mtimes, found.sizes, found.problems)


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
        rels, mtimes, sizes, problems = rest
    except (EOFError, ValueError, TypeError):
        return None  # the child failed: the caller lists the folder itself
    return Listing(rels, mtimes, sizes, problems)


def prefetch_for(config_file: str | None, posts: str | None) -> None:
    """`prefetch` the posts folder a command with these --config and --posts reads."""
    where = posts_folder(config_file, posts)
    if where is not None:
        prefetch(*where)


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


# -- reading one file -----------------------------------------------------------------------

MAX_POST_BYTES = 256 * 1024  # far above any real post (the longest shipped is ~5 KB)


class Refused(OSError):
    """A path that is not read: not a regular file, or outside the posts folder."""


class TooLarge(OSError):
    """A file over the size it may have; `size` is what it has (at least)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"{size:,} bytes, over the limit of {limit:,}")
        self.size = size
        self.limit = limit


def open_regular(path: str, root: str | None = None) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file at `path`, and its stat; never blocks.

    O_NONBLOCK makes opening a FIFO or device return at once (a plain open() of a FIFO waits
    for a writer forever); fstat on what was opened, not on the path, then refuses anything
    but a regular file, so a file swapped for a FIFO between listing and reading is refused.
    With `root`, what was opened must really be inside it (links resolved by the kernel)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        stat = os.fstat(fd)
        if not stat_module.S_ISREG(stat.st_mode):
            raise Refused(errno.EINVAL, "not a regular file (a FIFO, device or socket)")
        if root is not None and sys.platform == "linux":
            try:
                real = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                real = os.path.realpath(path)
            if not is_inside(real, root):
                raise Refused(errno.EXDEV, "leads outside the posts folder")
    except BaseException:
        os.close(fd)
        raise
    return fd, stat


def read_regular(path: str, limit: int, root: str | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most `limit` bytes (see open_regular); raises
    TooLarge rather than reading more, whatever the file's size said."""
    fd, stat = open_regular(path, root)
    try:
        if stat.st_size > limit:
            raise TooLarge(stat.st_size, limit)
        # os-level calls: this runs for every file of a cold `check`; io objects cost more.
        chunk = os.read(fd, stat.st_size + 1)
        chunks = [chunk]
        total = len(chunk)
        # A regular file's read comes back short only at its end: one more byte than fstat
        # said means the file grew since, so read on until the end (or past the limit).
        if total > stat.st_size:
            while chunk and total <= limit:
                chunk = os.read(fd, 1 << 16)
                chunks.append(chunk)
                total += len(chunk)
        if total > limit:
            raise TooLarge(total, limit)
        return b"".join(chunks), stat
    finally:
        os.close(fd)
