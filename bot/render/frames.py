"""The words we write ourselves around an event, one small table per language.

Everything else in a post's frame comes from CLDR through Babel (bot/render/i18n.py): dates,
month names, eras, "N years ago" with its plural forms, numbers. These are only the phrases
CLDR has no data for. Each table was written for natural wording in its language, the way a
history account in that language opens a post; keep the keys identical across languages (a
test checks it) and keep them short: every character here is counted in every head post.

Placeholders: `{year}` is a year label from CLDR ("1940", "44 BC", "紀元前44年"), `{date}` the
event's date from CLDR ("29 February 1940", "29 février 1940"), `{text}` and `{ago}` the opening
and the "N years ago" phrase, `{cw}` the content warning.

A language that has no table here is rendered with the English one (`check` warns).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

FALLBACK = "en"

# Keys every table has, and what templates may ask of `t()`.
KEYS = (
    "on_this_day",  # posted on its own day, no year known
    "on_this_day_in",  # posted on its own day: "On this day in {year}"
    "on_date",  # posted on another day (29 February in a common year): "On {date}"
    "with_ago",  # the opening with "N years ago" after it
    "colon",  # between the opening and the title
    "content_warning",  # the line that opens a Bluesky post with a content warning
    "thread_below",  # says that replies follow (the default templates use it without numbering)
)

_TABLES: dict[str, dict[str, str]] = {
    "en": {
        "on_this_day": "On this day",
        "on_this_day_in": "On this day in {year}",
        "on_date": "On {date}",
        "with_ago": "{text} ({ago})",
        "colon": ": ",
        "content_warning": "Content warning: {cw}",
        "thread_below": "🧵 Thread below",
    },
    "fr": {
        "on_this_day": "Un jour comme aujourd'hui",
        "on_this_day_in": "Un jour comme aujourd'hui, en {year}",
        "on_date": "Le {date}",
        "with_ago": "{text} ({ago})",
        # French puts a (no-break) space before a colon.
        "colon": "\u00a0: ",
        "content_warning": "Avertissement\u00a0: {cw}",
        "thread_below": "🧵 La suite dans le fil",
    },
    "de": {
        "on_this_day": "An diesem Tag",
        "on_this_day_in": "An diesem Tag im Jahr {year}",
        "on_date": "Am {date}",
        "with_ago": "{text} ({ago})",
        "colon": ": ",
        "content_warning": "Inhaltswarnung: {cw}",
        "thread_below": "🧵 Mehr im Thread",
    },
    "es": {
        "on_this_day": "Un día como hoy",
        "on_this_day_in": "Un día como hoy, en {year}",
        "on_date": "El {date}",
        "with_ago": "{text} ({ago})",
        "colon": ": ",
        "content_warning": "Aviso de contenido: {cw}",
        "thread_below": "🧵 Sigue en el hilo",
    },
    "it": {
        "on_this_day": "Accadde oggi",
        "on_this_day_in": "Accadde oggi, nel {year}",
        "on_date": "Il {date}",
        "with_ago": "{text} ({ago})",
        "colon": ": ",
        "content_warning": "Avviso sui contenuti: {cw}",
        "thread_below": "🧵 Continua nel thread",
    },
    "pt": {
        "on_this_day": "Neste dia",
        "on_this_day_in": "Neste dia, em {year}",
        "on_date": "Em {date}",
        "with_ago": "{text} ({ago})",
        "colon": ": ",
        "content_warning": "Aviso de conteúdo: {cw}",
        "thread_below": "🧵 Continua no fio",
    },
    "nl": {
        "on_this_day": "Op deze dag",
        "on_this_day_in": "Op deze dag in {year}",
        "on_date": "Op {date}",
        "with_ago": "{text} ({ago})",
        "colon": ": ",
        "content_warning": "Inhoudswaarschuwing: {cw}",
        "thread_below": "🧵 Verder in het draadje",
    },
    "ja": {
        "on_this_day": "今日は何の日",
        "on_this_day_in": "{year}の今日",
        "on_date": "{date}",
        # Full-width brackets and colon, as Japanese text uses them.
        "with_ago": "{text}（{ago}）",  # noqa: RUF001
        "colon": "：",  # noqa: RUF001
        "content_warning": "閲覧注意：{cw}",  # noqa: RUF001
        "thread_below": "🧵 スレッドに続きます",
    },
}


@dataclass(frozen=True, slots=True)
class Frame:
    """A language's phrases and how its dates are written."""

    lang: str  # the table's language ("pt" for a post in "pt-BR")
    locale: str  # the CLDR locale dates and numbers come from ("pt_BR", "en_GB")
    phrases: Mapping[str, str]
    supported: bool  # False: the post's language has no table, English stands in
    # The era before the year for AD ("AD 5", English usage), after it for BC ("44 BC").
    era_before_ad: bool = False
    # How the first day of a month is written where CLDR writes "1" (fr "1er", it/pt "1º").
    first_day: str = "1"
    # The phrases to use before a word said with a vowel first, where the language elides.
    elided: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def phrase(self, key: str, **values: object) -> str:
        try:
            pattern = self.phrases[key]
        except KeyError:
            known = ", ".join(KEYS)
            raise LookupError(f"t({key!r}): no such phrase (known: {known})") from None
        return pattern.format_map(values) if values else pattern


# English in Britain writes "29 February 1940", as the posts do; `en-US` gets CLDR's
# American form ("February 29, 1940"). Other languages use their CLDR default.
# Italian elides before a vowel sound: "l'8 marzo", "nell'800" (see i18n.opening).
_ELIDED = {"it": {"on_this_day_in": "Accadde oggi, nell'{year}", "on_date": "L'{date}"}}
_DEFAULT_LOCALE = {"en": "en_GB"}
_FIRST_DAY = {"fr": "1er", "it": "1º", "pt": "1º"}
_LANG = re.compile(r"([a-z]{2,3})(?:[-_]([A-Za-z0-9]{2,8}))?")


def languages() -> tuple[str, ...]:
    return tuple(_TABLES)


@functools.lru_cache(maxsize=256)
def frame(lang: str | None) -> Frame:
    """The frame for a post's `lang` ("fr", "pt-BR", "en-US"); English when there is none."""
    match = _LANG.match(lang or FALLBACK)
    base = match.group(1).lower() if match else FALLBACK
    region = match.group(2) if match else None
    supported = base in _TABLES
    if not supported:
        base, region = FALLBACK, None
    # A region only when it is one (two letters or three digits): "zh-Hant" is a script.
    if region and (len(region) == 2 or region.isdigit()):
        locale = f"{base}_{region.upper()}"
    else:
        locale = _DEFAULT_LOCALE.get(base, base)
    return Frame(
        lang=base,
        locale=locale,
        phrases=MappingProxyType(_TABLES[base]),
        supported=supported,
        era_before_ad=base == "en",
        first_day=_FIRST_DAY.get(base, "1"),
        elided=MappingProxyType(_ELIDED.get(base, {})),
    )


def fingerprint() -> str:
    """Changes whenever a phrase does: `check` proves every event again then."""
    return repr(sorted((lang, sorted(table.items())) for lang, table in _TABLES.items()))
