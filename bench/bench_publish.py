"""Publishing speed against the loopback servers (a real atproto PDS and mastodon-mock).

For each round, a head post + 4-part thread goes to one Mastodon and one Bluesky account:

  bare     the same writes as bare HTTP requests (httpx, kept-alive connections): one
           applyWrites on Bluesky and 5 chained POST /api/v1/statuses on Mastodon, the two
           accounts concurrently — the floor any client pays
  library  the same, with Mastodon.py's public status_post on Mastodon (which the adapter
           must use): the floor of a client built on that library
  pipeline thisday's Pipeline.publish in this process (selection, rendering, ledger,
           stored session, both accounts concurrently)
  process  a whole `thisday publish` command, start to exit

    python bench/bench_publish.py [--rounds 10]

Needs the test servers installed (.ci/setup-servers.sh).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from mastodon import Mastodon

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from loopback import MastodonServer, PdsServer, install_problem  # noqa: E402

from bot.publishing.keys import new_keys  # noqa: E402
from bot.publishing.pipeline import Pipeline  # noqa: E402
from bot.publishing.publishers.bluesky import record_cid  # noqa: E402
from bot.workspace import Workspace  # noqa: E402

PARAGRAPH = (
    "Paragraph {n} of the story for day {day}: a plain sentence about what happened, "
    "long enough to stand as a reply of its own. Another sentence adds detail, so that "
    "each paragraph lands in one part on both networks, as a real thread would."
)


def accounts_toml(mastodon_url: str, pds_url: str, handle: str) -> str:
    """One Mastodon and one Bluesky account, credentials from BENCH_* variables; the
    Mastodon limit makes each story paragraph one part on both networks."""
    return f"""
[accounts.masto]
platform = "mastodon"
server = "{mastodon_url}"
token_env = "BENCH_MASTODON_TOKEN"
limit = 300

[accounts.sky]
platform = "bluesky"
server = "{pds_url}"
handle = "{handle}"
password_env = "BENCH_BSKY_PASSWORD"
"""


def write_site(folder: Path, days: list[dt.date], mastodon: MastodonServer, pds: PdsServer) -> Path:
    posts = folder / "posts"
    posts.mkdir(parents=True)
    for day in days:
        story = "\n\n".join(PARAGRAPH.format(n=n, day=day) for n in range(1, 5))
        (posts / f"{day.isoformat()}.md").write_text(
            f"---\ndate: 1900-{day.month:02d}-{day.day:02d}\ntitle: Benchmark event of {day}\n"
            f"summary: A head post for the benchmark.\ntags: [bench]\n---\n{story}\n"
        )
    config = folder / "thisday.toml"
    config.write_text(
        f"""
