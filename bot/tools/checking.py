"""`thisday check`: every post file valid, every template sound, every event proven to fit.

Fit is proven by rendering each event for each account. That is the expensive part, so it
runs in worker processes on a cold index and is cached per file under a fingerprint of the
templates and settings: an unchanged corpus is checked again without rendering anything.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.content.corpus import Entry, examine_file, read_post, store
from bot.content.post import Event, Problem
from bot.content.selection import next_posting_day
from bot.render.renderer import DEFAULTS, Renderer, RenderError
from bot.render.sandbox import STOPPED
from bot.workspace import Workspace

DAYS_IN_YEAR = 366

# Set before the worker pool forks, so workers inherit compiled templates.
_renderer: Renderer | None = None
_today: dt.date = dt.date.today()


@dataclass(slots=True)
class Report:
    files: int = 0
    events: int = 0
    days: int = 0
    problems: list[Problem] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)  # which files each account renders with

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(p.severity == "warning" for p in self.problems)

    def summary(self) -> str:
        """The template lines, then the counts: always the last line."""

        def plural(n: int, word: str) -> str:
            return f"{n} {word}{'' if n == 1 else 's'}"

        counts = (
            f"{plural(self.files, 'file')}, {plural(self.events, 'event')}, "
            f"{plural(self.errors, 'error')}, {plural(self.warnings, 'warning')}; "
            f"{self.days}/{DAYS_IN_YEAR} days of the year covered"
        )
        return "\n".join([*self.templates, counts])


def template_lines(renderer: Renderer) -> list[str]:
    """`templates: mastodon → config/templates/post.j2, thread.j2 (package default)`."""
    lines = []
    for account in renderer.accounts:
        shown = []
        for name, path in renderer.sources(account).items():
            if path is None:
                shown.append(f"{name} (not found)")
            elif path.parent == DEFAULTS:
                shown.append(f"{name} (package default)")
            else:
                shown.append(_shown(path))
        lines.append(f"templates: {account} → {', '.join(shown)}")
    return lines


def _shown(path: Path) -> str:
    """Relative to the current folder when inside it, as the problem lines show post files."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)


def fit_problems(renderer: Renderer, event: Event, today: dt.date) -> list[Problem]:
    """Render the event for every account on its next posting day; say what does not fit."""
    problems: list[Problem] = []
    day = next_posting_day(event.key, today, renderer.settings.leap_day) or today
    for account in renderer.accounts:
        try:
            notes = renderer.prove_fit(event, account, day)
        except RenderError as exc:
            problem = exc.problem
            if problem.path != event.path:  # a template failed on this event: say so here
                problem = Problem(
                    event.path,
                    event.line,
                    "error",
                    f"{problem.path}:{problem.line}: {problem.message}",
                )
            problems.append(problem)
            continue
        problems.extend(Problem(event.path, event.line, "warning", note) for note in notes)
    return list(dict.fromkeys(problems))  # a template failing alike on every account: once


# An event every template can render: a bound hit here (time, size, recursion) is the
# template's, whatever the post, so it is said once and no post is rendered.
_PROBE = Event(
    id="probe",
    path="<probe>",
    month=1,
    day=16,
    year=1928,
    title="Trotsky exiled",
    summary="Leon Trotsky is sent to Alma-Ata.",
    story="He leaves Moscow by train.\n\nHe will never return.",
    tags=("History",),
    link="https://example.org/trotsky",
)


def bound_problems(renderer: Renderer, today: dt.date) -> list[Problem]:
    """Templates that go past a bound on an ordinary event, each once at its own line."""
    problems: list[Problem] = []
    probed: set[tuple[Path | None, ...]] = set()
    for account in renderer.accounts:
        sources = tuple(renderer.sources(account).values())
        if sources in probed:  # the same files went past no bound (or were reported)
            continue
        probed.add(sources)
        try:
            renderer.render(_PROBE, account, today)
        except RenderError as exc:
            if STOPPED in exc.problem.message:
                message = exc.problem.message
                problems.append(
                    Problem(
                        exc.problem.path,
                        exc.problem.line,
                        "error",
                        message[message.index(STOPPED) :],
                    )
                )
    return list(dict.fromkeys(problems))


def examine_with_fit(root: str, rel: str) -> Entry:
    if _renderer is None:
        return examine_file(root, rel)
    try:
        parsed, mtime, size = read_post(root, rel)
    except OSError as exc:
        return Entry(0, -1, 0, "", ((1, "error", f"cannot read: {exc.strerror}"),), ())
    event = parsed.event
    fit = fit_problems(_renderer, event, _today) if event else []
    return Entry(
        mtime,
        size,
        event.key if event else 0,
        event.id if event else "",
        store(parsed.problems),
        store(fit),
    )


def check(workspace: Workspace, progress: Callable[[int, int], None] | None = None) -> Report:
    global _renderer, _today
    renderer = workspace.renderer
    report = Report(templates=template_lines(renderer))
    template_problems = renderer.check_templates()
    report.problems.extend(template_problems)
    corpus = workspace.corpus
    fingerprint = ""
    if not any(p.severity == "error" for p in template_problems) and renderer.accounts:
        template_problems = bound_problems(renderer, workspace.settings.today())
        report.problems.extend(template_problems)
    if not any(p.severity == "error" for p in template_problems) and renderer.accounts:
        _renderer, _today = renderer, workspace.settings.today()
        fingerprint = renderer.fingerprint()
    try:
        corpus.refresh(examine_with_fit, fingerprint=fingerprint, progress=progress)
    finally:
        _renderer = None
    corpus.save()
    _, duplicates = corpus.duplicate_ids()
    for rel in sorted(corpus.entries):
        report.problems.extend(corpus.problems(rel, with_fit=bool(fingerprint)))
    report.problems.extend(duplicates)
    report.problems.extend(corpus.scan_problems())
    report.files = len(corpus.entries)
    counts = corpus.valid_keys()
    report.events = sum(counts.values())
    report.days = len(counts)
    if not corpus.root.is_dir():
        report.problems.insert(0, Problem(str(corpus.root), 1, "error", "posts folder not found"))
    return report
