"""Bad input: a corpus of broken, odd and valid frames, run through the real workflow.

Every invalid frame must give one line ``"<file>: <reason>"`` (no traceback from inside the
library) and leave nothing under ``results/{series}/{frame}/`` with ``on_bad_frame: fail``; with
``on_bad_frame: skip`` the series finishes and the frame's summary rows say
``rejected: <reason>`` with empty values. Valid oddities (CRLF, coordinates beyond the PDB columns,
isolated atoms, 2e5 atoms, an unsorted sheet) are analysed correctly. Sheet problems are start-up
errors. The corpus is made by the tests; the many frames share one snakemake run per mode.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nanotraj.contract import (
    ATOM_COLUMNS,
    FACET_COLUMNS,
    PDB_QUANTITIES,
    STRAIN_PROFILE_COLUMNS,
    SUMMARY_COLUMNS,
)
from nanotraj.errors import FrameError
from nanotraj.io import read_frame, write_values

from .conftest import REPO, SNAKEFILE, read_csv, snakemake

pytestmark = pytest.mark.workflow

BASE_FILE = REPO / "resources" / "demo" / "demo_t07.pdb"  # 352 Pt atoms, a roughened fcc particle
SERIES = "s"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0



# ----------------------------------------------------------------------------------------------
# the corpus


@dataclass(frozen=True)
class Bad:
    frame: str  # frame name in the sheet
    file: str  # file name under data/
    reason: str  # a part of the expected reason


def _lines(coords):
    """Fixed-column ATOM records (80 columns) of ``coords``."""
    return [f"ATOM  {k + 1:5d}  PT   PT A{k + 1:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00"
            f"          PT  " for k, (x, y, z) in enumerate(coords)]


def _pdb(coords, newline="\n") -> bytes:
    return newline.join(["REMARK   1 MADE BY THE TESTS", *_lines(coords), "END"]).encode() + \
        newline.encode()


def _edit(lines, k, start, text) -> bytes:
    """The records with line ``k``'s columns ``start..start+len(text)`` replaced by ``text``."""
    out = list(lines)
    out[k] = out[k][:start] + text + out[k][start + len(text):]
    return ("\n".join(out) + "\n").encode()


def _mmcif(coords, far=None) -> bytes:
    """The atoms as an mmCIF file written by gemmi (ending with its last data row); ``far``:
    the first atom's x (mmCIF holds any number)."""
    import gemmi

    st = gemmi.read_pdb_string(_pdb(coords).decode())
    if far is not None:
        st[0][0][0][0].pos = gemmi.Position(far, 0.0, 0.0)
    text = st.make_mmcif_document().as_string()
    return text.rstrip("\n#").encode() + b"\n"


#: The corpus runs read at most this much of a frame file (the decompression bomb's limit).
MAX_FRAME_BYTES = "max_frame_bytes=1000000"


def gas(n=300, half=25.0, hard_core=1.0, seed=7):
    """Random points in a cube with a hard core: g(r) has no first peak and minimum."""
    rng = np.random.default_rng(seed)
    pts = np.empty((0, 3))
    while len(pts) < n:
        p = rng.uniform(-half, half, 3)
        if len(pts) == 0 or np.min(np.linalg.norm(pts - p, axis=1)) > hard_core:
            pts = np.vstack([pts, p])
    return pts


def isolated_sites(coords, k=3, gap=8.0):
    """``k`` positions at least ``gap`` A from every atom of ``coords`` and from each other."""
    lo, hi = coords.min(axis=0) - gap, coords.max(axis=0) + gap
    return np.array([hi, lo, [hi[0], lo[1], lo[2]]])[:k]


