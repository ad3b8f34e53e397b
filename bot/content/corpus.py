"""The posts folder as an index: which file holds which day, kept fresh by file signatures.

Parsing 50,000 files takes seconds; stat-ing them takes a tenth of that. The index caches
per file its signature (mtime, size), its day, its id and its problems, so a date's events
are found by parsing only that date's files and whatever changed since the last run.
"""

from __future__ import annotations

import array
import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot import __version__
from bot.content import scanning
from bot.content.post import Event, Parsed, Problem, parse
from bot.state import atomic_write

CACHE_FORMAT = 6
# An index written by another version of thisday may hold verdicts of other rules: not used.
INDEX_FORM = f"{CACHE_FORMAT}/{__version__}"
POST_SUFFIX = scanning.POST_SUFFIX
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


@functools.cache
def display_root(root: str) -> str:
    """How the posts folder is named in messages: relative to cwd when inside it."""
    try:
        rel = os.path.relpath(root)
    except ValueError:
        return root
    return root if rel.startswith("..") else rel


def read_post(root: str, rel: str) -> tuple[Parsed, int, int]:
    """Parse one post file. Only a regular file inside the posts folder is read, without
    ever blocking (see scanning.open_regular), and at most MAX_POST_BYTES of it."""
    path = os.path.join(root, rel)
    shown = os.path.join(display_root(root), rel)
    try:
        raw, stat = scanning.read_regular(path, scanning.MAX_POST_BYTES, root)
    except scanning.TooLarge as exc:
        kib = scanning.MAX_POST_BYTES // 1024
        problem = Problem(
            shown,
            1,
            "error",
            f"the file is {exc.size // 1024:,} KB; a post file may be at most {kib} KB "
            "(a story that long would be hundreds of replies): shorten it",
        )
        return Parsed(None, [problem]), 0, -1
    parsed = parse(
        raw,
        path=shown,
        default_id=rel[: -len(POST_SUFFIX)],
        folder=os.path.dirname(path),
        root=root,
    )
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


@dataclass(slots=True)
class _Columns:
    """The cached index as loaded: parallel columns, cheap to read and to compare."""

    rels: list[str]
    mtimes: array.array[int]
    sizes: array.array[int]
    keys: array.array[int]
    ids: list[str]
    problems: dict[str, tuple[StoredProblem, ...]]  # only files that have some
    fits: dict[str, tuple[StoredProblem, ...]]  # only files whose fit found problems
    unfit: set[str]  # files whose fit was never proven
    losers: set[str]  # files that lose a duplicate id
    scan_problems: list[tuple[str, str]]  # what the listing could not list or follow

    def signatures(self) -> dict[str, tuple[int, int]]:
        return dict(zip(self.rels, zip(self.mtimes, self.sizes, strict=True), strict=True))

    def same_as(self, listing: scanning.Listing) -> bool:
        """The folder is exactly as indexed (same files, same order, same signatures)."""
        return (
            listing.rels == self.rels
            and listing.mtimes == self.mtimes.tobytes()
            and listing.sizes == self.sizes.tobytes()
            and listing.problems == self.scan_problems
        )

    def entry(self, n: int) -> Entry:
        rel = self.rels[n]
        fit = None if rel in self.unfit else self.fits.get(rel, ())
        return Entry(
            self.mtimes[n],
            self.sizes[n],
            self.keys[n],
            self.ids[n],
            self.problems.get(rel, ()),
            fit,
        )


