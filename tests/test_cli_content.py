"""`thisday check` and `thisday preview` as an operator runs them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

import pytest
from support import ROOT, thisday, write_config, write_post

ACCOUNTS = """
[accounts.mastodon]
platform = "mastodon"
server = "https://m.example"
token_env = "NO_SUCH_TOKEN"

[accounts.bluesky]
platform = "bluesky"
server = "https://pds.example"
handle = "a.example"
password_env = "NO_SUCH_PASSWORD"
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    write_config(tmp_path, accounts=ACCOUNTS)
    write_post(
        tmp_path / "posts",
        "01/trotsky.md",
        """
        date: 1928-01-16
        title: Stalin sends Trotsky into internal exile
        tags: [history]
        id: trotsky-exile
        """,
        "Deported to Alma-Ata.\n\nExpelled from the USSR a year later.",
    )
    return tmp_path


def run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return thisday(*args, "--config", str(site / "thisday.toml"), cwd=site)


def test_check_passes_on_the_shipped_posts_and_config():
    done = thisday("check")
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    files = len(list((ROOT / "posts").rglob("*.md")))
    assert last.startswith(f"{files} files, {files} events, 0 errors, 0 warnings;")
    assert last.endswith("/366 days of the year covered")


BAD_FILES = {
    "latin1.md": (b"---\ndate: 1928-01-16\ntitle: caf\xe9\n---\n", 3, "not UTF-8"),
    "nofront.md": (b"Just a story.\n", 1, "no front matter"),
    "broken.md": (b"---\ndate: 1928-01-16\ntitle: [oops\n---\n", 3, "broken YAML"),
    "nodate.md": (b"---\ntitle: T\n---\n", 1, "'date' is required"),
    "notitle.md": (b"---\ndate: 1928-01-16\n---\n", 1, "'title' is required"),
    "feb30.md": (b'---\ndate: "02-30"\nyear: 1900\ntitle: T\n---\n', 2, "has no day 30"),
    "month13.md": (b"---\ndate: 1928-13-01\ntitle: T\n---\n", 2, "no month 13"),
    "bool.md": (b"---\ndate: 1928-01-16\ntitle: no\n---\n", 3, "YAML read it as false"),
    "sexagesimal.md": (b"---\ndate: 1928-01-16\ntitle: 12:30\n---\n", 3, "number 750"),
    "listtitle.md": (b"---\ndate: 1928-01-16\ntitle: [a, b]\n---\n", 3, "is a list"),
    "noalt.md": (b"---\ndate: 1928-01-16\ntitle: T\nimage: x.png\n---\n", 4, "needs 'alt:'"),
    "noimage.md": (b"---\ndate: 1928-01-16\ntitle: T\nimage: x.png\nalt: a\n---\n", 4, "not found"),
    "dupe.md": (b"---\ndate: 1928-01-17\ntitle: T\nid: trotsky-exile\n---\n", 1, "duplicate id"),
    "toolong.md": (
        b"---\ndate: 1928-01-18\ntitle: T\ncw: " + b"w" * 520 + b"\n---\nStory.\n",
        1,
        "content warning alone",
    ),
}


def test_check_reports_every_bad_file_with_path_and_line(site):
    for name, (raw, _, _) in BAD_FILES.items():
        (site / "posts" / "bad" / name).parent.mkdir(exist_ok=True)
        (site / "posts" / "bad" / name).write_bytes(raw)
    done = run(site, "check")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name, (_, line, fragment) in BAD_FILES.items():
        prefix = f"posts/bad/{name}:{line}: error: "
        assert any(ln.startswith(prefix) and fragment in ln for ln in lines), (name, lines)
    summary = lines[-1]
    assert summary.startswith(f"{len(BAD_FILES) + 1} files, 2 events, ")
    assert "1/366 days" not in summary  # the valid 01-16 and toolong's 01-18 are both days
    assert summary.endswith("2/366 days of the year covered")


def test_check_warns_on_unknown_keys_and_exits_0(site):
    write_post(site / "posts", "w.md", "date: 1930-02-01\ntitle: T\ncolour: red", "Story.")
    done = run(site, "check")
    assert done.returncode == 0
    assert "posts/w.md:4: warning: unknown key 'colour' is ignored" in done.stdout
    assert ", 1 warning;" in done.stdout


def test_check_warns_on_an_unframed_language_and_too_many_hashtags(site):
    write_post(site / "posts", "sv.md", "date: 1930-02-01\ntitle: T\nlang: sv", "Story.")
    write_post(
        site / "posts",
        "tags.md",
        "date: 1930-02-02\ntitle: T\ntags: [A1, B2, C3, D4, E5, F6]",
        "S.",
    )
    done = run(site, "check")
    assert done.returncode == 0, done.stdout
    assert "posts/sv.md:1: warning: lang 'sv' has no frame phrases" in done.stdout
    assert "posts/tags.md:1: warning: the head post carries 6 hashtags" in done.stdout


