"""Time ``atoms.csv`` and ``bonds.csv`` of a large frame: the Python writer against the compiled
rows of :mod:`nanotraj._csvfmt`, side by side in one run.

The tables imitate a 1e6-atom frame: ``atoms.csv`` with the columns of the output contract
(coordinates of a ~150 A particle, ``cn`` and ``cn_lattice`` counts, q/Q/w/W/C6 order parameters,
booleans, distances, the CNA code, the BOO class and the element as strings) and ``bonds.csv``
with 6 bonds per atom (``i, j, distance, s6``).  Every variant writes the same file through
:func:`nanotraj.tables.atomic_path`; the script checks that the files are byte-identical and
prints, per table, the median of ``--repeat`` runs of each variant, the speed-up and the
fraction of floats that took the slow path (Python's own rounding).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_tables.py            # 1e6 atoms, 6e6 bonds
    PYTHONPATH=src .venv/bin/python benchmarks/bench_tables.py --atoms 100000 --repeat 5
    PYTHONPATH=src .venv/bin/python benchmarks/bench_tables.py --startup  # start-up, small tables
    PYTHONPATH=src .venv/bin/python benchmarks/bench_tables.py --long 100000000  # longer check
    PYTHONPATH=src .venv/bin/python benchmarks/bench_tables.py --parquet  # CSV against Parquet
    PYTHONPATH=src .venv/bin/python benchmarks/bench_tables.py --parquet --size 1e5

``--parquet`` writes the same two tables as the workflow does for ``outputs.table_format``
(:func:`nanotraj.tables.write_columns` for the CSV, :func:`nanotraj.tables.write_parquet` for
Parquet, one thread each) and prints, per table, the median write time of ``--repeat`` runs and
the file size of each side by side, with the Parquet table of the unrounded arrays (what
rounding the floats to the CSV's values costs and saves) and the time to read three columns
back (:func:`nanotraj.tables.read_columns`).  It checks that the Parquet table reads back as the
CSV's values.  Timings on a shared machine are indicative only.

``--startup`` measures, in fresh processes, the time of writing a table of 4 columns (a float
column of coordinates, one of q6, counts, a string) with the Python writer and with the compiled
path, the latter including importing numba and this module and loading the cached kernels,
which is what chooses :data:`nanotraj._csvfmt.MIN_CELLS`.  ``--long N`` compares ``N`` random
doubles of many distributions with Python's ``"%.12g"`` (a longer version of the unit test).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nanotraj import tables

REPO = Path(__file__).resolve().parents[1]


def atoms_table(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Columns like ``atoms.csv`` of an ``n``-atom frame (random values of realistic size)."""
    rng = np.random.default_rng(seed)
    classes = np.array(["fcc", "hcp", "bcc", "ico", "disordered"])
    cols = {c: rng.normal(0.0, 40.0, n) for c in ("x", "y", "z")}
    cols["cn"] = rng.integers(3, 13, n)
    cols["cn_lattice"] = rng.integers(3, 13, n)
    for name, mu, sd in (("q4", 0.19, 0.05), ("q6", 0.5, 0.05), ("Q4", 0.15, 0.03),
                         ("Q6", 0.45, 0.04), ("w4", -0.1, 0.05), ("w6", -1e-3, 5e-3),
                         ("W4", -0.08, 0.04), ("W6", -5e-3, 3e-3), ("C6", 0.7, 0.2)):
        cols[name] = rng.normal(mu, sd, n)
    cols["crystalline"] = rng.random(n) > 0.3
    cols["d_center"] = rng.uniform(0.0, 75.0, n)
    cols["nn_distance"] = rng.normal(2.77, 0.05, n)
    cols["structure_cna"] = rng.integers(0, 5, n).astype(np.int64)
    cols["structure_boo"] = classes[rng.integers(0, 5, n)]
    cols["surface"] = rng.random(n) > 0.9
    cols["element"] = np.full(n, "Pt")
    return cols


def bonds_table(n_atoms: int, per_atom: int = 6, seed: int = 1) -> dict[str, np.ndarray]:
    """Columns like ``bonds.csv``: ``per_atom * n_atoms`` sorted bonds."""
    rng = np.random.default_rng(seed)
    nb = per_atom * n_atoms
    i = np.sort(rng.integers(0, n_atoms, nb))
    return {"i": i, "j": np.minimum(i + rng.integers(1, 200, nb), n_atoms - 1),
            "distance": rng.normal(2.78, 0.08, nb), "s6": rng.normal(0.8, 0.15, nb)}


def write_compiled(path, columns, workers):
    from nanotraj import _csvfmt

    with tables.atomic_path(path) as tmp, open(tmp, "wb") as fh:
        _csvfmt.write_table(fh, list(columns), list(columns.values()), workers=workers)


