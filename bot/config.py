"""Settings: `config/thisday.toml` → typed, validated models, read once and passed down.

Paths in the file are resolved against the folder that holds it. Secrets are never values
here, only references (`token_env`, `token_file`, `password_env`, `password_file`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

# When it builds its first model, pydantic reads the entry points of every installed package
# to find plugins (~25 ms of every command); thisday uses none. Set
# PYDANTIC_DISABLE_PLUGINS="" to have pydantic look for them again.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.state import StateFolder

DEFAULT_CONFIG = Path("config/thisday.toml")
CONFIG_ENV = "THISDAY_CONFIG"


class ConfigError(Exception):
    """A config problem, already phrased for the operator (`path:line: message`)."""


SHOWN = 80  # longer values are cut with … in messages
PASTED = "looks like a secret was pasted: put it in the environment or a file"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def shown(value: object) -> str:
    """A value as a message quotes it: repr, at most SHOWN characters."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.fullmatch(value):
        raise ValueError(f"must be the name of an environment variable; {PASTED}")
    return value


def _file_name(value: Path | None) -> Path | None:
    # A name with control characters or longer than any path is a pasted value, not a path.
    if value is not None and (len(str(value)) > 4096 or not str(value).isprintable()):
        raise ValueError(f"must be the path of a file; {PASTED}")
    return value


EnvName = Annotated[str | None, AfterValidator(_env_name)]
FileName = Annotated[Path | None, AfterValidator(_file_name)]


def _local_time(key: str, value: object) -> dt.time:
    # TOML has a local-time type too; accept it as well as "HH:MM" strings.
    if isinstance(value, dt.time):
        return value
    match = (
        re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value) if isinstance(value, str) else None
    )
    if match:
        hour, minute, second = (int(g or 0) for g in match.groups())
        if hour < 24 and minute < 60 and second < 60:
            return dt.time(hour, minute, second)
    raise ValueError(f'{key} must be a local time like "09:00", got {shown(value)}')


class _Strict(BaseModel):
    # allow_inf_nan=False: `timeout = inf` or `nan` is refused like any value out of range.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_language(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
        raise ValueError(f"{shown(value)} is not a language code like 'en' or 'pt-BR'")
    return value


Language = Annotated[str, AfterValidator(_check_language)]


def _check_tags(value: list[str] | None) -> list[str] | None:
    """Hashtags added to head posts: letters, digits or _ (a leading # dropped), not only
    digits, each once whatever its case."""
    if value is None:
        return None
    tags: list[str] = []
    for item in value:
        tag = item.strip().removeprefix("#")
        if not re.fullmatch(r"\w{1,64}", tag) or tag.isdigit():
            raise ValueError(
                f"tag {shown(item)} must be letters, digits or _ (not only digits, at most 64)"
            )
        if tag.casefold() not in (t.casefold() for t in tags):
            tags.append(tag)
    return tags


Tags = Annotated[list[str] | None, AfterValidator(_check_tags)]


class AccountBase(_Strict):
    server: str
    language: Language | None = None
    templates: Path | None = None
    numbering: bool = True  # "1/5" at the end of each part of a thread
    tags: Tags = None  # hashtags for this account's head posts; None: the top-level `tags`
    enabled: bool = True
    max_parts: int | None = Field(default=None, ge=1, le=1000)  # default: the top-level one

    @field_validator("server")
    @classmethod
    def _server_is_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", value):
            # Never the value: a token pasted here must not be printed.
            raise ValueError("is not an http(s) base URL like https://mastodon.social")
        return value.rstrip("/")


class MastodonAccount(AccountBase):
    platform: Literal["mastodon"]
    token_env: EnvName = None
    token_file: FileName = None
    limit: int | None = Field(default=None, ge=1, le=100_000)
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"

    @model_validator(mode="after")
    def _one_token_reference(self) -> MastodonAccount:
        if self.token_env and self.token_file:
            raise ValueError("set token_env or token_file, not both")
        return self


class BlueskyAccount(AccountBase):
    platform: Literal["bluesky"]
    handle: str
    password_env: EnvName = None
    password_file: FileName = None
    limit: int | None = Field(default=None, ge=1, le=300)
    link_card: bool = True
    # The link card carries the event's (first) image as its thumbnail, instead of the
    # image(s) being embedded; off: images are embedded and the card is left out.
    card_image: bool = False
    web_url: str = "https://bsky.app"  # where followers open a post: {web_url}/profile/...
    # Where `thisday stats` reads likes, reposts, replies and quotes (app.bsky.feed.getPosts).
    appview: str = "https://public.api.bsky.app"

    @field_validator("appview")
    @classmethod
    def _appview_is_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", value):
            raise ValueError("is not an http(s) base URL like https://public.api.bsky.app")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_password_reference(self) -> BlueskyAccount:
        if self.password_env and self.password_file:
            raise ValueError("set password_env or password_file, not both")
        return self


