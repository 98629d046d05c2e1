"""atoms.extxyz and trajectory.extxyz opened by OVITO 3.17.2 (its extended-XYZ reader): every
atoms.csv column is present, typed, and equal to atoms.csv; a trajectory whose atom count changes
plays frame by frame.

Runs only where the ``ovito`` Python module is importable (CI: the oracle venv,
``pytest tests/oracle``).  The frames are analysed by the library's loop over the stages
(:func:`nanotraj.stages.frame.run_frame`, the workflow's files without Snakemake).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

ovito = pytest.importorskip("ovito")

from nanotraj import lattices as lat  # noqa: E402
from nanotraj.io import write_values  # noqa: E402
from nanotraj.stages.frame import run_frame  # noqa: E402
from nanotraj.stages.series import write_trajectory  # noqa: E402


def read_csv(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    work = tmp_path_factory.mktemp("extxyz")
    out = []
    for k, radius in enumerate((9.0, 10.5)):
        x = lat.fcc_sphere(radius, 3.912, noise=0.08, seed=k)
        write_values(work / f"f{k}.pdb", x, np.zeros(len(x)))
        files = run_frame(work / f"f{k}.pdb", work / "results", series="s", frame=f"f{k}",
                          time=0.5 * k, pdbs=False)
        out.append(files)
    write_trajectory([f["extxyz"] for f in out], work / "trajectory.extxyz")
    return work, out


def ovito_columns_equal_csv(data, csv_path):
    header, rows = read_csv(csv_path)
    particles = data.particles
    assert particles.count == len(rows)
    for col in header:
        text = [r[col] for r in rows]
        if col in ("x", "y", "z"):
            got = np.asarray(particles["Position"][...])[:, "xyz".index(col)]
        elif col == "element":
            types = particles["Particle Type"]
            got = [types.type_by_id(t).name for t in np.asarray(types[...])]
            assert got == text
            continue
        else:
            assert col in particles.keys(), f"{col} missing in OVITO's particles"
            prop = particles[col]
            if prop.types:  # a text column: a typed property
                got = [prop.type_by_id(t).name for t in np.asarray(prop[...])]
                assert got == text, col
                continue
            got = np.asarray(prop[...])
            if got.dtype.kind in "USO":  # a text column as strings
                assert [str(v) for v in got] == text, col
                continue
        np.testing.assert_array_equal(np.asarray(got, dtype=float),
                                      np.array(text, dtype=float), err_msg=col)


def test_ovito_reads_every_column_of_atoms_extxyz(frames):
    from ovito.io import import_file

    _, files = frames
    for f in files:
        data = import_file(str(f["extxyz"])).compute()
        ovito_columns_equal_csv(data, f["atoms"])
        assert data.attributes["frame"] == f["atoms"].parent.name


def test_ovito_plays_the_trajectory_with_a_changing_atom_count(frames):
    from ovito.io import import_file

    work, files = frames
    pipeline = import_file(str(work / "trajectory.extxyz"))
    assert pipeline.source.num_frames == len(files)
    counts = []
    for k, f in enumerate(files):
        data = pipeline.compute(k)
        counts.append(data.particles.count)
        ovito_columns_equal_csv(data, f["atoms"])
        assert data.attributes["time"] == 0.5 * k
    assert counts[0] != counts[1]
