"""`check`, `preview` and `--help` on a synthetic corpus of 50,000 post files.

    python bench/bench_content.py [--count 50000] [--runs 5] [--keep DIR] [--against CHECKOUT]

Each figure is the wall time of the whole command (a new process), the median of --runs:
  check cold     no index yet: every file parsed and every event rendered for both accounts
  check warm     nothing changed since the last check
  preview        one date, nothing changed
  --help
It also checks that check, preview and --help never import the network SDKs. With --against,
another checkout (an older release, say) is timed on the same corpus, each of its runs right
after the same run of this one, so that both see the same machine.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("atproto", "atproto_client", "mastodon", "httpx", "requests", "apscheduler")


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def imported_sdks(args: list[str], cwd: Path) -> list[str]:
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['thisday', *{args!r}]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True)
    return ast.literal_eval(done.stderr.strip().splitlines()[-1])


@dataclass
class Tree:
    """A copy of thisday to time: its interpreter, folder and config for the corpus."""

    name: str
    python: str
    folder: Path
    config: Path
    state: Path

    def command(self, *args: str) -> list[str]:
        return [self.python, "-m", "bot", *args]


def site_config(tree_folder: Path, work: Path, name: str) -> tuple[Path, Path]:
    """A config for the corpus in `work`, from the tree's own shipped config."""
    state = work / ("state" if name == "this" else f"state-{name}")
    config = work / ("thisday.toml" if name == "this" else f"{name}.toml")
    config.write_text(
        (tree_folder / "config" / "thisday.toml")
        .read_text()
        .replace('posts = "../posts"', 'posts = "posts"')
        .replace('state = "../state"', f'state = "{state.name}"')
        .replace('templates = "templates"', f'templates = "{tree_folder / "config" / "templates"}"')
    )
    return config, state


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the corpus here and keep it")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="CHECKOUT",
        help="also time another checkout of thisday (with its own .venv), each run of it"
        " right after the same run of this one, and print the ratios",
    )
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="thisday-bench-"))
    posts = work / "posts"
    if not posts.exists():
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "gen_corpus.py"),
                str(posts),
                "--count",
                str(args.count),
            ],
            check=True,
            capture_output=True,
        )
        print(f"generated {args.count} post files in {time.perf_counter() - start:.1f} s")
    trees = [Tree("this", sys.executable, ROOT, *site_config(ROOT, work, "this"))]
    if args.against:
        other = args.against.resolve()
        trees.append(
            Tree("against", str(other / ".venv" / "bin" / "python"), other,
                 *site_config(other, work, "against"))
        )  # fmt: skip

    def each(
        args_of: Callable[[Tree], list[str]], runs: int, cold: bool = False
    ) -> dict[str, list[float]]:
        """`runs` runs of a command in every tree, the trees taking turns."""
        times: dict[str, list[float]] = {tree.name: [] for tree in trees}
        for tree in trees:
            timed(args_of(tree), tree.folder)  # the first run writes the bytecode caches
        for _ in range(runs):
            for tree in trees:
                if cold:
                    shutil.rmtree(tree.state, ignore_errors=True)
                times[tree.name].append(timed(args_of(tree), tree.folder))
        return times

    def cfg(tree: Tree) -> list[str]:
        return ["--config", str(tree.config)]

    day = ["--date", "2027-01-16"]
    results = {
        "check cold": each(lambda t: t.command("check", *cfg(t)), max(1, args.runs // 2), True)
    }
    results["check warm"] = each(lambda t: t.command("check", *cfg(t)), args.runs)
    results["preview (one date)"] = each(lambda t: t.command("preview", *day, *cfg(t)), args.runs)
    results["--help"] = each(lambda t: t.command("--help"), args.runs)

    cache = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(
        f"{args.count} post files, {args.runs} runs each, whole process wall time;"
        f" bytecode cache {cache} (PYTHONDONTWRITEBYTECODE)"
    )
    for name, times in results.items():
        this = times["this"]
        line = f"  {name:20s} median {statistics.median(this):6.2f} s   min {min(this):6.2f} s"
        if args.against:
            against = times["against"]
            line += (
                f"   against: median {statistics.median(against):6.2f} s"
                f"   ratio {statistics.median(this) / statistics.median(against):.2f}"
            )
        print(line)
    this = trees[0]
    for command in (["--help"], ["check", *cfg(this)], ["preview", *day, *cfg(this)]):
        print(f"  SDKs imported by {command[0]}: {imported_sdks(command, ROOT) or 'none'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
