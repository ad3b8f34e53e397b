"""Examples for bot.text: counting, Bluesky link display and facets, splitting.

Oracles (test-only): the `regex` module's \\X for grapheme clusters, Mastodon.py's
get_status_length for Mastodon lengths, the atproto SDK's offline detect_facets for Bluesky.
"""

from __future__ import annotations

import re
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from mastodon._url_regex import URL_REGEX_SOURCE
from text_oracles import clusters as regex_graphemes
from text_oracles import flat, mastodon_length, sdk_facets

from bot import text as text
from bot.text import (
    BLUESKY_DEFAULT,
    MASTODON_DEFAULT,
    Link,
    Rich,
    Rules,
    TextTooLong,
    count_graphemes,
    facets,
    fits,
    graphemes,
    length,
    prepare,
    short_url,
    split,
)

ZWJ_FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
FLAG_JP = "\U0001f1ef\U0001f1f5"
WAVE_MEDIUM = "\U0001f44b\U0001f3fd"
KEYCAP_ONE = "1\ufe0f\u20e3"
KSSI = "\u0915\u094d\u0937\u093f"  # Devanagari conjunct ksa + vowel sign i: one cluster
HANGUL_JAMO = "\u1112\u1161\u11ab"  # han as conjoining jamo: one cluster
E_ACUTE = "e\u0301"
IDEOGRAPHIC_STOP = "\u3002"
WIKI_URL = "https://en.wikipedia.org/wiki/Treaty_of_Westphalia"


def shown(rich: Rich, facet: dict) -> str:
    index = facet["index"]
    return rich.text.encode()[index["byteStart"] : index["byteEnd"]].decode()


# --- graphemes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "s",
    [
        "plain ascii",
        "a\r\nb\n\rc",
        ZWJ_FAMILY + FLAG_JP + WAVE_MEDIUM + KEYCAP_ONE,
        KSSI + HANGUL_JAMO + E_ACUTE,
        "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd",  # Arabic, Hebrew
        FLAG_JP * 3 + "\U0001f1ef",  # an odd regional indicator stays alone
        " \u0301x\u200dy",
    ],
)
def test_graphemes_match_regex_oracle(s: str) -> None:
    assert graphemes(s) == regex_graphemes(s)
    assert count_graphemes(s) == len(regex_graphemes(s))


def test_crlf_is_one_grapheme() -> None:
    assert graphemes("a\r\nb") == ["a", "\r\n", "b"]
    assert count_graphemes("\r\n" * 10) == 10


def test_tricky_clusters_count_once() -> None:
    for cluster in (ZWJ_FAMILY, FLAG_JP, WAVE_MEDIUM, KEYCAP_ONE, KSSI, HANGUL_JAMO, E_ACUTE):
        assert count_graphemes(cluster) == 1, cluster


def test_joiner_table_is_the_segmenters() -> None:
    """GRAPHEME_JOINERS (the fast path's test) holds exactly the code points wcwidth's own
    tables say may join a neighbour: regenerate it when wcwidth's Unicode data changes."""
    from wcwidth import table_grapheme

    from bot.text.tables import GRAPHEME_JOINERS

    kinds = ("EXTEND", "ZWJ", "SPACINGMARK", "PREPEND", "REGIONAL_INDICATOR")
    kinds += ("L", "V", "T", "LV", "LVT")
    expected = {
        code
        for kind in kinds
        for first, last in getattr(table_grapheme, f"GRAPHEME_{kind}")
        for code in range(first, last + 1)
    }
    ours = set()
    for item in GRAPHEME_JOINERS.split():
        first, _, last = item.partition("-")
        ours.update(range(int(first, 16), int(last or first, 16) + 1))
    assert ours == expected


