"""nanotraj.io: reading frames (each malformed case is a one-line FrameError), writing values."""

import gzip
import os
from pathlib import Path

import gemmi
import numpy as np
import pytest

from nanotraj.errors import FrameError
from nanotraj.io import read_frame, write_values

SHARED = Path(__file__).resolve().parents[2] / "shared"
SERIES = SHARED / "data" / "single-pt-series"


def atom(serial, x, y, z, *, rec="ATOM  ", name=" PT ", b=0.5, el="PT"):
    """A standard fixed-column PDB atom record (80 columns)."""
    return (f"{rec}{serial:5d} {name} PT  A{serial:4d}    {x:8.3f}{y:8.3f}{z:8.3f}"
            f"  1.00{b:6.2f}          {el:>2}  ")


# four atoms of a tetrahedron, 2.77 A apart
TETRA = np.array([[0.0, 0.0, 0.0], [2.77, 0.0, 0.0], [1.385, 2.399, 0.0], [1.385, 0.8, 2.262]])


def tetra_lines(**kw):
    return [atom(i + 1, *p, **kw) for i, p in enumerate(TETRA)]


def write(tmp_path, name, text, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text, newline="")
    return p


def assert_frame_error(path, match=None, **kw):
    with pytest.raises(FrameError) as info:
        read_frame(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    assert Path(path).name in msg
    assert msg.startswith(f"{path}: ")
    if match:
        assert match in msg, msg
    return msg


# ---------------------------------------------------------------- valid files and quirks


def test_plain_pdb(tmp_path):
    p = write(tmp_path, "a.pdb", "\n".join(tetra_lines()) + "\n")
    f = read_frame(p)
    assert f.path == str(p)
    assert f.coords.dtype == np.float64 and f.coords.shape == (4, 3)
    np.testing.assert_array_equal(f.coords, np.round(TETRA, 3))
    assert list(f.elements) == ["PT"] * 4
    np.testing.assert_array_equal(f.b_factors, [0.5] * 4)


def test_quirks_crlf_hetatm_ter_conect_end(tmp_path):
    lines = tetra_lines()
    lines[1] = lines[1].replace("ATOM  ", "HETATM")
    text = "\r\n".join(["REMARK  made by hand", "CRYST1    1.000", lines[0], lines[1], "TER",
                        lines[2], lines[3], "CONECT    1    2", "END"]) + "\r\n"
    f = read_frame(write(tmp_path, "q.pdb", text))
    np.testing.assert_array_equal(f.coords, np.round(TETRA, 3))


def test_cr_only_line_endings(tmp_path):
    f = read_frame(write(tmp_path, "cr.pdb", "\r".join(tetra_lines()) + "\r"))
    assert f.n_atoms == 4


def test_touching_fields(tmp_path):
    lines = tetra_lines()
    lines[0] = ("ATOM      1  PT   PT A   1    -100.123-200.456-300.789  1.00  0.50"
                "          PT")
    f = read_frame(write(tmp_path, "t.pdb", "\n".join(lines) + "\n"))
    np.testing.assert_array_equal(f.coords[0], [-100.123, -200.456, -300.789])
    np.testing.assert_array_equal(f.coords[1:], np.round(TETRA[1:], 3))


def test_atom_order_kept_when_residue_numbers_repeat(tmp_path):
    # gemmi would move atom 3 (residue 1 again) next to atom 1; the file's order is kept
    lines = [atom(1, 0, 0, 0), atom(2, 3, 0, 0), atom(3, 0, 3, 0), atom(4, 0, 0, 3)]
    lines[2] = lines[2][:22] + "   1" + lines[2][26:]
    f = read_frame(write(tmp_path, "o.pdb", "\n".join(lines) + "\n"))
    np.testing.assert_array_equal(f.coords[:, 0], [0, 3, 0, 0])
    np.testing.assert_array_equal(f.coords[:, 1], [0, 0, 3, 0])


def test_short_lines_without_bfactor_or_element(tmp_path):
    lines = [ln[:54] for ln in tetra_lines()]
    f = read_frame(write(tmp_path, "s.pdb", "\n".join(lines) + "\n"))
    np.testing.assert_array_equal(f.coords, np.round(TETRA, 3))
    assert np.isnan(f.b_factors).all()
    assert list(f.elements) == [""] * 4


def test_single_model_record_ok(tmp_path):
    text = "MODEL        1\n" + "\n".join(tetra_lines()) + "\nENDMDL\nEND\n"
    assert read_frame(write(tmp_path, "m.pdb", text)).n_atoms == 4


def test_gzip(tmp_path):
    p = tmp_path / "a.pdb.gz"
    p.write_bytes(gzip.compress(("\n".join(tetra_lines()) + "\n").encode()))
    np.testing.assert_array_equal(read_frame(p).coords, np.round(TETRA, 3))


@pytest.mark.parametrize("codec", ["bz2", "lzma"])
def test_bzip2_and_xz(tmp_path, codec):
    import importlib

    p = tmp_path / "a.pdb.compressed"
    text = ("\n".join(tetra_lines()) + "\n").encode()
    p.write_bytes(importlib.import_module(codec).compress(text))
    np.testing.assert_array_equal(read_frame(p).coords, np.round(TETRA, 3))


@pytest.mark.parametrize("bom, codec", [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                                        (b"\xfe\xff", "utf-16-be")])
@pytest.mark.parametrize("fmt", ["pdb", "cif"])
def test_byte_order_mark(tmp_path, bom, codec, fmt):
    """Windows editors write a BOM, PowerShell's ">" UTF-16: every atom is read (the BOM used to
    hide the first ATOM record of a PDB and every atom of an mmCIF)."""
    text = "\n".join(tetra_lines()) + "\n"
    if fmt == "cif":
        text = gemmi.read_pdb_string(text).make_mmcif_document().as_string()
    p = write(tmp_path, f"a.{fmt}", bom + text.replace("\n", "\r\n").encode(codec), mode="wb")
    f = read_frame(p)
    np.testing.assert_allclose(f.coords, np.round(TETRA, 3), atol=1e-9)
    np.testing.assert_allclose(f.b_factors, 0.5)
    # a second BOM (an editor adding its own; U+FEFF opening the UTF-16 text)
    p = write(tmp_path, f"b.{fmt}", bom + ("\ufeff" + text).encode(codec), mode="wb")
    np.testing.assert_allclose(read_frame(p).coords, np.round(TETRA, 3), atol=1e-9)


def test_mmcif_by_content_and_extension(tmp_path):
    st = gemmi.read_pdb_string("\n".join(tetra_lines()) + "\n")
    cif = st.make_mmcif_document().as_string()
    for name in ("a.cif", "a.mmcif", "a.pdb", "noext"):
        f = read_frame(write(tmp_path, name, cif))
        np.testing.assert_allclose(f.coords, np.round(TETRA, 3), atol=1e-9)
        np.testing.assert_allclose(f.b_factors, 0.5)
    gz = tmp_path / "g.cif.gz"
    gz.write_bytes(gzip.compress(cif.encode()))
    assert read_frame(gz).n_atoms == 4


def test_ideal_cluster_quirks(shared_series):
    f = read_frame(shared_series / "COM_trunc-octa-3_2.7nm.pdb")
    assert f.n_atoms == 586
    assert set(f.elements) == {"W"}
    np.testing.assert_array_equal(f.coords[0], [16.904, 22.772, 28.640])
    np.testing.assert_array_equal(f.coords[-1], [40.376, 32.552, 30.596])


def test_stage1(shared_series):
    f = read_frame(shared_series / "stage1_docked_ATMS.pdb")
    assert f.n_atoms == 314
    np.testing.assert_array_equal(f.coords[0], [19.259, 26.881, 27.702])
    np.testing.assert_array_equal(f.coords[-1], [39.204, 29.170, 26.134])
    assert f.b_factors[0] == 0.79


def test_three_atoms_allowed_with_min_atoms(tmp_path):
    p = write(tmp_path, "three.pdb", "\n".join(tetra_lines()[:3]) + "\n")
    assert read_frame(p, min_atoms=1).n_atoms == 3
    assert_frame_error(p, "only 3 atoms")


# ---------------------------------------------------------------- malformed files


@pytest.mark.parametrize("n", [1, 2, 3])
def test_too_few_atoms(tmp_path, n):
    p = write(tmp_path, f"few{n}.pdb", "\n".join(tetra_lines()[:n]) + "\n")
    assert_frame_error(p, f"only {n} atoms")


def test_several_models(tmp_path):
    body = "\n".join(tetra_lines())
    text = f"MODEL        1\n{body}\nENDMDL\nMODEL        2\n{body}\nENDMDL\nEND\n"
    assert_frame_error(write(tmp_path, "models.pdb", text), "2 models")


def test_several_models_mmcif(tmp_path):
    st = gemmi.read_pdb_string(
        "MODEL 1\n" + "\n".join(tetra_lines()) + "\nENDMDL\nMODEL 2\n" + "\n".join(tetra_lines())
        + "\nENDMDL\n")
    p = write(tmp_path, "models.cif", st.make_mmcif_document().as_string())
    assert_frame_error(p, "2 models")


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("empty.pdb", "", "empty"),
        ("blank.pdb", "\n\n  \n", "empty"),
        ("remarks.pdb", "REMARK 1\nREMARK 2 nothing here\nEND\n", "no atoms"),
        ("garbage.pdb", b"\x00\x01\x02\xff\xfe binary \x00", "binary"),
        ("text.pdb", "hello world\nthis is not a structure\n", "no atoms"),
        ("bad.cif", "data_x\nloop_\n_atom_site.id\n_atom_site.Cartn_x\n1 2.0\n", "no atoms"),
        ("bad2.cif", "data_x\n_atom_site.Cartn_x 'unterminated\n", "mmCIF"),
        ("corrupt.pdb.gz", b"\x1f\x8b\x08\x00garbage", "gzip"),
        ("corrupt.pdb.bz2", b"BZh91AY&SYgarbage", "corrupt bzip2"),
        ("corrupt.pdb.xz", b"\xfd7zXZ\x00garbage", "corrupt xz"),
        ("frames.zip", b"PK\x03\x04\x14\x00\x00\x00", "zip archive"),
        ("odd.pdb", b"\xff\xfeA\x00T\x00\x00\xd8", "UTF-16"),
    ],
)
def test_unreadable_content(tmp_path, name, content, match):
    p = write(tmp_path, name, content, mode="wb" if isinstance(content, bytes) else "w")
    assert_frame_error(p, match)


