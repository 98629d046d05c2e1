"""Parquet copies of the per-frame tables (config ``outputs.table_format``): the same columns and
values as the CSV files (the CSV's 12-digit numbers, not the unrounded arrays), deterministic
bytes, every reader of the atoms table reading either format, and the workflow run with
``both`` and with ``parquet`` only."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nanotraj import layout, tables
from nanotraj.contract import BOND_COLUMNS

from .conftest import planned_jobs, snakemake

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


# ----------------------------------------------------------------------------------------------
# the CSV's values


def _adversarial(rng):
    return np.concatenate([
        rng.normal(size=5000) * 10.0 ** rng.integers(-40, 40, 5000),  # beyond |X - 11| <= 22 too
        rng.normal(size=2000),
        np.round(rng.normal(size=1000) * 1e4, 3),  # short decimals, as coordinates
        np.arange(1000) + 0.5,  # ties at the 12th digit: 1234567890125.0 and the like
        np.array([1234567890125.0, 1234567890135.0, 9.99999999999995, 0.1, 1e-11, 1e34,
                  5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.0, -0.0,
                  np.inf, -np.inf, np.nan, -np.nan]),
        rng.integers(0, 2**63, 1000, dtype=np.uint64).view(np.float64),  # any bit pattern
    ])


def test_csv_values_are_the_numbers_the_csv_holds(tmp_path):
    rng = np.random.default_rng(11)
    v = _adversarial(rng)
    tables.write_columns(tmp_path / "v.csv", {"v": v}, engine="numpy")
    lines = (tmp_path / "v.csv").read_text().splitlines()[1:]
    want = np.array([float(t) for t in lines])
    for engine in ("numpy", "compiled"):
        got = tables.csv_values(v, engine=engine)
        # bit for bit (NaN as the text "nan" reads back: one NaN; -0.0 keeps its sign)
        assert got.tobytes() == want.tobytes(), engine
    assert not np.array_equal(want, v, equal_nan=True)  # rounding did happen
    assert np.signbit(tables.csv_values([-0.0], engine="compiled"))[0]


# ----------------------------------------------------------------------------------------------
# a real frame, per format


@pytest.fixture(scope="module")
def frame_runs(tmp_path_factory):
    """One small noisy fcc particle through every per-frame stage, once per table format."""
    from nanotraj.io import write_values
    from nanotraj.lattices import fcc_sphere
    from nanotraj.stages import frame as stage

    root = tmp_path_factory.mktemp("frames")
    x = fcc_sphere(12.0, noise=0.05, seed=5)
    src = root / "f.pdb"
    write_values(src, x, np.zeros(len(x)))
    out = {}
    for fmt in layout.TABLE_FORMATS:
        stage.run_frame(src, root / fmt, series="s", frame="f", time=0.0, pdbs=False,
                        table_format=fmt)
        out[fmt] = root / fmt / "s" / "f"
    return out


def test_parquet_columns_equal_the_csv_columns(frame_runs):
    folder = frame_runs["both"]
    for name, ints, text in (("atoms", {"cn", "structure_cna", "domain"},
                              {"structure_boo", "site", "element"}),
                             ("bonds", {"i", "j"}, set())):
        header = tables.table_columns(folder / f"{name}.csv")
        table = pq.read_table(folder / f"{name}.parquet")
        assert table.column_names == header  # same columns, same order
        assert table.num_rows > 100
        numeric = [c for c in header if not pa.types.is_string(table.schema.field(c).type)]
        assert set(header) - set(numeric) == text
        ref = tables.read_columns(folder / f"{name}.csv", numeric)
        for c in numeric:
            got = table.column(c).to_numpy()
            assert np.array_equal(got.astype(np.float64), ref[c], equal_nan=True), c
            if c in ints:
                assert table.schema.field(c).type == pa.int64(), c
        for c in text:
            _, rows = tables.read_rows(folder / f"{name}.csv")
            assert table.column(c).to_pylist() == [r[c] for r in rows], c
    atoms = pq.read_table(folder / "atoms.parquet")
    assert atoms.schema.field("x").type == pa.float64()
    assert atoms.schema.field("surface").type == pa.int8()  # a boolean column: 0/1 as the CSV
    meta = pq.ParquetFile(folder / "atoms.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert tables.read_columns(folder / "bonds.parquet").keys() == set(BOND_COLUMNS)


def test_parquet_holds_the_csv_values_not_the_unrounded_arrays(frame_runs):
    """The decision: the Parquet tables hold the CSV's numbers (12 significant digits), so every
    reader gets the same values from either file."""
    from nanotraj.stages.frame import frame_files

    work, _ = frame_files(frame_runs["both"].parent.parent, "s", "f")
    exact = tables.load_arrays(work["bonds"])["distances"]
    stored = pq.read_table(frame_runs["both"] / "bonds.parquet").column("distance").to_numpy()
    assert np.array_equal(stored, tables.csv_values(exact))
    assert not np.array_equal(stored, exact)  # the arrays themselves have more digits


def test_csv_default_writes_no_parquet_and_the_same_bytes(frame_runs):
    csv, both, parquet = frame_runs["csv"], frame_runs["both"], frame_runs["parquet"]
    names = {p.name for p in csv.iterdir()}
    assert "atoms.csv" in names and "bonds.csv" in names
    assert not any(n.endswith(".parquet") for n in names)
    assert {p.name for p in both.iterdir()} == names | {"atoms.parquet", "bonds.parquet"}
    assert {p.name for p in parquet.iterdir()} == (names - {"atoms.csv", "bonds.csv"}
                                                    | {"atoms.parquet", "bonds.parquet"})
    for name in names:  # every CSV, and atoms.extxyz (made from the CSV's text), unchanged
        assert filecmp.cmp(csv / name, both / name, shallow=False), name
        if (parquet / name).exists():
            assert filecmp.cmp(csv / name, parquet / name, shallow=False), name
    for name in ("atoms.parquet", "bonds.parquet"):  # two runs, the same bytes
        assert filecmp.cmp(both / name, parquet / name, shallow=False), name


def test_read_table_gives_the_same_values_from_either_format(frame_runs):
    folder = frame_runs["both"]
    for rows in (None, lambda n, header: [7, 0, n - 1, 3]):
        h1, n1, a = tables.read_table(folder / "atoms.csv", rows=rows)
        h2, n2, b = tables.read_table(folder / "atoms.parquet", rows=rows)
        assert h1 == h2 and n1 == n2 and list(a) == list(b)
        for c in a:
            assert a[c].dtype == b[c].dtype, c
            if a[c].dtype == object:
                assert a[c].tolist() == b[c].tolist(), c
            else:
                assert a[c].tobytes() == b[c].tobytes(), c
        assert a["site"].dtype == object and a["x"].dtype == np.float64


def test_snapshot_and_viewer_read_parquet(frame_runs, tmp_path):
    from nanotraj.stages import figures

    folder = frame_runs["both"]
    rdf, summary = folder / "rdf.csv", folder / "summary.csv"
    pages = {}
    for ext in ("csv", "parquet"):
        atoms = folder / f"atoms.{ext}"
        figures.plot_snapshot(summary, rdf, atoms, tmp_path / f"{ext}.png")
        figures.build_viewer([atoms], [summary], tmp_path / f"{ext}.html", series="s")
        pages[ext] = (tmp_path / f"{ext}.png").read_bytes(), (tmp_path / f"{ext}.html").read_bytes()
    assert pages["csv"] == pages["parquet"]


def test_parquet_bytes_do_not_depend_on_threads_or_engine(tmp_path):
    rng = np.random.default_rng(2)
    table = {"x": rng.normal(size=3000) * 12.3, "cn": rng.integers(0, 13, 3000),
             "surface": rng.random(3000) > 0.5,
             "site": np.array(["bulk", "edge", "vertex"])[rng.integers(0, 3, 3000)]}
    before = pa.cpu_count()
    got = set()
    try:
        for cpus in (1, 2):
            pa.set_cpu_count(cpus)
            for engine in ("numpy", "compiled"):
                path = tmp_path / f"t{cpus}{engine}.parquet"
                tables.write_parquet(path, table, engine=engine)
                got.add(path.read_bytes())
    finally:
        pa.set_cpu_count(before)
    assert len(got) == 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_table_files_per_format():
    assert layout.frame_tables() == {"atoms": "atoms.csv", "bonds": "bonds.csv"}
    assert set(layout.frame_tables("both").values()) == {"atoms.csv", "bonds.csv",
                                                         "atoms.parquet", "bonds.parquet"}
    assert layout.table_name("atoms", "both") == "atoms.parquet"  # the faster read
    assert layout.table_name("atoms", "csv") == "atoms.csv"
    assert layout.table_name("atoms", "parquet") == "atoms.parquet"
    with pytest.raises(ValueError, match="feather"):
        layout.frame_tables("feather")


def test_tables_does_not_import_pyarrow():
    code = ("import sys, nanotraj.tables, nanotraj.stages.frame, nanotraj.config; "
            "assert 'pyarrow' not in sys.modules, 'pyarrow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_pyarrow_is_a_one_line_config_error(monkeypatch):
    from nanotraj import config
    from nanotraj.errors import ConfigError

    monkeypatch.setattr(tables, "have_pyarrow", lambda: False)
    config.check({"outputs": {"table_format": "csv"}})  # csv needs nothing
    for fmt in ("parquet", "both"):
        with pytest.raises(ConfigError) as err:
            config.check({"outputs": {"table_format": fmt}})
        msg = str(err.value)
        assert "\n" not in msg and "outputs.table_format" in msg
        assert "pip install nanotraj[parquet]" in msg


# ----------------------------------------------------------------------------------------------
# the workflow: csv (default), parquet only (per-frame rules), both (chunks)


@pytest.fixture(scope="module")
def workflow_runs(tmp_path_factory):
    from .test_chunks import CONFIG, write_series

    runs = {}
    for fmt, chunks in (("csv", "0"), ("parquet", "0"), ("both", "3")):
        work = tmp_path_factory.mktemp(fmt)
        write_series(work)
        extra = () if fmt == "csv" else (f"outputs={{table_format: {fmt}}}",)
        snakemake(work, *CONFIG, f"chunk_size={chunks}", *extra)
        runs[fmt] = work
    return runs


def _files(work: Path) -> set[Path]:
    results = work / "results"
    skip = {"logs", "benchmarks", "intermediate"}
    return {p.relative_to(results) for p in results.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(results).parts)
            and p.name != "run.json"}  # fmt: skip


def _same(a: Path, b: Path, files) -> list[str]:
    return [str(p) for p in sorted(files)
            if not filecmp.cmp(a / "results" / p, b / "results" / p, shallow=False)]


@pytest.mark.workflow
def test_workflow_writes_the_configured_tables(workflow_runs):
    csv, parquet, both = (_files(workflow_runs[k]) for k in ("csv", "parquet", "both"))
    tables_of = {k: {p for p in v if p.name.startswith(("atoms.", "bonds."))
                     and p.suffix in (".csv", ".parquet")}
                 for k, v in (("csv", csv), ("parquet", parquet), ("both", both))}
    frames = {p.parent for p in tables_of["csv"]}
    assert len(frames) == 7
    assert tables_of["csv"] == {f / n for f in frames for n in ("atoms.csv", "bonds.csv")}
    assert tables_of["parquet"] == {f / n for f in frames
                                    for n in ("atoms.parquet", "bonds.parquet")}
    assert tables_of["both"] == tables_of["csv"] | tables_of["parquet"]
    # parquet only: every other file as the csv run's, byte for byte (summary.csv, viewer.html,
    # figures, trajectory.extxyz: their readers got the same values from the Parquet tables)
    assert parquet - tables_of["parquet"] == csv - tables_of["csv"]
    assert "summary.csv" in {p.name for p in parquet} and Path("s/viewer.html") in parquet
    assert _same(workflow_runs["csv"], workflow_runs["parquet"],
                 parquet - tables_of["parquet"]) == []
    # both, in chunks: the csv run's files (the frames' figures and PDB files included) and the
    # same Parquet bytes as the per-frame rules of the parquet run
    common = both & csv
    assert common == csv and both - common == tables_of["parquet"]
    assert sum(p.name == "rdf.png" for p in common) == 7
    assert _same(workflow_runs["csv"], workflow_runs["both"], common) == []
    assert _same(workflow_runs["parquet"], workflow_runs["both"], tables_of["parquet"]) == []
    a = pq.read_table(workflow_runs["both"] / "results" / "s" / "f2" / "atoms.parquet")
    ref = tables.read_columns(workflow_runs["both"] / "results" / "s" / "f2" / "atoms.csv",
                              ["x", "Q6", "cn"])
    for c, values in ref.items():
        assert np.array_equal(a.column(c).to_numpy().astype(float), values, equal_nan=True)


@pytest.mark.workflow
def test_the_declared_outputs_follow_the_option(workflow_runs):
    from .test_chunks import CONFIG

    work = workflow_runs["csv"]
    assert planned_jobs(work, *CONFIG, "chunk_size=0") == set()
    jobs = planned_jobs(work, *CONFIG, "chunk_size=0", "outputs={table_format: both}")
    assert {f for rule, f in jobs if rule == "write_frame_table"} == {f"f{k}" for k in range(7)}
