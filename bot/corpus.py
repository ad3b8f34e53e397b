"""The posts folder as an index: which file holds which day, kept fresh by file signatures.

Parsing 50,000 files takes seconds; stat-ing them takes a tenth of that. The index caches
per file its signature (mtime, size), its day, its id and its problems, so a date's events
are found by parsing only that date's files and whatever changed since the last run.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.content import Event, Parsed, Problem, parse

CACHE_FORMAT = 3
POST_SUFFIX = ".md"
# Below this many files to (re)parse, a process pool costs more than it saves.
POOL_THRESHOLD = 2000

# (line, severity, message) — problems stored without the display path, which depends on cwd.
StoredProblem = tuple[int, str, str]


@dataclass(slots=True)
class Entry:
    mtime_ns: int
    size: int
    key: int  # Event.key of a valid event, 0 when the file has errors
    id: str  # '' when the file has errors
    problems: tuple[StoredProblem, ...]
    fit: tuple[StoredProblem, ...] | None = None  # from rendering; None until checked


# A function run on each stale file, possibly in a worker process: (root, rel) -> Entry.
Examiner = Callable[[str, str], Entry]


def display_root(root: Path) -> str:
    """How the posts folder is named in messages: relative to cwd when inside it."""
    try:
        rel = os.path.relpath(root)
    except ValueError:
        return str(root)
    return str(root) if rel.startswith("..") else rel


def read_post(root: str, rel: str) -> tuple[Parsed, int, int]:
    path = os.path.join(root, rel)
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        raw = handle.read()
    shown = os.path.join(display_root(Path(root)), rel)
    parsed = parse(raw, path=shown, default_id=rel[: -len(POST_SUFFIX)], folder=Path(path).parent)
    return parsed, stat.st_mtime_ns, stat.st_size


def store(problems: Iterable[Problem]) -> tuple[StoredProblem, ...]:
    return tuple((p.line, p.severity, p.message) for p in problems)


def examine_file(root: str, rel: str) -> Entry:
    """Parse one file into an index entry (no rendering)."""
    try:
        parsed, mtime, size = read_post(root, rel)
    except OSError as exc:
        return Entry(0, -1, 0, "", ((1, "error", f"cannot read: {exc.strerror}"),))
    event = parsed.event
    return Entry(
        mtime, size, event.key if event else 0, event.id if event else "", store(parsed.problems)
    )


class Corpus:
    """The posts folder, indexed. Cheap to refresh when little has changed."""

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        self.root = root.absolute()
        self.shown_root = display_root(self.root)
        self.cache_file = (
            cache_dir / f"posts-{hashlib.sha1(str(self.root).encode()).hexdigest()[:12]}.idx"
            if cache_dir
            else None
        )
        self.entries: dict[str, Entry] = {}
        self.fingerprint = ""
        self._dirty = False

    # -- the index ------------------------------------------------------------------------

    def scan(self) -> dict[str, tuple[int, int]]:
        """Every post file under the root: relative path -> (mtime_ns, size)."""
        found: dict[str, tuple[int, int]] = {}
        if not self.root.is_dir():
            return found
        prefix = len(str(self.root)) + 1
        stack = [str(self.root)]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    for item in listing:
                        name = item.name
                        if name.startswith("."):
                            continue
                        if item.is_dir():
                            stack.append(item.path)
                        elif name.endswith(POST_SUFFIX):
                            with contextlib.suppress(OSError):
                                st = item.stat()
                                found[item.path[prefix:]] = (st.st_mtime_ns, st.st_size)
            except OSError:
                continue
        return found

    def refresh(
        self,
        examine: Examiner = examine_file,
        fingerprint: str = "",
        progress: Callable[[int, int], None] | None = None,
    ) -> list[str]:
        """Bring the index up to date; returns the paths that were (re)examined.

        With a fingerprint (of templates and settings), entries examined under another one
        are stale too: their fit must be proven again.
        """
        self._load()
        files = self.scan()
        for gone in self.entries.keys() - files.keys():
            del self.entries[gone]
            self._dirty = True
        refit = bool(fingerprint) and fingerprint != self.fingerprint
        stale = sorted(
            rel
            for rel, sig in files.items()
            if (entry := self.entries.get(rel)) is None
            or (entry.mtime_ns, entry.size) != sig
            or (fingerprint and (refit or entry.fit is None))
        )
        if fingerprint:
            self.fingerprint = fingerprint
        for rel, entry in self._examine_all(examine, stale, progress):
            self.entries[rel] = entry
            self._dirty = True
        if refit:
            self._dirty = True
        return stale

    def _examine_all(
        self, examine: Examiner, stale: list[str], progress: Callable[[int, int], None] | None
    ) -> Iterator[tuple[str, Entry]]:
        root = str(self.root)
        total = len(stale)
        workers = os.cpu_count() or 1
        if total >= POOL_THRESHOLD and workers > 1 and sys.platform == "linux":
            import multiprocessing

            # fork: workers inherit the compiled templates and settings of this process.
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                chunk = max(50, min(1000, total // (workers * 8)))
                args = [(root, rel) for rel in stale]
                for done, (rel, entry) in enumerate(
                    zip(stale, pool.starmap(examine, args, chunksize=chunk), strict=True), 1
                ):
                    if progress and done % 1000 == 0:
                        progress(done, total)
                    yield rel, entry
        else:
            for done, rel in enumerate(stale, 1):
                if progress and done % 1000 == 0:
                    progress(done, total)
                yield rel, examine(root, rel)
        if progress:
            progress(total, total)

    # -- questions ----------------------------------------------------------------------

    def shown(self, rel: str) -> str:
        return os.path.join(self.shown_root, rel)

    def problems(self, rel: str, *, with_fit: bool = True) -> list[Problem]:
        entry = self.entries[rel]
        stored = entry.problems + ((entry.fit or ()) if with_fit else ())
        return [Problem(self.shown(rel), line, sev, msg) for line, sev, msg in stored]  # type: ignore[arg-type]

    def duplicate_ids(self) -> tuple[set[str], list[Problem]]:
        """Files that lose a duplicate id (the first path in sorted order keeps it)."""
        first: dict[str, str] = {}
        losers: set[str] = set()
        problems = []
        for rel in sorted(self.entries):
            event_id = self.entries[rel].id
            if not event_id:
                continue
            if event_id in first:
                losers.add(rel)
                problems.append(
                    Problem(
                        self.shown(rel),
                        1,
                        "error",
                        f"duplicate id {event_id!r}: {self.shown(first[event_id])} has it already",
                    )
                )
            else:
                first[event_id] = rel
        return losers, problems

    def files_for(self, keys: Iterable[int]) -> list[str]:
        wanted = set(keys)
        losers, _ = self.duplicate_ids()
        return sorted(
            rel for rel, e in self.entries.items() if e.key in wanted and rel not in losers
        )

    def events_for(self, keys: Iterable[int]) -> list[Event]:
        """Valid events posted under these month-day keys, read fresh from their files."""
        wanted = set(keys)
        events = []
        for rel in self.files_for(wanted):
            try:
                parsed, _, _ = read_post(str(self.root), rel)
            except OSError:
                continue
            # The file may have changed since the index saw it; trust what it says now.
            if parsed.event is not None and parsed.event.key in wanted:
                events.append(parsed.event)
        return events

    def valid_keys(self) -> dict[int, int]:
        """Month-day key -> number of valid events."""
        losers, _ = self.duplicate_ids()
        counts: dict[int, int] = {}
        for rel, entry in self.entries.items():
            if entry.key and rel not in losers:
                counts[entry.key] = counts.get(entry.key, 0) + 1
        return counts

    # -- the cache file -------------------------------------------------------------------

    def _load(self) -> None:
        if self.entries or self.cache_file is None:
            return
        try:
            with open(self.cache_file, "rb") as handle:
                form, root, fingerprint, rows = marshal.load(handle)
        except (OSError, EOFError, ValueError, TypeError):
            return
        if form != CACHE_FORMAT or root != str(self.root):
            return
        self.fingerprint = fingerprint
        self.entries = {row[0]: Entry(*row[1:]) for row in rows}

    def save(self) -> None:
        """Write the index if it changed; a read-only state folder only costs speed."""
        if not self._dirty or self.cache_file is None:
            return
        rows = [
            (rel, e.mtime_ns, e.size, e.key, e.id, e.problems, e.fit)
            for rel, e in self.entries.items()
        ]
        data = (CACHE_FORMAT, str(self.root), self.fingerprint, rows)
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(f".tmp{os.getpid()}")
            with open(tmp, "wb") as handle:
                marshal.dump(data, handle)
            os.replace(tmp, self.cache_file)
            self._dirty = False
        except OSError:
            pass
