"""Input formats through the real workflow (one snakemake run): a PDB frame and the same atoms as
XYZ give identical results, a nm file the results of the Angstrom file, an extended-XYZ
trajectory written by ASE and a LAMMPS dump (scaled coordinates, shuffled ids, two types, an atom
count that changes) analysed frame by frame with the files' times; atoms.extxyz and
trajectory.extxyz read back by ASE with every atoms.csv column; a series of one frame gets
snapshot.png instead of time panels and tracking figures."""

from __future__ import annotations

import csv
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from nanotraj.io import read_frame

from .conftest import REPO, read_csv, snakemake

pytestmark = pytest.mark.workflow
ase = pytest.importorskip("ase")

DEMO = REPO / "resources" / "demo"



def write_inputs(work: Path):
    """The frames of the run and its sheet (partly written by nanotraj-sheet)."""
    from ase import Atoms
    from ase.io import write

    from nanotraj.sheet import build_rows, format_sheet

    data = work / "data"
    data.mkdir()
    shutil.copy(DEMO / "demo_t00.pdb", data / "a.pdb")
    x = read_frame(DEMO / "demo_t00.pdb").coords
    n = len(x)
    (data / "a.xyz").write_text(f"{n}\nthe PDB's atoms\n" + "".join(
        f"Pt {a:.3f} {b:.3f} {c:.3f}\n" for a, b, c in x))
    (data / "a_nm.xyz").write_text(f"{n}\nin nm\n" + "".join(
        f"Pt {a / 10:.4f} {b / 10:.4f} {c / 10:.4f}\n" for a, b, c in x))
    traj = []
    for k in range(3):
        y = read_frame(DEMO / f"demo_t0{k}.pdb").coords
        a = Atoms(["Pt"] * len(y), positions=y)
        a.info["time"] = 2.5 * k
        traj.append(a)
    write(data / "traj.extxyz", traj, format="extxyz")
    rng = np.random.default_rng(0)
    dumps, md = [], []
    for k in range(3):
        y = read_frame(DEMO / f"demo_t0{3 + k}.pdb").coords
        lo, hi = y.min(0) - 5.0, y.max(0) + 5.0
        s = (y - lo) / (hi - lo)
        lines = [f"ITEM: TIMESTEP\n{1000 * k}\nITEM: NUMBER OF ATOMS\n{len(y)}\n"
                 "ITEM: BOX BOUNDS pp pp pp\n"
                 + "".join(f"{float(lo[d])!r} {float(hi[d])!r}\n" for d in range(3))
                 + "ITEM: ATOMS id type xs ys zs\n"]
        for i in rng.permutation(len(y)):
            lines.append(f"{i + 1} {1 + i % 2} {float(s[i, 0])!r} {float(s[i, 1])!r} "
                         f"{float(s[i, 2])!r}\n")
        dumps.append("".join(lines))
        md.append(y)
    (data / "run.dump").write_text("".join(dumps))
    rows = [
        {"series": "pdb", "frame": "a", "time": 0.0, "path": "data/a.pdb"},
        {"series": "xyz", "frame": "a", "time": 0.0, "path": "data/a.xyz"},
        {"series": "nm", "frame": "a", "time": 0.0, "path": "data/a_nm.xyz",
         "length_unit": "nm"},
    ]
    rows += build_rows([data / "traj.extxyz"], series="traj")
    rows += build_rows([data / "run.dump"], series="md", type_map="1:Pt,2:Ni")
    for row in rows:
        row["path"] = str(Path(row["path"]).relative_to(work)) if Path(
            row["path"]).is_absolute() else row["path"]
    (work / "frames.tsv").write_text(format_sheet(rows))
    return {"traj": traj, "md": md}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("formats")
    made = write_inputs(work)
    proc = snakemake(work, "--config", "frames=frames.tsv")
    return work, made, proc.stdout + proc.stderr


def test_sheet_rows_of_the_trajectories(run):
    work, made, _ = run
    _, rows = read_csv_tsv(work / "frames.tsv")
    traj = [r for r in rows if r["series"] == "traj"]
    assert [(r["frame"], r["frame_index"], float(r["time"])) for r in traj] == [
        ("traj_0", "0", 0.0), ("traj_1", "1", 2.5), ("traj_2", "2", 5.0)]
    md = [r for r in rows if r["series"] == "md"]
    assert [float(r["time"]) for r in md] == [0.0, 1000.0, 2000.0]
    assert {r["type_map"] for r in md} == {"1:Pt,2:Ni"}