def build_corpus(work: Path):
    """Write the frames under ``work/data`` and the (unsorted) sheet ``work/frames.tsv``.

    Returns ``(bad, good)``: a list of :class:`Bad` and a dict frame -> file of valid frames.
    """
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    base = read_frame(BASE_FILE).coords
    lines = _lines(base)
    body = "\n".join(lines)
    models = f"MODEL 1\n{body}\nENDMDL\nMODEL 2\n{body}\nENDMDL\nEND\n".encode()
    square = np.array([[x, y, 0.0] for x in range(6) for y in range(6)]) * 2.77
    rng = np.random.default_rng(1)
    files = {
        # frame: (file, content, reason)
        "empty": ("empty.pdb", b"", "empty file"),
        "remarks": ("remarks.pdb", b"REMARK   1 NOTHING\nREMARK   2 HERE\nEND\n",
                    "no atoms (no ATOM/HETATM records)"),
        "garbage": ("garbage.pdb", rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
                    "binary content"),
        "truncated": ("truncated.pdb", ("\n".join([*lines[:10], lines[10][:44]]) + "\n").encode(),
                      "line 11: ATOM record truncated"),
        "nonnumeric": ("nonnumeric.pdb", _edit(lines, 5, 38, "  19.2x9"),
                       "line 6: y field (columns 39-46) is not a right-justified number"),
        "nan": ("nan.pdb", _edit(lines, 7, 46, "     nan"), "non-finite coordinate"),
        "inf": ("inf.pdb", _edit(lines, 8, 30, "    -inf"), "non-finite coordinate"),
        "atoms1": ("atoms1.pdb", _pdb(base[:1]), "only 1 atoms; at least 4 needed"),
        "atoms2": ("atoms2.pdb", _pdb(base[:2]), "only 2 atoms; at least 4 needed"),
        "atoms3": ("atoms3.pdb", _pdb(base[:3]), "only 3 atoms; at least 4 needed"),
        "coplanar": ("coplanar.pdb", _pdb(square), "the atoms lie in one plane"),
        "flat": ("flat.pdb", _pdb(square + rng.normal(0, 0.01, square.shape)),
                 "the atoms lie in one plane"),
        "collinear": ("collinear.pdb", _pdb(np.outer(np.arange(8) * 2.77, [1, 0, 0])),
                      "the atoms lie on a line"),
        "far": ("far.cif", _mmcif(base, far=2e9), "coordinate beyond +-1e+06 A"),
        "cutpdb": ("cutpdb.pdb", ("\n".join(lines) + "\nATO").encode(),
                   "the file ends inside a record"),
        "cutcif": ("cutcif.cif", _mmcif(base)[:-9], "ends inside a data row"),
        "bomb": ("bomb.pdb.gz", __import__("gzip").compress(b"REMARK" + b" " * 74 * 30_000),
                 "decompressed content larger than max_frame_bytes"),
        "duplicate": ("duplicate.pdb", _pdb(np.vstack([base, base[17] + [0.1, 0, 0]])),
                      "1 pair(s) of atoms closer than 0.5 A"),
        "models": ("models.pdb", models, "2 models; one model per frame expected"),
        "tabs": ("tabs.pdb", _edit(lines, 3, 30, "\t".join(f"{v:.3f}" for v in base[3])
                                   + "\t1.00\t0.00\tPT"), "line 4: tab character"),
        "gas": ("gas.pdb", _pdb(gas()), "minimum"),
    }
    bad = []
    for frame, (name, content, reason) in files.items():
        (data / name).write_bytes(content)
        bad.append(Bad(frame, name, reason))
    # XYZ, extended XYZ, LAMMPS dumps and frames of trajectories: format-specific reasons
    n = len(base)
    xyz_lines = [f"Pt {x:.3f} {y:.3f} {z:.3f}" for x, y, z in base]

    def xyz(lines, count=None, comment="made by the tests"):
        return f"{len(lines) if count is None else count}\n{comment}\n" + "".join(
            f"{ln}\n" for ln in lines)

    def lammps(lines, count=None, columns="id type x y z"):
        return (f"ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n{n if count is None else count}\n"
                "ITEM: BOX BOUNDS pp pp pp\n-50 50\n-50 50\n-50 50\n"
                f"ITEM: ATOMS {columns}\n" + "".join(f"{ln}\n" for ln in lines))

    lmp_lines = [f"{k + 1} 1 {x:.3f} {y:.3f} {z:.3f}" for k, (x, y, z) in enumerate(base)]
    bad_y = list(xyz_lines)
    bad_y[4] = bad_y[4].replace(bad_y[4].split()[2], "19.2x9")
    nan_z = list(xyz_lines)
    nan_z[6] = " ".join([*nan_z[6].split()[:3], "nan"])
    three = list(xyz_lines)
    three[2] = " ".join(three[2].split()[:3])
    traj3 = xyz(xyz_lines) * 3
    cut = xyz(xyz_lines) * 2 + xyz(xyz_lines[:100], count=n)
    other = {  # frame: (file, content, frame_index, reason)
        "xyzshort": ("short.xyz", xyz(xyz_lines[:-2], count=n), None,
                     f"XYZ header says {n} atoms, file has {n - 2} coordinate lines"),
        "xyznonnum": ("nonnum.xyz", xyz(bad_y), None, "line 7: y is not a number: '19.2x9'"),
        "xyznan": ("nan.xyz", xyz(nan_z), None, "non-finite coordinate"),
        "xyzfields": ("fields.xyz", xyz(three), None,
                      "line 5: 3 field(s) in an atom line of XYZ, at least 4 (element x y z)"),
        "extnopos": ("nopos.extxyz", xyz(xyz_lines, comment="Properties=species:S:1:xyz:R:3"),
                     None, "extended XYZ Properties has no pos:R:3 column"),
        "lmpshort": ("short.dump", lammps(lmp_lines[:-1]), None,
                     f"LAMMPS dump says {n} atoms (ITEM: NUMBER OF ATOMS"),
        "lmpnocoord": ("nocoord.dump", lammps(lmp_lines, columns="id type vx vy vz"), None,
                       "ITEM: ATOMS has no complete set of coordinates"),
        "trajbeyond": ("traj3.xyz", traj3, 5, "the file holds 3 complete frame"),
        "trajmulti": ("traj3.xyz", traj3, None, "3 complete frames; one frame per row expected"),
        "trajcut": ("cut.xyz", cut, 2, f"XYZ header says {n} atoms, file has 100 coordinate"),
    }
    for frame, (name, content, index, reason) in other.items():
        (data / name).write_text(content)
        label = name if index is None else f"{name} (frame {index})"
        bad.append(Bad(frame, label, reason))
        FRAME_INDEX[frame] = (name, index)
    # an unreadable file: permissions stop everyone but root; root gets a file that exists and
    # cannot be read by anyone (/proc/self/mem at offset 0: EIO)
    unreadable = data / "unreadable.pdb"
    if not IS_ROOT:
        unreadable.write_bytes(_pdb(base))
        unreadable.chmod(0)
        bad.append(Bad("unreadable", unreadable.name, "permission denied"))
    elif Path("/proc/self/mem").exists():
        unreadable.symlink_to("/proc/self/mem")
        bad.append(Bad("unreadable", unreadable.name, "cannot read: Input/output error"))

    good = {"lf": "lf.pdb", "crlf": "crlf.pdb", "lonely": "lonely.pdb", "xyz": "lf.xyz",
            "trajok": "cut.xyz"}
    FRAME_INDEX["trajok"] = ("cut.xyz", 1)  # the complete frame before a truncated one
    (data / "lf.xyz").write_text(xyz(xyz_lines))
    (data / "lf.pdb").write_bytes(_pdb(base))
    (data / "crlf.pdb").write_bytes(_pdb(base, "\r\n"))
    (data / "lonely.pdb").write_bytes(_pdb(np.vstack([base, isolated_sites(base)])))

    # unsorted, non-monotonic sheet: times are distinct but the rows are shuffled
    frames = [(b.frame, b.file) for b in bad] + list(good.items())
    order = np.random.default_rng(3).permutation(len(frames))
    rows = ["series\tframe\ttime\tpath\tframe_index"]
    for k in order:
        frame, name = frames[k]
        name, index = FRAME_INDEX.get(frame, (name, None))
        index = "" if index is None else index
        rows.append(f"{SERIES}\t{frame}\t{10 * k + 5}\tdata/{name}\t{index}")
    (work / "frames.tsv").write_text("\n".join(rows) + "\n")
    return bad, good


