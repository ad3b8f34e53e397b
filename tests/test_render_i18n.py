"""The frame around an event, in the post's language: dates as followers read them, eras,
plurals, numbers (CLDR through Babel) and our own phrases (bot/render/frames.py); thread
numbers, the config's hashtags, the Bluesky link card's description."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import EXAMPLE_ACCOUNTS as ACCOUNTS
from support import ROOT, renderer, write_config

from bot import config
from bot import text as text
from bot.content.post import Event
from bot.render import frames, i18n
from bot.render.renderer import Renderer, RenderError, first_sentence

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "ja")
COMMON_28_FEB = dt.date(2027, 2, 28)


def event(**fields) -> Event:
    base = dict(
        id="mcdaniel",
        path="posts/leap.md",
        month=2,
        day=29,
        year=1940,
        title="Hattie McDaniel wins an Oscar",
        summary="The first African American to win an Academy Award.",
        story="She won for Gone with the Wind. The ceremony was segregated.\n\nMore later.",
        tags=("Oscars",),
        link="https://en.wikipedia.org/wiki/Hattie_McDaniel",
        lang="en",
    )
    base.update(fields)
    return Event(**base)


def head(thread) -> str:
    return thread.parts[0].text


# -- dates as followers read them ------------------------------------------------------------


def test_a_leap_day_event_posted_on_28_february_names_its_own_date(tmp_path):
    r = renderer(tmp_path)
    for account in ("masto", "sky"):
        thread = r.render(event(), account, COMMON_28_FEB)
        assert head(thread).startswith(
            "On 29 February 1940 (87 years ago): Hattie McDaniel wins an Oscar"
        )
        assert "on this day" not in head(thread).lower()
    on_its_day = r.render(event(), "masto", dt.date(2028, 2, 29))
    assert head(on_its_day).startswith("On this day in 1940 (88 years ago): Hattie")
    moved = r.render(event(lang="fr"), "masto", dt.date(2027, 3, 1))  # leap_day = "mar1"
    assert head(moved).startswith("Le 29 février 1940 (il y a 87 ans)\u00a0: Hattie")


def test_plurals_eras_and_numbers():
    en = frames.frame("en")
    assert i18n.years_ago_phrase(en, 1) == "1 year ago"
    assert i18n.years_ago_phrase(en, 2) == "2 years ago"
    assert i18n.years_ago_phrase(en, 0) == ""
    assert i18n.years_ago_phrase(en, 2069) == "2,069 years ago"
    assert i18n.year_label(en, -44) == "44 BC"
    assert i18n.year_label(en, 5) == "AD 5"
    assert i18n.year_label(en, 1940) == "1940"
    assert i18n.event_date(en, 3, 15, -44) == "15 March 44 BC"
    assert i18n.event_date(en, 2, 29, None) == "29 February"
    fr = frames.frame("fr")
    assert i18n.years_ago_phrase(fr, 1) == "il y a 1 an"
    assert i18n.years_ago_phrase(fr, 2) == "il y a 2 ans"
    assert i18n.year_label(fr, -44) == "44 av. J.-C."
    assert i18n.event_date(fr, 3, 1, 1815) == "1er mars 1815"
    ja = frames.frame("ja")
    assert i18n.year_label(ja, -44) == "紀元前44年"
    assert i18n.event_date(ja, 2, 29, 1940) == "1940年2月29日"
    de = frames.frame("de")
    assert i18n.years_ago_phrase(de, 1) == "vor 1 Jahr"
    assert i18n.years_ago_phrase(de, 87) == "vor 87 Jahren"
    # en-US is CLDR's American English.
    assert i18n.event_date(frames.frame("en-US"), 2, 29, 1940) == "February 29, 1940"


def test_one_year_ago_and_an_early_year(tmp_path):
    r = renderer(tmp_path)
    recent = r.render(event(year=2026, month=1, day=16), "masto", dt.date(2027, 1, 16))
    assert head(recent).startswith("On this day in 2026 (1 year ago): ")
    early = r.render(event(year=5, month=1, day=16), "masto", dt.date(2027, 1, 16))
    assert head(early).startswith("On this day in AD 5 (2,022 years ago): ")


def test_an_event_without_a_year_has_no_year_phrase(tmp_path):
    r = renderer(tmp_path)
    today = r.render(event(year=None), "masto", dt.date(2028, 2, 29))
    assert head(today).startswith("On this day: Hattie")
    other_day = r.render(event(year=None), "masto", COMMON_28_FEB)
    assert head(other_day).startswith("On 29 February: Hattie")


# -- the frame in the post's language --------------------------------------------------------

OPENINGS = {
    "en": ("On this day in 1789 (238 years ago): ", "Content warning: violence"),
    "fr": (
        "Un jour comme aujourd'hui, en 1789 (il y a 238 ans)\u00a0: ",
        "Avertissement\u00a0: violence",
    ),
    "de": ("An diesem Tag im Jahr 1789 (vor 238 Jahren): ", "Inhaltswarnung: violence"),
    "es": ("Un día como hoy, en 1789 (hace 238 años): ", "Aviso de contenido: violence"),
    "it": ("Accadde oggi, nel 1789 (238 anni fa): ", "Avviso sui contenuti: violence"),
    "pt": ("Neste dia, em 1789 (há 238 anos): ", "Aviso de conteúdo: violence"),
    "nl": ("Op deze dag in 1789 (238 jaar geleden): ", "Inhoudswaarschuwing: violence"),
    "ja": ("1789年の今日（238 年前）：", "閲覧注意：violence"),  # noqa: RUF001
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_frame_is_in_the_posts_language(tmp_path, lang):
    r = renderer(tmp_path)
    bastille = event(month=7, day=14, year=1789, lang=lang, cw="violence", title="T")
    day = dt.date(2027, 7, 14)
    opening, warning = OPENINGS[lang]
    masto = r.render(bastille, "masto", day)
    assert head(masto).startswith(opening + "T\n\n"), head(masto)
    assert masto.cw == "violence" and masto.lang == lang and not masto.notes
    sky = r.render(bastille, "sky", day)
    assert head(sky).startswith(f"{warning}\n\n{opening}T\n\n"), head(sky)


def test_every_language_table_has_the_same_phrases():
    for lang in frames.languages():
        assert tuple(frames.frame(lang).phrases) == frames.KEYS, lang
    assert set(LANGUAGES) <= set(frames.languages())


def test_an_unsupported_language_falls_back_to_english_with_a_warning(tmp_path):
    r = renderer(tmp_path)
    thread = r.render(event(lang="sv"), "masto", dt.date(2028, 2, 29))
    assert head(thread).startswith("On this day in 1940 (88 years ago): ")
    assert thread.lang == "sv"  # the post itself is still tagged as Swedish
    assert any("lang 'sv' has no frame phrases" in n for n in thread.notes)
    assert r.prove_fit(event(lang="sv"), "masto", dt.date(2028, 2, 29)) == thread.notes


def test_region_subtags_keep_their_language(tmp_path):
    r = renderer(tmp_path)
    thread = r.render(event(lang="pt-BR"), "masto", COMMON_28_FEB)
    assert head(thread).startswith("Em 29 de fevereiro de 1940 (há 87 anos): ")
    assert not thread.notes


def test_helpers_are_filters_and_globals_for_operators_templates(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "post.j2").write_text(
        "{{ event | event_date }} | {{ event | event_date('de') }} | {{ -44 | year_label }}"
        " | {{ years_ago | years_ago_phrase }} | {{ event | years_ago_phrase }}"
        " | {{ 2069 | number }} | {{ t('content_warning', cw='x') }} | {{ t('colon', 'ja') }}"
        " | {{ on_its_day }} | {{ event_date }} | {{ date_label }} | {{ years_ago_phrase }}"
        " | {{ opening }} | {{ numbering }}"
    )
    (templates / "thread.j2").write_text("{{ story }}")
    r = Renderer(
        config.load(write_config(tmp_path, accounts=ACCOUNTS, templates=templates, extra=""))
    )
    fr = r.render(event(lang="fr", story=""), "masto", COMMON_28_FEB)
    assert head(fr) == (
        "29 février 1940 | 29. Februar 1940 | 44 av. J.-C. | il y a 87 ans | il y a 87 ans"
        " | 2\u202f069 | Avertissement\u00a0: x | ："  # noqa: RUF001
        " | False | 29 février 1940 | 29 février | il y a 87 ans"
        " | Le 29 février 1940 (il y a 87 ans) | True"
    )
    (templates / "post.j2").write_text("{{ t('no_such_phrase') }}")
    r = Renderer(
        config.load(write_config(tmp_path, accounts=ACCOUNTS, templates=templates, extra=""))
    )
    with pytest.raises(Exception, match="no such phrase"):
        r.render(event(), "masto", COMMON_28_FEB)


def test_babel_is_imported_only_when_rendering():
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['thisday', '--help']\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "import bot.render.renderer\n"
        "print('BABEL', sorted(m for m in sys.modules if m.split('.')[0] == 'babel'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert "BABEL []" in done.stdout, done.stdout[-300:] + done.stderr[-500:]


# -- a visible thread ------------------------------------------------------------------------


def test_numbering_is_on_by_default_and_can_be_turned_off(tmp_path):
    r = renderer(tmp_path)
    for account in ("masto", "sky"):
        thread = r.render(event(), account, COMMON_28_FEB)
        total = len(thread.parts)
        assert total >= 2
        assert [p.text.rsplit("\n\n", 1)[1] for p in thread.parts] == [
            f"{n}/{total}" for n in range(1, total + 1)
        ]
    plain = ACCOUNTS.replace('token_env = "X"', 'token_env = "X"\nnumbering = false')
    thread = renderer(tmp_path, plain).render(event(), "masto", COMMON_28_FEB)
    assert not thread.parts[-1].text.endswith(f"/{len(thread.parts)}")
    assert "🧵 Thread below" in head(thread)  # without numbers, a line says a thread follows


def _story(sentences: int, words: int) -> str:
    return " ".join(
        " ".join(f"w{n}x{i}" for i in range(words)).capitalize() + "." for n in range(sentences)
    )


def test_the_reserve_grows_when_the_count_gets_a_digit(tmp_path):
    """Ten parts need " 10/10": a split made with room for " 9/9" is done again."""
    r = renderer(tmp_path)
    for sentences in range(40, 200, 5):
        thread = r.render(event(story=_story(sentences, 6)), "sky", COMMON_28_FEB)
        total = len(thread.parts)
        for n, part in enumerate(thread.parts, 1):
            assert part.text.endswith(f"\n\n{n}/{total}")
            assert part.length <= part.limit == 300
            assert text.count_graphemes(part.text) <= 300
        if total >= 10:
            return
    pytest.fail("no story reached ten parts")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sentences=st.integers(min_value=0, max_value=40),
    words=st.integers(min_value=1, max_value=30),
    summary_words=st.integers(min_value=0, max_value=60),
    platform=st.sampled_from(["masto", "sky"]),
)
def test_numbered_parts_always_fit_and_the_cheap_proof_agrees(
    tmp_path_factory, sentences, words, summary_words, platform
):
    r = _shared_renderer(tmp_path_factory)
    ev = event(story=_story(sentences, words), summary=" ".join(["word"] * summary_words))
    try:
        thread = r.render(ev, platform, COMMON_28_FEB)
    except RenderError as exc:  # more than max_parts: the proof must say so too
        refused = exc.problem
    else:
        refused = None
    if refused is not None:
        with pytest.raises(RenderError) as proved:
            r.prove_fit(ev, platform, COMMON_28_FEB)
        assert proved.value.problem == refused
        return
    for part in thread.parts:
        assert part.length <= part.limit
    if len(thread.parts) > 1:
        assert thread.parts[-1].text.endswith(f"{len(thread.parts)}/{len(thread.parts)}")
    assert r.prove_fit(ev, platform, COMMON_28_FEB) == thread.notes


_RENDERERS: dict[str, Renderer] = {}


def _shared_renderer(factory) -> Renderer:
    if "r" not in _RENDERERS:
        _RENDERERS["r"] = renderer(factory.mktemp("shared"))
    return _RENDERERS["r"]


# -- hashtags that help discovery ------------------------------------------------------------


def test_config_tags_follow_the_events_own_without_duplicates(tmp_path):
    r = renderer(tmp_path, extra='tags = ["OnThisDay", "oscars"]')
    thread = r.render(event(), "sky", COMMON_28_FEB)
    assert "#Oscars #OnThisDay\n\n1/" in head(thread)
    tags = [f["features"][0]["tag"] for f in thread.parts[0].facets if "tag" in f["features"][0]]
    assert tags == ["Oscars", "OnThisDay"]
    own = ACCOUNTS.replace('password_env = "Y"', 'password_env = "Y"\ntags = ["BlueskyOnly"]')
    r = renderer(tmp_path, own, extra='tags = ["OnThisDay"]')
    assert "#Oscars #BlueskyOnly\n" in head(r.render(event(), "sky", COMMON_28_FEB))
    assert "#Oscars #OnThisDay\n" in head(r.render(event(), "masto", COMMON_28_FEB))


def test_more_than_five_hashtags_is_a_warning(tmp_path):
    r = renderer(tmp_path, extra='tags = ["OnThisDay", "History"]')
    many = event(tags=("A1", "B2", "C3", "D4"))
    thread = r.render(many, "masto", COMMON_28_FEB)
    assert any("carries 6 hashtags" in n for n in thread.notes)
    assert r.prove_fit(many, "masto", COMMON_28_FEB) == thread.notes
    assert not r.render(event(tags=("A1", "B2", "C3")), "masto", COMMON_28_FEB).notes


def test_bad_config_tags_are_refused(tmp_path):
    with pytest.raises(config.ConfigError, match="tags"):
        renderer(tmp_path, extra='tags = ["two words"]')


# -- the Bluesky link card -------------------------------------------------------------------


def test_the_link_card_adds_to_the_head_post(tmp_path):
    r = renderer(tmp_path)
    card = r.render(event(), "sky", COMMON_28_FEB).card
    assert card is not None
    assert card.description == "She won for Gone with the Wind."
    assert card.description not in head(r.render(event(), "sky", COMMON_28_FEB))
    own = r.render(event(card="Her speech, and the hotel that barred her."), "sky", COMMON_28_FEB)
    assert own.card is not None and own.card.description == (
        "Her speech, and the hotel that barred her."
    )


def test_first_sentence_respects_abbreviations_and_length():
    assert first_sentence("Dr. King spoke. Then he left.", "en") == "Dr. King spoke."
    assert first_sentence("", "en") == ""
    long = "word " * 100
    assert len(first_sentence(long, "en")) <= 300


def test_a_second_run_answers_from_the_cache_without_babel(tmp_path):
    config_file = write_config(tmp_path, accounts=ACCOUNTS)
    probe = (
        "import sys, datetime as dt\n"
        "from bot import config\n"
        "from bot.content.post import Event\n"
        "from bot.render.renderer import Renderer\n"
        f"r = Renderer(config.load({str(config_file)!r}))\n"
        "ev = Event(id='x', path='x.md', month=2, day=29, year=1940, title='T', summary='S',"
        " story='', lang='fr')\n"
        "print(r.render(ev, 'masto', dt.date(2027, 2, 28)).parts[0].text.splitlines()[0])\n"
        "print('BABEL', any(m.split('.')[0] == 'babel' for m in sys.modules))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
        for _ in range(2)
    ]
    first, second = (run.stdout.splitlines() for run in runs)
    assert first == ["Le 29 février 1940 (il y a 87 ans)\u00a0: T", "BABEL True"], runs[0].stderr
    assert second == ["Le 29 février 1940 (il y a 87 ans)\u00a0: T", "BABEL False"], runs[1].stderr
    assert (tmp_path / "state" / "cache" / "cldr" / "fr.json").is_file()
