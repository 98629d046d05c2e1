"""Time of :func:`nanotraj.ptm.ptm` against OVITO's PTM on the same atoms, 1 and 2 threads.

    .venv/bin/python benchmarks/bench_ptm.py                   # nanotraj only
    /tmp/ovenv/bin/python benchmarks/bench_ptm.py              # + OVITO side by side
    /tmp/ovenv/bin/python benchmarks/bench_ptm.py --atoms 1e4 1e5 --repeat 5

FCC spheres (Pt, a = 3.912 A, 0.05 A Gaussian noise; ``benchmarks/bench_frame_sizes.py``) of
about 1e4, 1e5 and 1e6 atoms; all five structures (fcc, hcp, bcc, ico, sc), RMSD cutoff 0.1.
nanotraj: the whole call (k-d tree, Voronoi ordering, matching) with ``workers`` = 1 and 2.
OVITO (when ``ovito`` is importable): ``PolyhedralTemplateMatchingModifier`` with the same
structures applied to a DataCollection (no file reader), timing ``DataCollection.apply`` only;
OVITO's thread count is set per process (``OVITO_THREAD_COUNT``), so it runs in one child
process per thread count that waits for "run" requests: the measurements of the four programs
alternate, and the medians of ``--repeat`` runs are compared in the same run.  Prints the
wall times, the CPU times of the 1-thread runs, the ratios nanotraj/OVITO (same thread count;
CPU) and the fraction of atoms whose structure types agree.  The machine is shared: read the
ratios, not the absolute times (the CPU-time ratio is the one least disturbed by other jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
from _common import median, ovito_collection  # noqa: E402
from bench_frame_sizes import NOISE, A, radius_for  # noqa: E402

STRUCTURES = ("fcc", "hcp", "bcc", "ico", "sc")
CUTOFF = 0.1


def ovito_child(path: str) -> None:
    """Child process: load the coordinates, answer every "run" line with one timed PTM."""
    from ovito.modifiers import PolyhedralTemplateMatchingModifier as PTM

    x = np.load(path)
    wanted = {int(getattr(PTM.Type, s.upper())) for s in STRUCTURES}
    for line in sys.stdin:
        if line.strip() != "run":
            break
        data = ovito_collection(x)
        mod = PTM(rmsd_cutoff=CUTOFF)
        for st in mod.structures:
            st.enabled = st.id in wanted
        t0 = time.perf_counter()
        c0 = time.process_time()
        data.apply(mod)
        dt = time.perf_counter() - t0
        dc = time.process_time() - c0
        types = np.asarray(data.particles["Structure Type"][...])
        np.save(path + ".types.npy", types)
        print(json.dumps({"seconds": dt, "cpu": dc}), flush=True)


class OvitoRunner:
    def __init__(self, path: str, threads: int):
        env = dict(os.environ, OVITO_THREAD_COUNT=str(threads))
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--ovito-child", path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def run(self):
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        return out["seconds"], out["cpu"], np.load(self.path + ".types.npy")

    def close(self):
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        self.proc.wait()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=float, nargs="+", default=[1e4, 1e5, 1e6])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ovito-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.ovito_child:
        ovito_child(args.ovito_child)
        return 0

    from nanotraj.lattices import fcc_sphere
    from nanotraj.ptm import ptm, tables

    try:
        import ovito  # noqa: F401

        have_ovito = True
    except ImportError:
        have_ovito = False
    tables()
    ptm(fcc_sphere(8.0, A, noise=NOISE))  # compiled code loaded before the clock
    print(f"all five structures, rmsd_cutoff {CUTOFF}; median of {args.repeat} runs (s)")
    head = f"{'atoms':>10s} {'nt 1 thr':>9s} {'nt 2 thr':>9s} {'nt cpu':>7s}"
    if have_ovito:
        head += (
            f" {'ovito 1':>8s} {'ovito 2':>8s} {'ov cpu':>7s} {'ratio 1':>8s} {'ratio 2':>8s}"
            f" {'ratio cpu':>9s} {'agree':>8s}"
        )
    print(head)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.atoms:
            x = fcc_sphere(radius_for(n), A, noise=NOISE, seed=0)
            path = os.path.join(tmp, "x.npy")
            np.save(path, x)
            runners = {t: OvitoRunner(path, t) for t in (1, 2)} if have_ovito else {}
            times = {k: [] for k in ("nt1", "nt2", "ov1", "ov2", "ntcpu", "ovcpu")}
            agree = float("nan")
            for _ in range(args.repeat):
                for w in (1, 2):
                    t0 = time.perf_counter()
                    c0 = time.process_time()
                    res = ptm(x, structures=STRUCTURES, rmsd_cutoff=CUTOFF, workers=w)
                    times[f"nt{w}"].append(time.perf_counter() - t0)
                    if w == 1:
                        times["ntcpu"].append(time.process_time() - c0)
                    if w in runners:
                        dt, dc, types = runners[w].run()
                        times[f"ov{w}"].append(dt)
                        if w == 1:
                            times["ovcpu"].append(dc)
                        agree = float(np.mean(types == res["structure"]))
            for r in runners.values():
                r.close()
            med = {k: median(v) for k, v in times.items()}
            line = f"{len(x):10,d} {med['nt1']:9.2f} {med['nt2']:9.2f} {med['ntcpu']:7.2f}"
            if have_ovito:
                line += (
                    f" {med['ov1']:8.2f} {med['ov2']:8.2f} {med['ovcpu']:7.2f}"
                    f" {med['nt1'] / med['ov1']:8.2f} {med['nt2'] / med['ov2']:8.2f}"
                    f" {med['ntcpu'] / med['ovcpu']:9.2f} {agree * 100:7.3f}%"
                )
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
