"""Helpers shared by the tests: config files, post files, ledger rows."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.ledger.store import PLANNED, Row, now_utc

if TYPE_CHECKING:
    from bot.render.renderer import Renderer

ROOT = Path(__file__).resolve().parent.parent


def rows_for(
    day: str, event_id: str, account: str, parts: int = 1, platform: str = "mastodon"
) -> list[Row]:
    return [
        Row(
            day,
            event_id,
            account,
            idx,
            parts,
            platform,
            {"text": f"part {idx}", "lang": "en"},
            f"key-{event_id}-{idx}",
            None,
            PLANNED,
            0,
            now_utc(),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
        for idx in range(parts)
    ]


def write_post(folder: Path, name: str, front: str, body: str = "") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\n{textwrap.dedent(front).strip()}\n---\n{textwrap.dedent(body).strip()}\n",
        encoding="utf-8",
    )
    return path


def write_config(
    folder: Path, accounts: str = "", extra: str = "", templates: Path | None = None
) -> Path:
    """A config in `folder` with posts/ and state/ beside it, using the shipped templates."""
    templates = templates or ROOT / "config" / "templates"
    (folder / "posts").mkdir(exist_ok=True)
    config = folder / "thisday.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            timezone = "Europe/London"
            post_at = "09:00"
            posts = "posts"
            state = "state"
            templates = "{templates}"
            {textwrap.dedent(extra).strip()}
            """
        )
        + "\n"
        + textwrap.dedent(accounts),
        encoding="utf-8",
    )
    return config


# A Mastodon and a Bluesky account on servers never contacted: for rendering.
EXAMPLE_ACCOUNTS = """
[accounts.masto]
platform = "mastodon"
server = "https://m.example"
token_env = "X"

[accounts.sky]
platform = "bluesky"
server = "https://pds.example"
handle = "a.example"
password_env = "Y"
"""


def renderer(
    folder: Path,
    accounts: str = EXAMPLE_ACCOUNTS,
    templates: Path | None = None,
    extra: str = "",
) -> Renderer:
    """A renderer for a config written in `folder` (see write_config)."""
    from bot import config
    from bot.render.renderer import Renderer

    return Renderer(
        config.load(write_config(folder, accounts=accounts, extra=extra, templates=templates))
    )


def appview_account(network: Any, handle: str) -> str:
    """Config for the Bluesky account `sky` on the full atproto network (the `atproto_network`
    fixture), read back through the network's own AppView; password in TEST_BSKY_PASSWORD."""
    return f"""
[accounts.sky]
platform = "bluesky"
server = "{network.pds_url}"
handle = "{handle}"
password_env = "TEST_BSKY_PASSWORD"
appview = "{network.appview_url}"
"""


# Quick retries, and a timeout the full network's slower first requests fit in.
NETWORK_PUBLISHING = """
[publishing]
backoff = 0.05
max_backoff = 0.2
timeout = 10
"""


def thisday(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real command as an operator would."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("THISDAY_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def mastodon_statuses(server: str, token: str) -> list[dict[str, Any]]:
    """The account's statuses, oldest first, as a follower's client reads them."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{server}/api/v1/accounts/verify_credentials", headers=headers).json()
    statuses = httpx.get(
        f"{server}/api/v1/accounts/{me['id']}/statuses", params={"limit": 40}, headers=headers
    ).json()
    return sorted(statuses, key=lambda s: int(s["id"]))


def bsky_records(pds: str, did: str) -> list[dict[str, Any]]:
    """The account's posts in its repo, oldest first."""
    import httpx

    answer = httpx.get(
        f"{pds}/xrpc/com.atproto.repo.listRecords",
        params={"repo": did, "collection": "app.bsky.feed.post", "limit": 100},
    ).json()
    return sorted(answer["records"], key=lambda r: r["value"]["createdAt"])
