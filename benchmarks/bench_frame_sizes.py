"""Wall time and peak memory of every per-frame stage on FCC spheres of 1e3 .. 1e6 atoms.

    .venv/bin/python benchmarks/bench_frame_sizes.py                   # 1e3, 1e4, 1e5, 1e6
    .venv/bin/python benchmarks/bench_frame_sizes.py --max-size 1e5    # quick run (~1 min)
    .venv/bin/python benchmarks/bench_frame_sizes.py --sizes 1e6 --no-workflow

Inputs: :func:`nanotraj.lattices.fcc_sphere` with a = 3.912 A (Pt), Gaussian noise 0.05 A per
coordinate, written as PDB (<= 99,999 atoms) or mmCIF (above) by :func:`nanotraj.io.write_values`.

Library: every size runs in a fresh Python process that calls the stage functions of
:mod:`nanotraj.stages` one after the other, exactly as ``stages.frame.run_frame`` does (parse ->
rdf -> bonds -> boo -> coordination -> neighbour_distance -> structure -> surface -> ptm ->
lattice -> domains -> table -> pdb), each
reading and writing its ``.npz``/CSV/PDB files.  Per stage: wall time and the process's peak
resident memory during the stage (``VmHWM``, reset before the stage; includes ~150 MB of imported
libraries and memory allocated in C, e.g. kd-trees).  gemmi, scipy and numba are imported before
the first stage, as in the workflow's process after its first frame; the loading of the compiled
kernels from numba's cache (~0.1 s per stage that uses them) is measured.  "compute" is the sum
of the compute stages rdf + bonds + boo + coordination + neighbour_distance + structure + surface
+ ptm + lattice + domains.
Medians over ``--repeat`` processes (1 process at 1e6 atoms unless ``--repeat-large``).

Workflow: ``snakemake --cores 2`` on a one-frame sheet in a fresh directory (the default profile,
i.e. ``--force-use-threads``), every target including the figures.  Total wall time, the peak RSS
of the Snakemake process (all jobs run in it), and the ``s`` column of each rule's ``benchmark:``
file.

Targets (issue 7): at 1e6 atoms <= 4 s of compute and <= 2 GB peak, linear growth (the "x per
10x" columns should stay near 10).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    PYTHON,
    median,
    read_benchmarks,
    reset_peak,
    run_measured,
    snakemake_cmd,
    status_mb,
)

A = 3.912
NOISE = 0.05
STAGES = ("parse", "rdf", "bonds", "boo", "coordination", "neighbour_distance", "structure",
          "surface", "ptm", "lattice", "domains", "table", "pdb")
COMPUTE = ("rdf", "bonds", "boo", "coordination", "neighbour_distance", "structure", "surface",
           "ptm", "lattice", "domains")
RULE_OF = {"parse": "parse_frame", "rdf": "compute_rdf", "bonds": "find_bonds",
           "boo": "compute_boo", "coordination": "compute_coordination",
           "neighbour_distance": "compute_neighbour_distance", "structure": "compute_structure",
           "surface": "compute_surface", "ptm": "compute_ptm", "lattice": "compute_lattice",
           "domains": "find_domains", "table": "write_frame_table",
           "pdb": "write_frame_pdbs"}


def radius_for(n_atoms: float, a: float = A) -> float:
    """Radius of an FCC sphere holding about ``n_atoms`` atoms (4 atoms per a^3)."""
    return a * (3.0 * n_atoms / (16.0 * math.pi)) ** (1.0 / 3.0)


def input_path(folder: Path, n: int) -> Path:
    return folder / (f"fcc_{n}.pdb" if n <= 99_999 else f"fcc_{n}.cif")


# ----------------------------------------------------------------------------------------------
# child processes
def child_prepare(n: int, folder: str) -> None:
    from nanotraj.io import write_values
    from nanotraj.lattices import fcc_sphere

    xyz = fcc_sphere(radius_for(n), A, noise=NOISE, seed=0)
    path = input_path(Path(folder), n)
    write_values(path, xyz, xyz[:, 0] * 0.0, element="Pt")
    print(json.dumps({"atoms": len(xyz), "path": str(path)}))


def child_library(path: str, folder: str, threads: int = 1) -> None:
    import gemmi  # noqa: F401  imported before measuring, as in a warm workflow process
    import numba  # noqa: F401  (the compiled kernels of large frames; their loading is measured)
    import scipy.sparse  # noqa: F401
    import scipy.spatial  # noqa: F401

    from nanotraj.elements import nn_distance
    from nanotraj.stages import domains as domain_stage
    from nanotraj.stages import frame as stage
    from nanotraj.stages import lattice as lattice_stage
    from nanotraj.structure import boo_reference_points

    boo_reference_points()  # cached reference clusters (computed once per process)
    nn_distance("Pt")  # the element table, read once per process
    w, f = stage.frame_files(folder, "bench", "f")
    calls = {
        "parse": lambda: stage.parse_frame(path, w["frame"]),
        "rdf": lambda: stage.compute_rdf(w["frame"], f["rdf"], w["rdf"], threads=threads),
        "bonds": lambda: stage.find_bonds(w["frame"], w["rdf"], w["bonds"], threads=threads),
        "boo": lambda: stage.compute_boo(w["frame"], w["bonds"], w["boo"], threads=threads),
        "coordination": lambda: stage.compute_coordination(
            w["frame"], w["rdf"], w["bonds"], w["coordination"], element="Pt"),
        "neighbour_distance": lambda: stage.compute_neighbour_distance(
            w["frame"], w["bonds"], w["neighbour_distance"]),
        "structure": lambda: stage.compute_structure(
            w["frame"], w["rdf"], w["bonds"], w["boo"], w["coordination"], w["structure"],
            element="Pt", threads=threads),
        "surface": lambda: stage.compute_surface(w["frame"], w["surface"], element="Pt",
                                                 threads=threads),
        "ptm": lambda: stage.compute_ptm(w["frame"], w["ptm"], threads=threads),
        "lattice": lambda: lattice_stage.compute_lattice(
            w["frame"], w["bonds"], w["surface"], w["ptm"], w["lattice"],
            f["strain_profile"], f["facets"], element="Pt"),
        "domains": lambda: domain_stage.find_domains(
            w["frame"], w["bonds"], w["boo"], w["ptm"], w["domains"], f["domains"],
            f["boundaries"]),
        "table": lambda: stage.write_frame_table(w, f, series="bench", frame="f", time=0.0,
                                                 threads=threads),
        "pdb": lambda: stage.write_frame_pdbs(w, f, element="Pt"),
    }
    out = {"rss_start": status_mb("VmRSS")}
    out["errors"] = {}
    for name in STAGES:
        before = reset_peak()
        t0 = time.perf_counter()
        try:
            calls[name]()
        except Exception as exc:  # reported, the other stages still run
            out["errors"][name] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        out[name] = {"s": time.perf_counter() - t0, "peak": status_mb("VmHWM"),
                      "delta": status_mb("VmHWM") - before}
    import numpy as np

    from nanotraj.tables import load_arrays

    out["cutoff"] = float(load_arrays(w["rdf"])["cutoff"])
    out["bonds_n"] = int(len(np.load(w["bonds"])["bonds"]))
    print(json.dumps(out))


# ----------------------------------------------------------------------------------------------
# parent
def run_library(path: Path, repeat: int, threads: int) -> dict:
    runs = []
    for _ in range(repeat):
        folder = Path(tempfile.mkdtemp(prefix="nanotraj-lib-"))
        try:
            wall, peak, text = run_measured([PYTHON, __file__, "--child-library", str(path),
                                             str(folder), str(threads)])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        res = json.loads(text.strip().splitlines()[-1])
        res["process_wall"], res["process_peak"] = wall, peak
        runs.append(res)
    out = {"errors": runs[0]["errors"],
           "process_wall": median([r["process_wall"] for r in runs]),
           "process_peak": median([r["process_peak"] for r in runs]),
           "cutoff": runs[0]["cutoff"], "bonds_n": runs[0]["bonds_n"]}
    for stage in STAGES:
        out[stage] = {k: median([r[stage][k] for r in runs]) for k in ("s", "peak", "delta")}
    out["compute_s"] = median([sum(r[s]["s"] for s in COMPUTE) for r in runs])
    out["total_s"] = median([sum(r[s]["s"] for s in STAGES) for r in runs])
    out["peak"] = median([max(r[s]["peak"] for s in STAGES) for r in runs])
    return out


def run_workflow(path: Path, cores: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="nanotraj-wf-"))
    try:
        sheet = folder / "frames.tsv"
        sheet.write_text(f"series\tframe\ttime\tpath\nbench\tf\t0\t{path}\n")
        cmd = snakemake_cmd(folder, "--config", f"frames={sheet}", "--keep-going", cores=cores)
        wall, peak, text = run_measured(cmd, check=False)
        bench = read_benchmarks(folder / "results")
        per_rule = {rule: rows[0]["s"] for rule, rows in bench.items()}
        failed = sorted(set(re.findall(r"Error in rule (\w+)", text)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"wall": wall, "peak": peak, "rules": per_rule, "failed": failed}


def fmt_growth(values: list[float]) -> list[str]:
    out = [""]
    for a, b in zip(values, values[1:], strict=False):
        out.append(f"x{b / a:.1f}" if a > 0 else "")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6])
    ap.add_argument("--max-size", type=float, default=None, help="skip sizes above this")
    ap.add_argument("--repeat", type=int, default=3, help="library processes per size (median)")
    ap.add_argument("--repeat-large", type=int, default=1,
                    help="library processes per size for sizes >= 1e6")
    ap.add_argument("--no-workflow", action="store_true", help="library only")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--json", help="also write all numbers to this JSON file")
    ap.add_argument("--child-prepare", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=2,
                    help="threads of the rdf/bonds/boo stages for frames whose file exceeds 2 MB, "
                         "as the workflow's large_frame_threads (default 2); 1 below")
    ap.add_argument("--child-library", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_prepare:
        child_prepare(int(args.child_prepare[0]), args.child_prepare[1])
        return 0
    if args.child_library:
        child_library(args.child_library[0], args.child_library[1], int(args.child_library[2]))
        return 0

    sizes = [int(s) for s in args.sizes if args.max_size is None or s <= args.max_size]
    inputs = Path(tempfile.mkdtemp(prefix="nanotraj-in-"))
    results = {}
    print(f"FCC spheres a = {A} A, noise {NOISE} A; {os.cpu_count()} cores; python {PYTHON}",
          flush=True)
    try:
        for n in sizes:
            _, _, text = run_measured([PYTHON, __file__, "--child-prepare", str(n), str(inputs)])
            info = json.loads(text.strip().splitlines()[-1])
            path = Path(info["path"])
            repeat = args.repeat_large if n >= 1_000_000 else args.repeat
            threads = args.threads if path.stat().st_size > 2_000_000 else 1  # as the workflow
            lib = run_library(path, repeat, threads)
            res = {"atoms": info["atoms"], "file_MB": path.stat().st_size / 1e6, "lib": lib,
                   "repeat": repeat, "threads": threads}
            msg = (f"{info['atoms']:>9,} atoms ({path.suffix}, {res['file_MB']:.1f} MB, "
                   f"{threads} thread(s)): "
                   f"library compute {lib['compute_s']:.2f} s, all stages {lib['total_s']:.2f} s, "
                   f"peak {lib['peak']:.0f} MB, process {lib['process_wall']:.2f} s")
            if not args.no_workflow:
                res["wf"] = run_workflow(path, args.cores)
                msg += (f"; workflow {res['wf']['wall']:.2f} s, "
                        f"peak {res['wf']['peak']:.0f} MB")
            for stage, err in lib["errors"].items():
                msg += f"\n    library stage {stage} FAILED: {err}"
            if res.get("wf", {}).get("failed"):
                msg += f"\n    workflow rules FAILED: {', '.join(res['wf']['failed'])}"
            print(msg, flush=True)
            results[n] = res
            path.unlink()
    finally:
        shutil.rmtree(inputs, ignore_errors=True)

    cols = [results[n] for n in sizes]
    head = "".join(f"{r['atoms']:>12,}" for r in cols)
    print(f"\nLibrary, wall time per stage (s; median of {args.repeat} processes below 1e6, "
          f"{args.repeat_large} at 1e6):")
    print(f"{'stage':22s}{head}{'  per 10x':>10s}")
    for stage in STAGES:
        vals = [r["lib"][stage]["s"] for r in cols]
        g = fmt_growth(vals)[-1] if len(vals) > 1 else ""
        cells = "".join(f"{v:12.3f}" if stage not in r["lib"]["errors"] else f"{'failed':>12s}"
                        for v, r in zip(vals, cols, strict=True))
        print(f"{stage:22s}{cells}{g:>10s}")
    for key, label in (("compute_s", "compute (descriptors)"), ("total_s", "all stages")):
        vals = [r["lib"][key] for r in cols]
        g = fmt_growth(vals)[-1] if len(vals) > 1 else ""
        print(f"{label:22s}" + "".join(f"{v:12.3f}" for v in vals) + f"{g:>10s}")
    vals = [r["lib"]["process_wall"] for r in cols]
    print(f"{'process (+imports)':22s}" + "".join(f"{v:12.3f}" for v in vals))

    print("\nLibrary, peak RSS of the process during each stage (MB; +increase over the stage's "
          "start):")
    print(f"{'stage':22s}{head}")
    for stage in STAGES:
        print(f"{stage:22s}" + "".join(
            f"{r['lib'][stage]['peak']:7.0f}{'+' + format(r['lib'][stage]['delta'], '.0f'):>5s}"
            for r in cols))
    print(f"{'peak of all stages':22s}" + "".join(f"{r['lib']['peak']:12.0f}" for r in cols))
    print(f"{'bonds':22s}" + "".join(f"{r['lib']['bonds_n']:>12,}" for r in cols))
    print(f"{'cutoff (A)':22s}" + "".join(f"{r['lib']['cutoff']:12.4f}" for r in cols))

    if not args.no_workflow:
        print(f"\nWorkflow (snakemake --cores {args.cores}, one frame, figures included), "
              "benchmark: file 's' per rule:")
        print(f"{'rule':28s}{head}")
        rules = sorted({k for r in cols for k in r["wf"]["rules"]})
        order = [RULE_OF[s] for s in STAGES if RULE_OF[s] in rules]
        order += [r for r in rules if r not in order]
        for rule in order:
            print(f"{rule:28s}" + "".join(f"{r['wf']['rules'].get(rule, float('nan')):12.3f}"
                                          for r in cols))
        print(f"{'rules failed':28s}" + "".join(
            f"{','.join(r['wf']['failed']) or '-':>12s}" for r in cols))
        print(f"{'snakemake wall':28s}" + "".join(f"{r['wf']['wall']:12.2f}" for r in cols))
        print(f"{'snakemake peak RSS (MB)':28s}" + "".join(f"{r['wf']['peak']:12.0f}"
                                                          for r in cols))
        print(f"{'wall / library process':28s}" + "".join(
            f"{r['wf']['wall'] / r['lib']['process_wall']:12.2f}" for r in cols))

    big = results.get(max(sizes))
    if big and big["atoms"] >= 900_000:
        c, p = big["lib"]["compute_s"], big["lib"]["peak"]
        print(f"\nTargets at {big['atoms']:,} atoms: compute {c:.2f} s (<= 4 s: "
              f"{'met' if c <= 4 else 'NOT met'}), peak {p:.0f} MB (<= 2048 MB: "
              f"{'met' if p <= 2048 else 'NOT met'})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