#: Frames whose sheet row names a file other than their Bad.file, or a frame_index: frame ->
#: (file, frame_index or None) (filled by build_corpus).
FRAME_INDEX: dict[str, tuple[str, int | None]] = {}


def frame_files(work, frame):
    return sorted(p for p in (work / "results" / SERIES / frame).rglob("*") if p.is_file())


def line_with(text, *parts):
    """The first line of ``text`` containing every part in order, or None."""
    for ln in text.splitlines():
        pos = 0
        for part in parts:
            pos = ln.find(part, pos)
            if pos < 0:
                break
            pos += len(part)
        else:
            return ln
    return None


@pytest.fixture(scope="module")
def fail_run(tmp_path_factory):
    """The corpus with on_bad_frame=fail and --keep-going (tables and PDBs; no figures)."""
    work = tmp_path_factory.mktemp("fail")
    bad, good = build_corpus(work)
    targets = ["results/summary.csv"]
    targets += [f"results/{SERIES}/{f}/pdb/{q}.pdb" for f in good for q in PDB_QUANTITIES]
    proc = snakemake(work, "--keep-going", *targets, "--config", "frames=frames.tsv",
                     "on_bad_frame=fail", MAX_FRAME_BYTES, check=False)
    return work, bad, good, proc, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def skip_run(tmp_path_factory):
    """The corpus with on_bad_frame=skip: the whole default target, then the HTML report."""
    work = tmp_path_factory.mktemp("skip")
    bad, good = build_corpus(work)
    proc = snakemake(work, "--config", "frames=frames.tsv", "on_bad_frame=skip", MAX_FRAME_BYTES)
    report = snakemake(work, "--report", "report.html", "--config", "frames=frames.tsv",
                       "on_bad_frame=skip", MAX_FRAME_BYTES)
    return work, bad, good, proc.stdout + proc.stderr + report.stdout + report.stderr


def test_corpus_is_large_enough(fail_run):
    _, bad, good, _, _ = fail_run
    # with the sheet errors, the element, the mmCIF-only and 2e5-atom frames below: > 20 kinds
    assert len(bad) >= 26 and len(good) == 5


# ----------------------------------------------------------------------------------------------
# on_bad_frame: fail


def test_fail_mode_names_each_bad_file_and_reason_on_one_line(fail_run):
    _, bad, _, proc, out = fail_run
    assert proc.returncode != 0
    missing = [b.frame for b in bad
               if line_with(out, "Error: ", f"data/{b.file}: ", b.reason) is None]
    assert not missing, f"no one-line '<file>: <reason>' message for {missing}:\n{out[-3000:]}"


def test_fail_mode_shows_no_traceback_from_inside_the_library(fail_run):
    _, _, _, _, out = fail_run
    assert "Traceback (most recent call last)" not in out
    # nor Snakemake's short stack (nanotraj.console.short_errors): the error's line is all
    frames = re.findall(r'File "([^"]+)", line \d+', out)
    assert not frames, f"stack lines in the error output: {sorted(set(frames))}"


def test_fail_mode_leaves_nothing_of_a_bad_frame(fail_run):
    work, bad, _, _, _ = fail_run
    left = {b.frame: frame_files(work, b.frame) for b in bad}
    assert not {k: v for k, v in left.items() if v}
    assert not list((work / "results").rglob("*.tmp")), "temporary files left behind"
    assert not (work / "results" / "summary.csv").exists()


def test_fail_mode_keep_going_finishes_the_valid_frames(fail_run):
    work, _, good, _, _ = fail_run
    for frame in good:
        _, rows = read_csv(work / "results" / SERIES / frame / "summary.csv")
        assert rows[0]["status"] == "ok", frame
        for q in PDB_QUANTITIES:
            assert (work / "results" / SERIES / frame / "pdb" / f"{q}.pdb").is_file()


# ----------------------------------------------------------------------------------------------
# on_bad_frame: skip


