"""`check`, `preview` and `--help` on a synthetic corpus of 50,000 post files.

    python bench/bench_content.py [--count 50000] [--runs 5] [--keep DIR]

Each figure is the wall time of the whole command (a new process), the median of --runs:
  check cold     no index yet: every file parsed and every event rendered for both accounts
  check warm     nothing changed since the last check
  preview        one date, nothing changed
  --help
It also checks that check, preview and --help never import the network SDKs.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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


def median(
    args: list[str], cwd: Path, runs: int, before: Callable[[], None] | None = None
) -> list[float]:
    times = []
    for _ in range(runs):
        if before:
            before()
        times.append(timed(args, cwd))
    return times


def imported_sdks(args: list[str], cwd: Path) -> list[str]:
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['thisday', *{args!r}]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True)
    return ast.literal_eval(done.stderr.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the corpus here and keep it")
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
    config = work / "thisday.toml"
    config.write_text(
        (ROOT / "config" / "thisday.toml")
        .read_text()
        .replace('posts = "../posts"', 'posts = "posts"')
        .replace('state = "../state"', 'state = "state"')
        .replace('templates = "templates"', f'templates = "{ROOT / "config" / "templates"}"')
    )
    thisday = [sys.executable, "-m", "bot"]
    cfg = ["--config", str(config)]

    def cold() -> None:
        shutil.rmtree(work / "state", ignore_errors=True)

    results = {
        "check cold": median([*thisday, "check", *cfg], ROOT, max(1, args.runs // 2), before=cold),
    }
    timed([*thisday, "check", *cfg], ROOT)  # the index is built
    results["check warm"] = median([*thisday, "check", *cfg], ROOT, args.runs)
    timed([*thisday, "preview", "--date", "2027-01-16", *cfg], ROOT)
    results["preview (one date)"] = median(
        [*thisday, "preview", "--date", "2027-01-16", *cfg], ROOT, args.runs
    )
    results["--help"] = median([*thisday, "--help"], ROOT, args.runs)

    print(f"{args.count} post files, {args.runs} runs each, whole process wall time")
    for name, times in results.items():
        print(f"  {name:20s} median {statistics.median(times):6.2f} s   min {min(times):6.2f} s")
    for command in (["--help"], ["check", *cfg], ["preview", "--date", "2027-01-16", *cfg]):
        print(f"  SDKs imported by {command[0]}: {imported_sdks(command, ROOT) or 'none'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
