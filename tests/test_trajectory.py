"""Reading XYZ, extended XYZ, LAMMPS dumps and multi-model PDB/mmCIF frame by frame
(nanotraj.trajectory), against files written by ASE and gemmi and by LAMMPS-style writers made
here; the frame index and its cache; the errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from nanotraj import lattices as lat
from nanotraj import trajectory as tj
from nanotraj.errors import FrameError
from nanotraj.io import write_values
from nanotraj.trajectory import frame_index, parse_type_map, read_frame

ase = pytest.importorskip("ase")
from ase import Atoms  # noqa: E402
from ase.io import write as ase_write  # noqa: E402


def particle(seed=0, radius=9.0):
    return lat.fcc_sphere(radius, 3.912, noise=0.05, seed=seed)


def ase_frames(n_frames=3, vary=True):
    """ASE Atoms of noisy fcc spheres (the atom count changes when ``vary``), with time and two
    extra per-atom arrays."""
    out = []
    for k in range(n_frames):
        x = particle(seed=k, radius=9.0 + (0.8 * k if vary else 0.0))
        a = Atoms(["Pt"] * len(x), positions=x)
        a.info["time"] = 0.25 * k
        a.arrays["charge"] = np.linspace(-1, 1, len(x))
        a.arrays["tag_id"] = np.arange(len(x))
        out.append(a)
    return out


def expect_error(path, match, **kw):
    with pytest.raises(FrameError) as info:
        read_frame(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    assert match in msg, msg
    return msg


# ----------------------------------------------------------------------------------------------
# files written by ASE


@pytest.mark.parametrize("fmt", ["extxyz", "xyz"])
def test_multi_frame_files_written_by_ase(tmp_path, fmt):
    frames = ase_frames()
    path = tmp_path / f"t.{fmt}"
    ase_write(path, frames, format=fmt)
    idx = frame_index(path)
    assert len(idx) == 3 and idx.format == "xyz" and not idx.problem
    assert idx.n_atoms.tolist() == [len(a) for a in frames]
    for k, a in enumerate(frames):
        f = read_frame(path, frame_index=k)
        np.testing.assert_allclose(f.coords, a.positions, rtol=0, atol=1e-7)
        assert f.elements.tolist() == a.get_chemical_symbols()
        if fmt == "extxyz":
            assert f.time == a.info["time"] and idx.times[k] == a.info["time"]
        else:
            assert np.isnan(f.time)


def test_one_frame_extxyz_with_lattice_and_pbc_is_read_with_a_note(tmp_path):
    x = particle()
    a = Atoms(["Pt"] * len(x), positions=x + 20.0, cell=[40.0, 40.0, 40.0], pbc=True)
    ase_write(tmp_path / "p.extxyz", a, format="extxyz")
    f = read_frame(tmp_path / "p.extxyz")
    np.testing.assert_allclose(f.coords, x + 20.0, atol=1e-7)
    assert any("periodic" in note for note in f.notes)


def test_xyz_equals_pdb_of_the_same_atoms(tmp_path):
    x = np.round(particle(), 3)
    write_values(tmp_path / "a.pdb", x, np.zeros(len(x)))
    (tmp_path / "a.xyz").write_text(f"{len(x)}\n\n" + "".join(
        f"Pt {a:.3f} {b:.3f} {c:.3f}\n" for a, b, c in x))
    from nanotraj.io import read_frame as read_pdb

    np.testing.assert_array_equal(read_frame(tmp_path / "a.xyz").coords,
                                  read_pdb(tmp_path / "a.pdb").coords)


def test_nm_file_is_the_angstrom_file_scaled(tmp_path):
    x = np.round(particle(), 4)
    (tmp_path / "a.xyz").write_text(f"{len(x)}\n\n" + "".join(
        f"Pt {a:.4f} {b:.4f} {c:.4f}\n" for a, b, c in x))
    (tmp_path / "nm.xyz").write_text(f"{len(x)}\n\n" + "".join(
        f"Pt {a / 10:.5f} {b / 10:.5f} {c / 10:.5f}\n" for a, b, c in x))
    a = read_frame(tmp_path / "a.xyz").coords
    nm = read_frame(tmp_path / "nm.xyz", length_unit="nm").coords
    np.testing.assert_allclose(nm, a, rtol=1e-14, atol=1e-12)
    # read as Angstrom, the nm file's atoms are 10x too close: the hint names length_unit
    expect_error(tmp_path / "nm.xyz", "set length_unit: nm")
    expect_error(tmp_path / "a.xyz", "length_unit 'pm' is not one of A, nm", length_unit="pm")


def test_gzip_multi_frame_xyz(tmp_path):
    frames = ase_frames(vary=False)
    ase_write(tmp_path / "t.extxyz", frames, format="extxyz")
    (tmp_path / "t.extxyz.gz").write_bytes(gzip.compress((tmp_path / "t.extxyz").read_bytes()))
    f = read_frame(tmp_path / "t.extxyz.gz", frame_index=2)
    np.testing.assert_allclose(f.coords, frames[2].positions, atol=1e-7)
    assert frame_index(tmp_path / "t.extxyz.gz").whole


def test_crlf_xyz_equals_lf(tmp_path):
    frames = ase_frames(2, vary=False)
    ase_write(tmp_path / "lf.xyz", frames, format="extxyz")
    (tmp_path / "crlf.xyz").write_bytes((tmp_path / "lf.xyz").read_bytes().replace(b"\n",
                                                                                   b"\r\n"))
    for k in (0, 1):
        np.testing.assert_array_equal(read_frame(tmp_path / "crlf.xyz", frame_index=k).coords,
                                      read_frame(tmp_path / "lf.xyz", frame_index=k).coords)


# ----------------------------------------------------------------------------------------------
# LAMMPS dumps (LAMMPS-style writers: unscaled, scaled, unwrapped, triclinic, shuffled ids)


def lammps_frame(x, *, step=0, columns="id type x y z", types=None, order=None, box=None,
                 tilt=None, elements=None, time=None):
    """One dump frame of ``x`` (rows in ``order``, ids 1..N) in LAMMPS' text layout."""
    n = len(x)
    order = np.arange(n) if order is None else order
    types = np.ones(n, int) if types is None else types
    lo, hi = (x.min(0) - 5.0, x.max(0) + 5.0) if box is None else box
    head = ""
    if time is not None:
        head += f"ITEM: TIME\n{time!r}\n"
    head += f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n}\n"
    if tilt is None:
        head += "ITEM: BOX BOUNDS pp pp pp\n" + "".join(
            f"{float(lo[d])!r} {float(hi[d])!r}\n" for d in range(3))
    else:
        head += "ITEM: BOX BOUNDS xy xz yz pp pp pp\n" + "".join(
            f"{float(lo[d])!r} {float(hi[d])!r} {float(tilt[d])!r}\n" for d in range(3))
    head += f"ITEM: ATOMS {columns}\n"
    cols = columns.split()
    lines = []
    for i in order:
        vals = {"id": str(i + 1), "type": str(types[i]),
                "element": elements[i] if elements is not None else "Pt"}
        for d, axis in enumerate("xyz"):
            for suffix in ("", "u"):
                vals[f"{axis}{suffix}"] = repr(float(x[i, d]))
        lines.append(" ".join(vals.get(c, "0.5") for c in cols))
    return head + "\n".join(lines) + "\n"


