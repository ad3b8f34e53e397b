"""One small protocol, two adapters. The pipeline sees plain types only: ledger `Row`s in,
`Remote`s out, and two kinds of error. Each adapter maps its SDK's exceptions to those and
keeps its SDK to itself (imported only when an account of that platform publishes).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.config import BlueskyAccount, MastodonAccount, Settings
from bot.ledger.store import Remote, Row

ADAPTERS = {
    "mastodon": "bot.publishing.publishers.mastodon",
    "bluesky": "bot.publishing.publishers.bluesky",
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


class Publisher(Protocol):
    platform: str

    def open(self) -> None:
        """Authenticate (reusing a stored session) and learn the server's limits."""

    def verify(self) -> dict[str, str]:
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

    def close(self) -> None: ...


def open_publisher(
    name: str, account: MastodonAccount | BlueskyAccount, settings: Settings
) -> Publisher:
    module = importlib.import_module(ADAPTERS[account.platform])
    context = Context(name, settings.state_dir, settings.publishing.timeout)
    publisher: Publisher = module.Adapter(account, context, settings)
    return publisher
