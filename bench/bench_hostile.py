"""`check` of the shipped posts plus one hostile input (issue 13): time and peak memory.

    python bench/bench_hostile.py [--runs 3]

Each case is a fresh copy of config/ and posts/ with one hostile input added, checked cold
(no index) in a new process; the figure is the median wall time and the peak RSS of that
process (getrusage of the child), next to the floor: the same cold check of the shipped posts
alone, in the same run. The issue's bound is 10 s and 256 MB for every case.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUND_S, BOUND_MB = 10.0, 256
THREAD = ROOT / "config" / "templates" / "thread.j2"


def _append_template(site: Path, line: str) -> None:
    path = site / "config" / "templates" / "thread.j2"
    path.write_text(THREAD.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")


def _post(site: Path, name: str, body: str) -> Path:
    path = site / "posts" / name
    path.write_text(
        f"---\ndate: 1928-01-16\ntitle: Hostile\nsummary: S.\n---\n{body}", encoding="utf-8"
    )
    return path


def _links(site: Path, *names: str) -> None:
    for name in names:
        os.symlink(".", site / "posts" / name)


CASES: dict[str, Callable[[Path], None]] = {
    "nothing added (floor)": lambda site: None,
    "two links to the folder itself": lambda site: _links(site, "a", "b"),
    "a self-link": lambda site: os.symlink("loopy", site / "posts" / "loopy"),
    "a link out of the folder": lambda site: os.symlink("/", site / "posts" / "root"),
    "a FIFO named .md": lambda site: os.mkfifo(site / "posts" / "fifo.md"),
    "a 50 MB post": lambda site: (site / "posts" / "big.md").write_bytes(b"x" * 50_000_000),
    "a 250 KB story": lambda site: _post(site, "long.md", "word " * 50_000) and None,
    "control characters in a name": lambda site: (
        site / "posts" / "evil\x1b]0;x\x07\n.md"
    ).write_text("---\n", encoding="utf-8"),
    "an image outside the folder": lambda site: _post(site, "img.md", "").write_text(
        "---\ndate: 1928-01-16\ntitle: T\nsummary: S.\nimage: /etc/passwd\nalt: A\n---\n",
        encoding="utf-8",
    ),
    "template: nested range(100000) loops": lambda site: _append_template(
        site, "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    ),
    "template: 'x' * 10**10": lambda site: _append_template(site, "{{ 'x' * 10**10 }}"),
    "template: includes itself": lambda site: _append_template(site, "{% include 'thread.j2' %}"),
    "template: a recursive macro": lambda site: _append_template(
        site, "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"
    ),
    "template: doubling a string": lambda site: _append_template(
        site,
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    ),
}


def measure(site: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and the exit code of one cold `check`."""
    shutil.rmtree(site / "state", ignore_errors=True)
    # A wrapper process per run, so RUSAGE_CHILDREN is that one check's peak alone.
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run([sys.executable, '-m', 'bot', 'check', '--config',"
        " 'config/thisday.toml'], capture_output=True, timeout=120)\n"
        "print(time.perf_counter() - t,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, p.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=site,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    seconds, mb, rc = done.stdout.split()
    return float(seconds), float(mb), int(rc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in CASES.items():
            site = Path(tmp) / f"case{len(rows)}"
            shutil.copytree(ROOT / "config", site / "config", symlinks=True)
            shutil.copytree(ROOT / "posts", site / "posts", symlinks=True)
            build(site)
            runs = [measure(site) for _ in range(args.runs)]
            seconds = statistics.median(r[0] for r in runs)
            mb = max(r[1] for r in runs)
            rows.append((name, seconds, mb, runs[0][2]))
    floor_s, floor_mb = rows[0][1], rows[0][2]
    print(f"{'case':40} {'wall s':>7} {'x floor':>8} {'peak MB':>8} {'x floor':>8} exit")
    worst = True
    for name, seconds, mb, rc in rows:
        ok = seconds <= BOUND_S and mb <= BOUND_MB
        worst &= ok
        print(
            f"{name:40} {seconds:7.2f} {seconds / floor_s:8.2f} {mb:8.0f} {mb / floor_mb:8.2f}"
            f" {rc}{'' if ok else '  OVER THE BOUND'}"
        )
    print(f"all within {BOUND_S:g} s and {BOUND_MB} MB: {'yes' if worst else 'NO'}")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {os.uname().machine}")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    time.sleep(0)
    main()
