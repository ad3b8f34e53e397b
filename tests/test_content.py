"""Post files → Events: strict types, clear `path:line` problems, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import png

from bot.content.post import parse


def post(front: str, body: str = "First paragraph.\n\nSecond paragraph.") -> bytes:
    return f"---\n{front.strip()}\n---\n{body}\n".encode()


def run(raw: bytes, folder: Path | None = None):
    return parse(raw, path="posts/x.md", default_id="x", folder=folder)


def errors(raw: bytes, folder: Path | None = None) -> list[str]:
    return [str(p) for p in run(raw, folder).problems if p.severity == "error"]


def test_full_post_becomes_an_event():
    parsed = run(
        post(
            """
date: 1928-01-16
title: Stalin sends Trotsky into internal exile
summary: Deported to Alma-Ata.
tags: [history, "#SovietUnion"]
link: https://en.wikipedia.org/wiki/Leon_Trotsky
lang: en
cw: politics
id: trotsky-exile
"""
        )
    )
    assert parsed.problems == []
    event = parsed.event
    assert event is not None
    assert (event.id, event.month, event.day, event.year) == ("trotsky-exile", 1, 16, 1928)
    assert event.tags == ("history", "SovietUnion")
    assert event.summary == "Deported to Alma-Ata."
    assert event.story == "First paragraph.\n\nSecond paragraph."
    assert event.cw == "politics"
    assert event.key == 116


def test_summary_defaults_to_first_paragraph_and_is_not_repeated():
    event = run(post("date: 1928-01-16\ntitle: T", "Para one\nwrapped here.\n\nPara two.")).event
    assert event.summary == "Para one wrapped here."
    assert event.story == "Para two."


def test_bc_year_with_month_day():
    event = run(post('date: "03-15"\nyear: -44\ntitle: Caesar')).event
    assert (event.month, event.day, event.year) == (3, 15, -44)


def test_default_id_is_path_without_extension():
    event = parse(post("date: 1928-01-16\ntitle: T"), path="p", default_id="01/trotsky").event
    assert event.id == "01/trotsky"


@pytest.mark.parametrize(
    ("front", "line", "fragment"),
    [
        ("date: 1928-01-16\ntitle: no", 3, "YAML read it as false"),
        ("date: 1928-01-16\ntitle: 12:30", 3, "number 750"),
        ("date: 1928-01-16\ntitle: [a, b]", 3, "is a list"),
        ("date: 1928-01-16\ntitle: T\nsummary: yes", 4, "YAML read it as true"),
        ("title: T", 1, "'date' is required"),
        ("date: 1928-01-16", 1, "'title' is required"),
        ('date: "02-30"\ntitle: T', 2, "February has no day 30"),
        ('date: "13-01"\ntitle: T', 2, "no month 13"),
        ("date: 1928-02-30\ntitle: T", 2, "impossible date"),
        ("date: 1900-02-29\ntitle: T", 2, "February 1900 has no day 29"),
        ("date: 0116\ntitle: T", 2, "MM-DD"),
        ("date: 1928-01-16 10:00\ntitle: T", 2, "not a date and time"),
        ('date: "01-16"\nyear: 0\ntitle: T', 3, "no year 0"),
        ("date: 1928-01-16\nyear: 1929\ntitle: T", 3, "disagrees"),
        ("date: 1928-01-16\ntitle: T\ntags: history", 4, "must be a list"),
        ("date: 1928-01-16\ntitle: T\ntags: [no]", 4, "each tag must be text"),
        ("date: 1928-01-16\ntitle: T\ntags: [two words]", 4, "letters, digits"),
        ("date: 1928-01-16\ntitle: T\ntags: ['1928']", 4, "not only digits"),
        ("date: 1928-01-16\ntitle: T\nlink: not a url", 4, "http(s) URL"),
        ("date: 1928-01-16\ntitle: T\nlang: English", 4, "language code"),
        ("date: 1928-01-16\ntitle: T\nid: 'bad id!'", 4, "id 'bad id!'"),
        ("date: 1928-01-16\ntitle: T\nimage: pic.png", 4, "needs 'alt:'"),
        ("date: 1928-01-16\ntitle: T: with colon", 3, "broken YAML"),
        ("date: 1928-01-16\ntitle: [unclosed", 3, "broken YAML"),
    ],
)
def test_bad_front_matter_names_the_line(front, line, fragment):
    found = errors(post(front))
    assert found, f"no error for {front!r}"
    assert any(f"posts/x.md:{line}: error: " in e and fragment in e for e in found), found


def test_not_utf8():
    assert errors(b"---\ndate: 1928-01-16\ntitle: caf\xe9\n---\n") == [
        "posts/x.md:3: error: not UTF-8 text (byte 31)"
    ]


def test_no_front_matter_and_unclosed_front_matter():
    assert "no front matter" in errors(b"Just text\n")[0]
    assert "not closed" in errors(b"---\ndate: 1928-01-16\ntitle: T\n")[0]


def test_unknown_key_is_a_warning_with_a_suggestion():
    parsed = run(post("date: 1928-01-16\ntitle: T\ntitel: typo"))
    assert parsed.event is not None
    assert [str(p) for p in parsed.problems] == [
        "posts/x.md:4: warning: unknown key 'titel' is ignored (did you mean 'title'?)"
    ]


def test_template_syntax_in_content_is_kept_as_data():
    event = run(
        post("date: 1928-01-16\ntitle: '{{ 7*7 }}'", "{% raw %}x{% endraw %} {{ config }}")
    ).event
    assert event.title == "{{ 7*7 }}"
    assert event.summary == "{% raw %}x{% endraw %} {{ config }}"


def test_image_is_resolved_next_to_the_post(tmp_path):
    (tmp_path / "pic.png").write_bytes(png(4, 3))
    event = run(post("date: 1928-01-16\ntitle: T\nimage: pic.png\nalt: A picture"), tmp_path).event
    assert event.image == str(tmp_path / "pic.png")
    assert event.alt == "A picture"


def test_missing_or_bogus_image(tmp_path):
    assert (
        "image file not found"
        in errors(post("date: 1928-01-16\ntitle: T\nimage: x.png\nalt: a"), tmp_path)[0]
    )
    (tmp_path / "fake.png").write_text("hello")
    assert (
        "not a PNG"
        in errors(post("date: 1928-01-16\ntitle: T\nimage: fake.png\nalt: a"), tmp_path)[0]
    )


def test_crlf_and_bom_are_accepted():
    raw = "\ufeff---\r\ndate: 1928-01-16\r\ntitle: T\r\n---\r\nBody.\r\n".encode()
    assert run(raw).event.summary == "Body."


def test_a_todo_placeholder_is_never_published():
    found = errors(post("date: 1928-01-16\ntitle: T", "TODO: write the story here."))
    assert found == [
        "posts/x.md:1: error: the story still holds a 'TODO:' placeholder paragraph:"
        " replace it first"
    ]
