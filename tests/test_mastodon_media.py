"""Mastodon media that is still processing (202, `url: null`): polled with a deadline; and
the adapter's one table from Mastodon.py's exceptions to ours.

The simulator always answers 200, so this fault path is driven through a stand-in for the
Mastodon.py client; publishing itself is proven against the simulator in test_publish.py."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import requests
from mastodon import (
    MastodonAPIError,
    MastodonBadGatewayError,
    MastodonNetworkError,
    MastodonRatelimitError,
    MastodonUnauthorizedError,
)
from support import png, write_config

from bot import config
from bot.publishing.publishers import mastodon as adapter
from bot.publishing.publishers.base import Context, PermanentError, RetryableError


class SlowMedia:
    def __init__(self, ready_after: int) -> None:
        self.polls = 0
        self.ready_after = ready_after
        self.uploaded: list[dict[str, Any]] = []
        self.versioned = 0
        self.ratelimit_reset = None

    def retrieve_mastodon_version(self, fail_hard: bool = False) -> str:
        self.versioned += 1  # before an upload: Mastodon.py then picks /api/v2/media
        return "4.3.0"

    def media_post(
        self, file: io.BytesIO, mime_type: str, description: str, file_name: str
    ) -> dict[str, Any]:
        self.uploaded.append(
            {"data": file.read(), "mime": mime_type, "description": description, "name": file_name}
        )
        return {"id": "77", "url": None}

    def media(self, media_id: str) -> dict[str, Any]:
        self.polls += 1
        ready = self.polls >= self.ready_after
        return {"id": media_id, "url": "https://m.example/77.png" if ready else None}


@pytest.fixture
def publisher(tmp_path: Path, monkeypatch) -> adapter.MastodonPublisher:
    monkeypatch.setenv("T", "token")
    settings = config.load(
        write_config(
            tmp_path,
            accounts='[accounts.m]\nplatform = "mastodon"\n'
            'server = "https://m.example"\ntoken_env = "T"\n',
        )
    )
    monkeypatch.setattr(adapter.time, "sleep", lambda seconds: None)
    return adapter.MastodonPublisher(
        settings.accounts["m"], Context("m", tmp_path / "state", 5), settings
    )


def test_processing_media_is_polled_until_ready(publisher, tmp_path):
    image = tmp_path / "p.png"
    image.write_bytes(png(3, 2))
    fake = SlowMedia(ready_after=3)
    publisher.api = fake
    assert publisher._upload({"path": str(image), "alt": "three by two"}) == "77"
    assert fake.polls == 3
    assert fake.versioned == 1
    (uploaded,) = fake.uploaded
    assert uploaded["mime"] == "image/png" and uploaded["name"] == "image.png"
    assert uploaded["description"] == "three by two"
    assert uploaded["data"].startswith(b"\x89PNG")  # re-encoded, never the file as it is


def test_media_that_never_finishes_is_a_retryable_error(publisher, tmp_path, monkeypatch):
    image = tmp_path / "p.png"
    image.write_bytes(png(3, 2))
    publisher.api = SlowMedia(ready_after=10**9)
    clock = iter(range(0, 10**6, 30))
    monkeypatch.setattr(adapter.time, "monotonic", lambda: next(clock))
    with pytest.raises(RetryableError, match="still processing"):
        publisher._upload({"path": str(image), "alt": "x"})


def _raised(outer: Exception, cause: BaseException | None = None) -> Exception:
    """`outer` as Mastodon.py raises it: inside the handler of the transport's error."""
    try:
        try:
            if cause is not None:
                raise cause
        finally:
            raise outer
    except Exception as exc:
        return exc
    raise AssertionError


def test_one_table_maps_mastodon_py_exceptions(publisher):
    refused = requests.ConnectionError("Max retries exceeded")
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    cases = [
        (_raised(MastodonNetworkError("Could not complete request"), refused), False),
        (_raised(MastodonNetworkError("x"), requests.ReadTimeout("x")), True),
        (_raised(MastodonNetworkError("x"), ConnectionResetError(104, "reset")), True),
        (MastodonBadGatewayError("Mastodon API returned error", 502, "Bad Gateway", None), True),
        (MastodonRatelimitError("Hit rate limit."), False),
    ]
    for exc, maybe_sent in cases:
        mapped = publisher._translate(exc)
        assert isinstance(mapped, RetryableError) and mapped.maybe_sent is maybe_sent, exc
    assert "connection refused" in str(publisher._translate(cases[0][0]))
    assert str(publisher._translate(cases[3][0])) == "server error 502: Bad Gateway"
    refused_token = MastodonUnauthorizedError("Mastodon API returned error", 401, "x", "bad")
    assert str(publisher._translate(refused_token)) == "the access token was refused (401): bad"
    invalid = publisher._translate(MastodonAPIError("e", 422, "Unprocessable", "too long"))
    assert isinstance(invalid, PermanentError) and str(invalid) == "refused (422): too long"


def test_publisher_is_a_context_manager(publisher):
    with publisher as opened:
        assert opened is publisher
    publisher.close()  # closing twice is harmless
