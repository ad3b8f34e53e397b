"""Writing post files: `thisday new` (one post) and `thisday import` (a CSV or JSON file).

Every file is generated as text, then read back with `bot.content.parse` and rendered for
every account exactly as `check` would, before anything touches the posts folder. Files
land in the shipped layout, `posts/MM-monthname/YYYY-MM-DD-slug.md`, under an id made
from the title and unique in the folder. Existing files are never overwritten: importing
the same rows again finds identical files and changes nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.content.corpus import POST_SUFFIX, display_root
from bot.content.post import (
    ID,
    ISO_DATE,
    MM_DD,
    Event,
    Problem,
    lenient_front_matter,
    parse,
    plain_scalar,
    shown,
)
from bot.workspace import Workspace

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
COLUMNS = ("date", "title", "summary", "body", "tags", "link", "lang", "image", "alt")
EXTRA_COLUMNS = ("year", "cw", "id")  # accepted too: BC years, content warnings, own ids
MAX_SLUG = 60
PLACEHOLDER = "TODO: write the story here, one paragraph per reply, blank lines between them."
_YEAR = re.compile(r"[+-]?\d{1,6}")
_TAG_SEPARATORS = re.compile(r"[\s,;]+")
_PLAIN_TAG = re.compile(r"\w+")
_ESCAPE = re.compile(r"\\(?:U([0-9A-Fa-f]{8})|.)")
# Markers a row carries from reading to validation (no column can have these names).
_NOT_OBJECT = "\0not-object"
_EXTRA_CELLS = "\0extra-cells"


class AuthoringError(Exception):
    """The post cannot be written; the message is phrased for the operator."""


# -- fields ------------------------------------------------------------------------------


def parse_date(value: str, year: int | str | None = None) -> tuple[int, int, int | None]:
    """`YYYY-MM-DD`, or `MM-DD` with an optional year (negative = BC) → (month, day, year).

    Only the shape is judged here; impossible dates are left to `content.parse`, so that
    the message is the one `check` gives.
    """
    value = value.strip()
    parsed_year = _parse_year(year)
    if match := ISO_DATE.fullmatch(value):
        iso_year, month, day = (int(g) for g in match.groups())
        if parsed_year is not None and parsed_year != iso_year:
            raise ValueError(f"year {parsed_year} disagrees with the date's year {iso_year}")
        return month, day, iso_year
    if match := MM_DD.fullmatch(value):
        month, day = (int(g) for g in match.groups())
        return month, day, parsed_year
    raise ValueError(f"date must be YYYY-MM-DD, or MM-DD with a year (-44 for 44 BC): {value!r}")


def _parse_year(year: int | str | None) -> int | None:
    if year is None or (isinstance(year, int) and not isinstance(year, bool)):
        if year == 0:
            raise ValueError("there is no year 0: 1 BC is -1, AD 1 is 1")
        return year
    if isinstance(year, str):
        text = year.strip()
        if not text:
            return None
        if _YEAR.fullmatch(text):
            return _parse_year(int(text))
        if re.fullmatch(r"\d{1,6}\s*BC", text, re.IGNORECASE):
            return -int(text[:-2])
    raise ValueError(f"year must be a whole number (negative = BC), got {year!r}")


def split_tags(value: str | list[Any] | tuple[Any, ...] | None) -> list[str]:
    """Tags as a list, or one string separated by commas or spaces; '#' is optional."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = value
    elif isinstance(value, str):
        items = _TAG_SEPARATORS.split(value)
    else:
        raise ValueError(f"tags must be a list or text, got {value!r}")
    tags = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"each tag must be text, got {item!r}")
        tag = item.strip().removeprefix("#")
        if tag:
            tags.append(tag)
    return tags


