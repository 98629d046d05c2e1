r"""Generalised coordination numbers and surface site classes.

Generalised coordination number (:func:`gcn`)
---------------------------------------------
F. Calle-Vallejo, J. Tymoczko, V. Colic, Q. H. Vu, M. D. Pohl, K. Morgenstern, D. Loffreda,
P. Sautet, W. Schuhmann, A. S. Bandarenka, "Finding optimal surface sites on heterogeneous
catalysts by counting nearest neighbors", Science 350, 185 (2015); F. Calle-Vallejo, J. I.
Martinez, J. M. Garcia-Lastra, P. Sautet, D. Loffreda, "Fast prediction of adsorption
properties for platinum nanocatalysts with generalized coordination numbers", Angew. Chem.
Int. Ed. 53, 8316 (2014):

.. math::  \overline{CN}_i = \sum_{j \in N(i)} \frac{cn_j}{cn_{max}}

over the atom's bonded neighbours ``N(i)`` (the frame's bond network), ``cn_j`` their numbers of
bonds, ``cn_max`` the bulk coordination on that network (:data:`BULK_CN`: 12 for fcc and hcp, 14
for bcc, whose bond network holds the first and second shells, 6 for sc; 4 for diamond).  On a
perfect fcc truncated octahedron: bulk 12, the middle of a {111} terrace 7.5 (6.92 - 7.17 next
to its edges), of a {100} terrace 6.67 (6.5 next to its edges), edges 5.08 - 5.33, vertices
4.25.  An atom without bonds has 0.

Surface site classes (:func:`site_classes`)
-------------------------------------------
For the surface atoms of the alpha shape, from the number of bonds and the local surface normal
in the crystal frame (the area-weighted mean normal of the surface triangles at the atom,
:func:`nanotraj.facets.vertex_normals`, turned by the orientation of the grain beneath it):

=============  ===========================================================================
``vertex``     ``cn <= 6`` (the corners of a truncated octahedron, adatoms)
``edge``       ``cn == 7`` (the edges between facets)
``terrace111`` ``cn == 9`` and the normal within :data:`TOLERANCE` of a <111> direction
``terrace100`` ``cn == 8`` and the normal within :data:`TOLERANCE` of a <100> direction
``other``      every other surface atom (``cn >= 10``: the foot of a step, atoms next to
               an adatom; terrace-like atoms on other planes; no crystal frame)
``bulk``       atoms that are not at the surface
=============  ===========================================================================

The coordination numbers are those of an fcc surface (Calle-Vallejo et al. 2014: terrace {111}
9, {100} 8, edges 7, vertices 6 and fewer); for other lattices every surface atom is ``other``.
On a perfect truncated octahedron with ``n`` atoms per edge this gives exactly its 24 vertices,
``36 (n - 2)`` edge atoms, ``6 (n - 2)^2`` {100} and ``8 (3 n^2 - 9 n + 7)`` {111} terrace
atoms in any orientation, also with 0.1 A of noise (``tests/test_sites.py``).  Under more noise
a bond can appear or vanish at the cutoff, which moves an atom between classes: measured in
docs/methods.md.

Only numpy.  Angles in degrees.
"""

from __future__ import annotations

import math

import numpy as np

from nanotraj.contract import SITE_CLASSES

__all__ = ["BULK_CN", "SITE_CLASSES", "SITE_FRACTION_COLUMNS", "TOLERANCE", "gcn",
           "site_classes", "site_fractions"]

#: Coordination of a bulk atom on the bond network, by the element's lattice.
BULK_CN = {"fcc": 12, "hcp": 12, "bcc": 14, "sc": 6, "diamond": 4}
#: Summary columns: fraction of the surface atoms in each class but ``other`` and ``bulk``.
SITE_FRACTION_COLUMNS = ("fraction_vertex", "fraction_edge", "fraction_terrace111",
                         "fraction_terrace100")
#: Largest angle (degrees) between a terrace atom's normal and the <111> or <100> direction.
TOLERANCE = 15.0

_CODE = {name: k for k, name in enumerate(SITE_CLASSES)}


def gcn(n_atoms: int, bonds, cn_max: int = 12) -> np.ndarray:
    """Generalised coordination number of every atom (module docstring).

    Parameters
    ----------
    n_atoms : int, N.
    bonds : (B, 2) int, the bond network (each pair once).
    cn_max : int > 0, the bulk coordination (:data:`BULK_CN`).

    Returns
    -------
    (N,) float64: ``sum_{j bonded to i} cn_j / cn_max``; 0 for an atom without bonds.
    """
    if cn_max <= 0:
        raise ValueError(f"cn_max must be > 0, got {cn_max}")
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if len(b) and (b.min() < 0 or b.max() >= n_atoms):
        raise ValueError(f"bond indices out of range for {n_atoms} atoms")
    cn = np.bincount(b.ravel(), minlength=n_atoms).astype(np.float64)
    total = np.bincount(b[:, 0], weights=cn[b[:, 1]], minlength=n_atoms)
    total += np.bincount(b[:, 1], weights=cn[b[:, 0]], minlength=n_atoms)
    return total / cn_max


def site_classes(cn, surface, normals_crystal, *, lattice: str = "fcc",
                 tolerance: float = TOLERANCE) -> np.ndarray:
    """Site class code of every atom (index into :data:`SITE_CLASSES`; module docstring).

    Parameters
    ----------
    cn : (N,) int, bonds per atom.
    surface : (N,) bool, surface atoms (alpha shape).
    normals_crystal : (N, 3), each surface atom's outward normal in the crystal frame of its
        grain (unit; NaN where unknown: such terrace-like atoms are ``other``).
    lattice : the element's structure; the classes are defined for ``"fcc"`` only (every
        surface atom of another lattice is ``other``).
    tolerance : degrees.

    Returns
    -------
    (N,) int8 codes: 0 bulk (not surface), 1 vertex, 2 edge, 3 terrace111, 4 terrace100,
    5 other.
    """
    cn = np.asarray(cn).reshape(-1)
    surf = np.asarray(surface, dtype=bool).reshape(-1)
    m = np.asarray(normals_crystal, dtype=np.float64).reshape(-1, 3)
    if not (len(surf) == len(cn) == len(m)):
        raise ValueError("cn, surface and normals_crystal must have one row per atom")
    out = np.where(surf, _CODE["other"], _CODE["bulk"]).astype(np.int8)
    if lattice != "fcc":
        return out
    a = np.abs(m)
    with np.errstate(invalid="ignore"):
        c111 = a.sum(axis=1) / math.sqrt(3.0)  # cos to the nearest <111>
        c100 = a.max(axis=1)  # cos to the nearest <100>
    cos_tol = math.cos(math.radians(tolerance))
    out[surf & (cn <= 6)] = _CODE["vertex"]
    out[surf & (cn == 7)] = _CODE["edge"]
    out[surf & (cn == 9) & (c111 > cos_tol)] = _CODE["terrace111"]
    out[surf & (cn == 8) & (c100 > cos_tol)] = _CODE["terrace100"]
    return out


def site_fractions(codes, surface) -> dict:
    """:data:`SITE_FRACTION_COLUMNS`: fraction of the surface atoms in each class (NaN without
    surface atoms)."""
    codes = np.asarray(codes).reshape(-1)
    surf = np.asarray(surface, dtype=bool).reshape(-1)
    n = int(surf.sum())
    out = {}
    for col in SITE_FRACTION_COLUMNS:
        name = col.removeprefix("fraction_")
        out[col] = float((codes[surf] == _CODE[name]).sum()) / n if n else math.nan
    return out