def test_lammps_sorted_by_id_with_changing_atom_count_and_type_map(tmp_path):
    rng = np.random.default_rng(1)
    xs = [particle(seed=k, radius=9.0 + 0.8 * k) for k in range(3)]
    types = [1 + (np.arange(len(x)) % 2) for x in xs]
    text = "".join(lammps_frame(x, step=100 * k, types=t, order=rng.permutation(len(x)),
                                columns="id type x y z vx vy vz")
                   for k, (x, t) in enumerate(zip(xs, types, strict=True)))
    (tmp_path / "run.dump").write_text(text)
    idx = frame_index(tmp_path / "run.dump")
    assert idx.format == "lammps" and idx.n_atoms.tolist() == [len(x) for x in xs]
    assert idx.times.tolist() == [0.0, 100.0, 200.0]
    for k, x in enumerate(xs):
        f = read_frame(tmp_path / "run.dump", frame_index=k, type_map="1:Pt,2:Ni")
        np.testing.assert_array_equal(f.coords, x)  # repr round trip: exact, in id order
        assert f.elements.tolist() == [("Pt", "Ni")[t - 1] for t in types[k]]
        assert f.time == 100.0 * k
    f = read_frame(tmp_path / "run.dump", frame_index=0, type_map={1: "Pt", 2: "Ni"})
    assert set(f.elements.tolist()) == {"Pt", "Ni"}
    f = read_frame(tmp_path / "run.dump", frame_index=0)  # no map: a note, no elements
    assert set(f.elements.tolist()) == {""} and "without a type_map" in f.notes[0]
    expect_error(tmp_path / "run.dump", "LAMMPS type(s) 2 not in type_map (1:Pt)",
                 frame_index=1, type_map="1:Pt")


