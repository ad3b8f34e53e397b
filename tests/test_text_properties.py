"""Property tests for bot.text against independent oracles.

Graphemes: the `regex` module's \\X. Mastodon length: Mastodon.py's get_status_length (its URL
and mention rules) counting with \\X. Bluesky bytes: len(s.encode()). Bluesky detection: the
atproto SDK's offline detect_facets.
"""

from __future__ import annotations

import itertools
import re
import string

import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mastodon._url_regex import url_regex as mastodon_url_regex
from text_oracles import clusters, flat, mastodon_length, sdk_facets

from bot.text import (
    BLUESKY_DEFAULT,
    MASTODON_DEFAULT,
    Rich,
    Rules,
    TextTooLong,
    count_graphemes,
    facets,
    fits,
    graphemes,
    length,
    mastodon_urls,
    prepare,
    split,
)
from bot.text.mastodon import FOLDS_TO_ASCII
from bot.text.tables import MASTODON_CCTLDS, MASTODON_GTLDS

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def without_overlaps(found: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    """The SDK may return a tag overlapping a link; a record must not: links win, then
    mentions."""
    kept: list[tuple[int, int, str, str]] = []
    rank = {"link": 0, "mention": 1, "tag": 2}
    for f in sorted(found, key=lambda f: (rank[f[2]], f[0])):
        if all(f[1] <= k[0] or k[1] <= f[0] for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f[0])


# --- story generator -----------------------------------------------------------------------

ascii_words = st.text(string.ascii_letters + string.digits + "'-", min_size=1, max_size=12)
emoji = st.sampled_from(
    [
        "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
        "\U0001f9d1\u200d\U0001f680",
        "\U0001f3f3\ufe0f\u200d\U0001f308",
        "\U0001f44b\U0001f3fd",
        "\U0001f44d\U0001f3ff",
        "\U0001f1ef\U0001f1f5",
        "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea",
        "1\ufe0f\u20e3",
        "#\ufe0f\u20e3",
        "\u2764\ufe0f",
        "\U0001f98b",
    ]
)
combining = st.builds(
    str.__add__,
    st.sampled_from("aeiouAEIOUnc"),
    st.text("\u0300\u0301\u0302\u0308\u0327\u0323\u20dd", min_size=1, max_size=3),
)
cjk = st.text(
    "\u65e5\u672c\u8a9e\u6587\u7ae0\u6f22\u5b57\u4e2d\u56fd\u5386\u53f2\u306e\u3067\u3059"
    "\u3002\uff01\uff1f\uff0e\u3001\u300c\u300d",
    min_size=1,
    max_size=40,
)
rtl = st.sampled_from(
    [
        "\u0645\u0631\u062d\u0628\u0627",
        "\u0627\u0644\u0633\u0644\u0627\u0645",
        "\u0634\u0643\u0631\u0627\u064b",
        "\u05e9\u05dc\u05d5\u05dd",
        "\u05e2\u05d5\u05dc\u05dd",
        "\u061f",
    ]
)
devanagari = st.sampled_from(
    [
        "\u0915\u094d\u0937\u093f",
        "\u0939\u093f\u0902\u0926\u0940",
        "\u0928\u092e\u0938\u094d\u0924\u0947",
        "\u0936\u094d\u0930\u0940",
        "\u0926\u094d\u0927",
        "\u0964",
    ]
)
hangul = st.sampled_from(["\ud55c\uad6d\uc5b4", "\u1112\u1161\u11ab", "\uac01", "\u1100\u1161"])
url_path = st.text(string.ascii_letters + string.digits + "_-/().%", max_size=50)
hosts = st.sampled_from(["en.wikipedia.org", "example.com", "bsky.app", "www.bbc.co.uk"])
urls = st.builds(
    lambda s, h, p: f"{s}{h}/{p}", st.sampled_from(["https://", "http://"]), hosts, url_path
)
bare_domains = st.builds(
    lambda h, p: f"{h}/{p}", hosts, st.text(string.ascii_lowercase, max_size=15)
)
tags = st.builds(
    lambda mark, w: mark + w, st.sampled_from(["#", "#", "\uff03", "##"]), ascii_words | cjk
)
others = st.sampled_from(
    [
        "$AAPL",
        "$btc.",
        "@user@host.example",
        "e.g.",
        "3.14",
        "(1648)",
        "\u201cquoted\u201d",
        "\u2014",
    ]
)
token = st.one_of(
    ascii_words,
    ascii_words,
    ascii_words,
    emoji,
    combining,
    cjk,
    rtl,
    devanagari,
    hangul,
    urls,
    bare_domains,
    tags,
    others,
    st.text(max_size=6),  # anything at all, now and then
)
spaces = st.sampled_from([" ", " ", " ", " ", "  ", "\n", "\t", "\u00a0", "\u3000", ""])
ends = st.sampled_from(["", "", ".", "!", "?", "\u2026", ".\u201d", "?)", ",", ":", "\u3002"])
sentence = st.lists(st.tuples(token, spaces), min_size=1, max_size=14).map(
    lambda pairs: "".join(t + s for t, s in pairs).strip()
)
paragraph = st.lists(st.tuples(sentence, ends), min_size=1, max_size=6).map(
    lambda pairs: " ".join(s + e for s, e in pairs)
)
paragraph_breaks = st.sampled_from(["\n\n", "\n\n", "\r\n\r\n", "\n \n", "\n\n\n"])
stories = st.builds(
    lambda paras, sep, lead, trail: lead + sep.join(paras) + trail,
    st.lists(paragraph, min_size=1, max_size=5),
    paragraph_breaks,
    st.sampled_from(["", " ", "\n"]),
    st.sampled_from(["", " ", "\n"]),
)

all_rules = st.sampled_from(
    [
        BLUESKY_DEFAULT,
        Rules("bluesky", 40, 3000),
        Rules("bluesky", 100, 250),
        MASTODON_DEFAULT,
        Rules("mastodon", 40, None, 23),
        Rules("mastodon", 120, None, 23),
    ]
)
reserves = st.sampled_from([0, 0, 5, 8])


# --- independent checks --------------------------------------------------------------------


def independent_fits(s: str, rules: Rules, reserve: int) -> bool:
    if rules.platform == "mastodon":
        return mastodon_length(s) + reserve <= rules.limit
    size = len(s.encode())
    return len(clusters(s)) + reserve <= rules.limit and (
        rules.max_bytes is None or size + reserve <= rules.max_bytes
    )


def unbreakable_spans(rich: Rich, rules: Rules) -> list[tuple[int, int]]:
    """Everything split may not cut: links, and whatever reads as a URL (str offsets)."""
    spans = [(k.start, k.end) for k in rich.links]
    spans += [m.span() for m in regex.finditer(r"(?i)https?://\S+", rich.text)]
    if rules.platform == "mastodon":
        spans += [m.span(3) for m in mastodon_url_regex.finditer(rich.text)]
    else:
        data = rich.text.encode()
        spans += [
            (len(data[:b0].decode()), len(data[:b1].decode()))
            for b0, b1, kind, _ in sdk_facets(rich.text)
            if kind == "link"
        ]
    return spans


def fits_as_in_story(start: int, end: int, rich: Rich, rules: Rules, reserve: int) -> bool:
    """`independent_fits` of text[start:end] as the story counts it. On Mastodon whether a URL
    counts as one depends on the character before it ("0https://…" is text), so that character
    is counted along and taken off again (a URL never joins the cluster before it)."""
    if rules.platform != "mastodon" or start == 0:
        return independent_fits(rich.text[start:end], rules, reserve)
    return mastodon_length(rich.text[start - 1 : end]) - 1 + reserve <= rules.limit


def nonspace(s: str) -> str:
    return "".join(c for c in s if not c.isspace())


def solid_clusters(s: str) -> list[str]:
    return [g for g in clusters(s) if not g.isspace()]


# --- properties ----------------------------------------------------------------------------


@SETTINGS
@given(story=stories, rules=all_rules, reserve=reserves)
@example(story="\u6f22" * 130 + "\u3002" + "x" * 10, rules=Rules("bluesky", 40, 3000), reserve=5)
@example(story="a \u0301b " * 40, rules=Rules("bluesky", 40, 3000), reserve=0)
@example(story="word \u0600 " * 40, rules=Rules("mastodon", 40, None, 23), reserve=0)
@example(story="#" + "\u3001" * 31 + "\u3059", rules=Rules("bluesky", 40, 3000), reserve=8)
@example(  # a tag of a whole part overlapping a URL one character longer
    story="#" + "\u3001" * 7 + "https://en.wikipedia.org/0000000/",
    rules=Rules("bluesky", 40, 3000),
    reserve=0,
)
@example(  # a URL glued to a word is text on Mastodon: 41 characters
    story="0https://en.wikipedia.org/0000000000000000",
    rules=Rules("mastodon", 40, None, 23),
    reserve=0,
)
@example(  # Mastodon's URL ends at the ")": 23 + 10 characters
    story="https://example.com/)000000000", rules=Rules("mastodon", 40, None, 23), reserve=8
)
def test_split_parts_fit_and_lose_nothing(story: str, rules: Rules, reserve: int) -> None:
    rich = prepare(story, rules)
    try:
        parts = split(rich, rules, reserve=reserve)
    except TextTooLong:
        # only when something that may not be cut is longer than a part, by the oracles
        assert any(
            not fits_as_in_story(a, b, rich, rules, reserve)
            for a, b in unbreakable_spans(rich, rules)
        )
        return

    for part in parts:
        assert part.text, parts
        assert independent_fits(part.text, rules, reserve), (part.text, rules, reserve)
        first, last = clusters(part.text)[0], clusters(part.text)[-1]
        assert not first.isspace() and not last.isspace(), part.text

    joined = "".join(p.text for p in parts)
    assert nonspace(joined) == nonspace(rich.text)
    assert [g for p in parts for g in solid_clusters(p.text)] == solid_clusters(rich.text)

    # links survive whole, in order, with their URIs, re-based to their parts
    assert [(p.text[k.start : k.end], k.uri) for p in parts for k in p.links] == [
        (rich.text[k.start : k.end], k.uri) for k in rich.links
    ]
    if rules.platform == "mastodon":
        for m in mastodon_url_regex.finditer(rich.text):
            assert any(m.group(3) in p.text for p in parts), m.group(3)

    whole = clusters(rich.text)
    while whole and whole[0].isspace():
        whole.pop(0)
    while whole and whole[-1].isspace():
        whole.pop()
    if whole and independent_fits("".join(whole), rules, reserve):
        assert [p.text for p in parts] == ["".join(whole)]


@SETTINGS
@given(story=stories, reserve=reserves)
def test_bluesky_part_facets_are_well_formed(story: str, reserve: int) -> None:
    rules = Rules("bluesky", 100, 3000)
    try:
        parts = split(prepare(story, rules), rules, reserve=reserve)
    except TextTooLong:
        return
    for part in parts:
        data = part.text.encode()
        found = facets(part)
        previous_end = 0
        for facet in found:
            b0, b1 = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            assert previous_end <= b0 < b1 <= len(data)
            previous_end = b1
            seen = data[b0:b1].decode()
            feature = facet["features"][0]
            if feature["$type"] == "app.bsky.richtext.facet#link":
                assert (seen, feature["uri"]) in [
                    (part.text[k.start : k.end], k.uri) for k in part.links
                ]
            elif feature["$type"] == "app.bsky.richtext.facet#mention":
                assert seen[0] == "@" and feature["did"] is None
            else:
                assert feature["$type"] == "app.bsky.richtext.facet#tag"
                assert seen[0] in "#\uff03$"
                assert seen[1:] == feature["tag"] or seen.upper() == feature["tag"]
        assert len([f for f in found if "uri" in f["features"][0]]) == len(part.links)


@SETTINGS
@given(story=stories)
def test_detection_agrees_with_sdk(story: str) -> None:
    rich = prepare(story, BLUESKY_DEFAULT)
    sdk = sdk_facets(story)
    assert [k.uri for k in rich.links] == [v for _, _, kind, v in sdk if kind == "link"]
    mine = flat(facets(rich))
    if rich.text == story:
        assert mine == without_overlaps(sdk)
    else:
        # shortened links change the text: compare the tags the SDK finds in the shown text
        shown_tags = [f for f in sdk_facets(rich.text) if f[2] == "tag"]
        links = [f for f in mine if f[2] == "link"]
        expected = [f for f in shown_tags if all(f[1] <= k[0] or k[1] <= f[0] for k in links)]
        assert [f for f in mine if f[2] == "tag"] == expected


@SETTINGS
@given(story=stories)
def test_mastodon_length_matches_mastodon_py(story: str) -> None:
    assert length(story, MASTODON_DEFAULT) == mastodon_length(story)
    assert fits(story, MASTODON_DEFAULT) == (mastodon_length(story) <= 500)


@SETTINGS
@given(story=stories, rules=all_rules, reserve=reserves)
def test_fits_is_the_exact_count(story: str, rules: Rules, reserve: int) -> None:
    # fits() answers from upper bounds when it can: never differently from the count.
    assert fits(story, rules, reserve) == independent_fits(story, rules, reserve)


@SETTINGS
@given(s=stories | st.text())
def test_graphemes_match_regex(s: str) -> None:
    assert graphemes(s) == clusters(s)
    assert count_graphemes(s) == len(clusters(s))
    assert length(s, BLUESKY_DEFAULT) == len(clusters(s))


# --- balanced threads ----------------------------------------------------------------------

langs = st.sampled_from([None, "en", "fr", "de", "ja"])


def part_spans(rich: Rich, parts: list[Rich]) -> list[tuple[int, int]]:
    """Where each part lies in the text it was cut from (parts are slices of it)."""
    spans = []
    at = 0
    for part in parts:
        at = rich.text.index(part.text, at)
        spans.append((at, at + len(part.text)))
        at += len(part.text)
    return spans


def protected(rich: Rich, rules: Rules, reserve: int) -> list[tuple[int, int]]:
    """Code point spans no break may fall inside: links, whatever reads as a URL, and on
    Bluesky mentions and tags that fit a part (cutting one would change or drop its facet)."""
    text = rich.text
    spans = [(k.start, k.end) for k in rich.links]
    spans += [m.span() for m in regex.finditer(r"(?i)https?://\S+", text)]
    if rules.platform == "mastodon":
        spans += [m.span(3) for m in mastodon_url_regex.finditer(text)]
    else:
        data = text.encode()
        for b0, b1, kind, _ in sdk_facets(text):
            span = data[b0:b1].decode()
            if kind == "link" or len(clusters(span)) <= rules.limit - reserve:
                spans.append((len(data[:b0].decode()), len(data[:b1].decode())))
    return spans


def sentence_moves(
    rich: Rich, rules: Rules, reserve: int, lang: str | None, lo: int, hi: int
) -> list[int]:
    """Every (cut, resume) in (lo, hi) where whole sentences (or lines, or paragraphs) end."""
    from bot.text.sentences import sentence_ends

    text = rich.text
    found = [(c, r) for c, r in sentence_ends(text, lang)]
    found += [
        m.span() for m in regex.finditer(r"\s*[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]\s*", text)
    ]
    bounds = set(itertools.accumulate(map(len, clusters(text)), initial=0))
    shield = protected(rich, rules, reserve)
    return [
        (c, r)
        for c, r in found
        if lo < c <= r < hi
        and c in bounds
        and r in bounds
        and not any(s < r and c < e for s, e in shield)
        and not any(s < c < e or s < r < e for s, e in shield)
    ]


def trimmed(s: str) -> str:
    found = clusters(s)
    while found and found[0].isspace():
        found.pop(0)
    while found and found[-1].isspace():
        found.pop()
    return "".join(found)


def platform_length(s: str, rules: Rules) -> int:
    return mastodon_length(s) if rules.platform == "mastodon" else len(clusters(s))


@SETTINGS
@given(story=stories, rules=all_rules, reserve=reserves, lang=langs)
@example(
    story="On 28 August 1963 more than 250,000 people marched on Washington. " * 3
    + "One of the last speakers was Martin Luther King Jr.",
    rules=BLUESKY_DEFAULT,
    reserve=0,
    lang="en",
)
@example(  # "#。<" is a tag to Bluesky: the break after "。" would cut it
    story="0 " * 18 + "、" * 12 + " #。< en.wikipedia.org/aaaaaaa",
    rules=Rules("bluesky", 40, 3000),
    reserve=0,
    lang=None,
)
def test_split_uses_fewest_parts_and_balances_them(
    story: str, rules: Rules, reserve: int, lang: str | None
) -> None:
    rich = prepare(story, rules)
    try:
        parts = split(rich, rules, reserve=reserve, lang=lang)
    except TextTooLong:
        return
    spans = part_spans(rich, parts)
    text = rich.text
    for (a, _), (_, d) in itertools.pairwise(spans):
        # (b) no two neighbours fit in one part, joined as in the text
        assert not independent_fits(text[a:d], rules, reserve), (text[a:d], rules, reserve)
    for (a, b), (c, d) in itertools.pairwise(spans):
        # (c) no move of whole sentences across the boundary makes both parts longer than the
        # shorter one is now
        shorter = min(platform_length(text[a:b], rules), platform_length(text[c:d], rules))
        for cut, resume in sentence_moves(rich, rules, reserve, lang, a, d):
            first, second = trimmed(text[a:cut]), trimmed(text[resume:d])
            if not first or not second:
                continue
            if not (
                independent_fits(first, rules, reserve) and independent_fits(second, rules, reserve)
            ):
                continue
            assert not (
                platform_length(first, rules) > shorter and platform_length(second, rules) > shorter
            ), (text[a:b], text[c:d], "->", first, second)


# --- Mastodon's URLs without the whole regex --------------------------------------------------

# Hosts made of pieces where the shortcut could go wrong: TLDs in any case and next to letters,
# the four non-ASCII letters case-insensitive matching takes for ASCII ones, TLDs that mix
# ASCII with other letters, punycode, underscores in labels, IDN TLDs, ports, paths, queries.
_TLDS = (MASTODON_GTLDS + " " + MASTODON_CCTLDS).split()
url_pieces = st.one_of(
    st.sampled_from(_TLDS),
    st.sampled_from(_TLDS).map(str.upper),
    st.sampled_from(
        list(".-_/:?#@+()[]'~=&%!,; \n\u200e\u00e9\u00f6\u00bb\u3002")
        + list(FOLDS_TO_ASCII)
        + ["http://", "https://", "HTTPS://", "xhttp://", "xn--", "verm", "gensberater"]
        + ["example", "co", "com", ":8080", "/path", "(x)", "\u043e\u043d\u043b\u0430\u0439\u043d"]
        + ["a_b.", "x-y.", "_.", "w."]
    ),
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=5),
)


