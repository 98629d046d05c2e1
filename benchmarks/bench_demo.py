"""Per-rule job wall time on the shipped demo, from Snakemake's ``benchmark:`` files.

    .venv/bin/python benchmarks/bench_demo.py [--cores 2] [--repeats 3]

Runs the whole workflow on the demo from a fresh working directory ``--repeats`` times and prints
the total wall time of each run (median) and, per rule, the median ``s`` (wall seconds) over all
its jobs of all runs, as recorded by the ``benchmark:`` directive of every rule.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_once(cores: int) -> tuple[float, dict[str, list[float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
               "--directory", tmp, "--cores", str(cores), "--quiet", "all"]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        per_rule: dict[str, list[float]] = defaultdict(list)
        for tsv in Path(tmp, "results", "benchmarks").rglob("*.tsv"):
            with open(tsv, newline="") as fh:
                row = next(csv.DictReader(fh, delimiter="\t"))
            per_rule[tsv.stem].append(float(row["s"]))
        return wall, per_rule


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    walls, jobs = [], defaultdict(list)
    for _ in range(args.repeats):
        wall, per_rule = run_once(args.cores)
        walls.append(wall)
        for rule, values in per_rule.items():
            jobs[rule] += values
    n_jobs = sum(len(v) for v in jobs.values()) // args.repeats
    print(f"demo: {n_jobs} jobs, --cores {args.cores}, {args.repeats} runs")
    print(f"total wall time (snakemake start to end): median {statistics.median(walls):.2f} s "
          f"(runs: {', '.join(f'{w:.2f}' for w in walls)})")
    print(f"{'rule':32s} {'jobs':>5s} {'median s':>9s} {'max s':>8s}")
    for rule in sorted(jobs, key=lambda r: -statistics.median(jobs[r])):
        v = jobs[rule]
        print(f"{rule:32s} {len(v) // args.repeats:5d} {statistics.median(v):9.4f} {max(v):8.4f}")


if __name__ == "__main__":
    main()
