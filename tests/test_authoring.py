"""`thisday new` and `thisday import`: placement, ids, YAML quoting, validation as `check`
does, idempotent imports; the progress bar of long commands; an example in every --help."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import ROOT, png, thisday, write_config, write_post

from bot.cli import COMMANDS, LazyGroup, main
from bot.content import post as content
from bot.tools import authoring

MASTODON = """
[accounts.masto]
platform = "mastodon"
server = "https://mastodon.example"
token_env = "UNUSED_TOKEN"
limit = 500
"""
BLUESKY = """
[accounts.sky]
platform = "bluesky"
server = "https://bsky.example"
handle = "thisday.example"
password_env = "UNUSED_PASSWORD"
"""
PNG = png(1, 1)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    write_config(tmp_path, accounts=MASTODON + BLUESKY)
    return tmp_path


def run(site: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(site / "thisday.toml")])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def read_back(path: Path) -> content.Event:
    """A post as `check` will read it once the operator has written the story."""
    raw = path.read_bytes()
    if authoring.PLACEHOLDER.encode() in raw:
        refused = content.parse(raw, path=str(path), default_id="x", folder=path.parent)
        assert refused.event is None  # the placeholder itself is never published
        assert ["placeholder" in p.message for p in refused.problems] == [True]
        raw = raw.replace(authoring.PLACEHOLDER.encode(), b"The story.")
    parsed = content.parse(raw, path=str(path), default_id="x", folder=path.parent)
    assert parsed.event is not None, parsed.problems
    assert not [p for p in parsed.problems if p.severity == "error"]
    return parsed.event


# -- fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Stalin sends Trotsky into internal exile", "stalin-sends-trotsky-into-internal-exile"),
        ("The world's first underground railway", "the-worlds-first-underground-railway"),
        ("Škoda: Dvořák's première!", "skoda-dvoraks-premiere"),
        ("  --Apollo 11--  ", "apollo-11"),
    ],
)
def test_slug_is_ascii_words_with_dashes(title: str, slug: str) -> None:
    assert authoring.slugify(title) == slug


def test_slug_is_cut_at_a_word_and_never_empty() -> None:
    long = authoring.slugify("word " * 40)
    assert len(long) <= authoring.MAX_SLUG and not long.endswith("-")
    cyrillic = authoring.slugify("Гагарин летит в космос")
    assert cyrillic.startswith("event-") and cyrillic == authoring.slugify("Гагарин летит в космос")
    assert cyrillic != authoring.slugify("Терешкова летит в космос")


def test_dates_and_years() -> None:
    assert authoring.parse_date("1928-01-16") == (1, 16, 1928)
    assert authoring.parse_date("03-15", -44) == (3, 15, -44)
    assert authoring.parse_date("03-15", "44 BC") == (3, 15, -44)
    assert authoring.parse_date("03-15", "-44") == (3, 15, -44)
    assert authoring.parse_date("02-29") == (2, 29, None)
    assert authoring.parse_date("1928-01-16", 1928) == (1, 16, 1928)
    for bad, year, why in [
        ("1928-01-16", 1929, "disagrees"),
        ("16/01/1928", None, "must be YYYY-MM-DD"),
        ("03-15", 0, "no year 0"),
        ("03-15", "x", "whole number"),
    ]:
        with pytest.raises(ValueError, match=why):
            authoring.parse_date(bad, year)


def test_tags_from_a_list_or_separated_text() -> None:
    assert authoring.split_tags(["History", " #Rome "]) == ["History", "Rome"]
    assert authoring.split_tags("History, Rome  Politics;Law") == [
        "History",
        "Rome",
        "Politics",
        "Law",
    ]
    assert authoring.split_tags("#a #b") == ["a", "b"]
    assert authoring.split_tags(None) == []
    with pytest.raises(ValueError, match="must be text"):
        authoring.split_tags([1])


# -- YAML quoting: round trips -------------------------------------------------------------

YAML_TRAPS = [
    "yes", "No", "on", "OFF", "true", "null", "~", "12:30", "1:02:03", "1e3", "0x1F", "0o17",
    ".inf", "-.nan", "2001-01-01", "2001-01-01 10:00", "- item", "a: b", "a:b", "key: value #",
    "# not a comment", "a #b", "@handle", "`tick`", "'single'", '"double"', "[list]", "{map}",
    "!tag", "&anchor", "*alias", "|", ">", "%directive", "?", ",", "=", "<<", "---", "...",
    " padded ", "tab\there", "back\\slash", "x\u2028y", "a\x85b", "\ufeffbom", "nul\x00",
    "😀 emoji",
    "100", "-44", "+1", "1_000", "0", "",
]  # fmt: skip
any_text = st.one_of(st.sampled_from(YAML_TRAPS), st.text())
# Posts are read with the safe loader minus timestamps: text that reads back under the full
# safe loaders (pure Python and libyaml) reads back under that one too.
LOADERS = [yaml.SafeLoader, *([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_scalars_read_back_as_the_same_text(value: str) -> None:
    for rendered in (authoring.scalar(value), authoring.quoted(value)):
        assert "\n" not in rendered
        for loader in LOADERS:
            assert yaml.load(f"k: {rendered}\n", Loader=loader) == {"k": value}


@settings(max_examples=300)
@given(st.lists(any_text, max_size=6))
def test_flow_lists_read_back_as_the_same_items(items: list[str]) -> None:
    rendered = authoring.flow_list(items)
    assert "\n" not in rendered
    for loader in LOADERS:
        assert yaml.load(f"tags: {rendered}\n", Loader=loader) == {"tags": items}


# Control, bidi and separator characters are refused in post files (see the test below).
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
one_line = any_text.map(str.strip).filter(lambda s: s and not UNSAFE.search(s) and len(s) <= 200)
prose = any_text.map(str.strip).filter(lambda s: s and not UNSAFE.search(s))
tag = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda t: t.strip("_0123456789")
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=one_line,
    summary=prose,
    tags=st.lists(tag, max_size=5, unique_by=str.casefold),
    cw=st.none() | one_line,
    year=st.none() | st.integers(-9999, dt.date.today().year).filter(bool),
)
def test_a_written_post_reads_back_as_written(
    title: str, summary: str, tags: list[str], cw: str | None, year: int | None
) -> None:
    post = authoring.Draft(
        month=1, day=16, year=year, title=title, summary=summary, tags=tuple(tags), cw=cw
    )
    for template in (False, True):
        text = authoring.post_text(post, "some-id", template=template)
        text = text.replace(authoring.PLACEHOLDER, "The story.")
        parsed = content.parse(text.encode(), path="p.md", default_id="d", folder=None)
        assert parsed.event is not None, (text, parsed.problems)
        event = parsed.event
        assert (event.title, event.summary, list(event.tags), event.cw) == (
            title,
            summary,
            tags,
            cw,
        )
        assert (event.month, event.day, event.year, event.id) == (1, 16, year, "some-id")


# -- thisday new ---------------------------------------------------------------------------


def test_new_writes_the_whole_format_in_the_shipped_layout(site: Path) -> None:
    code, out, err = run(
        site,
        "new",
        "--date",
        "1928-01-16",
        "--title",
        "Stalin: Trotsky exiled? yes",
        "--tags",
        "SovietUnion, Politics",
        "--tags",
        "#Exile",
    )
    assert code == 0, err
    path = site / out.strip()
    assert path == site / "posts/01-january/1928-01-16-stalin-trotsky-exiled-yes.md"
    text = path.read_text()
    for key in ("summary", "link", "lang", "image", "alt", "cw"):
        assert f"\n# {key}: " in text  # the optional keys, commented, so the format is visible
    assert authoring.PLACEHOLDER in text
    event = read_back(path)
    assert event.title == "Stalin: Trotsky exiled? yes"
    assert event.tags == ("SovietUnion", "Politics", "Exile")
    assert event.id == "stalin-trotsky-exiled-yes"
    assert (event.month, event.day, event.year) == (1, 16, 1928)
    assert "placeholder" in err.lower()
    check = thisday("check", "--config", str(site / "thisday.toml"))
    assert check.returncode == 1 and "'TODO:' placeholder" in check.stdout  # never published
    path.write_text(text.replace(authoring.PLACEHOLDER, "The story of the exile."))
    check = thisday("check", "--config", str(site / "thisday.toml"))
    assert check.returncode == 0, check.stdout + check.stderr


def test_new_bc_and_yearless_dates(site: Path) -> None:
    code, out, _ = run(site, "new", "--date", "03-15", "--year", "-44", "--title", "Ides of March")
    assert code == 0
    path = site / out.strip()
    assert path == site / "posts/03-march/0044bc-03-15-ides-of-march.md"
    assert 'date: "03-15"\nyear: -44\n' in path.read_text()
    assert (read_back(path).year, read_back(path).month) == (-44, 3)

    code, out, _ = run(site, "new", "--date", "02-29", "--title", "Leap day")
    assert code == 0
    path = site / out.strip()
    assert path == site / "posts/02-february/02-29-leap-day.md"
    assert read_back(path).year is None

    code, out, _ = run(site, "new", "--date", "0476-09-04", "--title", "Rome falls")
    assert code == 0
    assert read_back(site / out.strip()).year == 476


def test_new_refuses_to_overwrite(site: Path) -> None:
    args = ("new", "--date", "1969-07-20", "--title", "Apollo 11 lands")
    code, out, _ = run(site, *args)
    assert code == 0
    path = site / out.strip()
    path.write_text(path.read_text().replace(authoring.PLACEHOLDER, "My story."))
    before = snapshot(site / "posts")
    code, out, err = run(site, *args)
    assert code == 1
    assert "already exists" in err and "not overwritten" in err
    assert snapshot(site / "posts") == before


def test_new_makes_the_id_unique_against_the_index(site: Path) -> None:
    write_post(
        site / "posts", "05-may/elsewhere.md", "date: 1900-05-01\ntitle: X\nid: moon-landing"
    )
    ids = []
    for date in ("1969-07-20", "1971-07-31"):
        code, out, err = run(site, "new", "--date", date, "--title", "Moon landing")
        assert code == 0, err
        ids.append(read_back(site / out.strip()).id)
    assert ids == ["moon-landing-2", "moon-landing-3"]
    assert Path(out.strip()).name == "1971-07-31-moon-landing-3.md"
    check = thisday("check", "--config", str(site / "thisday.toml"))
    assert "duplicate id" not in check.stdout

    code, _, err = run(site, "new", "--date", "1969-07-21", "--title", "Y", "--id", "moon-landing")
    assert code == 1 and "already used by" in err


def test_new_rejects_what_check_would_reject(site: Path) -> None:
    code, _, err = run(site, "new", "--date", "2027-02-30", "--title", "Nope")
    assert code == 1 and "impossible date: February 2027 has no day 30" in err
    code, _, err = run(site, "new", "--date", "1928-01-16", "--title", "T", "--link", "ftp://x")
    assert code == 1 and "link must be an http(s) URL" in err
    code, _, err = run(site, "new", "--date", "16/01/1928", "--title", "T")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = run(site, "new", "--date", "1928-01-16", "--year", "1929", "--title", "T")
    assert code == 2 and "disagrees" in err
    assert not list((site / "posts").rglob("*.md"))


# -- thisday import ------------------------------------------------------------------------

CSV = """\
date,title,summary,body,tags,link,lang,image,alt
1969-07-20,Apollo 11 lands on the Moon,"Armstrong and Aldrin: first on the Moon.","First paragraph.