def median_time(fn, repeat):
    """Median wall time of ``repeat`` calls of ``fn`` (and the median CPU time of the process,
    all threads, as ``median_time.cpu``: on a shared machine the wall time of several threads
    also measures what the other processes leave)."""
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    median_time.cpu = statistics.median(cpu)
    return statistics.median(times)


def slow_fraction(columns) -> tuple[int, int]:
    from nanotraj import _csvfmt

    n_slow = n = 0
    for v in columns.values():
        if v.dtype.kind == "f":
            n_slow += _csvfmt.float_digits_exact(v)[2]
            n += v.size
    return n_slow, n


def bench(args):
    from nanotraj import _csvfmt

    _csvfmt.csv_bytes([np.array([1.5]), np.array([1]), np.array(["a"])])  # load the kernels
    frames = {"atoms.csv": atoms_table(args.atoms), "bonds.csv": bonds_table(args.atoms)}
    workers = [int(w) for w in args.workers.split(",")]
    total = {"python": 0.0} | {f"compiled x{w}": 0.0 for w in workers}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        for name, cols in frames.items():
            n_rows = len(next(iter(cols.values())))
            slow, nf = slow_fraction(cols)
            print(f"{name}: {n_rows} rows x {len(cols)} columns; {slow} of {nf} floats "
                  f"({slow / max(nf, 1):.2e}) took the slow path", flush=True)
            ref = tmp / f"py_{name}"
            t_py = median_time(lambda: tables.write_columns(ref, cols), args.repeat)  # noqa: B023
            total["python"] += t_py
            print(f"  python writer       {t_py:7.3f} s (cpu {median_time.cpu:6.3f} s)  "
                  f"{ref.stat().st_size / 1e6:.0f} MB", flush=True)
            want = ref.read_bytes()
            for w in workers:
                out = tmp / f"c{w}_{name}"
                t = median_time(lambda: write_compiled(out, cols, w), args.repeat)  # noqa: B023
                total[f"compiled x{w}"] += t
                same = out.read_bytes() == want
                print(f"  compiled, {w} thread{'s' if w > 1 else ' '} {t:7.3f} s (cpu "
                      f"{median_time.cpu:6.3f} s)  speed-up {t_py / t:5.1f}  identical: {same}",
                      flush=True)
                if not same:
                    raise SystemExit(f"{name}: the compiled writer differs with {w} threads")
                out.unlink()
            ref.unlink()
    print("both tables: " + ", ".join(f"{k} {v:.3f} s" for k, v in total.items()))


def parquet(args):
    """CSV against Parquet for ``atoms`` and ``bonds`` of ``args.atoms`` atoms: median write
    times, sizes, read-back times (the module docstring)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nanotraj import _csvfmt

    _csvfmt.csv_bytes([np.array([1.5]), np.array([1]), np.array(["a"])])  # load the kernels
    frames = {"atoms": atoms_table(args.atoms), "bonds": bonds_table(args.atoms)}
    read = {"atoms": ["x", "cn", "Q6"], "bonds": ["i", "j", "distance"]}
    print(f"{args.atoms} atoms; medians of {args.repeat} runs; pyarrow {pa.__version__}")
    print(f"{'table':8} {'format':28} {'write (s)':>10} {'cpu (s)':>8} {'size (MB)':>10} "
          f"{'read 3 cols (s)':>16}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        for name, cols in frames.items():
            variants = (
                ("CSV (write_columns)", tmp / f"{name}.csv",
                 lambda p, c=cols: tables.write_columns(p, c)),
                ("Parquet (write_parquet)", tmp / f"{name}.parquet",
                 lambda p, c=cols: tables.write_parquet(p, c)),
                ("Parquet, unrounded floats", tmp / f"{name}_raw.parquet",
                 lambda p, c=cols: _write_unrounded(p, c)),
            )
            for label, path, write in variants:
                t = median_time(lambda w=write, p=path: w(p), args.repeat)
                cpu = median_time.cpu
                r = median_time(lambda p=path, n=name: tables.read_columns(p, read[n]),
                                args.repeat)
                print(f"{name:8} {label:28} {t:10.3f} {cpu:8.3f} "
                      f"{path.stat().st_size / 1e6:10.1f} {r:16.3f}", flush=True)
            back = pq.read_table(tmp / f"{name}.parquet")
            for c, v in cols.items():
                if v.dtype.kind == "f":
                    got = back.column(c).to_numpy()
                    if got.tobytes() != tables.csv_values(v).tobytes():
                        raise SystemExit(f"{name}.parquet: column {c} is not the CSV's values")


def _write_unrounded(path, columns):
    """Parquet as :func:`nanotraj.tables.write_parquet` writes it, floats not rounded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, text = [], []
    for name, v in columns.items():
        v = np.asarray(v)
        if v.dtype == bool:
            v = v.astype(np.int8)
        if v.dtype.kind == "U":
            text.append(name)
        arrays.append(pa.array(v))
    codec, level = tables.PARQUET_COMPRESSION
    with tables.atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_arrays(arrays, names=list(columns)), str(tmp),
                       row_group_size=tables.PARQUET_ROW_GROUP, compression=codec,
                       compression_level=level, use_dictionary=text)