@pytest.mark.parametrize("kind", ["scaled", "unwrapped", "scaled_unwrapped", "element"])
def test_lammps_coordinate_kinds(tmp_path, kind):
    x = particle()
    lo, hi = x.min(0) - 3.0, x.max(0) + 4.0
    if kind in ("scaled", "scaled_unwrapped"):
        s = (x - lo) / (hi - lo)
        cols = "id type xs ys zs" if kind == "scaled" else "id type xsu ysu zsu"
        text = lammps_frame(s, columns=cols.replace("xs", "x").replace("ys", "y").replace(
            "zs", "z").replace("xu", "x").replace("yu", "y").replace("zu", "z"), box=(lo, hi))
        text = text.replace("ITEM: ATOMS id type x y z", f"ITEM: ATOMS {cols}")
    elif kind == "unwrapped":  # wrapped x y z beside unwrapped xu yu zu: the unwrapped are used
        text = lammps_frame(x, columns="id type x y z xu yu zu", box=(lo, hi))
        lines = text.splitlines()
        k = lines.index("ITEM: ATOMS id type x y z xu yu zu")
        for i in range(k + 1, len(lines)):
            f = lines[i].split()
            f[2:5] = ["0.0", "0.0", "0.0"]  # as if wrapped elsewhere
            lines[i] = " ".join(f)
        text = "\n".join(lines) + "\n"
    else:
        text = lammps_frame(x, columns="id element x y z", elements=["Au"] * len(x))
    (tmp_path / "a.dump").write_text(text)
    f = read_frame(tmp_path / "a.dump")
    np.testing.assert_allclose(f.coords, x, rtol=0, atol=1e-9)
    if kind == "element":
        assert set(f.elements.tolist()) == {"Au"}


def test_lammps_triclinic_scaled_coordinates():
    """Scaled coordinates of a restricted triclinic box (LAMMPS Howto_triclinic): the bounding
    box written in the dump and the tilt factors give back the Cartesian positions."""
    rng = np.random.default_rng(3)
    lo = np.array([-2.0, -1.0, 0.5])
    lx, ly, lz, xy, xz, yz = 30.0, 28.0, 26.0, 3.0, -2.0, 1.5
    s = rng.uniform(0.1, 0.9, (50, 3))
    cart = np.column_stack([lo[0] + s[:, 0] * lx + s[:, 1] * xy + s[:, 2] * xz,
                            lo[1] + s[:, 1] * ly + s[:, 2] * yz, lo[2] + s[:, 2] * lz])
    xlo_b = lo[0] + min(0.0, xy, xz, xy + xz)
    xhi_b = lo[0] + lx + max(0.0, xy, xz, xy + xz)
    ylo_b, yhi_b = lo[1] + min(0.0, yz), lo[1] + ly + max(0.0, yz)
    box = np.array([[xlo_b, xhi_b, xy], [ylo_b, yhi_b, xz], [lo[2], lo[2] + lz, yz]])
    np.testing.assert_allclose(tj._unscale(s, box, True), cart, atol=1e-12)


def test_lammps_time_item_wins_over_timestep(tmp_path):
    x = particle()
    (tmp_path / "t.dump").write_text(lammps_frame(x, step=500, time=1.25) +
                                     lammps_frame(x + 0.01, step=600, time=1.5))
    assert frame_index(tmp_path / "t.dump").times.tolist() == [1.25, 1.5]
    assert read_frame(tmp_path / "t.dump", frame_index=1).time == 1.5