def test_truncated_line(tmp_path):
    lines = tetra_lines()
    lines[2] = lines[2][:44]
    assert_frame_error(write(tmp_path, "trunc.pdb", "\n".join(lines) + "\n"), "line 3")


@pytest.mark.parametrize("field", ["  19.2x9", "  abcdef", "        ", "   1,234", "19.259  "])
def test_non_numeric_coordinate(tmp_path, field):
    # gemmi alone reads these as 19.2, 0.0, 0.0, 1.0, 19.259 -- silently wrong
    lines = tetra_lines()
    lines[1] = lines[1][:38] + field + lines[1][46:]
    msg = assert_frame_error(write(tmp_path, "nn.pdb", "\n".join(lines) + "\n"), "line 2")
    assert "y field" in msg


def test_non_numeric_mmcif(tmp_path):
    st = gemmi.read_pdb_string("\n".join(tetra_lines()) + "\n")
    cif = st.make_mmcif_document().as_string()
    cif = cif.replace(" 2.77 ", " ? ", 1)
    assert " ? " in cif
    assert_frame_error(write(tmp_path, "q.cif", cif), "not a number")


def test_tab_separated(tmp_path):
    lines = tetra_lines()
    lines[0] = ("ATOM      1  PT   PT A   1\t0.000\t0.000\t0.000\t1.00\t0.50\t\t\t\t\t\t\tPT"
                + " " * 30)
    assert_frame_error(write(tmp_path, "tab.pdb", "\n".join(lines) + "\n"))


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite(tmp_path, bad):
    lines = tetra_lines()
    lines[3] = lines[3][:46] + f"{bad:>8}" + lines[3][54:]
    assert_frame_error(write(tmp_path, "nf.pdb", "\n".join(lines) + "\n"), "non-finite")


