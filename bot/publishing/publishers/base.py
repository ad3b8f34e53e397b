"""The publisher protocol: the one seam between the pipeline and a social network.

Like httpx's `_transports/base.py`, this module is deliberately small. It names what a
publisher must do and what it may raise; everything about a network (its SDK, its wire
format, its exceptions) stays inside that network's adapter:

    mastodon.MastodonPublisher   one status per part, Idempotency-Key from the ledger
    bluesky.BlueskyPublisher     the whole thread in one atomic applyWrites

The pipeline sees plain types only: ledger `Row`s in, `Remote`s out, `Limits` and `Verified`
for questions, and two kinds of error (`RetryableError`, `PermanentError`). Each adapter maps
its SDK's and transport's exceptions to those two through ONE table, so the pipeline owns
the retry policy and never catches an SDK type.

A publisher is a context manager; leaving the block releases its HTTP clients:

    with open_publisher(name, account, settings) as publisher:
        publisher.open()
        remotes = publisher.send(rows, parent, root)

Adapters are imported lazily, by `open_publisher`: `check`, `preview` and `--help` never load
an SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from bot.config import BlueskyAccount, MastodonAccount, Settings
from bot.ledger.store import Remote, Row

# platform -> (module, class): imported only when an account of that platform publishes.
ADAPTERS: dict[str, tuple[str, str]] = {
    "mastodon": ("bot.publishing.publishers.mastodon", "MastodonPublisher"),
    "bluesky": ("bot.publishing.publishers.bluesky", "BlueskyPublisher"),
}


class PublishError(Exception):
    """A request failed. `maybe_sent`: the server may have acted on it before failing."""

    retryable = False

    def __init__(self, message: str, *, maybe_sent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after  # seconds the server asked us to wait (429)


class RetryableError(PublishError):
    """Network trouble, timeouts, 5xx, 429: trying again later may work."""

    retryable = True


class PermanentError(PublishError):
    """Refused for a reason that will not go away by itself (401, 422, bad config)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What an adapter needs besides its account: where state lives, how long to wait."""

    name: str
    state_dir: Path
    timeout: float


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a post may hold on this account's server, as far as the publisher knows.

    `characters`: the server's limit per post (Mastodon: the instance's own, from its cached
    instance document, None before it was ever read; Bluesky: 300 graphemes).
    `bytes`: a byte limit on the text, when the network has one (Bluesky: 3000 UTF-8 bytes).
    `characters_per_url`: what every URL weighs (Mastodon), None when URLs count as written.
    `media`: attachments per post."""

    characters: int | None
    bytes: int | None = None
    characters_per_url: int | None = None
    media: int | None = None


@dataclass(frozen=True, slots=True)
class Verified:
    """What `Publisher.verify()` proved: the credentials work, and who they belong to.

    `account` is "@name" as the server knows it. Mastodon fills `limit` (characters per post)
    and `version`; Bluesky fills `did`, `pds` and `new_login` (False: a stored session was
    reused, no login was spent)."""

    account: str
    limit: int | None = None
    version: str | None = None
    did: str | None = None
    pds: str | None = None
    new_login: bool = False


@dataclass(frozen=True, slots=True)
class Engagement:
    """What followers did with one post, as its server counts it right now. `replies`
    includes our own next part of the thread (a reply too): `thisday stats` subtracts it."""

    likes: int  # Mastodon favourites, Bluesky likes
    reposts: int  # Mastodon boosts, Bluesky reposts
    replies: int
    quotes: int = 0  # Bluesky quotes; Mastodon's quotes where the server counts them


class Publisher(Protocol):
    """One account on one network. Every method may raise `RetryableError` or
    `PermanentError`, never an SDK or transport exception."""

    platform: str

    def open(self) -> None:
        """Authenticate (reusing a stored session) and learn the server's limits."""

    def limits(self) -> Limits:
        """The server's limits as last learnt (no request: `open` or `verify` refresh them)."""
        ...

    def verify(self) -> Verified:
        """Prove the credentials work (no post is made): who we are and the server's limits.
        Reuses a stored session rather than logging in again."""
        ...

    def batch(self, pending: Sequence[Row]) -> list[Row]:
        """The rows to send in one request, starting with pending[0]."""
        ...

    def stamps(self, rows: Sequence[Row]) -> list[str | None]:
        """Values for `created_at` fixed at the first attempt (Bluesky), else None."""
        ...

    def send(self, rows: Sequence[Row], parent: Row | None, root: Row | None) -> list[Remote]:
        """Make these parts exist exactly once; raise RetryableError or PermanentError."""
        ...

    def find(
        self, rows: Sequence[Row], parent: Row | None, root: Row | None
    ) -> list[Remote] | None:
        """After an uncertain attempt: the parts' remote ids if they exist, None if a resend
        is safe (they do not exist, or the server will deduplicate it)."""
        ...

    def engagement(self, rows: Sequence[Row]) -> list[Engagement | None]:
        """Followers' response to these sent parts, one entry per row, None for a part the
        server no longer has (deleted). Reads only: no login is spent, nothing is sent."""
        ...

    # -- after publishing: `thisday retract` and `thisday correct` ---------------------------
    # The defaults refuse: a network without that operation says so instead of pretending.

    def delete(self, rows: Sequence[Row]) -> None:
        """Delete these published parts; parts already gone are not an error. Bluesky: all
        in ONE applyWrites; Mastodon: one status per call (`rows` holds one)."""
        raise PermanentError(f"{self.platform}: deleting posts is not supported")

    def existing(self, rows: Sequence[Row]) -> list[bool]:
        """Whether each published part still exists (reconciling an uncertain delete)."""
        raise PermanentError(f"{self.platform}: cannot look up posts")

    def edit(self, row: Row, text: str, cw: str | None) -> Remote:
        """Edit a published part in place (Mastodon); its replies stay attached."""
        raise PermanentError(f"{self.platform} has no edits")

    def shows(self, row: Row, text: str) -> bool:
        """Whether the published part already reads `text` (reconciling an uncertain edit)."""
        raise PermanentError(f"{self.platform} has no edits")

    def replace(self, old: Sequence[Row], new: Sequence[Row]) -> list[Remote]:
        """Delete `old` and create the thread `new` in ONE atomic request (Bluesky)."""
        raise PermanentError(f"{self.platform}: cannot replace a thread atomically")

    def close(self) -> None:
        """Release HTTP clients and sessions. Idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_publisher(
    name: str, account: MastodonAccount | BlueskyAccount, settings: Settings
) -> Publisher:
    """The publisher for a configured account (no request is made: call `open` next)."""
    module_name, class_name = ADAPTERS[account.platform]
    adapter = getattr(importlib.import_module(module_name), class_name)
    context = Context(name, settings.state_dir, settings.publishing.timeout)
    publisher: Publisher = adapter(account, context, settings)
    return publisher