def test_type_map_parsing():
    assert parse_type_map("1:Pt, 2:ni") == {1: "Pt", 2: "Ni"}
    assert parse_type_map({"1": "Pt", 2: "Au"}) == {1: "Pt", 2: "Au"}
    assert parse_type_map(None) == {} == parse_type_map("")
    for bad in ("1=Pt", "x:Pt", "1:Platinum"):
        with pytest.raises(ValueError, match="type_map"):
            parse_type_map(bad)


# ----------------------------------------------------------------------------------------------
# multi-model PDB and mmCIF


def test_multi_model_pdb_and_mmcif_by_frame_index(tmp_path):
    import gemmi

    xs = [np.round(particle(seed=k), 3) for k in range(3)]
    st = gemmi.Structure()
    for k, x in enumerate(xs):
        model = gemmi.Model(str(k + 1))
        chain = gemmi.Chain("A")
        for i, p in enumerate(x):
            res = gemmi.Residue()
            res.name, res.seqid = "PT", gemmi.SeqId(i + 1, " ")
            atom = gemmi.Atom()
            atom.name, atom.element, atom.pos = "PT", gemmi.Element("Pt"), gemmi.Position(*p)
            res.add_atom(atom)
            chain.add_residue(res)
        model.add_chain(chain)
        st.add_model(model)
    st.setup_entities()
    st.write_pdb(str(tmp_path / "m.pdb"))
    st.make_mmcif_document().write_file(str(tmp_path / "m.cif"))
    for name in ("m.pdb", "m.cif"):
        assert len(frame_index(tmp_path / name)) == 3, name
        for k, x in enumerate(xs):
            f = read_frame(tmp_path / name, frame_index=k)
            np.testing.assert_allclose(f.coords, x, atol=1e-6, err_msg=name)
        expect_error(tmp_path / name, "3 models; one model per frame expected (name one")
        expect_error(tmp_path / name, "the file holds 3 ", frame_index=3)


# ----------------------------------------------------------------------------------------------
# the index: once per file version, cached


def test_index_is_built_once_and_cached_on_disk(tmp_path, monkeypatch):
    frames = ase_frames(4, vary=False)
    path = tmp_path / "t.extxyz"
    ase_write(path, frames, format="extxyz")
    cache = tmp_path / "cache"
    calls = []
    real = tj._build_index
    monkeypatch.setattr(tj, "_build_index", lambda *a: calls.append(a) or real(*a))
    for k in (3, 0, 2):
        read_frame(path, frame_index=k, cache_dir=cache)
    assert len(calls) == 1
    assert len(list(cache.glob("*.npz"))) == 1
    tj._CACHE.clear()  # another process: the index comes from the disk cache
    read_frame(path, frame_index=1, cache_dir=cache)
    assert len(calls) == 1
    # the file changes (a frame appended): indexed again
    ase_write(path, [*frames, frames[0]], format="extxyz")
    assert len(read_frame.__globals__["frame_index"](path, cache_dir=cache)) == 5
    assert len(calls) == 2


def test_reading_one_frame_reads_only_its_bytes(tmp_path, monkeypatch):
    frames = ase_frames(5, vary=False)
    path = tmp_path / "t.extxyz"
    ase_write(path, frames, format="extxyz")
    idx = frame_index(path)
    sizes = []
    real = tj._pread
    monkeypatch.setattr(tj, "_pread", lambda p, o, s: sizes.append(s) or real(p, o, s))
    read_frame(path, frame_index=4)
    assert sizes == [int(idx.ends[4] - idx.starts[4])]


# ----------------------------------------------------------------------------------------------
# hostile and broken files: one line naming the file (and frame) and the reason


def xyz_text(x, count=None, comment=""):
    return f"{len(x) if count is None else count}\n{comment}\n" + "".join(
        f"Pt {a:.3f} {b:.3f} {c:.3f}\n" for a, b, c in x)


