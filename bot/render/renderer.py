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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot import __version__
from bot import text as text
from bot.config import BlueskyAccount, Settings
from bot.content.post import Event, Problem
from bot.render.limits import load_instances, rules_for

TEMPLATES = ("post.j2", "thread.j2")
# The templates used when no configured folder has its own: package data, see pyproject.toml.
DEFAULTS = Path(__file__).resolve().parent / "defaults"
# English, whatever the machine's locale (calendar.month_name follows the locale).
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
BLUESKY_MAX_IMAGE = 2_000_000
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


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


@dataclass(frozen=True, slots=True)
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


def year_label(year: int | None) -> str:
    if year is None:
        return ""
    return f"{-year} BC" if year < 0 else str(year)


def years_ago(year: int | None, day: dt.date) -> int | None:
    if year is None:
        return None
    # There is no year 0: from 44 BC to AD 2026 is 2069 years.
    return day.year - year - (1 if year < 0 else 0)


def context(
    event: Event,
    day: dt.date,
    account: str,
    platform: str,
    limit: int,
    lang: str,
    link_card: bool = False,
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
        "year": event.year,
        "month": event.month,
        "day": event.day,
    }
    return {
        "event": fields,
        **fields,
        "hashtags": " ".join(f"#{tag}" for tag in event.tags),
        "year_label": year_label(event.year),
        "years_ago": years_ago(event.year, day),
        "date": day,
        "date_label": f"{event.day} {MONTHS[event.month - 1]}",
        "account": account,
        "platform": platform,
        "limit": limit,
        "link_card": link_card,
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
        self._envs: dict[str, ImmutableSandboxedEnvironment] = {}
        self._global_vars: dict[str, dict[str, Any]] = {}
        # Compiled templates, shared by the accounts and kept between runs.
        self._bytecode = _BytecodeCache(settings.state_dir / "cache" / "templates-sandboxed")

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

    def env(self, account: str) -> ImmutableSandboxedEnvironment:
        env = self._envs.get(account)
        if env is None:
            env = ImmutableSandboxedEnvironment(
                loader=jinja2.FileSystemLoader([str(f) for f in self.folders(account)]),
                bytecode_cache=self._bytecode,
                undefined=jinja2.StrictUndefined,
                autoescape=False,
                trim_blocks=True,
                lstrip_blocks=True,
                auto_reload=False,
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

    def _render(self, account: str, name: str, ctx: dict[str, Any], event: Event) -> str:
        env = self.env(account)
        try:
            template = env.get_template(name)
            try:
                # What Template.render does, minus merging the globals into every context:
                # `ctx` carries them already (see _globals), which matters at 100,000 renders.
                body = template.root_render_func(template.new_context(ctx, shared=True))
                return tidy(env.concat(body))
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
            where, line = _template_position(exc, name)
            raise RenderError(
                Problem(where, line, "error", f"template failed for event {event.id!r}: {exc}")
            ) from None

    def _draft(self, event: Event, account: str, day: dt.date) -> _Draft:
        """Templates rendered and checked, texts prepared for the platform: all but the split."""
        settings_account = self.accounts[account]
        rules = self.rules[account]
        platform = settings_account.platform
        lang = event.lang or settings_account.language or self.settings.language
        card = (
            Card(event.link, event.title, event.summary)
            if isinstance(settings_account, BlueskyAccount)
            and settings_account.link_card
            and event.link
            and not event.image
            else None
        )
        ctx = self._globals(account) | context(
            event, day, account, platform, rules.limit, lang, link_card=card is not None
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
        if event.image and platform == "bluesky":
            size = Path(event.image).stat().st_size
            if size > BLUESKY_MAX_IMAGE:
                raise RenderError(
                    Problem(
                        event.path,
                        event.line,
                        "error",
                        f"image is {size} bytes; Bluesky accepts at most {BLUESKY_MAX_IMAGE}",
                    )
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
        )

    def render(self, event: Event, account: str, day: dt.date) -> Thread:
        """The thread `account` would post for `event` on `day`. Raises RenderError."""
        draft = self._draft(event, account, day)
        rules, platform = draft.rules, draft.platform
        try:
            head_parts, story_parts = self._split(draft)
        except text.TextTooLong as exc:
            raise self._too_long(event, draft, exc) from None
        notes = [self._head_note(draft)] if len(head_parts) > 1 else []
        pieces = head_parts + story_parts
        if draft.numbering and len(pieces) > 1:
            pieces = [
                text.Rich(f"{p.text}\n\n{i}/{len(pieces)}", p.links)
                for i, p in enumerate(pieces, 1)
            ]
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
        )

    def prove_fit(self, event: Event, account: str, day: dt.date) -> tuple[str, ...]:
        """The notes render() would give, or its RenderError — without splitting, when every
        word of the texts fits a part on its own (then the splitter cannot fail)."""
        draft = self._draft(event, account, day)
        room = draft.count_rules
        texts = [draft.head.text] + ([draft.story.text] if draft.story else [])
        if draft.numbering or not all(_words_fit(t, room) for t in texts):
            return self.render(event, account, day).notes
        return () if text.fits(draft.head.text, room) else (self._head_note(draft),)

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
        rules = draft.count_rules
        reserve = 0
        while True:
            head_parts = text.split(draft.head, rules, reserve=reserve)
            story_parts = text.split(draft.story, rules, reserve=reserve) if draft.story else []
            total = len(head_parts) + len(story_parts)
            if not draft.numbering or total < 2:
                return head_parts, story_parts
            needed = len(f"\n\n{total}/{total}")
            if needed <= reserve:
                return head_parts, story_parts
            reserve = needed


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
    if _longer_word(rules.limit).search(body):
        return False
    # A code point takes at most 4 bytes in UTF-8: most limits need no encoding at all.
    if rules.max_bytes is None or not _longer_word(rules.max_bytes // 4).search(body):
        return True
    return max(len(word.encode()) for word in body.split()) <= rules.max_bytes


@functools.cache
def _longer_word(limit: int) -> re.Pattern[str]:
    return re.compile(rf"\S{{{limit + 1},}}")


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