def slugify(title: str) -> str:
    """A file-name and id friendly form of the title: ASCII letters, digits and dashes."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"['`\u2019]", "", ascii_text.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    if len(slug) > MAX_SLUG:
        cut = slug[:MAX_SLUG]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    if not slug:
        # A title without Latin letters still needs a stable, distinct name.
        slug = "event-" + hashlib.sha1(title.encode()).hexdigest()[:8]
    return slug


# -- YAML writing ------------------------------------------------------------------------


def quoted(text: str) -> str:
    """A double-quoted YAML scalar on one line that reads back as exactly `text`."""
    dumped = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=float("inf"))
    dumped = dumped.removesuffix("\n...\n").rstrip("\n")
    # PyYAML escapes characters beyond the BMP (emoji) although YAML allows them as is.
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(0), dumped)


def scalar(text: str) -> str:
    """`text` unquoted when YAML reads it back as the same text, else double-quoted.

    Plain is refused for anything YAML 1.1 would turn into another type (yes, no, 12:30,
    1e3, null, dates), for ': ' and ' #', leading indicators and surrounding spaces.
    """
    if text and "\n" not in text:
        dumped = yaml.safe_dump({"k": text}, allow_unicode=True, width=float("inf"))
        if dumped == f"k: {text}\n":
            return text
    return quoted(text)


def flow_list(items: list[str]) -> str:
    """A one-line YAML list; items other than plain words are quoted (commas, brackets)."""
    parts = [
        item if _PLAIN_TAG.fullmatch(item) and scalar(item) == item else quoted(item)
        for item in items
    ]
    return "[" + ", ".join(parts) + "]"


# -- the post file -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """One post as the operator described it, before it has an id and a place."""

    month: int
    day: int
    year: int | None
    title: str
    summary: str | None = None
    body: str | None = None
    tags: tuple[str, ...] = ()
    link: str | None = None
    lang: str | None = None
    image: Path | None = None  # the source image file (import), copied next to the post
    alt: str | None = None
    cw: str | None = None
    id: str | None = None  # chosen by the operator; otherwise made from the title


def draft(
    *,
    date: str,
    title: str,
    year: int | str | None = None,
    summary: str | None = None,
    body: str | None = None,
    tags: str | list[Any] | tuple[Any, ...] | None = None,
    link: str | None = None,
    lang: str | None = None,
    image: Path | None = None,
    alt: str | None = None,
    cw: str | None = None,
    event_id: str | None = None,
) -> Draft:
    """Build a Draft from loose text; raises ValueError for what cannot even be written."""
    month, day, parsed_year = parse_date(date, year)
    if event_id is not None and not ID.fullmatch(event_id.strip()):
        raise ValueError(
            f"id {event_id!r} may use letters, digits and . _ / - (at most 128 characters)"
        )

    def clean(value: str | None) -> str | None:
        if value is None:
            return None
        value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        return value or None

    return Draft(
        month=month,
        day=day,
        year=parsed_year,
        title=(title or "").strip(),
        summary=clean(summary),
        body=clean(body),
        tags=tuple(split_tags(tags)),
        link=clean(link),
        lang=clean(lang),
        image=image,
        alt=clean(alt),
        cw=clean(cw),
        id=clean(event_id),
    )


def file_prefix(month: int, day: int, year: int | None) -> str:
    """`1928-01-16`, `0044bc-03-15` or, without a year, `03-15`: sorts within a month."""
    if year is None:
        return f"{month:02d}-{day:02d}"
    if year < 0:
        return f"{-year:04d}bc-{month:02d}-{day:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


def relative_path(post: Draft, slug: str) -> str:
    folder = f"{post.month:02d}-{MONTHS[post.month - 1]}" if 1 <= post.month <= 12 else "undated"
    return f"{folder}/{file_prefix(post.month, post.day, post.year)}-{slug}{POST_SUFFIX}"


def post_text(
    post: Draft, event_id: str, *, image_name: str | None = None, template: bool = False
) -> str:
    """The post file. `template`: show the unused optional keys as comments and put a
    placeholder paragraph in the body, so that the operator sees the whole format."""
    lines = ["---"]

    def put(key: str, value: str | None, example: str) -> None:
        if value is not None:
            lines.append(f"{key}: {value}")
        elif template:
            lines.append(f"# {key}: {example}")

    if post.year is not None and 1 <= post.year <= 9999:
        lines.append(f"date: {post.year:04d}-{post.month:02d}-{post.day:02d}")
    else:
        lines.append(f'date: "{post.month:02d}-{post.day:02d}"')
        if post.year is not None:
            lines.append(f"year: {post.year}")
    lines.append(f"title: {scalar(post.title)}")
    put(
        "summary",
        quoted(post.summary) if post.summary else None,
        '"One or two sentences for the head post (default: the first paragraph)"',
    )
    put("tags", flow_list(list(post.tags)) if post.tags else None, "[History, Science]")
    put("link", scalar(post.link) if post.link else None, "https://en.wikipedia.org/wiki/...")
    put("lang", scalar(post.lang) if post.lang else None, "en")
    put("image", scalar(image_name) if image_name else None, "picture.jpg")
    put(
        "alt",
        quoted(post.alt) if post.alt else None,
        '"What the picture shows, for people who cannot see it"',
    )
    put("cw", quoted(post.cw) if post.cw else None, '"a content warning, e.g. violence"')
    lines.append(f"id: {scalar(event_id)}")
    lines.append("---")
    body = post.body or (PLACEHOLDER if template else "")
    return "\n".join(lines) + "\n" + (body + "\n" if body else "")


# -- validation ------------------------------------------------------------------------------


def declared_id(path: Path) -> str | None:
    """The id an invalid post file declares, read leniently (or its default, the path)."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    declared = plain_scalar(lenient_front_matter(head).get("id", ""))
    return declared if ID.fullmatch(declared) else None


