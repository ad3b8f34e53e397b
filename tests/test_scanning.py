"""Listing the posts folder, ahead of time in a child process, and trusting the index only
when the folder is exactly as it says."""

from __future__ import annotations

import os
import time

from support import write_post

from bot.content import scanning
from bot.content.corpus import Corpus
from bot.launch import listing_options, start_listing


def make_posts(folder, count: int = 5) -> None:
    for n in range(count):
        write_post(
            folder, f"m{n % 2}/e{n}.md", f"date: 1900-01-{n + 1:02d}\ntitle: Event {n}", "Story."
        )
    (folder / ".hidden").mkdir()
    write_post(folder / ".hidden", "x.md", "date: 1900-01-01\ntitle: hidden", "Story.")
    (folder / "notes.txt").write_text("not a post")


def indexed(posts, cache) -> Corpus:
    """A posts folder with its index saved."""
    make_posts(posts)
    corpus = Corpus(posts, cache)
    corpus.refresh()
    corpus.save()
    return corpus


def test_scan_lists_posts_with_signatures(tmp_path):
    make_posts(tmp_path)
    listing = scanning.scan_tree(str(tmp_path))
    assert sorted(listing.rels) == sorted(f"m{n % 2}/e{n}.md" for n in range(5))
    signatures = listing.signatures()
    stat = os.stat(tmp_path / "m0" / "e0.md")
    assert signatures["m0/e0.md"] == (stat.st_mtime_ns, stat.st_size)


def test_prefetched_listing_is_the_same_as_a_direct_one(tmp_path):
    make_posts(tmp_path / "posts")
    scanning.prefetch(tmp_path / "posts")
    taken = scanning.take(tmp_path / "posts")
    assert taken == scanning.scan_tree(str(tmp_path / "posts"))
    assert scanning.take(tmp_path / "posts") is None  # taken once


def test_child_says_unchanged_only_when_the_index_matches(tmp_path):
    posts, cache = tmp_path / "posts", tmp_path / "cache"
    indexed(posts, cache)
    scanning.prefetch(posts, cache)
    assert isinstance(scanning.take(posts), scanning.Unchanged)

    later = time.time() + 10
    os.utime(posts / "m1" / "e1.md", (later, later))
    scanning.prefetch(posts, cache)
    assert isinstance(scanning.take(posts), scanning.Listing)


def test_corpus_uses_an_unchanged_verdict_and_sees_changes(tmp_path):
    posts, cache = tmp_path / "posts", tmp_path / "cache"
    indexed(posts, cache)

    scanning.prefetch(posts, cache)
    again = Corpus(posts, cache)
    assert again.refresh() == []
    assert [e.title for e in again.events_for([102])] == ["Event 1"]

    (posts / "m1" / "e1.md").write_text("---\ndate: 1900-01-02\ntitle: Edited\n---\nStory.\n")
    later = time.time() + 10
    os.utime(posts / "m1" / "e1.md", (later, later))
    scanning.prefetch(posts, cache)
    edited = Corpus(posts, cache)
    assert edited.refresh() == ["m1/e1.md"]
    assert [e.title for e in edited.events_for([102])] == ["Edited"]


def test_a_stale_verdict_is_not_trusted(tmp_path, monkeypatch):
    posts, cache = tmp_path / "posts", tmp_path / "cache"
    indexed(posts, cache)
    # Another process rewrote the index after the child compared: the verdict is about
    # another file, so the corpus lists the folder itself.
    other = Corpus(posts, cache)
    other._load()
    assert other._loaded_stat is not None
    other._loaded_stat = scanning.Unchanged(other._loaded_stat.index_mtime_ns + 1, 0)
    listed = []
    real_scan = scanning.scan_tree
    monkeypatch.setattr(scanning, "scan_tree", lambda root: listed.append(root) or real_scan(root))
    scanning.prefetch(posts, cache)  # the child was forked with the real scan_tree
    assert other.scan() == real_scan(str(posts.absolute()))
    assert listed == [str(posts.absolute())]


def test_entry_point_reads_the_folder_options_of_listing_commands_only():
    assert listing_options(["preview"]) == (None, None)
    assert listing_options(["check", "--config", "a.toml", "--posts=p"]) == ("a.toml", "p")
    assert listing_options(["preview", "--date", "2027-01-16", "--config=b.toml"]) == (
        "b.toml",
        None,
    )
    assert listing_options(["publish", "--config", "a.toml"]) is None
    assert listing_options(["preview", "--help"]) is None
    assert listing_options(["--version"]) is None
    assert listing_options([]) is None
    assert listing_options(["preview", "--config"]) == (None, None)  # click reports it


def test_entry_point_starts_the_listing_a_command_then_takes(tmp_path, monkeypatch):
    make_posts(tmp_path / "posts")
    config = tmp_path / "thisday.toml"
    config.write_text('posts = "posts"\nstate = "state"\n')
    start_listing(["preview", "--config", str(config)])
    taken = scanning.take(tmp_path / "posts")
    assert taken == scanning.scan_tree(str(tmp_path / "posts"))
    start_listing(["publish", "--config", str(config)])
    assert scanning.take(tmp_path / "posts") is None  # nothing started for other commands


def test_a_damaged_index_is_rebuilt_not_trusted(tmp_path):
    posts, cache = tmp_path / "posts", tmp_path / "cache"
    first = indexed(posts, cache)
    saved = first.cache_file.read_bytes()
    for damaged in (saved[: len(saved) // 2], b"\xff" * 8 + saved[8:], b"", b"not an index"):
        first.cache_file.write_bytes(damaged)
        scanning.prefetch(posts, cache)  # the child may find the listing section intact
        again = Corpus(posts, cache)
        assert sorted(again.refresh()) == sorted(f"m{n % 2}/e{n}.md" for n in range(5))
