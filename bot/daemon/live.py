"""A workspace that follows the operator's edits while the daemon runs, without a restart.

Before each publish the posts index is refreshed (only changed files are parsed again) and
the templates are validated afresh. A post file for the day that became invalid is reported
with its `path:line` and its last good version is used instead; a template set that became
invalid is reported and the last good compiled templates keep being used. A removed file is
simply gone. "Last good" means the last valid version this process read: the daemon reads
the day's files when it starts, at midnight, shortly before each slot and at each publish.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from bot.config import Settings
from bot.content.post import Event, Problem
from bot.content.selection import History, choose, day_keys
from bot.workspace import Workspace

if TYPE_CHECKING:
    from bot.render.renderer import Renderer

log = logging.getLogger("thisday.daemon")


class LiveWorkspace(Workspace):
    def __init__(self, config_file: str | Path | None = None, posts: str | Path | None = None):
        super().__init__(config_file, posts)
        self._posts_given = posts is not None
        # Every method may run on a scheduler thread, the health server's or the main one.
        self._lock = threading.RLock()
        self._good: dict[str, Event] = {}  # post file (relative path) -> last valid version
        self._reported: dict[str, tuple[int, int]] = {}  # file -> signature already reported
        self._scan_reported: set[Problem] = set()  # what the listing could not read, logged
        self.template_problems: list[Problem] = []
        self._templates_seen: tuple[object, ...] | None = None

    # -- config ----------------------------------------------------------------------------

    def adopt(self, settings: Settings) -> None:
        """Use a reloaded config from now on (SIGHUP)."""
        with self._lock:
            old_posts, old_state = self.posts_dir, self.settings.state_dir
            self.settings = settings
            if not self._posts_given:
                self.posts_dir = settings.posts_dir
            if self.posts_dir != old_posts or settings.state_dir != old_state:
                self.__dict__.pop("corpus", None)
                self._good.clear()
                self._reported.clear()
            self.__dict__.pop("renderer", None)
            self.template_problems = []
            self._templates_seen = None

    # -- post files ------------------------------------------------------------------------

    def candidates(self, day: dt.date) -> list[Event]:
        """The day's valid events, read fresh; a file that turned invalid keeps its last
        good version (reported once per version of the file)."""
        with self._lock:
            corpus = self.refreshed_corpus()
            self._report_scan(corpus.scan_problems())
            keys = set(day_keys(day, self.settings.leap_day))
            fresh = corpus.read_for(keys)
            for rel, event in fresh.items():
                self._good[rel] = event
                self._reported.pop(rel, None)
            events = list(fresh.values())
            ids = {event.id for event in events}
            for rel, good in list(self._good.items()):
                if rel in fresh or good.key not in keys:
                    continue
                entry = corpus.entries.get(rel)
                if entry is None:
                    del self._good[rel]  # removed: the operator no longer wants it
                    self._reported.pop(rel, None)
                    continue
                if entry.key and entry.key not in keys:
                    continue  # still valid, but now for another day
                if good.id in ids:
                    continue
                self._report_invalid(rel, (entry.mtime_ns, entry.size))
                events.append(good)
                ids.add(good.id)
            return events

    def select(self, day: dt.date, history: History | None = None) -> list[Event]:
        """Chosen from every file of the day, read fresh, with the last good version of a
        file that turned invalid (see `candidates`): the index alone cannot know those."""
        if history is None:
            history = self.ledger()
        return choose(self.candidates(day), day, self.settings.events_per_day, history)

    def prime(self, *days: dt.date) -> int:
        """Read these days' files now so their last good versions are known; prune the
        versions kept for other days. Returns the number of events for the first day."""
        with self._lock:
            counts = [len(self.candidates(day)) for day in days]
            wanted = {key for day in days for key in day_keys(day, self.settings.leap_day)}
            for rel, event in list(self._good.items()):
                if event.key not in wanted:
                    del self._good[rel]
            return counts[0] if counts else 0

    def _report_scan(self, problems: list[Problem]) -> None:
        """A link loop, an unreadable folder, a FIFO: logged once each while it lasts; every
        other post is still read and published."""
        current = set(problems)
        for problem in problems:
            if problem not in self._scan_reported:
                log.error("%s; the other posts are still published", problem)
        self._scan_reported = current

    def _report_invalid(self, rel: str, signature: tuple[int, int]) -> None:
        if self._reported.get(rel) == signature:
            return
        self._reported[rel] = signature
        problems = [p for p in self.corpus.problems(rel, with_fit=False) if p.severity == "error"]
        where = str(problems[0]) if problems else f"{self.corpus.shown(rel)}:1: error: invalid"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        log.error("%s%s; publishing its last good version", where, more)

    # -- templates -------------------------------------------------------------------------

    def refresh_templates(self) -> list[Problem]:
        """Validate the templates as they are now on disk. Sound ones are compiled and used;
        broken ones are reported and the last good compiled set stays in use."""
        from bot.render.renderer import TEMPLATES, Renderer

        with self._lock:
            fresh = Renderer(self.settings)
            current = self.__dict__.get("renderer")
            signature = _signature(fresh)
            if current is not None and signature == self._templates_seen:
                return self.template_problems  # nothing changed on disk: nothing to compile
            self._templates_seen = signature
            problems = [p for p in fresh.check_templates() if p.severity == "error"]
            if problems:
                if problems != self.template_problems:
                    fallback = (
                        "the last good templates stay in use"
                        if current is not None
                        else "no good version is known: events cannot be rendered"
                    )
                    for problem in problems:
                        log.error("%s; %s", problem, fallback)
                self.template_problems = problems
                if current is not None:
                    return problems
            else:
                if self.template_problems:
                    log.info("templates are valid again; using them")
                self.template_problems = []
                # Compile now: with auto_reload off, a later bad edit cannot reach them.
                for account in fresh.accounts:
                    env = fresh.env(account)
                    for name in TEMPLATES:
                        # Broken ones were reported by check_templates already.
                        with contextlib.suppress(jinja2.TemplateError):
                            env.get_template(name)
            self.__dict__["renderer"] = fresh
            return problems


def _signature(renderer: Renderer) -> tuple[object, ...]:
    """Every template file an account may use (present or not) and the stored server limits,
    by stat: a change to any of them means compiling again."""
    from bot.render.renderer import TEMPLATES

    paths = {
        folder / name
        for account in renderer.accounts
        for folder in renderer.folders(account)
        for name in TEMPLATES
    }
    paths.add(renderer.settings.state_folder.instances)
    seen: list[object] = [id(renderer.settings)]
    for path in sorted(paths):
        try:
            stat = path.stat()
            seen.append((str(path), stat.st_mtime_ns, stat.st_size))
        except OSError:
            seen.append((str(path), None))
    return tuple(seen)
