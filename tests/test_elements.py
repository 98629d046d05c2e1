"""nanotraj.elements: table lookups and the file's element column."""

import math

import numpy as np
import pytest

from nanotraj.elements import DEFAULT_TABLE, atom_elements, known_elements, lattice, nn_distance
from nanotraj.errors import ConfigError


def test_default_table_exists_and_has_the_common_metals():
    assert DEFAULT_TABLE.is_file()
    assert {"Pt", "Au", "Pd", "Ag", "Cu", "Ni", "Rh", "Ir", "Al", "Pb", "Fe", "Co"} <= set(
        known_elements())


def test_seed_values():
    assert lattice("Pt")["a"] == 3.912
    assert lattice("Au")["a"] == 4.0782
    assert nn_distance("Pt") == pytest.approx(3.912 / math.sqrt(2), rel=1e-15)


@pytest.mark.parametrize("name", ["pt", "PT", "Pt", " Pt "])
def test_case_insensitive(name):
    assert nn_distance(name) == pytest.approx(2.76620, abs=1e-5)


def test_structures():
    assert lattice("Fe")["structure"] == "bcc"
    assert nn_distance("Fe") == pytest.approx(lattice("Fe")["a"] * math.sqrt(3) / 2)
    co = lattice("co")
    assert co["structure"] == "hcp" and co["c"] > co["a"]
    assert nn_distance("Co") == co["a"]
    assert lattice("Cu")["c"] is None
    for el in known_elements():
        assert 2.0 < nn_distance(el) < 3.6
        assert lattice(el)["source"]


def test_unknown_element():
    with pytest.raises(ConfigError) as info:
        nn_distance("Xx")
    msg = str(info.value)
    assert "'Xx'" in msg and str(DEFAULT_TABLE) in msg and "Pt" in msg and "Au" in msg


def test_custom_table(tmp_path):
    t = tmp_path / "el.tsv"
    t.write_text("element\tstructure\ta\tc\tsource\nXy\tbcc\t4.0\t\tmade up\n")
    assert nn_distance("xy", table=t) == pytest.approx(2 * math.sqrt(3))
    with pytest.raises(ConfigError, match="Pt"):
        nn_distance("Pt", table=t)
    bad = tmp_path / "bad.tsv"
    bad.write_text("element\tstructure\ta\tc\tsource\nXy\tweird\t4.0\t\t\n")
    with pytest.raises(ConfigError, match="structure"):
        nn_distance("Xy", table=bad)
    with pytest.raises(ConfigError, match="cannot read"):
        nn_distance("Pt", table=tmp_path / "missing.tsv")


# ----------------------------------------------------------------------------------------------
# the file's element column: placeholders, mismatches, alloys


@pytest.mark.parametrize("column", [["P"] * 5, ["PT"] * 5, ["pt"] * 5, [""] * 5,
                                    ["X", "", "X", "1", ""], ["W"] * 5])
def test_one_or_no_real_element_keeps_the_configured_one_silently(column):
    """SINGLE writes P for platinum, the ideal cluster W (a water oxygen): placeholders, not
    elements of the element table, never relabel the frame nor warn."""
    assert atom_elements(np.array(column), "Pt") == ("Pt", None)


def test_a_known_element_that_differs_is_reported_not_used():
    symbols, note = atom_elements(np.array(["AU"] * 4), "Pt")
    assert symbols == "Pt"
    assert "Au" in note and "analysed as Pt" in note


def test_several_elements_keep_each_atom_its_own():
    column = np.array(["NI", "PT", "", "Ni ", "pt", "XX"])
    symbols, note = atom_elements(column, "Pt")
    assert symbols.tolist() == ["Ni", "Pt", "Pt", "Ni", "Pt", "Pt"]
    assert "Ni 2, Pt 2 atoms" in note and "Pt's nearest-neighbour distance" in note


def test_an_alloy_frame_keeps_its_elements_in_every_output(tmp_path, capsys):
    """A Pt/Ni frame: the PDB and mmCIF files and atoms.csv keep each atom's element (they used
    to relabel every atom as the configured element), the log and stderr say that the analysis
    used one element."""
    import gemmi

    from nanotraj.io import write_values
    from nanotraj.lattices import fcc_sphere
    from nanotraj.stages import frame as stage
    from nanotraj.tables import read_rows

    xyz = fcc_sphere(6.0)
    kinds = np.where(np.arange(len(xyz)) % 3 == 0, "Ni", "Pt")
    src = tmp_path / "alloy.pdb"
    write_values(src, xyz, np.zeros(len(xyz)), element=kinds)
    paths = stage.run_frame(src, tmp_path / "results", series="s", frame="f", time=0.0,
                               element="Pt")
    header, rows = read_rows(paths["atoms"])
    assert header[-1] == "element" and [r["element"] for r in rows] == kinds.tolist()
    for suffix in ("pdb", "cif"):
        st = gemmi.read_structure(str(tmp_path / "results" / "s" / "f" / "pdb" / f"cn.{suffix}"))
        assert [cra.atom.element.name for cra in st[0].all()] == kinds.tolist()
    err = capsys.readouterr().err
    assert err.count("nanotraj warning:") == 1 and "several elements (Ni" in err
    assert str(src) in err


def test_written_elements_one_per_atom_round_trip(tmp_path):
    import gemmi

    from nanotraj.io import write_values

    xyz = np.arange(15.0).reshape(5, 3) * 3.0
    kinds = ["Pt", "Ni", "O", "Pt", "Au"]
    for name in ("a.pdb", "a.cif"):
        write_values(tmp_path / name, xyz, np.arange(5.0), element=kinds)
        st = gemmi.read_structure(str(tmp_path / name))
        atoms = [cra.atom for cra in st[0].all()]
        assert [a.element.name for a in atoms] == kinds
        np.testing.assert_allclose([a.b_iso for a in atoms], np.arange(5.0))
    # one symbol for all atoms, given once or per atom: the same bytes
    write_values(tmp_path / "one.pdb", xyz, np.zeros(5), element="Pt")
    write_values(tmp_path / "many.pdb", xyz, np.zeros(5), element=["Pt"] * 5)
    assert (tmp_path / "one.pdb").read_bytes() == (tmp_path / "many.pdb").read_bytes()
    with pytest.raises(ValueError, match="element"):
        write_values(tmp_path / "bad.pdb", xyz, np.zeros(5), element=["Pt", "N1", "O", "O", "O"])
    with pytest.raises(ValueError, match="4 element symbols for 5 atoms"):
        write_values(tmp_path / "bad.pdb", xyz, np.zeros(5), element=["Pt"] * 4)