@SETTINGS
@given(pieces=st.lists(url_pieces, max_size=16), scheme=st.sampled_from(["http://", "https://"]))
@example(pieces=["co", "\u212a", " ", "verm\u00f6gensberater"], scheme="https://x.")
@example(pieces=["", "", "", "a_b.com x.a_b.com a_b.c.com/p"], scheme="https://")
@example(pieces=["\u043e\u043d\u043b\u0430\u0439\u043d", "/a"], scheme="http://\u0434.")
def test_mastodon_urls_are_mastodon_pys(pieces: list[str], scheme: str) -> None:
    text = "".join(pieces[:3]) + scheme + "".join(pieces[3:])
    assert mastodon_urls(text) == [m.span(3) for m in mastodon_url_regex.finditer(text)]


def test_only_four_non_ascii_letters_match_ascii_ones_ignoring_case() -> None:
    ascii_class = re.compile("[0-9a-zA-Z@+-]", re.IGNORECASE)
    found = {chr(c) for c in range(0x80, 0x110000) if ascii_class.match(chr(c))}
    assert found == FOLDS_TO_ASCII
    # ...and no TLD holds one of them, so an ASCII letter in a text never matches a TLD's
    # non-ASCII letter.
    assert not any(ch in FOLDS_TO_ASCII for tld in _TLDS for ch in tld)
