"""Helpers shared by the benchmark scripts (not a benchmark itself).

Peak memory is the resident set size (RSS) measured by the kernel, so it includes memory
allocated in C/C++ (kd-trees, Qhull, gemmi) that ``tracemalloc`` would miss:

* whole process: ``ru_maxrss`` of the child returned by ``os.wait4`` (Linux, KiB);
* one stage inside a process: the peak counter ``VmHWM`` of ``/proc/self/status`` reset before
  the stage by writing ``5`` to ``/proc/self/clear_refs``.
"""

from __future__ import annotations

import csv
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def status_mb(key: str) -> float:
    """A field of /proc/self/status (``VmRSS``, ``VmHWM``) in MB (nan where unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def reset_peak() -> float:
    """Reset this process's peak RSS counter (Linux); return the current RSS in MB."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    return status_mb("VmRSS")


def peak_mb() -> float:
    """Peak RSS (MB) since the last :func:`reset_peak` (or since the start)."""
    return status_mb("VmHWM")


def run_measured(cmd, *, cwd=None, env=None, check=True, quiet=True):
    """Run ``cmd``; return (wall seconds, peak RSS MB of the largest process waited for, output).

    The peak is ``ru_maxrss`` of the child from ``os.wait4``: the largest RSS of the child or of
    any of its descendants it waited for (Snakemake with ``--force-use-threads`` runs all jobs in
    its own process, so that is the workflow's peak).
    """
    t0 = time.perf_counter()
    out = subprocess.PIPE if quiet else None
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT if quiet
                         else None, text=True)
    text = p.stdout.read() if quiet else ""
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if check and p.returncode != 0:
        sys.stderr.write(text or "")
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(map(str, cmd))}")
    return wall, ru.ru_maxrss / 1024.0, text