class Publishing(_Strict):
    """How hard to try within one run (the daemon keeps retrying across the day)."""

    attempts: int = Field(default=6, ge=1, le=100)  # per batch of parts, per run
    # Times in seconds, finite and within a day: `inf` or 1e-300 would hang or spin.
    backoff: float = Field(default=2.0, ge=0, le=3600)  # first wait; doubles, with jitter
    max_backoff: float = Field(default=60.0, ge=0, le=86400)
    max_rate_limit_wait: float = Field(default=300.0, ge=0, le=86400)  # longest 429 wait
    timeout: float = Field(default=20.0, ge=0.1, le=600)  # per request


class Daemon(_Strict):
    """`thisday run`: health endpoint, warm-up before each slot, background retries."""

    # "127.0.0.1:9108" serves /healthz and /metrics there (loopback only); "" turns it off.
    health: str = ""
    warm_up: float = Field(default=60.0, ge=0, le=3600)  # seconds before each slot
    retry_every: float = Field(default=60.0, ge=1, le=86400)  # first wait before a retry
    retry_max: float = Field(default=1800.0, ge=1, le=86400)  # the wait doubles up to this

    @field_validator("health")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not value:
            return value
        match = re.fullmatch(r"(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})", value)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise ValueError(
                f'{shown(value)} must be a loopback address and port like "127.0.0.1:9108" '
                "(health and metrics are never served beyond this machine)"
            )
        return value

    @property
    def health_address(self) -> tuple[str, int] | None:
        if not self.health:
            return None
        host, _, port = self.health.rpartition(":")
        return host.strip("[]"), int(port)


Account = Annotated[MastodonAccount | BlueskyAccount, Field(discriminator="platform")]