def test_xyz_header_count_that_does_not_match(tmp_path):
    x = particle(radius=12.0)[:300]
    (tmp_path / "short.xyz").write_text(xyz_text(x[:298], count=300))
    expect_error(tmp_path / "short.xyz", "XYZ header says 300 atoms, file has 298 coordinate "
                                         "lines (header at line 1): truncated file?")
    (tmp_path / "long.xyz").write_text(xyz_text(x, count=298))
    expect_error(tmp_path / "long.xyz", "says 298 atoms, the file has more coordinate lines")
    # a short frame inside a trajectory: its lines run into the next frame's header
    (tmp_path / "traj.xyz").write_text(xyz_text(x[:298], count=300) + xyz_text(x) * 2)
    msg = expect_error(tmp_path / "traj.xyz", "XYZ header (line 1) says 300 atoms, the frame "
                                              "has 298 coordinate lines", frame_index=0)
    assert msg.startswith(f"{tmp_path / 'traj.xyz'} (frame 0): ")


def test_truncated_last_frame_leaves_the_earlier_frames_readable(tmp_path):
    x = particle()
    (tmp_path / "t.xyz").write_text(xyz_text(x) * 2 + xyz_text(x)[:-700])
    idx = frame_index(tmp_path / "t.xyz")
    assert len(idx) == 2 and "truncated file?" in idx.problem
    np.testing.assert_allclose(read_frame(tmp_path / "t.xyz", frame_index=1).coords, x,
                               atol=5e-4)
    expect_error(tmp_path / "t.xyz", "truncated file?", frame_index=2)
    expect_error(tmp_path / "t.xyz", "(frame 3): the file holds 2 complete frame(s) (then:",
                 frame_index=3)
    # the last line cut inside a number, without a line end
    (tmp_path / "cut.xyz").write_text(xyz_text(x).rstrip("\n")[:-2])
    expect_error(tmp_path / "cut.xyz", "the last one without a line end")


@pytest.mark.parametrize("edit, match", [
    (lambda ln: ln.replace(ln.split()[1], "1_000"), "x is not a number: '1_000'"),
    (lambda ln: ln.replace(ln.split()[2], "١٢"), "non-ASCII character"),
    (lambda ln: ln.replace(ln.split()[3], "0x1p3"), "z is not a number: '0x1p3'"),
    (lambda ln: ln + " 5", None),  # plain XYZ: extra columns are allowed
    (lambda ln: "Pt 1.0 2.0", "3 field(s) in an atom line of XYZ, at least 4"),
    (lambda ln: ln.replace(" ", "\x01", 1), "control character 0x01"),
    (lambda ln: ln.replace(ln.split()[1], "inf"), "non-finite coordinate"),
])
def test_bad_xyz_fields(tmp_path, edit, match):
    x = particle()
    lines = xyz_text(x).splitlines()
    lines[7] = edit(lines[7])
    (tmp_path / "f.xyz").write_text("\n".join(lines) + "\n")
    if match is None:
        assert read_frame(tmp_path / "f.xyz").n_atoms == len(x)
    else:
        msg = expect_error(tmp_path / "f.xyz", match)
        if "number" in match or "field" in match:
            assert "line 8" in msg


def test_extxyz_properties_errors(tmp_path):
    x = particle()
    base = "Properties=species:S:1:pos:R:3:q:R:1"
    body = "".join(f"Pt {a} {b} {c} 0.5\n" for a, b, c in x)
    (tmp_path / "ok.xyz").write_text(f"{len(x)}\n{base}\n{body}")
    assert read_frame(tmp_path / "ok.xyz").n_atoms == len(x)
    (tmp_path / "few.xyz").write_text(f"{len(x)}\nProperties=species:S:1:pos:R:3:q:R:2\n{body}")
    expect_error(tmp_path / "few.xyz", "line 3: 5 field(s) in an atom line of extended XYZ, 6 "
                                       "expected (Properties gives 6")
    (tmp_path / "nopos.xyz").write_text(f"{len(x)}\nProperties=species:S:1:r:R:3:q:R:1\n{body}")
    expect_error(tmp_path / "nopos.xyz", "no pos:R:3 column (it has species, r, q)")
    (tmp_path / "odd.xyz").write_text(f"{len(x)}\nProperties=species:S:1:pos:R\n{body}")
    expect_error(tmp_path / "odd.xyz", "is not name:type:count triples")


