"""One post file → one validated `Event`, or problems that name the file and line.

A post is Markdown with YAML front matter. Values are checked strictly: YAML 1.1 reads
`no` as False and `12:30` as 750, and such surprises must fail loudly, not be published.
"""

from __future__ import annotations

import calendar
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.content import images

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
    "cw",
    "id",
)
MAX_TITLE = 200
MAX_TAG = 64
MAX_ALT = 1500  # Mastodon's limit for media descriptions; Bluesky allows more.


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, minus YAML's implicit timestamps: dates are read (and judged) by us."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
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
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


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
    line: int = 1  # where the front matter starts, for problems found later (fit)
    story_line: int = 1

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


_SIMPLE_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):[ \t]+(\S(?:.*\S)?)[ \t]*")
# What may open a plain YAML scalar and how it may go on (a strict subset, on purpose).
_PLAIN = re.compile(r"[^-?:,\[\]{}#&*!|>'\"%@`\s](?:(?!: | #)[^\t\n])*(?<!:)")
_PLAIN_ITEM = re.compile(r"[^-?:,\[\]{}#&*!|>'\"%@`\s](?:(?! #)[^:,\[\]{}\t\n])*")
_STR_TAG = "tag:yaml.org,2002:str"


def load_front_matter(front: str) -> Any:
    """yaml.safe_load minus timestamps, with a fast path for the usual `key: plain text` and
    `key: [a, b]` lines. Anything else (quotes, comments, numbers, booleans, nesting, blocks)
    goes to the real loader, so the result is always what the YAML loader would give."""
    data: dict[str, Any] = {}
    for line in front.split("\n"):
        match = _SIMPLE_LINE.fullmatch(line) if line.isprintable() else None
        if match is None:
            if not line.strip():
                continue
            return yaml.load(front, Loader=_Loader)
        key, value = match.groups()
        if not _is_text(key):  # `on:` or `no:` would be a boolean key
            return yaml.load(front, Loader=_Loader)
        if value.startswith("[") and value.endswith("]"):
            items = [item.strip() for item in value[1:-1].split(",")]
            if items == [""]:
                items = []
            if not all(_PLAIN_ITEM.fullmatch(item) and _is_text(item) for item in items):
                return yaml.load(front, Loader=_Loader)
            data[key] = items
        elif _PLAIN.fullmatch(value) and _is_text(value):
            data[key] = value
        else:
            return yaml.load(front, Loader=_Loader)
    return data or None


def _is_text(value: str) -> bool:
    """YAML would read this plain scalar as a string (not a bool, number, null...)."""
    for tag, pattern in _Loader.yaml_implicit_resolvers.get(value[0], ()):
        if pattern.match(value):
            return bool(tag == _STR_TAG)
    return True


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Return (front matter, body, line where the body starts) or None without front matter."""
    if not text.startswith("---"):
        return None
    first_end = text.find("\n")
    if first_end == -1 or text[:first_end].rstrip() != "---":
        return None
    for match in re.finditer(r"^(---|\.\.\.)[ \t]*$", text[first_end + 1 :], re.MULTILINE):
        start = first_end + 1 + match.start()
        front = text[first_end + 1 : start]
        body_start = first_end + 1 + match.end() + 1
        body_line = front.count("\n") + 3
        return front, text[body_start:], body_line
    raise _Unclosed


class _Unclosed(Exception):
    pass


def parse(raw: bytes, *, path: str, default_id: str, folder: str | Path | None = None) -> Parsed:
    """Read one post file's bytes. `folder` is the file's folder, for `image:`."""
    read = _read_front_matter(raw, path)
    if isinstance(read, Problem):
        return Parsed(None, [read])
    data, front, body, body_line = read
    key_lines = {m.group(1): front.count("\n", 0, m.start()) + 2 for m in _KEY_LINE.finditer(front)}
    check = _Checker(path, key_lines)
    for key in data:
        if key not in KNOWN_KEYS:
            hint = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
            suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
            check.warning(str(key), f"unknown key '{key}' is ignored{suffix}")
    event = _read_event(data, check, body, body_line, path, default_id, folder)
    return Parsed(None if check.failed else event, check.problems)


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
    except yaml.YAMLError as exc:
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
    folder: str | Path | None,
) -> Event | None:
    """The event the front matter and body describe, or None; problems go to `check`."""
    when = _read_date(data, check)
    title = check.text(data, "title", required=True)
    if title and ("\n" in title or len(title) > MAX_TITLE):
        check.error("title", f"title must be one line of at most {MAX_TITLE} characters")
    summary = check.text(data, "summary")
    tags = _read_tags(data, check)
    link = check.text(data, "link")
    if link and not _URL.fullmatch(link):
        check.error("link", f"link must be an http(s) URL without spaces, got {link!r}")
    lang = check.text(data, "lang")
    if lang and not _LANG.fullmatch(lang):
        check.error("lang", f"lang must be a language code like 'en' or 'pt-BR', got {lang!r}")
    cw = check.text(data, "cw")
    alt = check.text(data, "alt")
    image = _read_image(data, check, folder, alt)
    event_id = check.text(data, "id") or default_id
    if not ID.fullmatch(event_id):
        check.error(
            "id", f"id {event_id!r} may use letters, digits and . _ / - (at most 128 characters)"
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
        line=1,
        story_line=body_line,
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
            check.error("date", f"date must be YYYY-MM-DD or MM-DD, got {value!r}")
            return None
    else:
        hint = ' (write MM-DD in quotes, e.g. "01-16")' if isinstance(value, int) else ""
        check.error("date", f"date must be YYYY-MM-DD or MM-DD, {_describe_value(value)}{hint}")
        return None

    if year_value is not None:
        if isinstance(year_value, bool) or not isinstance(year_value, int):
            check.error("year", f"year must be a whole number (negative = BC), got {year_value!r}")
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
    return month, day, year


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
        tag = item.strip().removeprefix("#")
        if not _TAG.fullmatch(tag) or tag.isdigit() or len(tag) > MAX_TAG:
            check.error(
                "tags",
                f"tag {item!r} must be letters, digits or _ (not only digits, at most {MAX_TAG})",
            )
            continue
        if tag.casefold() not in (t.casefold() for t in tags):
            tags.append(tag)
    return tuple(tags)


def _read_image(
    data: dict[str, Any], check: _Checker, folder: str | Path | None, alt: str | None
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
    if folder is None:
        return None
    path = (Path(folder) / name).resolve()
    if not path.is_file():
        check.error("image", f"image file not found: {name}")
        return None
    problem = images.problem(path)
    if problem:
        check.error("image", f"{name}: {problem}")
        return None
    return str(path)


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
            value = yaml.load(raw, Loader=_Loader)  # _Loader is a SafeLoader
        except yaml.YAMLError:
            return raw.strip("'\"")
        return value.strip() if isinstance(value, str) else ""
    if raw[:1] in ("|", ">", "&", "*", "!", "[", "{"):
        return ""
    return re.sub(r"\s+#.*$", "", raw).strip()
