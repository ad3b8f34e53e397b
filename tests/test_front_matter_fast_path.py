"""The front matter fast path must read exactly what the YAML loader reads, or defer to it."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.post import _Loader, load_front_matter

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
)


def outcome(load, text: str):
    try:
        return ("ok", load(text))
    except yaml.YAMLError as exc:
        return ("error", type(exc).__name__)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(KEYS, VALUES, st.sampled_from([": ", ":  ", ":\t", ":"])), max_size=5))
def test_fast_path_agrees_with_the_yaml_loader(lines):
    text = "".join(f"{key}{sep}{value}\n" for key, sep, value in lines)
    expected = outcome(lambda t: yaml.load(t, Loader=_Loader), text)
    got = outcome(load_front_matter, text)
    if expected[0] == "error":
        assert got[0] == "error"
    else:
        assert got == expected


def test_usual_front_matter_takes_the_fast_path(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the YAML loader was used")

    monkeypatch.setattr(yaml, "load", refuse)
    front = (
        "date: 1928-01-16\ntitle: Stalin sends Trotsky into internal exile\n"
        "summary: He was deported to Alma-Ata, far from Moscow.\ntags: [history, SovietUnion]\n"
        "link: https://en.wikipedia.org/wiki/Leon_Trotsky\nlang: en\nid: trotsky-exile\n"
    )
    assert load_front_matter(front)["tags"] == ["history", "SovietUnion"]