def test_skip_mode_records_each_bad_frame_as_rejected(skip_run):
    work, bad, good, _ = skip_run
    for path in (work / "results" / SERIES / "summary.csv", work / "results" / "summary.csv"):
        header, rows = read_csv(path)
        assert header[: len(SUMMARY_COLUMNS)] == list(SUMMARY_COLUMNS)
        by_frame = {r["frame"]: r for r in rows}
        assert set(by_frame) == {b.frame for b in bad} | set(good)
        times = [float(r["time"]) for r in rows]
        assert times == sorted(times), "rows are ordered by time, not by the sheet's order"
        for b in bad:
            row = by_frame[b.frame]
            assert row["status"].startswith("rejected: ") and b.reason in row["status"], row
            assert "\n" not in row["status"]
            filled = {k: v for k, v in row.items()
                      if k not in ("series", "frame", "time", "status") and v != ""}
            assert not filled, f"{b.frame}: a rejected row has values {filled}"
        for frame in good:
            assert by_frame[frame]["status"] == "ok"


def test_skip_and_fail_give_the_same_reason(fail_run, skip_run):
    _, bad, _, _, out = fail_run
    _, rows = read_csv(skip_run[0] / "results" / "summary.csv")
    status = {r["frame"]: r["status"] for r in rows}
    for b in bad:
        line = line_with(out, f"data/{b.file}: ")
        reason = line.split(f"data/{b.file}: ", 1)[1].strip()
        reason = re.sub(r"\s+\[rule \w+\]$", "", reason)  # the failed rule, named after it
        assert status[b.frame] == f"rejected: {reason}", b.frame


def test_skip_mode_rejected_frame_files(skip_run):
    work, bad, _, _ = skip_run
    for b in bad:
        out = work / "results" / SERIES / b.frame
        _, rows = read_csv(out / "summary.csv")
        assert rows[0]["status"].startswith("rejected: ")
        header, atoms = read_csv(out / "atoms.csv")
        assert header[: len(ATOM_COLUMNS)] == list(ATOM_COLUMNS) and atoms == []
        assert (out / "rdf.png").stat().st_size > 0 and (out / "order.png").stat().st_size > 0
        for name, columns in (("strain_profile.csv", STRAIN_PROFILE_COLUMNS),
                              ("facets.csv", FACET_COLUMNS)):
            assert read_csv(out / name) == (list(columns), []), name
        text = (out / "pdb" / "Q6.pdb").read_text()
        assert "rejected" in text
        assert not [ln for ln in text.splitlines() if ln.startswith(("ATOM", "HETATM"))]


def test_report_lists_the_rejected_frames(skip_run):
    work, bad, _, _ = skip_run
    html = (work / "report.html").read_text(errors="replace")
    # the tables are HTML pages (nanotraj.htmltable) embedded in the report, each embedding its
    # CSV for download
    pages = [base64.b64decode(m).decode("utf-8", "replace")
             for m in re.findall(r"data:text/html[^\"]*?base64,([A-Za-z0-9+/=]+)", html)]
    tables = [base64.b64decode(m).decode("utf-8", "replace") for page in pages
              for m in re.findall(r"data:text/csv[^\"]*?base64,([A-Za-z0-9+/=]+)", page)]
    assert tables, "no CSV table embedded in the report"
    _, rows = read_csv(work / "results" / "summary.csv")
    for b in bad:
        status = next(r["status"] for r in rows if r["frame"] == b.frame)
        assert any(status in t for t in tables), f"{b.frame}: '{status}' not in the report"
        assert f'"frame": "{b.frame}"' in html, f"{b.frame}: no figure labelled with the frame"
    # and the report's own list of rejected frames, one row each with the reason
    _, listed = read_csv(work / "results" / "rejected.csv")
    assert sorted(r["frame"] for r in listed) == sorted(b.frame for b in bad)
    for r in listed:
        status = next(x["status"] for x in rows if x["frame"] == r["frame"])
        assert status == f"rejected: {r['reason']}"
    assert "rejected.html" in html and any("rejected.csv" in p for p in pages)


# ----------------------------------------------------------------------------------------------
# valid oddities, analysed correctly (in the skip run, which also draws the figures)


def _columns(path, names):
    _, rows = read_csv(path)
    return {n: np.array([float(r[n]) for r in rows]) for n in names}


def test_crlf_frame_equals_lf_frame(skip_run):
    work = skip_run[0]
    lf, crlf = work / "results" / SERIES / "lf", work / "results" / SERIES / "crlf"
    for rel in ("atoms.csv", "bonds.csv", "rdf.csv", *(f"pdb/{q}.pdb" for q in PDB_QUANTITIES)):
        assert (lf / rel).read_bytes() == (crlf / rel).read_bytes(), rel


def test_valid_frame_is_analysed(skip_run):
    work = skip_run[0]
    out = work / "results" / SERIES / "lf"
    ref = read_frame(BASE_FILE).coords
    atoms = _columns(out / "atoms.csv", ["x", "y", "z", "cn", "q6", "Q6"])
    np.testing.assert_array_equal(np.column_stack([atoms["x"], atoms["y"], atoms["z"]]), ref)
    _, bonds = read_csv(out / "bonds.csv")
    assert atoms["cn"].sum() == 2 * len(bonds) > 0
    assert ((atoms["q6"] >= 0) & (atoms["q6"] <= 1)).all()
    _, rows = read_csv(out / "summary.csv")
    assert rows[0]["status"] == "ok" and int(rows[0]["n_atoms"]) == len(ref)
    assert 3.0 < float(rows[0]["cutoff"]) < 3.7


