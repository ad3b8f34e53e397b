r"""Where sentences end, in the post's language: Wikimedia's multilingual segmenter, sentencex,
plus a short list of exceptions it misses.

sentencex (rule-based, per-language abbreviation lists, a Rust core) finds the boundaries. Two
gaps in it, both covered by tests, are closed here rather than worked around in the splitter:

- It still breaks after a few abbreviations in some languages (fr "Le Dr. Martin", es/pt
  "St. Louis", ja "Dr. Smith"). A boundary is dropped when the sentence before it ends on one
  of `_NEVER_LAST` (titles that precede a name), on an initial ("J. R. R. Tolkien", "M.
  Dupont") or on a dotted abbreviation ("U.S.", "e.g."): a part never ends there, in any
  language. "Jr." is left out on purpose: it follows a name and often ends a sentence.
- It does not break after a full-width stop followed directly by more text ("\u672c\u5f53\uff1fok");
  CJK text often has no space after a full-width stop, so those stops are boundaries too.

The segmenter is imported on first use: a story that fits in one part never needs it.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Titles and abbreviations that are followed by a name or a number, never by a new sentence.
_NEVER_LAST = "Dr Dra Drs Mr Mrs Ms Mme Mlle Mmes Messrs Prof Profa St Ste Sto Sta Sr Sra Srta"
_NEVER_LAST += " Mt Mgr Hr Fr Frl Gen Gov Sen Rep Rev Capt Col Lt Sgt Hon Pres Sig Sigg Dott Ing"
_NEVER_LAST += " Avv No Nr Vol pp vs"
_EXCEPTION = re.compile(
    r"(?:(?<![^\W\d_])(?:" + _NEVER_LAST.replace(" ", "|") + r")"  # a listed abbreviation
    r"|(?<![^\W\d_])[^\W\d_]"  # an initial: one letter
    r"|(?<![^\W\d_])(?:[^\W\d_]\.){1,}[^\W\d_]"  # a dotted abbreviation: U.S, e.g, i.e
    r")\.[\"'\u2019\u201d\u00bb)\]]*\s*$"
)
# A full-width stop (with its closing quotes/brackets) directly followed by more text.
_CJK_STOP = re.compile(
    "[\u3002\uff01\uff1f\uff0e\uff61][\u300d\u300f\u3011\u3015\u3017\u3019\u301b\uff09\uff3d"
    "\uff5d\u3009\u300b\u201d\u2019]*(?=\\S)"
)


def after_abbreviation(text: str, pos: int) -> bool:
    """Whether ``text[:pos]`` ends on a listed abbreviation, an initial or a dotted
    abbreviation: a space there is no place to end a part either, even inside a sentence."""
    return (
        pos > 0
        and text[pos - 1] == "."
        and _EXCEPTION.search(text, max(0, pos - 24), pos) is not None
    )


def _language(lang: str | None) -> str:
    """sentencex's language code: the primary subtag ("pt-BR" -> "pt"), English by default."""
    if not lang:
        return "en"
    return lang.replace("_", "-").split("-")[0].lower() or "en"


@lru_cache(maxsize=512)
def sentence_ends(text: str, lang: str | None = None) -> tuple[tuple[int, int], ...]:
    """(cut, resume) of every sentence end inside ``text`` (code point offsets): the sentence
    ends at ``cut`` (its trailing spaces excluded) and the next one starts at ``resume``.
    Cached: the renderer splits the same story again when the numbering's reserve grows."""
    from sentencex import get_sentence_boundaries

    ends: list[tuple[int, int]] = []
    n = len(text)
    for found in get_sentence_boundaries(_language(lang), text):
        resume = found["end_index"]
        sentence = text[found["start_index"] : resume]
        if resume >= n or sentence.isspace():
            continue
        if _EXCEPTION.search(sentence):
            continue
        cut = found["start_index"] + len(sentence.rstrip())
        if cut == resume:
            # No space after the stop ("v1.2", "@b.social.-word"): not a place to end a part
            # (cutting there could even turn the rest into a link or a mention). Full-width
            # stops, which need no space, are added below.
            continue
        ends.append((cut, resume))
    if not text.isascii():
        have = {cut for cut, _ in ends}
        ends += [(m.end(), m.end()) for m in _CJK_STOP.finditer(text) if m.end() not in have]
        ends.sort()
    return tuple(ends)