def validate(
    workspace: Workspace,
    text: str,
    *,
    shown: str,
    image: Path | None,
    image_label: str | None,
    fit: bool,
) -> tuple[Event | None, list[Problem]]:
    """Read the text back as `check` reads a file; prove it fits every account when `fit`."""
    # `check` refuses the placeholder so that it is never published; a fresh post from `new`
    # is judged on everything else, with the operator's story still to come.
    readable = text.replace(PLACEHOLDER, "The story.")
    parsed = parse(readable.encode("utf-8"), path=shown, default_id=shown, folder=None)
    problems = list(parsed.problems)
    event = parsed.event
    if image is not None:
        from bot.content import images

        label = image_label or image.name
        reason = None
        if trouble := images.problem(image):
            reason = f"{label}: {trouble}"
        if reason:
            problems.append(Problem(shown, 1, "error", reason))
            event = None
        elif event is not None:
            event = dataclasses.replace(event, image=str(image.resolve()))
    if event is not None and fit:
        from bot.tools.checking import fit_problems

        problems.extend(fit_problems(workspace.renderer, event, workspace.settings.today()))
        if any(p.severity == "error" for p in problems):
            event = None
    return event, problems


# -- placing files -----------------------------------------------------------------------------


@dataclass(slots=True)
class Plan:
    """Where a draft goes and what happens there."""

    status: str  # "write" | "unchanged" | "exists" (different content) | "invalid"
    rel: str = ""
    path: Path | None = None
    event_id: str = ""
    text: str = ""
    image_source: Path | None = None
    image_target: Path | None = None
    problems: list[Problem] = field(default_factory=list)


