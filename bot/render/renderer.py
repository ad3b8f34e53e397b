"""Templates → a `Thread` per account: the head post, then the story split into replies.

Templates are the operator's, so they run in Jinja2's sandbox with StrictUndefined and no
autoescaping (posts are plain text). Post files are data: anything that looks like Jinja2
inside them is printed as written, never evaluated.

A template is looked up in the account's own folder, then `<templates>/<platform>/`, then
`<templates>/`, and last among the defaults shipped in the package (bot/render/defaults/), so
a config needs no template file of its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from bot import __version__
from bot import text as text
from bot.config import BlueskyAccount, Settings
from bot.content.post import MAX_CARD, Event, Picture, Problem
from bot.render import frames, i18n, sandbox
from bot.render.limits import load_instances, rules_for
from bot.text.base import end_of_run
from bot.text.sentences import sentence_ends

TEMPLATES = ("post.j2", "thread.j2")
# The templates used when no configured folder has its own: package data, see pyproject.toml.
DEFAULTS = Path(__file__).resolve().parent / "defaults"
# English, whatever the machine's locale (calendar.month_name follows the locale).
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# More hashtags than this in one post reads as spam to followers and to feeds' filters.
MAX_HASHTAGS = 5
# A hashtag as both platforms link it: `#` at the start or after a space or bracket, then a
# word that is not only digits.
_HASHTAG = re.compile(r"(?<![^\s(\[])#(?!\d+(?!\w))\w+")
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_NON_SPACE = re.compile(r"\S*")


class RenderError(Exception):
    """Rendering failed; `problem` says where (template or post file) and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Part:
    index: int
    text: str
    length: int  # as the platform counts it (on Mastodon including the content warning)
    limit: int
    facets: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Card:
    uri: str
    title: str
    description: str


@dataclass(slots=True)  # not frozen: made twice per event in a cold `check`
class _Draft:
    account: str
    platform: str
    numbering: bool
    rules: text.Rules  # the platform's limit
    count_rules: text.Rules  # what the text itself may use (less the content warning)
    cw_length: int
    lang: str
    card: Card | None
    head: text.Rich
    story: text.Rich | None
    notes: tuple[str, ...] = ()  # about the frame (language, hashtags), whatever the split


@dataclass(frozen=True, slots=True)
class Thread:
    account: str
    platform: str
    event: Event
    day: dt.date
    lang: str
    parts: tuple[Part, ...]
    cw: str | None = None
    image: str | None = None  # path of the head post's image
    alt: str | None = None
    card: Card | None = None  # Bluesky link card on the head post when there is no image
    notes: tuple[str, ...] = field(default=())  # warnings worth telling the operator
    # Every image of the head post (`image` is the first); with a `card`, Bluesky shows the
    # first as the card's thumbnail instead (card_image = true).
    images: tuple[Picture, ...] = ()


def year_label(year: int | None) -> str:
    """The year in English without Babel, for places that show no language (the HTML page's
    headings); templates get the localized `year_label`."""
    if year is None:
        return ""
    return f"{-year} BC" if year < 0 else str(year)


years_ago = i18n.years_ago


def all_tags(own: tuple[str, ...] | list[str], extra: list[str]) -> list[str]:
    """The event's tags, then the account's, each once whatever its case."""
    tags: list[str] = []
    seen: set[str] = set()
    for tag in (*own, *extra):
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags


def context(
    event: Event,
    day: dt.date,
    account: str,
    platform: str,
    limit: int,
    lang: str,
    link_card: bool = False,
    extra_tags: list[str] | None = None,
    numbering: bool = False,
) -> dict[str, Any]:
    """Everything a template can use (documented in the README)."""
    fields = {
        "id": event.id,
        "title": event.title,
        "summary": event.summary,
        "story": event.story,
        "tags": list(event.tags),
        "link": event.link,
        "lang": lang,
        "image": Path(event.image).name if event.image else None,
        "alt": event.alt,
        "cw": event.cw,
        "card": event.card,
        "year": event.year,
        "month": event.month,
        "day": event.day,
    }
    tags = all_tags(event.tags, extra_tags or [])
    return {
        "event": fields,
        **fields,
        "tags": tags,  # the event's, then the account's (`event.tags`: the event's own)
        "hashtags": " ".join(f"#{tag}" for tag in tags),
        **_dates(lang, event.month, event.day, event.year, day),
        "date": day,
        "account": account,
        "platform": platform,
        "limit": limit,
        "link_card": link_card,
        "numbering": numbering,
    }


