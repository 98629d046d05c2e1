"""Element table: crystal structure and lattice constants, nearest-neighbour distances.

The table is the package data file ``nanotraj/data/elements.tsv`` (tab-separated, columns
``element, structure, a, c, source``; lengths in Angstrom, room temperature).  It is read lazily
with the standard library's ``csv`` module and cached per path.
"""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path

from nanotraj.errors import ConfigError

__all__ = ["DEFAULT_TABLE", "atom_elements", "auto_cutoff_min", "check_elements", "lattice",
           "nn_distance", "known_elements"]

DEFAULT_TABLE = Path(__file__).resolve().parent / "data" / "elements.tsv"

_NN_FACTOR = {
    "fcc": 1.0 / math.sqrt(2.0),  # a / sqrt(2)
    "bcc": math.sqrt(3.0) / 2.0,  # a sqrt(3) / 2
    "hcp": 1.0,  # a (ideal c/a; the in-plane neighbours)
    "sc": 1.0,  # simple cubic: a
    "diamond": math.sqrt(3.0) / 4.0,  # a sqrt(3) / 4
}


@lru_cache(maxsize=8)
def _load(path: str) -> dict:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise ConfigError(f"cannot read the element table {path}: {exc.strerror or exc}") from None
    table = {}
    for k, row in enumerate(rows, start=2):
        try:
            symbol = row["element"].strip()
            structure = row["structure"].strip().lower()
            a = float(row["a"])
            c_text = (row.get("c") or "").strip()
            c = float(c_text) if c_text else None
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ConfigError(
                f"element table {path}, line {k}: expected columns element, structure, a, c, "
                "source with numeric a"
            ) from None
        if structure not in _NN_FACTOR:
            raise ConfigError(
                f"element table {path}, line {k}: unknown structure {structure!r} "
                f"(known: {', '.join(_NN_FACTOR)})"
            )
        if not a > 0:
            raise ConfigError(f"element table {path}, line {k}: lattice constant must be > 0")
        table[symbol.lower()] = {
            "element": symbol,
            "structure": structure,
            "a": a,
            "c": c,
            "nn_distance": a * _NN_FACTOR[structure],
            "source": (row.get("source") or "").strip(),
        }
    return table


def _table(table) -> tuple[str, dict]:
    path = str(DEFAULT_TABLE if table is None else Path(table))
    return path, _load(path)


def known_elements(table=None) -> list[str]:
    """Symbols in the element table, in table order."""
    _, t = _table(table)
    return [v["element"] for v in t.values()]


def lattice(element: str, table=None) -> dict:
    """Crystal structure and lattice constants of an element.

    Parameters
    ----------
    element : str
        Element symbol, case-insensitive (``"Pt"``, ``"PT"``, ``"pt"``).
    table : path, optional
        Tab-separated table; default the package's ``data/elements.tsv``.

    Returns
    -------
    dict
        ``structure`` ("fcc", "bcc", "hcp", ...), ``a`` and ``c`` (Angstrom; c is None for cubic
        structures), ``nn_distance`` (Angstrom, see :func:`nn_distance`), ``element`` (symbol as in
        the table) and ``source`` (citation).

    Raises
    ------
    ConfigError
        ``"element 'Xx' is not in <table path>; known: Pt, Au, ..."`` or an unreadable table.
    """
    path, t = _table(table)
    key = str(element).strip().lower()
    if key not in t:
        known = ", ".join(v["element"] for v in t.values())
        raise ConfigError(f"element {element!r} is not in {path}; known: {known}")
    return dict(t[key])


def check_elements(elements, table=None) -> None:
    """A :class:`ConfigError` naming the first element of ``elements`` (in sorted order) that is
    not in the table (see :func:`lattice`); the workflow calls it at start-up."""
    for element in sorted(elements):
        lattice(element, table)


def nn_distance(element: str, table=None) -> float:
    """Nearest-neighbour distance of the element's bulk crystal, Angstrom.

    ``d_nn = a / sqrt(2)`` (fcc), ``a sqrt(3) / 2`` (bcc), ``a`` (hcp, in-plane neighbours),
    ``a`` (simple cubic), ``a sqrt(3) / 4`` (diamond).  E.g. Pt (a = 3.912 A, as in the seed):
    2.766 A.  Reference: C. Kittel, Introduction to Solid State Physics, 8th ed., ch. 1.

    Raises ConfigError for an element not in the table (see :func:`lattice`).
    """
    return float(lattice(element, table)["nn_distance"])


