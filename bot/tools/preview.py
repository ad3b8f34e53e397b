"""What would be posted on a day: the chosen events rendered for every account."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.content.post import Event, Problem
from bot.content.selection import next_posting_day
from bot.render.renderer import RenderError, Thread
from bot.workspace import Workspace


@dataclass(slots=True)
class Preview:
    day: dt.date
    events: list[Event]
    threads: list[Thread] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    next_day: dt.date | None = None  # when this day has no event: the next one that has

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "events": [
                {"id": e.id, "path": e.path, "title": e.title, "year": e.year} for e in self.events
            ],
            "posts": [thread_json(t) for t in self.threads],
            "problems": [str(p) for p in self.problems],
        }


def thread_json(thread: Thread) -> dict[str, Any]:
    return {
        "account": thread.account,
        "platform": thread.platform,
        "event": thread.event.id,
        "lang": thread.lang,
        "cw": thread.cw,
        "image": {"path": thread.image, "alt": thread.alt} if thread.image else None,
        "images": [{"path": p.path, "alt": p.alt} for p in thread.images],
        "card": (
            {
                "uri": thread.card.uri,
                "title": thread.card.title,
                "description": thread.card.description,
                "thumb": thread.images[0].path if thread.images else None,
            }
            if thread.card
            else None
        ),
        "parts": [
            {"text": p.text, "length": p.length, "limit": p.limit, "facets": list(p.facets)}
            for p in thread.parts
        ],
    }


def preview(workspace: Workspace, day: dt.date | None = None) -> Preview:
    day = day or workspace.settings.today()
    renderer = workspace.renderer
    renderer.warm_up()  # while the posts folder is still being listed (see bot.scanning)
    events = workspace.select(day)
    result = Preview(day, events)
    if not events:
        result.next_day = next_day_with_events(workspace, day)
    for event in events:
        for account in renderer.accounts:
            try:
                result.threads.append(renderer.render(event, account, day))
            except RenderError as exc:
                result.problems.append(exc.problem)
    return result


def next_day_with_events(workspace: Workspace, day: dt.date) -> dt.date | None:
    """The first day after `day` that has an event, from the index (nothing is parsed)."""
    leap = workspace.settings.leap_day
    after = day + dt.timedelta(days=1)
    days = [next_posting_day(key, after, leap) for key in workspace.corpus.valid_keys()]
    return min((d for d in days if d is not None), default=None)
