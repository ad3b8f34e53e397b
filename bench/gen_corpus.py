"""Write a synthetic corpus of post files for benchmarks: realistic sizes and shapes.

python bench/gen_corpus.py DIR [--count 50000] [--seed 1]
"""

from __future__ import annotations

import argparse
import calendar
import random
from pathlib import Path

WORDS = (  # noqa: SIM905 - a word list reads better as a sentence of words
    "the of and a to in is was he for it with as his on be at by had are but from or have an "
    "they which one you were her all she there would their we him been has when who will more "
    "no if out so said what up its about into than them can only other new some could time "
    "these two may then do first any my now such like our over man me even most made after "
    "also did many before must through back years where much your way well down should because "
    "each just those people how too little state good very make world still own see men work "
    "long get here between both life being under never day same another know while last might "
    "us great old year off come since against go came right used take three treaty empire river "
    "battle parliament harbour expedition observatory railway cathedral republic revolution"
).split()
FLAVOURS = ["", "", "", " — Zürich", " (東京)", " café", " 🚀", " São Paulo", " Kraków"]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(FLAVOURS) + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 4)))


def post(n: int, rng: random.Random) -> tuple[str, str]:
    month = rng.randint(1, 12)
    day = rng.randint(1, calendar.monthrange(2024, month)[1])
    year = rng.randint(1000, 2020)
    if month == 2 and day == 29:
        year = rng.choice([1904, 1956, 2000])
    slug = f"event-{n:05d}"
    tags = ", ".join(
        rng.sample(["history", "science", "art", "sport", "politics", "Europe", "Asia"], 2)
    )
    body = "\n\n".join(paragraph(rng) for _ in range(rng.randint(2, 4)))
    text = (
        "---\n"
        f"date: {year:04d}-{month:02d}-{day:02d}\n"
        f"title: Synthetic event number {n} {rng.choice(WORDS)}\n"
        f"summary: {sentence(rng)}\n"
        f"tags: [{tags}]\n"
        f"link: https://en.wikipedia.org/wiki/Event_{n}\n"
        f"id: {slug}\n"
        "---\n"
        f"{body}\n"
    )
    return f"{month:02d}/{day:02d}/{year:04d}-{slug}.md", text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for n in range(args.count):
        rel, text = post(n, rng)
        path = args.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {args.count} post files under {args.folder}")


if __name__ == "__main__":
    main()
