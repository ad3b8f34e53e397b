"""What every command starts from: the settings, the indexed posts, the renderer, the ledger."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot import config
from bot.content.corpus import Corpus
from bot.content.post import Event
from bot.content.selection import History, choose, choose_ids, day_keys

if TYPE_CHECKING:
    from bot.ledger.base import LedgerStore
    from bot.ledger.postgres import PostgresLedger
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

    def ledger(self, *, create: bool = False) -> LedgerStore | None:
        """The ledger, or None when nothing was ever published and `create` is false.
        With `ledger = "postgresql://..."` in the config, the shared PostgreSQL ledger (one
        object per workspace: it keeps a connection per thread and this replica's name)."""
        if self.settings.ledger:
            return self.shared_ledger()
        path = self.settings.state_folder.ledger
        if not create and not path.exists():
            return None  # before the import: `preview` of a new setup never loads the ledger
        from bot.ledger.store import Ledger

        return Ledger(path)

    def shared_ledger(self) -> PostgresLedger:
        from bot.ledger.postgres import PostgresLedger

        settings = self.settings
        assert settings.ledger
        ledger: PostgresLedger | None = self.__dict__.get("_shared_ledger")
        if ledger is None or ledger.url != settings.ledger:
            password = config.read_secret(
                settings.ledger_password_env, settings.ledger_password_file, settings.base
            )
            ledger = PostgresLedger(settings.ledger, password=password, lease=settings.ledger_lease)
            self.__dict__["_shared_ledger"] = ledger
        return ledger

    def candidates(self, day: dt.date) -> list[Event]:
        """Every valid event posted on `day`, the index refreshed first."""
        return self.refreshed_corpus().events_for(day_keys(day, self.settings.leap_day))

    def refreshed_corpus(self) -> Corpus:
        """The posts index, brought up to date with the folder (and saved)."""
        corpus = self.corpus
        corpus.refresh()
        corpus.save()
        return corpus

    def select(self, day: dt.date, history: History | None = None) -> list[Event]:
        """The events to post on `day`. Chosen by id from the index, so that only the chosen
        files are read (a day of a large corpus has a hundred events or more); when one of
        them changed since the index saw it, every file of the day is read and chosen from."""
        if history is None:
            history = self.ledger()
        count = self.settings.events_per_day
        corpus = self.refreshed_corpus()
        keys = day_keys(day, self.settings.leap_day)
        ids = corpus.ids_for(keys)
        chosen = choose_ids(set(ids.values()), day, count, history)
        files = {i: rel for rel, i in ids.items() if i in chosen}
        fresh = corpus.read_for(keys, only=files.values())
        events = [e for i in chosen if (e := fresh.get(files[i])) is not None and e.id == i]
        if len(events) == len(chosen):
            return events
        return choose(corpus.events_for(keys), day, count, history)