def test_duplicate_atoms(tmp_path):
    lines = tetra_lines() + [atom(5, 2.77, 0.1, 0.0)]
    msg = assert_frame_error(write(tmp_path, "dup.pdb", "\n".join(lines) + "\n"),
                             "closer than 0.5")
    assert "atoms 1 (line 2) and 4 (line 5)" in msg and "0.1000 A" in msg
    assert read_frame(tmp_path / "dup.pdb", min_distance=0.05).n_atoms == 5
    assert read_frame(tmp_path / "dup.pdb", min_distance=0).n_atoms == 5
    assert "nm?" not in msg


def test_frame_in_nanometres_gets_a_hint(tmp_path):
    """A Pt particle written in nm (neighbours 0.277 apart): every atom is in a close pair."""
    xyz = fcc_points(200) / 10.0
    write_values(tmp_path / "nm.pdb", xyz, np.zeros(len(xyz)))
    msg = assert_frame_error(tmp_path / "nm.pdb", "closer than 0.5 A")
    assert msg.endswith("coordinates in nm? nanotraj reads Angstrom (1 nm = 10 A; "
                        "set length_unit: nm)")


def test_missing_file(tmp_path):
    assert_frame_error(tmp_path / "nope.pdb", "no such file")


def test_directory(tmp_path):
    d = tmp_path / "adir.pdb"
    d.mkdir()
    assert_frame_error(d, "directory")