@functools.lru_cache(maxsize=1024)
def _dates(lang: str, month: int, day: int, year: int | None, posted: dt.date) -> dict[str, Any]:
    """The date variables, the same for every account that posts the event that day."""
    frame = frames.frame(lang)
    ago = i18n.years_ago(year, posted)
    return {
        "year_label": i18n.year_label(frame, year),
        "years_ago": ago,
        "years_ago_phrase": i18n.years_ago_phrase(frame, ago),
        "event_date": i18n.event_date(frame, month, day, year),
        "on_its_day": i18n.on_its_day(month, day, posted),
        "opening": i18n.opening(frame, month, day, year, posted),
        "date_label": i18n.event_date(frame, month, day, None),
    }


def tidy(rendered: str) -> str:
    """Templates leave stray spaces and blank lines behind; followers should not see them."""
    if "\r" in rendered:
        rendered = rendered.replace("\r\n", "\n")
    if " \n" in rendered or "\t\n" in rendered:
        rendered = _TRAILING_SPACE.sub("\n", rendered)
    if "\n\n\n" in rendered:
        rendered = _BLANK_LINES.sub("\n\n", rendered)
    return rendered.strip()


class Renderer:
    """Compiled templates and length rules for every configured account."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.accounts = settings.active_accounts()
        instances = load_instances(settings.state_dir)
        self.rules = {name: rules_for(acc, instances) for name, acc in self.accounts.items()}
        # Dates and phrases from CLDR, kept between runs so most runs never import Babel.
        i18n.use_cache(settings.state_dir / "cache" / "cldr")
        self._envs: dict[str, sandbox.BoundedEnvironment] = {}
        self._global_vars: dict[str, dict[str, Any]] = {}
        # Compiled templates, shared by the accounts and kept between runs.
        # "bounded": code compiled for the plain sandbox folds `*` and misses the bounds.
        self._bytecode = _BytecodeCache(settings.state_dir / "cache" / "templates-bounded")
        self._templates: dict[tuple[str, str], jinja2.Template] = {}

    def warm_up(self) -> None:
        """Compile every template and text pattern now: a command that is waiting for
        something else (the posts listing) does its first-render work meanwhile."""
        text.warm_up()
        for account in self.accounts:
            env = self.env(account)
            for name in TEMPLATES:
                with contextlib.suppress(jinja2.TemplateError):
                    env.get_template(name)

    def folders(self, account: str) -> list[Path]:
        """Template folders for an account, most specific first; the package defaults last."""
        platform = self.accounts[account].platform
        base = self.settings.templates_dir
        own = self.settings.account_templates(account)
        return [f for f in (own, base / platform, base, DEFAULTS) if f is not None]

    def sources(self, account: str) -> dict[str, Path | None]:
        """The file each template of an account comes from (None: found nowhere)."""
        folders = self.folders(account)
        return {
            name: next((f / name for f in folders if (f / name).is_file()), None)
            for name in TEMPLATES
        }

    def env(self, account: str) -> sandbox.BoundedEnvironment:
        env = self._envs.get(account)
        if env is None:
            env = sandbox.BoundedEnvironment(
                loader=jinja2.FileSystemLoader([str(f) for f in self.folders(account)]),
                bytecode_cache=self._bytecode,
                undefined=jinja2.StrictUndefined,
                autoescape=False,
                trim_blocks=True,
                lstrip_blocks=True,
                auto_reload=False,
            )
            env.globals["t"] = _t
            env.trust(_t)
            env.filters.update(
                event_date=_event_date,
                year_label=_year_label,
                years_ago_phrase=_years_ago_phrase,
                number=_number,
            )
            self._envs[account] = env
        return env

    def _globals(self, account: str) -> dict[str, Any]:
        cached = self._global_vars.get(account)
        if cached is None:
            cached = self._global_vars[account] = dict(self.env(account).globals)
        return cached

    def template_files(self) -> list[Path]:
        """Every template file any account may use, for validation and fingerprints."""
        seen: dict[Path, None] = {}
        for account in self.accounts:
            for folder in self.folders(account):
                for name in TEMPLATES:
                    if (folder / name).is_file():
                        seen[folder / name] = None
        return list(seen)

    def fingerprint(self) -> str:
        """Changes whenever a template, a limit or a rendering setting changes."""
        digest = hashlib.sha256()
        digest.update(self.settings.model_dump_json(exclude={"source"}).encode())
        digest.update(repr(sorted(self.rules.items())).encode())
        digest.update(str(self.settings.today().year).encode())
        digest.update(frames.fingerprint().encode())  # our phrases in every language
        # An upgrade of thisday or of Jinja2 (a fixed sandbox) proves every verdict again.
        digest.update(f"thisday {__version__}, jinja2 {jinja2.__version__}".encode())
        for path in self.template_files():
            digest.update(str(path).encode())
            with contextlib.suppress(OSError):
                digest.update(path.read_bytes())
        return digest.hexdigest()[:20]

    def check_templates(self) -> list[Problem]:
        """Template problems (syntax, missing files), each reported once."""
        problems: list[Problem] = []
        for path in self.template_files():
            try:
                source = path.read_text(encoding="utf-8")
                self.env(next(iter(self.accounts))).parse(source, path.name, str(path))
            except UnicodeDecodeError:
                problems.append(Problem(str(path), 1, "error", "template is not UTF-8 text"))
            except jinja2.TemplateSyntaxError as exc:
                problems.append(
                    Problem(str(path), exc.lineno or 1, "error", f"template: {exc.message}")
                )
        for account in self.accounts:
            for name in TEMPLATES:
                if not any((folder / name).is_file() for folder in self.folders(account)):
                    places = ", ".join(str(f) for f in self.folders(account))
                    problems.append(
                        Problem(
                            str(self.settings.templates_dir / name),
                            1,
                            "error",
                            f"template {name} for account {account!r} not found in {places}",
                        )
                    )
        return _unique(problems)

    def _template(self, account: str, name: str) -> jinja2.Template:
        # Looked up once per account: Jinja's own cache takes a lock and a few µs per call,
        # paid four times per event in a cold `check` of 50,000 files.
        key = (account, name)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self.env(account).get_template(name)
        return template

    def _render(self, account: str, name: str, ctx: dict[str, Any], event: Event) -> str:
        env = self.env(account)
        try:
            template = self._template(account, name)
            try:
                # Bounded in time, size and recursion; `ctx` carries the globals (_globals).
                return tidy(sandbox.render(template, ctx))
            except Exception:
                env.handle_exception()  # re-raised with the template's own lines
                raise
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(
                Problem(exc.filename or name, exc.lineno or 1, "error", f"template: {exc.message}")
            ) from None
        except jinja2.TemplateNotFound:
            raise RenderError(
                Problem(
                    str(self.settings.templates_dir / name),
                    1,
                    "error",
                    f"template {name} not found",
                )
            ) from None
        except (
            jinja2.UndefinedError,
            SecurityError,
            jinja2.TemplateError,
            TypeError,
            ValueError,
            ArithmeticError,
            LookupError,
            AttributeError,
        ) as exc:
            where, line = getattr(exc, "position", None) or _template_position(exc, name)
            raise RenderError(
                Problem(where, line, "error", f"template failed for event {event.id!r}: {exc}")
            ) from None

    def _draft(self, event: Event, account: str, day: dt.date, *, card_text: bool = True) -> _Draft:
        """Templates rendered and checked, texts prepared for the platform: all but the split.
        Without `card_text` the card's description is left empty (it never counts)."""
        settings_account = self.accounts[account]
        rules = self.rules[account]
        platform = settings_account.platform
        lang = event.lang or settings_account.language or self.settings.language
        frame = frames.frame(lang)
        card = (
            # The card's description adds to the head post rather than repeating it.
            Card(
                event.link,
                event.title,
                event.card or (first_sentence(event.story, lang) if card_text else ""),
            )
            if isinstance(settings_account, BlueskyAccount)
            and settings_account.link_card
            and event.link
            and (not event.image or settings_account.card_image)
            else None
        )
        ctx = self._globals(account) | context(
            event,
            day,
            account,
            platform,
            rules.limit,
            lang,
            link_card=card is not None,
            extra_tags=self.settings.tags_for(account),
            numbering=settings_account.numbering,
        )
        head_text = self._render(account, "post.j2", ctx, event)
        story_text = self._render(account, "thread.j2", ctx, event)
        if not head_text:
            raise RenderError(
                Problem(
                    event.path, event.line, "error", f"the head post renders empty for {account!r}"
                )
            )

        count_rules = rules
        cw_length = 0
        if platform == "mastodon" and event.cw:
            # Mastodon counts the content warning towards each post's limit.
            cw_length = text.length(event.cw, rules)
            if cw_length >= rules.limit:
                raise RenderError(
                    Problem(
                        event.path,
                        event.line,
                        "error",
                        f"content warning alone is {cw_length}/{rules.limit} on {account!r}",
                    )
                )
            count_rules = text.Rules(
                rules.platform, rules.limit - cw_length, rules.max_bytes, rules.url_weight
            )
        return _Draft(
            account=account,
            platform=platform,
            numbering=settings_account.numbering,
            rules=rules,
            count_rules=count_rules,
            cw_length=cw_length,
            lang=lang,
            card=card,
            head=text.prepare(head_text, count_rules),
            story=text.prepare(story_text, count_rules) if story_text else None,
            notes=() if frame.supported else (_language_note(lang),),
        )

    def render(self, event: Event, account: str, day: dt.date) -> Thread:
        """The thread `account` would post for `event` on `day`. Raises RenderError."""
        draft = self._draft(event, account, day)
        # A huge story is refused before it is split: splitting it would cost seconds.
        self._check_parts(event, draft, _fewest_parts(draft), at_least=True)
        rules, platform = draft.rules, draft.platform
        try:
            head_parts, story_parts = self._split(draft)
        except text.TextTooLong as exc:
            raise self._too_long(event, draft, exc) from None
        notes = [self._head_note(draft)] if len(head_parts) > 1 else []
        notes.extend(draft.notes)
        pieces = head_parts + story_parts
        self._check_parts(event, draft, len(pieces))
        if draft.numbering and len(pieces) > 1:
            pieces = [
                text.Rich(f"{p.text}{_suffix(i, len(pieces))}", p.links)
                for i, p in enumerate(pieces, 1)
            ]
        notes.extend(_hashtag_notes(draft.account, [p.text for p in pieces]))
        parts = tuple(
            Part(
                index=i,
                text=piece.text,
                length=text.length(piece.text, rules) + draft.cw_length,
                limit=rules.limit,
                facets=tuple(text.facets(piece)) if platform == "bluesky" else (),
            )
            for i, piece in enumerate(pieces)
        )
        return Thread(
            account=account,
            platform=platform,
            event=event,
            day=day,
            lang=draft.lang,
            parts=parts,
            cw=event.cw,
            image=event.image,
            alt=event.alt,
            card=draft.card,
            notes=tuple(notes),
            images=event.pictures,
        )

    def prove_fit(self, event: Event, account: str, day: dt.date) -> tuple[str, ...]:
        """The notes render() would give, or its RenderError — without splitting, when every
        word of the texts fits a part on its own (then the splitter cannot fail)."""
        draft = self._draft(event, account, day, card_text=False)
        room = draft.count_rules
        texts = [draft.head.text] + ([draft.story.text] if draft.story else [])
        if draft.numbering:
            # The fewest parts never outnumber the words (each fits a part alone, checked
            # below), and a text holds at most half its length plus one words: room for that
            # many parts' number bounds the reserve any split would use.
            most = 1 + sum(len(t) // 2 + 1 for t in texts)
            reserve = _suffix_width(most)
            room = _less(room, reserve)
            if room.limit < 1:
                return self.render(event, account, day).notes
        head_fits = text.fits(draft.head.text, room)
        if draft.numbering and not head_fits:
            return self.render(event, account, day).notes  # the head's split depends on the count
        if not all(_words_fit(t, room) for t in texts):
            return self.render(event, account, day).notes
        if _most_parts(texts, room) > self.settings.max_parts_for(account):
            return self.render(event, account, day).notes  # counts them exactly
        # Counting "#" first is cheap: most posts have fewer than the limit in all.
        if sum(t.count("#") for t in texts) > MAX_HASHTAGS and (
            sum(len(_HASHTAG.findall(t)) for t in texts) > MAX_HASHTAGS
        ):
            return self.render(event, account, day).notes
        return draft.notes if head_fits else (self._head_note(draft), *draft.notes)

    def _check_parts(self, event: Event, draft: _Draft, parts: int, at_least: bool = False) -> None:
        most = self.settings.max_parts_for(draft.account)
        if parts > most:
            raise RenderError(
                Problem(
                    event.path,
                    event.story_line,
                    "error",
                    f"the thread needs {'at least ' if at_least else ''}{parts} parts on"
                    f" {draft.account!r}, more than"
                    f" max_parts = {most}: shorten the story (or raise max_parts)",
                )
            )

    @staticmethod
    def _head_note(draft: _Draft) -> str:
        rules = draft.count_rules
        return (
            f"head post is {text.length(draft.head.text, rules)}/{rules.limit}"
            f" on {draft.account!r}: it continues in the next part (shorten the title or summary)"
        )

    @staticmethod
    def _too_long(event: Event, draft: _Draft, exc: text.TextTooLong) -> RenderError:
        return RenderError(
            Problem(
                event.path,
                event.story_line,
                "error",
                f"cannot fit {draft.account!r} ({draft.platform},"
                f" limit {draft.rules.limit}): {exc}",
            )
        )

    @staticmethod
    def _split(draft: _Draft) -> tuple[list[text.Rich], list[text.Rich]]:
        rules, lang = draft.count_rules, draft.lang
        # With a story there are at least two parts: start with room for " 2/2". The room
        # grows with the count's width (" 9/9" to " 10/10") and the split is done again; it
        # never shrinks, so this ends, and every part fits with its own number.
        reserve = _suffix_width(2) if draft.numbering and draft.story else 0
        while True:
            head_parts = text.split(draft.head, rules, reserve=reserve, lang=lang)
            story_parts = (
                text.split(draft.story, rules, reserve=reserve, lang=lang) if draft.story else []
            )
            total = len(head_parts) + len(story_parts)
            if not draft.numbering or total < 2:
                return head_parts, story_parts
            needed = _suffix_width(total)
            if needed <= reserve:
                return head_parts, story_parts
            reserve = needed


# -- helpers for templates: the frame in the post's language (`lang`), or in the one given --


def _frame(ctx: jinja2.runtime.Context, lang: str | None) -> frames.Frame:
    return frames.frame(lang if lang is not None else ctx.get("lang"))


@jinja2.pass_context
def _t(ctx: jinja2.runtime.Context, key: str, lang: str | None = None, **values: Any) -> str:
    """`{{ t("content_warning", cw=cw) }}`: a phrase of bot/render/frames.py."""
    return _frame(ctx, lang).phrase(key, **values)


def _date_parts(value: Any) -> tuple[int, int, int | None]:
    if isinstance(value, dt.date):
        return value.month, value.day, value.year
    if isinstance(value, Mapping) and "month" in value and "day" in value:
        return int(value["month"]), int(value["day"]), value.get("year")
    raise TypeError("event_date expects the event (`event`) or a date")


@jinja2.pass_context
def _event_date(ctx: jinja2.runtime.Context, value: Any, lang: str | None = None) -> str:
    """`{{ event | event_date }}`: "29 February 1940"; `{{ date | event_date("fr") }}`."""
    month, day, year = _date_parts(value)
    return i18n.event_date(_frame(ctx, lang), month, day, year)


@jinja2.pass_context
def _year_label(ctx: jinja2.runtime.Context, year: int | None, lang: str | None = None) -> str:
    """`{{ -44 | year_label }}`: "44 BC"."""
    return i18n.year_label(_frame(ctx, lang), year)


@jinja2.pass_context
def _years_ago_phrase(ctx: jinja2.runtime.Context, value: Any, lang: str | None = None) -> str:
    """`{{ years_ago | years_ago_phrase }}` or `{{ event | years_ago_phrase }}` (counted to
    the posting date): "87 years ago"."""
    if isinstance(value, Mapping):
        value = i18n.years_ago(value.get("year"), ctx["date"])
    return i18n.years_ago_phrase(_frame(ctx, lang), value)


@jinja2.pass_context
def _number(ctx: jinja2.runtime.Context, value: int, lang: str | None = None) -> str:
    """`{{ 2069 | number }}`: "2,069", "2 069"."""
    return i18n.number(_frame(ctx, lang), int(value))


def _suffix(index: int, total: int) -> str:
    """The thread number that ends each part: "1/5", on a line of its own."""
    return f"\n\n{index}/{total}"


@functools.lru_cache(maxsize=256)
def _less(rules: text.Rules, reserve: int) -> text.Rules:
    """The rules with `reserve` characters (and bytes) kept back for the thread number."""
    return text.Rules(
        rules.platform,
        rules.limit - reserve,
        None if rules.max_bytes is None else rules.max_bytes - reserve,
        rules.url_weight,
    )


def _suffix_width(total: int) -> int:
    return len(_suffix(total, total))  # the widest number of a thread of `total` parts


def _hashtag_notes(account: str, texts: list[str]) -> list[str]:
    notes = []
    for n, body in enumerate(texts):
        count = len(_HASHTAG.findall(body))
        if count > MAX_HASHTAGS:
            where = "the head post" if n == 0 else f"part {n + 1}"
            notes.append(
                f"{where} carries {count} hashtags on {account!r} (more than {MAX_HASHTAGS}"
                " reads as spam): drop some of the event's `tags` or the config's `tags`"
            )
    return notes


def _language_note(lang: str) -> str:
    return (
        f"lang {lang!r} has no frame phrases (bot/render/frames.py has"
        f" {', '.join(frames.languages())}): the opening, dates and content warning are in"
        " English"
    )


def first_sentence(story: str, lang: str | None) -> str:
    """The story's first sentence, for the Bluesky link card (at most MAX_CARD characters)."""
    paragraph = story.split("\n\n", 1)[0].strip()
    if not paragraph:
        return ""
    ends = sentence_ends(paragraph, lang)
    sentence = paragraph[: ends[0][0]] if ends else paragraph
    if len(sentence) > MAX_CARD:
        cut = sentence.rfind(" ", 0, MAX_CARD)
        sentence = sentence[: cut if cut > 0 else MAX_CARD - 1].rstrip() + "…"
    return sentence


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja2's on-disk cache of compiled templates (keyed by file and source checksum), which
    never fails a render: an unwritable state folder only costs the compile."""

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder))
        self.folder = folder

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)


def _words_fit(body: str, rules: text.Rules) -> bool:
    """A cheap upper bound: every space-separated word fits a part alone. Then the greedy
    splitter always has a break to cut at, so it cannot raise TextTooLong. Code points bound
    graphemes from above; on Mastodon a URL may weigh more than its length."""
    if "://" in body and rules.url_weight > rules.limit:
        return False
    if _has_longer_word(body, rules.limit):
        return False
    # A code point takes at most 4 bytes in UTF-8: most limits need no encoding at all.
    if rules.max_bytes is None or not _has_longer_word(body, rules.max_bytes // 4):
        return True
    return max(len(word.encode()) for word in body.split()) <= rules.max_bytes


def _has_longer_word(body: str, limit: int) -> bool:
    """Whether a run of non-space characters is longer than `limit`. Such a run covers a
    multiple of limit + 1, so only the runs through those positions are measured: a few
    anchored matches instead of a search that tries every character (this runs for every
    event of a cold `check`)."""
    step = limit + 1
    size = len(body)
    if size < step:
        return False
    backwards = body[::-1]
    for at in range(limit, size, step):
        if not body[at].isspace():
            mirrored = size - 1 - at  # where `at` is in `backwards`
            after = end_of_run(_NON_SPACE, body, at) - at  # `at` and the rest of its run
            before = end_of_run(_NON_SPACE, backwards, mirrored) - mirrored - 1  # what precedes it
            if before + after > limit:
                return True
    return False


def _fewest_parts(draft: _Draft) -> int:
    """A lower bound on the parts of the split: each part holds at most the limit, and a
    cut drops at most a paragraph break."""
    room = draft.count_rules.limit + 2
    bodies = [draft.head.text] + ([draft.story.text] if draft.story else [])
    return sum(-(-text.length(body, draft.count_rules) // room) for body in bodies)


def _most_parts(texts: list[str], rules: text.Rules) -> int:
    """An upper bound on the parts a split may need when every word fits a part: two
    neighbouring parts together are over the limit (else one would have taken the other's
    first word), by code points (which bound graphemes, a URL counted at its weight) or by
    bytes."""
    most = 0
    for body in texts:
        weight = len(body) + body.count("://") * rules.url_weight
        halves = -(-weight // rules.limit)
        if rules.max_bytes:
            halves += -(-len(body.encode()) // rules.max_bytes)
        most += 2 * halves + 1
    return most


def _template_position(exc: BaseException, default: str) -> tuple[str, int]:
    """Jinja2 rewrites tracebacks to point into templates; find the deepest template frame."""
    where, line = default, 1
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename.endswith(".jinja"):
            where, line = filename, tb.tb_lineno
        tb = tb.tb_next
    return where, line


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
