"""What would be posted on a day: the chosen events rendered for every account."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.content import Event, Problem
from bot.render import RenderError, Thread
from bot.workspace import Workspace


@dataclass(slots=True)
class Preview:
    day: dt.date
    events: list[Event]
    threads: list[Thread] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

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
        "card": (
            {
                "uri": thread.card.uri,
                "title": thread.card.title,
                "description": thread.card.description,
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
    for event in events:
        for account in renderer.accounts:
            try:
                result.threads.append(renderer.render(event, account, day))
            except RenderError as exc:
                result.problems.append(exc.problem)
    return result
