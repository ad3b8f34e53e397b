"""Mastodon adapter (Mastodon.py, public API only): one status per part, each a reply to the
one before.

Exactly once: every part carries its own Idempotency-Key from the ledger, which the server
remembers for an hour. An uncertain part older than that is looked for among the
account's recent statuses before it is sent again.

Every call into Mastodon.py goes through `_call`, which turns whatever it raises into a
`RetryableError` or a `PermanentError` by looking the exception up in `EXCEPTIONS`.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from bot import __version__
from bot.config import MastodonAccount, Settings, read_secret
from bot.ledger.store import Remote, Row
from bot.publishing import media as images
from bot.publishing.publishers.base import (
    Context,
    Engagement,
    Limits,
    PermanentError,
    Publisher,
    PublishError,
    RetryableError,
    Verified,
)
from bot.render.limits import load_instances, save_instance

# Servers keep an Idempotency-Key for 3600 s; stay clear of the edge.
KEY_MEMORY = dt.timedelta(minutes=50)
INSTANCE_TTL = dt.timedelta(hours=24)
MEDIA_DEADLINE = 120.0  # seconds to wait for a 202 upload to finish processing
_TAGS = re.compile(r"<[^>]+>")
_BREAKS = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Failure:
    """What an exception means for us. `message` may use {status} and {reason} (from a
    Mastodon.py API error: HTTP status, the server's error text) and {name} (the type of the
    innermost exception). `wait`: the server named a time to retry (the rate-limit reset)."""

    error: type[PublishError]
    message: str
    maybe_sent: bool = False
    wait: bool = False


# The one map from what Mastodon.py (and the transport below it) raises to our two errors.
# An exception is judged by its innermost cause first (a MastodonNetworkError wraps the
# requests/socket error that says what happened), each link's classes in MRO order; the
# first class found here decides. "maybe_sent": the server may have acted before failing.
EXCEPTIONS: Final[Mapping[type[BaseException], Failure]] = {
    # the transport, as the cause of a MastodonNetworkError
    ConnectionRefusedError: Failure(RetryableError, "network error: connection refused"),
    TimeoutError: Failure(RetryableError, "network error: timed out", maybe_sent=True),
    ConnectionError: Failure(RetryableError, "network error: connection lost", maybe_sent=True),
    # Mastodon.py
    MastodonRatelimitError: Failure(RetryableError, "rate limited: {reason}", wait=True),
    MastodonNetworkError: Failure(RetryableError, "network error: {name}", maybe_sent=True),
    MastodonServerError: Failure(
        RetryableError, "server error {status}: {reason}", maybe_sent=True
    ),
    MastodonUnauthorizedError: Failure(
        PermanentError, "the access token was refused ({status}): {reason}"
    ),
    MastodonNotFoundError: Failure(PermanentError, "not found ({status}): {reason}"),
    MastodonAPIError: Failure(PermanentError, "refused ({status}): {reason}"),
    MastodonError: Failure(RetryableError, "{name}: {reason}", maybe_sent=True),
}


class MastodonPublisher(Publisher):
    platform = "mastodon"

    def __init__(self, account: MastodonAccount, context: Context, settings: Settings) -> None:
        self.account = account
        self.context = context
        token = read_secret(account.token_env, account.token_file, settings.base)
        if not token:
            where = f"${account.token_env}" if account.token_env else str(account.token_file)
            raise PermanentError(f"no access token: set {where}")
        self._instance_known: dict[str, Any] = load_instances(context.state_dir).get(
            account.server, {}
        )
        self._session = requests.Session()
        # version_check_mode="none": Mastodon.py believes the server is 1.0.0 until
        # retrieve_mastodon_version() is called, which only matters for media (v2 upload):
        # `_upload` calls it once, so posts without an image never pay for it.
        self.api = Mastodon(
            access_token=token,
            api_base_url=account.server,
            request_timeout=context.timeout,
            ratelimit_method="throw",  # our own bounded waits; "wait" can block for minutes
            version_check_mode="none",
            session=self._session,
            user_agent=f"thisday/{__version__}",
        )
        self._versioned = False
        self._media_cache: dict[str, str] = {}

    # -- protocol ------------------------------------------------------------------------

    def open(self) -> None:
        fetched = self._instance_known.get("fetched_at")
        fresh = fetched and dt.datetime.fromisoformat(fetched) > _now() - INSTANCE_TTL
        if not fresh:
            self.refresh_instance()

    def limits(self) -> Limits:
        info = self._instance_known
        return Limits(
            characters=_int(info.get("max_characters")),
            characters_per_url=_int(info.get("characters_reserved_per_url")),
            media=_int(info.get("max_media_attachments")),
        )

    def verify(self) -> Verified:
        me = self._call(self.api.account_verify_credentials)
        info = self.refresh_instance()
        return Verified(
            account=f"@{me.get('acct') or me.get('username')}",
            limit=_int(info.get("max_characters")),
            version=info.get("version") or None,
        )

    def close(self) -> None:
        self._session.close()

    def batch(self, pending: Sequence[Row]) -> list[Row]:
        return [pending[0]]

    def stamps(self, rows: Sequence[Row]) -> list[str | None]:
        return [None for _ in rows]

    def send(self, rows: Sequence[Row], parent: Row | None, root: Row | None) -> list[Remote]:
        (row,) = rows
        payload = row.payload
        media_ids = [self._upload(image) for image in _pictures(payload)] or None
        status = self._call(
            self.api.status_post,
            payload["text"],
            in_reply_to_id=parent.remote_id if parent is not None else None,
            media_ids=media_ids,
            visibility=payload.get("visibility") or self.account.visibility,
            spoiler_text=payload.get("cw") or None,
            language=payload.get("lang") or None,
            idempotency_key=row.key,  # the part's idempotency key, fixed at planning
        )
        return [_remote(status)]

    def find(
        self, rows: Sequence[Row], parent: Row | None, root: Row | None
    ) -> list[Remote] | None:
        (row,) = rows
        sent_at = dt.datetime.fromisoformat(row.sending_at) if row.sending_at else None
        if sent_at and _now() - sent_at < KEY_MEMORY:
            return None  # the server still knows the key: resending returns the same status
        found = self._search(row, parent, sent_at)
        return [found] if found else None

    def engagement(self, rows: Sequence[Row]) -> list[Engagement | None]:
        """`GET /api/v1/statuses/:id` per part: favourites, boosts, replies (and quotes where
        the server counts them); None for a status that is gone (404/410)."""
        out: list[Engagement | None] = []
        for row in rows:
            if not row.remote_id:
                out.append(None)
                continue
            try:
                status = self.api.status(row.remote_id)
            except MastodonNotFoundError:
                out.append(None)
                continue
            except MastodonAPIError as exc:
                if _status(exc) == 410:
                    out.append(None)
                    continue
                raise self._translate(exc) from None
            except MastodonError as exc:
                raise self._translate(exc) from None
            out.append(
                Engagement(
                    likes=_int(status.get("favourites_count")) or 0,
                    reposts=_int(status.get("reblogs_count")) or 0,
                    replies=_int(status.get("replies_count")) or 0,
                    quotes=_int(status.get("quotes_count")) or 0,
                )
            )
        return out

    # -- retract and correct ------------------------------------------------------------------

    def delete(self, rows: Sequence[Row]) -> None:
        (row,) = rows
        try:
            self.api.status_delete(row.remote_id)
        except MastodonNotFoundError:
            return  # already gone: what a retraction wants
        except MastodonError as exc:
            raise self._translate(exc) from None

    def existing(self, rows: Sequence[Row]) -> list[bool]:
        out = []
        for row in rows:
            try:
                self.api.status(row.remote_id)
                out.append(True)
            except MastodonNotFoundError:
                out.append(False)
            except MastodonError as exc:
                raise self._translate(exc) from None
        return out

    def edit(self, row: Row, text: str, cw: str | None) -> Remote:
        # PUT without media_ids removes the attachments (Mastodon's UpdateStatusService):
        # keep the ones the status has.
        current = self._call(self.api.status, row.remote_id)
        media = [str(m["id"]) for m in current.get("media_attachments") or []] or None
        status = self._call(
            self.api.status_update,
            row.remote_id,
            text,
            spoiler_text=cw or "",
            media_ids=media,
        )
        return _remote(status)

    def shows(self, row: Row, text: str) -> bool:
        source = self._call(self.api.status_source, row.remote_id)
        return _normalise(str(source.get("text") or "")) == _normalise(text)

    # -- helpers ---------------------------------------------------------------------------

    def refresh_instance(self) -> dict[str, Any]:
        """Read the instance's real limits (v2, else v1) and remember them in the state folder."""
        info: dict[str, Any] = {}
        try:
            data = self._call(self.api.instance_v2)
        except PermanentError:
            data = self._call(self.api.instance_v1)
        config = data.get("configuration") or {}
        statuses = config.get("statuses") or {}
        info["max_characters"] = statuses.get("max_characters") or data.get("max_toot_chars")
        info["characters_reserved_per_url"] = statuses.get("characters_reserved_per_url")
        info["max_media_attachments"] = statuses.get("max_media_attachments")
        attachments = config.get("media_attachments") or {}
        info["image_size_limit"] = attachments.get("image_size_limit")
        info["image_matrix_limit"] = attachments.get("image_matrix_limit")
        info["version"] = _plain_version(str(data.get("version") or ""))
        info["fetched_at"] = _now().isoformat()
        info = {k: v for k, v in info.items() if v is not None}
        save_instance(self.context.state_dir, self.account.server, info)
        self._instance_known = info
        return info

    def _upload(self, image: dict[str, Any]) -> str:
        path = Path(image["path"])
        if str(path) in self._media_cache:
            return self._media_cache[str(path)]
        if not self._versioned:
            # Mastodon.py picks /api/v2/media (202 + polling) only once it knows the version.
            self._call(self.api.retrieve_mastodon_version, fail_hard=True)
            self._versioned = True
        try:
            # Oriented, without EXIF/XMP/comments (no GPS position leaves), within the
            # instance's limits; the file itself is never sent as it is.
            prepared = images.prepare(path, self._budget())
        except images.MediaError as exc:
            raise PermanentError(f"image {path.name}: {exc}") from None
        media = self._call(
            self.api.media_post,
            io.BytesIO(prepared.data),
            mime_type=prepared.mime,
            description=image.get("alt"),
            file_name=f"image{prepared.extension}",
        )
        deadline = time.monotonic() + MEDIA_DEADLINE
        # 202: the server is still processing; `url` stays null until it is done.
        while media.get("url") is None:
            if time.monotonic() > deadline:
                raise RetryableError(
                    f"media {media['id']} still processing after {MEDIA_DEADLINE:.0f} s"
                )
            time.sleep(1.0)
            media = self._call(self.api.media, media["id"])
        self._media_cache[str(path)] = str(media["id"])
        return str(media["id"])

    def _budget(self) -> images.Budget:
        """Mastodon's image limits, the instance's own when its document said them."""
        known = self._instance_known
        default = images.MASTODON_IMAGE
        return images.Budget(
            _int(known.get("image_size_limit")) or default.max_bytes,
            max_pixels=_int(known.get("image_matrix_limit")) or default.max_pixels,
            animation=True,
        )

    def _search(self, row: Row, parent: Row | None, since: dt.datetime | None) -> Remote | None:
        """Look for the part among the account's recent statuses (keys are long forgotten)."""
        me = self._call(self.api.me)
        want = _normalise(row.text)
        statuses = self._call(self.api.account_statuses, me["id"], limit=40, exclude_reblogs=True)
        for status in statuses:
            created = status.get("created_at")
            if (
                since
                and isinstance(created, dt.datetime)
                and created < since - dt.timedelta(minutes=5)
            ):
                continue
            if parent is not None and str(status.get("in_reply_to_id")) != str(parent.remote_id):
                continue
            if _normalise(_html_text(status.get("content") or "")) == want:
                return _remote(status)
        return None

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call Mastodon.py; what it raises leaves as RetryableError or PermanentError."""
        try:
            return method(*args, **kwargs)
        except MastodonError as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: BaseException) -> PublishError:
        found = _lookup(exc)
        if found is None:  # unreachable: MastodonError is in the table
            return RetryableError(f"{type(exc).__name__}: {exc}", maybe_sent=True)
        link, failure = found
        message = failure.message.format(
            status=_status(link), reason=_reason(link), name=type(_innermost(exc)).__name__
        )
        retry_after = self._reset_in() if failure.wait else None
        return failure.error(message, maybe_sent=failure.maybe_sent, retry_after=retry_after)

    def _reset_in(self) -> float | None:
        """Seconds until the rate limit resets, as Mastodon.py read it from X-RateLimit-Reset."""
        reset = self.api.ratelimit_reset
        if isinstance(reset, int | float) and reset > 0:
            return max(0.0, reset - time.time())
        return None


def _pictures(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The head post's images: the "images" list, or the one "image" of older ledger rows."""
    pictures = payload.get("images")
    if isinstance(pictures, list) and pictures:
        return pictures
    return [payload["image"]] if payload.get("image") else []


