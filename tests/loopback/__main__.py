"""`python -m loopback [pds] [mastodon] [network]` (from tests/): start, print, wait."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .installs import install_problem
from .mastodon import MastodonServer
from .network import AtprotoNetwork
from .pds import PdsServer


def main(argv: list[str]) -> int:
    """``python -m loopback [pds] [mastodon] [network]`` (from tests/): start, print URLs, wait."""
    which = argv or ["pds", "mastodon"]
    logdir = Path(tempfile.mkdtemp(prefix="thisday-servers-"))
    started: list[Any] = []
    info: dict[str, Any] = {"logs": str(logdir)}
    try:
        if "pds" in which:
            problem = install_problem("pds")
            if problem:
                print(problem, file=sys.stderr)
                return 1
            p = PdsServer(logdir)
            started.append(p)
            info["pds"] = {
                "url": p.url,
                "faults": p.faults.url,
                "accounts": [dataclasses.asdict(a) for a in p.accounts],
                "ready_s": round(p.ready_seconds, 2),
                "rss_mb": round(p.rss_mb()),
            }
        if "mastodon" in which:
            m = MastodonServer(logdir)
            started.append(m)
            info["mastodon"] = {
                "url": m.url,
                "proxy": m.proxy.url,
                "token": m.token,
                "ready_s": round(m.ready_seconds, 2),
                "rss_mb": round(m.rss_mb()),
            }
        if "network" in which:
            problem = install_problem("devenv", full=True)
            if problem:
                print(problem, file=sys.stderr)
                return 1
            n = AtprotoNetwork(logdir)
            started.append(n)
            info["network"] = {
                "pds": n.pds_url,
                "appview": n.appview_url,
                "faults": n.faults.url,
                "accounts": [dataclasses.asdict(a) for a in n.accounts],
                "ready_s": round(n.ready_seconds, 2),
                "postgres_ready_s": round(n.pg_ready_seconds, 2),
                "redis_ready_s": round(n.redis_ready_seconds, 2),
                "network_ready_s": round(n.network_ready_seconds, 2),
                "rss_mb": {k: round(v) for k, v in n.rss_mb().items()},
            }
        print(json.dumps(info, indent=2), flush=True)
        if os.environ.get("THISDAY_SERVERS_EXIT"):  # measure only
            return 0
        print("running; Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        for s in reversed(started):
            s.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