def snakemake_cmd(workdir, *extra, cores=2):
    """The command that runs the repository's workflow in ``workdir`` (default profile applies)."""
    return [PYTHON, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--cores", str(cores), *extra]


def read_benchmarks(results_dir) -> dict[str, list[dict[str, float]]]:
    """Rows of every Snakemake ``benchmark:`` file under ``results/benchmarks``, by rule name."""
    per_rule: dict[str, list[dict[str, float]]] = defaultdict(list)
    for tsv in sorted(Path(results_dir, "benchmarks").rglob("*.tsv")):
        with open(tsv, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                vals = {}
                for k in ("s", "max_rss", "cpu_time"):
                    try:
                        vals[k] = float(row[k])
                    except (KeyError, ValueError):
                        vals[k] = float("nan")
                per_rule[tsv.stem].append(vals)
    return per_rule


_ELAPSED = re.compile(r"\bin ([0-9.]+) s\s*$")


def read_log_times(results_dir) -> dict[str, list[float]]:
    """Time spent inside the library per job, from the ``... in X s`` line of each job log."""
    per_rule: dict[str, list[float]] = defaultdict(list)
    for log in sorted(Path(results_dir, "logs").rglob("*.log")):
        lines = log.read_text().strip().splitlines()
        m = _ELAPSED.search(lines[-1]) if lines else None
        if m:
            per_rule[log.stem].append(float(m.group(1)))
    return per_rule


def median_time(fn, repeat: int) -> float:
    """Median wall time (s) of ``repeat`` calls of ``fn()`` (``time.perf_counter``)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def job_table(results_dir) -> list[str]:
    """Lines of a per-rule table: jobs, median/max wall per job (benchmark files) and the median
    time inside the library (job logs; '-' where the rule's log has no timing)."""
    bench = read_benchmarks(results_dir)
    logs = read_log_times(results_dir)
    lines = [f"{'rule':28s} {'jobs':>5s} {'median s':>9s} {'max s':>8s} {'lib s':>8s} "
             f"{'overhead s':>10s}"]
    for rule in sorted(bench, key=lambda r: -median([v['s'] for v in bench[r]])):
        s = [v["s"] for v in bench[rule]]
        lib = median(logs.get(rule, []))
        over = median(s) - lib if lib == lib else float("nan")
        lib_txt = f"{lib:8.4f}" if lib == lib else f"{'-':>8s}"
        over_txt = f"{over:10.4f}" if over == over else f"{'-':>10s}"
        lines.append(f"{rule:28s} {len(s):5d} {median(s):9.4f} {max(s):8.4f} {lib_txt} {over_txt}")
    return lines


def etched_frames(n_frames: int, *, target_atoms: int = 300, seed: int = 7, every: int = 20):
    """The frames of the benchmark series, one (N, 3) array per frame (Angstrom).

    Like the demo (:mod:`nanotraj.demo`): a Pt truncated octahedron (586 atoms) is etched,
    low-coordinated atoms first (weight ``exp(-0.9 cn)``), down to ``target_atoms``; then one
    more atom goes every ``every`` frames and Gaussian noise grows from 0.04 to 0.10 A.
    Deterministic (``seed``)."""
    import math

    import numpy as np
    from scipy.spatial import cKDTree

    from nanotraj.lattices import truncated_octahedron

    rng = np.random.default_rng(seed)
    a = 3.912
    base = truncated_octahedron(4, a)
    nn_cut = 1.2 * a / math.sqrt(2.0)

    def etch(xyz, k):
        cn = cKDTree(xyz).query_ball_point(xyz, nn_cut, return_length=True) - 1
        w = np.exp(-0.9 * cn)
        gone = rng.choice(len(xyz), size=k, replace=False, p=w / w.sum())
        return np.delete(xyz, gone, axis=0)

    while len(base) > target_atoms + 10:
        base = etch(base, 10)
    for k in range(n_frames):
        if k and k % every == 0:
            base = etch(base, 1)
        sigma = 0.04 + 0.06 * k / max(1, n_frames - 1)
        yield base + rng.normal(scale=sigma, size=base.shape)


def write_series(folder, n_frames: int, *, target_atoms: int = 300, seed: int = 7,
                 series: str = "bench") -> Path:
    """Write ``n_frames`` PDB frames of about ``target_atoms`` atoms (:func:`etched_frames`, one
    atom fewer every 20 frames) and their frames sheet (times 0, 15, 30, ...).
    Deterministic.  Returns the sheet's path (absolute frame paths)."""
    import numpy as np

    from nanotraj.io import write_values

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["series\tframe\ttime\tpath"]
    for k, x in enumerate(etched_frames(n_frames, target_atoms=target_atoms, seed=seed)):
        path = folder / f"{series}_{k:04d}.pdb"
        write_values(path, x, np.zeros(len(x)), element="Pt")
        lines.append(f"{series}\t{series}_{k:04d}\t{k * 15}\t{path.resolve()}")
    sheet = folder / "frames.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def ovito_collection(x):
    """An ``ovito.data.DataCollection`` holding the (N, 3) positions ``x`` (Angstrom) in a
    non-periodic cell enclosing them with a 10 A margin: how every benchmark hands atoms to
    OVITO (no file reader involved)."""
    import numpy as np
    from ovito.data import DataCollection

    x = np.asarray(x, dtype=np.float64)
    data = DataCollection()
    lo = x.min(axis=0) - 10.0
    hi = x.max(axis=0) + 10.0
    cell = np.zeros((3, 4))
    cell[:, :3] = np.diag(hi - lo)
    cell[:, 3] = lo
    data.create_cell(cell, pbc=(False, False, False))
    data.create_particles(count=len(x)).create_property("Position", data=x)
    return data


def write_trajectory_series(folder, n_frames: int, *, target_atoms: int = 300, seed: int = 7,
                            series: str = "long", sheet_frames: int | None = None) -> Path:
    """Write one extended-XYZ trajectory of ``n_frames`` frames of about ``target_atoms`` Pt atoms
    (:func:`etched_frames`, one atom fewer every max(20, n_frames / 100) frames; ``time=`` in
    each comment line) and its frames sheet, one row per frame (``frame_index``; the first
    ``sheet_frames`` frames when given).
    Deterministic. Returns the sheet's path (absolute trajectory path)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{series}.extxyz"
    width = len(str(max(n_frames - 1, 0)))
    lines = ["series\tframe\ttime\tpath\tframe_index"]
    every = max(20, n_frames // 100)  # at most ~100 atoms etched away
    frames = etched_frames(n_frames, target_atoms=target_atoms, seed=seed, every=every)
    with open(path, "w") as fh:
        for k, x in enumerate(frames):
            fh.write(f"{len(x)}\nProperties=species:S:1:pos:R:3 time={k * 15}\n")
            fh.write("".join(f"Pt {p[0]:.5f} {p[1]:.5f} {p[2]:.5f}\n" for p in x))
            if sheet_frames is None or k < sheet_frames:
                lines.append(f"{series}\t{series}_{k:0{width}d}\t{k * 15}\t{path.resolve()}\t{k}")
    sheet = folder / "frames.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet
def loop_series(sheet, results, *, frame_files: bool = False) -> None:
    """One series analysed by a plain loop in this process, writing every output the workflow
    writes: :func:`nanotraj.stages.chunk.run_chunk` over all frames (the configuration's stage
    options; ``frame_files``: also every frame's figures and per-value PDB/mmCIF files, as the
    per-frame rules write them), then the series' and run's aggregates, figures, viewer and
    trajectory with the same calls as the rules."""
    import yaml
    from snakemake.utils import validate

    from nanotraj import layout
    from nanotraj.chunking import stage_options
    from nanotraj.stages import domains as dom
    from nanotraj.stages import figures
    from nanotraj.stages import series as ser
    from nanotraj.stages import tracking as trk
    from nanotraj.stages.chunk import frame_arrays, run_chunk

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    keys = ("method", "max_misorientation", "min_atoms", "order_threshold", "twin_tolerance")
    opts = stage_options(config, domain_options={k: config["domains"][k] for k in keys},
                         index_cache=layout.frame_index_cache(root=results))
    if frame_files:
        opts = {**opts, "frame_figures": True, "per_value_pdb": True}
    with open(sheet, newline="") as fh:
        rows = sorted(csv.DictReader(fh, delimiter="\t"), key=lambda r: float(r["time"]))
    series = rows[0]["series"]
    frames = [{"frame": r["frame"], "time": float(r["time"]), "path": r["path"], "element": "Pt",
               "frame_index": int(r["frame_index"]) if r.get("frame_index") else None,
               "length_unit": "A", "type_map": ""} for r in rows]
    names = [f["frame"] for f in frames]
    times = [f["time"] for f in frames]
    root = {"root": results}
    bundle = layout.chunk_file(layout.CHUNK_BUNDLE, series=series, chunk="loop", **root)
    run_chunk(frames, bundle, series=series, options=opts, results=results)

    def sf(name):
        return layout.series_file(name, series=series, **root)

    def ff(name):
        return [layout.frame_file(name, series=series, frame=f, **root) for f in names]

    trk.aggregate_tracking(frame_arrays([bundle], "tracking"), sf("tracking.csv"), series=series,
                           frames=names, times=times, html=sf("tracking.html"))
    ser.aggregate_summaries(ff("summary.csv"), sf("summary.csv"), tracking=sf("tracking.csv"),
                            html=sf("summary.html"),
                            title=f"Series {series}: summary, one row per frame")
    ser.aggregate_summaries([sf("summary.csv")], layout.run_file("summary.csv", **root),
                            sort_by_series=True, html=layout.run_file("summary.html", **root),
                            title="Summary of every series, one row per frame")
    ser.list_rejected(layout.run_file("summary.csv", **root),
                      layout.run_file("rejected.csv", **root),
                      html=layout.run_file("rejected.html", **root))
    dom.aggregate_domains(frame_arrays([bundle], "domains"), frame_arrays([bundle], "domainlinks"),
                          {"domains": sf("domains.csv"), "events": sf("domain_events.csv")},
                          series=series, frames=names, times=times)
    dom.aggregate_atom_ids(frame_arrays([bundle], "tracking"), frame_arrays([bundle], "frame"),
                           {"atom_ids": sf("atom_ids.csv"), "lifetimes": sf("lifetimes.csv"),
                            "survival": sf("survival.csv"), "rmsd": sf("rmsd_matrix.csv")},
                           series=series, frames=names, times=times)
    dom.plot_domains(sf("domains.csv"), sf("domain_events.csv"), sf("survival.csv"),
                     sf("rmsd_matrix.csv"),
                     {"domains_series": sf("domains_series.png"), "survival": sf("survival.png"),
                      "rmsd_matrix": sf("rmsd_matrix.png")}, series=series)
    figures.plot_series(sf("summary.csv"), ff("rdf.csv"), ff("atoms.csv"),
                        {k: sf(f"{k}.png") for k in ("timeseries", "rdf_series", "cn_series",
                                                     "strain_series", "facets_series")},
                        profile_csvs=ff("strain_profile.csv"), element="Pt")
    figures.plot_tracking(ff("fate.csv"), frame_arrays([bundle], "tracking"),
                          {"removal_cn": sf("removal_cn.png"),
                           "displacements": sf("displacements.png")},
                          frames=names, times=times, series=series)
    figures.build_viewer(ff("atoms.csv"), ff("summary.csv"), sf("viewer.html"), series=series,
                         fates=[*ff("fate.csv")[1:], None], atom_ids=sf("atom_ids.csv"),
                         domains=sf("domains.csv"))
    ser.write_trajectory(ff("atoms.extxyz"), sf("trajectory.extxyz"))


def job_times(bench_dir: Path, before: dict, t0: float, wall: float) -> dict[str, float]:
    """Print every job a run ran (new or rewritten ``benchmark:`` files) as a timeline:
    start and end (s after the command started at wall-clock ``t0``) and wall time, in order of
    start; then Snakemake's own time before the first job and after the last.  Returns the wall
    time per job (benchmark file relative to ``bench_dir``)."""
    rows = []
    for p in sorted(bench_dir.rglob("*.tsv")):
        if before.get(p) == p.stat().st_mtime_ns:
            continue
        with open(p, newline="") as fh:
            s = [float(r["s"]) for r in csv.DictReader(fh, delimiter="\t")]
        s = s[-1] if s else float("nan")
        end = p.stat().st_mtime - t0
        rows.append((end - s, end, s, str(p.relative_to(bench_dir))))
    rows.sort()
    print(f"  jobs of the run ({len(rows)}), by start: start -> end (wall) s after the command "
          "started")
    for start, end, s, name in rows:
        print(f"    {start:7.2f} -> {end:7.2f} ({s:6.2f})  {name}")
    if rows:
        first, last = rows[0][0], max(r[1] for r in rows)
        print(f"    before the first job (Snakemake start, DAG) {first:.2f} s; jobs "
              f"{last - first:.2f} s; after the last job {wall - last:.2f} s; sum of job times "
              f"{sum(r[2] for r in rows):.2f} s")
    return {name: s for _, _, s, name in rows}