def read_csv_tsv(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        return reader.fieldnames, list(reader)


def test_pdb_and_xyz_of_the_same_atoms_give_identical_results(run):
    work = run[0] / "results"
    for name in ("atoms.csv", "bonds.csv", "rdf.csv"):
        assert (work / "pdb" / "a" / name).read_bytes() == (work / "xyz" / "a" / name).read_bytes()
    pdb, xyz = (work / s / "a" / "atoms.extxyz" for s in ("pdb", "xyz"))
    assert pdb.read_text().replace('series="pdb"', 'series="xyz"') == xyz.read_text()
    _, (a,) = read_csv(work / "pdb" / "a" / "summary.csv")
    _, (b,) = read_csv(work / "xyz" / "a" / "summary.csv")
    assert {k: v for k, v in a.items() if k != "series"} == {
        k: v for k, v in b.items() if k != "series"}


def test_nm_file_gives_the_results_of_the_angstrom_file(run):
    work = run[0] / "results"
    header, a = read_csv(work / "xyz" / "a" / "atoms.csv")
    _, b = read_csv(work / "nm" / "a" / "atoms.csv")
    assert len(a) == len(b) > 500
    for col in header:
        va, vb = [r[col] for r in a], [r[col] for r in b]
        try:
            fa, fb = np.array(va, dtype=float), np.array(vb, dtype=float)
        except ValueError:  # labels
            assert va == vb, col
            continue
        np.testing.assert_allclose(fb, fa, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=col)
    _, (sa,) = read_csv(work / "xyz" / "a" / "summary.csv")
    _, (sb,) = read_csv(work / "nm" / "a" / "summary.csv")
    for key in ("n_atoms", "n_bonds", "n_disordered", "fraction_fcc_ptm"):
        assert sa[key] == sb[key], key
    assert math.isclose(float(sa["cutoff"]), float(sb["cutoff"]), rel_tol=1e-9)
    log = (run[0] / "results" / "logs" / "nm" / "a" / "parse_frame.log").read_text()
    assert "(converted from nm)" in log


def test_trajectory_frames_with_the_files_times_and_changing_atom_counts(run):
    work, made, _ = run
    _, rows = read_csv(work / "results" / "traj" / "summary.csv")
    assert [float(r["time"]) for r in rows] == [0.0, 2.5, 5.0]
    assert [int(r["n_atoms"]) for r in rows] == [len(a) for a in made["traj"]]
    _, rows = read_csv(work / "results" / "md" / "summary.csv")
    assert [float(r["time"]) for r in rows] == [0.0, 1000.0, 2000.0]
    counts = [int(r["n_atoms"]) for r in rows]
    assert counts == [len(y) for y in made["md"]] and len(set(counts)) == 3
    for k, y in enumerate(made["md"]):  # sorted by id: the file's order before the shuffle
        _, atoms = read_csv(work / "results" / "md" / f"run_{k}" / "atoms.csv")
        xyz = np.array([[float(r["x"]), float(r["y"]), float(r["z"])] for r in atoms])
        np.testing.assert_allclose(xyz, y, rtol=0, atol=1e-9)
        assert [r["element"] for r in atoms] == [("Pt", "Ni")[i % 2] for i in range(len(y))]
    _, tracking = read_csv(work / "results" / "md" / "tracking.csv")
    assert len(tracking) == 3


def _ase_columns_equal_csv(atoms, csv_path):
    header, rows = read_csv(csv_path)
    assert len(atoms) == len(rows)
    for col in header:
        text = [r[col] for r in rows]
        if col in ("x", "y", "z"):
            got = atoms.positions[:, "xyz".index(col)]
        elif col == "element":
            assert atoms.get_chemical_symbols() == text
            continue
        else:
            assert col in atoms.arrays, f"{col} not in the extxyz read by ASE"
            got = atoms.arrays[col]
        if got.dtype.kind in "USO":
            assert got.tolist() == text, col
        else:
            want = np.array(text, dtype=float)
            np.testing.assert_array_equal(np.asarray(got, dtype=float), want, err_msg=col)


def test_atoms_extxyz_read_by_ase_has_every_atoms_csv_column(run):
    from ase.io import read

    work = run[0] / "results"
    for series, frame in (("pdb", "a"), ("traj", "traj_1"), ("md", "run_2")):
        a = read(work / series / frame / "atoms.extxyz", format="extxyz")
        _ase_columns_equal_csv(a, work / series / frame / "atoms.csv")
        assert a.info["frame"] == frame and a.info["series"] == series
        assert not a.pbc.any()


def test_trajectory_extxyz_holds_every_frame(run):
    from ase.io import read

    work, made, _ = run
    frames = read(work / "results" / "md" / "trajectory.extxyz", index=":", format="extxyz")
    assert [len(f) for f in frames] == [len(y) for y in made["md"]]
    assert [f.info["time"] for f in frames] == [0.0, 1000.0, 2000.0]
    for k, f in enumerate(frames):
        _ase_columns_equal_csv(f, work / "results" / "md" / f"run_{k}" / "atoms.csv")


def test_a_series_of_one_frame_gets_a_snapshot_figure_and_no_time_panels(run):
    work = run[0] / "results"
    for series in ("pdb", "xyz", "nm"):
        files = {p.name for p in (work / series).iterdir()}
        assert "snapshot.png" in files and "tracking.csv" in files, files
        assert not files & {"timeseries.png", "rdf_series.png", "cn_series.png",
                            "removal_cn.png", "displacements.png"}, files
        assert (work / series / "snapshot.png").stat().st_size > 20_000
    files = {p.name for p in (work / "traj").iterdir()}
    assert {"timeseries.png", "removal_cn.png"} <= files and "snapshot.png" not in files


def planned_rules(workdir, *args):
    out = snakemake(workdir, "-n", "--quiet", "host", *args).stdout
    return {m.group(1) for m in re.finditer(r"(?m)^(?:local)?rule (\w+):", out)}


def test_per_value_pdb_false_plans_no_pdb_files(run, tmp_path):
    work = run[0]
    for name in ("frames.tsv", "data"):
        src = work / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    assert "write_frame_pdbs" in planned_rules(tmp_path, "--config", "frames=frames.tsv")
    rules = planned_rules(tmp_path, "--config", "frames=frames.tsv",
                          "outputs={per_value_pdb: false}")
    assert "write_frame_pdbs" not in rules and "write_frame_table" in rules


def test_per_value_pdb_auto_writes_a_remark_above_the_limit(run, tmp_path, monkeypatch):
    from nanotraj import layout
    from nanotraj.contract import PDB_QUANTITIES
    from nanotraj.stages import frame as stage

    work = run[0]
    root = str(work / "results")
    inputs = {s: layout.intermediate(s, series="pdb", frame="a", root=root)
              for s in ("frame", "boo", "coordination", "neighbour_distance", "structure",
                        "ptm", "lattice")}
    outputs = {q: str(tmp_path / f"{q}.pdb") for q in PDB_QUANTITIES}
    outputs |= {f"{q}_cif": str(tmp_path / f"{q}.cif") for q in PDB_QUANTITIES}
    monkeypatch.setattr(stage, "PER_VALUE_PDB_MAX_ATOMS", 100)
    stage.write_frame_pdbs(inputs, outputs, element="Pt")
    text = Path(outputs["Q6"]).read_text()
    assert "PER_VALUE_PDB AUTO" in text.upper() and "ATOMS.EXTXYZ" in text.upper()
    assert not [ln for ln in text.splitlines() if ln.startswith(("ATOM", "HETATM"))]
    stage.write_frame_pdbs(inputs, outputs, element="Pt", per_value_pdb=True)
    assert sum(ln.startswith("HETATM") for ln in Path(outputs["Q6"]).read_text().splitlines()) \
        == len(read_frame(DEMO / "demo_t00.pdb").coords)


def test_snapshot_figure_draws_the_frames_numbers(run, tmp_path):
    from nanotraj.stages.figures import plot_snapshot

    work = run[0] / "results"
    info = plot_snapshot(work / "pdb" / "summary.csv", work / "pdb" / "a" / "rdf.csv",
                         work / "pdb" / "a" / "atoms.csv", tmp_path / "s.png")
    _, (row,) = read_csv(work / "pdb" / "summary.csv")
    for name, suffix in (("CNA", ""), ("adaptive CNA", "_acna"), ("PTM", "_ptm")):
        for struct in ("fcc", "hcp", "ico", "other"):
            assert info["classifiers"][name][struct] == float(row[f"fraction_{struct}{suffix}"])
    assert info["classifiers"]["BOO classes"]["other"] == float(row["fraction_disordered_boo"])
    core, surface = info["cn_counts"]
    assert core.sum() + surface.sum() == int(row["n_atoms"])
    assert surface.sum() == round(float(row["fraction_surface"]) * int(row["n_atoms"]))
    assert info["numbers"]["atoms"] == row["n_atoms"]
    # a rejected snapshot: a placeholder naming the reason
    bad = tmp_path / "summary.csv"
    bad.write_text("series,frame,time,status\ns,f,0,rejected: no atoms\n")
    assert plot_snapshot(bad, None, None, tmp_path / "r.png") == {"status": "rejected: no atoms"}
    assert (tmp_path / "r.png").stat().st_size > 5_000