_STARTUP = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
from nanotraj import tables
n = int(sys.argv[1]); mode = sys.argv[2]
rng = np.random.default_rng(0)
cols = {"x": rng.normal(0, 40, n), "q6": rng.normal(0.5, 0.05, n), "cn": rng.integers(3, 13, n),
        "s": np.full(n, "fcc")}
t1 = time.perf_counter()
if mode == "python":
    tables.write_columns(sys.argv[3], cols)
else:
    from nanotraj import _csvfmt
    t2 = time.perf_counter()
    with open(sys.argv[3], "wb") as fh:
        _csvfmt.write_table(fh, list(cols), list(cols.values()))
t3 = time.perf_counter()
print(t3 - t1, (t2 - t1) if mode != "python" else 0.0)
"""


def startup(args):
    """Fresh processes: the writer's time (import of the compiled path included) per size."""
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        out = str(Path(tmp) / "t.csv")
        subprocess.run([sys.executable, "-c", _STARTUP, "10", "compiled", out], check=True,
                       capture_output=True)  # the kernels compiled and cached
        print("    rows     cells  python (s)  compiled (s)  of which importing numba and "
              "nanotraj._csvfmt (s)")
        for n in (1_000, 100_000, 300_000, 500_000, 750_000, 1_000_000, 2_000_000):
            res = {}
            for mode in ("python", "compiled"):
                runs = [subprocess.run([sys.executable, "-c", _STARTUP, str(n), mode, out],
                                       check=True, capture_output=True, text=True).stdout.split()
                        for _ in range(args.repeat)]
                res[mode] = (statistics.median(float(r[0]) for r in runs),
                             statistics.median(float(r[1]) for r in runs))
            print(f"{n:>8} {4 * n:>9} {res['python'][0]:11.3f} {res['compiled'][0]:13.3f} "
                  f"{res['compiled'][1]:13.3f}", flush=True)


def long_check(args):
    """``args.long`` doubles of four kinds against Python's ``%.12g``; prints the fraction of
    each kind that took the slow path."""
    from nanotraj import _csvfmt

    kinds = ("random bit patterns", "log-uniform over all doubles",
             "1 ulp from a tie at the 13th digit", "random digits 1e-6 .. 1e6")
    rng = np.random.default_rng(args.seed)
    done = 0
    slow = dict.fromkeys(kinds, 0)
    count = dict.fromkeys(kinds, 0)
    chunk = 1_000_000
    g = tables.FLOAT_FORMAT
    while done < args.long:
        k = kinds[done // chunk % 4]
        with np.errstate(all="ignore"):
            if k == kinds[0]:
                v = rng.integers(0, 2**64, chunk, dtype=np.uint64).view(np.float64)
            elif k == kinds[1]:
                v = 10.0 ** rng.uniform(-324, 308.25, chunk) * rng.choice([-1.0, 1.0], chunk)
            elif k == kinds[2]:
                digits = rng.integers(10**11, 10**12, chunk) * 10 + 5  # 13th digit a 5
                v = digits * 10.0 ** rng.integers(-40, 30, chunk).astype(float) / 1e12
                v = np.nextafter(v, v * rng.choice([0.0, 2.0], chunk))  # a neighbour
            else:
                v = rng.random(chunk) * 10.0 ** rng.integers(-6, 7, chunk)
            buf, lengths = _csvfmt.format_floats(v)
        got = [r[:n].tobytes().decode() for r, n in zip(buf, lengths, strict=True)]
        want = ["nan" if a != a else g % a for a in v.tolist()]
        if got != want:
            bad = next(i for i in range(chunk) if got[i] != want[i])
            raise SystemExit(f"differs: {v[bad]!r}: {got[bad]!r} != {want[bad]!r}")
        slow[k] += _csvfmt.float_digits_exact(v)[2]
        count[k] += chunk
        done += chunk
        print(f"{done} values identical", flush=True)
    for k in kinds:
        if count[k]:
            print(f"  {k}: {count[k]} values, slow path {slow[k] / count[k]:.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--atoms", "--size", type=lambda t: int(float(t)), default=1_000_000,
                    help="atoms of the frame (bonds: 6 per atom); 1e5 is accepted")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--dir", default=None, help="where to write (default: the temp dir)")
    ap.add_argument("--startup", action="store_true")
    ap.add_argument("--long", type=int, default=0)
    ap.add_argument("--parquet", action="store_true", help="CSV against Parquet")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.parquet:
        parquet(args)
    elif args.startup:
        startup(args)
    elif args.long:
        long_check(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
