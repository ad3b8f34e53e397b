"""The HTML and SVG pages (`thisday calendar --svg/--html`, `thisday preview --html`): Jinja2
templates shipped beside this file as package data, rendered with autoescaping on.

The templates are ours, not the operator's, so a plain (not sandboxed) environment renders
them; what they show (post text, titles, paths) is untrusted and escaped on output. Only the
commands that write a page import this module: `check`, `preview` and `--help` never do.

The markup templates (`*.j2`) are written one element per line for reading; their line breaks
and the indentation after them are dropped when a template is loaded, so the page carries no
whitespace the templates did not ask for (a line break is written `{{ "\\n" }}`). Style sheets
and scripts (`*.css`, `*.js`) are read as they are.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path
from typing import Any

import jinja2
from jinja2.ext import Extension

FOLDER = Path(__file__).resolve().parent
_LINE_BREAK = re.compile(r"\n[ \t]*")
# Characters XML 1.0 forbids even escaped; post text is untrusted and YAML can carry them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class _JoinLines(Extension):
    """Drops each line break of a markup template with the indentation that follows it."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if name is not None and name.endswith(".j2"):
            return _LINE_BREAK.sub("", source)
        return source


def xml_text(text: str) -> str:
    """The `xml` filter: text an XML parser accepts (then escaped like any other)."""
    return _NOT_XML.sub("\ufffd", text)


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(FOLDER)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=[_JoinLines],
        auto_reload=False,
    )
    env.filters["xml"] = xml_text
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(context)


def macro(template: str, name: str) -> Any:
    """A macro of a template, callable from Python; it returns escaped markup."""
    return getattr(environment().get_template(template).module, name)


@functools.cache
def asset(name: str) -> str:
    """A style sheet or script, as written: the templates insert it with `|safe`."""
    return (FOLDER / name).read_text(encoding="utf-8")


def script_hash(script: str) -> str:
    """The CSP source that lets exactly this inline script run."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"
