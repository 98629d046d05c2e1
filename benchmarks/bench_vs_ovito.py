"""One 1e6-atom frame through the whole workflow against OVITO's whole process, side by side.

    .venv/bin/python benchmarks/bench_vs_ovito.py                       # 1e6 atoms
    .venv/bin/python benchmarks/bench_vs_ovito.py --atoms 1e5 --repeat 3
    .venv/bin/python benchmarks/bench_vs_ovito.py --ovito-python PATH   # OVITO's interpreter
    .venv/bin/python benchmarks/bench_vs_ovito.py --table-format both   # figures read Parquet

The same mmCIF file (an FCC Pt sphere, a = 3.912 A, 0.05 A Gaussian noise per coordinate, written
by :func:`nanotraj.io.write_values`, as in ``bench_frame_sizes.py``) is analysed

* by the workflow: ``snakemake --cores 2`` on a one-frame sheet in a fresh directory, every target
  of the default config (tables, extended XYZ, figures, viewer, report data; per-value PDB files
  are ``auto``, i.e. skipped above 100,000 atoms); wall time of the command and peak RSS of the
  Snakemake process (its jobs run in it as threads, two at a time), each rule's ``benchmark:``
  seconds and the jobs as a timeline (the critical path);
* by OVITO 3.17 in one fresh Python process of its own interpreter (``.venv-ovito``, made by
  ``.ci/run``; the script says so and stops if it is absent), wall time of the whole process
  (start, imports, reading the file, modifiers, writing) and its peak RSS, and each modifier's
  seconds (``DataCollection.apply``, in the order below, on 2 threads).

Two OVITO pipelines, each in its own process:

``trio``
    what the performance issue named: import the mmCIF file, g(r) and coordination
    (``CoordinationAnalysisModifier`` at the workflow's cutoff), Steinhardt q4..q6 with the
    neighbour average (``SteinhardtParametersModifier``, cutoff mode: q_l and Q_l), adaptive CNA.
``same``
    the work the workflow does since release 0.7, each quantity by OVITO's counterpart: the trio,
    bonds (``CreateBondsModifier``), PTM with orientations, RMSD and interatomic distance, grain
    segmentation, elastic strain, the alpha-shape surface with its surface atoms, and the per-atom
    table written once (extended XYZ with every property; the workflow writes ``atoms.csv``,
    ``bonds.csv`` and ``atoms.extxyz``). OVITO has no w_l, C6/s6, BOO classes, GCN, facets, domain
    boundaries or figures: those are extra work of the workflow, inside its time.

Printed: the times side by side and the ratios workflow / OVITO (target of the performance issue:
<= 2 against OVITO's whole process, peak <= 2 GB). Medians over ``--repeat`` runs; the machine
has 2 cores and is shared: run it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    PYTHON,
    REPO,
    job_times,
    median,
    read_benchmarks,
    run_measured,
    snakemake_cmd,
)

A = 3.912
NOISE = 0.05
OVITO_PYTHON = REPO / ".venv-ovito" / "bin" / "python"


# ----------------------------------------------------------------------------------------------
# child processes
def child_prepare(n: int, path: str) -> None:
    """Write the FCC sphere of ~n atoms to ``path`` (mmCIF above 99,999 atoms)."""
    from bench_frame_sizes import radius_for

    from nanotraj.io import write_values
    from nanotraj.lattices import fcc_sphere

    xyz = fcc_sphere(radius_for(n), A, noise=NOISE, seed=0)
    write_values(path, xyz, xyz[:, 0] * 0.0, element="Pt")
    print(json.dumps({"atoms": len(xyz)}))


def child_ovito(path: str, pipeline: str, cutoff: float, out_dir: str) -> None:
    """OVITO's whole process: import, modifiers, export. Prints each step's seconds as JSON."""
    t_start = time.perf_counter()
    import ovito.modifiers as m
    from ovito.io import export_file, import_file

    times = {"imports": time.perf_counter() - t_start}
    t0 = time.perf_counter()
    data = import_file(path, input_format="mmcif").compute()
    times["read"] = time.perf_counter() - t0
    mods = [
        ("rdf + coordination", m.CoordinationAnalysisModifier(cutoff=cutoff, number_of_bins=200)),
        ("steinhardt q, Q", m.SteinhardtParametersModifier(
            neighbor_mode=m.SteinhardtParametersModifier.NeighborMode.Cutoff, cutoff=cutoff,
            max_l=6, compute_averaged=True)),
        ("adaptive CNA", m.CommonNeighborAnalysisModifier(
            mode=m.CommonNeighborAnalysisModifier.Mode.AdaptiveCutoff)),
    ]
    if pipeline == "same":
        mods += [
            ("bonds", m.CreateBondsModifier(cutoff=cutoff)),
            ("PTM", m.PolyhedralTemplateMatchingModifier(
                output_orientation=True, output_rmsd=True, output_interatomic_distance=True)),
            ("grain segmentation", m.GrainSegmentationModifier()),
            ("elastic strain", m.ElasticStrainModifier(lattice_constant=A)),
            ("alpha-shape surface", m.ConstructSurfaceModifier(
                method=m.ConstructSurfaceModifier.Method.AlphaShape, radius=A * 0.8,
                select_surface_particles=True)),
        ]
    for name, mod in mods:
        t0 = time.perf_counter()
        data.apply(mod)
        times[name] = time.perf_counter() - t0
    if pipeline == "same":
        t0 = time.perf_counter()
        columns = [k for k in data.particles.keys() if k not in ("Color", "Radius")]
        export_file(data, os.path.join(out_dir, "atoms.xyz"), "xyz", columns=columns)
        times["write table"] = time.perf_counter() - t0
    times["process"] = time.perf_counter() - t_start
    print(json.dumps(times))


# ----------------------------------------------------------------------------------------------
# parent
def run_workflow(path: Path, table_format: str = "csv") -> dict:
    folder = Path(tempfile.mkdtemp(prefix="nanotraj-vs-ovito-"))
    try:
        sheet = folder / "frames.tsv"
        sheet.write_text(f"series\tframe\ttime\tpath\nbench\tf\t0\t{path}\n")
        cmd = snakemake_cmd(folder, "--config", f"frames={sheet}",
                            f"outputs={{table_format: {table_format}}}", cores=2)
        t0 = time.time()
        wall, peak, text = run_measured(cmd)
        job_times(folder / "results" / "benchmarks", {}, t0, wall)
        rules = {rule: rows[0]["s"] for rule, rows in read_benchmarks(folder / "results").items()}
        from nanotraj.tables import read_rows

        _, rows = read_rows(folder / "results" / "summary.csv")
        cutoff = float(rows[0]["cutoff"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"wall": wall, "peak": peak, "rules": rules, "cutoff": cutoff}


def run_ovito(ovito_python: Path, path: Path, pipeline: str, cutoff: float) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="nanotraj-ovito-"))
    try:
        env = dict(os.environ, OVITO_THREAD_COUNT="2", OMP_NUM_THREADS="2")
        wall, peak, text = run_measured([str(ovito_python), __file__, "--child-ovito", str(path),
                                         pipeline, repr(cutoff), str(folder)], env=env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    res = json.loads(text.strip().splitlines()[-1])
    return {"wall": wall, "peak": peak, "steps": res}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--atoms", type=float, default=1e6)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--ovito-python", type=Path, default=OVITO_PYTHON)
    ap.add_argument("--table-format", default="csv", choices=("csv", "parquet", "both"),
                    help="the workflow's outputs.table_format (both: its figures and viewer "
                         "read the Parquet copy)")
    ap.add_argument("--workflow-only", action="store_true",
                    help="time the workflow only (its timeline), no OVITO, no ratios")
    ap.add_argument("--child-prepare", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--child-ovito", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_prepare:
        child_prepare(int(args.child_prepare[0]), args.child_prepare[1])
        return 0
    if args.child_ovito:
        p, pipe, cut, out = args.child_ovito
        child_ovito(p, pipe, float(cut), out)
        return 0
    if not args.workflow_only and not args.ovito_python.exists():
        print(f"{args.ovito_python}: no OVITO interpreter (make it as .ci/run step 6 does, or give "
              "--ovito-python)")
        return 2

    n = int(args.atoms)
    data = Path(tempfile.mkdtemp(prefix="nanotraj-vs-ovito-data-"))
    try:
        path = data / f"fcc_{n}.cif"
        _, _, text = run_measured([PYTHON, __file__, "--child-prepare", str(n), str(path)])
        n_atoms = json.loads(text.strip().splitlines()[-1])["atoms"]
        print(f"{n_atoms} atoms, {path.stat().st_size / 1e6:.0f} MB mmCIF; {args.repeat} round(s), "
              "each: workflow, OVITO trio, OVITO same work (alternating)")
        wf, trio, same = [], [], []
        for k in range(args.repeat):
            wf.append(run_workflow(path, args.table_format))
            if args.workflow_only:
                print(f"round {k + 1}: workflow {wf[-1]['wall']:.1f} s, peak "
                      f"{wf[-1]['peak']:.0f} MB", flush=True)
                continue
            cutoff = wf[-1]["cutoff"] or 3.36
            trio.append(run_ovito(args.ovito_python, path, "trio", cutoff))
            same.append(run_ovito(args.ovito_python, path, "same", cutoff))
            print(f"round {k + 1}: workflow {wf[-1]['wall']:.1f} s, OVITO trio "
                  f"{trio[-1]['wall']:.1f} s, OVITO same work {same[-1]['wall']:.1f} s", flush=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)

    if args.workflow_only:
        return 0

    def med(runs, key):
        return median([r[key] for r in runs])

    print("\nper step, median s")
    print("  workflow rules (benchmark: files; jobs run two at a time):")
    for rule in sorted(wf[0]["rules"], key=lambda r: -wf[0]["rules"][r]):
        print(f"    {rule:<28s} {median([w['rules'].get(rule, 0.0) for w in wf]):8.2f}")
    for name, runs in (("OVITO trio", trio), ("OVITO same work", same)):
        print(f"  {name} (one process, 2 threads):")
        for step in runs[0]["steps"]:
            print(f"    {step:<28s} {median([r['steps'][step] for r in runs]):8.2f}")

    w, t, s = med(wf, "wall"), med(trio, "wall"), med(same, "wall")
    print("\n| | wall (s) | peak MB | workflow / this |")
    print("|---|---:|---:|---:|")
    print(f"| workflow, `snakemake --cores 2`, every output | {w:.1f} | {med(wf, 'peak'):.0f} | |")
    print(f"| OVITO, the issue's trio (read, g(r)+CN, q/Q, a-CNA) | {t:.1f} | "
          f"{med(trio, 'peak'):.0f} | {w / t:.2f} |")
    print(f"| OVITO, the same work (+ bonds, PTM, grains, strain, surface, table) | {s:.1f} | "
          f"{med(same, 'peak'):.0f} | {w / s:.2f} |")
    peak = med(wf, "peak")
    print(f"\ntarget workflow / OVITO <= 2: trio {'met' if w / t <= 2 else 'NOT met'} "
          f"({w / t:.2f}), same work {'met' if w / s <= 2 else 'NOT met'} ({w / s:.2f}); "
          f"peak <= 2048 MB: {'met' if peak <= 2048 else 'NOT met'} ({peak:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
