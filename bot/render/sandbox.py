"""Operator templates, bounded: time, output size and recursion (issue 13).

Jinja2's sandbox keeps a template away from Python's internals but not from the machine:
`{{ 'x' * 10**10 }}` asks for 10 GB, nested `range(100000)` loops run for hours and a
template that includes itself ends in a bare RecursionError. Everything here happens inside
the rendering thread, with no signal, thread or process (the daemon renders in a pool, check
in forked workers):

- Amplifiers are refused before they allocate: `*`, `**`, `%` and `+` (intercepted
  operators), integer arguments of calls and filters (`center(10**10)`, `indent`), widths in
  format strings, and `replace`/`join`, whose results are computed from their inputs' sizes.
- Every string a template builds (`~`, `{% set %}` blocks, macro results, the output) goes
  through a bounded join, so no value grows past MAX_OUTPUT and doubling cannot compound.
- Time is checked at every loop iteration (each `for` is rewritten to iterate through
  `_bounded`), every call (macros too) and every output chunk against a per-render deadline.
- Recursion (include/extends/import of itself, a macro calling itself) is caught and named
  at its template line.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

# A post is at most a few thousand characters; 256 KB of output is far past any real thread
# and far below what would hurt the 256 MB the unit allows.
MAX_OUTPUT = 256 * 1024
MAX_SECONDS = 2.0
# Every bound error starts so, whatever the cause: callers tell template bounds from other
# template errors by it (a bound hit on one event is hit on all: report it once).
STOPPED = "template stopped"
_ITERATOR = "_thisday_bounded"  # the filter every `for` loop iterates through
# Loop iterations between two looks at the clock (a look costs ~50 ns; an iteration ~200 ns).
_EVERY = 64
# %-format and str.format widths and precisions: `%99999999d`, `{:>99999999}`.
_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(\d{7,}|\{)")

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("deadline", default=0.0)


class TemplateBound(SecurityError):
    """A template went past a bound; `position` (template, line) when known beforehand."""

    def __init__(self, reason: str, position: tuple[str, int] | None = None) -> None:
        super().__init__(f"{STOPPED}: {reason}")
        self.position = position


def _tick() -> None:
    deadline = _deadline.get()
    if deadline and time.monotonic() > deadline:
        raise TemplateBound(f"rendering took more than {MAX_SECONDS:g} s (a loop too long?)")


def _too_big(size: int) -> None:
    if size > MAX_OUTPUT:
        raise TemplateBound(f"a value or the output would exceed {MAX_OUTPUT} characters")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


def _int_args(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_OUTPUT:
            raise TemplateBound(f"an argument is over {MAX_OUTPUT}")


def _percent(fmt: str) -> None:
    for match in _PERCENT_WIDTH.finditer(fmt):
        for width in match.groups():
            if width == "*" or (width and int(width) > MAX_OUTPUT):
                raise TemplateBound("a %-format width is variable or over the output bound")


def _bounded_join(pieces: Iterable[Any], separator: str = "") -> str:
    """ "".join with the output bound checked before each piece is added."""
    out: list[str] = []
    size = 0
    for n, piece in enumerate(pieces):
        text = piece if isinstance(piece, str) else str(piece)
        size += len(text) + (len(separator) if n else 0)
        _too_big(size)
        out.append(text)
    return separator.join(out)


def _replace(value: str, old: str, new: str, count: int = -1) -> str:
    hits = value.count(old) if old else len(value) + 1
    if count >= 0:
        hits = min(hits, count)
    _too_big(len(value) + hits * (len(new) - len(old)))
    return value.replace(old, new, count)


class _Loop:
    """A `for` loop's iterable, looking at the deadline every _EVERY items; keeps len() so
    `loop.length` stays cheap."""

    __slots__ = ("_items",)

    def __init__(self, items: Any) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        _tick()
        for n, item in enumerate(self._items, 1):
            if not n % _EVERY:
                _tick()
            yield item


def _loop_filter(items: Any) -> Any:
    if isinstance(items, jinja2.Undefined):
        return items  # StrictUndefined raises its own error when iterated
    return _Loop(items) if hasattr(items, "__len__") else iter(_Loop(items))


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """A builtin filter whose arguments (not the value) may not be huge integers."""

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        # pass_context/pass_environment filters get the context or environment first.
        start = 1 + (getattr(func, "jinja_pass_arg", None) is not None)
        _int_args(args[start:])
        _int_args(kwargs.values())
        _tick()
        return func(*args, **kwargs)

    return guarded


def _join_filter(
    eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    if attribute is not None:
        return str(jinja2.filters.do_join(eval_ctx, value, d, attribute))
    return _bounded_join(value, str(d))


def _format_filter(value: str, *args: Any, **kwargs: Any) -> str:
    _percent(str(value))
    _int_args(args)
    _int_args(kwargs.values())
    return str(jinja2.filters.do_format(value, *args, **kwargs))


def _replace_filter(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    _too_big(len(str(s)) + (len(str(s)) + 1) * len(str(new)))  # the worst case, cheaply
    return str(jinja2.filters.do_replace(eval_ctx, s, old, new, count))


_join_filter.jinja_pass_arg = jinja2.utils._PassArg.eval_context  # type: ignore[attr-defined]
_replace_filter.jinja_pass_arg = jinja2.utils._PassArg.eval_context  # type: ignore[attr-defined]


class _BoundedTemplate(jinja2.Template):
    """Compiled templates join strings (`~`) with the bounded join."""

    @classmethod
    def _from_namespace(
        cls, environment: jinja2.Environment, namespace: Any, globals: Any
    ) -> jinja2.Template:
        namespace["str_join"] = _bounded_join
        namespace["markup_join"] = _bounded_join  # autoescape is off: plain text
        return super()._from_namespace(environment, namespace, globals)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with bounds on time, size and recursion (see the module)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    template_class = _BoundedTemplate
    concat = staticmethod(_bounded_join)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, func in list(self.filters.items()):
            self.filters[name] = _guard_filter(func)
        self.filters.update(join=_join_filter, format=_format_filter, replace=_replace_filter)
        self.filters[_ITERATOR] = _loop_filter
        self._trusted: frozenset[int] = frozenset()

    def trust(self, *helpers: Callable[..., Any]) -> None:
        """Mark our own template helpers (bounded by what they do) to be called without the
        checks an operator's value needs: `t("colon")` runs in every head post."""
        self._trusted = frozenset(id(helper) for helper in helpers)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(
                loop.iter, _ITERATOR, [], [], None, None, lineno=loop.iter.lineno
            )
        return tree

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        _tick()
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
                    _too_big(len(seq) * max(times, 0))
        elif operator_ == "**":
            # The result has about right * log2(left) bits: keep it under a million.
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and right * abs(left).bit_length() > 1_000_000
            ):
                raise TemplateBound("a power too large")
        elif operator_ == "%":
            if isinstance(left, str):
                _percent(left)
        elif operator_ == "+" and _size(left) and _size(right):
            _too_big(len(left) + len(right))
        return self.binop_table[operator_](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if id(__obj) in __self._trusted:
            return __context.call(__obj, *args, **kwargs)
        _tick()
        _int_args(args)
        _int_args(kwargs.values())
        target = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):
            name = getattr(target, "__name__", "")
            if name in ("format", "format_map") and _BRACE_WIDTH.search(owner):
                raise TemplateBound("a format width is variable or over the output bound")
            if name == "replace" and len(args) >= 2:
                return _replace(owner, str(args[0]), str(args[1]), *args[2:3])
            if name == "join" and args:
                return _bounded_join(args[0], owner)
        result = super().call(__context, __obj, *args, **kwargs)
        _too_big(_size(result))
        return result