def test_atoms_without_neighbours_get_zero_order_and_nan_distance(skip_run):
    work = skip_run[0]
    lonely, lf = work / "results" / SERIES / "lonely", work / "results" / SERIES / "lf"
    names = ["cn", "cn_lattice", "q4", "q6", "Q4", "Q6", "w4", "w6", "W4", "W6", "C6",
             "crystalline", "nn_distance"]
    got = _columns(lonely / "atoms.csv", names)
    n = len(read_frame(BASE_FILE).coords)
    assert len(got["cn"]) == n + 3
    for name in names[:-1]:
        assert (got[name][n:] == 0).all(), name
    assert np.isnan(got["nn_distance"][n:]).all()
    assert not np.isnan(got["nn_distance"][:n]).any()
    # the particle's own atoms keep their bonds
    _, s_lonely = read_csv(lonely / "summary.csv")
    _, s_lf = read_csv(lf / "summary.csv")
    assert s_lonely[0]["cutoff"] == s_lf[0]["cutoff"]
    assert s_lonely[0]["n_bonds"] == s_lf[0]["n_bonds"]
    np.testing.assert_array_equal(got["cn"][:n], _columns(lf / "atoms.csv", ["cn"])["cn"])


@pytest.fixture(scope="module")
def gas_fixed_cutoff(tmp_path_factory):
    work = tmp_path_factory.mktemp("gas")
    (work / "gas.pdb").write_bytes(_pdb(gas()))
    (work / "frames.tsv").write_text("series\tframe\ttime\tpath\ng\tgas\t0\tgas.pdb\n")
    snakemake(work, "results/g/gas/summary.csv", "--config", "frames=frames.tsv", "cutoff=3.0")
    return work


def test_gas_is_fine_with_a_fixed_cutoff(gas_fixed_cutoff):
    _, rows = read_csv(gas_fixed_cutoff / "results" / "g" / "gas" / "summary.csv")
    assert rows[0]["status"] == "ok" and float(rows[0]["cutoff"]) == 3.0
    assert int(rows[0]["n_atoms"]) == 300


def test_gas_message_says_g_of_r_has_no_first_minimum(fail_run):
    _, bad, _, _, out = fail_run
    line = line_with(out, "data/gas.pdb: ")
    assert "g(r)" in line and "cutoff" in line, line


# ----------------------------------------------------------------------------------------------
# frames beyond the PDB format: valid input (mmCIF), a problem only for the PDB outputs


def huge_cluster(n=200_000, seed=5):
    """``n`` atoms of a noisy fcc ball (a = 3.912 A), in file order from the lattice generator."""
    from nanotraj.lattices import fcc_sphere

    x = fcc_sphere(100.0, noise=0.03, seed=seed)
    d = np.linalg.norm(x - x.mean(axis=0), axis=1)
    return x[np.sort(np.argsort(d, kind="stable")[:n])]


@pytest.fixture(scope="module")
def big_frames(tmp_path_factory):
    work = tmp_path_factory.mktemp("big")
    base = read_frame(BASE_FILE).coords
    write_values(work / "far.cif", base + [20000.0, -5000.0, 0.0], np.zeros(len(base)))
    x = huge_cluster()
    write_values(work / "huge.cif", x, np.zeros(len(x)))
    return work, base, x


def test_far_coordinates_are_read_from_mmcif(big_frames, tmp_path):
    from nanotraj.stages.frame import run_frame

    work, base, _ = big_frames
    f = read_frame(work / "far.cif")
    np.testing.assert_allclose(f.coords, base + [20000.0, -5000.0, 0.0], rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="fit the PDB"):
        write_values(tmp_path / "far.pdb", f.coords, np.zeros(f.n_atoms))
    # the analysis does not depend on where the particle is
    far = run_frame(work / "far.cif", tmp_path, series="x", frame="far", time=0, pdbs=False)
    near = run_frame(BASE_FILE, tmp_path, series="x", frame="near", time=0, pdbs=False)
    a, b = read_csv(far["atoms"])[1], read_csv(near["atoms"])[1]
    for col in ("cn", "cn_lattice", "crystalline", "structure_boo"):
        assert [r[col] for r in a] == [r[col] for r in b], col
    for col in ("q4", "q6", "Q4", "Q6", "w6", "W6", "C6", "d_center", "nn_distance"):
        np.testing.assert_allclose([float(r[col]) for r in a], [float(r[col]) for r in b],
                                   rtol=0, atol=1e-9, err_msg=col)


def test_huge_mmcif_frame_is_read_and_bonded(big_frames):
    from nanotraj.bonds import bond_counts, find_bonds

    work, _, x = big_frames
    f = read_frame(work / "huge.cif")
    assert f.n_atoms == 200_000
    np.testing.assert_allclose(f.coords, x, rtol=0, atol=5e-5 + 1e-9)
    bonds, _ = find_bonds(f.coords, 3.41)
    cn = bond_counts(f.n_atoms, bonds)
    inner = np.linalg.norm(f.coords - f.coords.mean(axis=0), axis=1) < 60.0
    assert (cn[inner] == 12).all() and cn.max() == 12