def test_preview_frames_a_french_leap_day_event_posted_on_28_february(site):
    write_post(
        site / "posts",
        "leap.md",
        "date: 1940-02-29\ntitle: Un Oscar\nlang: fr\ncard: Ici.",
        "Récit.\n\nSuite.",
    )
    doc = json.loads(run(site, "preview", "--date", "2027-02-28", "--json").stdout)
    heads = {p["account"]: p["parts"][0]["text"] for p in doc["posts"]}
    for text in heads.values():
        assert text.startswith("Le 29 février 1940 (il y a 87 ans)\u00a0: Un Oscar")
        assert text.endswith("1/2")
    (sky,) = [p for p in doc["posts"] if p["platform"] == "bluesky"]
    assert sky["card"] is None  # no link: no card
    assert all(
        set(p) >= {"account", "platform", "event", "lang", "cw", "card", "parts"}
        for p in doc["posts"]
    )


def test_check_says_which_template_files_each_account_uses(site):
    templates = site / "tpl"
    (templates / "bluesky").mkdir(parents=True)
    (templates / "bluesky" / "post.j2").write_text("{{ title }}\n")
    config = (site / "thisday.toml").read_text()
    (site / "thisday.toml").write_text(
        config.replace(f'templates = "{ROOT / "config" / "templates"}"', 'templates = "tpl"')
    )
    done = run(site, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-3:-1] == [
        "templates: mastodon → post.j2 (package default), thread.j2 (package default)",
        "templates: bluesky → tpl/bluesky/post.j2, thread.j2 (package default)",
    ]
    assert lines[-1] == "1 file, 1 event, 0 errors, 0 warnings; 1/366 days of the year covered"


