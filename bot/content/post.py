"""One post file → one validated `Event`, or problems that name the file and line.

A post is Markdown with YAML front matter. Values are checked strictly: YAML 1.1 reads
`no` as False and `12:30` as 750, and such surprises must fail loudly, not be published.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.content import images
from bot.content.front_matter import load_front_matter, yaml_error, yaml_load
from bot.logs import escape

KNOWN_KEYS = (
    "date",
    "year",
    "title",
    "summary",
    "tags",
    "link",
    "lang",
    "image",
    "alt",
    "images",
    "cw",
    "id",
    "card",
)
MAX_TITLE = 200
MAX_TAG = 64
MAX_ALT = 1500  # Mastodon's limit for media descriptions; Bluesky allows more.
MAX_CARD = 300  # the Bluesky link card's description: a line or two under the title
MAX_IMAGES = 4  # per post, on both networks
MIN_YEAR = -10_000  # 10000 BC: older than any dated event, and far from the calendar's edges
SHOWN = 80  # values longer than this are cut (with …) when a message quotes them

# Characters no post may hold, found by one scan of the whole text: C0 controls but tab and
# newline, DEL, C1 controls, bidi embeddings/overrides (which reorder what readers see), and
# bidi isolates, line and paragraph separators (allowed in the story only, see _hygiene).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_STORY_ONLY = frozenset("\u2066\u2067\u2068\u2069\u2028\u2029")
# One-line fields refuse tabs and line or paragraph separators as well.
_ONE_LINE_BAD = re.compile("[\t\n\r\u2028\u2029\x85]")
_ONE_LINE = ("title", "link", "lang", "image", "id", "cw", "card")


_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)
# The date and id grammar, shared with `thisday new`/`import` (tools/authoring.py).
MM_DD = re.compile(r"(?:--)?(\d{1,2})-(\d{1,2})")
ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{1,2}-\d{1,2}([Tt ]|\s+)\d")
_LANG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}")
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*")
_TAG = re.compile(r"\w+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        # Escaped: a file name or value must never forge a line or a terminal sequence.
        return f"{escape(self.path)}:{self.line}: {self.severity}: {escape(self.message)}"


def shown(value: object) -> str:
    """A value as a message quotes it: repr, cut to SHOWN characters with …."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


@dataclass(frozen=True, slots=True)
class Picture:
    """One image of a post: the file's absolute path and its alt text."""

    path: str
    alt: str


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    path: str  # as shown to the operator
    month: int
    day: int
    year: int | None  # negative = BC; None for an event without a year
    title: str
    summary: str
    story: str  # the reply thread's text, paragraphs separated by blank lines
    tags: tuple[str, ...] = ()
    link: str | None = None
    lang: str | None = None
    image: str | None = None  # absolute path of the image file
    alt: str | None = None
    cw: str | None = None
    card: str | None = None  # Bluesky link card description; default: the story's first sentence
    line: int = 1  # where the front matter starts, for problems found later (fit)
    story_line: int = 1
    images: tuple[Picture, ...] = ()  # from `images:` (a list); empty with `image:`/`alt:`

    @property
    def pictures(self) -> tuple[Picture, ...]:
        """Every image of the post, in order: the `images:` list, or the `image:`/`alt:` pair."""
        if self.images:
            return self.images
        return (Picture(self.image, self.alt or ""),) if self.image else ()

    @property
    def key(self) -> int:
        """Month and day as one sortable number, 116 for 16 January."""
        return self.month * 100 + self.day


@dataclass(slots=True)
class Parsed:
    event: Event | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.event is not None


