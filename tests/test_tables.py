"""Deterministic CSV writing and summary aggregation."""

import math
from pathlib import Path

import numpy as np
import pytest

from nanotraj.contract import SUMMARY_COLUMNS
from nanotraj.stages.series import aggregate
from nanotraj.summary import frame_summary, rejected_summary
from nanotraj.tables import read_rows, write_columns, write_summary


def test_write_columns_formats_and_round_trips(tmp_path):
    p = tmp_path / "t.csv"
    x = np.array([1.0 / 3.0, -2.5e-7, np.nan])
    write_columns(p, {"a": np.array([1, 2, 3]), "b": x, "c": np.array([True, False, True])})
    lines = p.read_text().splitlines()
    assert lines[0] == "a,b,c"
    assert lines[1] == "1,0.333333333333,1"
    assert lines[3] == "3,nan,1"
    header, rows = read_rows(p)
    assert header == ["a", "b", "c"]
    assert abs(float(rows[0]["b"]) - 1 / 3) < 1e-12
    assert float(rows[1]["b"]) == -2.5e-7
    assert math.isnan(float(rows[2]["b"]))


def test_write_columns_is_byte_identical_and_leaves_no_temp(tmp_path):
    rng = np.random.default_rng(1)
    cols = {"x": rng.normal(size=1000), "n": rng.integers(0, 12, 1000)}
    write_columns(tmp_path / "a.csv", cols)
    write_columns(tmp_path / "b.csv", cols)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


def _row(frame, time, n=10):
    atoms = {k: np.full(n, 0.5) for k in ("q4", "q6", "Q4", "Q6", "w6", "W6", "C6")}
    atoms.update(
        cn=np.full(n, 12), cn_lattice=np.full(n, 12),
        crystalline=np.arange(n) < n - 2,
        nn_distance=np.r_[np.full(n - 1, 2.77), np.nan],
    )  # fmt: skip
    return frame_summary(series="s", frame=frame, time=time, n_atoms=n, diameter=20.0,
                         cutoff=3.4, n_bonds=60, atoms=atoms, s6=np.array([0.9, 0.7]))


def test_frame_summary_values():
    row = _row("f", 1.0)
    assert list(row) == list(SUMMARY_COLUMNS)
    assert row["n_disordered"] == 2 and row["fraction_disordered"] == 0.2
    assert row["nn_distance_mean"] == 2.77  # NaN of the atom without bonds ignored
    assert abs(row["s6_mean"] - 0.8) < 1e-15


def test_aggregate_orders_by_time_whatever_the_input_order(tmp_path):
    paths = []
    for frame, t in [("c", 30.0), ("a", 10.0), ("b", 20.0)]:
        p = tmp_path / f"{frame}.csv"
        write_summary(p, [_row(frame, t)])
        paths.append(p)
    rej = tmp_path / "r.csv"
    write_summary(rej, [rejected_summary(series="s", frame="r", time=15.0, reason="no atoms")])
    paths.append(rej)
    out1, out2 = tmp_path / "o1.csv", tmp_path / "o2.csv"
    aggregate(paths, out1)
    aggregate(list(reversed(paths)), out2)
    assert out1.read_bytes() == out2.read_bytes()
    header, rows = read_rows(out1)
    assert header == list(SUMMARY_COLUMNS)
    assert [r["frame"] for r in rows] == ["a", "r", "b", "c"]
    assert rows[1]["status"] == "rejected: no atoms" and rows[1]["n_atoms"] == ""


def test_written_files_have_ordinary_permissions(tmp_path):
    import os

    from nanotraj.tables import _UMASK

    write_columns(tmp_path / "p.csv", {"a": np.array([1])})
    mode = os.stat(tmp_path / "p.csv").st_mode & 0o777
    assert mode == 0o666 & ~_UMASK  # not mkstemp's 0600: results are shared on clusters


def test_load_arrays_reads_each_member_on_first_access(tmp_path, monkeypatch):
    """A large stage input is read member by member, only those used, each once (large members
    mapped, the others read); a small file is read whole at once; the values are the saved
    ones; a missing file fails when opened, an unknown member with KeyError."""
    import pytest

    from nanotraj import tables

    rng = np.random.default_rng(0)
    saved = {"bonds": rng.integers(0, 99, (50, 2)), "distances": rng.random(50),
             "cutoff": np.array(3.4)}
    path = tmp_path / "bonds.npz"
    tables.save_arrays(path, **saved)
    reads = []
    real_load = np.load

    def counting_load(*args, **kwargs):
        reads.append(args[0])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(tables.np, "load", counting_load)
    small = tables.load_arrays(path)  # under _MAP_BYTES: one read of everything
    # (by tables._small_members, not numpy.load: tests/test_tables_npz.py)
    assert reads == [] and sorted(small._arrays) == sorted(saved)
    np.testing.assert_array_equal(small["distances"], saved["distances"])
    assert reads == []
    # as if large: the bonds (928 bytes with their header) are mapped, the rest read lazily
    monkeypatch.setattr(tables, "_MAP_BYTES", 600)
    reads.clear()
    data = tables.load_arrays(path)
    assert sorted(data) == sorted(saved) and len(data) == 3 and "distances" in data
    assert reads == [] and data._arrays == {}
    np.testing.assert_array_equal(data["bonds"], saved["bonds"])
    assert isinstance(data["bonds"].base, np.memmap) and reads == []
    assert float(data["cutoff"]) == 3.4 and float(data["cutoff"]) == 3.4
    assert len(reads) == 1  # read once, then kept
    assert sorted(data._arrays) == ["bonds", "cutoff"]  # the bond lengths were never read
    with pytest.raises(KeyError):
        data["nope"]
    with pytest.raises(FileNotFoundError):
        tables.load_arrays(tmp_path / "missing.npz")


