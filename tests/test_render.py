"""Rendering: templates → threads within each platform's real limit."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import EXAMPLE_ACCOUNTS as ACCOUNTS
from support import ROOT, png, renderer

from bot import text as text
from bot.content.post import Event
from bot.render.renderer import (
    DEFAULTS,
    RenderError,
    _has_longer_word,
    _words_fit,
    year_label,
    years_ago,
)

# The same accounts without thread numbers, for tests about other things.
PLAIN = ACCOUNTS.replace('token_env = "X"', 'token_env = "X"\nnumbering = false').replace(
    'password_env = "Y"', 'password_env = "Y"\nnumbering = false'
)
DAY = dt.date(2027, 1, 16)


def event(**fields) -> Event:
    base = dict(
        id="trotsky-exile",
        path="posts/t.md",
        month=1,
        day=16,
        year=1928,
        title="Stalin sends Trotsky into internal exile",
        summary="Trotsky was deported from Moscow to Alma-Ata.",
        story="First paragraph of the story.\n\nSecond paragraph of the story.",
        tags=("history", "SovietUnion"),
        link="https://en.wikipedia.org/wiki/Leon_Trotsky",
        lang="en",
    )
    base.update(fields)
    return Event(**base)


def test_year_labels_and_years_ago():
    assert year_label(1928) == "1928"
    assert year_label(-44) == "44 BC"
    assert year_label(None) == ""
    assert years_ago(1928, DAY) == 99
    assert years_ago(-44, dt.date(2026, 3, 15)) == 2069  # there is no year 0


def test_default_templates_for_both_platforms(tmp_path):
    r = renderer(tmp_path)
    masto = r.render(event(), "masto", DAY)
    sky = r.render(event(), "sky", DAY)
    head = masto.parts[0].text
    assert head.startswith("On this day in 1928 (99 years ago): Stalin sends Trotsky")
    assert "https://en.wikipedia.org/wiki/Leon_Trotsky" in head
    assert head.endswith("#history #SovietUnion\n\n1/2")  # numbered by default
    # On Bluesky the link goes into a card, not the text.
    assert "wikipedia" not in sky.parts[0].text
    assert sky.card is not None and sky.card.uri == "https://en.wikipedia.org/wiki/Leon_Trotsky"
    assert [p.text for p in masto.parts[1:]] == [
        "First paragraph of the story.\n\nSecond paragraph of the story.\n\n2/2"
    ]
    for thread in (masto, sky):
        assert all(p.length <= p.limit for p in thread.parts)
    tags = [f for f in sky.parts[0].facets if f["features"][0]["$type"].endswith("#tag")]
    assert [f["features"][0]["tag"] for f in tags] == ["history", "SovietUnion"]


def test_package_ships_the_default_templates():
    import importlib.resources

    shipped = importlib.resources.files("bot.render").joinpath("defaults")
    for name in ("post.j2", "thread.j2"):
        assert shipped.joinpath(name).is_file(), name
        # The package default is the example the operator copies from config/templates/.
        assert shipped.joinpath(name).read_text(encoding="utf-8") == (
            ROOT / "config" / "templates" / name
        ).read_text(encoding="utf-8")


def test_without_template_files_the_package_defaults_render(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    reference = renderer(tmp_path / "a")  # config/templates/, the same files as the defaults
    for templates in (tmp_path / "nowhere", tmp_path / "empty"):
        if templates.name == "empty":
            templates.mkdir()
        r = renderer(tmp_path / "b", templates=templates)
        assert r.check_templates() == []
        for account in ("masto", "sky"):
            assert r.sources(account) == {
                "post.j2": DEFAULTS / "post.j2",
                "thread.j2": DEFAULTS / "thread.j2",
            }
            assert r.render(event(), account, DAY) == reference.render(event(), account, DAY)
        assert set(r.template_files()) == {DEFAULTS / "post.j2", DEFAULTS / "thread.j2"}


def test_configured_templates_win_over_the_package_defaults(tmp_path):
    templates = tmp_path / "templates"
    (templates / "bluesky").mkdir(parents=True)
    (templates / "bluesky" / "post.j2").write_text("SKY {{ title }}")
    r = renderer(tmp_path, PLAIN, templates=templates)
    masto = r.render(event(story="short story"), "masto", DAY)
    sky = r.render(event(story="short story"), "sky", DAY)
    assert masto.parts[0].text.startswith("On this day in 1928")  # the package default
    assert sky.parts[0].text == "SKY Stalin sends Trotsky into internal exile"
    assert sky.parts[1].text == "short story"  # thread.j2: the package default
    assert r.sources("sky") == {
        "post.j2": templates / "bluesky" / "post.j2",
        "thread.j2": DEFAULTS / "thread.j2",
    }
    (templates / "post.j2").write_text("BASE {{ title }}")
    r = renderer(tmp_path, PLAIN, templates=templates)
    assert r.render(event(), "masto", DAY).parts[0].text.startswith("BASE Stalin")
    assert r.sources("masto")["post.j2"] == templates / "post.j2"


def test_bc_event_and_event_without_year(tmp_path):
    r = renderer(tmp_path)
    caesar = r.render(event(year=-44, month=3, day=15), "masto", dt.date(2027, 3, 15))
    assert caesar.parts[0].text.startswith("On this day in 44 BC (2,070 years ago):")
    yearless = r.render(event(year=None), "masto", DAY)
    assert yearless.parts[0].text.startswith("On this day: Stalin")


def test_content_is_data_never_template_code(tmp_path):
    r = renderer(tmp_path, PLAIN)
    hostile = event(title="{{ 7*7 }} {% for x in range(3) %}x{% endfor %}", story="{{ config }}")
    thread = r.render(hostile, "masto", DAY)
    assert "{{ 7*7 }} {% for x in range(3) %}x{% endfor %}" in thread.parts[0].text
    assert thread.parts[1].text == "{{ config }}"


def test_platform_and_account_overrides(tmp_path):
    templates = tmp_path / "templates"
    (templates / "bluesky").mkdir(parents=True)
    (templates / "post.j2").write_text("BASE {{ title }}")
    (templates / "thread.j2").write_text("{{ story }}")
    (templates / "bluesky" / "post.j2").write_text(
        "SKY {{ title }} on {{ platform }} as {{ account }}"
    )
    own = tmp_path / "own"
    own.mkdir()
    (own / "thread.j2").write_text("OWN {{ story | upper }}")
    accounts = PLAIN.replace('token_env = "X"', f'token_env = "X"\ntemplates = "{own}"')
    r = renderer(tmp_path, accounts, templates)
    masto = r.render(event(story="short story"), "masto", DAY)
    sky = r.render(event(story="short story"), "sky", DAY)
    assert masto.parts[0].text == "BASE Stalin sends Trotsky into internal exile"
    assert masto.parts[1].text == "OWN SHORT STORY"
    assert sky.parts[0].text == "SKY Stalin sends Trotsky into internal exile on bluesky as sky"
    assert sky.parts[1].text == "short story"


def test_template_errors_name_the_template_and_line(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "post.j2").write_text("line one\n{{ no_such_variable }}\n")
    (templates / "thread.j2").write_text("{{ story }}\n{% if %}\n")
    r = renderer(tmp_path, templates=templates)
    problems = [str(p) for p in r.check_templates()]
    assert any(f"{templates / 'thread.j2'}:2: error: template:" in p for p in problems), problems
    with pytest.raises(RenderError) as caught:
        r.render(event(), "masto", DAY)
    assert caught.value.problem.path.endswith("post.j2")
    assert caught.value.problem.line == 2
    assert "no_such_variable" in caught.value.problem.message


def test_sandbox_blocks_unsafe_template_code(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "post.j2").write_text("{{ title.__class__.__mro__[1].__subclasses__() }}")
    (templates / "thread.j2").write_text("{{ story }}")
    with pytest.raises(RenderError, match=r"unsafe|access"):
        renderer(tmp_path, templates=templates).render(event(), "masto", DAY)


def test_mastodon_counts_the_content_warning_and_cw_is_kept(tmp_path):
    r = renderer(tmp_path, PLAIN)
    story = " ".join(["word"] * 200)
    plain = r.render(event(story=story), "masto", DAY)
    warned = r.render(event(story=story, cw="x" * 100), "masto", DAY)
    assert warned.cw == "x" * 100
    assert all(p.length <= 500 for p in warned.parts)
    assert len(warned.parts) > len(plain.parts)
    with pytest.raises(RenderError, match="content warning alone"):
        r.render(event(cw="y" * 600), "masto", DAY)


def test_numbering_counts_toward_the_limit(tmp_path):
    accounts = ACCOUNTS + "numbering = true\n"
    r = renderer(tmp_path, accounts)
    story = "\n\n".join(" ".join(["paragraph"] * 30) for _ in range(12))
    thread = r.render(event(story=story), "sky", DAY)
    total = len(thread.parts)
    assert total > 9
    for n, part in enumerate(thread.parts, 1):
        assert part.text.endswith(f"\n\n{n}/{total}")
        assert text.count_graphemes(part.text) <= 300


def test_head_overflow_continues_and_is_reported(tmp_path):
    r = renderer(tmp_path)
    long_summary = " ".join(["Summary"] * 60)
    thread = r.render(event(summary=long_summary), "sky", DAY)
    assert thread.notes and "head post is" in thread.notes[0]
    assert all(p.length <= 300 for p in thread.parts)
    assert r.prove_fit(event(summary=long_summary), "sky", DAY) == thread.notes


def test_a_url_longer_than_a_part_cannot_fit(tmp_path):
    r = renderer(tmp_path)
    url = "https://example.com/" + "a" * 600
    # Mastodon counts every URL as 23: fine there. Bluesky shows it shortened: fine too.
    assert r.render(event(story=f"See {url} now."), "masto", DAY).parts
    assert r.render(event(story=f"See {url} now."), "sky", DAY).parts
    ftp = "ftp://example.com/" + "b" * 400  # not a link anywhere: a long word, cut
    assert r.render(event(story=ftp), "sky", DAY).parts


def test_an_image_over_bluesky_s_size_renders_it_is_re_encoded_when_published(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(png(2, 2) + b"\0" * 2_100_000)
    r = renderer(tmp_path)
    for account in ("sky", "masto"):
        thread = r.render(event(image=str(big), alt="big"), account, DAY)
        assert thread.image == str(big)
        assert [(p.path, p.alt) for p in thread.images] == [(str(big), "big")]


def test_shipped_templates_and_posts_render_everywhere(tmp_path):
    from bot.content.corpus import Corpus

    corpus = Corpus(ROOT / "posts")
    corpus.refresh()
    r = renderer(tmp_path)
    events = corpus.events_for({e.key for e in corpus.entries.values() if e.key})
    assert len(events) >= 24
    for ev in events:
        for account in ("masto", "sky"):
            thread = r.render(ev, account, DAY)
            assert not thread.notes, (ev.id, thread.notes)
            assert all(p.length <= p.limit for p in thread.parts)


WORDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(
        st.one_of(WORDS, st.sampled_from(["https://example.com/" + "x" * 30, "a" * 70, "🇫🇷" * 9])),
        max_size=40,
    ),
    limit=st.integers(min_value=5, max_value=80),
    platform=st.sampled_from(["mastodon", "bluesky"]),
)
def test_cheap_fit_proof_never_claims_what_the_splitter_refuses(words, limit, platform):
    rules = text.Rules(platform, limit, 3000 if platform == "bluesky" else None, 23)
    body = text.prepare(" ".join(words), rules)
    if _words_fit(body.text, rules):
        text.split(body, rules)  # must not raise TextTooLong


@settings(max_examples=500, deadline=None)
@given(
    body=st.text(
        alphabet=st.sampled_from(["a", "é", "🇫", " ", "\n", "\u00a0", "\u3000", "\u200b"])
    ),
    limit=st.integers(min_value=1, max_value=12),
)
def test_longer_word_probe_agrees_with_a_full_search(body, limit):
    assert _has_longer_word(body, limit) == bool(re.search(rf"\S{{{limit + 1},}}", body))
