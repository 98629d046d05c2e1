"""Read time per frame of the input formats: nanotraj's readers against ASE 3.29's, and the frame
index of a long trajectory.

1. One frame of ``--atoms`` atoms (default 300 and 100,000) as extended XYZ (written by ASE,
   with two extra per-atom columns), plain XYZ, a LAMMPS text dump (``id type x y z``, shuffled
   ids) and a PDB/mmCIF file: the median of ``--repeat`` reads by
   :func:`nanotraj.trajectory.read_frame` (XYZ, LAMMPS), :func:`nanotraj.io.read_frame` (PDB,
   mmCIF; gemmi and the strict fixed-column reader) and ASE's ``read`` (extxyz, lammps-dump-text),
   all with the reading only (nanotraj's geometry checks, whose KD-tree is most of a large
   frame's time, are switched off: ``min_distance=0``).
2. A trajectory of ``--frames`` frames (default 10,000) of 300 atoms as one extended-XYZ file:
   the time to index it (once; then cached), the time to read a frame by index through the
   cached index (median over frames spread over the file), and the time ASE's
   ``read(path, index=k)`` takes for the same frames (it scans the file from its start).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_formats.py
    PYTHONPATH=src .venv/bin/python benchmarks/bench_formats.py --atoms 300 --frames 1000

ASE is a test dependency (``pip install -e .[dev]``); without it, its columns are skipped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nanotraj import lattices as lat
from nanotraj.io import read_frame as read_pdb
from nanotraj.io import write_values
from nanotraj.trajectory import _CACHE, frame_index, read_frame

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time  # noqa: E402


def particle(n_atoms, seed=0):
    radius = (n_atoms * 3 / (4 * np.pi * 0.0668)) ** (1 / 3)  # Pt: 0.0668 atoms per A^3
    x = lat.fcc_sphere(radius, 3.912, noise=0.05, seed=seed)
    while len(x) < n_atoms:
        radius *= 1.02
        x = lat.fcc_sphere(radius, 3.912, noise=0.05, seed=seed)
    return x[:n_atoms]


def write_lammps(path, x, rng):
    lo, hi = x.min(0) - 5, x.max(0) + 5
    order = rng.permutation(len(x))
    body = "".join(f"{i + 1} 1 {x[i, 0]:.6f} {x[i, 1]:.6f} {x[i, 2]:.6f}\n" for i in order)
    path.write_text(f"ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n{len(x)}\n"
                    "ITEM: BOX BOUNDS pp pp pp\n"
                    + "".join(f"{lo[d]:.6f} {hi[d]:.6f}\n" for d in range(3))
                    + "ITEM: ATOMS id type x y z\n" + body)


def one_frame(n_atoms, repeat, folder: Path, ase_io):
    x = particle(n_atoms)
    rng = np.random.default_rng(1)
    files = {}
    (folder / "f.xyz").write_text(f"{len(x)}\nplain\n" + "".join(
        f"Pt {a:.6f} {b:.6f} {c:.6f}\n" for a, b, c in x))
    files["xyz"] = folder / "f.xyz"
    write_lammps(folder / "f.dump", x, rng)
    files["lammps"] = folder / "f.dump"
    if ase_io is not None:
        from ase import Atoms

        a = Atoms(["Pt"] * len(x), positions=x)
        a.arrays["charge"] = rng.normal(size=len(x))
        a.arrays["tag_id"] = np.arange(len(x))
        ase_io.write(folder / "f.extxyz", a, format="extxyz")
    else:
        (folder / "f.extxyz").write_text(
            f"{len(x)}\nProperties=species:S:1:pos:R:3:charge:R:1:tag_id:I:1\n" + "".join(
                f"Pt {a:.8f} {b:.8f} {c:.8f} 0.5 {k}\n" for k, (a, b, c) in enumerate(x)))
    files["extxyz"] = folder / "f.extxyz"
    cif = folder / "f.cif"
    write_values(cif, x, np.zeros(len(x)))
    files["mmcif"] = cif
    if len(x) <= 99_999:
        write_values(folder / "f.pdb", x, np.zeros(len(x)))
        files["pdb"] = folder / "f.pdb"
    print(f"\none frame of {len(x):,} atoms (median of {repeat} reads, ms)")
    print(f"{'format':8} {'nanotraj':>10} {'ASE':>10} {'ASE / nanotraj':>15}")
    for fmt, path in files.items():
        if fmt in ("pdb", "mmcif"):
            ours = median_time(lambda p=path: read_pdb(p, min_distance=0), repeat)
        else:
            ours = median_time(lambda p=path: read_frame(p, min_distance=0), repeat)
        theirs = float("nan")
        if ase_io is not None and fmt in ("extxyz", "xyz", "lammps"):
            kind = {"extxyz": "extxyz", "xyz": "extxyz", "lammps": "lammps-dump-text"}[fmt]
            theirs = median_time(lambda p=path, k=kind: ase_io.read(p, format=k), repeat)
        print(f"{fmt:8} {1e3 * ours:10.2f} {1e3 * theirs:10.2f} {theirs / ours:15.1f}")


def long_trajectory(n_frames, n_atoms, repeat, folder: Path, ase_io):
    x = particle(n_atoms)
    rng = np.random.default_rng(2)
    path = folder / "long.extxyz"
    t0 = time.perf_counter()
    with open(path, "w") as fh:
        for k in range(n_frames):
            y = x + rng.normal(0.0, 0.05, x.shape)
            fh.write(f"{len(y)}\nProperties=species:S:1:pos:R:3 time={0.01 * k!r}\n")
            fh.write("".join(f"Pt {a:.5f} {b:.5f} {c:.5f}\n" for a, b, c in y))
    size = path.stat().st_size
    print(f"\na trajectory of {n_frames:,} frames x {len(x)} atoms, one extended-XYZ file "
          f"({size / 2**20:.0f} MiB; written in {time.perf_counter() - t0:.1f} s)")
    _CACHE.clear()
    t0 = time.perf_counter()
    idx = frame_index(path)
    t_index = time.perf_counter() - t0
    assert len(idx) == n_frames
    picks = np.linspace(0, n_frames - 1, min(50, n_frames)).astype(int)
    per = [median_time(lambda k=int(k): read_frame(path, frame_index=k, min_distance=0), 1)
           for k in picks]
    print(f"index (once, then cached): {t_index:.3f} s = {1e6 * t_index / n_frames:.1f} us "
          "per frame")
    print(f"read one frame by index (median of {len(picks)} frames spread over the file): "
          f"{1e3 * statistics.median(per):.3f} ms; first {1e3 * per[0]:.3f} ms, last "
          f"{1e3 * per[-1]:.3f} ms")
    if ase_io is not None:
        few = picks[:: max(1, len(picks) // 5)][:5]
        ase_t = [median_time(lambda k=int(k): ase_io.read(path, index=k, format="extxyz"), 1)
                 for k in few]
        print("ASE read(path, index=k) for k = " + ", ".join(str(int(k)) for k in few) + ": "
              + ", ".join(f"{1e3 * t:.0f}" for t in ase_t) + " ms (it scans from the start)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--atoms", type=int, nargs="+", default=[300, 100_000])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    try:
        import ase
        import ase.io as ase_io

        print(f"ASE {ase.__version__}")
    except ImportError:
        ase_io = None
        print("ASE not installed: its columns are skipped")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.atoms:
            one_frame(n, args.repeat if n < 50_000 else max(3, args.repeat // 2), Path(tmp),
                      ase_io)
        if args.frames:
            long_trajectory(args.frames, 300, args.repeat, Path(tmp), ase_io)


if __name__ == "__main__":
    main()
