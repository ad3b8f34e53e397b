"""The front matter fast path must read exactly what the YAML loader reads, or defer to it."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.front_matter import IMPLICIT_TYPES, load_front_matter, yaml_loader

TRICKY = "aZ09 _-:#,[]{}'\"!&*|>%@`?~.=+<\\/\t\u00a0\u0085é漢🚀"
KEYS = st.sampled_from(["title", "summary", "tags", "on", "no", "y", "a_b", "x-y", "Yes", "id"])
VALUES = st.one_of(
    st.text(alphabet=TRICKY, max_size=24),
    st.sampled_from(
        ["no", "yes", "12:30", "1e3", "0x1F", "~", "null", ".inf", "1_000", "-1", "+5"]
    ),
    st.lists(st.text(alphabet=TRICKY, max_size=8), max_size=4).map(
        lambda items: f"[{', '.join(items)}]"
    ),
    st.text(alphabet=TRICKY, max_size=24).map(lambda text: f'"{text}"'),
    st.text(alphabet=TRICKY, max_size=24).map(lambda text: f"'{text}'"),
)


def outcome(load, text: str):
    try:
        return ("ok", load(text))
    except yaml.YAMLError as exc:
        return ("error", type(exc).__name__)


def assert_read_as_yaml_reads(text: str) -> None:
    expected = outcome(lambda t: yaml.load(t, Loader=yaml_loader()), text)
    got = outcome(load_front_matter, text)
    if expected[0] == "error":
        assert got[0] == "error"
    else:
        assert got == expected


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(KEYS, VALUES, st.sampled_from([": ", ":  ", ":\t", ":"])), max_size=5))
def test_fast_path_agrees_with_the_yaml_loader(lines):
    assert_read_as_yaml_reads("".join(f"{key}{sep}{value}\n" for key, sep, value in lines))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="a '\"\\:#,[]é", max_size=12), st.sampled_from(["'", '"']))
def test_quoted_values_read_as_the_yaml_loader_reads_them(text, quote):
    assert_read_as_yaml_reads(f"title: {quote}{text}{quote}\nsummary: {quote}{text[::-1]}{quote}\n")


def test_usual_front_matter_takes_the_fast_path(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the YAML loader was used")

    monkeypatch.setattr(yaml, "load", refuse)
    front = (
        "date: 1928-01-16\ntitle: Stalin sends Trotsky into internal exile\n"
        "summary: He was deported to Alma-Ata, far from Moscow.\ntags: [history, SovietUnion]\n"
        "link: https://en.wikipedia.org/wiki/Leon_Trotsky\nlang: en\nid: trotsky-exile\n"
        'card: "Exiled: first to Alma-Ata, then abroad"\n'
    )
    assert load_front_matter(front)["tags"] == ["history", "SovietUnion"]
    assert load_front_matter(front)["card"] == "Exiled: first to Alma-Ata, then abroad"


def test_implicit_types_are_pyyamls():
    """The fast path's copy of YAML's implicit types, first character by first character."""
    ours: dict[str, list[tuple[str, str, int]]] = {}
    for name, firsts, pattern, flags in IMPLICIT_TYPES:
        for first in firsts:
            ours.setdefault(first, []).append((f"tag:yaml.org,2002:{name}", pattern, flags))
    pyyaml = {
        first: [(tag, rx.pattern, rx.flags & re.X) for tag, rx in resolvers]
        for first, resolvers in yaml_loader().yaml_implicit_resolvers.items()
        if first  # PyYAML also files `null` under "" (an empty scalar); never a plain value
    }
    assert ours == pyyaml


def test_reading_usual_front_matter_does_not_import_pyyaml():
    raw = (
        b"---\ndate: 1928-01-16\ntitle: Trotsky is sent into internal exile\n"
        b"tags: [history]\n---\nHe was deported to Alma-Ata, far from Moscow.\n"
    )
    code = (
        "import sys\nfrom bot.content.post import parse\n"
        f"parsed = parse({raw!r}, path='post.md', default_id='post')\n"
        "assert parsed.event is not None, parsed.problems\n"
        "print('yaml' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