def render(template: jinja2.Template, ctx: dict[str, Any]) -> str:
    """What Template.render does, minus merging the globals into every context (`ctx`
    carries them already, which matters at 100,000 renders), within the bounds."""
    token = _deadline.set(time.monotonic() + MAX_SECONDS)
    try:
        context = new_context(
            template.environment,
            template.name,
            template.blocks,
            ctx,
            shared=True,
            globals=_plain_globals(template),
        )
        body = template.root_render_func(context)
        return _bounded_output(body, template)
    except RecursionError as exc:
        raise TemplateBound(
            "recursion without end (a template that includes, extends or imports itself,"
            " or a macro that calls itself)",
            _position(exc.__traceback__, template),
        ) from None
    finally:
        _deadline.reset(token)


def _plain_globals(template: jinja2.Template) -> dict[str, Any]:
    """The template's globals as a dict, made once: Template.new_context hands Jinja its
    ChainMap, which every render then walks in Python to list the names."""
    found = _GLOBALS.get(template)
    if found is None:
        found = _GLOBALS[template] = dict(template.globals)
    return found


_GLOBALS: weakref.WeakKeyDictionary[jinja2.Template, dict[str, Any]] = weakref.WeakKeyDictionary()


def _bounded_output(body: Iterator[str], template: jinja2.Template) -> str:
    out: list[str] = []
    size = 0
    # Loops and calls look at the clock themselves; between them, a look every _EVERY chunks
    # (a template of plain text and `{{ }}` yields a chunk for each).
    for n, chunk in enumerate(body, 1):
        size += len(chunk)
        try:
            if size > MAX_OUTPUT:
                _too_big(size)
            if not n % _EVERY:
                _tick()
        except TemplateBound as exc:
            # Raised here, outside the template's code: its line is where the body stopped.
            frame = getattr(body, "gi_frame", None)
            line = template.get_corresponding_lineno(frame.f_lineno) if frame else 1
            exc.position = (template.filename or template.name or "template", line)
            raise
        out.append(chunk)
    return "".join(out)


def _position(tb: TracebackType | None, template: jinja2.Template) -> tuple[str, int]:
    """The deepest template line in a raw (not rewritten) traceback: rewriting a thousand
    recursive frames would cost more than the render."""
    where = (template.filename or template.name or "template", 1)
    while tb is not None:
        owner = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(owner, jinja2.Template):
            where = (
                owner.filename or owner.name or where[0],
                owner.get_corresponding_lineno(tb.tb_lineno),
            )
        tb = tb.tb_next
    return where


__all__ = ["MAX_OUTPUT", "MAX_SECONDS", "STOPPED", "BoundedEnvironment", "TemplateBound", "render"]
