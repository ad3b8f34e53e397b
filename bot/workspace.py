"""What every command starts from: the settings, the indexed posts, the renderer, the ledger."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot import config
from bot.content.corpus import Corpus
from bot.content.post import Event
from bot.content.selection import History, choose, day_keys

if TYPE_CHECKING:
    from bot.ledger.store import Ledger
    from bot.render.renderer import Renderer


class Workspace:
    def __init__(self, config_file: str | Path | None = None, posts: str | Path | None = None):
        self.settings = config.load(config_file)
        self.posts_dir = Path(posts).absolute() if posts else self.settings.posts_dir

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    @cached_property
    def corpus(self) -> Corpus:
        return Corpus(self.posts_dir, self.settings.state_folder.cache)

    @cached_property
    def renderer(self) -> Renderer:
        from bot.render.renderer import Renderer

        return Renderer(self.settings)

    def ledger(self, *, create: bool = False) -> Ledger | None:
        """The ledger, or None when nothing was ever published and `create` is false."""
        from bot.ledger.store import Ledger

        path = self.settings.state_folder.ledger
        if not create and not path.exists():
            return None
        return Ledger(path)

    def candidates(self, day: dt.date) -> list[Event]:
        """Every valid event posted on `day`, the index refreshed first."""
        self.corpus.refresh()
        self.corpus.save()
        return self.corpus.events_for(day_keys(day, self.settings.leap_day))

    def select(self, day: dt.date, history: History | None = None) -> list[Event]:
        if history is None:
            history = self.ledger()
        return choose(self.candidates(day), day, self.settings.events_per_day, history)
