"""nanotraj.elements: table lookups."""

import math

import pytest

from nanotraj.elements import DEFAULT_TABLE, known_elements, lattice, nn_distance
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
