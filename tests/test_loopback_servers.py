"""Smoke tests of the loopback servers (tests/loopback/) as clients see them.

Skipped where the servers are not installed (run .ci/setup-servers.sh [--full]); failed
instead with THISDAY_REQUIRE_SERVERS=1. These never import ``bot``.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.servers

POST = "app.bsky.feed.post"
APPLY = "com.atproto.repo.applyWrites"
GET_RECORD = "com.atproto.repo.getRecord"
CREATE_SESSION = "com.atproto.server.createSession"
_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def tid() -> str:
    """A record key TID: 53-bit microseconds << 10 | 10-bit clock id, base32-sortable."""
    n = (time.time_ns() // 1000) << 10 | random.randrange(1024)
    return "".join(_B32[(n >> (5 * i)) & 31] for i in range(12, -1, -1))


def post(text: str) -> dict[str, Any]:
    return {
        "$type": POST,
        "text": text,
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "langs": ["en"],
    }


def login(url: str, account: Any, timeout: float = 10.0) -> Any:
    from atproto import Client
    from atproto_client.request import Request

    client = Client(base_url=url, request=Request(timeout=timeout))
    client.login(account.handle, account.password, fetch_bsky_profile=False)
    return client


def apply_create(client: Any, did: str, rkey: str, text: str) -> Any:
    return client.com.atproto.repo.apply_writes(
        {
            "repo": did,
            "writes": [
                {
                    "$type": "com.atproto.repo.applyWrites#create",
                    "collection": POST,
                    "rkey": rkey,
                    "value": post(text),
                }
            ],
        }
    )


def record_exists(client: Any, did: str, rkey: str) -> bool:
    from atproto_client.exceptions import BadRequestError

    try:
        client.com.atproto.repo.get_record({"repo": did, "collection": POST, "rkey": rkey})
    except BadRequestError:
        return False
    return True


# ============================================================================ PDS


@pytest.fixture(scope="module")
def alice(pds):
    """One logged-in client for the module (login is the limited call)."""
    return login(pds.url, pds.account, timeout=5.0)


def test_pds_login_create_get_and_counts(pds, pds_faults):
    account = pds.accounts[0]
    assert account.did.startswith("did:plc:") and len(pds.accounts) >= 2
    client = login(pds.url, account)
    assert pds_faults.count(CREATE_SESSION) == 1

    created = client.com.atproto.repo.create_record(
        {"repo": account.did, "collection": POST, "record": post("On this day: a smoke test.")}
    )
    rkey = created.uri.rsplit("/", 1)[1]
    got = client.com.atproto.repo.get_record(
        {"repo": account.did, "collection": POST, "rkey": rkey}
    )
    assert got.value.text == "On this day: a smoke test." and got.cid == created.cid
    counts = pds_faults.counts()
    assert counts[CREATE_SESSION] == 1
    assert counts["com.atproto.repo.createRecord"] == 1
    assert counts[GET_RECORD] == 1

    # The DID document names http://localhost:<port>; both spellings reach the same server.
    for base in (pds.url, pds.localhost_url):
        r = httpx.get(f"{base}/xrpc/com.atproto.server.describeServer", timeout=5)
        assert r.status_code == 200 and ".test" in r.json()["availableUserDomains"]


def test_pds_new_account(pds):
    acct = pds.new_account()
    client = login(pds.url, acct)
    assert client._session.did == acct.did


@pytest.mark.parametrize(
    ("status", "exc_name"),
    [
        (429, "RateLimitExceededError"),
        (500, "RequestException"),
        (502, "NetworkError"),
        (503, "RequestException"),
    ],
)
def test_pds_fault_status(pds, pds_faults, alice, status, exc_name):
    from atproto_client import exceptions

    did = alice._session.did
    rkey = tid()
    pds_faults.fail(APPLY, status=status, reset_in=7)
    with pytest.raises(exceptions.AtProtocolError) as info:
        apply_create(alice, did, rkey, f"fault {status}")
    assert type(info.value).__name__ == exc_name, repr(info.value)
    response = info.value.response
    assert response.status_code == status
    if status == 429:
        err = info.value
        assert isinstance(err, exceptions.RateLimitExceededError)
        assert 5 <= err.reset_at.timestamp() - time.time() <= 9
        assert err.remaining == 0 and err.limit == 3000
    assert not record_exists(alice, did, rkey)  # answered before the server did anything
    apply_create(alice, did, rkey, "after the fault")  # the rule was for one request only
    assert record_exists(alice, did, rkey)
    assert pds_faults.counts()[APPLY] == 2
    assert pds_faults.faulted() == {APPLY: {"status": 1}}


def test_pds_fault_delay(pds_faults, alice):
    did = alice._session.did
    created = alice.com.atproto.repo.create_record(
        {"repo": did, "collection": POST, "record": post("delayed read")}
    )
    rkey = created.uri.rsplit("/", 1)[1]
    pds_faults.delay(GET_RECORD, ms=600)
    t0 = time.monotonic()
    alice.com.atproto.repo.get_record({"repo": did, "collection": POST, "rkey": rkey})
    assert time.monotonic() - t0 >= 0.6
    t0 = time.monotonic()
    alice.com.atproto.repo.get_record({"repo": did, "collection": POST, "rkey": rkey})
    assert time.monotonic() - t0 < 0.5


def test_pds_fault_lost_response_after_commit(pds_faults, alice):
    did = alice._session.did
    rkey = tid()
    pds_faults.drop_after_commit(APPLY)
    with pytest.raises(httpx.RemoteProtocolError):  # not wrapped by the SDK
        apply_create(alice, did, rkey, "committed, answer lost")
    assert record_exists(alice, did, rkey)
    assert pds_faults.counts()[APPLY] == 1
    assert pds_faults.faulted()[APPLY] == {"drop": 1}


def test_pds_fault_status_after_commit(pds_faults, alice):
    from atproto_client import exceptions

    did = alice._session.did
    rkey = tid()
    pds_faults.fail(APPLY, status=502, after_commit=True)
    with pytest.raises(exceptions.NetworkError):
        apply_create(alice, did, rkey, "committed, then 502")
    assert record_exists(alice, did, rkey)


def test_pds_fault_hang_needs_client_timeout(pds, pds_faults):
    from atproto_client import exceptions

    client = login(pds.url, pds.account, timeout=1.0)
    did = client._session.did
    rkey = tid()
    pds_faults.hang(APPLY)
    t0 = time.monotonic()
    with pytest.raises(exceptions.InvokeTimeoutError):
        apply_create(client, did, rkey, "never processed")
    assert 0.9 <= time.monotonic() - t0 < 5
    assert not record_exists(client, did, rkey)
    assert pds_faults.faulted()[APPLY] == {"hang": 1}


def test_pds_fault_reset_and_session_count(pds, pds_faults):
    from atproto_client import exceptions

    pds_faults.reset(CREATE_SESSION)
    with pytest.raises((httpx.TransportError, exceptions.NetworkError)):
        login(pds.url, pds.account)
    login(pds.url, pds.account)
    assert pds_faults.count(CREATE_SESSION) == 2
    assert pds_faults.faulted() == {CREATE_SESSION: {"reset": 1}}


def test_pds_rate_limited_login(pds, pds_faults):
    from atproto_client import exceptions

    pds_faults.rate_limit(CREATE_SESSION, reset_in=30, times=2)
    for _ in range(2):
        with pytest.raises(exceptions.RateLimitExceededError):
            login(pds.url, pds.account)
    assert len(pds_faults.rules()) == 0
    login(pds.url, pds.account)
    assert pds_faults.count(CREATE_SESSION) == 3


# ============================================================================ Mastodon


def test_mastodon_post_direct_and_through_proxy(mastodon, mastodon_proxy):
    direct = mastodon.client()
    assert direct.account_verify_credentials().username == mastodon.username
    s1 = direct.status_post("seeded account, direct", visibility="unlisted", language="en")

    user, token = mastodon.new_account()
    via = mastodon.client(token, via_proxy=True)
    assert via.account_verify_credentials().username == user
    s2 = via.status_post("new account, through the proxy", visibility="unlisted", language="en")
    assert via.status(s2.id).content and direct.status(s1.id).id == s1.id
    assert mastodon_proxy.count("POST", "/api/v1/statuses") == 1


@pytest.mark.parametrize(
    ("status", "exc_name"),
    [
        (500, "MastodonInternalServerError"),
        (502, "MastodonBadGatewayError"),
        (503, "MastodonServiceUnavailableError"),
    ],
)
def test_mastodon_proxy_status(mastodon, mastodon_proxy, status, exc_name):
    from mastodon import MastodonServerError

    m = mastodon.client(via_proxy=True)
    mastodon_proxy.fail("POST", "/api/v1/statuses", status=status)
    with pytest.raises(MastodonServerError) as info:
        m.status_post(f"fault {status}", visibility="unlisted")
    assert type(info.value).__name__ == exc_name
    m.status_post("after the fault", visibility="unlisted")
    assert mastodon_proxy.count("POST", "/api/v1/statuses") == 2


def test_mastodon_proxy_rate_limit(mastodon, mastodon_proxy):
    from mastodon import MastodonRatelimitError

    m = mastodon.client(via_proxy=True)
    mastodon_proxy.rate_limit("POST", "/api/v1/statuses", reset_in=120)
    with pytest.raises(MastodonRatelimitError):
        m.status_post("rate limited", visibility="unlisted")
    assert m.ratelimit_remaining == 0
    assert 100 < m.ratelimit_reset - time.time() < 140  # parsed from the ISO timestamp


def test_mastodon_proxy_delay(mastodon, mastodon_proxy):
    m = mastodon.client(via_proxy=True)
    mastodon_proxy.delay("GET", "/api/v1/accounts/verify_credentials", ms=500)
    t0 = time.monotonic()
    m.account_verify_credentials()
    assert time.monotonic() - t0 >= 0.5


def test_mastodon_proxy_lost_response_after_commit(mastodon, mastodon_proxy):
    from mastodon import MastodonNetworkError

    _user, token = mastodon.new_account()
    m = mastodon.client(token, via_proxy=True)
    me = m.account_verify_credentials()
    text = f"committed, answer lost {uuid.uuid4().hex[:8]}"
    mastodon_proxy.drop("POST", "/api/v1/statuses")
    with pytest.raises(MastodonNetworkError):
        m.status_post(text, visibility="unlisted")
    mine = m.account_statuses(me.id, limit=5)
    assert [s.id for s in mine if text in s.content], "the status must exist after a lost answer"


def test_mastodon_proxy_hang_and_reset(mastodon, mastodon_proxy):
    from mastodon import MastodonNetworkError

    _user, token = mastodon.new_account()
    m = mastodon.client(token, via_proxy=True, request_timeout=1)
    me = m.account_verify_credentials()
    mastodon_proxy.hang("POST", "/api/v1/statuses")
    t0 = time.monotonic()
    with pytest.raises(MastodonNetworkError):
        m.status_post("never forwarded", visibility="unlisted")
    assert 0.9 <= time.monotonic() - t0 < 5
    mastodon_proxy.reset("POST", "/api/v1/statuses")
    with pytest.raises(MastodonNetworkError):
        m.status_post("connection reset", visibility="unlisted")
    assert m.account_statuses(me.id) == []
    assert mastodon_proxy.faulted()["POST /api/v1/statuses"] == {"hang": 1, "reset": 1}


def test_mastodon_mock_own_faults(mastodon, mastodon_proxy):
    from mastodon import MastodonRatelimitError, MastodonServiceUnavailableError

    m = mastodon.client()
    mastodon.mock_faults.rate_limit("POST", "/api/v1/statuses", reset_in=60)
    with pytest.raises(MastodonRatelimitError):
        m.status_post("mock 429", visibility="unlisted")
    assert 30 < m.ratelimit_reset - time.time() < 90
    mastodon.mock_faults.status("POST", "/api/v1/statuses", 503)
    with pytest.raises(MastodonServiceUnavailableError):
        m.status_post("mock 503", visibility="unlisted")
    assert mastodon.mock_faults.list() == []
    m.status_post("mock ok again", visibility="unlisted")


# ============================================================================ full network


@pytest.mark.network
def test_network_get_post_thread_via_appview(atproto_network):
    from atproto import models

    net = atproto_network
    client = login(net.pds_url, net.account)
    did = client._session.did
    root = client.send_post("On this day: root", langs=["en"], profile_identify=did)
    ref = models.create_strong_ref(root)
    reply = client.send_post(
        "On this day: reply",
        langs=["en"],
        profile_identify=did,
        reply_to=models.AppBskyFeedPost.ReplyRef(parent=ref, root=ref),
    )
    deadline = time.monotonic() + 20
    while True:  # the AppView indexes the firehose asynchronously
        try:
            thread = client.get_post_thread(root.uri, depth=5).thread
            if thread.replies:
                break
        except Exception:
            if time.monotonic() > deadline:
                raise
        assert time.monotonic() < deadline, "AppView did not index the reply in time"
        time.sleep(0.1)
    assert thread.post.uri == root.uri
    assert [r.post.uri for r in thread.replies] == [reply.uri]
    r = httpx.get(
        f"{net.appview_url}/xrpc/app.bsky.feed.getPostThread", params={"uri": root.uri}, timeout=10
    )
    assert r.status_code == 200 and r.json()["thread"]["post"]["uri"] == root.uri
    assert net.faults.count("com.atproto.repo.createRecord") == 2