def test_lammps_errors(tmp_path):
    x = particle()
    ok = lammps_frame(x)
    (tmp_path / "short.dump").write_text(ok.rsplit("\n", 3)[0] + "\n")
    expect_error(tmp_path / "short.dump", f"LAMMPS dump says {len(x)} atoms (ITEM: NUMBER OF "
                                          f"ATOMS, frame at line 1), the file has {len(x) - 2}")
    (tmp_path / "dup.dump").write_text(ok.replace(f"\n{len(x)} 1 ", "\n1 1 "))
    expect_error(tmp_path / "dup.dump", "atom id 1 appears twice")
    (tmp_path / "nocoord.dump").write_text(lammps_frame(x, columns="id type vx vy vz"))
    expect_error(tmp_path / "nocoord.dump", "no complete set of coordinates")
    lines = ok.splitlines()
    lines[12] = lines[12].replace(lines[12].split()[3], "abc")
    (tmp_path / "nan.dump").write_text("\n".join(lines) + "\n")
    expect_error(tmp_path / "nan.dump", "line 13: y is not a number: 'abc'")
    frames = lammps_frame(x) + lammps_frame(x[:-1], step=5).replace(
        f"NUMBER OF ATOMS\n{len(x) - 1}", f"NUMBER OF ATOMS\n{len(x)}") + lammps_frame(x, step=9)
    (tmp_path / "mid.dump").write_text(frames)
    expect_error(tmp_path / "mid.dump", f"LAMMPS dump says {len(x)} atoms (ITEM: NUMBER OF "
                 f"ATOMS), the frame has {len(x) - 1} atom lines before the ITEM:", frame_index=1)
    (tmp_path / "sect.dump").write_text(ok.replace("ITEM: BOX BOUNDS", "ITEM: BOXES"))
    expect_error(tmp_path / "sect.dump", "unknown section ITEM: BOXES")


def test_files_that_are_not_frames(tmp_path):
    import os

    (tmp_path / "empty.xyz").write_text("")
    expect_error(tmp_path / "empty.xyz", "empty file")
    (tmp_path / "bin.xyz").write_bytes(b"12\n\x00\x01\x02" * 100)
    expect_error(tmp_path / "bin.xyz", "binary content")
    expect_error(tmp_path / "missing.xyz", "no such file")
    expect_error(tmp_path, "is a directory, not a regular file")
    os.mkfifo(tmp_path / "fifo.xyz")
    expect_error(tmp_path / "fifo.xyz", "not a regular file")  # refused without reading
    big = xyz_text(particle()) * 2
    (tmp_path / "big.xyz").write_text(big)
    expect_error(tmp_path / "big.xyz", "frame larger than max_frame_bytes", frame_index=0,
                 max_bytes=1000)
    (tmp_path / "bomb.xyz.gz").write_bytes(gzip.compress(b"3\n\n" + b" " * 200_000))
    expect_error(tmp_path / "bomb.xyz.gz", "decompressed content larger than max_frame_bytes",
                 max_bytes=100_000)
    (tmp_path / "zero.xyz").write_text("0\nnothing\n")
    expect_error(tmp_path / "zero.xyz", "no atoms (the XYZ header at line 1 says 0)")
    expect_error(tmp_path / "big.xyz", "frame_index -1 is negative", frame_index=-1)


# ----------------------------------------------------------------------------------------------
# writing extended XYZ


def test_extxyz_header_types_every_column():
    cols = {"x": np.zeros(2), "y": np.zeros(2), "z": np.zeros(2), "cn": np.array([1, 2]),
            "crystalline": np.array([True, False]), "structure_boo": np.array(["fcc", "ico"]),
            "element": np.array(["Pt", "Pt"])}
    head = tj.extxyz_header(2, cols, info={"frame": 'a "b"', "time": 1.5, "ok": True})
    assert head.splitlines() == [
        "2", 'Properties=pos:R:3:cn:I:1:crystalline:I:1:structure_boo:S:1:species:S:1 '
             'frame="a \\"b\\"" time=1.5 ok=T']
    assert tj.parse_comment(head.splitlines()[1])["frame"] == 'a "b"'
