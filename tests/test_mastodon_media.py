"""Mastodon media that is still processing (202, `url: null`): polled with a deadline.

The simulator always answers 200, so this fault path is driven through a stand-in for the
Mastodon.py client; publishing itself is proven against the simulator in test_publish.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import png, write_config

from bot import config
from bot.publishing.publishers import mastodon as adapter
from bot.publishing.publishers.base import Context, RetryableError


class SlowMedia:
    def __init__(self, ready_after: int) -> None:
        self.polls = 0
        self.ready_after = ready_after
        self.uploaded: list[dict[str, Any]] = []

    def media_post(self, path: str, mime_type: str, description: str) -> dict[str, Any]:
        self.uploaded.append({"path": path, "mime": mime_type, "description": description})
        return {"id": "77", "url": None}

    def media(self, media_id: str) -> dict[str, Any]:
        self.polls += 1
        ready = self.polls >= self.ready_after
        return {"id": media_id, "url": "https://m.example/77.png" if ready else None}


@pytest.fixture
def publisher(tmp_path: Path, monkeypatch) -> adapter.Adapter:
    monkeypatch.setenv("T", "token")
    settings = config.load(
        write_config(
            tmp_path,
            accounts='[accounts.m]\nplatform = "mastodon"\n'
            'server = "https://m.example"\ntoken_env = "T"\n',
        )
    )
    monkeypatch.setattr(adapter.time, "sleep", lambda seconds: None)
    return adapter.Adapter(settings.accounts["m"], Context("m", tmp_path / "state", 5), settings)


def test_processing_media_is_polled_until_ready(publisher, tmp_path):
    image = tmp_path / "p.png"
    image.write_bytes(png(3, 2))
    fake = SlowMedia(ready_after=3)
    publisher.api = fake
    assert publisher._upload({"path": str(image), "alt": "three by two"}) == "77"
    assert fake.polls == 3
    assert fake.uploaded == [
        {"path": str(image), "mime": "image/png", "description": "three by two"}
    ]


def test_media_that_never_finishes_is_a_retryable_error(publisher, tmp_path, monkeypatch):
    image = tmp_path / "p.png"
    image.write_bytes(png(3, 2))
    publisher.api = SlowMedia(ready_after=10**9)
    clock = iter(range(0, 10**6, 30))
    monkeypatch.setattr(adapter.time, "monotonic", lambda: next(clock))
    with pytest.raises(RetryableError, match="still processing"):
        publisher._upload({"path": str(image), "alt": "x"})
