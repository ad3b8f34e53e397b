"""Bluesky adapter: the whole thread in ONE atomic `com.atproto.repo.applyWrites`.

Every record is built here, with the record key (a TID) and `createdAt` the ledger fixed at
the first attempt; each reply's root/parent strong refs point at CIDs computed locally
(DAG-CBOR, sha256, CIDv1). Followers therefore never see half a thread, and after an
uncertain outcome one `getRecord` of the head says whether the thread exists.

It talks XRPC over httpx (which the atproto SDK itself uses) and encodes with the SDK's
libipld: importing the SDK's client (`atproto_client`) costs ~1 s, more than a whole publish
run may take. From the SDK it takes only `atproto_core`'s CID and AT-URI helpers, which cost
about 1.6 ms to import once pydantic is loaded (the config already loads it).

Every transport failure is turned into a `RetryableError` through `EXCEPTIONS`, and every
HTTP answer other than 200 through `ANSWERS`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import libipld
from atproto_core.cid import CID
from atproto_core.uri import AtUri

from bot import __version__
from bot.config import BlueskyAccount, Settings, read_secret
from bot.ledger.store import Remote, Row
from bot.publishing import media
from bot.publishing.publishers.base import (
    Context,
    Engagement,
    Limits,
    PermanentError,
    Publisher,
    PublishError,
    RetryableError,
    Verified,
)
from bot.state import StateFolder, atomic_write

POST = "app.bsky.feed.post"
MAX_WRITES = 200  # applyWrites' limit per request
REFRESH_MARGIN = 300  # seconds: refresh the access token when it expires sooner
MAX_GRAPHEMES = 300  # app.bsky.feed.post text
MAX_BYTES = 3000
MAX_IMAGES = 4
GET_POSTS_MAX = 25  # app.bsky.feed.getPosts: URIs per request
_AUTH_ERRORS = {"ExpiredToken", "InvalidToken"}
MENTION = "app.bsky.richtext.facet#mention"
HANDLE_TTL = 24 * 3600  # seconds a resolved handle is trusted
UNRESOLVED_TTL = 3600  # ... and an unresolved one: a retry soon after builds the same record
_HANDLES_LOCK = threading.Lock()  # accounts publish on threads; one cache file

log = logging.getLogger("thisday.publish")


@dataclass(frozen=True, slots=True)
class Failure:
    """What a failed request means for us. `message` may use {nsid}, {host} and {name} (the
    exception's type), or for an HTTP answer {problem} (nsid, status, the server's error and
    message). `maybe_sent`: the server may have acted before failing; `wait`: it named a
    time to retry (RateLimit-Reset)."""

    error: type[PublishError]
    message: str
    maybe_sent: bool = False
    wait: bool = False


# The one map from what the transport raises to our errors, looked up in the exception's
# MRO order (httpx.ConnectTimeout is a TimeoutException, not a ConnectError).
EXCEPTIONS: Final[Mapping[type[Exception], Failure]] = {
    httpx.ConnectError: Failure(RetryableError, "{nsid}: cannot connect to {host}"),
    httpx.TimeoutException: Failure(RetryableError, "{nsid}: timed out", maybe_sent=True),
    # e.g. RemoteProtocolError: the answer was lost
    httpx.TransportError: Failure(
        RetryableError, "{nsid}: connection lost ({name})", maybe_sent=True
    ),
}

# HTTP answers other than 200, by status; 5xx not listed here: retryable, maybe sent; any
# other: permanent. (401 and expired tokens are first answered by refreshing the session.)
ANSWERS: Final[Mapping[int, Failure]] = {
    408: Failure(RetryableError, "{problem}"),
    409: Failure(RetryableError, "{problem}"),
    413: Failure(RetryableError, "{problem}"),
    429: Failure(RetryableError, "{problem}", wait=True),
}
_SERVER_ERROR: Final = Failure(RetryableError, "{problem}", maybe_sent=True)
_REFUSED: Final = Failure(PermanentError, "{problem}")


class BlueskyPublisher(Publisher):
    platform = "bluesky"

    def __init__(self, account: BlueskyAccount, context: Context, settings: Settings) -> None:
        self.account = account
        self.context = context
        self.settings = settings
        self.session_file = StateFolder(context.state_dir).session(context.name)
        self._clients: dict[str, httpx.Client] = {}
        self.session: dict[str, Any] = {}
        self.logins = 0  # for tests and metrics: logins are rate limited hard
        self.handles_file = StateFolder(context.state_dir).handles
        self._handles: dict[str, str | None] = {}  # resolved during this run
        self._media: dict[tuple[str, media.Budget], media.Prepared] = {}

    # -- protocol ------------------------------------------------------------------------

    def open(self) -> None:
        stored = self._load_session()
        if stored:
            self.session = stored
            if _expires_in(stored.get("accessJwt", "")) < REFRESH_MARGIN:
                self._refresh_or_login()
            return
        self._login()

    def limits(self) -> Limits:
        return Limits(characters=MAX_GRAPHEMES, bytes=MAX_BYTES, media=MAX_IMAGES)

    def verify(self) -> Verified:
        self.open()
        answer = self._xrpc("GET", "com.atproto.server.getSession")
        return Verified(
            account=f"@{answer.get('handle')}",
            did=str(answer.get("did")),
            pds=str(self.session.get("pds")),
            new_login=bool(self.logins),
        )

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def batch(self, pending: Sequence[Row]) -> list[Row]:
        # One request carries the whole thread; only a thread longer than 200 parts is cut.
        return list(pending[:MAX_WRITES])

    def stamps(self, rows: Sequence[Row]) -> list[str | None]:
        # Real time of the first attempt; parts a millisecond apart so each is distinct.
        base = dt.datetime.now(dt.UTC)
        return [_iso(base + dt.timedelta(milliseconds=n)) for n in range(len(rows))]

    def send(self, rows: Sequence[Row], parent: Row | None, root: Row | None) -> list[Remote]:
        records = self._records(rows, parent, root, upload=True)
        writes = [
            {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": POST,
                "rkey": row.key,  # the part's record key (a TID), fixed at planning
                "value": rec,
            }
            for row, (rec, _) in zip(rows, records, strict=True)
        ]
        answer = self._xrpc(
            "POST",
            "com.atproto.repo.applyWrites",
            body={"repo": self.did, "writes": writes, "validate": True},
        )
        results = answer.get("results") or []
        remotes = []
        for n, (row, (_, cid)) in enumerate(zip(rows, records, strict=True)):
            got = results[n] if n < len(results) else {}
            remote_cid = got.get("cid") or cid
            if remote_cid != cid:
                # Replies were built on our CIDs; a mismatch would break the chain: say so loudly.
                raise PermanentError(
                    f"the server stored part {row.idx} with CID {remote_cid}, expected {cid}: "
                    "reply references may be broken"
                )
            remotes.append(self._remote(row, remote_cid))
        return remotes

    def find(
        self, rows: Sequence[Row], parent: Row | None, root: Row | None
    ) -> list[Remote] | None:
        # applyWrites is atomic: the head tells for the whole batch.
        head = self._get_record(rows[0].key)
        if head is None:
            return None
        records = self._records(rows, parent, root, upload=False)
        remotes = []
        for n, (row, (_, cid)) in enumerate(zip(rows, records, strict=True)):
            stored = head if n == 0 else self._get_record(row.key)
            if stored is None:
                raise PermanentError(f"part {row.idx} is missing although the head exists")
            if stored.get("cid") != cid:
                raise PermanentError(
                    f"part {row.idx} exists with CID {stored.get('cid')}, expected {cid}: "
                    "it was not written by this plan"
                )
            remotes.append(self._remote(row, cid))
        return remotes

    # -- retract and correct ------------------------------------------------------------------

    def delete(self, rows: Sequence[Row]) -> None:
        # One atomic request: followers never see part of a thread gone.
        writes = [
            {"$type": "com.atproto.repo.applyWrites#delete", "collection": POST, "rkey": row.key}
            for row in rows
        ]
        if writes:
            self._xrpc(
                "POST",
                "com.atproto.repo.applyWrites",
                body={"repo": self.did, "writes": writes, "validate": True},
            )

    def existing(self, rows: Sequence[Row]) -> list[bool]:
        return [self._get_record(row.key) is not None for row in rows]

    def replace(self, old: Sequence[Row], new: Sequence[Row]) -> list[Remote]:
        """The old thread's deletes and the new thread's creates in ONE applyWrites: followers
        see the old thread or the new one, never neither or both."""
        records = self._records(new, None, None, upload=True)
        writes: list[dict[str, Any]] = [
            {"$type": "com.atproto.repo.applyWrites#delete", "collection": POST, "rkey": row.key}
            for row in old
        ]
        writes += [
            {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": POST,
                "rkey": row.key,
                "value": rec,
            }
            for row, (rec, _) in zip(new, records, strict=True)
        ]
        if len(writes) > MAX_WRITES:
            raise PermanentError(f"{len(writes)} writes: more than one applyWrites can carry")
        self._xrpc(
            "POST",
            "com.atproto.repo.applyWrites",
            body={"repo": self.did, "writes": writes, "validate": True},
        )
        return [self._remote(row, cid) for row, (_, cid) in zip(new, records, strict=True)]

    # -- records ---------------------------------------------------------------------------

    @property
    def did(self) -> str:
        return str(self.session["did"])

    def _remote(self, row: Row, cid: str) -> Remote:
        profile = self.session.get("handle") or self.did  # the user's handle, shown in URLs
        return Remote(
            uri=self._uri(row.key),
            cid=cid,
            url=f"{self.account.web_url.rstrip('/')}/profile/{profile}/post/{row.key}",
        )

    def _uri(self, rkey: str) -> str:
        return str(AtUri.make(self.did, POST, rkey))

    def _records(
        self, rows: Sequence[Row], parent: Row | None, root: Row | None, *, upload: bool
    ) -> list[tuple[dict[str, Any], str]]:
        """Each part's record and CID; replies point at the previous part's CID."""
        out: list[tuple[dict[str, Any], str]] = []
        root_ref = _ref(root) if root is not None else None
        parent_ref = _ref(parent) if parent is not None else None
        for row in rows:
            payload = row.payload
            if row.created_at is None:
                raise PermanentError(
                    f"part {row.idx} has no createdAt: it was never marked sending"
                )
            record: dict[str, Any] = {
                "$type": POST,
                "text": payload["text"],
                "createdAt": row.created_at,
                "langs": [payload["lang"]],
            }
            facets = self._resolved(payload["text"], payload.get("facets") or [])
            if facets:
                record["facets"] = [
                    {"$type": "app.bsky.richtext.facet", **facet} for facet in facets
                ]
            if parent_ref is not None and root_ref is not None:
                record["reply"] = {"root": root_ref, "parent": parent_ref}
            embed = self._embed(payload, upload)
            if embed:
                record["embed"] = embed
                shows_image = embed["$type"] == "app.bsky.embed.images" or bool(
                    embed.get("external", {}).get("thumb")
                )
                if payload.get("cw") and shows_image:
                    record["labels"] = {
                        "$type": "com.atproto.label.defs#selfLabels",
                        "values": [{"val": "graphic-media"}],
                    }
            cid = record_cid(record)
            uri = self._uri(row.key)
            out.append((record, cid))
            parent_ref = {"uri": uri, "cid": cid}
            if root_ref is None:
                root_ref = parent_ref
        return out

    def _embed(self, payload: dict[str, Any], upload: bool) -> dict[str, Any] | None:
        """One embed per post: the link card with the image as its thumbnail (card_image),
        else the images, else the plain link card."""
        card = payload.get("card")
        pictures = _pictures(payload)
        if card and card.get("thumb"):
            blob, _ = self._blob(card["thumb"], media.BLUESKY_THUMB, upload)
            return {
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": card["uri"],
                    "title": card["title"],
                    "description": card["description"],
                    "thumb": blob,
                },
            }
        if pictures:
            images = []
            for picture in pictures[:MAX_IMAGES]:
                blob, prepared = self._blob(picture["path"], media.BLUESKY_IMAGE, upload)
                images.append(
                    {
                        "alt": picture.get("alt") or "",
                        "image": blob,
                        "aspectRatio": {"width": prepared.width, "height": prepared.height},
                    }
                )
            return {"$type": "app.bsky.embed.images", "images": images}
        if card:
            return {
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": card["uri"],
                    "title": card["title"],
                    "description": card["description"],
                },
            }
        return None

    def _blob(
        self, path: str, budget: media.Budget, upload: bool
    ) -> tuple[dict[str, Any], media.Prepared]:
        """The image as a blob reference (uploaded when `upload`): oriented, without metadata,
        within `budget`. The same file gives the same bytes, so `find` gets the same CID."""
        prepared = self._media.get((path, budget))
        if prepared is None:
            try:
                prepared = self._media[(path, budget)] = media.prepare(path, budget)
            except media.MediaError as exc:
                raise PermanentError(f"image {Path(path).name}: {exc}") from None
        link = blob_cid(prepared.data)
        blob: dict[str, Any] = {
            "$type": "blob",
            "ref": {"$link": link},
            "mimeType": prepared.mime,
            "size": len(prepared.data),
        }
        if upload:
            # Blobs no record references are collected within minutes: upload every attempt.
            answer = self._xrpc(
                "POST",
                "com.atproto.repo.uploadBlob",
                content=prepared.data,
                content_type=prepared.mime,
            )
            if answer.get("blob", {}).get("ref", {}).get("$link") != link:
                raise PermanentError("the server stored the image under another CID")
        return blob, prepared

    # -- mentions ----------------------------------------------------------------------------

    def _resolved(self, text: str, facets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The facets with each mention's DID filled in; a mention whose handle does not
        resolve is dropped (its text stays, plain) and the log says so."""
        if not any(_is_open_mention(facet) for facet in facets):
            return facets
        encoded = text.encode("utf-8")
        out = []
        for facet in facets:
            if not _is_open_mention(facet):
                out.append(facet)
                continue
            index = facet["index"]
            shown = encoded[index["byteStart"] : index["byteEnd"]].decode("utf-8", "replace")
            handle = shown.removeprefix("@").lower()
            did = self._resolve(handle)
            if did is None:
                log.warning(
                    "@%s does not resolve to an account on %s: left as plain text",
                    handle,
                    self.session.get("pds") or self.account.server,
                    extra={"account": self.context.name},
                )
                continue
            out.append({**facet, "features": [{"$type": MENTION, "did": did}]})
        return out

    def _resolve(self, handle: str) -> str | None:
        """The DID of `handle` (com.atproto.identity.resolveHandle on the account's PDS),
        from the state folder's cache while it is fresh; None when it does not resolve."""
        if handle in self._handles:
            return self._handles[handle]
        now = time.time()
        with _HANDLES_LOCK:
            cached = _read_handles(self.handles_file).get(handle)
        if isinstance(cached, dict) and float(cached.get("until", 0)) > now:
            did = cached.get("did")
            self._handles[handle] = did if isinstance(did, str) else None
            return self._handles[handle]
        try:
            answer = self._xrpc(
                "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
            )
            found = answer.get("did")
            did = found if isinstance(found, str) and found.startswith("did:") else None
        except PermanentError:  # 400 "Unable to resolve handle": no such account
            did = None
        ttl = HANDLE_TTL if did else UNRESOLVED_TTL
        with _HANDLES_LOCK:
            known = _read_handles(self.handles_file)
            known = {k: v for k, v in known.items() if float(v.get("until", 0)) > now}
            known[handle] = {"did": did, "until": now + ttl}
            with contextlib.suppress(OSError):  # a cache: an unwritable one costs a lookup
                atomic_write(self.handles_file, json.dumps(known, sort_keys=True))
        self._handles[handle] = did
        return did

    def _get_record(self, rkey: str) -> dict[str, Any] | None:
        try:
            return self._xrpc(
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": self.did, "collection": POST, "rkey": rkey},
            )
        except PermanentError as exc:
            if "RecordNotFound" in str(exc) or "Could not locate record" in str(exc):
                return None
            raise

    def engagement(self, rows: Sequence[Row]) -> list[Engagement | None]:
        """`app.bsky.feed.getPosts` through the account's AppView (`appview`), 25 URIs per
        request, without a session: counts are public, and logins are rate limited hard. A
        post the AppView does not return is gone (None)."""
        out: list[Engagement | None] = []
        for start in range(0, len(rows), GET_POSTS_MAX):
            chunk = rows[start : start + GET_POSTS_MAX]
            uris = [row.uri for row in chunk if row.uri]
            views: dict[str, dict[str, Any]] = {}
            if uris:
                answer = self._xrpc(
                    "GET",
                    "app.bsky.feed.getPosts",
                    params={"uris": uris},
                    auth=None,
                    base=self.account.appview,
                )
                views = {str(v.get("uri")): v for v in answer.get("posts") or []}
            for row in chunk:
                view = views.get(row.uri or "")
                out.append(
                    None
                    if view is None
                    else Engagement(
                        likes=int(view.get("likeCount") or 0),
                        reposts=int(view.get("repostCount") or 0),
                        replies=int(view.get("replyCount") or 0),
                        quotes=int(view.get("quoteCount") or 0),
                    )
                )
        return out

    # -- session -----------------------------------------------------------------------------

    def _load_session(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.session_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("server") != self.account.server or data.get("login") != self.account.handle:
            return None  # the config now names another account or server
        return (
            data if data.get("accessJwt") and data.get("refreshJwt") and data.get("did") else None
        )

    def _save_session(self) -> None:
        self.session_file.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.session_file.parent, 0o700)
        atomic_write(self.session_file, json.dumps(self.session), mode=0o600)

    def _login(self) -> None:
        password = read_secret(
            self.account.password_env, self.account.password_file, self.settings.base
        )
        if not password:
            where = (
                f"${self.account.password_env}"
                if self.account.password_env
                else str(self.account.password_file)
            )
            raise PermanentError(f"no password and no stored session: set {where}")
        answer = self._xrpc(
            "POST",
            "com.atproto.server.createSession",
            body={"identifier": self.account.handle, "password": password},
            auth=None,
            base=self.account.server,
        )
        self.logins += 1
        self._adopt(answer)

    def _refresh_or_login(self) -> None:
        try:
            answer = self._xrpc(
                "POST",
                "com.atproto.server.refreshSession",
                auth=self.session["refreshJwt"],
                retry_auth=False,
            )
        except PermanentError:
            self._login()  # the refresh token expired or was revoked
            return
        self._adopt(answer)

    def _adopt(self, answer: dict[str, Any]) -> None:
        pds = _pds_endpoint(answer.get("didDoc")) or self.session.get("pds") or self.account.server
        self.session = {
            "server": self.account.server,
            "login": self.account.handle,
            "did": answer["did"],
            "handle": answer.get("handle") or self.account.handle,
            "accessJwt": answer["accessJwt"],
            "refreshJwt": answer["refreshJwt"],
            "pds": pds.rstrip("/"),
        }
        self._save_session()

    # -- transport ---------------------------------------------------------------------------

    def _client(self, url: str) -> httpx.Client:
        """One kept-alive client per scheme. Plain http (a PDS on loopback) skips building a
        TLS context, whose certificate loading costs more than a whole local publish."""
        scheme = "https" if url.startswith("https:") else "http"
        client = self._clients.get(scheme)
        if client is None:
            client = self._clients[scheme] = httpx.Client(
                timeout=self.context.timeout,
                headers={"User-Agent": f"thisday/{__version__}"},
                verify=scheme == "https",
            )
        return client

    def _xrpc(
        self,
        method: str,
        nsid: str,
        *,
        params: dict[str, str | list[str]] | None = None,
        body: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        auth: str | bool | None = True,
        base: str | None = None,
        retry_auth: bool = True,
    ) -> dict[str, Any]:
        url = f"{(base or self.session.get('pds') or self.account.server).rstrip('/')}/xrpc/{nsid}"
        headers: dict[str, str] = {}
        token = self.session.get("accessJwt") if auth is True else auth
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = self._client(url).request(
                method, url, params=params, json=body, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise _translate(exc, nsid, url) from None
        if response.status_code == 200:
            return response.json() if response.content else {}
        error, message = _error_of(response)
        if retry_auth and auth is True and (response.status_code == 401 or error in _AUTH_ERRORS):
            self._refresh_or_login()
            return self._xrpc(
                method,
                nsid,
                params=params,
                body=body,
                content=content,
                content_type=content_type,
                retry_auth=False,
            )
        problem = f"{nsid}: {response.status_code} {error}: {message}".rstrip(": ")
        status = response.status_code
        failure = ANSWERS.get(status) or (_SERVER_ERROR if status >= 500 else _REFUSED)
        raise failure.error(
            failure.message.format(problem=problem),
            maybe_sent=failure.maybe_sent,
            retry_after=_reset_in(response) if failure.wait else None,
        )


def _translate(exc: httpx.TransportError, nsid: str, url: str) -> PublishError:
    """What a transport failure means, by `EXCEPTIONS` (MRO order)."""
    for cls in type(exc).__mro__:
        failure = EXCEPTIONS.get(cls)
        if failure is not None:
            message = failure.message.format(nsid=nsid, host=_host(url), name=type(exc).__name__)
            return failure.error(message, maybe_sent=failure.maybe_sent)
    raise AssertionError("httpx.TransportError is in EXCEPTIONS")  # pragma: no cover


def _pictures(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The head post's images: the "images" list, or the one "image" of older ledger rows."""
    pictures = payload.get("images")
    if isinstance(pictures, list) and pictures:
        return pictures
    return [payload["image"]] if payload.get("image") else []


def _is_open_mention(facet: dict[str, Any]) -> bool:
    features = facet.get("features") or []
    return bool(features) and features[0].get("$type") == MENTION and not features[0].get("did")


def _read_handles(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, dict)}


def record_cid(record: dict[str, Any]) -> str:
    """CIDv1 (dag-cbor, sha2-256) of a record, as the PDS will compute it."""
    digest = hashlib.sha256(libipld.encode_dag_cbor(_ipld(record))).digest()
    return _cid_string(b"\x01\x71\x12\x20" + digest)


def blob_cid(data: bytes) -> str:
    """CIDv1 (raw, sha2-256) of a blob."""
    return _cid_string(b"\x01\x55\x12\x20" + hashlib.sha256(data).digest())


def _cid_string(raw: bytes) -> str:
    """The CID's string form (multibase base32, "b" prefix)."""
    return str(CID.from_decoded_bytes(raw).encode())


def _ipld(value: Any) -> Any:
    """JSON form → IPLD data model: {"$link": cid} becomes a CID link."""
    if isinstance(value, dict):
        if set(value) == {"$link"}:
            return _cid_bytes(value["$link"])
        return {k: _ipld(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ipld(v) for v in value]
    return value


def _cid_bytes(cid: str) -> bytes:
    _, raw = libipld.decode_multibase(cid)
    return raw


def _ref(row: Row) -> dict[str, str]:
    if not row.uri or not row.cid:
        raise PublishError(f"part {row.idx} has no uri/cid to reply to")
    return {"uri": row.uri, "cid": row.cid}


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _expires_in(jwt: str) -> float:
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - time.time()
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0


def _pds_endpoint(did_doc: Any) -> str | None:
    if not isinstance(did_doc, dict):
        return None
    for service in did_doc.get("service") or []:
        if isinstance(service, dict) and str(service.get("id", "")).endswith("#atproto_pds"):
            endpoint = service.get("serviceEndpoint")
            return endpoint if isinstance(endpoint, str) else None
    return None


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        data = response.json()
    except ValueError:
        return "", response.reason_phrase
    if not isinstance(data, dict):
        return "", response.reason_phrase
    return str(data.get("error") or ""), str(data.get("message") or "")


def _reset_in(response: httpx.Response) -> float | None:
    reset = response.headers.get("RateLimit-Reset") or response.headers.get("ratelimit-reset")
    try:
        return max(0.0, float(reset) - time.time()) if reset else None
    except ValueError:
        return None


def _host(url: str) -> str:
    return httpx.URL(url).host