def test_write_columns_in_blocks_equals_cell_by_cell(tmp_path, monkeypatch):
    """Columns converted block by block (ints, floats with nan, bools, strings with None) give
    exactly the cells of format_column, whatever the block size."""
    from nanotraj import tables

    rng = np.random.default_rng(2)
    n = 23
    x = rng.normal(size=n) * 10.0 ** rng.integers(-9, 9, n)
    x[[3, 17]] = np.nan
    cols = {"i": rng.integers(-5, 10**9, n), "x": x, "f32": x.astype(np.float32),
            "b": rng.random(n) > 0.5,
            "s": np.array(["fcc", "hcp", None, "disordered"] * 6, dtype=object)[:n]}
    want = [",".join(cells) for cells in zip(*(tables.format_column(v) for v in cols.values()),
                                             strict=True)]
    for block in (1, 5, 1 << 16):
        monkeypatch.setattr(tables, "_ROW_BLOCK", block)
        write_columns(tmp_path / "t.csv", cols)
        lines = (tmp_path / "t.csv").read_text().splitlines()
        assert lines[0] == "i,x,f32,b,s" and lines[1:] == want


def test_stages_on_mapped_inputs_write_the_same_files(tmp_path, monkeypatch):
    """The stages read their large inputs as read-only maps of the files: every stage works on
    them (none writes into an input) and every output is byte-identical to reading them into
    memory; the mapped arrays really are maps of aligned file data."""
    from nanotraj import tables
    from nanotraj.io import write_values
    from nanotraj.lattices import fcc_sphere
    from nanotraj.stages import frame as stage

    x = fcc_sphere(16.0, noise=0.05, seed=3)
    src = tmp_path / "f.pdb"
    write_values(src, x, np.zeros(len(x)))
    outputs = {}
    for label, limit in (("read", 1 << 62), ("mapped", 0)):
        monkeypatch.setattr(tables, "_MAP_BYTES", limit)
        files = stage.run_frame(src, tmp_path / label, series="s", frame="f", time=0.0)
        outputs[label] = {k: Path(p).read_bytes() for k, p in files.items()}
        if label == "mapped":
            w, _ = stage.frame_files(tmp_path / label, "s", "f")
            bonds = tables.load_arrays(w["bonds"])["bonds"]
            assert not bonds.flags.writeable and bonds.flags.aligned
            assert isinstance(bonds.base, np.memmap)
    assert outputs["read"].keys() == outputs["mapped"].keys() and len(outputs["read"]) > 5
    for key, data in outputs["read"].items():
        assert outputs["mapped"][key] == data, key


def test_scale_changes_between_accepted_frames():
    from nanotraj.summary import scale_changes

    rows = [{"status": "ok", "nn_distance_mean": "2.80"},
            {"status": "rejected: x", "nn_distance_mean": ""},
            {"status": "ok", "nn_distance_mean": "2.688"},
            {"status": "ok", "nn_distance_mean": "nan"},
            {"status": "ok", "nn_distance_mean": "2.688"}]
    got = scale_changes(rows)
    assert got[0] is None and got[1] is None and got[3] is None
    assert got[2] == pytest.approx(-0.04) and got[4] == pytest.approx(0.0)


def test_csv_fields_split_as_the_csv_module():
    """csv_fields' comma split (lines without quotes, CR, NUL or empty lines) gives the csv
    module's fields; the other lines go to the csv module (quoted commas, doubled quotes)."""
    import csv
    import random

    from nanotraj.tables import csv_fields

    rng = random.Random(11)
    cells = ["1.5", "", " ", "Pt", "fcc", "-0", "nan", "a b", "é", '"q,1"', '"x""y"', "\r", "z"]
    for _ in range(400):
        width = rng.randint(1, 5)
        header = [f"c{j}" for j in range(width)]
        lines = [",".join(rng.choice(cells) for _ in range(width))
                 for _ in range(rng.randint(1, 6))]
        try:
            rows = list(csv.reader(lines))
        except csv.Error:
            continue
        if any(len(r) != width for r in rows):
            with pytest.raises(ValueError, match="fields"):
                csv_fields(header, lines, "t.csv")
            continue
        expected = {h: [r[j] for r in rows] for j, h in enumerate(header)}
        assert csv_fields(header, lines, "t.csv") == expected, lines
