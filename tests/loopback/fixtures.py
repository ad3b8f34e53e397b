"""The pytest fixtures and the report hook that adds server logs to a failing test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .installs import SETUP_CMD, install_problem, unavailable
from .mastodon import MastodonServer
from .network import AtprotoNetwork, postgres_bin
from .pds import PdsFaults, PdsServer
from .postgres import PostgresServer
from .processes import ServerError
from .proxy import FaultProxy


def _logdir(factory: pytest.TempPathFactory, name: str) -> Path:
    return factory.mktemp(name, numbered=True)


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PdsServer]:
    """The lean PDS + PLC (see :class:`PdsServer`); skipped/failed if not installed."""
    problem = install_problem("pds")
    if problem:
        unavailable(problem)
    try:
        try:
            server = PdsServer(_logdir(tmp_path_factory, "pds"))
        except ServerError as e:
            if "EADDRINUSE" not in str(e):
                raise
            # another run took a preferred port between our check and the listen
            server = PdsServer(_logdir(tmp_path_factory, "pds"), fixed_ports=False)
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pds_faults(pds: PdsServer) -> Iterator[PdsFaults]:
    """``pds.faults`` with rules and counts cleared before, rules cleared after the test."""
    pds.faults.reset_all()
    try:
        yield pds.faults
    finally:
        pds.faults.clear()


@pytest.fixture(scope="session")
def mastodon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonServer]:
    """mastodon-mock + fault proxy (see :class:`MastodonServer`)."""
    exe = Path(sys.executable).parent / "mastodon_mock"
    if not exe.exists():
        try:
            import mastodon_mock  # noqa: F401
        except ImportError:
            unavailable("mastodon-mock is not installed in this venv: pip install -e '.[test]'")
    try:
        server = MastodonServer(_logdir(tmp_path_factory, "mastodon"))
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mastodon_proxy(mastodon: MastodonServer) -> Iterator[FaultProxy]:
    """``mastodon.proxy`` with rules, counts and the simulator's own faults cleared before,
    rules cleared after the test."""
    mastodon.proxy.clear()
    mastodon.proxy.reset_counts()
    mastodon.mock_faults.clear()
    try:
        yield mastodon.proxy
    finally:
        mastodon.proxy.clear()
        mastodon.mock_faults.clear()


@pytest.fixture(scope="session")
def atproto_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AtprotoNetwork]:
    """The full dev-env network with AppView (see :class:`AtprotoNetwork`)."""
    problem = install_problem("devenv", full=True)
    if not problem and (postgres_bin() is None or shutil.which("redis-server") is None):
        problem = f"PostgreSQL / redis-server are not installed: run `{SETUP_CMD} --full`"
    if problem:
        unavailable(problem)
    try:
        net = AtprotoNetwork(_logdir(tmp_path_factory, "network"))
    except (ServerError, subprocess.CalledProcessError) as e:
        detail = ""
        if isinstance(e, subprocess.CalledProcessError):
            detail = (e.stderr or b"").decode(errors="replace")[-2000:]
        pytest.fail(f"full atproto network did not start: {e}\n{detail}", pytrace=False)
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A real PostgreSQL on 127.0.0.1 for the shared ledger (see :class:`PostgresServer`)."""
    if postgres_bin() is None:
        unavailable("PostgreSQL is not installed (scripts/test installs Debian's postgresql)")
    try:
        server = PostgresServer(_logdir(tmp_path_factory, "postgres"))
    except (ServerError, subprocess.CalledProcessError) as e:
        pytest.fail(f"PostgreSQL did not start: {e}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL: its URL (no password)."""
    return postgres.new_database()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, add the tail of the servers' logs to the report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    funcargs = getattr(item, "funcargs", {}) or {}
    seen = set()
    for value in funcargs.values():
        server = value
        if isinstance(value, PdsFaults | FaultProxy):
            continue
        if hasattr(server, "log_tails") and id(server) not in seen:
            seen.add(id(server))
            for name, tail in server.log_tails().items():
                rep.sections.append((f"server log: {name} (tail)", tail or "(empty)"))


# ============================================================================ CLI