def test_permission_denied(tmp_path, monkeypatch):
    p = write(tmp_path, "secret.pdb", "\n".join(tetra_lines()) + "\n")
    p.chmod(0)
    if os.geteuid() == 0:  # root reads anything: simulate the OS refusing
        import builtins

        real_open = builtins.open

        def fake_open(file, *a, **k):
            if str(file) == str(p):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *a, **k)

        monkeypatch.setattr(builtins, "open", fake_open)
    try:
        assert_frame_error(p, "permission denied")
    finally:
        p.chmod(0o644)


# ---------------------------------------------------------------- writing


def fcc_points(n, a=3.912, seed=0):
    """n points of an fcc lattice (noise 0.01 A), centred near the origin."""
    k = int(np.ceil((n / 4) ** (1 / 3))) + 1
    g = np.arange(k)
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 1, 3)
    pts = ((cells + base) * a).reshape(-1, 3)[:n]
    rng = np.random.default_rng(seed)
    return pts - pts.mean(axis=0) + rng.normal(0, 0.01, pts.shape)


@pytest.mark.parametrize("n, suffix", [(1, ".pdb"), (10, ".pdb"), (1000, ".pdb"),
                                       (12345, ".pdb"), (99_999, ".pdb"), (12345, ".cif"),
                                       (100_000, ".cif")])
def test_round_trip(tmp_path, n, suffix):
    xyz = fcc_points(n)
    rng = np.random.default_rng(n)
    values = rng.uniform(-9, 99, n)
    p = tmp_path / f"out{suffix}"
    write_values(p, xyz, values)
    f = read_frame(p, min_atoms=1, min_distance=0.5 if n < 20_000 else 0)
    assert f.n_atoms == n
    np.testing.assert_allclose(f.coords, xyz, atol=5e-4 + 1e-9, rtol=0)
    np.testing.assert_allclose(f.b_factors, values, atol=5e-4 + 1e-9, rtol=0)
    assert set(f.elements) == ({"PT"} if suffix == ".pdb" else {"Pt"})
    st = gemmi.read_structure(str(p))  # gemmi itself agrees
    assert len(st) == 1 and st[0].count_atom_sites() == n
    if n <= 1000:
        got = np.array([[c.atom.pos.x, c.atom.pos.y, c.atom.pos.z] for c in st[0].all()])
        np.testing.assert_allclose(got, xyz, atol=5e-4 + 1e-9, rtol=0)
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]


