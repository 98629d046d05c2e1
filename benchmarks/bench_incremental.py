"""Incremental runs: one frame of a finished series changes; how long until results are current?

    .venv/bin/python benchmarks/bench_incremental.py                # 200 frames of ~300 atoms
    .venv/bin/python benchmarks/bench_incremental.py --frames 50
    .venv/bin/python benchmarks/bench_incremental.py --frame-jobs one   # one job per frame

Steps, in a fresh directory (frames as in ``bench_series.py``):

1. full run ``snakemake --cores 2`` (every target, figures included);
2. ``snakemake -n`` with nothing changed (the cost of building the DAG and checking files);
3. the content of one frame (the middle one) is rewritten: the same atoms moved by 0.01 A noise;
4. ``snakemake -n``: wall time and the number of jobs it plans (that frame's jobs, the series'
   aggregates, plot_series and the target rule ``all``);
5. ``snakemake --cores 2``: wall time of the rerun; ``results/summary.csv`` changes in that
   frame's row only.

Targets (issues 7 and 23): step 4 <= 5 s, step 5 <= 10 s.  Steps 2, 4, 5 are repeated
``--repeat`` times (the frame is rewritten each time with another noise seed); medians are
printed.  For each rerun the script prints its jobs as a timeline (start and end in seconds
after the command started, from the ``benchmark:`` files: a job's end is its file's time, its
start that minus its wall time), so the critical path can be read off: Snakemake's own start
(building the DAG) before the first job, the frame's chain of jobs, the series jobs, Snakemake's
own finish after the last job.  At the end: the median wall time of each job over the rounds.

``--frame-jobs {auto,stages,one}`` passes ``--config frame_jobs=...`` (one job per stage and
frame, or one job per frame: ``analyse_frame``; ``auto``: the configuration's default).

``--ab NAMES`` alternates the rounds: odd rounds with ``NANOTRAJ_SMKSPEED_OFF=NAMES`` (Snakemake
without those patches of :mod:`nanotraj.smkspeed`, e.g. ``lean_gc`` or ``all``), even rounds
with every patch; the medians of both are printed side by side (use an even ``--repeat``).

``--baseline CHECKOUT`` alternates the rounds between the workflow and library of another
checkout (odd rounds: its ``Snakefile``, its ``src`` first on ``PYTHONPATH``; e.g. ``git worktree
add /tmp/base <commit>``) and this one (even rounds), in the same working directory: the
medians of both are printed side by side, as with ``--ab`` (use an even ``--repeat``; both
must keep the same frames' files, as two commits of one release do).

``--set KEY=VALUE`` (repeatable) adds a configuration value, e.g. ``--set chunk_size=0`` (a
200-frame series with one job per frame instead of the default 4 chunks of 50 frames).

``--keep`` keeps the working directory; ``--reuse DIR`` measures in such a kept directory
without the full run (e.g. after a change of the code: the first rerun then also reruns what the
change touches, so use ``--repeat 2`` or more and read the later rounds).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import job_times, median, run_measured, snakemake_cmd, write_series  # noqa: E402


def planned_jobs(text: str) -> int:
    m = re.search(r"^total\s+(\d+)", text, flags=re.M)
    return int(m.group(1)) if m else 0


def perturb(path: Path, seed: int) -> None:
    import numpy as np

    from nanotraj.io import read_frame, write_values

    fr = read_frame(path)
    rng = np.random.default_rng(1000 + seed)
    write_values(path, fr.coords + rng.normal(scale=0.01, size=fr.coords.shape),
                 np.zeros(len(fr.coords)), element="Pt")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--atoms", type=int, default=300)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--frame-jobs", choices=("auto", "stages", "one"), default="auto",
                    help="config frame_jobs: one job per stage and frame or per frame")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="one more --config value for every Snakemake command (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument("--reuse", type=Path, default=None,
                    help="a directory kept by --keep: measure there, without the full run")
    ap.add_argument("--ab", metavar="NAMES", default=None,
                    help="alternate rounds without the nanotraj.smkspeed patches NAMES (comma "
                         "separated, or all) and with every patch; print both medians")
    ap.add_argument("--baseline", type=Path, default=None, metavar="CHECKOUT",
                    help="alternate rounds with the workflow and library of another checkout "
                         "and with this one; print both medians")
    args = ap.parse_args(argv)
    if args.ab and args.baseline:
        ap.error("--ab and --baseline: one at a time")

    reuse = args.reuse is not None
    top = args.reuse.resolve() if reuse else Path(tempfile.mkdtemp(prefix="nanotraj-incr-"))
    if args.keep or reuse:
        print(f"working directory (kept): {top}", flush=True)
    try:
        work = top / "work"
        if reuse:
            sheet = top / "frames" / "frames.tsv"
            base = snakemake_cmd(work, "--config", f"frames={sheet}",
                                 f"frame_jobs={args.frame_jobs}", *args.set, cores=args.cores)
            full = float("nan")
            print(f"{len(sheet.read_text().splitlines()) - 1} frames, reusing {top}",
                  flush=True)
        else:
            sheet = write_series(top / "frames", args.frames, target_atoms=args.atoms)
            work.mkdir()
            base = snakemake_cmd(work, "--config", f"frames={sheet}",
                                 f"frame_jobs={args.frame_jobs}", *args.set, cores=args.cores)
            full, peak, _ = run_measured([*base, "--quiet"])
            n_jobs = sum(1 for _ in (work / "results" / "benchmarks").rglob("*.tsv"))
            print(f"{args.frames} frames, frame_jobs {args.frame_jobs}: full run {full:.1f} s "
                  f"({n_jobs} jobs, peak {peak:.0f} MB)", flush=True)
        frames = sorted((top / "frames").glob("*.pdb"))
        target = frames[len(frames) // 2]
        idle, dry, rerun, planned, ran, per_job = [], [], [], [], [], {}
        variants = {}  # --ab: variant -> {"idle", "dry", "rerun"} lists
        main_base = base
        for k in range(args.repeat):
            env, variant, base = None, "patched", main_base
            if args.baseline:
                variant = "this checkout"
                if k % 2 == 0:
                    other = args.baseline.resolve()
                    variant = f"baseline {other}"
                    env = dict(os.environ)
                    env["PYTHONPATH"] = os.pathsep.join(
                        [str(other / "src"), *filter(None, [env.get("PYTHONPATH")])])
                    i = base.index("-s")
                    base = [*base[:i + 1], str(other / "Snakefile"), *base[i + 2:]]
                print(f"round {k + 1}: {variant}", flush=True)
            if args.ab:
                env = dict(os.environ)
                env.pop("NANOTRAJ_SMKSPEED_OFF", None)
                if k % 2 == 0:
                    variant = f"without {args.ab}"
                    env["NANOTRAJ_SMKSPEED_OFF"] = args.ab
                print(f"round {k + 1}: {variant}", flush=True)
            w, _, text = run_measured([*base, "-n"], env=env)
            idle.append(w)
            if planned_jobs(text):
                print(f"warning: a dry run after the full run plans {planned_jobs(text)} jobs")
            before = (work / "results" / "summary.csv").read_text().splitlines()
            perturb(target, k)
            w, _, text = run_measured([*base, "-n"], env=env)
            dry.append(w)
            planned.append(planned_jobs(text))
            stamp = {p: p.stat().st_mtime_ns for p in (work / "results").rglob("*.csv")}
            bench_dir = work / "results" / "benchmarks"
            bench_stamp = {p: p.stat().st_mtime_ns for p in bench_dir.rglob("*.tsv")}
            t0 = time.time()
            w, _, _ = run_measured([*base, "--quiet"], env=env)
            rerun.append(w)
            for key, values in (("idle", idle), ("dry", dry), ("rerun", rerun)):
                variants.setdefault(variant, {}).setdefault(key, []).append(values[-1])
            ran.append(sum(1 for p, t in stamp.items() if p.stat().st_mtime_ns != t))
            after = (work / "results" / "summary.csv").read_text().splitlines()
            changed = sum(1 for a, b in zip(before, after, strict=True) if a != b)
            for name, s in job_times(bench_dir, bench_stamp, t0, w).items():
                per_job.setdefault(name, []).append(s)
                if args.ab or args.baseline:
                    variants[variant].setdefault("jobs", {}).setdefault(name, []).append(s)
            print(f"round {k + 1}: dry run (nothing to do) {idle[-1]:.2f} s; after changing "
                  f"{target.name}: dry run {dry[-1]:.2f} s ({planned[-1]} jobs planned), rerun "
                  f"{rerun[-1]:.2f} s ({ran[-1]} CSV files rewritten, {changed} row(s) of "
                  f"summary.csv changed)", flush=True)
        d, r = median(dry), median(rerun)
        print(f"\n{'step':44s}{'median s':>10s}{'target':>8s}")
        print(f"{'full run':44s}{full:10.2f}")
        print(f"{'snakemake -n, nothing changed':44s}{median(idle):10.2f}")
        print(f"{'snakemake -n, one frame changed':44s}{d:10.2f}{'<= 5':>8s}  "
              f"{'met' if d <= 5 else 'NOT met'}")
        print(f"{'rerun, one frame changed':44s}{r:10.2f}{'<= 10':>8s}  "
              f"{'met' if r <= 10 else 'NOT met'}")
        print(f"jobs planned after the change: {median(planned):.0f}")
        if args.ab or args.baseline:
            names = list(variants)
            print(f"\nside by side (alternating rounds), median s: {' | '.join(names)}")
            for key, label in (("idle", "snakemake -n, nothing changed"),
                               ("dry", "snakemake -n, one frame changed"),
                               ("rerun", "rerun, one frame changed")):
                meds = [median(variants[v][key]) for v in names]
                ratio = f"  ratio {meds[-1] / meds[0]:.2f}" if len(meds) == 2 else ""
                print(f"{label:44s}" + "".join(f"{m:10.2f}" for m in meds) + ratio)
            print("median wall s per job, side by side:")
            jobs = sorted({n for v in names for n in variants[v].get("jobs", {})},
                          key=lambda n: -median(per_job[n]))
            for name in jobs:
                meds = [variants[v].get("jobs", {}).get(name) for v in names]
                print(f"  {name:42s}" + "".join(f"{median(m):10.2f}" if m else f"{'-':>10s}"
                                               for m in meds))
        print(f"\nmedian wall s per job of the reruns ({args.repeat} rounds), slowest first:")
        for name, s in sorted(per_job.items(), key=lambda kv: -median(kv[1])):
            print(f"  {median(s):8.2f}  {name}" + (f"  ({len(s)} of the rounds)"
                                                  if len(s) != args.repeat else ""))
    finally:
        if not (args.keep or reuse):
            shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
