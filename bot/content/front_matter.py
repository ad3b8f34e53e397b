"""Front matter as the YAML loader reads it, mostly without the YAML loader.

Nearly every post's front matter is `key: text`, `key: "text"` and `key: [a, b]` lines. Those
are read here directly; anything else goes to PyYAML (a safe loader, minus implicit
timestamps), which is imported only then (~12 ms). Property tests compare the two readings.
"""

from __future__ import annotations

import functools
import re
from typing import Any


@functools.cache
def yaml_loader() -> Any:
    """The safe loader, minus YAML's implicit timestamps: dates are read (and judged) by us.
    PyYAML is imported on first use: front matter of the usual shape never needs it."""
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def yaml_load(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=yaml_loader())


def yaml_error() -> type[Exception]:
    # Evaluated only once an exception is being handled, so PyYAML stays unimported until then.
    import yaml

    return yaml.YAMLError


_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# YAML 1.1's implicit types of plain scalars, as PyYAML resolves them, by first character and
# in PyYAML's order (timestamps left out, as by the loader above). The fast path needs them
# without importing PyYAML; a test keeps this table equal to PyYAML's own.
IMPLICIT_TYPES: tuple[tuple[str, str, str, int], ...] = (
    (
        "bool",
        "yYnNtTfFoO",
        r"""^(?:yes|Yes|YES|no|No|NO
                    |true|True|TRUE|false|False|FALSE
                    |on|On|ON|off|Off|OFF)$""",
        re.X,
    ),
    (
        "float",
        "-+0123456789.",
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    (
        "int",
        "-+0123456789",
        r"""^(?:[-+]?0b[0-1_]+
                    |[-+]?0[0-7_]+
                    |[-+]?(?:0|[1-9][0-9_]*)
                    |[-+]?0x[0-9a-fA-F_]+
                    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
        re.X,
    ),
    ("merge", "<", r"^(?:<<)$", 0),
    (
        "null",
        "~nN",
        r"""^(?: ~
                    |null|Null|NULL
                    | )$""",
        re.X,
    ),
    ("value", "=", r"^(?:=)$", 0),
    ("yaml", "!&*", r"^(?:!|&|\*)$", 0),
)


@functools.cache
def _implicit_types() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    by_first: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for name, firsts, pattern, flags in IMPLICIT_TYPES:
        tagged = (f"tag:yaml.org,2002:{name}", re.compile(pattern, flags))
        for first in firsts:
            by_first.setdefault(first, []).append(tagged)
    return by_first


_SIMPLE_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):[ \t]+(\S(?:.*\S)?)[ \t]*")
# What may open a plain YAML scalar and how it may go on (a strict subset, on purpose).
_PLAIN = re.compile(r"[^-?:,\[\]{}#&*!|>'\"%@`\s](?:(?!: | #)[^\t\n])*(?<!:)")
_PLAIN_ITEM = re.compile(r"[^-?:,\[\]{}#&*!|>'\"%@`\s](?:(?! #)[^:,\[\]{}\t\n])*")
_STR_TAG = "tag:yaml.org,2002:str"
# A quoted scalar on one line: "…" without escapes, or '…' where '' stands for '.
_QUOTED = re.compile(r"\"([^\"\\]*)\"|'((?:[^']|'')*)'")


def load_front_matter(front: str) -> Any:
    """yaml.safe_load minus timestamps, with a fast path for the usual `key: plain text`,
    `key: "quoted text"` and `key: [a, b]` lines. Anything else (escapes, comments, numbers,
    booleans, nesting, blocks) goes to the real loader, so the result is always what the YAML
    loader would give."""
    data: dict[str, Any] = {}
    for line in front.split("\n"):
        match = _SIMPLE_LINE.fullmatch(line) if line.isprintable() else None
        if match is None:
            if not line.strip():
                continue
            return yaml_load(front)
        key, value = match.groups()
        if not _is_text(key):  # `on:` or `no:` would be a boolean key
            return yaml_load(front)
        if value.startswith("[") and value.endswith("]"):
            items = [item.strip() for item in value[1:-1].split(",")]
            if items == [""]:
                items = []
            if not all(_PLAIN_ITEM.fullmatch(item) and _is_text(item) for item in items):
                return yaml_load(front)
            data[key] = items
        elif _PLAIN.fullmatch(value) and _is_text(value):
            data[key] = value
        elif quoted := _QUOTED.fullmatch(value):
            double, single = quoted.groups()
            data[key] = double if double is not None else single.replace("''", "'")
        else:
            return yaml_load(front)
    return data or None


def _is_text(value: str) -> bool:
    """YAML would read this plain scalar as a string (not a bool, number, null...)."""
    for tag, pattern in _implicit_types().get(value[0], ()):
        if pattern.match(value):
            return bool(tag == _STR_TAG)
    return True
