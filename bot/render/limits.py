"""The length rules that apply to an account: config, capped by what the server said.

Mastodon instances publish their own limit; the publisher stores it in the state folder
so that `check` and `preview` count against it without a network call.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from bot.config import BlueskyAccount, MastodonAccount, Settings
from bot.text import BLUESKY_DEFAULT, MASTODON_DEFAULT, Rules

INSTANCE_FILE = "instances.json"


def load_instances(state_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        with open(state_dir / INSTANCE_FILE, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


# Accounts open concurrently (the worker pool): one read-modify-write of the file at a time.
_SAVING = threading.Lock()


def save_instance(state_dir: Path, server: str, info: dict[str, Any]) -> None:
    with _SAVING:
        data = load_instances(state_dir)
        if data.get(server) == info:
            return
        data[server] = info
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / f"{INSTANCE_FILE}.tmp{os.getpid()}"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, state_dir / INSTANCE_FILE)


def rules_for(
    account: MastodonAccount | BlueskyAccount, instances: dict[str, dict[str, Any]]
) -> Rules:
    if isinstance(account, BlueskyAccount):
        limit = min(account.limit or BLUESKY_DEFAULT.limit, BLUESKY_DEFAULT.limit)
        return Rules("bluesky", limit, BLUESKY_DEFAULT.max_bytes)
    known = instances.get(account.server, {})
    server_limit = _positive(known.get("max_characters"))
    url_weight = _positive(known.get("characters_reserved_per_url")) or MASTODON_DEFAULT.url_weight
    candidates = [x for x in (account.limit, server_limit) if x]
    limit = min(candidates) if candidates else MASTODON_DEFAULT.limit
    return Rules("mastodon", limit, None, url_weight)


def all_rules(settings: Settings) -> dict[str, Rules]:
    instances = load_instances(settings.state_dir)
    return {name: rules_for(acc, instances) for name, acc in settings.active_accounts().items()}


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
