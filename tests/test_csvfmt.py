"""The compiled CSV rows (nanotraj._csvfmt) against Python's own formatting, byte for byte.

The reference is what :func:`nanotraj.tables.write_columns` writes: ``"%.12g" % v`` (``nan``
for NaN) for floats, ``str(int(v))`` for integers, ``0``/``1`` for booleans, ``str`` for the
rest.  Ten million doubles of many kinds (random bit patterns, log-uniform, ties at the 13th
digit and their neighbours, powers of ten, rounding-up boundaries, subnormals, specials, the
columns of a real frame) are compared as one-column tables; whole tables mixing every kind of
column are compared file to file, for several block sizes and thread counts.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nanotraj import _csvfmt, tables

G = tables.FLOAT_FORMAT
E11 = "%.11e"


def python_lines(values) -> bytes:
    """One-column CSV rows of floats as the Python writer formats them."""
    cells = ["nan" if v != v else G % v for v in np.asarray(values, np.float64).tolist()]
    return ("\n".join(cells) + "\n").encode() if cells else b""


def assert_same_floats(values, label=""):
    values = np.asarray(values, np.float64)
    got = _csvfmt.csv_bytes([values])
    want = python_lines(values)
    if got != want:
        g, w = got.split(b"\n"), want.split(b"\n")
        i = next(k for k in range(min(len(g), len(w))) if g[k] != w[k])
        pytest.fail(f"{label}: {values[i]!r} ({values[i:i + 1].view(np.uint64)[0]:#018x}) "
                    f"written {g[i]!r}, Python {w[i]!r}")


def neighbours(v, k=3):
    """``v`` and its ``k`` nearest doubles on each side."""
    out = [v]
    lo = hi = v
    for _ in range(k):
        lo = np.nextafter(lo, -np.inf)
        hi = np.nextafter(hi, np.inf)
        out += [lo, hi]
    return np.concatenate(out)


RNG = np.random.default_rng(20240611)
N = 1_250_000


def _random_doubles():
    """(label, values): ~1e7 doubles in all."""
    r = RNG
    sign = r.choice([-1.0, 1.0], N)
    with np.errstate(all="ignore"):
        yield "random bit patterns", r.integers(0, 2**64, N, dtype=np.uint64).view(np.float64)
        yield "log-uniform 1e-30..1e30", 10.0 ** r.uniform(-30, 30, N) * sign
        yield "log-uniform over all doubles", 10.0 ** r.uniform(-324, 308.25, N) * sign
        yield "uniform [0, 1)", r.random(N)
        yield "integers as floats", (r.integers(-2**53, 2**53, N) // 10 ** r.integers(0, 16, N)
                                     ).astype(np.float64)
        yield "few digits (0.1, 2.5, 1e-5, ...)", (
            r.integers(1, 1000, N) / 10.0 ** r.integers(-25, 25, N) * sign)
        # halves at the 13th digit (0.1234567890125) and their neighbours: the ties of %.12g
        twelve = r.integers(10**11, 10**12, N // 7)
        scale = np.where(r.random(N // 7) < 0.75, r.integers(-10, 30, N // 7),
                         r.integers(-290, 300, N // 7))  # |p| > 22: several roundings
        halves = (twelve * 10 + 5) / 10.0 ** scale * sign[:N // 7]
        yield "halves at the 13th digit +- 3 ulp", neighbours(halves)
        # rounding up to the next power of ten: 9.99999999999950, 99999999999.95, ...
        e = np.arange(-320, 300, dtype=np.float64)
        nines = np.concatenate([float(f"{m}e{int(k)}") * np.ones(1)
                                for k in e for m in ("9.999999999995", "9.9999999999949999",
                                                     "9.99999999999950001", "9.99999999999")])
        yield "rounding-up boundaries +- 3 ulp", neighbours(np.concatenate([nines, -nines]), 3)
        powers = np.array([float(f"1e{k}") for k in range(-323, 309)])
        yield "powers of ten +- 3 ulp", neighbours(np.concatenate([powers, -powers]), 3)
        sub = r.integers(0, 2**52, N // 10, dtype=np.uint64).view(np.float64)
        tiny = np.array([5e-324, 1e-323, 2.2250738585072009e-308, 2.2250738585072014e-308,
                         1.7976931348623157e308, 1.0, -1.0, 0.5, 1.5, 2.0**53, 2.0**-1074])
        yield "subnormals, extremes", np.concatenate([sub, -sub, neighbours(tiny, 2)])
        specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan])
        payload = np.array([0x7FF0000000000001, 0xFFF8000000000001, 0x7FFFFFFFFFFFFFFF],
                           np.uint64).view(np.float64)
        yield "zeros, infinities, NaNs", np.concatenate([specials, payload])
        yield "frame columns", np.concatenate([
            r.normal(0, 40, N // 4), r.normal(0.5, 0.05, N // 8), r.normal(-1e-3, 5e-3, N // 8),
            r.normal(2.78, 0.08, N // 8), r.normal(0.8, 0.15, N // 8), r.uniform(0, 75, N // 8),
            r.integers(0, 13, N // 8).astype(float)])


def test_ten_million_doubles_are_written_as_python_writes_them():
    n = 0
    for label, values in _random_doubles():
        assert_same_floats(values, label)
        n += values.size
    assert n >= 10_000_000


def test_hand_picked_floats():
    cases = [(0.1, "0.1"), (2.5, "2.5"), (1e-5, "1e-05"), (1e-4, "0.0001"),
             (123456789012.0, "123456789012"), (1234567890125.0, "1.23456789012e+12"),
             (9.99999999999995, "10"), (-0.0, "-0"), (0.0, "0"), (np.inf, "inf"),
             (-np.inf, "-inf"), (np.nan, "nan"), (5e-324, "4.94065645841e-324"),
             (1e22, "1e+22"), (1e100, "1e+100"), (-3.0, "-3"), (0.1234567890125, "0.123456789012"),
             (0.12345678901251, "0.123456789013"), (2.675, "2.675"), (1 / 3, "0.333333333333"),
             (99999999999.95, "99999999999.9"), (-1.5e-300, "-1.5e-300")]
    values = np.array([v for v, _ in cases])
    got = _csvfmt.csv_bytes([values]).decode().splitlines()
    assert got == [s for _, s in cases]
    assert python_lines(values).decode().splitlines() == got  # the reference agrees


def test_float_digits_and_the_slow_path():
    """M and X are the 12 digits and exponent of Python's %.11e; exact ties take the slow path
    and are rounded to even as Python does; random digits rarely need it."""
    r = np.random.default_rng(5)
    v = np.concatenate([10.0 ** r.uniform(-40, 40, 20000), [0.5, 2.5, 1234567890125.0]])
    m, x, _ = _csvfmt.float_digits_exact(v)
    for a, mi, xi in zip(v.tolist(), m.tolist(), x.tolist(), strict=True):
        mant, exp = (E11 % a).split("e")
        assert (mi, xi) == (int(mant.replace(".", "")), int(exp)), a
    # 1234567890125 is an exact tie: the float product cannot decide it, Python rounds to even
    m, x, n_slow = _csvfmt.float_digits_exact(np.array([1234567890125.0, 1234567890135.0]))
    assert n_slow == 2 and m.tolist() == [123456789012, 123456789014] and x.tolist() == [12, 12]
    # realistic columns: well under 1e-3 of the values take the slow path
    frame = [r.normal(0, 40, 200_000), r.normal(0.5, 0.05, 200_000),
             r.normal(-1e-3, 5e-3, 200_000), r.normal(2.78, 0.08, 200_000)]
    for col in frame:
        n_slow = _csvfmt.float_digits_exact(col)[2]
        assert n_slow < 3e-4 * col.size
    m, x, n_slow = _csvfmt.float_digits_exact(np.array([0.0, -0.0, np.inf, np.nan]))
    assert n_slow == 0 and not m.any() and not x.any()


def test_format_floats_buffer():
    v = np.array([1.5, -2.25e-7, np.nan, -np.inf, 1.7976931348623157e308])
    buf, lengths = _csvfmt.format_floats(v)
    assert buf.shape == (5, 24) and buf.dtype == np.uint8 and lengths.dtype == np.int64
    got = [row[:k].tobytes().decode() for row, k in zip(buf, lengths, strict=True)]
    assert got == ["nan" if a != a else G % a for a in v.tolist()]


def test_integers_and_booleans():
    i64 = np.iinfo(np.int64)
    edges = [i64.min, i64.min + 1, i64.max, i64.max - 1, 0, -1, 1, 9, 10, 99, 100, -9, -10]
    edges += [s * (10**k + d) for k in range(1, 19) for d in (-1, 0, 1) for s in (1, -1)]
    r = np.random.default_rng(3)
    ints = np.concatenate([np.array(edges, np.int64),
                           r.integers(i64.min, i64.max, 100_000, dtype=np.int64),
                           r.integers(-1000, 1000, 10_000)])
    want = ("\n".join(str(int(v)) for v in ints) + "\n").encode()
    assert _csvfmt.csv_bytes([ints]) == want
    for dtype in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.uint64):
        info = np.iinfo(dtype)
        col = np.array([info.min, info.max, 0, 1], dtype)
        assert _csvfmt.csv_bytes([col]) == ("\n".join(str(int(v)) for v in col) + "\n").encode()
    b = r.random(1000) > 0.5
    assert _csvfmt.csv_bytes([b]) == ("\n".join("1" if v else "0" for v in b) + "\n").encode()


def mixed_table(n, seed=0):
    r = np.random.default_rng(seed)
    x = r.normal(size=n) * 10.0 ** r.integers(-9, 9, n)
    x[:: max(1, n // 7)] = np.nan
    strs = np.array(["fcc", "hcp", "ico", "bcc", "disordered", "", "Ångström", "氏", "😀"])
    obj = np.array(["fcc", None, 3, 2.5, "a,b"] * (n // 5 + 1), dtype=object)[:n]
    return {
        "i": r.integers(-5, 10**9, n), "x": x, "f32": x.astype(np.float32),
        "b": r.random(n) > 0.5, "u64": np.full(n, 2**64 - 1, np.uint64),
        "u64small": r.integers(0, 2**40, n).astype(np.uint64), "s": strs[r.integers(0, 9, n)],
        "obj": obj, "lst": [f"r{k}" for k in range(n)], "q6": r.normal(0.5, 0.05, n),
        "cna": r.integers(0, 5, n).astype(np.int64), "el": np.full(n, "Pt"),
    }


def compiled_file(path, cols, workers=1):
    with open(path, "wb") as fh:
        _csvfmt.write_table(fh, list(cols), list(cols.values()), workers=workers)
    return path.read_bytes()


@pytest.mark.parametrize("n", [0, 1, 2, 1000, 20_011])
def test_mixed_tables_equal_write_columns(tmp_path, n):
    cols = mixed_table(n, seed=n)
    tables.write_columns(tmp_path / "py.csv", cols, engine="numpy")
    want = (tmp_path / "py.csv").read_bytes()
    assert compiled_file(tmp_path / "c.csv", cols) == want
    rows = list(cols.values())
    for workers in (1, 2, 3):
        for block in (1, 7, 4096, None):
            if block == 1 and n > 2000:
                continue
            got = _csvfmt.csv_bytes(rows, workers=workers, rows_per_block=block)
            assert got == want[want.index(b"\n") + 1:], (workers, block)


def test_frame_like_tables_equal_write_columns(tmp_path):
    """Columns of atoms.csv and bonds.csv with realistic magnitudes, in 2 threads."""
    r = np.random.default_rng(4)
    n = 30_000
    atoms = {c: r.normal(0.0, 40.0, n) for c in ("x", "y", "z")}
    atoms |= {"cn": r.integers(3, 13, n), "q6": r.normal(0.5, 0.05, n),
              "w6": r.normal(-1e-3, 5e-3, n), "crystalline": r.random(n) > 0.3,
              "nn_distance": r.normal(2.77, 0.05, n), "structure_cna": r.integers(0, 5, n),
              "structure_boo": np.array(["fcc", "hcp", "disordered"])[r.integers(0, 3, n)],
              "element": np.full(n, "Pt")}
    i = np.sort(r.integers(0, n, 6 * n))
    bonds = {"i": i, "j": i + r.integers(1, 200, 6 * n), "distance": r.normal(2.78, 0.08, 6 * n),
             "s6": r.normal(0.8, 0.15, 6 * n)}
    for name, cols in (("atoms", atoms), ("bonds", bonds)):
        tables.write_columns(tmp_path / f"{name}.csv", cols, engine="numpy")
        want = (tmp_path / f"{name}.csv").read_bytes()
        assert compiled_file(tmp_path / f"c_{name}.csv", cols, workers=2) == want, name


def test_rows_follow_a_permutation_and_columns_are_independent():
    """Permuting the rows permutes the lines; a column's cells do not depend on the others."""
    cols = mixed_table(500, seed=9)
    rows = list(cols.values())
    lines = _csvfmt.csv_bytes(rows).split(b"\n")[:-1]
    perm = np.random.default_rng(1).permutation(500)
    permuted = [np.asarray(c, dtype=object if isinstance(c, list) else None)[perm] for c in rows]
    assert _csvfmt.csv_bytes(permuted).split(b"\n")[:-1] == [lines[k] for k in perm]
    alone = [_csvfmt.csv_bytes([c]).split(b"\n")[:-1] for c in rows]
    for k, line in enumerate(lines):
        assert line == b",".join(a[k] for a in alone)