def auto_cutoff_min(element: str, table=None) -> float:
    """Smallest bond cutoff ``cutoff: auto`` may choose for this element, Angstrom.

    0 for fcc, hcp and the other structures (the first minimum of g(r) separates the 12 nearest
    neighbours from the next shell).  For **bcc** ``1.06 a``: the 8 first neighbours
    (``sqrt(3)/2 a``) and the 6 second ones (``a``) together are the bcc coordination
    of common neighbour analysis (signatures 444 and 666; Honeycutt & Andersen 1987, OVITO's
    fixed cutoff ``(1 + sqrt(2))/2 a``) and of the bcc reference point of the BOO classes
    (:func:`nanotraj.lattices.reference_points`, q6 = 0.51069 with 14 neighbours); a cutoff
    between the two shells would leave no atom recognisable as bcc.  The valley between the 1st
    and 2nd shells lies near ``0.93 a'`` and the one between the 2nd and 3rd near ``1.21 a'``
    for the particle's own lattice constant ``a'``; ``1.06 a`` (their geometric mean for
    ``a' = a``) separates them for lattices off the table's ``a`` by strain, a calibration
    error of the voxel size or another bcc metal analysed as Fe: measured on noisy bcc
    clusters, within about -10 % .. +12 % of ``a`` (at -12 % and +13 % some noisy clusters
    already get a cutoff in the wrong valley; set a fixed cutoff there).  See
    :func:`nanotraj.rdf.first_minimum` (``r_min``).
    """
    lat = lattice(element, table)
    return BCC_CUTOFF_MIN * float(lat["a"]) if lat["structure"] == "bcc" else 0.0


#: ``auto_cutoff_min`` of bcc elements in units of the lattice constant:
#: sqrt(0.933 x 1.207), between the 1st/2nd and the 2nd/3rd shell valleys of g(r)
BCC_CUTOFF_MIN = 1.06


#: The 118 element symbols (IUPAC periodic table, 2016 names), to tell a real element column
#: ("NI", "Pt") from a placeholder or garbage ("X", "OW", "1").
_SYMBOLS = frozenset("""
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br
Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er
Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md
No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og
""".split())


def atom_elements(file_elements, element: str):
    """The element symbol each atom is written with, and a warning about the file's elements.

    nanotraj analyses a frame as one element (``element``, from the sheet or the configuration:
    it sets the nearest-neighbour distance of ``cn_lattice``, the tracking distance and the BOO
    reference clusters).  The file's own element column is often a placeholder (SINGLE writes
    ``P`` for platinum, some exporters ``X`` or a water oxygen), so it never overrides that
    choice; but a file with **several** real elements (an alloy: ``NI`` and ``PT``) keeps each
    atom's element in the output files, so that the atoms' identity is not lost.

    Parameters
    ----------
    file_elements : (N,) str array
        The file's element column as read (any case, ``""`` where blank).
    element : str
        The frame's configured element symbol.

    Returns
    -------
    symbols : str or (N,) str array
        ``element`` (a str) when the file names at most one real element; else one symbol per
        atom (the file's, capitalised as ``Ni``; ``element`` where the file's is blank or not an
        element).
    warning : str or None
        For several elements: their counts and the one element the analysis uses.  For one
        real element that differs from ``element`` and is in the element table (``AU`` in a
        frame configured as Pt): that mismatch.  None otherwise.
    """
    import numpy as np

    raw = np.asarray(file_elements, dtype=str)
    names, inverse, counts = np.unique(raw, return_inverse=True, return_counts=True)
    norm = [str(v).strip().capitalize() for v in names]
    real = {}
    for sym, c in zip(norm, counts.tolist(), strict=True):
        if sym in _SYMBOLS:
            real[sym] = real.get(sym, 0) + c
    element = str(element).strip()
    if len(real) >= 2:
        table = np.array([sym if sym in _SYMBOLS else element for sym in norm], dtype="U2")
        listed = ", ".join(f"{sym} {c}" for sym, c in sorted(real.items()))
        return table[inverse.reshape(-1)], (
            f"the file holds several elements ({listed} atoms): every atom is analysed with "
            f"{element}'s nearest-neighbour distance (cn_lattice, tracking) and reference "
            "clusters; the PDB/mmCIF files and atoms.csv keep each atom's element")
    if len(real) == 1:
        (sym,) = real
        known = {e.lower() for e in known_elements()}
        if sym.lower() != element.lower() and sym.lower() in known:
            return element, (
                f"the file's element column says {sym}, the frame is analysed as {element} "
                "(set the sheet's element column or the config's element to change it)")
    return element, None