Second paragraph.","Space, Science",https://en.wikipedia.org/wiki/Apollo_11,en,,
1969-13-20,Bad month,,,,,,,
03-15,No,"yes",,yes no,,,,

1912-04-15,Titanic sinks,A ship sinks.,,#Ships #Disasters,,,ship.png,The ship at sea
1912-04-15,Titanic sinks,Another event with the same date and title.,,,,,,
1815-06-18,Waterloo,Napoleon is defeated.,,123,,English,,
"""


def write_import(site: Path, name: str, text: str) -> Path:
    path = site / "incoming" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    (path.parent / "ship.png").write_bytes(PNG)
    return path


def test_import_csv_writes_valid_rows_and_reports_the_others_by_line(site: Path) -> None:
    source = write_import(site, "events.csv", CSV)
    code, out, _ = run(site, "import", str(source))
    assert code == 1
    lines = out.splitlines()
    assert f"{source}:5: error: impossible date: there is no month 13" in lines
    assert (
        f"{source}:10: error: tag '123' must be letters, digits or _ (not only digits, at most 64)"
        in lines
    )
    assert any(
        line.startswith(f"{source}:10: error: lang must be a language code") for line in lines
    )
    assert lines[-1] == "6 rows: 4 written, 0 unchanged, 2 skipped with errors"

    posts = site / "posts"
    apollo = read_back(posts / "07-july/1969-07-20-apollo-11-lands-on-the-moon.md")
    assert apollo.summary == "Armstrong and Aldrin: first on the Moon."
    assert apollo.story == "First paragraph.\n\nSecond paragraph."
    assert apollo.tags == ("Space", "Science")
    no = read_back(posts / "03-march/03-15-no.md")
    assert (no.title, no.summary, no.tags, no.year) == ("No", "yes", ("yes", "no"), None)
    titanic = read_back(posts / "04-april/1912-04-15-titanic-sinks.md")
    # The image is copied next to the post, named after it: the post folder stays whole.
    assert titanic.image == str(posts / "04-april/1912-04-15-titanic-sinks.png")
    assert Path(titanic.image).read_bytes() == PNG
    assert titanic.alt == "The ship at sea"
    second = read_back(posts / "04-april/1912-04-15-titanic-sinks-2.md")
    assert second.summary == "Another event with the same date and title."
    check = thisday("check", "--config", str(site / "thisday.toml"))
    assert check.returncode == 0, check.stdout


def test_importing_the_same_file_twice_changes_nothing(site: Path) -> None:
    source = write_import(site, "events.csv", CSV)
    run(site, "import", str(source))
    before = snapshot(site / "posts")
    code, out, _ = run(site, "import", str(source))
    assert code == 1  # the same two rows are still wrong
    assert out.splitlines()[-1] == "6 rows: 0 written, 4 unchanged, 2 skipped with errors"
    assert snapshot(site / "posts") == before


def test_import_never_overwrites_an_edited_post(site: Path) -> None:
    source = write_import(
        site, "one.json", '[{"date": "1969-07-20", "title": "Moon", "summary": "Landed."}]'
    )
    assert run(site, "import", str(source))[0] == 0
    post = site / "posts/07-july/1969-07-20-moon.md"
    post.write_text(post.read_text().replace("Landed.", "Edited by hand."))
    before = snapshot(site / "posts")
    code, out, _ = run(site, "import", str(source))
    assert code == 1
    assert "exists with other content; not overwritten" in out
    assert snapshot(site / "posts") == before


def test_import_json_rows_are_numbered_from_one(site: Path) -> None:
    rows = [
        {"date": "1928-01-16", "title": "Exile", "tags": ["SovietUnion", "Politics"], "lang": "en"},
        {
            "date": "03-15",
            "year": -44,
            "title": "Ides",
            "summary": "Caesar dies.",
            "cw": "violence",
        },
        "not an object",
        {"date": "1900-01-01", "title": 1984},
        {"date": "1900-01-01"},
        {
            "date": "1900-01-01",
            "title": "Web image",
            "image": "https://x.example/a.png",
            "alt": "a",
        },
        {"date": "1900-01-01", "title": "No alt", "image": "ship.png"},
    ]
    source = write_import(site, "events.json", json.dumps(rows))
    code, out, _ = run(site, "import", str(source))
    assert code == 1
    assert f"{source}:3: error: each row must be an object, got str" in out
    assert f"{source}:4: error: title must be text, got 1984" in out
    assert f"{source}:5: error: 'title' is required" in out
    assert f"{source}:6: error: image must be a file next to the import file, not a URL" in out
    assert f"{source}:7: error: an image needs 'alt:' text" in out
    assert out.splitlines()[-1] == "7 rows: 2 written, 0 unchanged, 5 skipped with errors"
    ides = read_back(site / "posts/03-march/0044bc-03-15-ides.md")
    assert (ides.year, ides.cw) == (-44, "violence")
    assert read_back(site / "posts/01-january/1928-01-16-exile.md").tags == (
        "SovietUnion",
        "Politics",
    )


def test_import_proves_each_row_fits_every_account(site: Path) -> None:
    source = write_import(
        site,
        "cw.csv",
        f"date,title,cw\n1900-01-01,Long warning,{'w' * 600}\n1900-01-02,Fine,short\n",
    )
    code, out, _ = run(site, "import", str(source))
    assert code == 1
    assert f"{source}:2: error: content warning alone is 600/500 on 'masto'" in out
    assert out.splitlines()[-1].startswith("2 rows: 1 written")


def test_import_semicolons_dry_run_and_bad_files(site: Path) -> None:
    source = write_import(site, "excel.csv", "Date;Title;Tags\n1900-01-01;Semicolons;a b\n")
    code, out, _ = run(site, "import", "--dry-run", str(source))
    assert (
        code == 0
        and out.splitlines()[-1] == "1 row: 1 would be written, 0 unchanged, 0 skipped with errors"
    )
    assert not list((site / "posts").rglob("*.md"))
    assert run(site, "import", str(source))[0] == 0
    assert read_back(site / "posts/01-january/1900-01-01-semicolons.md").tags == ("a", "b")

    code, _, err = run(site, "import", str(write_import(site, "events.txt", "x")))
    assert code == 1 and "must end in .csv or .json" in err
    code, _, err = run(site, "import", str(write_import(site, "nohead.csv", "a,b\n1,2\n")))
    assert code == 1 and "missing: date, title" in err
    code, _, err = run(site, "import", str(write_import(site, "obj.json", '{"date": 1}')))
    assert code == 1 and "expected a JSON list" in err


# -- progress: a bar on a terminal, nothing when piped ---------------------------------------


def on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run thisday with stdout and stderr on a pseudo-terminal; return what it showed."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        cwd=cwd,
        env=env,
    )
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError as exc:  # EIO: the terminal's other side closed
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(30), output.decode("utf-8", "replace")


@pytest.fixture
def big_site(site: Path) -> Path:
    rows = ["date,title,summary"]
    for n in range(1500):
        month, day = n % 12 + 1, n % 28 + 1
        rows.append(f"{1800 + n % 200}-{month:02d}-{day:02d},Event number {n},Summary {n}.")
    write_import(site, "many.csv", "\n".join(rows) + "\n")
    return site


def test_check_and_import_show_a_progress_bar_on_a_terminal_only(big_site: Path) -> None:
    config = str(big_site / "thisday.toml")
    source = str(big_site / "incoming/many.csv")
    code, shown = on_a_terminal("import", source, "--config", config, cwd=big_site)
    assert code == 0, shown
    assert "importing [" in shown and "\r" in shown and "100% 1500/1500" in shown

    code, shown = on_a_terminal("check", "--config", config, cwd=big_site)
    assert code == 0, shown
    assert "checking [" in shown and "100% 1500/1500" in shown

    for state in big_site.glob("state/cache/posts-*.idx"):
        state.unlink()  # a cold index again: there is work to show
    piped = thisday("check", "--config", config, cwd=big_site)
    assert piped.returncode == 0
    again = thisday("import", source, "--config", config, cwd=big_site)
    assert "1500 unchanged" in again.stdout
    for result in (piped, again):
        assert "[" + "#" not in result.stdout + result.stderr
        assert "\r" not in result.stdout + result.stderr


# -- every command's --help has an example ----------------------------------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_help_shows_an_example(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert f"thisday {name}" in result.stdout.split("Example", 1)[1]


def test_a_missing_command_module_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(COMMANDS, "ghost", "bot.cli.ghost")
    with pytest.raises(ModuleNotFoundError, match=r"bot\.cli\.ghost"):
        LazyGroup().get_command(click.Context(main), "ghost")


def test_help_runs_without_the_network_sdks() -> None:
    code = textwrap.dedent(
        """
        import sys
        from bot.cli import main
        try:
            main(["doctor", "--help"])
        except SystemExit:
            pass
        print(sorted(m for m in ("mastodon", "atproto", "httpx") if m in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip().endswith("[]")