def _lookup(exc: BaseException) -> tuple[BaseException, Failure] | None:
    """The innermost link of the exception's chain that `EXCEPTIONS` knows, with its rule."""
    for link in reversed(_chain(exc)):
        for cls in type(link).__mro__:
            failure = EXCEPTIONS.get(cls)
            if failure is not None:
                return link, failure
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """exc, what caused it, what caused that... (outermost first; cycles cut)."""
    links: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in links:
        links.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return links


def _innermost(exc: BaseException) -> BaseException:
    return _chain(exc)[-1]


def _remote(status: Mapping[str, Any]) -> Remote:
    return Remote(id=str(status["id"]), url=status.get("url") or status.get("uri"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _plain_version(version: str) -> str:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return ".".join(match.groups()) if match else ""


def _status(exc: BaseException) -> object:
    args = exc.args
    return args[1] if len(args) > 1 else None


def _reason(exc: BaseException) -> str:
    args = exc.args
    # MastodonAPIError args: (message, status, reason, error text from the server)
    for candidate in reversed(args):
        if isinstance(candidate, str) and candidate:
            return candidate
    return type(exc).__name__


def _html_text(content: str) -> str:
    return html.unescape(_TAGS.sub("", _BREAKS.sub("\n", content)))


def _normalise(text: str) -> str:
    return _SPACE.sub("", text)
