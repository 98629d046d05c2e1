"""Long series (issue 22, part 5): planning time and memory against the number of frames, with
and without chunks, and a chunked run against a single-process loop writing the same outputs.

    .venv/bin/python benchmarks/bench_long_series.py          # plan 100..10,000; run 2,000 frames
    .venv/bin/python benchmarks/bench_long_series.py --plan 100 1000 --per-frame-max 1000 \\
        --run-frames 500 --repeat 1

Input: one extended-XYZ trajectory of Pt frames of ~300 atoms (``_common.write_trajectory_series``:
an etched truncated octahedron losing an atom every 20 frames, noise 0.04 -> 0.10 A), a sheet of
one row per frame (``frame_index``).

* **planning**: ``snakemake -n`` in a fresh directory on the first N frames, ``chunk_size: auto``
  (per-stage jobs up to 50 frames, chunks above) and ``chunk_size: 0`` (one job per stage and
  frame; measured up to ``--per-frame-max`` frames: ~40 ms per frame and ~0.5 MB per frame).
  Wall (median of ``--repeat``) and peak RSS of the Snakemake process (``ru_maxrss``).
  Target: 10,000 frames plan in <= 30 s.
* **run**: ``snakemake --cores 2`` of ``--run-frames`` frames (chunked, ``auto``) against one
  Python process that writes the same outputs: :func:`nanotraj.stages.chunk.run_chunk` over
  every frame (the stage functions, frame after frame), then the series' and run's aggregates
  and figures, the viewer and the trajectory (the same library calls as the rules, no
  Snakemake). The summaries, tracking, domain and atom-id tables and every frame's atoms.csv
  must be byte-identical (checked). Target: workflow <= 1.5 x loop. Then the per-rule job table
  of the workflow run (``benchmark:`` files).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    PYTHON,
    job_table,
    loop_series,
    median,
    run_measured,
    snakemake_cmd,
    write_trajectory_series,
)


def child_loop(sheet: str, results: str) -> None:
    """The plain loop (runs in its own process): every output the chunked workflow writes."""
    loop_series(sheet, results)


def plan(folder: Path, sheet: Path, mode: str) -> tuple[float, float, int]:
    """A dry run in a fresh directory: (wall s, peak RSS MB, jobs planned)."""
    work = Path(tempfile.mkdtemp(dir=folder, prefix=f"plan_{mode}_"))
    cmd = snakemake_cmd(work, "-n", "--config", f"frames={sheet}", f"chunk_size={mode}")
    wall, rss, out = run_measured(cmd)
    jobs = 0
    for line in out.splitlines():
        if line.startswith("total"):
            jobs = int(line.split()[1])
            break
    shutil.rmtree(work, ignore_errors=True)
    return wall, rss, jobs


def compare(a: Path, b: Path, series: str) -> list[str]:
    """Files of results ``a`` and ``b`` that differ (the tables; every frame's atoms.csv)."""
    names = [Path("summary.csv"), Path("rejected.csv")]
    names += [Path(series) / n for n in ("summary.csv", "tracking.csv", "domains.csv",
                                         "domain_events.csv", "atom_ids.csv", "survival.csv",
                                         "lifetimes.csv", "rmsd_matrix.csv")]
    names += [p.relative_to(a) for p in sorted((a / series).glob("*/atoms.csv"))]
    names += [p.relative_to(a) for p in sorted((a / series).glob("*/fate.csv"))]
    return [str(n) for n in names if not filecmp.cmp(a / n, b / n, shallow=False)]


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child-loop":
        child_loop(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", type=int, nargs="*", default=[100, 300, 1000, 3000, 10000])
    ap.add_argument("--per-frame-max", type=int, default=3000,
                    help="plan without chunks up to this many frames (~40 ms per frame)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of each dry run (median)")
    ap.add_argument("--run-frames", type=int, default=2000, help="0: no run comparison")
    ap.add_argument("--run-chunk-size", default="auto", help="chunk_size of the run")
    ap.add_argument("--atoms", type=int, default=300)
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="nanotraj_long_"))
    try:
        n_max = max([*args.plan, args.run_frames])
        data = folder / "data"
        write_trajectory_series(data, n_max, target_atoms=args.atoms)
        lines = (data / "frames.tsv").read_text().splitlines()
        print(f"trajectory: {n_max} frames of ~{args.atoms} atoms, "
              f"{(data / 'long.extxyz').stat().st_size / 1e6:.0f} MB of extended XYZ")
        print(f"\n{'frames':>7s} {'mode':>10s} {'jobs':>7s} {'plan s':>8s} {'peak MB':>8s}")
        for n in args.plan:
            sheet = folder / f"frames_{n}.tsv"
            sheet.write_text("\n".join(lines[:n + 1]) + "\n")
            for mode in ("auto", "0"):
                if mode == "0" and n > args.per_frame_max:
                    print(f"{n:7d} {'per-frame':>10s} {'-':>7s}   (not run: --per-frame-max)")
                    continue
                walls, rss, jobs = [], [], 0
                repeat = args.repeat if mode == "auto" or n <= 1000 else 1
                for _ in range(repeat):
                    w, r, jobs = plan(folder, sheet, mode)
                    walls.append(w)
                    rss.append(r)
                label = "auto" if mode == "auto" else "per-frame"
                print(f"{n:7d} {label:>10s} {jobs:7d} {median(walls):8.2f} {max(rss):8.0f}",
                      flush=True)
        if args.run_frames:
            n = args.run_frames
            sheet = folder / f"frames_run_{n}.tsv"
            sheet.write_text("\n".join(lines[:n + 1]) + "\n")
            work = folder / "workflow"
            work.mkdir()
            wf, wf_rss, _ = run_measured(snakemake_cmd(work, "--config", f"frames={sheet}",
                                                       f"chunk_size={args.run_chunk_size}"))
            loop_results = folder / "loop" / "results"
            lp, lp_rss, _ = run_measured([PYTHON, __file__, "--child-loop", str(sheet),
                                          str(loop_results)])
            diff = compare(work / "results", loop_results, "long")
            met = "met" if wf / lp <= 1.5 else "NOT met"
            print(f"\nrun of {n} frames (chunk_size {args.run_chunk_size}, --cores 2): "
                  f"workflow {wf:.1f} s (peak {wf_rss:.0f} MB), loop {lp:.1f} s (peak "
                  f"{lp_rss:.0f} MB): ratio {wf / lp:.2f} (target <= 1.5: {met})")
            print("outputs identical" if not diff else f"OUTPUTS DIFFER: {diff[:10]}")
            print("\nper-rule jobs of the workflow run:")
            print("\n".join(job_table(work / "results")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
