"""Loopback test servers for thisday: a pytest plugin (``pytest_plugins = ["loopback.fixtures"]``).

Everything listens on 127.0.0.1 only and is started by the tests themselves.

Install once (idempotent, cached in ``${THISDAY_TEST_CACHE:-~/.cache/thisday-test}``)::

    .ci/setup-servers.sh          # Node 22 + lean atproto PDS + PLC   (for `pds`)
    .ci/setup-servers.sh --full   # + dev-env network, PostgreSQL, Redis (for `atproto_network`)

A fixture whose install is missing or stale SKIPS its tests with a message naming the
command above, except with ``THISDAY_REQUIRE_SERVERS=1`` (CI), where it FAILS them.

Session fixtures
----------------
``pds`` -> :class:`PdsServer`
    A real ``@atproto/pds`` + in-memory PLC (Node), with ``.ci/servers/faults.mjs`` preloaded.
    ``pds.url`` is ``http://127.0.0.1:2583`` (a free port if 2583 is taken); the DID documents
    say ``http://localhost:<port>``, which reaches the same server. ``pds.accounts`` are
    created at start from ``THISDAY_PDS_ACCOUNTS`` ("handle:password,...", default
    ``alice.test:alice-pass,bob.test:bob-pass``); ``pds.new_account()`` makes a fresh one.
    ``pds.faults`` is a :class:`PdsFaults` client of the in-process fault injector::

        pds.faults.fail("com.atproto.repo.applyWrites", status=503)        # next 1 request
        pds.faults.rate_limit("com.atproto.server.createSession", reset_in=3)
        pds.faults.delay("com.atproto.repo.getRecord", ms=800, times=2)
        pds.faults.drop_after_commit("com.atproto.repo.applyWrites")      # committed, answer lost
        pds.faults.hang("com.atproto.repo.applyWrites")                   # client must time out
        pds.faults.counts()["com.atproto.server.createSession"]           # requests seen
        pds.faults.clear()                                                # rules only

``mastodon`` -> :class:`MastodonServer`
    ``mastodon_mock serve --in-memory`` (a Mastodon API simulator from PyPI) with the seeded
    account ``testuser`` / token ``mock_token``, and :class:`FaultProxy` in front of it::

        user, token = mastodon.new_account()            # OAuth app -> app token -> account
        m = mastodon.client(token, via_proxy=True)      # Mastodon.py through the proxy
        mastodon.proxy.drop("POST", "/api/v1/statuses") # forwarded + committed, answer lost
        mastodon.proxy.rate_limit("POST", "/api/v1/statuses", reset_in=60)
        mastodon.mock_faults.status("POST", "/api/v1/statuses", 503)  # the simulator's own

    The simulator is laxer than real Mastodon (no X-RateLimit headers on normal answers,
    media always 200 never 202, accepts unknown visibility / in_reply_to_id / media ids,
    simpler HTML): tests must not rely on that laxness.

``atproto_network`` -> :class:`AtprotoNetwork`
    ``@atproto/dev-env``'s TestNetwork (PLC + PDS + AppView + Ozone + Bsync) on a PostgreSQL and
    a Redis that the fixture starts itself on free loopback ports; for reads through the
    AppView (``app.bsky.feed.getPostThread``). Attributes ``pds_url``, ``appview_url``,
    ``accounts``, ``faults`` (PDS requests only).

Function fixtures ``pds_faults`` / ``mastodon_proxy`` give the same controls with every rule
and counter cleared before the test and the rules cleared after it.

On a failing test that used these fixtures, the tail of each server's log is added to the
report ("server logs" section). Servers run in their own process groups and are killed at
session end, on Ctrl-C, at interpreter exit and on SIGTERM.

Outside pytest: ``cd tests && python -m loopback [pds] [mastodon] [network]`` starts the
servers, prints their URLs as JSON and runs until Ctrl-C.

Modules: ``installs`` (where the servers are installed; skip or fail), ``net`` (ports, JSON
over HTTP, waiting), ``processes`` (process groups, cleanup at every kind of exit), ``pds``,
``mastodon`` (the simulator), ``proxy`` (the fault proxy in front of it), ``network`` (the
dev-env network with its PostgreSQL and Redis), ``fixtures`` (the pytest fixtures).
"""

from .installs import install_problem
from .mastodon import MastodonServer
from .net import free_port
from .network import AtprotoNetwork
from .pds import PdsServer

__all__ = ["AtprotoNetwork", "MastodonServer", "PdsServer", "free_port", "install_problem"]