def test_pdb_fixed_columns(tmp_path):
    xyz = np.array([[1.0, -2.5, 3.25], [-100.123, -200.456, 9999.999], [0, 0, 0], [5, 5, 5]])
    p = tmp_path / "cols.pdb"
    write_values(p, xyz, [0.1234, 12.3456, np.nan, -9.9994], element="Pt")
    recs = [ln for ln in p.read_text().splitlines() if ln.startswith("HETATM")]
    assert len(recs) == 4
    r = recs[1]
    assert len(r) == 80
    assert r[0:6] == "HETATM" and r[6:11] == "    2"
    assert r[12:16] == "PT  " and r[17:20] == " PT" and r[21] == "A" and r[22:26] == "   2"
    assert r[30:38] == "-100.123" and r[38:46] == "-200.456" and r[46:54] == "9999.999"
    assert r[54:60] == "  1.00" and r[60:66] == "12.346" and r[76:78] == "PT"
    assert recs[0][60:66] == " 0.123"
    assert recs[2][60:66] == " 0.000"  # NaN -> 0
    assert recs[3][60:66] == "-9.999"
    lines = p.read_text().splitlines()
    assert lines[-1].startswith("END") and any(ln.startswith("TER") for ln in lines)


def test_pdb_one_letter_element_and_resname(tmp_path):
    p = tmp_path / "c.pdb"
    write_values(p, TETRA, [1, 2, 3, 4], element="c", resname="NP")
    r = [ln for ln in p.read_text().splitlines() if ln.startswith("HETATM")][0]
    assert r[12:16] == " C  " and r[17:20] == " NP" and r[76:78] == " C"
    st = gemmi.read_structure(str(p))
    assert st[0][0][0][0].element.name == "C"


def test_pdb_wraps_chains_and_serials(tmp_path):
    n = 99_999
    xyz = fcc_points(n)
    p = tmp_path / "big.pdb"
    write_values(p, xyz, np.zeros(n))
    recs = [ln for ln in p.read_text().splitlines() if ln.startswith("HETATM")]
    assert recs[-1][6:11] == "99999"
    assert recs[9998][21:26] == "A9999" and recs[9999][21:26] == "B   1"
    assert recs[-1][21] == "K"
    assert all(len(r) == 80 for r in recs[::997])


def test_large_values_fewer_decimals_or_error(tmp_path):
    p = tmp_path / "v.pdb"
    write_values(p, TETRA, [123.4567, -12.3456, 54321.4, 999999.0])
    f = read_frame(p)
    np.testing.assert_array_equal(f.b_factors, [123.46, -12.35, 54321.0, 999999.0])
    with pytest.raises(ValueError, match="B-factor"):
        write_values(p, TETRA, [1, 2, 3, 1e7])
    with pytest.raises(ValueError, match="infinite"):
        write_values(p, TETRA, [1, 2, 3, np.inf])
    write_values(tmp_path / "v.cif", TETRA, [1, 2, 3, 1e7])
    assert read_frame(tmp_path / "v.cif").b_factors[3] == 1e7


def test_write_rejects_bad_input(tmp_path):
    p = tmp_path / "x.pdb"
    with pytest.raises(ValueError, match="99,999"):
        write_values(p, np.zeros((100_000, 3)), np.zeros(100_000))
    with pytest.raises(ValueError, match="fit"):
        write_values(p, TETRA + 10_000, np.zeros(4))
    with pytest.raises(ValueError, match="values"):
        write_values(p, TETRA, np.zeros(3))
    with pytest.raises(ValueError, match="element"):
        write_values(p, TETRA, np.zeros(4), element="Xyz")
    with pytest.raises(ValueError, match="non-finite"):
        write_values(p, TETRA * np.nan, np.zeros(4))
    assert not p.exists()


def test_write_is_atomic_replace(tmp_path):
    p = tmp_path / "a.pdb"
    p.write_text("old")
    write_values(p, TETRA, np.arange(4))
    assert read_frame(p).n_atoms == 4
    assert sorted(q.name for q in tmp_path.iterdir()) == ["a.pdb"]