@pytest.mark.slow
def test_frames_beyond_pdb_limits_complete_in_the_workflow(big_frames):
    """Frames the PDB format cannot hold get full mmCIF files and REMARK-only PDB files."""
    work = big_frames[0]
    # per_value_pdb: true writes the 200,000-atom frame's files (auto stops at 100,000 atoms)
    (work / "config.yaml").write_text("cutoff: 3.41\nrdf:\n  dr: 0.02\n  r_max: 5.0\n"
                                      "outputs:\n  per_value_pdb: true\n")
    (work / "frames.tsv").write_text(
        "series\tframe\ttime\tpath\nb\tfar\t0\tfar.cif\nb\thuge\t1\thuge.cif\n")
    targets = [f"results/b/{f}/{name}" for f in ("far", "huge")
               for name in ("summary.csv", *(f"pdb/{q}.pdb" for q in PDB_QUANTITIES))]
    snakemake(work, *targets, "--configfile", "config.yaml", "--config", "frames=frames.tsv")
    import gemmi

    for frame, n in (("far", 352), ("huge", 200_000)):
        out = work / "results" / "b" / frame
        _, rows = read_csv(out / "summary.csv")
        assert rows[0]["status"] == "ok" and int(rows[0]["n_atoms"]) == n
        st = gemmi.read_structure(str(out / "pdb" / "Q6.cif"))
        assert st[0].count_atom_sites() == n
        pdb = (out / "pdb" / "Q6.pdb").read_text()
        assert "are in Q6.cif" in pdb and "REMARK" in pdb
        assert gemmi.read_structure(str(out / "pdb" / "Q6.pdb"))[0].count_atom_sites() == 0


# ----------------------------------------------------------------------------------------------
# sheet problems: start-up errors (nothing runs)

STARTUP = {
    "duplicate frames": ("s\ta\t0\ta.pdb\ns\ta\t1\tb.pdb\n", [], "duplicate frame(s)", "s/a"),
    "empty sheet": ("", [], "the frames sheet has no frames", ""),
    "equal times": ("s\ta\t0\ta.pdb\ns\tb\t0\tb.pdb\n", [], "several frames at the same time", ""),
    "non-numeric time": ("s\ta\tten\ta.pdb\n", [], "time 'ten' is not a number", ""),
    "missing file": ("s\ta\t0\ta.pdb\ns\tb\t1\tgone.pdb\n", [], "1 frame file(s) do not exist",
                     "gone.pdb"),
    "unknown element (config)": ("s\ta\t0\ta.pdb\n", ["element=Xx"], "element 'Xx' is not in", ""),
    # schema violations name the row (the sheet is validated in one call, then row by row)
    "series name with a space": ("s\ta\t0\ta.pdb\nbad name\tb\t1\tb.pdb\n", [],
                                 "line 3 is invalid", "'bad name' does not match"),
    "reserved series name": ("logs\ta\t0\ta.pdb\n", [], "line 2 is invalid",
                             "'logs' should not be valid"),
    # line numbers are the file's: comment and blank lines count
    "line numbers count comments": ("# a comment\n\ns\ta\tten\ta.pdb\n", [],
                                    "line 4: time 'ten' is not a number", ""),
    # names of the workflow's own files (results/s/summary.csv beside results/s/{frame}/)
    "frame named like an output file": ("s\tsummary.csv\t0\ta.pdb\n", [],
                                        "line 2: frame name 'summary.csv' ends like a file", ""),
    "series named like an output file": ("rejected.csv\ta\t0\ta.pdb\n", [],
                                         "series name 'rejected.csv' ends like a file", ""),
    "more fields than the header": ("s\ta\t0\ta.pdb\textra\n", [],
                                    "line 2 has 5 fields, the header 4", ""),
    # nan passes JSON-schema bounds (comparisons with nan are false): refused before
    "nan in the config": ("s\ta\t0\ta.pdb\n", ["cutoff=nan", "rdf={dr: nan}"],
                          "cutoff, rdf.dr must be a finite number", ""),
    "nan minimum distance": ("s\ta\t0\ta.pdb\n", ["min_distance=nan"],
                             "min_distance must be a finite number", ""),
    # the config schema's failures: the key and the reason, not the schema excerpt
    "config value not in the schema's list": ("s\ta\t0\ta.pdb\n", ["on_bad_frame=maybe"],
                                              "key on_bad_frame: 'maybe' is not one of", ""),
    "config value below the schema's bound": ("s\ta\t0\ta.pdb\n", ["rdf={dr: -1}"],
                                              "key rdf.dr: -1 is less than or equal to", "bin"),
}