def test_text_without_joiners_never_loads_the_segmenter() -> None:
    code = (
        "import sys\n"
        "from bot.text import count_graphemes, graphemes\n"
        "text = 'S\u00e3o Paulo, Krak\u00f3w \u2014 \u65e5\u672c\u8a9e \U0001f680\\r\\n\u0416'\n"
        "assert count_graphemes(text) == len(text) - 1 == len(graphemes(text))\n"
        "assert 'wcwidth' not in sys.modules\n"
        "assert count_graphemes('e\u0301') == 1 and 'wcwidth' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


# --- Mastodon length ---------------------------------------------------------------------


def test_mastodon_url_weighs_23_whatever_its_length() -> None:
    url = "https://en.wikipedia.org/wiki/" + "A" * 170
    assert len(url) == 200
    assert length(url, MASTODON_DEFAULT) == 23
    assert length(f"see {url} now", MASTODON_DEFAULT) == 4 + 23 + 4
    assert length("https://a.co", MASTODON_DEFAULT) == 23  # short URLs weigh 23 too


def test_mastodon_url_weight_follows_rules() -> None:
    assert length(WIKI_URL, Rules("mastodon", 500, None, 30)) == 30


def test_mastodon_remote_mention_counts_as_local_part() -> None:
    assert length("@user@host.example", MASTODON_DEFAULT) == len("@user")
    assert length("hi @user@host.example!", MASTODON_DEFAULT) == len("hi @user!")


def test_mastodon_bare_domain_is_not_a_url() -> None:
    assert length("example.com/some/long/path", MASTODON_DEFAULT) == 26


@pytest.mark.parametrize(
    "s",
    [
        "plain",
        WIKI_URL,
        f"({WIKI_URL})",
        "xhttps://example.com",  # glued to a word: not a URL
        "https://example.unknowntld/path",
        "https://example.com/path_(with)_parens?q=1&b=2#frag",
        "https://xn--nxasmq6b.com/x",
        "https://\u0434\u043e\u043c\u0435\u043d.\u0440\u0443\u0441/",
        "@user@host.example @a@b.c mail@example.com",
        f"{ZWJ_FAMILY} {KSSI} https://bsky.app {FLAG_JP}\r\n",
        "http://localhost:3000/x",
    ],
)
def test_mastodon_length_matches_mastodon_py(s: str) -> None:
    assert length(s, MASTODON_DEFAULT) == mastodon_length(s)


def test_mastodon_url_regex_is_mastodon_pys() -> None:
    ours = (
        text.mastodon._mastodon_url_pattern()
        .replace(r"\uFF20", "\uff20")
        .replace(r"\uFF03", "\uff03")
    )
    assert ours == URL_REGEX_SOURCE


# --- Bluesky length and fits -------------------------------------------------------------


def test_bluesky_counts_graphemes_and_bytes() -> None:
    assert fits("a" * 300, BLUESKY_DEFAULT)
    assert not fits("a" * 301, BLUESKY_DEFAULT)
    assert fits(ZWJ_FAMILY * 100, BLUESKY_DEFAULT)  # 100 graphemes, 2500 bytes
    devanagari = KSSI * 300
    assert length(devanagari, BLUESKY_DEFAULT) == 300
    assert len(devanagari.encode()) == 3600
    assert not fits(devanagari, BLUESKY_DEFAULT)  # within 300 graphemes, over 3000 bytes
    assert fits(KSSI * 250, BLUESKY_DEFAULT)


def test_fits_reserve_counts_against_both_limits() -> None:
    assert fits("a" * 295, BLUESKY_DEFAULT, reserve=5)
    assert not fits("a" * 296, BLUESKY_DEFAULT, reserve=5)
    assert not fits(KSSI * 250, BLUESKY_DEFAULT, reserve=1)  # 3000 bytes + 1
    assert fits("a" * 490, MASTODON_DEFAULT, reserve=10)
    assert not fits("a" * 491, MASTODON_DEFAULT, reserve=10)


# --- prepare: link detection and short display --------------------------------------------


def test_long_wikipedia_url_is_shown_short_with_full_uri_in_facet() -> None:
    rich = prepare(f"Read {WIKI_URL} today #history", BLUESKY_DEFAULT)
    assert rich.text == "Read en.wikipedia.org/wiki/Treaty_... today #history"
    assert rich.links == (Link(5, 37, WIKI_URL),)
    found = facets(rich)
    assert found[0]["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": WIKI_URL}]
    assert shown(rich, found[0]) == "en.wikipedia.org/wiki/Treaty_..."
    assert found[1]["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "history"}]
    assert shown(rich, found[1]) == "#history"


@pytest.mark.parametrize(
    ("url", "display"),
    [  # expected values produced by Node's WHATWG URL running the app's toShortUrl
        (WIKI_URL, "en.wikipedia.org/wiki/Treaty_..."),
        ("https://example.com", "example.com"),
        ("https://example.com/", "example.com"),
        ("https://example.com/short/path", "example.com/short/path"),
        ("https://example.com/fifteen-chars", "example.com/fifteen-chars"),
        ("https://example.com/sixteen-chars-x", "example.com/sixteen-char..."),
        ("https://Example.COM:443/a", "example.com/a"),
        ("http://example.com:80/?", "example.com"),
        ("https://example.com:8080/x#", "example.com:8080/x"),
        ("https://de.wikipedia.org/wiki/K\u00f6ln", "de.wikipedia.org/wiki/K%C3%B6ln"),
        ("https://m\u00fcnchen.de/stra\u00dfe", "xn--mnchen-3ya.de/stra%C3%9Fe"),
        ("https://a.com/a/./b/../c", "a.com/a/c"),
        ("https://user:pw@a.com/x", "a.com/x"),
        ("https://0x7f.1/", "127.0.0.1"),
        ("https://a.com?x#y", "a.com?x#y"),
        ("https://example.123/", "https://example.123/"),  # invalid URL: unchanged
        ("https://a.com:99999/", "https://a.com:99999/"),
        ("ftp://example.com/file", "ftp://example.com/file"),
        # a lone surrogate: JavaScript's USVString conversion makes it U+FFFD
        ("https://a.com/\ud800x", "a.com/%EF%BF%BDx"),
    ],
)
def test_short_url(url: str, display: str) -> None:
    assert short_url(url) == display


def test_bare_domain_becomes_https_link_and_keeps_its_text() -> None:
    rich = prepare("see example.com/some/long/path/here now", BLUESKY_DEFAULT)
    assert rich.text == "see example.com/some/long/path/here now"
    assert rich.links == (Link(4, 35, "https://example.com/some/long/path/here"),)


@pytest.mark.parametrize(
    ("s", "links"),
    [
        ("trailing https://foo.com.", [("foo.com", "https://foo.com")]),
        (
            "list https://foo.com, https://bar.com/x;",
            [("foo.com", "https://foo.com"), ("bar.com/x", "https://bar.com/x")],
        ),
        ("(https://foo.com)", [("foo.com", "https://foo.com")]),
        (
            "https://foo.com/thing_(cool)",
            [("foo.com/thing_(cool)", "https://foo.com/thing_(cool)")],
        ),
        ("a trailing bsky.app: colon", [("bsky.app", "https://bsky.app")]),
        ("(bsky.app/profile) ok", [("bsky.app/profile", "https://bsky.app/profile")]),
        ("not links: e.g. website.com.jpg something-cool.jpg example.xyzzy", []),
        ("HTTPS://example.com is not linked, Example.COM neither", []),
    ],
)
def test_link_detection_rules(s: str, links: list[tuple[str, str]]) -> None:
    rich = prepare(s, BLUESKY_DEFAULT)
    assert [(rich.text[k.start : k.end], k.uri) for k in rich.links] == links
    assert [k.uri for k in rich.links] == [v for *_, kind, v in sdk_facets(s) if kind == "link"]


def test_mastodon_prepare_leaves_text_alone() -> None:
    assert prepare(f"see {WIKI_URL}", MASTODON_DEFAULT) == Rich(f"see {WIKI_URL}")


def test_unknown_platform_is_rejected() -> None:
    with pytest.raises(ValueError, match="platform"):
        length("x", Rules("twitter", 280))


# --- facets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "s",
    [
        "#a #b #1 #1a body #a1 # text",
        "its a #double#rainbow and ##hashash",
        "strips trailing #punctuation, #like. #this!",
        "works with #\U0001f98b emoji, and #butter\U0001f98bfly",
        "\uff03fullwidth and #t\nag and #a\u200bb",
        "#c++ #tag\u3002 #caf\u00e9\u201d",
        "cash $AAPL, ($GOOG) $100 $TOOLONG no$SPACE",
        f"{ZWJ_FAMILY} #tag example.com/x {KSSI} #\u0939\u093f\u0902\u0926\u0940",
        "body #thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
        "body #thisisa65characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    ],
)
def test_facets_agree_with_sdk(s: str) -> None:
    rich = prepare(s, BLUESKY_DEFAULT)
    assert rich.text == s  # nothing here is shortened
    assert flat(facets(rich)) == sdk_facets(s)


def test_tag_rules() -> None:
    def tags(s: str) -> list[str]:
        return [v for *_, kind, v in flat(facets(Rich(s))) if kind == "tag"]

    assert tags("#1 #2024") == []  # numeric-only
    assert tags("#1648peace") == ["1648peace"]
    assert tags("##x") == ["#x"]
    assert tags("\uff03tag") == ["tag"]
    assert tags("#end.") == ["end"]
    assert tags("#\U0001f98b") == ["\U0001f98b"]
    assert tags("mid#word") == []
    assert tags("#" + "a" * 64) == ["a" * 64]
    assert tags("#" + "a" * 65) == []
    # the cap counts grapheme clusters, not code points: 64 conjuncts are 256 code points
    assert tags("#" + KSSI * 64) == [KSSI * 64]
    assert tags("#" + KSSI * 65) == []


def test_facet_byte_offsets_slice_the_shown_text() -> None:
    s = f"{ZWJ_FAMILY} {KSSI} see {WIKI_URL} and #\u0939\u093f\u0902\u0926\u0940 {FLAG_JP}"
    rich = prepare(s, BLUESKY_DEFAULT)
    found = facets(rich)
    assert [shown(rich, f) for f in found] == [
        "en.wikipedia.org/wiki/Treaty_...",
        "#\u0939\u093f\u0902\u0926\u0940",
    ]
    starts = [f["index"]["byteStart"] for f in found]
    assert starts == sorted(starts)


def test_tag_inside_a_link_span_is_not_a_facet() -> None:
    rich = Rich("read #this now", (Link(0, 10, "https://example.com"),))
    assert flat(facets(rich)) == [(0, 10, "link", "https://example.com")]


def test_overlapping_links_keep_the_first() -> None:
    rich = Rich("abcdef", (Link(0, 4, "https://a.example"), Link(2, 6, "https://b.example")))
    assert flat(facets(rich)) == [(0, 4, "link", "https://a.example")]


# --- split -----------------------------------------------------------------------------------


def texts(parts: list[Rich]) -> list[str]:
    return [p.text for p in parts]


def test_empty_and_blank_give_no_parts() -> None:
    assert split(Rich(""), BLUESKY_DEFAULT) == []
    assert split(Rich(" \n\r\n\t "), MASTODON_DEFAULT) == []


def test_text_that_fits_is_one_stripped_part_with_links_rebased() -> None:
    rich = Rich("  see example.com  ", (Link(6, 17, "https://example.com"),))
    assert split(rich, BLUESKY_DEFAULT) == [
        Rich("see example.com", (Link(4, 15, "https://example.com"),))
    ]


def test_paragraphs_are_packed_whole() -> None:
    p1, p2, p3 = "a" * 100 + ".", "b" * 100 + ".", "c" * 150 + "."
    parts = split(Rich(f"{p1}\n\n{p2}\n\n{p3}"), Rules("bluesky", 250, 3000))
    assert texts(parts) == [f"{p1}\n\n{p2}", p3]


def test_paragraph_is_split_between_sentences() -> None:
    s1, s2, s3 = ("word " * 23 + "end.", "more " * 23 + "end!", "last " * 23 + "end?")
    parts = split(Rich(f"{s1} {s2} {s3}"), Rules("bluesky", 250, 3000))
    assert texts(parts) == [f"{s1} {s2}", s3]


def test_sentence_ends_after_closing_quote() -> None:
    s1 = "He said \u201cthis is a very long sentence indeed.\u201d"
    s2 = "And then another sentence follows here."
    parts = split(Rich(f"{s1} {s2}"), Rules("bluesky", len(s1) + 10, 3000))
    assert texts(parts) == [s1, s2]


def test_words_are_kept_whole_without_sentence_breaks() -> None:
    words = [f"w{i:03d}" for i in range(100)]
    parts = split(Rich(" ".join(words)), Rules("bluesky", 42, 3000))
    assert all(len(p) <= 42 for p in texts(parts))
    assert " ".join(texts(parts)).split() == words


def test_long_word_is_cut_between_grapheme_clusters() -> None:
    word = (ZWJ_FAMILY + KSSI + FLAG_JP + E_ACUTE) * 30
    parts = split(Rich(word), Rules("bluesky", 40, 3000))
    assert [count_graphemes(p) for p in texts(parts)] == [40, 40, 40]
    assert [g for p in texts(parts) for g in regex_graphemes(p)] == regex_graphemes(word)


def test_cjk_without_spaces_splits_after_ideographic_stop() -> None:
    sentence = "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059" + IDEOGRAPHIC_STOP  # 9 graphemes
    parts = split(Rich(sentence * 10), Rules("bluesky", 40, 3000))
    # three parts, as even as whole sentences allow
    assert texts(parts) == [sentence * 4, sentence * 3, sentence * 3]


def test_cjk_without_any_stop_is_cut_by_grapheme_count() -> None:
    run = "\u6f22" * 100
    parts = split(Rich(run), Rules("bluesky", 40, 3000))
    assert texts(parts) == ["\u6f22" * 34, "\u6f22" * 33, "\u6f22" * 33]


def test_bluesky_byte_limit_splits_devanagari() -> None:
    parts = split(Rich(" ".join([KSSI * 10] * 30)), BLUESKY_DEFAULT)
    assert len(parts) == 2
    assert all(len(p.text.encode()) <= 3000 and count_graphemes(p.text) <= 300 for p in parts)


def test_url_is_moved_whole_to_the_next_part() -> None:
    story = "x" * 30 + " https://example.com/a/very/long/path/to/somewhere more words"
    parts = split(Rich(story), Rules("mastodon", 50, None, 23))
    assert texts(parts) == [
        "x" * 30,
        "https://example.com/a/very/long/path/to/somewhere more words",
    ]
    assert all(mastodon_length(p) <= 50 for p in texts(parts))


def test_mastodon_split_counts_urls_as_23() -> None:
    url = "https://en.wikipedia.org/wiki/" + "A" * 170
    body = "word " * 90
    parts = split(Rich(body + url + " end"), MASTODON_DEFAULT)
    assert texts(parts) == [(body + url + " end").strip()]  # 450 + 23 + 4 = 477
    parts = split(Rich(body * 2 + url), MASTODON_DEFAULT)
    assert len(parts) == 2
    assert parts[1].text.endswith(url)
    assert all(mastodon_length(p.text) <= 500 for p in parts)


def test_link_spans_are_never_cut_and_are_rebased() -> None:
    rich = prepare(("filler " * 40) + WIKI_URL + " tail", BLUESKY_DEFAULT)
    parts = split(rich, BLUESKY_DEFAULT, reserve=10)
    linked = [(p, k) for p in parts for k in p.links]
    assert len(linked) == 1
    part, link = linked[0]
    assert part.text[link.start : link.end] == "en.wikipedia.org/wiki/Treaty_..."
    assert link.uri == WIKI_URL


def test_url_longer_than_a_part_raises() -> None:
    url = "https://example.com/" + "p" * 400
    with pytest.raises(TextTooLong, match=r"URL .* too long by 120 graphemes"):
        split(Rich("intro " + url), BLUESKY_DEFAULT)
    with pytest.raises(TextTooLong, match="URL"):
        split(Rich("intro https://example.com/x"), Rules("mastodon", 20, None, 23))


def test_custom_link_with_spaces_is_not_cut() -> None:
    rich = Rich("aaaa bbbb cccc dddd eeee", (Link(5, 19, "https://example.com"),))
    parts = split(rich, Rules("bluesky", 16, 3000))
    assert texts(parts) == ["aaaa", "bbbb cccc dddd", "eeee"]
    assert parts[1].links == (Link(0, 14, "https://example.com"),)
    with pytest.raises(TextTooLong, match="URL"):
        split(rich, Rules("bluesky", 10, 3000))


def test_reserve_is_kept_free_in_every_part() -> None:
    story = " ".join(f"Sentence number {i} ends here." for i in range(40))
    for reserve in (0, 6, 20):
        parts = split(Rich(story), BLUESKY_DEFAULT, reserve=reserve)
        assert all(fits(p.text, BLUESKY_DEFAULT, reserve) for p in parts)
        # as few parts as the room allows: no two neighbours fit in one
        assert not any(
            fits(f"{a.text} {b.text}", BLUESKY_DEFAULT, reserve) for a, b in pairwise(parts)
        )
    with pytest.raises(TextTooLong, match="reserve"):
        split(Rich(story), BLUESKY_DEFAULT, reserve=300)


def test_crlf_paragraphs_keep_their_separators() -> None:
    p1, p2 = "a" * 60 + ".", "b" * 60 + "."
    parts = split(Rich(f"{p1}\r\n\r\n{p2}\r\n\r\n{p1}"), Rules("bluesky", 130, 3000))
    assert texts(parts) == [f"{p1}\r\n\r\n{p2}", p1]


def test_space_carrying_a_combining_mark_is_not_stripped() -> None:
    s = "word " * 10 + "\u0301tail " + "more " * 10
    parts = split(Rich(s), Rules("bluesky", 30, 3000))
    joined = [g for p in texts(parts) for g in regex_graphemes(p) if not g.isspace()]
    assert joined == [g for g in regex_graphemes(s) if not g.isspace()]


def test_prepended_mark_keeps_the_space_it_holds() -> None:
    # U+0600 (Arabic number sign) is a Prepend character: "\u0600 " is one grapheme cluster
    s = "word \u0600 " * 20
    parts = split(Rich(s), Rules("bluesky", 30, 3000))
    assert all(p.text.endswith("\u0600 ") for p in parts)
    assert [g for p in texts(parts) for g in regex_graphemes(p)] == regex_graphemes(s)


def test_production_module_imports_no_oracle() -> None:
    code = (
        "import sys, bot.text as t\n"
        "r = t.prepare('see https://example.com/abc #tag ' * 40, t.BLUESKY_DEFAULT)\n"
        "[t.facets(p) for p in t.split(r, t.BLUESKY_DEFAULT)]\n"
        "t.split(t.Rich('see https://example.com/abc ' * 40), t.MASTODON_DEFAULT)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('atproto', 'atproto_client', 'mastodon', 'regex', 'pydantic')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


# --- sentence ends in the post's language ---------------------------------------------------

ABBREVIATED = {
    "en": "Dr. Smith met J. R. R. Tolkien in the U.S. in 1950. They walked along St. Mary's Road "
    "for an hour. Later Dr. Jones joined them at the St. George inn.",
    "fr": "Le Dr. Martin a rencontr\u00e9 J. R. R. Tolkien aux U.S. en 1950. Il habitait rue "
    "St. Jacques depuis longtemps. M. Dupont et le Dr. Roux le saluaient chaque matin.",
    "de": "Dr. M\u00fcller traf J. R. R. Tolkien in den U.S. im Jahr 1950. Er wohnte lange in "
    "St. Pauli am Hafen. Sp\u00e4ter kam Dr. Weber mit Prof. Braun nach St. Gallen.",
    "es": "El Dr. Garc\u00eda conoci\u00f3 a J. R. R. Tolkien en los U.S. en 1950. Viv\u00eda en "
    "St. Louis desde hac\u00eda a\u00f1os. La Dra. P\u00e9rez y el Dr. Ruiz lo visitaban.",
    "it": "Il Dr. Rossi incontr\u00f2 J. R. R. Tolkien negli U.S. nel 1950. Viveva a St. Moritz "
    "da molti anni. Il Prof. Bianchi e il Dr. Verdi lo andavano a trovare.",
    "pt": "O Dr. Silva conheceu J. R. R. Tolkien nos U.S. em 1950. Morava em St. Louis havia "
    "muitos anos. A Dra. Costa e o Dr. Souza visitavam-no sempre.",
    "nl": "Dr. Jansen ontmoette J. R. R. Tolkien in de U.S. in 1950. Hij woonde al jaren in "
    "St. Maarten aan zee. Later kwamen Dr. de Vries en Prof. Bakker langs.",
    "ja": "\u30c8\u30fc\u30eb\u30ad\u30f3\u306f1950\u5e74\u306b\u6765\u65e5\u3057\u305f\u3002"
    "Dr. Smith \u306f U.S. \u304b\u3089\u6765\u305f\u3002J. R. R. Tolkien \u3068 St. Mary "
    "\u6559\u4f1a\u3067\u4f1a\u3063\u305f\u3002\u672c\u5f53\uff1f\u306f\u3044\u3002",
}
ENDS_ON_ABBREVIATION = re.compile(r"(?:(?<!\w)(?:Dr|Dra|St|Prof|M)|(?<!\w)\w|(?:\w\.)+\w)\.$")


@pytest.mark.parametrize("lang", sorted(ABBREVIATED))
def test_a_part_never_ends_on_an_abbreviation_or_initial(lang: str) -> None:
    story = " ".join([ABBREVIATED[lang]] * 3)
    for limit in range(40, 200, 7):
        rules = Rules("bluesky", limit, 3000)
        parts = split(Rich(story), rules, lang=lang)
        assert len(parts) > 1
        for part in parts[:-1]:
            assert not ENDS_ON_ABBREVIATION.search(part.text), (lang, limit, part.text)


def test_sentence_ends_follow_the_language() -> None:
    from bot.text.sentences import sentence_ends

    text = ABBREVIATED["en"]
    ends = [text[:cut] for cut, _ in sentence_ends(text, "en")]
    assert [e.rsplit(" ", 1)[-1] for e in ends] == ["1950.", "hour."]
    ja = ABBREVIATED["ja"]
    # after each full-width stop but the last, never after "Dr." or "U.S." or an initial
    stops = [i + 1 for i, c in enumerate(ja) if c in "\u3002\uff1f"][:-1]
    assert [cut for cut, _ in sentence_ends(ja, "ja")] == stops
    assert sentence_ends(text, "pt-BR") == sentence_ends(text, "pt")


def test_the_orphan_reply_is_gone() -> None:
    # Issue 10's example: greedy filling left "... King Jr." alone after a full part.
    story = (
        "On 28 August 1963 some 250,000 people marched from the Washington Monument to the "
        "Lincoln Memorial for jobs and freedom. Ten speakers addressed the crowd. "
        "Mahalia Jackson sang before the last speech of the afternoon.\n\n"
        "One of the last speakers was Martin Luther King Jr."
    )
    parts = split(Rich(story), Rules("bluesky", 200, 3000))
    assert len(parts) == 2
    sizes = sorted(len(p.text) for p in parts)
    assert sizes[0] > 60, texts(parts)


def test_a_story_that_fits_never_loads_the_segmenter() -> None:
    code = (
        "import sys, bot.text as t\n"
        "t.split(t.Rich('Dr. Smith. ' * 20), t.BLUESKY_DEFAULT)\n"
        "t.split(t.Rich('\u00c9t\u00e9. Dr. M\u00fcller. ' * 10), t.MASTODON_DEFAULT, lang='de')\n"
        "assert 'sentencex' not in sys.modules\n"
        "t.split(t.Rich('Dr. Smith. ' * 40), t.BLUESKY_DEFAULT)\n"
        "assert 'sentencex' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
