"""Splitting a story into parts that fit, as few as the rules allow and as even as they can be.

Where a part may end (the candidate breaks):
- paragraph breaks, line breaks and sentence ends (from the multilingual segmenter in
  `sentences`, in the post's language; after a full-width stop in CJK text too);
- between words only inside a sentence that does not fit a part on its own;
- between grapheme clusters only inside a word that does not fit a part on its own;
- never inside a link, a URL or a grapheme cluster (TextTooLong when one alone cannot fit), nor
  inside a Bluesky mention or tag that fits a part; a word is never cut before an "@" or "#"
  that would start a new one, nor (on Bluesky) just after what would end a new mention.

Which breaks are used, in this order of priority:
1. the fewest parts (so no two neighbouring parts would fit in one);
2. the longest shortest part, and among splits as balanced, the most paragraph breaks;
3. then each boundary is moved, as long as it helps, to the break that makes the shorter of its
   two neighbouring parts longest. After this no move of whole sentences across a boundary can
   make both of its parts longer than the shorter one is now.

So a paragraph break is preferred only between equally balanced splits: a part never ends at a
paragraph if that leaves an orphan that moving sentences across would lengthen. Sizes are the
platform's count (graphemes, or Mastodon's with URLs at their fixed weight). A small dynamic
programme over the candidate breaks does 1-2; a story has tens of them, not hundreds, because
spaces are candidates only inside sentences longer than a part.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from itertools import accumulate
from typing import NoReturn

from bot.text.base import Link, Rich, Rules, TextTooLong, check_platform, end_of_run, find_all
from bot.text.bluesky import JS_SPACE, detect_links, detect_tags
from bot.text.clusters import graphemes, utf8_length
from bot.text.counting import fits, length
from bot.text.mastodon import MASTODON_MENTION, mastodon_urls
from bot.text.mentions import detect_mentions
from bot.text.sentences import after_abbreviation, sentence_ends

_ASCII_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e"
_LINE_BREAK_CHARS = _ASCII_LINE_BREAKS + "\x85\u2028\u2029"
_WS_RUN = re.compile(r"\s*")
_WS = re.compile(r"\s+")
_GENERIC_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_NOT_JS_SPACE = re.compile(f"[^{JS_SPACE}]")
_MENTION_OR_TAG_SIGNS = "@#\uff03"

# Break levels, strongest first.
_PARAGRAPH, _SENTENCE, _WORD, _CLUSTER = range(4)
# (cut, resume, level): the part before ends at cut, the next one starts at resume.
_Break = tuple[int, int, int]


class _Splitter:
    """The split of one text into parts; offsets are code points into ``text``."""

    def __init__(self, rich: Rich, rules: Rules, reserve: int, lang: str | None = None) -> None:
        self.lang = lang
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
            self.bounds = list(accumulate(map(len, graphemes(text)), initial=0))
        self.links = sorted(rich.links, key=lambda k: (k.start, k.end))
        self.line_runs: list[tuple[int, int, int]] = []
        self.events: list[tuple[int, int, int]] = []
        self.span_starts: list[int] = []
        self.span_ends: list[int] = []
        self.urls_known = False
        self._measured: dict[tuple[int, int], int | None] = {}
        self._mentions: set[tuple[int, int]] | None = None  # the story's own, found on first use
        self._starts: list[int] = []
        self._stops: list[int] = []

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
                urls = mastodon_urls(self.text)
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
                spans += mastodon_urls(text)
        if self.rules.platform == "bluesky":
            spans += [(s, e) for s, e, _ in detect_links(text)]
        merged = _merge(spans)
        if self.rules.platform == "bluesky":
            # Mentions and tags are kept whole too, unless that leaves nothing that fits a
            # part: one longer than a part, or one overlapping a URL into a span that long
            # ("#、、https://…/" with the tag ending before the last "/"), is cut as any word
            # that long is.
            for start, end, _ in sorted((*detect_mentions(text), *detect_tags(text))):
                lo, hi = start, end
                for s, e in merged:
                    if s < hi and lo < e:
                        lo, hi = min(lo, s), max(hi, e)
                if self.index(hi) - self.index(lo) <= self.room:
                    merged = _merge([*merged, (lo, hi)])
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

    # -- where a part may end ----------------------------------------------------------------
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

    def _candidate(self, cut: int, resume: int, level: int, lo: int, hi: int) -> _Break | None:
        cut, resume = self.ceil(cut), self.floor(resume)
        if not lo < cut <= resume <= hi or cut >= hi or self.blocker(cut, resume) is not None:
            return None
        return cut, resume, level

    def sentence_breaks(self, begin: int, end: int) -> list[_Break]:
        """Paragraph breaks, line breaks and sentence ends in (begin, end), one per cut."""
        found: dict[int, _Break] = {}

        def add(brk: _Break | None) -> None:
            if brk is not None and (brk[0] not in found or brk[2] < found[brk[0]][2]):
                found[brk[0]] = brk

        for a, b, level in self.line_runs:
            add(self._candidate(a, b, level, begin, end))
        for cut, resume in sentence_ends(self.text, self.lang):
            add(self._candidate(cut, resume, _SENTENCE, begin, end))
        return sorted(found.values())

    def word_breaks(self, lo: int, hi: int) -> list[_Break]:
        """Spaces in (lo, hi), except after "Dr." or an initial: only used inside a sentence
        longer than a part."""
        out = []
        for m in _WS.finditer(self.text, lo, hi):
            if after_abbreviation(self.text, m.start()):
                continue
            brk = self._candidate(m.start(), m.end(), _WORD, lo, hi)
            if brk is not None:
                out.append(brk)
        return out

    def cluster_breaks(self, lo: int, hi: int) -> list[_Break]:
        """Cluster boundaries in (lo, hi) outside links and URLs: inside a word longer than a
        part."""
        out = []
        i, j = self.index(lo), self.index(hi)
        for k in range(i + 1, j):
            at = self.offset(k)
            if (
                self.blocker(at, at) is None
                and not self._would_start_a_mention(at)
                and not self._would_end_a_mention(at)
            ):
                out.append((at, at, _CLUSTER))
        return out

    def _would_start_a_mention(self, at: int) -> bool:
        """A part starting at ``at`` would make a mention or tag the story does not have
        ("mail@example.com" cut before its "@")."""
        return self.text[at] in _MENTION_OR_TAG_SIGNS and self.text[at + 1 : at + 2].isalnum()

    def _would_end_a_mention(self, at: int) -> bool:
        """On Bluesky, a part ending at ``at`` would make a mention the story does not have
        ("@nope.notatld" cut after "@nope.no", a handle in .no). Such a mention would end at
        the cut, so it starts at the last "@" before it."""
        if self.rules.platform != "bluesky":
            return False
        sign = self.text.rfind("@", 0, at)
        if sign == -1 or _WS.search(self.text, sign, at):
            return False
        if self._mentions is None:
            self._mentions = {(s, e) for s, e, _ in detect_mentions(self.text)}
        before = max(sign - 1, 0)  # the character that lets a mention start there, or not
        return any(
            (before + s, before + e) not in self._mentions
            for s, e, _ in detect_mentions(self.text[before:at])
        )

    # -- measuring a part ------------------------------------------------------------------------
    def span(self, u: _Break, v: _Break) -> tuple[int, int]:
        """The stripped part that starts after break ``u`` and ends at break ``v``."""
        start = self.strip_start(u[1], self.n)
        return start, self.strip_end(start, max(start, v[0]))

    def measure(self, start: int, stop: int) -> int | None:
        """The part's length as counted for balance, or None when it does not fit (by the
        estimate; exact counts are checked on the parts chosen)."""
        key = (start, stop)
        if key in self._measured:
            return self._measured[key]
        size: int | None = None
        if stop > start:
            i, j = self.index(start), self.index(stop)
            size = self.weight(i, j) if self.events else j - i
            too_many_bytes = self.byte_room is not None and (
                (stop - start if self.ascii else utf8_length(self.text[start:stop]))
                > self.byte_room
            )
            if size > self.room or too_many_bytes:
                size = None
        self._measured[key] = size
        return size

    def _exact(self, start: int, stop: int) -> bool:
        if self.rules.platform == "bluesky" and self.ascii:
            return True  # code points less CRLFs and bytes are what measure() used
        return fits(self.text[start:stop], self.rules, self.reserve)

    # -- choosing the breaks ---------------------------------------------------------------------
    def nodes(self, begin: int, end: int) -> list[_Break]:
        """The start, every break a part may end at, and the end. Spaces only inside a sentence
        that does not fit a part; cluster boundaries only inside a word that does not."""
        first: _Break = (begin, begin, _PARAGRAPH)
        last: _Break = (end, end, _PARAGRAPH)
        nodes = [first]
        for u, v in itertools.pairwise([first, *self.sentence_breaks(begin, end), last]):
            if self._fits_between(u, v):
                nodes.append(v)
                continue
            inner = [u, *self.word_breaks(u[1], v[0]), v]
            for x, y in itertools.pairwise(inner):
                if not self._fits_between(x, y):
                    nodes += self.cluster_breaks(x[1], y[0])
                nodes.append(y)
        return nodes

    def _fits_between(self, u: _Break, v: _Break) -> bool:
        start, stop = self.span(u, v)
        return stop <= start or self.measure(start, stop) is not None

    def size(self, nodes: list[_Break], u: int, v: int) -> int | None:
        """measure() of the part from node u to node v; the nodes' stripped edges are computed
        once per node (see index_nodes), as this runs for every pair the choice looks at."""
        start, stop = self._starts[u], self._stops[v]
        return self.measure(start, stop) if stop > start else None

    def index_nodes(self, nodes: list[_Break]) -> None:
        text = self.text
        self._starts = [self.strip_start(resume, self.n) for _, resume, _ in nodes]
        stops = []
        for cut, _, _ in nodes:
            at = cut
            while at > 0 and text[at - 1].isspace():
                at -= 1
            stops.append(self.ceil(at))
        self._stops = stops

    def reach(self, nodes: list[_Break]) -> list[int]:
        """For each node, the farthest node a part starting there may end at (by the estimate,
        which grows with the part)."""
        far = []
        v = 1
        for u in range(len(nodes) - 1):
            v = max(v, u + 1)
            while v + 1 < len(nodes) and self.size(nodes, u, v + 1) is not None:
                v += 1
            far.append(v)
        far.append(len(nodes) - 1)
        return far

    def choose(self, nodes: list[_Break], far: list[int]) -> list[int]:
        """Node indexes of the part ends: fewest parts, then the longest shortest part (with
        paragraph breaks preferred on ties), then every boundary balanced against its
        neighbours."""
        last = len(nodes) - 1
        never = len(nodes) + 1
        # Fewest parts from each node to the end.
        left = [never] * len(nodes)
        left[last] = 0
        for u in range(last - 1, -1, -1):
            for v in range(u + 1, far[u] + 1):
                if left[v] + 1 < left[u] and self.size(nodes, u, v) is not None:
                    left[u] = left[v] + 1
        parts = left[0]
        if parts == never:
            self.stuck(nodes)
        # Over the splits in that many parts: the longest shortest part, then the most
        # paragraph breaks. layers[k][v] = (shortest, paragraphs, previous end) of the best
        # split of the text up to node v into k parts.
        layers: list[dict[int, tuple[int, int, int]]] = [{0: (self.room + 1, 0, -1)}]
        for k in range(1, parts + 1):
            layer: dict[int, tuple[int, int, int]] = {}
            for u, (low, paras, _) in layers[-1].items():
                for v in range(u + 1, far[u] + 1):
                    if left[v] != parts - k:
                        continue
                    size = self.size(nodes, u, v)
                    if size is None:
                        continue
                    value = (min(low, size), paras + (nodes[v][2] == _PARAGRAPH), u)
                    if v not in layer or value > layer[v]:  # ties: fuller early parts
                        layer[v] = value
            layers.append(layer)
        ends = [last]
        for k in range(parts, 1, -1):
            ends.append(layers[k][ends[-1]][2])
        ends.reverse()
        return self.balance(nodes, ends)

    def balance(self, nodes: list[_Break], ends: list[int]) -> list[int]:
        """Move each boundary to the break that makes the shorter of its two parts longest,
        until no move helps (each move lengthens the sorted list of part sizes, so this ends)."""
        for _ in range(8 * len(ends)):
            moved = False
            for i in range(len(ends) - 1):
                a = ends[i - 1] if i else 0
                b = ends[i + 1]
                c = ends[i]
                here = self._pair(nodes, a, c, b)
                assert here is not None
                best, choice = here, c
                for x in range(a + 1, b):
                    value = self._pair(nodes, a, x, b)
                    if value is not None and (
                        value[0] > best[0] or (value[0] == best[0] and value[1] > best[1])
                    ):
                        best, choice = value, x
                if best[0] > here[0]:
                    ends[i] = choice
                    moved = True
            if not moved:
                break
        return ends

    def _pair(self, nodes: list[_Break], a: int, x: int, b: int) -> tuple[int, int] | None:
        first, second = self.size(nodes, a, x), self.size(nodes, x, b)
        if first is None or second is None:
            return None
        return min(first, second), nodes[x][2] == _PARAGRAPH

    def stuck(self, nodes: list[_Break]) -> NoReturn:
        """No split exists: name what cannot be cut and does not fit a part alone, right after
        the last break that parts from the start can reach."""
        reached = [False] * len(nodes)
        reached[0] = True
        for u in range(len(nodes)):
            if reached[u]:
                for v in range(u + 1, len(nodes)):
                    if self.size(nodes, u, v) is not None:
                        reached[v] = True
        u = max(i for i, done in enumerate(reached) if done)
        start = self.strip_start(nodes[u][1], self.n)
        nxt = nodes[u + 1][0] if u + 1 < len(nodes) else self.n
        if not self.urls_known:
            self._add_url_spans()
        k = bisect_right(self.span_starts, start) - 1
        if k >= 0 and self.span_ends[k] > start:
            self.too_long(self.span_starts[k], self.span_ends[k], "the URL")
        k = bisect_left(self.span_starts, start)
        if k < len(self.span_starts) and self.span_starts[k] < nxt:
            self.too_long(self.span_starts[k], self.span_ends[k], "the URL")
        one = self.offset(self.index(start) + 1)
        if self.measure(start, one) is None:
            self.too_long(start, one, "the grapheme cluster")
        self.too_long(start, nxt, "the text")

    def too_long(self, a: int, b: int, what: str) -> NoReturn:
        piece = self.text[a:b]
        shown = piece if len(piece) <= 60 else piece[:57] + "..."
        rules = self.rules
        if rules.platform == "mastodon":  # as counted in the story: a URL glued to a word is text
            need = self.weight(self.index(a), self.index(b))
        else:
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
        nodes = self.nodes(begin, end)
        self.index_nodes(nodes)
        while True:
            ends = self.choose(nodes, self.reach(nodes))
            spans = [(self._starts[u], self._stops[v]) for u, v in itertools.pairwise([0, *ends])]
            wrong = [s for s in spans if not self._exact(*s)]
            if not wrong:
                return spans
            # The estimate was optimistic (a URL or mention reads differently at the edge of a
            # part): that part does not fit; choose again.
            for s in wrong:
                self._measured[s] = None


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def split(rich: Rich, rules: Rules, *, reserve: int = 0, lang: str | None = None) -> list[Rich]:
    """Split ``rich`` into parts that each satisfy ``fits(part.text, rules, reserve)``: the
    fewest parts, balanced (see the module docstring). ``lang`` is the post's language, for
    sentence ends (English when None). Links and URLs are never cut (TextTooLong when one alone
    cannot fit). Parts are stripped; links are re-based. A text that fits is one part, found
    without the segmenter."""
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
    splitter = _Splitter(rich, rules, reserve, lang)
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