class Settings(_Strict):
    timezone: str = "UTC"
    post_at: list[dt.time] = Field(default_factory=lambda: [dt.time(9, 0)])
    posts: Path = Path("../posts")
    state: Path = Path("../state")
    templates: Path = Path("templates")
    language: Language = "en"
    events_per_day: int = Field(default=1, ge=1, le=10)
    # A story that needs more parts than this on an account is an error, not a flood.
    max_parts: int = Field(default=25, ge=1, le=1000)
    leap_day: Literal["feb28", "mar1", "skip"] = "feb28"
    # Hashtags added to every head post after the event's own (e.g. ["OnThisDay"]).
    tags: Tags = Field(default_factory=list)
    catch_up_until: dt.time = dt.time(23, 59, 59)
    accounts: dict[str, Account] = Field(default_factory=dict)
    publishing: Publishing = Field(default_factory=Publishing)
    daemon: Daemon = Field(default_factory=Daemon)
    # A shared PostgreSQL ledger ("postgresql://user@host:5432/db") for replicas; without
    # it, the SQLite ledger in `state/`. Its password by reference only, never in the URL.
    ledger: str | None = None
    ledger_password_env: str | None = None
    ledger_password_file: Path | None = None
    ledger_lease: float = Field(default=30.0, ge=1, le=3600)  # seconds a claim lasts unrenewed
    workers: int = Field(default=8, ge=1, le=256)  # accounts published at the same time
    # Where this file was read from; paths above are resolved against its folder.
    source: Path = Path(".")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {shown(value)} (use an IANA name like 'Europe/Paris')"
            ) from None
        return value

    @field_validator("post_at", mode="before")
    @classmethod
    def _times(cls, value: object) -> object:
        items = value if isinstance(value, list) else [value]
        times = []
        for item in items:
            times.append(_local_time("post_at", item))
        if not times:
            raise ValueError("post_at needs at least one time")
        return sorted(set(times))

    @field_validator("catch_up_until", mode="before")
    @classmethod
    def _until(cls, value: object) -> object:
        return _local_time("catch_up_until", value)

    @field_validator("accounts")
    @classmethod
    def _account_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                raise ValueError(f"account name {shown(name)} may use only letters, digits, _ . -")
        return value

    @field_validator("ledger")
    @classmethod
    def _ledger_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"postgres(ql)?://[^\s]+", value):
            raise ValueError('must be a PostgreSQL URL like "postgresql://thisday@db:5432/thisday"')
        authority = value.split("://", 1)[1].split("/", 1)[0]
        if ":" in authority.rpartition("@")[0]:
            # Never print the value: it holds a password.
            raise ValueError(
                "holds a password: remove it from the URL and use ledger_password_env, "
                "ledger_password_file or libpq's PGPASSFILE"
            )
        return value

    @model_validator(mode="after")
    def _one_ledger_password(self) -> Settings:
        if self.ledger_password_env and self.ledger_password_file:
            raise ValueError("set ledger_password_env or ledger_password_file, not both")
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def base(self) -> Path:
        return self.source.parent

    def resolve(self, path: Path) -> Path:
        return Path(os.path.normpath(path if path.is_absolute() else self.base / path))

    @property
    def posts_dir(self) -> Path:
        return self.resolve(self.posts)

    @property
    def state_dir(self) -> Path:
        return self.resolve(self.state)

    @property
    def state_folder(self) -> StateFolder:
        return StateFolder(self.state_dir)

    @property
    def templates_dir(self) -> Path:
        return self.resolve(self.templates)

    def account_templates(self, name: str) -> Path | None:
        folder = self.accounts[name].templates
        return self.resolve(folder) if folder else None

    def tags_for(self, name: str) -> list[str]:
        """The hashtags this account adds to head posts: its own `tags`, else the top-level."""
        own = self.accounts[name].tags
        return list(own if own is not None else self.tags or [])

    def max_parts_for(self, name: str) -> int:
        """How many parts a thread may have on this account."""
        return self.accounts[name].max_parts or self.max_parts

    def active_accounts(self) -> dict[str, MastodonAccount | BlueskyAccount]:
        return {name: acc for name, acc in self.accounts.items() if acc.enabled}

    def today(self, now: dt.datetime | None = None) -> dt.date:
        """Today's date in the operator's timezone (never UTC's)."""
        now = now or dt.datetime.now(dt.UTC)
        return now.astimezone(self.zone).date()


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate the config file; raise ConfigError with a `path:line:` message."""
    file = config_path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: error: config file not found (pass --config FILE)") from None
    except OSError as exc:
        raise ConfigError(f"{file}: error: cannot read config: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: error: config is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ConfigError(f"{file}:{line.group(1) if line else 1}: error: {exc}") from None
    data["source"] = file.absolute()
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(file, text, exc))) from None


def _describe(file: Path, text: str, exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"] if not isinstance(part, int)]
        # The discriminated union adds the platform as a path element; operators never wrote
        # it (an account may itself be named "mastodon": only the element after its name goes).
        if len(loc) > 2 and loc[0] == "accounts" and loc[2] in ("mastodon", "bluesky"):
            del loc[2]
        key = ".".join(loc) or "(top)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "finite_number":
            message = "must be a finite number"
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        elif err["type"] == "missing":
            message = "required setting is missing"
        elif err["type"] == "union_tag_invalid":
            message = 'platform must be "mastodon" or "bluesky"'
        elif err["type"] == "union_tag_not_found":
            message = 'platform is missing ("mastodon" or "bluesky")'
        lines.append(f"{file}:{_line_of(text, loc)}: error: {key}: {message}")
    return lines


def _line_of(text: str, loc: list[str]) -> int:
    """Best-effort line number of a key path (TOML parsers do not report positions)."""
    if not loc:
        return 1
    section_line = 0
    if loc[0] == "accounts" and len(loc) >= 2:
        header = re.compile(r"^\s*\[\s*accounts\.\"?" + re.escape(loc[1]) + r"\"?\s*\]")
        for number, line in enumerate(text.splitlines(), 1):
            if header.match(line):
                section_line = number
                break
        key = loc[2] if len(loc) > 2 else None
    elif loc[0] in ("publishing", "daemon") and len(loc) >= 2:
        header = re.compile(r"^\s*\[\s*\"?" + re.escape(loc[0]) + r"\"?\s*\]")
        for number, line in enumerate(text.splitlines(), 1):
            if header.match(line):
                section_line = number
                break
        key = loc[1]
    else:
        key = loc[0]
    if key is not None:
        pattern = re.compile(r"^\s*\"?" + re.escape(key) + r"\"?\s*=")
        for number, line in enumerate(text.splitlines(), 1):
            if number > section_line and pattern.match(line):
                return number
    return section_line or 1


def read_secret(env: str | None, file: Path | None, base: Path) -> str | None:
    """Resolve a secret reference. The value is returned and masked in logs, never logged."""
    from bot.logs import remember_secret

    value: str | None = None
    if env:
        value = (os.environ.get(env) or "").strip() or None
    elif file:
        path = file if file.is_absolute() else base / file
        # systemd LoadCredential= puts credentials in $CREDENTIALS_DIRECTORY.
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if not path.exists() and credentials and not file.is_absolute():
            path = Path(credentials) / file
        try:
            value = path.read_text(encoding="utf-8").strip() or None
        except OSError:
            value = None
    remember_secret(value)
    return value