@pytest.mark.parametrize("kind", list(STARTUP))
def test_sheet_problems_are_startup_errors(tmp_path, kind):
    rows, config, reason, detail = STARTUP[kind]
    base = _pdb(read_frame(BASE_FILE).coords)
    (tmp_path / "a.pdb").write_bytes(base)
    (tmp_path / "b.pdb").write_bytes(base)
    (tmp_path / "frames.tsv").write_text("series\tframe\ttime\tpath\n" + rows)
    proc = snakemake(tmp_path, "--config", "frames=frames.tsv", *config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    line = line_with(out, reason)
    assert line is not None, out
    assert detail in line
    assert "Traceback (most recent call last)" not in out
    # one line: no Snakemake "in file .../common.smk, line N" nor schema excerpt around it
    assert line.startswith("Error: "), out
    assert ".smk" not in out and "Snakefile" not in out and "Failed validating" not in out, out
    assert not (tmp_path / "results").exists(), "nothing may run after a start-up error"


def test_a_capitalised_element_column_is_an_error(tmp_path):
    """`Element` would have been an extra column, silently ignored."""
    (tmp_path / "a.pdb").write_bytes(_pdb(read_frame(BASE_FILE).coords))
    (tmp_path / "frames.tsv").write_text("series\tframe\ttime\tpath\tElement\ns\ta\t0\ta.pdb\tAu\n")
    proc = snakemake(tmp_path, "--config", "frames=frames.tsv", check=False)
    line = line_with(proc.stdout + proc.stderr, "column 'Element': column names are lower case")
    assert proc.returncode != 0 and line is not None


@pytest.mark.parametrize("header, hint", [("series,frame,time,path", "comma-separated?"),
                                          ("Series\tFrame\tTime\tPath", "lower case")])
def test_a_sheet_header_gets_a_hint(tmp_path, header, hint):
    (tmp_path / "a.pdb").write_bytes(_pdb(read_frame(BASE_FILE).coords))
    sep = "," if "," in header else "\t"
    (tmp_path / "frames.tsv").write_text(f"{header}\n" + sep.join(["s", "a", "0", "a.pdb"]) + "\n")
    proc = snakemake(tmp_path, "--config", "frames=frames.tsv", check=False)
    out = proc.stdout + proc.stderr
    line = line_with(out, "missing column(s)")
    assert proc.returncode != 0 and line is not None and hint in line, out
    assert "Traceback (most recent call last)" not in out


def test_nested_config_values_given_on_the_command_line_are_typed(tmp_path):
    """`--config "rdf={dr: 0.05}"` reaches the workflow as strings (YAML BaseLoader): they are
    read as the numbers the user wrote, and the other rdf keys keep their defaults."""
    (tmp_path / "a.pdb").write_bytes(_pdb(read_frame(BASE_FILE).coords))
    (tmp_path / "frames.tsv").write_text("series\tframe\ttime\tpath\ns\ta\t0\ta.pdb\n")
    snakemake(tmp_path, "results/s/a/rdf.csv", "--config", "frames=frames.tsv",
              "rdf={dr: 0.05, max_centres: 100}", "tracking={align: true}")
    _, rows = read_csv(tmp_path / "results" / "s" / "a" / "rdf.csv")
    r = np.array([float(x["r"]) for x in rows])
    np.testing.assert_allclose(np.diff(r), 0.05, atol=1e-9)
    assert r[-1] == pytest.approx(15.0 - 0.025, abs=1e-9)  # r_max kept its default (15 A)


def test_unknown_element_in_a_sheet_row_is_a_startup_error(tmp_path):
    (tmp_path / "a.pdb").write_bytes(_pdb(read_frame(BASE_FILE).coords))
    (tmp_path / "frames.tsv").write_text("series\tframe\ttime\tpath\telement\ns\ta\t0\ta.pdb\tUu\n")
    proc = snakemake(tmp_path, "--config", "frames=frames.tsv", check=False)
    assert proc.returncode != 0
    assert line_with(proc.stdout + proc.stderr, "element 'Uu' is not in") is not None
    assert not (tmp_path / "results").exists()


def test_unreadable_file_by_permissions(tmp_path):
    """chmod 000 at library level (the workflow corpus covers the same path with a real file)."""
    if IS_ROOT:
        pytest.skip("running as root: chmod 000 does not stop reads; the workflow corpus uses "
                    "/proc/self/mem (EIO) as its unreadable file instead")
    p = tmp_path / "secret.pdb"
    p.write_bytes(_pdb(read_frame(BASE_FILE).coords))
    p.chmod(0)
    try:
        with pytest.raises(FrameError, match="permission denied"):
            read_frame(p)
    finally:
        p.chmod(0o644)


def test_min_distance_is_a_config_key(tmp_path):
    """A frame with one pair 0.3 A apart: bad at the default 0.5 A, analysed at 0.2 A."""
    coords = read_frame(BASE_FILE).coords
    coords = np.vstack([coords, coords[:1] + [0.3, 0.0, 0.0]])
    (tmp_path / "a.pdb").write_bytes(_pdb(coords))
    (tmp_path / "frames.tsv").write_text("series\tframe\ttime\tpath\ns\ta\t0\ta.pdb\n")
    target = "results/s/a/summary.csv"
    proc = snakemake(tmp_path, target, "--config", "frames=frames.tsv", check=False)
    assert proc.returncode != 0
    assert line_with(proc.stdout + proc.stderr, "closer than 0.5 A (duplicates?)") is not None
    snakemake(tmp_path, target, "--config", "frames=frames.tsv", "min_distance=0.2")
    _, rows = read_csv(tmp_path / target)
    assert rows[0]["status"] == "ok" and int(rows[0]["n_atoms"]) == len(coords)


def test_fate_files_carry_the_previous_frames_element(tmp_path):
    """fate.pdb holds frame t-1's atoms: with the sheet's elements Pt then Au they are Pt (they
    were labelled with frame t's element)."""
    import gemmi

    coords = read_frame(BASE_FILE).coords
    (tmp_path / "a.pdb").write_bytes(_pdb(coords))
    (tmp_path / "b.pdb").write_bytes(_pdb(coords[5:]))
    (tmp_path / "frames.tsv").write_text(
        "series\tframe\ttime\tpath\telement\ns\ta\t0\ta.pdb\tPt\ns\tb\t1\tb.pdb\tAu\n")
    snakemake(tmp_path, "results/s/b/fate.pdb", "results/s/b/fate.cif",
              "--config", "frames=frames.tsv")
    for name in ("fate.pdb", "fate.cif"):
        st = gemmi.read_structure(str(tmp_path / "results" / "s" / "b" / name))
        assert {cra.atom.element.name for cra in st[0].all()} == {"Pt"}
        assert st[0].count_atom_sites() == len(coords)


def test_duplicates_kept_by_min_distance_zero_are_named_when_g_of_r_fails(tmp_path):
    from nanotraj.stages import frame as stage

    coords = read_frame(BASE_FILE).coords
    (tmp_path / "dup.pdb").write_bytes(_pdb(np.vstack([coords, coords[:40]])))
    w, f = stage.frame_files(tmp_path, "s", "dup")
    stage.parse_frame(tmp_path / "dup.pdb", w["frame"], min_distance=0)
    with pytest.raises(FrameError) as info:
        stage.compute_rdf(w["frame"], f["rdf"], w["rdf"])
    assert str(info.value).endswith("(40 pair(s) of atoms closer than 0.5 A: duplicated atoms?)")


# ----------------------------------------------------------------------------------------------
# hostile input: failures the checks do not foresee, absurd density, config values, special files


def test_any_failure_of_a_stage_is_a_rejection_in_skip_mode(tmp_path, monkeypatch):
    """A stage failing for a reason no check foresaw (here the BOO raising a ValueError) rejects
    the frame in skip mode: every later file says so, and the traceback is in the log."""
    from nanotraj import order
    from nanotraj.stages.frame import frame_files, run_frame

    def broken(*args, **kwargs):
        raise ValueError("something the checks did not foresee\nsecond line")

    monkeypatch.setattr(order, "boo", broken)
    files = run_frame(BASE_FILE, tmp_path, series="s", frame="f", time=0.0, on_bad_frame="skip")
    _, rows = read_csv(files["summary"])
    reason = "bond-orientational order failed: ValueError: something the checks did not foresee"
    assert rows[0]["status"] == f"rejected: {reason}" and rows[0]["n_atoms"] == ""
    assert files["Q6"].read_text().startswith("REMARK")
    work, _ = frame_files(tmp_path, "s", "f")
    from nanotraj.stages.frame import compute_boo

    log = tmp_path / "boo.log"
    compute_boo(work["frame"], work["bonds"], tmp_path / "boo.npz", log=log, on_bad_frame="skip")
    text = log.read_text()
    assert "Traceback" in text and "ValueError" in text and text.rstrip().endswith(
        f"rejected: {reason} in " + text.rstrip().rsplit(" in ", 1)[1])
    with pytest.raises(FrameError, match=f"demo_t07.pdb: {reason}$"):
        compute_boo(work["frame"], work["bonds"], tmp_path / "boo.npz", on_bad_frame="fail")


def test_absurdly_dense_frame_is_refused_before_the_bonds_fill_the_memory(tmp_path):
    from nanotraj.stages.frame import find_bonds, frame_files, parse_frame
    from nanotraj.tables import load_arrays

    rng = np.random.default_rng(0)
    pile = np.vstack([read_frame(BASE_FILE).coords[:40]] * 30) + rng.normal(0, 0.05, (1200, 3))
    src = tmp_path / "pile.pdb"
    src.write_bytes(_pdb(pile))
    work, _ = frame_files(tmp_path, "s", "pile")
    parse_frame(src, work["frame"], min_distance=0)
    from nanotraj.tables import save_arrays

    save_arrays(work["rdf"], cutoff=np.array(8.0), cutoff_method=np.array("fixed"))
    with pytest.raises(FrameError, match=r"pairs of atoms within the cutoff 8.0000 A \(\d+ per "
                                         r"atom; a metal has 12-14\)"):
        find_bonds(work["frame"], work["rdf"], work["bonds"])
    find_bonds(work["frame"], work["rdf"], work["bonds"], on_bad_frame="skip")
    assert str(load_arrays(work["bonds"])["status"]).startswith("rejected: ")


@pytest.mark.parametrize(("setting", "message"), [
    ("rdf={dr: 1e-9}", "rdf.r_max / rdf.dr = 1.5e+10 bins of g(r); at most 200,000"),
    ("time_unit=$\\badcmd$", "time_unit"),
    ("max_frame_bytes=10", "max_frame_bytes"),
])
def test_config_values_that_would_crash_jobs_are_start_up_errors(tmp_path, setting, message):
    (tmp_path / "a.pdb").write_bytes(_pdb(read_frame(BASE_FILE).coords))
    (tmp_path / "frames.tsv").write_text("series\tframe\ttime\tpath\ns\ta\t0\ta.pdb\n")
    proc = snakemake(tmp_path, "-n", "--config", "frames=frames.tsv", setting, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out
    assert not (tmp_path / "results").exists()


def test_time_unit_with_mathtext_is_drawn_literally(tmp_path):
    from nanotraj.plots import plot_timeseries

    rows = [{"series": "s", "frame": f"f{k}", "time": str(k), "n_atoms": "100", "status": "ok",
             "cn_mean": "11"} for k in range(3)]
    plot_timeseries(rows, tmp_path / "t.png", time_unit="$x^$")  # a bad mathtext expression
    assert (tmp_path / "t.png").stat().st_size > 1000


def test_sheet_naming_a_fifo_is_a_start_up_error_and_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.pdb")
    (tmp_path / "frames.tsv").write_text("series\tframe\ttime\tpath\ns\ta\t0\tpipe.pdb\n")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--cores", "1",
                           "--config", "frames=frames.tsv"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "not a regular file (a folder, pipe or device): pipe.pdb (line 2)" in proc.stderr