def test_write_values_many_equals_one_file_at_a_time(tmp_path):
    """Several files of the same atoms (records formatted once per format, the values per
    file) are byte for byte the files write_values writes one at a time; bad values still
    fail with the same errors."""
    import pytest

    from nanotraj.io import write_values, write_values_many

    rng = np.random.default_rng(4)
    x = rng.normal(0, 20, (2500, 3))
    vals = [rng.normal(0, 3, 2500), np.where(rng.random(2500) < 0.2, np.nan, 1.0),
            rng.normal(0, 900, 2500)]
    items = [(tmp_path / "many" / f"v{k}{ext}", v) for k, v in enumerate(vals)
             for ext in (".cif", ".pdb")]
    (tmp_path / "many").mkdir()
    (tmp_path / "one").mkdir()
    write_values_many(items, x, element="Au")
    for path, v in items:
        single = tmp_path / "one" / path.name
        write_values(single, x, v, element="Au")
        assert path.read_bytes() == single.read_bytes(), path.name
    with pytest.raises(ValueError, match="infinite"):
        write_values_many([(tmp_path / "a.cif", vals[0]), (tmp_path / "b.cif", vals[0] * np.inf)],
                          x)
    with pytest.raises(ValueError, match="B-factor"):
        write_values_many([(tmp_path / "c.pdb", vals[0] * 1e6)], x)


# ---------------------------------------------------------------- what the reader leaves out


def test_alternate_locations_keep_the_first_conformer(tmp_path):
    """A site modelled twice (altloc A and B, 1 A apart) is one atom: blank and each site's
    first code are read, the others are left out and said so (both used to be read as two
    atoms); a site given only as B (another residue) is kept, as gemmi keeps it."""
    lines = tetra_lines()
    alt_a = lines[1][:16] + "A" + lines[1][17:]
    b = atom(2, 2.77, 1.0, 0.0)
    alt_b = b[:16] + "B" + b[17:]
    only_b = lines[3][:16] + "B" + lines[3][17:]  # residue 4: no A
    text = "\n".join([lines[0], alt_a, alt_b, lines[2], only_b]) + "\n"
    f = read_frame(write(tmp_path, "alt.pdb", text))
    np.testing.assert_allclose(f.coords, np.round(TETRA, 3))
    assert f.notes == ("1 atom(s) of a second alternate location of their site (column 17) "
                       "ignored",)
    st = gemmi.read_pdb_string(text)
    st.remove_alternative_conformations()
    assert st[0].count_atom_sites() == f.n_atoms == 4
    cif = gemmi.read_pdb_string(text).make_mmcif_document().as_string()
    g = read_frame(write(tmp_path, "alt.cif", cif))
    np.testing.assert_allclose(g.coords, np.round(TETRA, 3), atol=1e-9)
    assert len(g.notes) == 1 and "second alternate location" in g.notes[0]
    assert read_frame(write(tmp_path, "plain.pdb", "\n".join(lines) + "\n")).notes == ()


def test_records_after_end_are_reported(tmp_path):
    lines = tetra_lines()
    extra = atom(9, 9.0, 9.0, 9.0)
    p = write(tmp_path, "end.pdb", "\n".join([*lines, "END", extra, extra]) + "\n")
    f = read_frame(p)
    assert f.n_atoms == 4
    assert f.notes == ("2 ATOM/HETATM record(s) after END (line 5) ignored",)


def test_parse_stage_warns_about_what_the_reader_left_out(tmp_path, capsys):
    from nanotraj.stages.frame import parse_frame

    lines = tetra_lines()
    p = write(tmp_path, "end.pdb", "\n".join([*lines, "END", atom(9, 9.0, 9.0, 9.0)]) + "\n")
    parse_frame(p, tmp_path / "frame.npz", log=tmp_path / "parse.log")
    msg = f"{p}: 1 ATOM/HETATM record(s) after END (line 5) ignored"
    assert f"warning: {msg}" in (tmp_path / "parse.log").read_text()
    assert f"nanotraj warning: {msg}" in capsys.readouterr().err


def test_bond_stage_warns_when_the_cutoff_finds_no_bond(tmp_path, capsys):
    from nanotraj.stages import frame as stage
    from nanotraj.tables import load_arrays

    p = write(tmp_path, "a.pdb", "\n".join(tetra_lines()) + "\n")
    w, f = stage.frame_files(tmp_path, "s", "a")
    stage.parse_frame(p, w["frame"])
    stage.compute_rdf(w["frame"], f["rdf"], w["rdf"], cutoff=1.0)
    stage.find_bonds(w["frame"], w["rdf"], w["bonds"], log=tmp_path / "bonds.log")
    assert len(load_arrays(w["bonds"])["bonds"]) == 0
    assert "warning:" in (tmp_path / "bonds.log").read_text()
    assert "no two atoms within the cutoff 1.0000 A" in capsys.readouterr().err


