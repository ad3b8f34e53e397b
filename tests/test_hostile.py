"""Hostile and careless input (issue 13): every case is bounded, contained and named — never a
hang, a silent drop or a leak. Each test builds its own fixtures."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from support import png, thisday, write_config, write_post

from bot import config as config_module
from bot.cli.common import EscapingStream
from bot.content import scanning
from bot.content.corpus import Corpus, read_post
from bot.content.post import Problem, parse, shown
from bot.logs import escape

GOOD = "date: 1928-01-16\ntitle: Trotsky exiled\nsummary: Sent to Alma-Ata."


def site(tmp_path: Path, accounts: str = "", extra: str = "") -> Path:
    config = write_config(tmp_path, accounts=accounts, extra=extra)
    write_post(tmp_path / "posts", "01/good.md", GOOD, "A story.")
    return config


def check(config: Path, *args: str) -> tuple[int, list[str]]:
    done = thisday("check", "--config", str(config), *args, cwd=config.parent, timeout=60)
    return done.returncode, (done.stdout + done.stderr).splitlines()


def problem_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if ": error: " in line or ": warning: " in line]


# -- 1, 2: scanning is contained and complete -------------------------------------------------


@pytest.mark.parametrize(
    "links",
    [
        [(".", "a"), (".", "b")],  # the reproduction: two links to the folder itself
        [("..", "up")],  # a link out of the folder
        [("loopy", "loopy")],  # a self-link (ELOOP)
        [("b2", "a2"), ("a2", "b2")],  # a two-link loop
        [("nowhere.md", "dangling.md")],  # a dangling post link
        [("01", "alias")],  # a second name for a real folder
    ],
)
def test_links_in_the_posts_folder_end_and_are_named(tmp_path, links):
    config = site(tmp_path)
    posts = tmp_path / "posts"
    for target, name in links:
        os.symlink(target, posts / name)
    code, lines = check(config)
    assert code == 1
    named = problem_lines(lines)
    for _, name in links:
        assert any(line.startswith(f"posts/{name}") and ": error: " in line for line in named), (
            name,
            lines,
        )
    assert "1 file, 1 event" in lines[-1]  # the good post is still there, once


def test_a_self_link_does_not_hide_the_other_folders(tmp_path):
    config = site(tmp_path)
    write_post(tmp_path / "posts", "02/other.md", "date: 1928-01-17\ntitle: T\nsummary: S")
    os.symlink("loopy", tmp_path / "posts" / "loopy")
    code, lines = check(config)
    assert code == 1 and "2 files, 2 events" in lines[-1]
    assert "posts/loopy:1: error: link loop: not followed" in lines


def test_links_inside_the_folder_are_followed_and_outside_ones_are_not(tmp_path):
    config = site(tmp_path)
    outside = tmp_path / "elsewhere"
    write_post(outside, "secret.md", "date: 1928-01-18\ntitle: Outside\nsummary: TOPSECRET")
    hidden = tmp_path / "posts" / ".drafts"
    write_post(hidden, "kept.md", "date: 1928-01-19\ntitle: Kept\nsummary: S")
    os.symlink(outside, tmp_path / "posts" / "out")
    os.symlink(outside / "secret.md", tmp_path / "posts" / "secret.md")
    os.symlink(".drafts", tmp_path / "posts" / "drafts")
    code, lines = check(config)
    assert code == 1
    assert "2 files, 2 events" in lines[-1]  # good.md and drafts/kept.md
    text = "\n".join(lines)
    assert "TOPSECRET" not in text and str(outside) not in text
    assert "posts/out:1: error: link leads outside the posts folder: not followed" in lines
    assert "posts/secret.md:1: error: link leads outside the posts folder: not followed" in lines


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folders_are_errors(tmp_path):
    config = site(tmp_path)
    locked = tmp_path / "posts" / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        code, lines = check(config)
    finally:
        locked.chmod(0o755)
    assert code == 1 and any(line.startswith("posts/locked/") for line in problem_lines(lines))


def test_an_unlistable_folder_is_a_problem_not_a_gap(tmp_path, monkeypatch):
    posts = tmp_path / "posts"
    write_post(posts, "a/x.md", GOOD)
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if str(path).rstrip("/").endswith("/a") and flags & os.O_DIRECTORY:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    listing = scanning.scan_tree(str(posts))
    assert listing.rels == []
    assert listing.problems == [("a/", "cannot list this folder: Permission denied")]


def test_an_over_long_path_is_named(tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    deep = posts
    # Build a path longer than PATH_MAX one folder at a time (relative to each folder).
    fd = os.open(posts, os.O_RDONLY)
    try:
        for _ in range(20):
            os.mkdir("d" * 250, dir_fd=fd)
            new = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        with open(os.open("deep.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
            f.write(f"---\n{GOOD}\n---\n")
    finally:
        os.close(fd)
    corpus = Corpus(posts)
    corpus.refresh()
    found = [str(p) for p in corpus.scan_problems()] + [
        str(p) for rel in corpus.entries for p in corpus.problems(rel)
    ]
    assert any("too long" in line for line in found), found
    assert deep.exists()


def test_proc_self_as_the_posts_folder_ends(tmp_path):
    config = write_config(tmp_path)
    text = config.read_text().replace('posts = "posts"', 'posts = "/proc/self"')
    config.write_text(text)
    code, lines = check(config)  # the timeout of `check` above is the hang detector
    assert code == 1 and "0 files" in lines[-1]


def test_a_fifo_swapped_in_is_refused_without_blocking(tmp_path):
    posts = tmp_path / "posts"
    write_post(posts, "x.md", GOOD)
    listing = scanning.scan_tree(str(posts))
    assert listing.rels == ["x.md"]
    (posts / "x.md").unlink()
    os.mkfifo(posts / "x.md")  # after the listing, before the read: what a swap does
    result: list[object] = []
    reader = threading.Thread(target=lambda: result.append(_try_read(str(posts), "x.md")))
    reader.start()
    reader.join(20)
    if reader.is_alive():  # unblock the reader before failing
        with open(posts / "x.md", "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert result == ["not a regular file (a FIFO, device or socket)"]
    # And a FIFO already there when listing is named, never opened.
    again = scanning.scan_tree(str(posts))
    assert again.rels == [] and again.problems == [("x.md", "not a regular file: not read")]


def _try_read(root: str, rel: str) -> str:
    try:
        read_post(root, rel)
    except OSError as exc:
        return str(exc.strerror)
    return "read"


def test_a_fifo_swapping_loop_never_hangs_check(tmp_path):
    config = site(tmp_path)
    target = tmp_path / "posts" / "swap.md"
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            write_post(tmp_path / "posts", "swap.md", GOOD.replace("16", "20"))
            time.sleep(0.001)
            target.unlink()
            os.mkfifo(target)
            time.sleep(0.001)
            target.unlink()

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        for _ in range(5):
            check(config)  # each run has a 60 s timeout: a hang fails the test
    finally:
        stop.set()
        swapper.join()


# -- 3: images and imports are contained -------------------------------------------------------


def test_images_outside_the_posts_folder_get_one_wording(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.png").write_bytes(png(2, 2))
    (tmp_path / "elsewhere" / "notapng.png").write_bytes(b"SECRET CONTENT")
    posts = tmp_path / "posts"
    posts.mkdir()
    messages = []
    for name in (
        str(tmp_path / "elsewhere" / "x.png"),
        str(tmp_path / "elsewhere" / "notapng.png"),
        str(tmp_path / "elsewhere" / "missing.png"),
        "../elsewhere/x.png",
        "../elsewhere/missing.png",
        "/etc/passwd",
        "~/x.png",
    ):
        raw = f"---\n{GOOD}\nimage: {json.dumps(name)}\nalt: a\n---\n".encode()
        parsed = parse(raw, path="p.md", default_id="p", folder=str(posts), root=str(posts))
        assert parsed.event is None
        [problem] = [p for p in parsed.problems if p.severity == "error"]
        messages.append(problem.message.replace(shown(name), "NAME"))
    assert len(set(messages)) == 1, messages
    assert "SECRET" not in messages[0]


def test_a_linked_image_leading_outside_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.png").write_bytes(png(2, 2))
    posts = tmp_path / "posts"
    posts.mkdir()
    os.symlink(tmp_path / "elsewhere" / "x.png", posts / "x.png")
    raw = f"---\n{GOOD}\nimage: x.png\nalt: a\n---\n".encode()
    parsed = parse(raw, path="p.md", default_id="p", folder=str(posts), root=str(posts))
    assert parsed.event is None


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (png(4, 4)[:-30], "truncated or corrupt"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a PNG"),
        (b"GIF89a" + b"\x10\x00\x10\x00" + os.urandom(40), "corrupt"),
        (b"garbage" * 10, "not a PNG"),
    ],
)
def test_broken_images_are_errors(tmp_path, data, fragment):
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "x.png").write_bytes(data)
    raw = f"---\n{GOOD}\nimage: x.png\nalt: a\n---\n".encode()
    parsed = parse(raw, path="p.md", default_id="p", folder=str(posts), root=str(posts))
    assert parsed.event is None
    assert any(fragment in p.message for p in parsed.problems), parsed.problems


def test_a_decompression_bomb_is_an_error(tmp_path):
    import struct
    import zlib

    width = height = 20_000  # 400 MP from a few hundred KB
    row = b"\x00" + b"\x00" * width

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "bomb.png").write_bytes(bomb)
    raw = f"---\n{GOOD}\nimage: bomb.png\nalt: a\n---\n".encode()
    parsed = parse(raw, path="p.md", default_id="p", folder=str(posts), root=str(posts))
    assert parsed.event is None
    assert any("pixels" in p.message for p in parsed.problems), parsed.problems


def test_a_good_image_passes(tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "x.png").write_bytes(png(8, 8))
    raw = f"---\n{GOOD}\nimage: x.png\nalt: a\n---\n".encode()
    parsed = parse(raw, path="p.md", default_id="p", folder=str(posts), root=str(posts))
    assert parsed.event is not None and parsed.event.image == os.path.realpath(posts / "x.png")


# -- 5: secrets are never echoed ---------------------------------------------------------------

SECRET = "Zq9x-PASTED-ACCESS-TOKEN-7Lk2"


@pytest.mark.parametrize(
    "account",
    [
        f'token_env = "{SECRET}"',
        f'token_env = "{SECRET}"\nserver = "{SECRET}"',
        f'token_file = "{SECRET}\\u0007"',
        f'server = "{SECRET}"\ntoken_env = "TOKEN"',
        f'token_env = "my token {SECRET}"',
    ],
)
def test_a_pasted_secret_is_refused_and_never_printed(tmp_path, account):
    lines = ["[accounts.mastodon]", 'platform = "mastodon"']
    if "server" not in account:
        lines.append('server = "https://example.org"')
    lines.append(account)
    config = write_config(tmp_path, accounts="\n".join(lines))
    for command in ("check", "doctor"):
        done = thisday(command, "--config", str(config), timeout=60)
        output = done.stdout + done.stderr
        assert done.returncode != 0
        assert SECRET not in output, output
        assert "Traceback" not in output
    with pytest.raises(config_module.ConfigError) as caught:
        config_module.load(config)
    assert SECRET not in str(caught.value)
    if "_env" in account and "server =" not in account:
        assert config_module.PASTED in str(caught.value)


def test_long_values_are_cut_in_config_messages(tmp_path):
    config = write_config(tmp_path, extra=f'\n[daemon]\nhealth = "{"x" * 500}"\n')
    with pytest.raises(config_module.ConfigError) as caught:
        config_module.load(config)
    assert "x" * 100 not in str(caught.value) and "…" in str(caught.value)


@pytest.mark.parametrize(
    ("section", "setting"),
    [
        ("publishing", "timeout = inf"),
        ("publishing", "timeout = nan"),
        ("publishing", "backoff = 1e300"),
        ("daemon", "retry_every = 1e-300"),
        ("daemon", "retry_max = inf"),
        ("publishing", "attempts = 100000"),
    ],
)
def test_times_and_counts_are_finite_and_sane_and_named_at_their_line(tmp_path, section, setting):
    config = write_config(tmp_path, extra=f"\n[{section}]\n# a comment\n{setting}\n")
    with pytest.raises(config_module.ConfigError) as caught:
        config_module.load(config)
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if text == setting)
    key = setting.split(" ")[0]
    assert f"thisday.toml:{line}: error: {section}.{key}: " in str(caught.value), caught.value


def test_account_keys_are_named_as_written(tmp_path):
    config = write_config(
        tmp_path,
        accounts='[accounts.mastodon]\nplatform = "mastodon"\nserver = "https://x.org"\n'
        "limit = 0\n",
    )
    with pytest.raises(config_module.ConfigError) as caught:
        config_module.load(config)
    assert "accounts.mastodon.limit" in str(caught.value)
    assert "mastodon.mastodon" not in str(caught.value)


# -- 8: size bounds ----------------------------------------------------------------------------


def test_a_huge_post_file_is_refused_without_reading_it(tmp_path):
    config = site(tmp_path)
    with open(tmp_path / "posts" / "huge.md", "wb") as handle:
        handle.write(f"---\n{GOOD.replace('16', '17')}\n---\n".encode())
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB to read, none on disk
    code, lines = check(config)
    assert code == 1
    assert any(
        line.startswith("posts/huge.md:1: error: the file is 51,200 KB") for line in lines
    ), lines


def test_a_one_megabyte_story_is_refused(tmp_path):
    posts = tmp_path / "posts"
    write_post(posts, "long.md", GOOD, "word " * 200_000)
    parsed, _, _ = read_post(str(posts), "long.md")
    assert parsed.event is None
    assert "a post file may be at most 256 KB" in parsed.problems[0].message


# -- 9, 10: text hygiene -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("title: a\x1b]0;owned\x07b", 3),  # OSC in a title
        ("title: a\x00b", 3),
        ("title: a\u202eb", 3),
        ("title: a\x85b", 3),
        ("title: a\u2028b", 3),
        ("title: a\u2066b\u2069", 3),  # isolates: in the story only
        ('title: "a\\eb"', 3),  # a YAML escape
        ("title: T\nsummary: a\x7fb", 4),
        ("title: T\ntags: [a\u202eb]", 4),
    ],
)
def test_control_and_bidi_characters_are_errors_in_fields(text, where):
    raw = f"---\ndate: 1928-01-16\n{text}\n---\nStory.\n".encode()
    parsed = parse(raw, path="p.md", default_id="p")
    assert parsed.event is None
    assert any(p.line == where and p.severity == "error" for p in parsed.problems), parsed.problems


def test_the_story_may_hold_tabs_newlines_and_isolates_but_not_overrides():
    ok = parse(
        f"---\n{GOOD}\n---\nA\tstory \u2067\u05e2\u05d1\u2069.\n\nMore.\n".encode(),
        path="p.md",
        default_id="p",
    )
    assert ok.event is not None
    bad = parse(
        f"---\n{GOOD}\n---\nline\n\nA \u202e story\x1b[2J.\n".encode(), path="p.md", default_id="p"
    )
    assert bad.event is None
    assert [p.line for p in bad.problems if p.severity == "error"] == [8, 8]


def test_every_printed_line_escapes_what_a_file_name_holds(tmp_path):
    config = site(tmp_path)
    name = "evil\nx.md:1: error: forged\x1b]0;owned\x07.md"
    (tmp_path / "posts" / name).write_text(f"---\n{GOOD}\n---\n")
    _, lines = check(config)
    assert not any(line.startswith("x.md") for line in lines)
    assert not any("\x1b]" in line or "\x07" in line for line in lines)
    assert any("evil\\nx.md:1: error: forged\\x1b]0;owned\\x07.md" in line for line in lines)


def test_problem_lines_and_the_stream_escape_controls():
    problem = Problem("a\nb\x1b.md", 1, "error", "bad \u202e value\x9b")
    assert str(problem) == "a\\nb\\x1b.md:1: error: bad \\u202e value\\u009b"
    out = io.StringIO()
    stream = EscapingStream(out)
    stream.write("ok\n\x1b[31mred\x1b[0m \x1b]0;t\x07 \x7f\u202e " + json.dumps({"k": "\x7f"}))
    assert out.getvalue() == 'ok\n\x1b[31mred\x1b[0m \\x1b]0;t\\x07 \\u007f\\u202e {"k": "\\u007f"}'
    assert escape("plain") == "plain"


def test_duplicate_keys_name_both_lines():
    parsed = parse(f"---\n{GOOD}\ntitle: Again\n---\n".encode(), path="p.md", default_id="p")
    assert parsed.event is None
    assert any(
        p.line == 5 and "'title' is set twice (lines 3 and 5)" in p.message for p in parsed.problems
    )


@pytest.mark.parametrize(
    ("front", "fragment"),
    [
        ("date: 0000-01-25", "no year 0"),
        ('date: "01-25"\nyear: 0', "no year 0"),
        ('date: "01-25"\nyear: -0', "no year 0"),
        ("date: 2999-01-26", "in the future"),
        ('date: "01-26"\nyear: 99999999999999999999', "in the future"),
        ('date: "01-26"\nyear: -10001', "before 10000 BC"),
    ],
)
def test_years_are_bounded(front, fragment):
    parsed = parse(f"---\n{front}\ntitle: T\n---\n".encode(), path="p.md", default_id="p")
    assert parsed.event is None
    assert any(fragment in p.message for p in parsed.problems), parsed.problems


@pytest.mark.parametrize(
    ("tags", "severity", "fragment"),
    [
        ("[___]", "error", "must contain a letter"),
        ("['1969']", "error", "not only digits"),
        ("[S\u043eviet]", "warning", "mixes writing systems"),  # a Cyrillic o
        ("[東京タワー]", None, None),  # Han and katakana: one writing system for tags
        ("[Москва]", None, None),
    ],
)
def test_tags_need_a_letter_and_mixed_scripts_are_warned(tags, severity, fragment):
    parsed = parse(f"---\n{GOOD}\ntags: {tags}\n---\n".encode(), path="p.md", default_id="p")
    found = [p for p in parsed.problems if p.line == 5]
    if severity is None:
        assert found == [] and parsed.event is not None
    else:
        assert found and found[0].severity == severity and fragment in found[0].message


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "9001-01-01"])
def test_out_of_range_dates_are_named(tmp_path, day):
    config = site(tmp_path)
    done = thisday("preview", "--date", day, "--config", str(config), timeout=60)
    assert done.returncode == 2
    assert "out of range" in done.stderr and "Traceback" not in done.stderr
    assert "OverflowError" not in done.stderr


def test_a_deeply_nested_json_import_is_a_named_error(tmp_path):
    config = site(tmp_path)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    done = thisday("import", str(deep), "--config", str(config), timeout=60)
    assert done.returncode != 0
    assert f"{deep}:1: error: " in done.stdout + done.stderr
    assert "RecursionError" not in done.stdout + done.stderr


def test_the_check_cache_is_keyed_by_versions(tmp_path, monkeypatch):
    import jinja2

    import bot
    from bot.render.renderer import Renderer

    renderer = Renderer(config_module.load(site(tmp_path)))
    first = renderer.fingerprint()
    monkeypatch.setattr(jinja2, "__version__", "3.1.5")
    assert renderer.fingerprint() != first
    monkeypatch.setattr(bot, "__version__", "9.9.9")
    monkeypatch.setattr("bot.render.renderer.__version__", "9.9.9")
    assert renderer.fingerprint() != first


def test_import_copies_images_only_from_its_folder_and_never_widens_access(tmp_path):
    config = site(tmp_path)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "ok.png").write_bytes(png(4, 4))
    (incoming / "ok.png").chmod(0o600)
    (tmp_path / "private.png").write_bytes(png(4, 4))
    rows = [
        {"date": "1928-01-20", "title": "Ok", "summary": "S", "image": "ok.png", "alt": "a"},
        {"date": "1928-01-21", "title": "Out", "summary": "S", "image": "../private.png",
         "alt": "a"},
        {"date": "1928-01-22", "title": "Abs", "summary": "S",
         "image": str(tmp_path / "private.png"), "alt": "a"},
    ]  # fmt: skip
    source = incoming / "rows.json"
    source.write_text(json.dumps(rows))
    done = thisday("import", str(source), "--config", str(config), timeout=60)
    copies = [p for p in (tmp_path / "posts").rglob("*.png")]
    assert len(copies) == 1, (copies, done.stdout, done.stderr)
    assert copies[0].stat().st_mode & 0o777 == 0o600
    assert done.stdout.count("must be a file under the import file's folder") == 2, done.stdout
    shutil.rmtree(incoming)


# -- 4: operator templates are bounded in time, size and recursion ---------------------------

TWO_ACCOUNTS = (
    '[accounts.m]\nplatform = "mastodon"\nserver = "https://x.org"\ntoken_env = "T"\n'
    '[accounts.b]\nplatform = "bluesky"\nserver = "https://bsky.social"\n'
    'handle = "a.bsky.social"\npassword_env = "P"\n'
)
BOMBS = {
    "nested ranges": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
    "{% endfor %}",
    "loops over the story": "{% for a in story * 10000 %}{% for b in story * 10000 %}{% endfor %}"
    "{% endfor %}",
    "string times a power": "{{ 'x' * 10**10 }}",
    "a huge power": "{{ 10 ** (10 ** 10) }}",
    "list times": "{{ ([1] * 10**9) | length }}",
    "doubling with ~": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "doubling with +": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "doubling with a set block": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set b %}{{ ns.s }}{{ ns.s }}{% endset %}{% set ns.s = b %}{% endfor %}",
    "join method": "{% set ns = namespace(s='xx') %}{% for i in range(64) %}"
    "{% set ns.s = ns.s.join([ns.s, ns.s, ns.s]) %}{% endfor %}",
    "center filter": "{{ title | center(10**10) }}",
    "ljust method": "{{ title.ljust(10**10) }}",
    "indent filter": "{{ story | indent(10**10) }}",
    "format filter width": "{{ '%10000000000s' | format(1) }}",
    "percent star": "{{ '%*d' % (10**10, 1) }}",
    "str.format width": "{{ '{:>10000000000}'.format(1) }}",
    "replace amplifies": "{{ ('x' * 100000).replace('x', 'y' * 100000) }}",
    "slice count": "{{ [1, 2] | slice(10**9) | list | length }}",
    "output too long": "{% for i in range(100000) %}0123456789{% endfor %}",
    "recursive macro": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "includes itself": "{% include 'thread.j2' %}",
    "imports itself": "{% import 'thread.j2' as me with context %}",
    "extends itself": "{% extends 'thread.j2' %}",
}


@pytest.mark.parametrize("bomb", list(BOMBS), ids=list(BOMBS))
def test_template_bombs_end_as_one_named_error(tmp_path, bomb):
    templates = tmp_path / "templates"
    templates.mkdir()
    shutil.copy(config_module.__file__.replace("config.py", "render/defaults/post.j2"), templates)
    (templates / "thread.j2").write_text("{{ story }}\n" + BOMBS[bomb] + "\n", encoding="utf-8")
    config = write_config(tmp_path, accounts=TWO_ACCOUNTS, templates=templates)
    write_post(tmp_path / "posts", "01/good.md", GOOD, "A story.")
    write_post(tmp_path / "posts", "01/other.md", GOOD.replace("16", "17"), "Another.")
    code, lines = check(config)
    assert code == 1
    named = problem_lines(lines)
    # Once, at the template's own line: not once per account or per post, never a traceback.
    assert len(named) == 1, lines
    assert named[0].startswith(f"{templates / 'thread.j2'}:2: error: template stopped: "), named
    assert not any("Traceback" in line or "RecursionError" in line for line in lines)


def test_ordinary_templates_render_as_before_in_the_bounded_sandbox():
    import jinja2

    from bot.render import sandbox

    env = sandbox.BoundedEnvironment(undefined=jinja2.StrictUndefined)
    source = (
        "{% for t in tags %}{{ loop.index }}/{{ loop.length }} {{ t }} {% endfor %}"
        "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ '%05d' % 3 }} {{ tags | join(',') }}"
        " {{ 'a-b'.replace('-', '+') }}|{{ 'x' | center(5) }}|{{ '{:>4}'.format(7) }}"
        " {{ [1, 2] + [3] }} {{ 'a' ~ 1 }}"
    )
    out = sandbox.render(env.from_string(source), dict(env.globals, tags=["a", "b"]))
    assert out == "1/2 a 2/2 b ababab 1024 00003 a,b a+b|  x  |   7 [1, 2, 3] a1"


def test_a_template_error_is_printed_once_not_once_per_account(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    shutil.copy(config_module.__file__.replace("config.py", "render/defaults/post.j2"), templates)
    (templates / "thread.j2").write_text("{{ story }}\n{{ story.nope() }}\n", encoding="utf-8")
    config = write_config(tmp_path, accounts=TWO_ACCOUNTS, templates=templates)
    write_post(tmp_path / "posts", "01/good.md", GOOD, "A story.")
    code, lines = check(config)
    assert code == 1 and len(problem_lines(lines)) == 1, lines


# -- 8: a story that would need more than max_parts parts -------------------------------------


@pytest.mark.parametrize("where", ["top", "account"])
def test_a_story_over_max_parts_is_an_error_naming_the_file(tmp_path, where):
    accounts = TWO_ACCOUNTS + ("max_parts = 4\n" if where == "account" else "")
    config = write_config(
        tmp_path, accounts=accounts, extra="max_parts = 4" if where == "top" else ""
    )
    story = "\n\n".join(f"Paragraph {n} says something true about the day." * 3 for n in range(8))
    write_post(tmp_path / "posts", "01/long.md", GOOD, story)
    write_post(tmp_path / "posts", "01/short.md", GOOD.replace("16", "17"), "A story.")
    code, lines = check(config)
    assert code == 1
    named = problem_lines(lines)
    assert named and all(line.startswith("posts/01/long.md:") for line in named), lines
    assert any("more than max_parts = 4" in line for line in named), named
    if where == "account":  # only the account that has the bound
        assert all("'b'" in line for line in named), named

    # At publish time the same render refuses it.
    from bot.config import load
    from bot.content.post import parse
    from bot.render.renderer import Renderer, RenderError

    settings = load(config)
    raw = (tmp_path / "posts/01/long.md").read_bytes()
    event = parse(raw, path="posts/01/long.md", default_id="01/long").event
    assert event is not None
    with pytest.raises(RenderError, match="max_parts"):
        Renderer(settings).render(event, "b", dt.date(2027, 1, 16))


# -- 10: doctor checks that the ledger opens ---------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, "sqlite-other"],
    ids=["garbage", "another program's database"],
)
def test_doctor_names_a_corrupt_or_foreign_ledger(tmp_path, content):
    import sqlite3

    config = site(tmp_path)
    ledger = tmp_path / "state" / "ledger.sqlite"
    ledger.parent.mkdir()
    if isinstance(content, bytes):
        ledger.write_bytes(content)
    else:
        with sqlite3.connect(ledger) as db:
            db.execute("CREATE TABLE songs (title TEXT)")
    done = thisday("doctor", "--config", str(config), cwd=tmp_path, timeout=60)
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("✗ ledger")]
    assert "is not a thisday ledger" in line and "move it aside" in line, line
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert (
        ledger.read_bytes()[:6] != b"" and not (tmp_path / "state" / "ledger.sqlite-wal").exists()
    )


def test_doctor_passes_a_good_ledger_and_names_an_unreachable_shared_one(tmp_path):
    from bot.ledger.store import Ledger

    config = site(tmp_path)
    Ledger(tmp_path / "state" / "ledger.sqlite").close()
    done = thisday("doctor", "--config", str(config), cwd=tmp_path, timeout=60)
    assert any(x.startswith("✓ ledger") for x in done.stdout.splitlines()), done.stdout

    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    config.write_text(
        f'ledger = "postgresql://thisday@127.0.0.1:{port}/thisday"\n' + config.read_text()
    )
    done = thisday("doctor", "--config", str(config), cwd=tmp_path, timeout=60)
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("✗ ledger")]
    assert f"cannot reach the shared ledger postgresql://thisday@127.0.0.1:{port}" in line, line
    assert done.returncode == 1