class _Checker:
    """Collects problems while reading one file's front matter."""

    def __init__(self, path: str, key_lines: dict[str, int]) -> None:
        self.path = path
        self.key_lines = key_lines
        self.problems: list[Problem] = []

    def line(self, key: str | None) -> int:
        return self.key_lines.get(key, 1) if key else 1

    def error(self, key: str | None, message: str) -> None:
        self.problems.append(Problem(self.path, self.line(key), "error", message))

    def warning(self, key: str | None, message: str) -> None:
        self.problems.append(Problem(self.path, self.line(key), "warning", message))

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def text(self, data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
        if key not in data or data[key] is None:
            if required:
                self.error(key if key in data else None, f"'{key}' is required")
            return None
        value = data[key]
        if isinstance(value, str):
            if bad := _UNSAFE.search(value):  # written as a YAML escape like "\e"
                self.error(key, f"'{key}' holds {_unsafe_message(bad.group())}")
                return None
            value = value.strip()
            if not value and required:
                self.error(key, f"'{key}' is empty")
                return None
            return value or None
        self.error(key, f"'{key}' must be text, {_describe_value(value)}")
        return None


def _describe_value(value: Any) -> str:
    if isinstance(value, bool):
        return (
            f"but YAML read it as {str(value).lower()} (yes/no/on/off/true/false are booleans): "
            "put the text in quotes"
        )
    if isinstance(value, int | float):
        return (
            f"but YAML read it as the number {value} (times like 12:30 and bare numbers are "
            "numbers): put the text in quotes"
        )
    if isinstance(value, list):
        return "but it is a list"
    if isinstance(value, dict):
        return "but it is a mapping (a ': ' inside the text? put the text in quotes)"
    return f"but it is {type(value).__name__}"


_FRONT_MATTER_END = re.compile(r"^(---|\.\.\.)[ \t]*$", re.MULTILINE)


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Return (front matter, body, line where the body starts) or None without front matter."""
    if not text.startswith("---"):
        return None
    first_end = text.find("\n")
    if first_end == -1 or text[:first_end].rstrip() != "---":
        return None
    for match in _FRONT_MATTER_END.finditer(text, first_end + 1):
        start = match.start()
        front = text[first_end + 1 : start]
        body_start = match.end() + 1
        body_line = front.count("\n") + 3
        return front, text[body_start:], body_line
    raise _Unclosed


class _Unclosed(Exception):
    pass


def parse(
    raw: bytes,
    *,
    path: str,
    default_id: str,
    folder: str | Path | None = None,
    root: str | Path | None = None,
) -> Parsed:
    """Read one post file's bytes. `folder` is the file's folder, for `image:`; `root` the
    posts folder, which an image must be inside (without it, `folder` is that bound)."""
    read = _read_front_matter(raw, path)
    if isinstance(read, Problem):
        # YAML refuses some control characters itself, with a vaguer message and line.
        return Parsed(None, _raw_hygiene(raw, path) or [read])
    data, front, body, body_line = read
    key_lines: dict[str, int] = {}
    check = _Checker(path, key_lines)
    for match in _KEY_LINE.finditer(front):
        key, line = match.group(1), front.count("\n", 0, match.start()) + 2
        if key in key_lines:
            check.problems.append(
                Problem(
                    path,
                    line,
                    "error",
                    f"'{key}' is set twice (lines {key_lines[key]} and {line}): keep one",
                )
            )
        else:
            key_lines[key] = line
    _hygiene(front, body, body_line, check)
    for key in data:
        if key not in KNOWN_KEYS:
            hint = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
            suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
            check.warning(str(key), f"unknown key '{key}' is ignored{suffix}")
    bound = root if root is not None else folder
    event = _read_event(data, check, body, body_line, path, default_id, (folder, bound))
    return Parsed(None if check.failed else event, check.problems)


def _hygiene(front: str, body: str, body_line: int, check: _Checker) -> None:
    """Control and bidi characters are errors (isolates are allowed in the story), each named
    with its line: one compiled scan per part, which finds nothing in nearly every file."""
    for text, first_line, in_story in ((front, 2, False), (body, body_line, True)):
        for match in _UNSAFE.finditer(text):
            char = match.group()
            if in_story and char in _STORY_ONLY:
                continue
            line = first_line + text.count("\n", 0, match.start())
            check.problems.append(Problem(check.path, line, "error", _unsafe_message(char)))
            if len(check.problems) > 20:  # a binary file: enough said
                return


def _raw_hygiene(raw: bytes, path: str) -> list[Problem]:
    """The hygiene problems of a file whose front matter could not be read."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return []
    if not _UNSAFE.search(text):
        return []
    check = _Checker(path, {})
    try:
        parts = split_front_matter(text)
    except _Unclosed:
        parts = None
    if parts is None:
        _hygiene(text, "", 1, check)
        for problem in check.problems:  # the whole file was scanned as front matter
            object.__setattr__(problem, "line", problem.line - 1)
    else:
        _hygiene(parts[0], parts[1], parts[2], check)
    return check.problems


def _unsafe_message(char: str) -> str:
    code = ord(char)
    name = unicodedata.name(char, "")
    if code < 0x20 or 0x7F <= code < 0xA0:
        what = f"control character U+{code:04X}"
    elif char in _STORY_ONLY:
        what = f"U+{code:04X} {name} (allowed in the story only)"
    else:
        what = f"invisible U+{code:04X} {name}"
    return f"{what} in the text: remove it (it can hide or reorder what readers see)"


def _read_front_matter(raw: bytes, path: str) -> tuple[dict[str, Any], str, str, int] | Problem:
    """(the front matter's mapping, its text, the body, the body's first line), or the one
    problem that stops the file from being read at all."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Problem(path, line, "error", f"not UTF-8 text (byte {exc.start})")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    try:
        parts = split_front_matter(text)
    except _Unclosed:
        return Problem(path, 1, "error", "front matter is not closed by a '---' line")
    if parts is None:
        return Problem(path, 1, "error", "no front matter: the file must start with a '---' line")
    front, body, body_line = parts
    try:
        data = load_front_matter(front)
    except yaml_error() as exc:
        # context_mark is where the broken construct began (an unclosed list, say).
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        reason = " ".join(
            str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x
        )
        return Problem(path, line, "error", f"broken YAML front matter: {reason or exc}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return Problem(path, 2, "error", "front matter must be 'key: value' lines")
    return data, front, body, body_line


def _read_event(
    data: dict[str, Any],
    check: _Checker,
    body: str,
    body_line: int,
    path: str,
    default_id: str,
    folders: tuple[str | Path | None, str | Path | None],
) -> Event | None:
    """The event the front matter and body describe, or None; problems go to `check`."""
    when = _read_date(data, check)
    title = check.text(data, "title", required=True)
    if title and len(title) > MAX_TITLE:
        check.error("title", f"title must be one line of at most {MAX_TITLE} characters")
    summary = check.text(data, "summary")
    tags = _read_tags(data, check)
    link = check.text(data, "link")
    if link and not _URL.fullmatch(link):
        check.error("link", f"link must be an http(s) URL without spaces, got {shown(link)}")
    lang = check.text(data, "lang")
    if lang and not _LANG.fullmatch(lang):
        check.error("lang", f"lang must be a language code like 'en' or 'pt-BR', got {shown(lang)}")
    cw = check.text(data, "cw")
    card = check.text(data, "card")
    if card and len(card) > MAX_CARD:
        check.error("card", f"card must be one line of at most {MAX_CARD} characters")
    alt = check.text(data, "alt")
    for key in _ONE_LINE:
        value = data.get(key)
        if isinstance(value, str) and _ONE_LINE_BAD.search(value.strip()):
            check.error(key, f"'{key}' must be one line (no tab, line or paragraph break)")
    image = _read_image(data, check, folders, alt)
    pictures = _read_images(data, check, folders)
    if pictures and image is None and "image" not in data:
        image, alt = pictures[0].path, pictures[0].alt  # readers of the one-image fields
    event_id = check.text(data, "id") or default_id
    if not ID.fullmatch(event_id):
        check.error(
            "id",
            f"id {shown(event_id)} may use letters, digits and . _ / - (at most 128 characters)",
        )
    paragraphs = _paragraphs(body)
    if any(paragraph.startswith("TODO:") for paragraph in paragraphs):
        check.error(None, "the story still holds a 'TODO:' placeholder paragraph: replace it first")
    if summary is None and paragraphs:
        summary, paragraphs = paragraphs[0], paragraphs[1:]
    if summary is None:
        check.warning(None, "no summary and no text: the post will carry only the title")
    if check.failed or when is None or title is None:
        return None
    month, day, year = when
    return Event(
        id=event_id,
        path=path,
        month=month,
        day=day,
        year=year,
        title=title,
        summary=summary or "",
        story="\n\n".join(paragraphs),
        tags=tags,
        link=link,
        lang=lang,
        image=image,
        alt=alt,
        cw=cw,
        card=card,
        line=1,
        story_line=body_line,
        images=pictures,
    )


def _read_date(data: dict[str, Any], check: _Checker) -> tuple[int, int, int | None] | None:
    value = data.get("date")
    year_value = data.get("year")
    if value is None:
        check.error("date" if "date" in data else None, "'date' is required (YYYY-MM-DD or MM-DD)")
        return None
    year: int | None = None
    if isinstance(value, str):
        value = value.strip()
        if _ISO_DATE_TIME.match(value):
            check.error("date", "date must be a day (YYYY-MM-DD), not a date and time")
            return None
        if match := ISO_DATE.fullmatch(value):
            year, month, day = (int(g) for g in match.groups())
        elif match := MM_DD.fullmatch(value):
            month, day = (int(g) for g in match.groups())
        else:
            check.error("date", f"date must be YYYY-MM-DD or MM-DD, got {shown(value)}")
            return None
    else:
        hint = ' (write MM-DD in quotes, e.g. "01-16")' if isinstance(value, int) else ""
        check.error("date", f"date must be YYYY-MM-DD or MM-DD, {_describe_value(value)}{hint}")
        return None

    if year_value is not None:
        if isinstance(year_value, bool) or not isinstance(year_value, int):
            check.error(
                "year", f"year must be a whole number (negative = BC), got {shown(year_value)}"
            )
            return None
        if year_value == 0:
            check.error("year", "there is no year 0: 1 BC is -1, AD 1 is 1")
            return None
        if year is not None and year != year_value:
            check.error("year", f"year {year_value} disagrees with the date's year {year}")
            return None
        year = year_value
    if not 1 <= month <= 12:
        check.error("date", f"impossible date: there is no month {month}")
        return None
    days_in_month = calendar.monthrange(2000 if year is None or year < 1 else year, month)[1]
    if not 1 <= day <= days_in_month:
        where = (
            f"{calendar.month_name[month]} {year}"
            if year and year > 0
            else calendar.month_name[month]
        )
        check.error("date", f"impossible date: {where} has no day {day}")
        return None
    if year is not None and not _year_ok(year, check, "year" if year_value is not None else "date"):
        return None
    return month, day, year


# Every year up to this one is in the past on any clock this runs on: only later years need
# today's date (looked up for each file of a cold `check` otherwise).
_PAST = 2025


def _year_ok(year: int, check: _Checker, key: str) -> bool:
    """No year 0, none in the future, none before MIN_YEAR."""
    if year == 0:
        check.error(key, "there is no year 0: 1 BC is -1, AD 1 is 1")
        return False
    if year > _PAST and year > dt.date.today().year:
        check.error(key, f"year {year} is in the future: this is a history of what happened")
        return False
    if year < MIN_YEAR:
        check.error(key, f"year {shown(year)} is before {-MIN_YEAR} BC, the oldest allowed")
        return False
    return True


_CJK_AND_LATIN = frozenset(
    ("CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL", "BOPOMOFO", "LATIN")
).union(("HALFWIDTH", "FULLWIDTH", "IDEOGRAPHIC"))


def _scripts(tag: str) -> set[str]:
    """The writing systems of a tag's letters; Han, kana, Hangul and Bopomofo count as one
    with Latin (Japanese, Chinese and Korean tags mix them), the look-alike scripts do not."""
    scripts = set()
    for char in tag:
        if char.isalpha():
            script = unicodedata.name(char, "?").split(" ", 1)[0]
            if script in _CJK_AND_LATIN:
                script = "LATIN+CJK"
            scripts.add(script)
    return scripts


def _read_tags(data: dict[str, Any], check: _Checker) -> tuple[str, ...]:
    value = data.get("tags")
    if value is None:
        return ()
    if not isinstance(value, list):
        check.error(
            "tags", f"tags must be a list like [history, SovietUnion], {_describe_value(value)}"
        )
        return ()
    tags: list[str] = []
    for item in value:
        if not isinstance(item, str):
            check.error("tags", f"each tag must be text, {_describe_value(item)}")
            continue
        if bad := _UNSAFE.search(item):
            check.error("tags", f"a tag holds {_unsafe_message(bad.group())}")
            continue
        tag = item.strip().removeprefix("#")
        if not _TAG.fullmatch(tag) or tag.isdigit() or len(tag) > MAX_TAG:
            check.error(
                "tags",
                f"tag {shown(item)} must be letters, digits or _ "
                f"(not only digits, at most {MAX_TAG})",
            )
            continue
        if not any(char.isalpha() for char in tag):
            check.error("tags", f"tag {shown(item)} must contain a letter")
            continue
        if not tag.isascii() and len(_scripts(tag)) > 1:
            check.warning(
                "tags",
                f"tag {shown(item)} mixes writing systems ({', '.join(sorted(_scripts(tag)))}): "
                "a look-alike letter? followers searching for the tag will not find it",
            )
        if tag.casefold() not in (t.casefold() for t in tags):
            tags.append(tag)
    return tuple(tags)


def _read_image(
    data: dict[str, Any],
    check: _Checker,
    folders: tuple[str | Path | None, str | Path | None],
    alt: str | None,
) -> str | None:
    name = check.text(data, "image")
    if name is None:
        if alt:
            check.warning("alt", "'alt' without 'image' is ignored")
        return None
    if not alt:
        check.error(
            "image", "an image needs 'alt:' text describing it for people who cannot see it"
        )
    elif len(alt) > MAX_ALT:
        check.error("alt", f"alt text is {len(alt)} characters; Mastodon allows {MAX_ALT}")
    folder, root = folders
    if folder is None or root is None:
        return None
    path = images.inside(name, folder, root)
    if path is None:
        # One wording whatever the path names: whether an outside file exists is not told.
        check.error("image", f"image {shown(name)}: {images.OUTSIDE}")
        return None
    problem = images.problem(path, root=str(root))
    if problem:
        check.error("image", f"image {shown(name)}: {problem}")
        return None
    return path


def _read_images(
    data: dict[str, Any],
    check: _Checker,
    folders: tuple[str | Path | None, str | Path | None],
) -> tuple[Picture, ...]:
    """`images:`, a list of up to MAX_IMAGES `{file, alt}` mappings."""
    value = data.get("images")
    if value is None:
        return ()
    if "image" in data:
        check.error("images", "set 'image:' (one) or 'images:' (a list), not both")
        return ()
    if not isinstance(value, list) or not value:
        check.error(
            "images",
            "images must be a list of entries like '- {file: picture.jpg, alt: What it shows}', "
            f"{_describe_value(value) if value else 'but it is empty'}",
        )
        return ()
    if len(value) > MAX_IMAGES:
        check.error("images", f"{len(value)} images: a post carries at most {MAX_IMAGES}")
        return ()
    folder, root = folders
    pictures: list[Picture] = []
    for n, item in enumerate(value, 1):
        if not isinstance(item, dict):
            check.error(
                "images",
                f"image {n} must be a mapping with 'file' and 'alt', {_describe_value(item)}",
            )
            continue
        for key in item:
            if key not in ("file", "alt"):
                check.warning("images", f"image {n}: unknown key {shown(key)} is ignored")
        name, alt = item.get("file"), item.get("alt")
        if not isinstance(name, str) or not name.strip() or _ONE_LINE_BAD.search(name.strip()):
            check.error("images", f"image {n} needs 'file:', one line naming the image file")
            continue
        name = name.strip()
        if not isinstance(alt, str) or not alt.strip():
            check.error(
                "images",
                f"image {n} ({shown(name)}) needs 'alt:' text describing it for people who "
                "cannot see it",
            )
            continue
        alt = alt.strip()
        if len(alt) > MAX_ALT:
            check.error(
                "images", f"image {n}: alt text is {len(alt)} characters; Mastodon allows {MAX_ALT}"
            )
            continue
        if folder is None or root is None:
            continue
        path = images.inside(name, folder, root)
        if path is None:
            check.error("images", f"image {shown(name)}: {images.OUTSIDE}")
            continue
        problem = images.problem(path, root=str(root))
        if problem:
            check.error("images", f"image {shown(name)}: {problem}")
            continue
        pictures.append(Picture(path, alt))
    return tuple(pictures)


def _paragraphs(body: str) -> list[str]:
    """Blank lines separate paragraphs; single line breaks inside one are soft (Markdown)."""
    out = []
    for block in _PARAGRAPH_BREAK.split(body.strip()):
        lines = [line.strip() for line in block.split("\n")]
        paragraph = " ".join(line for line in lines if line)
        if paragraph:
            out.append(paragraph)
    return out


_LENIENT_LINE = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$", re.MULTILINE)


def lenient_front_matter(head: str) -> dict[str, str]:
    """The raw `key: value` lines of the front matter at the start of `head`, for a file that
    may not parse (the calendar still places it by its `date:`, `new` counts its `id:` as
    taken). An unclosed front matter runs to the end of `head`; values keep their quotes and
    the first of a repeated key wins. Nothing is loaded as YAML (see `plain_scalar`)."""
    try:
        parts = split_front_matter(head.removeprefix("\ufeff").replace("\r\n", "\n"))
    except _Unclosed:
        parts = (head.split("\n", 1)[1], "", 0)
    if parts is None:
        return {}
    found: dict[str, str] = {}
    for match in _LENIENT_LINE.finditer(parts[0]):
        found.setdefault(match.group(1), match.group(2))
    return found


def plain_scalar(raw: str) -> str:
    """The text of a one-line YAML scalar as written in a file, without loading YAML unless it
    is quoted; "" for anything that is not plain text (a list, a block, an alias)."""
    if raw[:1] in ("'", '"'):
        try:
            value = yaml_load(raw)  # a safe loader
        except yaml_error():
            return raw.strip("'\"")
        return value.strip() if isinstance(value, str) else ""
    if raw[:1] in ("|", ">", "&", "*", "!", "[", "{"):
        return ""
    return re.sub(r"\s+#.*$", "", raw).strip()
