"""A series of small frames: the full workflow against one Python loop doing the same work.

    .venv/bin/python benchmarks/bench_series.py                 # 200 frames of ~300 atoms
    .venv/bin/python benchmarks/bench_series.py --frames 50 --repeat 1

Frames: a Pt truncated octahedron etched to ~300 atoms, low-coordinated atoms first, with noise
growing over the series (``_common.write_series``, like the shipped demo), as PDB files.

* workflow: ``snakemake --cores 2`` (default profile: ``--force-use-threads``) in a fresh
  directory, every target of ``rule all`` (per frame: parse, rdf, bonds, boo, coordination,
  neighbour_distance, structure, surface, ptm, lattice, domains, table, pdbs, plot_frame,
  track_pair, link_domains; per series: aggregates, figures, atom ids, viewer, trajectory; the
  run's summary).
* loop: one fresh Python process that runs every per-frame stage of every frame in time order
  with the same stage calls as the rules (``nanotraj.stages.chunk.run_chunk``, with the frames'
  figures and per-value PDB/mmCIF files), then the series' tables, figures, viewer and
  trajectory and the run's summary and list of rejected frames: the same output files, no
  Snakemake (``_common.loop_series``).

Both walls include the Python start-up and imports.  The two ``results/summary.csv`` must be
byte-identical (checked).  Prints both walls (median of ``--repeat`` rounds, workflow and loop
alternating) and the ratio; target (issue 7): workflow <= 2.0 x loop.  Then the per-rule job
table of the last workflow run (``benchmark:`` files: median/max wall per job; "lib s": the
time inside the library from the job's log; "overhead s" = median - lib s).
"""

from __future__ import annotations

import argparse
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
    write_series,
)


def child_loop(sheet: str, results: str) -> None:
    """The plain loop (runs in its own process): every output the workflow writes, the frames'
    figures and per-value PDB/mmCIF files included (``_common.loop_series``)."""
    loop_series(sheet, results, frame_files=True)


def run_workflow(sheet: Path, cores: int):
    work = Path(tempfile.mkdtemp(prefix="nanotraj-wf-"))
    wall, peak, _ = run_measured(snakemake_cmd(work, "--config", f"frames={sheet}", "--quiet",
                                               cores=cores))
    return wall, peak, work


def run_loop(sheet: Path):
    work = Path(tempfile.mkdtemp(prefix="nanotraj-loop-"))
    wall, peak, _ = run_measured([PYTHON, __file__, "--child-loop", str(sheet),
                                  str(work / "results")])
    return wall, peak, work


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--atoms", type=int, default=300, help="about this many atoms per frame")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="rounds (workflow + loop each)")
    ap.add_argument("--keep", help="copy the last workflow directory here")
    ap.add_argument("--child-loop", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_loop:
        child_loop(*args.child_loop)
        return 0

    frames_dir = Path(tempfile.mkdtemp(prefix="nanotraj-frames-"))
    sheet = write_series(frames_dir, args.frames, target_atoms=args.atoms)
    n_atoms = []
    with open(sheet) as fh:
        n_rows = sum(1 for _ in fh) - 1
    for p in sorted(frames_dir.glob("*.pdb")):
        n_atoms.append(sum(1 for ln in p.read_text().splitlines() if ln.startswith(("ATOM",
                                                                                    "HETATM"))))
    print(f"{n_rows} frames, {min(n_atoms)}-{max(n_atoms)} atoms (median {median(n_atoms):.0f});"
          f" --cores {args.cores}; {args.repeat} rounds", flush=True)
    wf_walls, loop_walls, wf_peaks, loop_peaks = [], [], [], []
    last_wf = None
    try:
        for k in range(args.repeat):
            w, p, wf_dir = run_workflow(sheet, args.cores)
            wf_walls.append(w)
            wf_peaks.append(p)
            lw, lp, loop_dir = run_loop(sheet)
            loop_walls.append(lw)
            loop_peaks.append(lp)
            same = ((wf_dir / "results" / "summary.csv").read_bytes()
                    == (loop_dir / "results" / "summary.csv").read_bytes())
            n_wf = sum(1 for q in (wf_dir / "results").rglob("*") if q.suffix in (".csv", ".png",
                                                                                 ".pdb"))
            n_lp = sum(1 for q in (loop_dir / "results").rglob("*") if q.suffix in (".csv",
                                                                                   ".png", ".pdb"))
            print(f"round {k + 1}: workflow {w:.1f} s, loop {lw:.1f} s, ratio {w / lw:.2f}; "
                  f"outputs {n_wf} vs {n_lp} files; summary.csv identical: {same}", flush=True)
            shutil.rmtree(loop_dir, ignore_errors=True)
            if last_wf:
                shutil.rmtree(last_wf, ignore_errors=True)
            last_wf = wf_dir
        wf, lp = median(wf_walls), median(loop_walls)
        print(f"\n{'':24s}{'wall s':>9s}{'peak RSS MB':>13s}{'s / frame':>11s}")
        print(f"{'workflow (snakemake)':24s}{wf:9.1f}{median(wf_peaks):13.0f}{wf / n_rows:11.3f}")
        print(f"{'loop (one process)':24s}{lp:9.1f}{median(loop_peaks):13.0f}{lp / n_rows:11.3f}")
        print(f"ratio workflow / loop: {wf / lp:.2f} (target <= 2.0: "
              f"{'met' if wf / lp <= 2.0 else 'NOT met'})")
        print("\nPer rule, last workflow run (benchmark: files):")
        print("\n".join(job_table(last_wf / "results")))
        if args.keep:
            shutil.copytree(last_wf, args.keep, dirs_exist_ok=True)
    finally:
        if last_wf:
            shutil.rmtree(last_wf, ignore_errors=True)
        shutil.rmtree(frames_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