timezone = "UTC"
posts = "posts"
state = "state"
templates = "{ROOT / "config" / "templates"}"
{accounts_toml(mastodon.url, pds.url, pds.account.handle)}"""
    )
    return config


def bluesky_writes(sky: httpx.Client, did: str, texts: list[str]) -> None:
    """The head post and its replies in one applyWrites, as bare XRPC."""
    created = dt.datetime.now(dt.UTC)
    writes, root, parent = [], None, None
    for n, (text, rkey) in enumerate(zip(texts, new_keys("bluesky", len(texts)), strict=True)):
        stamp = (created + dt.timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        record = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": stamp,
            "langs": ["en"],
        }
        if parent:
            record["reply"] = {"root": root, "parent": parent}
        ref = {"uri": f"at://{did}/app.bsky.feed.post/{rkey}", "cid": record_cid(record)}
        root, parent = root or ref, ref
        writes.append(
            {"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
             "rkey": rkey, "value": record}
        )  # fmt: skip
    sky.post(
        "/xrpc/com.atproto.repo.applyWrites", json={"repo": did, "writes": writes}
    ).raise_for_status()


def bare_round(masto: httpx.Client, sky: httpx.Client, did: str, texts: list[str]) -> float:
    """The same five writes per network with nothing but HTTP: the floor."""

    def mastodon_writes() -> None:
        parent = None
        for text in texts:
            data = {"status": text, "visibility": "public"}
            if parent:
                data["in_reply_to_id"] = parent
            response = masto.post("/api/v1/statuses", data=data)
            response.raise_for_status()
            parent = response.json()["id"]

    return concurrently(mastodon_writes, lambda: bluesky_writes(sky, did, texts))


def library_round(api: Mastodon, sky: httpx.Client, did: str, texts: list[str]) -> float:
    """The floor with Mastodon.py's public `status_post` in place of bare HTTP on Mastodon
    (what the adapter must use): the library's own cost, and nothing of thisday's."""

    def mastodon_writes() -> None:
        parent = None
        for text in texts:
            key = new_keys("mastodon", 1)[0]
            status = api.status_post(
                text, in_reply_to_id=parent, visibility="public", idempotency_key=key
            )
            parent = status["id"]

    return concurrently(mastodon_writes, lambda: bluesky_writes(sky, did, texts))


def concurrently(*work: Callable[[], None]) -> float:
    """Wall time of running each of `work` on its own thread, all at once."""
    start = time.perf_counter()
    threads = [threading.Thread(target=one) for one in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--profile", metavar="FILE", help="write a cProfile of one in-process publish"
    )
    args = parser.parse_args()
    problem = install_problem("pds")
    if problem:
        print(problem, file=sys.stderr)
        return 1
    logs = Path(tempfile.mkdtemp(prefix="thisday-bench-"))
    pds, mastodon = PdsServer(logs), MastodonServer(logs)
    try:
        return run(args.rounds, logs, pds, mastodon, args.profile)
    finally:
        pds.stop()
        mastodon.stop()


def run(
    rounds: int, folder: Path, pds: PdsServer, mastodon: MastodonServer, profile: str | None
) -> int:
    _, token = mastodon.new_account()
    days = [dt.date(2027, 1, 1) + dt.timedelta(days=n) for n in range(2 * rounds + 1)]
    config = write_site(folder / "site", days, mastodon, pds)
    env = {"BENCH_MASTODON_TOKEN": token, "BENCH_BSKY_PASSWORD": pds.account.password}
    os.environ.update(env)

    # Warm-up: logs in once, stores the session, caches the instance's limits.
    first = Pipeline(Workspace(config))
    assert all(r.status == "published" for r in first.publish(days[0]))
    first.close()
    preview = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "preview",
            "--json",
            "--config",
            str(config),
            "--date",
            days[0].isoformat(),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    texts = [p["text"] for p in json.loads(preview.stdout)["posts"][0]["parts"]]
    assert len(texts) == 5, f"expected a head post + 4 parts, got {len(texts)}"

    session = json.loads((folder / "site" / "state" / "sessions" / "sky.json").read_text())
    masto_http = httpx.Client(base_url=mastodon.url, headers={"Authorization": f"Bearer {token}"})
    sky_http = httpx.Client(
        base_url=pds.url, headers={"Authorization": f"Bearer {session['accessJwt']}"}
    )
    masto_api = Mastodon(access_token=token, api_base_url=mastodon.url, version_check_mode="none")
    bare, library, inproc, process = [], [], [], []
    for n in range(rounds):
        bare.append(bare_round(masto_http, sky_http, session["did"], texts))
        library.append(library_round(masto_api, sky_http, session["did"], texts))
        pipeline = Pipeline(Workspace(config))
        start = time.perf_counter()
        results = pipeline.publish(days[1 + 2 * n])
        inproc.append(time.perf_counter() - start)
        pipeline.close()
        assert [r.status for r in results] == ["published", "published"], results
        assert all(len(r.parts) == 5 for r in results)
        start = time.perf_counter()
        day = days[2 + 2 * n].isoformat()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "publish", "--config", str(config), "--date", day],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
        process.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr

    if profile:
        import cProfile

        pipeline = Pipeline(Workspace(config))
        extra = dt.date(2027, 12, 1)
        (folder / "site" / "posts" / "extra.md").write_text(
            (folder / "site" / "posts" / f"{days[1].isoformat()}.md")
            .read_text()
            .replace(f"date: 1900-{days[1].month:02d}-{days[1].day:02d}", "date: 1900-12-01")
        )
        cProfile.runctx("pipeline.publish(extra)", globals(), locals(), profile)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:7.1f} ms (min {min(values) * 1000:.1f})"

    print(f"rounds: {rounds}; head + 4 parts to Mastodon (5 statuses) and Bluesky (1 applyWrites)")
    print(f"bare HTTP, accounts concurrent   {ms(bare)}")
    print(f"the same, Mastodon.py on Mastodon {ms(library)}")
    ratio = statistics.median(inproc) / statistics.median(bare)
    library_ratio = statistics.median(inproc) / statistics.median(library)
    print(
        f"Pipeline.publish in process      {ms(inproc)}   {ratio:.2f}x the bare floor,"
        f" {library_ratio:.2f}x the library floor"
    )
    print(f"`thisday publish` whole process  {ms(process)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