def test_a_config_without_any_template_folder_works(tmp_path):
    """/etc/thisday/thisday.toml and nothing else: the package's own templates are used."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "thisday.toml").write_text(
        f'posts = "{tmp_path / "posts"}"\nstate = "{tmp_path / "state"}"\n{ACCOUNTS}'
    )
    write_post(tmp_path / "posts", "moon.md", "date: 1969-07-20\ntitle: Moon landing", "Story.")
    config = str(etc / "thisday.toml")
    done = thisday("check", "--config", config, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "templates: mastodon → post.j2 (package default), thread.j2 (package default)" in (
        done.stdout
    )
    doc = json.loads(
        thisday("preview", "--date", "2027-07-20", "--json", "--config", config).stdout
    )
    assert doc["posts"][0]["parts"][0]["text"].startswith("On this day in 1969")


@pytest.mark.parametrize(
    "args",
    [["--help"], ["check"], ["preview", "--date", "2027-01-16"], ["calendar", "--year", "2027"]],
)
def test_only_pictures_and_pages_load_the_page_templates(args):
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['thisday', *{args!r}]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('PAGES', 'bot.tools.pages' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert "PAGES False" in done.stderr, done.stderr[-500:]


def test_check_catches_broken_templates(site):
    templates = site / "tpl"
    templates.mkdir()
    (templates / "post.j2").write_text("{{ title }\n")
    (templates / "thread.j2").write_text("{{ story }}\n")
    config = (site / "thisday.toml").read_text()
    config = config.replace(
        f'templates = "{ROOT / "config" / "templates"}"', f'templates = "{templates}"'
    )
    (site / "thisday.toml").write_text(config)
    done = run(site, "check")
    assert done.returncode == 1
    assert f"{templates / 'post.j2'}:1: error: template:" in done.stdout


def test_check_again_uses_the_index_and_sees_edits(site):
    first = run(site, "check")
    assert first.returncode == 0
    assert run(site, "check").stdout == first.stdout
    post = site / "posts" / "01" / "trotsky.md"
    post.write_text(post.read_text().replace("title: Stalin", "title: no\nsummary: Stalin"))
    later = time.time() + 5
    os.utime(post, (later, later))
    done = run(site, "check")
    assert done.returncode == 1 and "YAML read it as false" in done.stdout


def test_bad_config_is_one_clear_line(site):
    (site / "thisday.toml").write_text(
        'timezone = "Mars/Olympus"\n[accounts.x]\nplatform = "myspace"\n'
    )
    done = run(site, "check")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert (
        f"{site / 'thisday.toml'}:1: error: timezone: unknown timezone 'Mars/Olympus'"
        in done.stderr
    )
    assert "accounts.x: platform must be" in done.stderr
    missing = thisday("check", "--config", str(site / "nope.toml"))
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_preview_json_document(site):
    done = run(site, "preview", "--date", "2027-01-16", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["date"] == "2027-01-16"
    assert doc["events"] == [
        {
            "id": "trotsky-exile",
            "path": "posts/01/trotsky.md",
            "title": "Stalin sends Trotsky into internal exile",
            "year": 1928,
        }
    ]
    assert [(p["account"], p["platform"], p["event"]) for p in doc["posts"]] == [
        ("mastodon", "mastodon", "trotsky-exile"),
        ("bluesky", "bluesky", "trotsky-exile"),
    ]
    for post in doc["posts"]:
        for part in post["parts"]:
            assert set(part) >= {"text", "length", "limit", "facets"}
            assert part["length"] <= part["limit"]
    sky_head = doc["posts"][1]["parts"][0]
    tag = sky_head["facets"][0]
    start, end = tag["index"]["byteStart"], tag["index"]["byteEnd"]
    assert sky_head["text"].encode()[start:end] == b"#history"
    assert tag["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "history"}]


def test_preview_default_date_is_today_in_the_configured_zone(site):
    config = (site / "thisday.toml").read_text().replace("Europe/London", "Pacific/Kiritimati")
    (site / "thisday.toml").write_text(config)
    doc = json.loads(run(site, "preview", "--json").stdout)
    assert (
        doc["date"] == dt.datetime.now(zoneinfo.ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    )


def test_preview_human_output_and_empty_day(site):
    done = run(site, "preview", "--date", "2027-01-16")
    assert done.returncode == 0
    assert "== mastodon (mastodon)" in done.stdout and "== bluesky (bluesky)" in done.stdout
    assert "-- part 1/2 · " in done.stdout and "/300" in done.stdout
    empty = run(site, "preview", "--date", "2027-06-01")
    assert "No event for this day" in empty.stdout and empty.returncode == 0
    assert "The next day with an event is 2028-01-16" in empty.stdout


def test_leap_day_event_is_posted_on_28_february_in_common_years(site):
    write_post(site / "posts", "leap.md", "date: 1940-02-29\ntitle: Leap day event", "Story.")
    common = json.loads(run(site, "preview", "--date", "2027-02-28", "--json").stdout)
    assert [e["id"] for e in common["events"]] == ["leap"]
    leap = json.loads(run(site, "preview", "--date", "2028-02-28", "--json").stdout)
    assert leap["events"] == []
    assert [
        e["id"]
        for e in json.loads(run(site, "preview", "--date", "2028-02-29", "--json").stdout)["events"]
    ] == ["leap"]


def test_a_bad_file_never_takes_down_the_day(site):
    write_post(site / "posts", "other.md", "date: 1950-01-16\ntitle: no", "Broken on purpose.")
    done = run(site, "preview", "--date", "2027-01-16", "--json")
    assert done.returncode == 0
    assert [e["id"] for e in json.loads(done.stdout)["events"]] == ["trotsky-exile"]


def test_edited_date_moves_the_event_without_a_full_recheck(site):
    assert json.loads(run(site, "preview", "--date", "2027-01-16", "--json").stdout)["events"]
    post = site / "posts" / "01" / "trotsky.md"
    post.write_text(post.read_text().replace("1928-01-16", "1928-01-20"))
    later = time.time() + 5
    os.utime(post, (later, later))
    assert json.loads(run(site, "preview", "--date", "2027-01-16", "--json").stdout)["events"] == []
    moved = json.loads(run(site, "preview", "--date", "2027-01-20", "--json").stdout)
    assert [e["id"] for e in moved["events"]] == ["trotsky-exile"]


def test_posts_option_overrides_the_config(site, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    write_post(other, "x.md", "date: 1969-07-20\ntitle: Moon landing", "Story.")
    doc = json.loads(
        run(site, "preview", "--date", "2027-07-20", "--json", "--posts", str(other)).stdout
    )
    assert [e["id"] for e in doc["events"]] == ["x"]


@pytest.mark.parametrize("args", [["--help"], ["check"], ["preview", "--date", "2027-01-16"]])
def test_content_commands_never_import_the_network_sdks(args):
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['thisday', *{args!r}]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sdks = ('atproto', 'atproto_client', 'atproto_core', 'mastodon', 'httpx', 'requests',"
        " 'apscheduler')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in sdks)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY []" in done.stderr, done.stderr[-500:]


def test_python_dash_m_and_console_script_agree():
    module = thisday("--help")
    assert module.returncode == 0
    for name in ("check", "preview", "publish"):
        assert name in module.stdout
    script = Path(sys.executable).with_name("thisday")
    if script.exists():
        assert (
            subprocess.run([script, "--help"], capture_output=True, text=True).stdout
            == module.stdout
        )