class Author:
    """Chooses ids and places against the posts folder's index, then writes files."""

    def __init__(
        self, workspace: Workspace, progress: Callable[[int, int], None] | None = None
    ) -> None:
        self.workspace = workspace
        self.root = workspace.posts_dir
        self.shown_root = display_root(str(self.root))
        corpus = workspace.corpus
        corpus.refresh(progress=progress)
        corpus.save()
        # id -> the file that has it; a valid file's id is known even if set in its text.
        self.ids: dict[str, str] = {}
        for rel in sorted(corpus.entries):
            entry = corpus.entries[rel]
            # A file that is not valid yet (a fresh `new` still holding its placeholder)
            # has no id in the index, but will claim the one it declares.
            event_id = entry.id or declared_id(corpus.root / rel)
            if event_id:
                self.ids.setdefault(event_id, rel.replace(os.sep, "/"))
        self.claimed: set[str] = set()  # paths planned in this run
        self.fit_skipped = self._why_no_fit()
        self.fit = self.fit_skipped is None

    def _why_no_fit(self) -> str | None:
        renderer = self.workspace.renderer
        if not renderer.accounts:
            return "no enabled account in the config: posts were not rendered to prove they fit"
        if any(p.severity == "error" for p in renderer.check_templates()):
            return "the templates have errors (run `thisday check`): posts were not proven to fit"
        return None

    def shown(self, rel: str) -> str:
        return os.path.join(self.shown_root, rel)

    def _candidates(self, post: Draft) -> Iterator[tuple[str, str]]:
        if post.id:
            yield post.id, relative_path(post, slugify(post.id))
            return
        base = slugify(post.title) if post.title else "untitled"
        n = 1
        while True:
            event_id = base if n == 1 else f"{base}-{n}"
            yield event_id, relative_path(post, event_id)
            n += 1

    def plan(self, post: Draft, *, template: bool = False, image_label: str | None = None) -> Plan:
        event_id = rel = ""
        for event_id, rel in self._candidates(post):
            owner = self.ids.get(event_id)
            if rel not in self.claimed and (owner is None or owner == rel):
                break
            if post.id:
                where = self.shown(owner) if owner and owner != rel else "an earlier row"
                problem = Problem(
                    self.shown(rel), 1, "error", f"id {event_id!r} is already used by {where}"
                )
                return Plan("invalid", rel, problems=[problem])
        path = self.root / rel
        shown = self.shown(rel)
        image_target = None
        image_name = None
        if post.image is not None:
            image_name = Path(rel).stem + post.image.suffix.lower()
            image_target = path.with_name(image_name)
        text = post_text(post, event_id, image_name=image_name, template=template)
        event, problems = validate(
            self.workspace,
            text,
            shown=shown,
            image=post.image,
            image_label=image_label,
            fit=self.fit,
        )
        plan = Plan("write", rel, path, event_id, text, post.image, image_target, problems=problems)
        if event is None:
            plan.status = "invalid"
            return plan
        self.claimed.add(rel)
        self.ids[event_id] = rel
        image = _state(image_target, post.image)
        if path.exists():
            if not _same_text(path, text) or image == "different":
                plan.status = "exists"
            elif image != "missing":
                plan.status = "unchanged"
        elif image == "different":
            plan.status = "exists"
        return plan

    def write(self, plan: Plan) -> None:
        """Create the plan's files; never replaces one (raises FileExistsError instead)."""
        assert plan.path is not None
        plan.path.parent.mkdir(parents=True, exist_ok=True)
        if (
            plan.image_source is not None
            and plan.image_target is not None
            and not plan.image_target.exists()
        ):
            from bot.content import images, scanning

            data, stat = scanning.read_regular(str(plan.image_source), images.MAX_IMAGE_BYTES)
            # Never more readable than the source: a 0600 picture stays 0600.
            _create(plan.image_target, data, mode=stat.st_mode & 0o666)
        if not plan.path.exists():
            _create(plan.path, plan.text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same_text(path: Path, text: str) -> bool:
    try:
        return path.read_bytes() == text.encode("utf-8")
    except OSError:
        return False


def _state(target: Path | None, source: Path | None) -> str:
    """The copy of an image next to a post: none needed, missing, same or different."""
    if target is None or source is None:
        return "none"
    try:
        return "same" if target.read_bytes() == source.read_bytes() else "different"
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "different"


def _create(path: Path, data: bytes, mode: int = 0o666) -> None:
    """Write a complete file under `path` atomically, failing if it exists already; its
    permissions are `mode` narrowed by the umask."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        with open(fd, "wb") as handle:
            os.fchmod(fd, mode & ~_umask())
            handle.write(data)
        try:
            os.link(tmp, path)  # unlike rename, link refuses to replace an existing file
        except FileExistsError:
            raise
        except OSError:
            with open(path, "xb") as handle:  # file systems without hard links
                handle.write(data)
    finally:
        tmp.unlink(missing_ok=True)


# -- thisday new -------------------------------------------------------------------------------


@dataclass(slots=True)
class Created:
    path: str  # as shown to the operator
    problems: list[Problem]


def create(workspace: Workspace, post: Draft) -> Created:
    """Write one new post file with the full format visible; raise AuthoringError if it
    exists already or is invalid (the problems are in the message)."""
    author = Author(workspace)
    plan = author.plan(post, template=True)
    if plan.status == "invalid":
        # The file does not exist: its line numbers would mean nothing to the operator.
        raise AuthoringError(
            "\n".join(f"error: {p.message}" for p in plan.problems if p.severity == "error")
        )
    if plan.status != "write" or plan.path is None or plan.path.exists():
        raise AuthoringError(
            f"{author.shown(plan.rel)}: error: already exists, not overwritten "
            "(edit that file, or choose another --title or --id)"
        )
    try:
        author.write(plan)
    except FileExistsError:
        raise AuthoringError(
            f"{author.shown(plan.rel)}: error: already exists, not overwritten"
        ) from None
    return Created(author.shown(plan.rel), plan.problems)


# -- thisday import ----------------------------------------------------------------------------


@dataclass(slots=True)
class ImportReport:
    written: int = 0
    unchanged: int = 0
    skipped: int = 0
    messages: list[str] = field(default_factory=list)  # `FILE:ROW: severity: message`

    @property
    def rows(self) -> int:
        return self.written + self.unchanged + self.skipped

    def summary(self, dry_run: bool = False) -> str:
        verb = "would be written" if dry_run else "written"
        return (
            f"{self.rows} row{'' if self.rows == 1 else 's'}: {self.written} {verb}, "
            f"{self.unchanged} unchanged, {self.skipped} skipped with errors"
        )


Row = tuple[int, dict[str, Any]]  # (row number as the operator counts it, fields)


def read_rows(file: Path) -> tuple[list[Row], list[str]]:
    """The rows of a CSV (header row; line numbers) or JSON file (list; index from 1).
    Raises AuthoringError when the file as a whole cannot be read."""
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise AuthoringError(
            f"{file}: error: cannot tell the format: the file name must end in .csv or .json"
        )
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise AuthoringError(f"{file}: error: file not found") from None
    except OSError as exc:
        raise AuthoringError(f"{file}: error: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise AuthoringError(f"{file}: error: not UTF-8 text (byte {exc.start})") from None
    rows = _csv_rows(file, text) if suffix == ".csv" else _json_rows(file, text)
    warnings: list[str] = []
    known = set(COLUMNS) | set(EXTRA_COLUMNS)
    unknown = sorted({key for _, fields in rows for key in fields if key not in known})
    for key in unknown:
        warnings.append(f"{file}:1: warning: unknown column {key!r} is ignored")
    return rows, warnings


def _csv_rows(file: Path, text: str) -> list[Row]:
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in many locales save with ';'; pick what the header row is split by.
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise AuthoringError(f"{file}:1: error: empty file: expected a header row") from None
    except csv.Error as exc:
        raise AuthoringError(f"{file}:1: error: broken CSV: {exc}") from None
    names = [name.strip().lower() for name in header]
    missing = [c for c in ("date", "title") if c not in names]
    if missing:
        raise AuthoringError(
            f"{file}:1: error: the header row must name the columns "
            f"({', '.join(COLUMNS)}); missing: {', '.join(missing)}"
        )
    rows: list[Row] = []
    previous_end = reader.line_num
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            fields: dict[str, Any] = {}
            for name, cell in zip(names, record, strict=False):
                if name and cell.strip():
                    fields[name] = cell
            if len(record) > len(names):
                fields[_EXTRA_CELLS] = len(record) - len(names)
            rows.append((start, fields))
    except csv.Error as exc:
        raise AuthoringError(f"{file}:{reader.line_num}: error: broken CSV: {exc}") from None
    return rows


def _json_rows(file: Path, text: str) -> list[Row]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", 1)
        raise AuthoringError(f"{file}:{line}: error: broken JSON: {exc}") from None
    except RecursionError:
        raise AuthoringError(
            f"{file}:1: error: JSON nested too deeply: expected a list of objects, one per post"
        ) from None
    if not isinstance(data, list):
        raise AuthoringError(f"{file}:1: error: expected a JSON list of objects, one per post")
    rows: list[Row] = []
    for number, item in enumerate(data, 1):
        if isinstance(item, dict):
            fields = {
                str(k).strip().lower(): v for k, v in item.items() if v is not None and v != ""
            }
        else:
            fields = {_NOT_OBJECT: type(item).__name__}
        rows.append((number, fields))
    return rows


def row_draft(fields: dict[str, Any], base: Path) -> Draft:
    """One row → a Draft; raises ValueError with the reason the row cannot be a post."""
    if _NOT_OBJECT in fields:
        raise ValueError(f"each row must be an object, got {fields[_NOT_OBJECT]}")
    if _EXTRA_CELLS in fields:
        raise ValueError(f"{fields[_EXTRA_CELLS]} more cell(s) than the header row has columns")
    for key in ("date", "title", "summary", "body", "link", "lang", "image", "alt", "cw", "id"):
        if key in fields and not isinstance(fields[key], str):
            raise ValueError(f"{key} must be text, got {fields[key]!r}")
    if "date" not in fields:
        raise ValueError("'date' is required (YYYY-MM-DD or MM-DD)")
    if "title" not in fields:
        raise ValueError("'title' is required")
    image = None
    if "image" in fields:
        name = fields["image"].strip()
        if re.match(r"[a-z][a-z0-9+.-]*://", name, re.IGNORECASE):
            raise ValueError(f"image must be a file next to the import file, not a URL: {name!r}")
        from bot.content import scanning

        real = os.path.realpath(base / name)
        # Only files under the import file's folder: a row must not copy /etc/shadow or a key
        # into the posts folder. One wording, whether or not such an outside path exists.
        if os.path.isabs(name) or not scanning.is_inside(real, str(base)) or real == str(base):
            raise ValueError(f"image {shown(name)}: must be a file under the import file's folder")
        image = Path(real)
    return draft(
        date=fields["date"],
        title=fields["title"],
        year=fields.get("year"),
        summary=fields.get("summary"),
        body=fields.get("body"),
        tags=fields.get("tags"),
        link=fields.get("link"),
        lang=fields.get("lang"),
        image=image,
        alt=fields.get("alt"),
        cw=fields.get("cw"),
        event_id=fields.get("id"),
    )


def import_file(
    workspace: Workspace,
    file: Path,
    *,
    shown: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    index_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Write one post per valid row; report the others by row number. Idempotent."""
    label = shown or str(file)
    rows, warnings = read_rows(file)
    report = ImportReport(messages=warnings)
    author = Author(workspace, progress=index_progress)
    if author.fit_skipped:
        report.messages.append(f"{label}: warning: {author.fit_skipped}")
    base = file.absolute().parent
    for done, (number, fields) in enumerate(rows, 1):
        where = f"{label}:{number}"
        try:
            post = row_draft(fields, base)
        except ValueError as exc:
            report.messages.append(f"{where}: error: {exc}")
            report.skipped += 1
        else:
            image_label = str(fields["image"]).strip() if post.image is not None else None
            _import_row(author, post, where, image_label, dry_run, report)
        if progress:
            progress(done, len(rows))
    return report


def _import_row(
    author: Author,
    post: Draft,
    where: str,
    image_label: str | None,
    dry_run: bool,
    report: ImportReport,
) -> None:
    plan = author.plan(post, image_label=image_label)
    for problem in plan.problems:
        message = problem.message
        # The generated file has no line numbers the operator knows: name the row instead.
        report.messages.append(f"{where}: {problem.severity}: {message}")
    if plan.status == "invalid":
        report.skipped += 1
    elif plan.status == "unchanged":
        report.unchanged += 1
    elif plan.status == "exists":
        report.messages.append(
            f"{where}: error: {author.shown(plan.rel)} exists with other content; "
            "not overwritten (edit that file, or delete it and import again)"
        )
        report.skipped += 1
    else:
        if not dry_run:
            try:
                author.write(plan)
            except FileExistsError:
                report.messages.append(
                    f"{where}: error: {author.shown(plan.rel)} appeared meanwhile; not overwritten"
                )
                report.skipped += 1
                return
        report.written += 1