class Corpus:
    """The posts folder, indexed. Cheap to refresh when little has changed: the index is
    read as columns, and per-file entries are only built when something needs them."""

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        self.root = root.absolute()
        self.shown_root = display_root(str(self.root))
        self.cache_file = scanning.index_file(cache_dir, self.root) if cache_dir else None
        self.fingerprint = ""
        self._columns: _Columns | None = None
        self._entries: dict[str, Entry] | None = None
        self._losers: set[str] | None = None
        self._order: list[str] = []  # the last listing's order, kept in the saved index
        self._scan_problems: list[tuple[str, str]] = []  # the last listing's
        self._loaded = False
        self._loaded_stat: scanning.Unchanged | None = None  # of the index file as read
        self._dirty = False

    @property
    def entries(self) -> dict[str, Entry]:
        """Relative path -> index entry, for every post file seen by the last refresh."""
        if self._entries is None:
            self._load()
            cols = self._columns
            self._entries = (
                {} if cols is None else {rel: cols.entry(n) for n, rel in enumerate(cols.rels)}
            )
        return self._entries

    # -- the index ------------------------------------------------------------------------

    def scan(self) -> scanning.Listing:
        """Every post file under the root, with its signature (mtime, size)."""
        if not self.root.is_dir():
            return scanning.Listing([], b"", b"", [])
        prefetched = scanning.take(self.root)
        if isinstance(prefetched, scanning.Unchanged):
            self._load()
            cols = self._columns
            if cols is not None and prefetched == self._loaded_stat:
                return scanning.Listing(
                    cols.rels, cols.mtimes.tobytes(), cols.sizes.tobytes(), cols.scan_problems
                )
            prefetched = None  # the index changed since the child read it
        return prefetched if prefetched is not None else scanning.scan_tree(str(self.root))

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
        listing = self.scan()
        self._order = listing.rels
        self._scan_problems = listing.problems
        refit = bool(fingerprint) and fingerprint != self.fingerprint
        # The common case of preview and publish: nothing changed, nothing to build.
        unchanged = self._columns is not None and self._columns.same_as(listing)
        if self._entries is None and unchanged and not fingerprint:
            return []
        files = listing.signatures()
        entries = self.entries
        for gone in entries.keys() - files.keys():
            del entries[gone]
            self._dirty = True
        stale = sorted(
            rel
            for rel, sig in files.items()
            if (entry := entries.get(rel)) is None
            or (entry.mtime_ns, entry.size) != sig
            or (fingerprint and (refit or entry.fit is None))
        )
        if fingerprint:
            self.fingerprint = fingerprint
        for rel, entry in self._examine_all(examine, stale, progress):
            entries[rel] = entry
            self._dirty = True
        if refit or (self._columns is not None and not unchanged):
            # Also rewrite an index whose order no longer matches the listing, so the next
            # run can take the fast path again.
            self._dirty = True
        if self._dirty:
            self._losers = None
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

    def scan_problems(self) -> list[Problem]:
        """What the last refresh could not list, follow or read as a file: `path: error:`."""
        return [
            Problem(self.shown(rel) if rel else self.shown_root, 1, "error", message)
            for rel, message in self._scan_problems
        ]

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
        self._losers = losers
        return losers, problems

    def losers(self) -> set[str]:
        if self._losers is None:
            if self._entries is None and self._columns is not None:
                self._losers = self._columns.losers
            else:
                self.duplicate_ids()
        assert self._losers is not None
        return self._losers

    def files_for(self, keys: Iterable[int]) -> list[str]:
        return sorted(self.ids_for(keys))

    def ids_for(self, keys: Iterable[int]) -> dict[str, str]:
        """Path -> event id of the valid events posted under these month-day keys, as the
        index has them (nothing is read)."""
        wanted = set(keys)
        losers = self.losers()
        found: Iterable[tuple[str, int, str]]
        if self._entries is None and self._columns is not None:
            cols = self._columns
            found = zip(cols.rels, cols.keys, cols.ids, strict=True)
        else:
            found = ((rel, e.key, e.id) for rel, e in self.entries.items())
        return {rel: i for rel, key, i in found if key in wanted and rel not in losers}

    def read_for(self, keys: Iterable[int], only: Iterable[str] | None = None) -> dict[str, Event]:
        """Valid events posted under these month-day keys, read fresh: path -> event.
        `only`: of these files (paths the index gives for those keys) alone."""
        wanted = set(keys)
        events = {}
        for rel in self.files_for(wanted) if only is None else only:
            try:
                parsed, _, _ = read_post(str(self.root), rel)
            except OSError:
                continue
            # The file may have changed since the index saw it; trust what it says now.
            if parsed.event is not None and parsed.event.key in wanted:
                events[rel] = parsed.event
        return events

    def events_for(self, keys: Iterable[int]) -> list[Event]:
        return list(self.read_for(keys).values())

    def valid_keys(self) -> dict[int, int]:
        """Month-day key -> number of valid events."""
        losers = self.losers()
        counts: dict[int, int] = {}
        for rel, entry in self.entries.items():
            if entry.key and rel not in losers:
                counts[entry.key] = counts.get(entry.key, 0) + 1
        return counts

    # -- the cache file -------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded or self.cache_file is None:
            return
        self._loaded = True
        try:
            with open(self.cache_file, "rb") as handle:
                stat = os.fstat(handle.fileno())
                sections = scanning.index_sections(handle.read())
            if sections is None:
                return
            (form, root, rels, mtimes, sizes, scan_problems), rest = sections
            fingerprint, keys, ids, problems, fits, unfit, losers = rest
            if form != INDEX_FORM or root != str(self.root):
                return
            columns = _Columns(
                rels,
                _array("q", mtimes),
                _array("q", sizes),
                _array("H", keys),
                ids,
                problems,
                fits,
                set(unfit),
                set(losers),
                scan_problems,
            )
        except (OSError, EOFError, ValueError, TypeError):
            return
        if (
            not len(rels)
            == len(columns.mtimes)
            == len(columns.sizes)
            == len(columns.keys)
            == len(ids)
        ):
            return
        self.fingerprint = fingerprint
        self._columns = columns
        self._loaded_stat = scanning.Unchanged(stat.st_mtime_ns, stat.st_size)

    def save(self) -> None:
        """Write the index if it changed; a read-only state folder only costs speed."""
        if not self._dirty or self.cache_file is None or self._entries is None:
            return
        entries = self._entries
        # In listing order, so that the next run can compare its listing in one go.
        rels = [rel for rel in self._order if rel in entries]
        if len(rels) != len(entries):
            rels += sorted(entries.keys() - set(rels))
        listing = (
            INDEX_FORM,
            str(self.root),
            rels,
            array.array("q", (entries[r].mtime_ns for r in rels)).tobytes(),
            array.array("q", (entries[r].size for r in rels)).tobytes(),
            self._scan_problems,
        )
        rest = (
            self.fingerprint,
            array.array("H", (entries[r].key for r in rels)).tobytes(),
            [entries[r].id for r in rels],
            {r: e.problems for r, e in entries.items() if e.problems},
            {r: e.fit for r, e in entries.items() if e.fit},
            [r for r, e in entries.items() if e.fit is None],
            sorted(self.losers()),
        )
        try:
            atomic_write(self.cache_file, scanning.index_bytes(listing, rest))
            self._dirty = False
        except OSError:
            pass


def _array(kind: str, raw: bytes) -> array.array[int]:
    values = array.array(kind)
    values.frombytes(raw)
    return values
