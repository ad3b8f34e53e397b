"""Splitting a story into parts that fit: paragraph breaks first, then sentence ends and line
breaks, then spaces; never inside a URL, a link or a grapheme cluster."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from itertools import accumulate

from bot.text.base import Link, Rich, Rules, TextTooLong, check_platform, end_of_run, find_all
from bot.text.bluesky import JS_SPACE, detect_links
from bot.text.clusters import ASCII_CLUSTER, segmenter, utf8_length
from bot.text.counting import fits, length
from bot.text.mastodon import MASTODON_MENTION, mastodon_url_matches

_ASCII_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e"
_LINE_BREAK_CHARS = _ASCII_LINE_BREAKS + "\x85\u2028\u2029"
_SENTENCE_END = (
    ".!?\u2026\u203c\u2047\u2048\u2049\u3002\uff01\uff1f\uff0e\uff61\u0964\u0965\u061f\u06d4"
)
_CLOSERS = (
    "\"')]}\u2019\u201d\u00bb\u203a\u300d\u300f\u3011\u3015\u3017\u3019\u301b"
    "\uff09\uff3d\uff5d\u3009\u300b"
)
_NO_SPACE_STOPS = "\u3002\uff01\uff1f\uff0e\uff61"
# Searched in the reversed window: the first match there is the last one in the text, and a
# forward scan is much cheaper than backtracking from the end.
_REVERSED_SENTENCE_SPACE = re.compile(f"\\s[{re.escape(_CLOSERS)}]*[{re.escape(_SENTENCE_END)}]")
_LAST_STOP_NO_SPACE = re.compile(f"[\\s\\S]*[{_NO_SPACE_STOPS}][{re.escape(_CLOSERS)}]*()(?=\\S)")
_REVERSED_SPACE = re.compile(r"\s+(?=\S)")
_WS_RUN = re.compile(r"\s*")
_GENERIC_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_NOT_JS_SPACE = re.compile(f"[^{JS_SPACE}]")

_PARAGRAPH, _SENTENCE, _WORD = range(3)


class _Splitter:
    """Greedy packing of one text into parts; offsets are code points into ``text``."""

    def __init__(self, rich: Rich, rules: Rules, reserve: int) -> None:
        self.text = text = rich.text
        self.rules = rules
        self.reserve = reserve
        self.n = len(text)
        self.room = rules.limit - reserve
        self.byte_room = None if rules.max_bytes is None else rules.max_bytes - reserve
        self.ascii = text.isascii()
        # Cluster boundaries; None when every offset is one (ASCII without CRLF).
        self.bounds: list[int] | None = None
        if not self.ascii or "\r\n" in text:
            self.bounds = list(accumulate(map(len, _clusters(text)), initial=0))
        self.links = sorted(rich.links, key=lambda k: (k.start, k.end))
        self.line_runs: list[tuple[int, int, int]] = []
        self.events: list[tuple[int, int, int]] = []
        self.span_starts: list[int] = []
        self.span_ends: list[int] = []
        self.urls_known = False

    # -- clusters ----------------------------------------------------------------------------
    def index(self, pos: int) -> int:
        return pos if self.bounds is None else bisect_right(self.bounds, pos) - 1

    def offset(self, idx: int) -> int:
        return idx if self.bounds is None else self.bounds[idx]

    def total(self) -> int:
        return self.n if self.bounds is None else len(self.bounds) - 1

    def floor(self, pos: int) -> int:
        return self.offset(self.index(pos))

    def ceil(self, pos: int) -> int:
        if self.bounds is None:
            return pos
        return self.bounds[bisect_left(self.bounds, pos)]

    def strip_start(self, pos: int, end: int) -> int:
        # A space that a combining mark attaches to is part of that cluster: keep it.
        pos = end_of_run(_WS_RUN, self.text, pos, end)
        return self.floor(pos) if pos < end else end

    def strip_end(self, start: int, end: int) -> int:
        return self.ceil(start + len(self.text[start:end].rstrip()))

    # -- what the parts are measured and protected by --------------------------------------------
    def prepare(self) -> None:
        self.line_runs = self._line_break_runs()
        link_spans = _merge((k.start, k.end) for k in self.links if k.start < k.end)
        self.span_starts = [s for s, _ in link_spans]
        self.span_ends = [e for _, e in link_spans]
        if self.rules.platform == "mastodon":
            urls = []
            if "://" in self.text:
                urls = [m.span(3) for m in mastodon_url_matches(self.text)]
            self.events = self._mastodon_events(urls)
        # Detected URLs hold no whitespace, so only a break inside a word (or one at a
        # whitespace character the JavaScript \s lacks) needs them: found on first such use.
        self.urls_known = False

    def _add_url_spans(self) -> None:
        text = self.text
        spans = list(zip(self.span_starts, self.span_ends, strict=True))
        if "://" in text:
            spans += [m.span() for m in _GENERIC_URL.finditer(text)]
            if self.rules.platform == "mastodon":
                spans += [m.span(3) for m in mastodon_url_matches(text)]
        if self.rules.platform == "bluesky":
            spans += [(s, e) for s, e, _ in detect_links(text)]
        merged = _merge(spans)
        self.span_starts = [s for s, _ in merged]
        self.span_ends = [e for _, e in merged]
        self.urls_known = True

    def _mastodon_events(self, urls: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """(first cluster, end cluster, weight of the whole span) of URLs and @host parts."""
        events = [(self.index(s), self.index(e), self.rules.url_weight) for s, e in urls]
        if self.text.count("@") >= 2:
            for m in MASTODON_MENTION.finditer(self.text):
                a, b = m.end(3), m.end(2)
                if not any(s < b and a < e for s, e in urls):
                    events.append((self.index(a), self.index(b), 0))
        return events

    def _line_break_runs(self) -> list[tuple[int, int, int]]:
        """(run start, run end, level) of each whitespace run holding a line break."""
        text = self.text
        breaks: list[int] = []
        for ch in _ASCII_LINE_BREAKS if self.ascii else _LINE_BREAK_CHARS:
            if ch in text:
                breaks += find_all(text, ch)
        if not breaks:
            return []
        breaks.sort()
        runs = []
        run_end = -1
        for at in breaks:
            if at < run_end:
                continue
            a = at
            while a > 0 and text[a - 1].isspace():
                a -= 1
            run_end = end_of_run(_WS_RUN, text, at)
            count = bisect_left(breaks, run_end) - bisect_left(breaks, a)
            count -= text.count("\r\n", a, run_end)
            runs.append((a, run_end, _PARAGRAPH if count >= 2 else _SENTENCE))
        return runs

    def weight(self, i: int, j: int) -> int:
        """Mastodon length of clusters [i, j) by estimate: URLs weigh url_weight, @host nothing."""
        w = j - i
        for a, b, span_weight in self.events:
            lo, hi = max(a, i), min(b, j)
            if lo < hi:
                w -= hi - lo
                if i <= a < j:
                    w += span_weight
        return w

    def reach(self, start: int) -> int:
        """Farthest boundary the part starting at ``start`` may end at, by estimate."""
        i = self.index(start)
        total = self.total()
        if not self.events:
            j = min(i + self.room, total)
        else:
            lo, hi = i, total
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.weight(i, mid) <= self.room:
                    lo = mid
                else:
                    hi = mid - 1
            j = lo
        if self.byte_room is not None:
            if self.ascii:
                if self.offset(j) - start > self.byte_room:
                    j = self.index(start + self.byte_room)
            elif utf8_length(self.text[start : self.offset(j)]) > self.byte_room:
                lo, hi = i, j
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if utf8_length(self.text[start : self.offset(mid)]) <= self.byte_room:
                        lo = mid
                    else:
                        hi = mid - 1
                j = lo
        return self.offset(j)

    # -- where to cut ------------------------------------------------------------------------
    def blocker(self, cut: int, resume: int) -> tuple[int, int] | None:
        """A protected span that a break dropping [cut, resume) would cut into, if any."""
        if not self.urls_known and (
            cut == resume
            or not self.text[cut:resume].isspace()
            or _NOT_JS_SPACE.search(self.text, cut, resume)
        ):
            self._add_url_spans()
        k = bisect_left(self.span_starts, resume) - 1
        if k >= 0 and self.span_ends[k] > cut:
            return self.span_starts[k], self.span_ends[k]
        return None

    def last_break(self, level: int, start: int, hi: int) -> tuple[int, int] | None:
        """The last break of ``level`` (or a stronger one) whose cut lies in (start, hi)."""
        text = self.text
        best: tuple[int, int] | None = None
        if level <= _SENTENCE:
            for a, b, run_level in reversed(self.line_runs):
                if a >= hi:
                    continue
                if a <= start:
                    break
                if run_level <= level:
                    best = (a, b)
                    break
        if level == _SENTENCE:
            m = _REVERSED_SENTENCE_SPACE.search(text[start:hi][::-1])
            if m and (best is None or hi - 1 - m.start() > best[0]):
                cut = hi - 1 - m.start()
                best = (cut, end_of_run(_WS_RUN, text, cut))
            if not self.ascii:
                m = _LAST_STOP_NO_SPACE.match(text, start, hi)
                if m and (best is None or m.start(1) > best[0]):
                    best = (m.start(1), m.start(1))
        elif level == _WORD:
            m = _REVERSED_SPACE.search(text[start:hi][::-1])
            if m:
                cut = hi - m.end()
                best = (cut, end_of_run(_WS_RUN, text, cut))
        return best

    def choose(self, start: int, reach: int, end: int) -> tuple[int, int]:
        """Where the part starting at ``start`` ends (cut) and the next one begins (resume)."""
        if reach >= end:
            return end, end
        for level in (_PARAGRAPH, _SENTENCE, _WORD):
            hi = reach + 1
            while (found := self.last_break(level, start, hi)) is not None:
                cut, resume = self.ceil(found[0]), self.floor(found[1])
                if cut <= start or cut > resume:
                    hi = found[0]
                    continue
                blocker = self.blocker(cut, resume)
                if blocker is not None:
                    hi = min(found[0], blocker[0])
                    continue
                return cut, resume
        # A single word longer than a part: cut it between clusters, never inside a URL.
        cut = reach
        blocker = self.blocker(cut, cut)
        if blocker is not None:
            cut = self.floor(blocker[0])
        if cut <= start:
            around = self.blocker(start, start + 1)
            if around is not None:
                self.too_long(around[0], around[1], "the URL")
            self.too_long(start, self.offset(self.index(start) + 1), "the grapheme cluster")
        return cut, cut

    def too_long(self, a: int, b: int, what: str) -> None:
        piece = self.text[a:b]
        shown = piece if len(piece) <= 60 else piece[:57] + "..."
        rules = self.rules
        need = length(piece, rules)
        if need > self.room:
            unit = "characters" if rules.platform == "mastodon" else "graphemes"
            detail = f"{need} {unit} > {self.room} ({rules.limit} minus reserve {self.reserve})"
            over = need - self.room
        else:
            need = utf8_length(piece)
            unit = "bytes"
            byte_room = self.byte_room or 0
            detail = (
                f"{need} UTF-8 bytes > {byte_room} ({rules.max_bytes} minus reserve {self.reserve})"
            )
            over = need - byte_room
        raise TextTooLong(
            f"{what} {shown!r} cannot be split and does not fit one {rules.platform} part: "
            f"{detail}, too long by {over} {unit}"
        )

    def run(self, *, checked: bool = False) -> list[tuple[int, int]]:
        """Part spans; ``checked`` when the caller already found the whole text too long."""
        text = self.text
        begin = self.strip_start(0, self.n)
        end = self.strip_end(begin, self.n)
        if begin >= end:
            return []
        if not checked and fits(text[begin:end], self.rules, self.reserve):
            return [(begin, end)]
        if self.room <= 0 or (self.byte_room is not None and self.byte_room <= 0):
            raise TextTooLong(
                f"a reserve of {self.reserve} leaves no room in a {self.rules.platform} part "
                f"(limit {self.rules.limit}, max bytes {self.rules.max_bytes})"
            )
        self.prepare()
        # On ASCII, Bluesky's count (code points less CRLFs) and bytes are what reach() used.
        exact = self.ascii and self.rules.platform == "bluesky"
        parts: list[tuple[int, int]] = []
        start = begin
        while start < end:
            reach = self.reach(start)
            while True:
                cut, resume = self.choose(start, reach, end)
                part_end = self.strip_end(start, cut)
                if exact or fits(text[start:part_end], self.rules, self.reserve):
                    break
                # The estimate was optimistic (a URL or mention reads differently at the edge
                # of a part): try again with less.
                reach = self.floor(cut - 1)
                if reach <= start:
                    self.too_long(start, cut, "the text")
            parts.append((start, part_end))
            start = self.strip_start(resume, end) if resume < end else end
        return parts


def _clusters(text: str) -> Iterable[str]:
    return ASCII_CLUSTER.findall(text) if text.isascii() else segmenter()(text)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def split(rich: Rich, rules: Rules, *, reserve: int = 0) -> list[Rich]:
    """Split ``rich`` into parts that each satisfy ``fits(part.text, rules, reserve)``.

    Prefers paragraph breaks, then sentence ends and line breaks, then spaces; only a word
    longer than a whole part is cut, between grapheme clusters. Links and URLs are never cut
    (TextTooLong when one alone cannot fit). Parts are stripped; links are re-based."""
    check_platform(rules)
    text = rich.text
    checked = text.isascii()
    if checked:
        # ASCII whitespace never shares a cluster with anything else: a plain strip is exact.
        stripped = text.strip()
        if not stripped:
            return []
        if fits(stripped, rules, reserve):
            offset = text.index(stripped[0])
            return [_rebase(rich, offset, offset + len(stripped))]
    splitter = _Splitter(rich, rules, reserve)
    return [_rebase(rich, a, b) for a, b in splitter.run(checked=checked)]


def _rebase(rich: Rich, start: int, end: int) -> Rich:
    if start == 0 and end == len(rich.text):
        return rich
    links = []
    for link in rich.links:
        a, b = max(link.start, start), min(link.end, end)
        if a < b:
            links.append(Link(a - start, b - start, link.uri))
    return Rich(rich.text[start:end], tuple(links))
