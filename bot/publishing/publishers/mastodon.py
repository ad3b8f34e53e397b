"""Mastodon adapter (Mastodon.py): one status per part, each a reply to the one before.

Exactly once: every part carries its own Idempotency-Key from the ledger, which the server
remembers for an hour. An uncertain part older than that is looked for among the
account's recent statuses before it is sent again.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from bot.content.images import inspect
from bot.ledger.store import Remote, Row
from bot.publishing.publishers.base import Context, PermanentError, RetryableError
from bot.render.limits import load_instances, save_instance

# Servers keep an Idempotency-Key for 3600 s; stay clear of the edge.
KEY_MEMORY = dt.timedelta(minutes=50)
INSTANCE_TTL = dt.timedelta(hours=24)
MEDIA_DEADLINE = 120.0  # seconds to wait for a 202 upload to finish processing
_TAGS = re.compile(r"<[^>]+>")
_BREAKS = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


class Adapter:
    platform = "mastodon"

    def __init__(self, account: MastodonAccount, context: Context, settings: Settings) -> None:
        self.account = account
        self.context = context
        token = read_secret(account.token_env, account.token_file, settings.base)
        if not token:
            where = f"${account.token_env}" if account.token_env else str(account.token_file)
            raise PermanentError(f"no access token: set {where}")
        known = load_instances(context.state_dir).get(account.server, {})
        self._instance_known = known
        self.api = Mastodon(
            access_token=token,
            api_base_url=account.server,
            request_timeout=context.timeout,
            ratelimit_method="throw",  # our own bounded waits; "wait" can block for minutes
            mastodon_version=known.get("version") or "4.0.0",
            version_check_mode="none",
            user_agent=f"thisday/{__version__}",
        )
        self._media_cache: dict[str, str] = {}

    # -- protocol ------------------------------------------------------------------------

    def open(self) -> None:
        fetched = self._instance_known.get("fetched_at")
        fresh = fetched and dt.datetime.fromisoformat(fetched) > _now() - INSTANCE_TTL
        if not fresh:
            self.refresh_instance()

    def verify(self) -> dict[str, str]:
        me = self._call(self.api.account_verify_credentials)
        info = self.refresh_instance()
        return {
            "account": f"@{me.get('acct') or me.get('username')}",
            "limit": str(info.get("max_characters", "?")),
            "version": str(info.get("version", "?")),
        }

    def close(self) -> None:
        session = getattr(self.api, "session", None)
        if session is not None:
            session.close()

    def batch(self, pending: Sequence[Row]) -> list[Row]:
        return [pending[0]]

    def stamps(self, rows: Sequence[Row]) -> list[str | None]:
        return [None for _ in rows]

    def send(self, rows: Sequence[Row], parent: Row | None, root: Row | None) -> list[Remote]:
        (row,) = rows
        payload = row.payload
        body: dict[str, Any] = {
            "status": payload["text"],
            "visibility": payload.get("visibility") or self.account.visibility,
        }
        if parent is not None:
            body["in_reply_to_id"] = parent.remote_id
        if payload.get("image"):
            body["media_ids"] = [self._upload(payload["image"])]
        if payload.get("cw"):
            body["spoiler_text"] = payload["cw"]
        if payload.get("lang"):
            body["language"] = payload["lang"]
        status = self._post_status(body, row.handle)
        return [Remote(id=str(status["id"]), url=status.get("url") or status.get("uri"))]

    def _post_status(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        """POST /api/v1/statuses through Mastodon.py's own session and headers, minus its
        conversion of the answer into typed objects (~2.5 ms a post, on the hot path of every
        thread); errors are mapped as `_call` maps Mastodon.py's."""
        import requests

        headers = {
            "Authorization": f"Bearer {self.api.access_token}",
            "User-Agent": self.api.user_agent,
            "Idempotency-Key": key,
        }
        try:
            # auth= a no-op, as Mastodon.py does: a ~/.netrc must never replace the token.
            response = self.api.session.post(
                f"{self.api.api_base_url}/api/v1/statuses",
                json=body,
                headers=headers,
                timeout=self.context.timeout,
                auth=lambda request: request,
            )
        except requests.exceptions.ConnectionError as exc:
            refused = "refused" in str(exc).lower()
            raise RetryableError(
                "network error: " + ("connection refused" if refused else "connection lost"),
                maybe_sent=not refused,
            ) from None
        except requests.exceptions.Timeout:
            raise RetryableError("network error: timed out", maybe_sent=True) from None
        except requests.exceptions.RequestException as exc:
            raise RetryableError(f"network error: {type(exc).__name__}", maybe_sent=True) from None
        if response.status_code == 200:
            return dict(response.json())
        try:
            reason = str(response.json().get("error") or response.reason)
        except ValueError:
            reason = response.reason
        status = response.status_code
        if status == 429:
            raise RetryableError(f"rate limited: {reason}", retry_after=_reset_after(response))
        if status >= 500:
            raise RetryableError(f"server error {status}: {reason}", maybe_sent=True)
        if status == 401:
            raise PermanentError(f"the access token was refused ({status}): {reason}")
        raise PermanentError(f"refused ({status}): {reason}")

    def find(
        self, rows: Sequence[Row], parent: Row | None, root: Row | None
    ) -> list[Remote] | None:
        (row,) = rows
        sent_at = dt.datetime.fromisoformat(row.sending_at) if row.sending_at else None
        if sent_at and _now() - sent_at < KEY_MEMORY:
            return None  # the server still knows the key: resending returns the same status
        found = self._search(row, parent, sent_at)
        return [found] if found else None

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
        info["version"] = _plain_version(str(data.get("version") or ""))
        info["fetched_at"] = _now().isoformat()
        info = {k: v for k, v in info.items() if v is not None}
        save_instance(self.context.state_dir, self.account.server, info)
        if info.get("version"):
            self.api.mastodon_major, self.api.mastodon_minor, self.api.mastodon_patch = (
                int(x) for x in info["version"].split(".")
            )
        self._instance_known = info
        return info

    def _upload(self, image: dict[str, Any]) -> str:
        path = Path(image["path"])
        if str(path) in self._media_cache:
            return self._media_cache[str(path)]
        info = inspect(path)
        media = self._call(
            self.api.media_post,
            str(path),
            mime_type=info.mime,
            description=image.get("alt"),
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
                return Remote(id=str(status["id"]), url=status.get("url") or status.get("uri"))
        return None

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except MastodonRatelimitError as exc:
            raise RetryableError(
                f"rate limited: {_reason(exc)}", retry_after=self._reset_in()
            ) from None
        except MastodonNetworkError as exc:
            # A timeout or a dropped connection: the server may have acted on it.
            reason = _network_reason(exc)
            raise RetryableError(
                f"network error: {reason}", maybe_sent=reason != "connection refused"
            ) from None
        except MastodonServerError as exc:
            raise RetryableError(
                f"server error {_status(exc)}: {_reason(exc)}", maybe_sent=True
            ) from None
        except MastodonUnauthorizedError as exc:
            raise PermanentError(
                f"the access token was refused ({_status(exc)}): {_reason(exc)}"
            ) from None
        except MastodonNotFoundError as exc:
            raise PermanentError(f"not found ({_status(exc)}): {_reason(exc)}") from None
        except MastodonAPIError as exc:
            status = _status(exc)
            if status == 429:
                raise RetryableError("rate limited", retry_after=self._reset_in()) from None
            if isinstance(status, int) and status >= 500:
                raise RetryableError(
                    f"server error {status}: {_reason(exc)}", maybe_sent=True
                ) from None
            raise PermanentError(f"refused ({status}): {_reason(exc)}") from None
        except MastodonError as exc:
            raise RetryableError(f"{type(exc).__name__}: {_reason(exc)}", maybe_sent=True) from None

    def _reset_in(self) -> float | None:
        reset = getattr(self.api, "ratelimit_reset", None)
        if isinstance(reset, int | float) and reset > 0:
            return max(0.0, reset - time.time())
        return None


def _reset_after(response: Any) -> float | None:
    """Seconds until the X-RateLimit-Reset the server names (an ISO 8601 time)."""
    reset = response.headers.get("X-RateLimit-Reset")
    if not reset:
        return None
    try:
        moment = dt.datetime.fromisoformat(reset.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - _now()).total_seconds())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _plain_version(version: str) -> str:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return ".".join(match.groups()) if match else ""


def _status(exc: Exception) -> Any:
    args = getattr(exc, "args", ())
    return args[1] if len(args) > 1 else None


def _reason(exc: Exception) -> str:
    args = getattr(exc, "args", ())
    # MastodonAPIError args: (message, status, reason, error text from the server)
    for candidate in reversed(args):
        if isinstance(candidate, str) and candidate:
            return candidate
    return type(exc).__name__


def _network_reason(exc: Exception) -> str:
    text = str(exc)
    # Never echo a URL with query parameters or headers back: keep the gist.
    if "timed out" in text.lower() or "timeout" in text.lower():
        return "timed out"
    if "refused" in text.lower():
        return "connection refused"
    if "reset" in text.lower() or "aborted" in text.lower() or "RemoteDisconnected" in text:
        return "connection lost"
    return type(exc).__name__


def _html_text(content: str) -> str:
    return html.unescape(_TAGS.sub("", _BREAKS.sub("\n", content)))


def _normalise(text: str) -> str:
    return _SPACE.sub("", text)
