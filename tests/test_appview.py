"""End to end, as a follower sees it: publish to the PDS of a full atproto network, then read
the thread back through the AppView (`app.bsky.feed.getPostThread`) from another account."""

from __future__ import annotations

import json
import time

import pytest
from support import thisday, write_config, write_post

pytestmark = [pytest.mark.servers, pytest.mark.network]


def test_follower_reads_the_whole_thread_through_the_appview(tmp_path, atproto_network):
    from atproto import Client

    author = atproto_network.new_account()
    follower = atproto_network.new_account()
    write_config(
        tmp_path,
        accounts=f"""
        [accounts.sky]
        platform = "bluesky"
        server = "{atproto_network.pds_url}"
        handle = "{author.handle}"
        password_env = "TEST_BSKY_PASSWORD"
        """,
    )
    write_post(
        tmp_path / "posts",
        "apollo.md",
        """
        date: 1969-07-20
        title: Apollo 11 lands on the Moon
        summary: Eagle touched down in the Sea of Tranquility; Armstrong and Aldrin walked out.
        tags: [space, Apollo11]
        link: https://en.wikipedia.org/wiki/Apollo_11
        """,
        """
        The lunar module Eagle landed at 20:17 UTC with under a minute of descent fuel to spare,
        after Armstrong steered it past a boulder field by hand.

        Six and a half hours later Armstrong stepped onto the surface, and Aldrin followed him.
        They spent about two and a half hours outside, collecting samples and setting up
        experiments. #space

        Michael Collins orbited alone in Columbia meanwhile. All three splashed down in the
        Pacific on 24 July. https://www.nasa.gov/mission/apollo-11/
        """,
    )
    config = str(tmp_path / "thisday.toml")
    env = {"TEST_BSKY_PASSWORD": author.password}
    preview = json.loads(
        thisday("preview", "--date", "2027-07-20", "--json", "--config", config).stdout
    )
    expected = preview["posts"][0]["parts"]
    assert len(expected) >= 3

    done = thisday("publish", "--date", "2027-07-20", "--json", "--config", config, env=env)
    assert done.returncode == 0, done.stderr
    root_uri = json.loads(done.stdout)["results"][0]["parts"][0]["uri"]

    reader = Client(base_url=atproto_network.pds_url)
    reader.login(follower.handle, follower.password)
    deadline = time.monotonic() + 30
    while True:  # the AppView indexes the firehose asynchronously
        try:
            thread = reader.get_post_thread(root_uri, depth=20).thread
            if _depth(thread) == len(expected):
                break
        except Exception:
            thread = None
        if time.monotonic() > deadline:
            pytest.fail(f"the AppView did not show the whole thread in time: {thread}")
        time.sleep(0.2)

    node = thread
    for n, part in enumerate(expected):
        post = node.post
        assert post.record.text == part["text"]
        assert post.author.handle == author.handle
        assert post.record.langs == ["en"]
        facets = [f.model_dump(by_alias=True, exclude_none=True) for f in post.record.facets or []]
        assert [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in facets] == [
            (f["index"]["byteStart"], f["index"]["byteEnd"]) for f in part["facets"]
        ]
        if n == 0:
            assert post.embed.external.uri == "https://en.wikipedia.org/wiki/Apollo_11"
            assert post.embed.external.title == "Apollo 11 lands on the Moon"
        replies = node.replies or []
        assert len(replies) == (1 if n < len(expected) - 1 else 0), "replies must form one chain"
        node = replies[0] if replies else None


def _depth(thread) -> int:
    depth = 0
    while thread is not None:
        depth += 1
        replies = getattr(thread, "replies", None) or []
        thread = replies[0] if replies else None
    return depth
