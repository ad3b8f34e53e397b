"""Micro-benchmark for bot.text: µs per operation on a ~1,000-character story.

Run: python bench/bench_text.py [--number N]
`thisday check` does this for ~50,000 events x 2 accounts, so every µs here is ~0.1 s there.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.text import (
    BLUESKY_DEFAULT,
    MASTODON_DEFAULT,
    Rich,
    Rules,
    facets,
    length,
    prepare,
    split,
)

ASCII_PARAGRAPH = (
    "On this day in 1648, the Peace of Westphalia was signed in Osnabrueck and Muenster, "
    "ending the Thirty Years' War. The treaties involved the Holy Roman Emperor, France, "
    "Sweden and many princes of the Empire. It was a turning point! Historians still debate "
    "its meaning for state sovereignty and the balance of power in Europe."
)
ASCII_STORY = "\n\n".join([ASCII_PARAGRAPH] * 3)[:1000].rsplit(" ", 1)[0] + " #history"
MIXED_STORY = (
    "Am 24. Oktober 1648 wurde der Westf\u00e4lische Friede in M\u00fcnster unterzeichnet "
    "\u2014 \u201cPax optima rerum\u201d. \U0001f54a\ufe0f \U0001f1e9\U0001f1ea "
    "\U0001f1eb\U0001f1f7 \U0001f1f8\U0001f1ea\n\n"
    "\u30f4\u30a7\u30b9\u30c8\u30d5\u30a1\u30ea\u30a2\u6761\u7d04\u306f\u4e09\u5341\u5e74"
    "\u6226\u4e89\u3092\u7d42\u7d50\u3055\u305b\u305f\u3002\u305d\u306e\u610f\u7fa9\u306f"
    "\u5927\u304d\u3044\u3002 \u0935\u0947\u0938\u094d\u091f\u092b\u0947\u0932\u093f\u092f"
    "\u093e \u0915\u0940 \u0936\u093e\u0902\u0924\u093f\u0964 \u0645\u0639\u0627\u0647\u062f"
    "\u0629 \u0648\u0633\u062a\u0641\u0627\u0644\u064a\u0627. \U0001f468\u200d\U0001f469"
    "\u200d\U0001f467 \U0001f44b\U0001f3fd "
    "https://de.wikipedia.org/wiki/Westf%C3%A4lischer_Friede #Geschichte\n\n"
) * 3


def measure(fn: Callable[[], object], number: int) -> float:
    fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def _all_facets(parts: list[Rich]) -> list[list[dict]]:
    return [facets(p) for p in parts]


def pipeline(story: str, rules: Rules) -> Callable[[], object]:
    def run() -> object:
        rich = prepare(story, rules)
        length(rich.text, rules)
        parts = split(rich, rules, reserve=6)
        if rules.platform == "bluesky":
            for part in parts:
                facets(part)
        return parts

    return run


def one_part_and_segmenter(number: int) -> None:
    """A story that fits one part must not pay for the segmenter; what the segmenter costs."""
    from bot.text.sentences import sentence_ends

    short = ASCII_PARAGRAPH[:280]
    rich = prepare(short, BLUESKY_DEFAULT)
    fits_one = measure(partial(split, rich, BLUESKY_DEFAULT, reserve=6), number)
    segment = measure(partial(sentence_ends.__wrapped__, ASCII_STORY, "en"), number)
    print(
        f"one-part story ({len(short)} chars) split {fits_one:5.1f} us (no segmenter); "
        f"sentencex on the {len(ASCII_STORY)}-char ascii story {segment:5.1f} us "
        "(once per story: cached across the renderer's reserve retries)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=2000)
    number = parser.parse_args().number
    for name, story in (("ascii", ASCII_STORY), ("mixed", MIXED_STORY)):
        for rules in (BLUESKY_DEFAULT, MASTODON_DEFAULT):
            rich = prepare(story, rules)
            parts = split(rich, rules, reserve=6)
            rows = {
                "count": measure(partial(length, story, rules), number),
                "prepare": measure(partial(prepare, story, rules), number),
                "split": measure(partial(split, rich, rules, reserve=6), number),
            }
            if rules.platform == "bluesky":
                rows["facets"] = measure(partial(_all_facets, parts), number)
            rows["all"] = measure(pipeline(story, rules), number)
            cells = "  ".join(f"{k} {v:7.1f}" for k, v in rows.items())
            print(
                f"{name:5s} {rules.platform:8s} {len(story):5d} chars -> {len(parts)} parts  "
                f"{cells}  (us/op)"
            )
    one_part_and_segmenter(number)
    print("target: ascii bluesky 'all' (count + split + facets of ~1,000 chars) <= 30 us")


if __name__ == "__main__":
    main()