def test_bad_input():
    with pytest.raises(ValueError, match="column 1 has 2 rows, expected 3"):
        _csvfmt.csv_bytes([np.arange(3), np.arange(2.0)])
    with pytest.raises(ValueError, match="rows_per_block"):
        _csvfmt.csv_bytes([np.arange(3)], rows_per_block=0)
    with pytest.raises(ValueError, match="names"):
        _csvfmt.write_table(None, ["a"], [np.arange(3), np.arange(3)])
    with pytest.raises(ValueError, match="1-D"):
        _csvfmt.csv_bytes([np.zeros((3, 2))])
    assert _csvfmt.csv_bytes([]) == b""
    assert _csvfmt.csv_bytes([np.array([])]) == b""
    # a lone surrogate cannot be UTF-8: the same error as the text writer's
    with pytest.raises(UnicodeEncodeError):
        _csvfmt.csv_bytes([np.array(["ok", "\ud800"])])


def test_small_tables_do_not_load_numba(tmp_path):
    """nanotraj.tables (the writer of every frame) does not import numba for a small table."""
    code = ("import sys, numpy as np; from nanotraj import tables; "
            f"tables.write_columns({str(tmp_path / 't.csv')!r}, "
            "{'x': np.arange(1000.0), 'n': np.arange(1000)}); "
            "assert 'numba' not in sys.modules, 'numba imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_write_columns_engines_write_the_same_bytes(tmp_path):
    """tables.write_columns: the compiled engine (what "auto" takes for large tables or once the
    formatter is loaded) writes what the Python engine writes, at any thread count."""
    cols = mixed_table(5000, seed=9)
    tables.write_columns(tmp_path / "numpy.csv", cols, engine="numpy")
    want = (tmp_path / "numpy.csv").read_bytes()
    for workers in (1, 2):
        tables.write_columns(tmp_path / "c.csv", cols, engine="compiled", workers=workers)
        assert (tmp_path / "c.csv").read_bytes() == want
    assert "nanotraj._csvfmt" in sys.modules  # loaded: "auto" now takes it for any size
    tables.write_columns(tmp_path / "auto.csv", cols)
    assert (tmp_path / "auto.csv").read_bytes() == want
    with pytest.raises(ValueError, match="unknown engine"):
        tables.write_columns(tmp_path / "x.csv", cols, engine="fast")