def test_coordination_stage_warns_about_atoms_without_bonds(tmp_path, capsys):
    """A stray atom 60 A away: the frame is analysed, and the run says which atom it is."""
    from nanotraj.stages import frame as stage

    xyz = np.vstack([fcc_points(200), [[60.0, 0.0, 0.0]]])
    write_values(tmp_path / "stray.pdb", xyz, np.zeros(len(xyz)))
    stage.run_frame(tmp_path / "stray.pdb", tmp_path / "res", series="s", frame="f",
                       time=0.0, pdbs=False)
    err = capsys.readouterr().err
    assert "1 atom(s) without any bond" in err and "atom 200 at" in err


def test_crystallographic_cif_with_fractional_coordinates_gets_a_hint(tmp_path):
    text = ("data_pt\n_cell_length_a 3.912\n_cell_length_b 3.912\n_cell_length_c 3.912\n"
            "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
            "Pt1 0 0 0\nPt2 0.5 0.5 0\nPt3 0.5 0 0.5\nPt4 0 0.5 0.5\n")
    msg = assert_frame_error(write(tmp_path, "pt.cif", text), "no atoms")
    assert "fractional coordinates" in msg


# ---------------------------------------------------------------- hostile and broken files


@pytest.mark.parametrize("cut", ["ATO", "HETA", "A"])
def test_pdb_cut_inside_a_record_keyword(tmp_path, cut):
    text = "\n".join(tetra_lines()) + "\n" + cut
    msg = assert_frame_error(write(tmp_path, "cut.pdb", text), "line 5: the file ends inside")
    assert "truncated file?" in msg


def test_pdb_cut_inside_a_coordinate(tmp_path):
    text = "\n".join(tetra_lines())
    assert_frame_error(write(tmp_path, "cut.pdb", text[:-40]), "record truncated")


def test_complete_pdb_without_final_newline_is_read(tmp_path):
    f = read_frame(write(tmp_path, "a.pdb", "\n".join(tetra_lines())))
    assert f.n_atoms == 4


def test_mmcif_cut_inside_a_value(tmp_path):
    st = gemmi.read_pdb_string("\n".join(tetra_lines() + [atom(5, 9.0, 9.0, 9.0)]) + "\n")
    cif = st.make_mmcif_document().as_string()
    assert read_frame(write(tmp_path, "ok.cif", cif)).n_atoms == 5
    # cut in the middle of the last row: gemmi would read a shortened value as a number
    last_row = cif.rstrip("\n#").rsplit("\n", 1)[-1]
    cut_at = cif.index(last_row) + len(last_row) - 3
    msg = assert_frame_error(write(tmp_path, "cut.cif", cif[:cut_at]), "ends inside a data row")
    assert "truncated file?" in msg


def test_decompression_bomb_stops_at_the_limit(tmp_path):
    import bz2
    import lzma

    body = ("REMARK" + " " * 74 + "\n") * 25_000  # 2 MB of text, a few kB compressed
    for name, pack in (("g.pdb.gz", gzip.compress), ("b.pdb.bz2", bz2.compress),
                       ("x.pdb.xz", lzma.compress)):
        p = write(tmp_path, name, pack(body.encode()), mode="wb")
        assert p.stat().st_size < 20_000
        assert_frame_error(p, "decompressed content larger than max_frame_bytes (1 MiB)",
                           max_bytes=2**20)
    big = write(tmp_path, "big.pdb", body)
    assert_frame_error(big, "file larger than max_frame_bytes (1 MiB)", max_bytes=2**20)


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom"])
def test_special_files_are_refused_without_reading(tmp_path, special):
    if special == "fifo":
        path = tmp_path / "pipe.pdb"
        os.mkfifo(path)  # opening it for reading would block forever
    else:
        path = Path(special)
        if not path.exists():
            pytest.skip(f"{special} not on this system")
    with pytest.raises(FrameError, match="is a pipe, socket or device, not a regular file"):
        read_frame(path)
