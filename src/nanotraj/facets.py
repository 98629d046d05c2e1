r"""Facets of a particle: the alpha-shape surface grouped into planes and indexed in the crystal.

The alpha-shape surface (:func:`nanotraj.alphashape.alpha_shape`) is a mesh of triangles between
surface atoms, each with its outward unit normal ``n_t`` and area ``A_t``.  Its triangles are
grouped into planes (*facets*) and each plane is indexed by its Miller indices in the crystal
frame of the grain beneath it (:mod:`nanotraj.orientations`; for a single crystal, the frame of
the dominant orientation):

1. **Crystal-frame normals.**  ``m_t = R_g^T s_t`` with ``R_g`` the orientation of the
   triangle's grain and ``s_t`` its *smoothed* normal: the area-weighted mean of ``n_t`` and the
   normals of the triangles sharing an edge with it that are within :data:`SMOOTH_ANGLE` of
   ``n_t`` (so noise is averaged within a plane, never across a facet edge, where normals turn
   by 35 deg or more).
2. **Low-index label.**  The nearest of the 26 directions of {100}, {110} and {111} (cubic
   lattices), if within :data:`TOLERANCE`; otherwise the triangle is unindexed.  The families
   are >= 35.3 deg apart ({111}-{110}), so a label is unambiguous.
3. **Planes.**  Triangles sharing an edge with the same label in the same grain form one plane
   (connected components); parallel terraces separated by a step are different planes (the
   step's triangles are not of their label).  Unindexed triangles are grown into planes from
   the largest one: a triangle joins when it shares an edge with the plane and its normal is
   within :data:`TOLERANCE` of the seed's (no drift around a curved surface).
4. **Miller indices.**  A labelled plane has its direction's ``(h, k, l)``; an unindexed plane
   the integer direction with ``max |index| <= 3`` nearest to its mean crystal-frame normal if
   within :data:`HIGH_INDEX_TOLERANCE` (``{311}``, ``{210}``, ``{221}``, ...), else none (NaN).
   Families: ``111``, ``100``, ``110`` and ``other`` (every other or unindexed plane).

Per frame (:func:`facet_fractions`): the area fraction of each family over the whole surface,
and ``n_facets``, the planes of at least :data:`MIN_FACET_ATOMS` atoms (a {100} unit square;
single triangles left between planes are counted in the areas, not as facets).

Checked on perfect truncated octahedra (``tests/test_facets.py``): exactly 8 {111} and 6 {100}
planes with the analytic area ratio ``12 sqrt(3) : 6``, in any orientation.  Under noise a
plane stays one plane while its triangles' smoothed normals stay within :data:`TOLERANCE`
(docs/methods.md: measured up to 0.2 A).  Only cubic lattices are indexed (fcc, bcc, sc);
for hcp frames every plane is ``other``.

Lengths in Angstrom, areas in Angstrom^2, angles in degrees.  numpy and scipy.sparse.
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np

from nanotraj.contract import FACET_COLUMNS

__all__ = ["FAMILIES", "FACET_COLUMNS", "TOLERANCE", "SMOOTH_ANGLE", "HIGH_INDEX_TOLERANCE",
           "MIN_FACET_ATOMS", "low_index_directions", "triangle_areas", "adjacency",
           "facet_planes", "facet_fractions", "vertex_normals"]

#: Facet families reported per frame (``facet_fraction_<family>``).
FAMILIES = ("111", "100", "110", "other")
#: Largest angle (degrees) between a normal and a low-index direction it is labelled with.
TOLERANCE = 15.0
#: Neighbouring triangles within this angle (degrees) are averaged into a triangle's normal.
SMOOTH_ANGLE = 25.0
#: Largest angle (degrees) between an unindexed plane's mean normal and the high-index
#: direction (``max |index| <= 3``) it is named after.
HIGH_INDEX_TOLERANCE = 5.0
#: Smallest plane counted in ``n_facets`` (atoms): a {100} unit square.
MIN_FACET_ATOMS = 4


@cache
def low_index_directions():
    """The 26 unit directions of {100} (6), {110} (12) and {111} (8) in a cubic crystal frame.

    Returns ``(directions (26, 3), hkl (26, 3) int, family (26,) int)`` with family an index
    into :data:`FAMILIES` (0 = 111, 1 = 100, 2 = 110), in a fixed order.
    """
    hkl = [v for v in itertools.product((-1, 0, 1), repeat=3) if any(v)]
    hkl = np.array(hkl, dtype=np.int64)
    nz = np.count_nonzero(hkl, axis=1)
    family = np.where(nz == 3, 0, np.where(nz == 1, 1, 2))
    d = hkl / np.linalg.norm(hkl, axis=1, keepdims=True)
    return d, hkl, family


@cache
def _high_index_directions():
    """Every primitive integer direction with ``max |index| <= 3`` (unit vectors, indices)."""
    out = []
    for v in itertools.product(range(-3, 4), repeat=3):
        if any(v) and math.gcd(math.gcd(abs(v[0]), abs(v[1])), abs(v[2])) == 1:
            out.append(v)
    hkl = np.array(out, dtype=np.int64)
    return hkl / np.linalg.norm(hkl, axis=1, keepdims=True), hkl


def _family_of(hkl):
    a = np.sort(np.abs(np.asarray(hkl)))
    if tuple(a) == (1, 1, 1):
        return 0
    if tuple(a) == (0, 0, 1):
        return 1
    if tuple(a) == (0, 1, 1):
        return 2
    return 3


def triangle_areas(coords, facets) -> np.ndarray:
    """Areas (Angstrom^2) of the triangles ``facets`` (F, 3) of atoms ``coords`` (N, 3)."""
    x = np.asarray(coords, dtype=np.float64)
    f = np.asarray(facets, dtype=np.int64).reshape(-1, 3)
    return 0.5 * np.linalg.norm(np.cross(x[f[:, 1]] - x[f[:, 0]], x[f[:, 2]] - x[f[:, 0]]),
                                axis=1)


def adjacency(facets):
    """Pairs of triangles sharing an edge: (P, 2) int64, each pair once (``i < j``).

    An edge shared by more than two triangles (non-manifold edges of an alpha shape) links them
    in a chain in index order.
    """
    f = np.asarray(facets, dtype=np.int64).reshape(-1, 3)
    if len(f) == 0:
        return np.zeros((0, 2), np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e.sort(axis=1)
    tri = np.tile(np.arange(len(f)), 3)
    order = np.lexsort((tri, e[:, 1], e[:, 0]))
    e, tri = e[order], tri[order]
    same = np.all(e[1:] == e[:-1], axis=1)
    pairs = np.column_stack([tri[:-1][same], tri[1:][same]])
    pairs.sort(axis=1)
    return np.unique(pairs, axis=0)


def vertex_normals(n_atoms: int, coords, facets, normals) -> np.ndarray:
    """Area-weighted mean outward normal of the triangles at each atom (unit, (N, 3)); NaN for
    atoms that are no triangle's corner."""
    f = np.asarray(facets, dtype=np.int64).reshape(-1, 3)
    nrm = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    w = triangle_areas(coords, f)[:, None] * nrm
    acc = np.zeros((n_atoms, 3))
    for c in range(3):
        np.add.at(acc, f[:, c], w)
    length = np.linalg.norm(acc, axis=1)
    out = np.full((n_atoms, 3), np.nan)
    ok = length > 0
    out[ok] = acc[ok] / length[ok, None]
    return out


def _smoothed(nrm, area, pairs):
    cos_gate = math.cos(math.radians(SMOOTH_ANGLE))
    acc = nrm * area[:, None]
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        close = np.einsum("ij,ij->i", nrm[i], nrm[j]) > cos_gate
        i, j = i[close], j[close]
        np.add.at(acc, i, nrm[j] * area[j, None])
        np.add.at(acc, j, nrm[i] * area[i, None])
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    return np.where(length > 0, acc / np.where(length > 0, length, 1.0), nrm)


def _grow_unindexed(todo, nrm, area, pairs, cos_tol):
    """Seeded region growing of the triangles ``todo`` (bool): plane ids (-1 elsewhere)."""
    f = len(todo)
    nbr_start = np.zeros(f + 1, np.int64)
    if len(pairs):
        both = np.concatenate([pairs, pairs[:, ::-1]])
        both = both[np.lexsort((both[:, 1], both[:, 0]))]
        np.add.at(nbr_start, both[:, 0] + 1, 1)
        nbr = both[:, 1]
    else:
        nbr = np.zeros(0, np.int64)
    nbr_start = np.cumsum(nbr_start)
    plane = np.full(f, -1, np.int64)
    order = np.flatnonzero(todo)
    order = order[np.lexsort((order, -area[order]))]
    k = 0
    for seed in order.tolist():
        if plane[seed] >= 0:
            continue
        plane[seed] = k
        ns = nrm[seed]
        stack = [seed]
        while stack:
            t = stack.pop()
            for u in nbr[nbr_start[t] : nbr_start[t + 1]].tolist():
                if todo[u] and plane[u] < 0 and float(nrm[u] @ ns) > cos_tol:
                    plane[u] = k
                    stack.append(u)
        k += 1
    return plane, k


def facet_planes(coords, facets, normals, grain=None, rotations=None, *, cubic=True,
                 tolerance=TOLERANCE) -> dict:
    """Group the surface triangles into planes and index them (module docstring).

    Parameters
    ----------
    coords : (N, 3) Angstrom.
    facets : (F, 3) int, triangles of the alpha-shape surface (atom indices).
    normals : (F, 3), their unit outward normals (sample frame).
    grain : (F,) int or None: the grain of each triangle (an index into ``rotations``; -1: none);
        None: grain 0 for every triangle.
    rotations : (G, 3, 3) or (3, 3) or None: the grains' orientations ``R`` (crystal -> sample,
        :func:`nanotraj.orientations.rotation_matrices`); None: no crystal frame (every plane
        is unindexed, found by region growing, family ``other``).
    cubic : bool, whether the lattice is cubic (fcc, bcc, sc); False: nothing is indexed.
    tolerance : float, degrees (:data:`TOLERANCE`).

    Returns
    -------
    dict:
      ``plane`` (F,) int64, the plane of each triangle (numbered as the table);
      ``table``: dict of columns :data:`FACET_COLUMNS` plus ``family`` (index into
      :data:`FAMILIES`), one row per plane, ordered by decreasing area (ties: more atoms, then
      the normal's components); ``h, k, l`` float (NaN where not indexed), ``area`` Angstrom^2,
      ``n_atoms`` its distinct corner atoms, ``normal_*`` the area-weighted mean outward unit
      normal in the sample frame.
    Empty surface: no planes.
    """
    x = np.asarray(coords, dtype=np.float64)
    f = np.asarray(facets, dtype=np.int64).reshape(-1, 3)
    nrm = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    nf = len(f)
    if len(nrm) != nf:
        raise ValueError(f"{len(nrm)} normals for {nf} facets")
    area = triangle_areas(x, f)
    pairs = adjacency(f)
    smooth = _smoothed(nrm, area, pairs)
    g = np.zeros(nf, np.int64) if grain is None else np.asarray(grain, np.int64).reshape(-1)
    if len(g) != nf:
        raise ValueError(f"{len(g)} grains for {nf} facets")
    rot = np.zeros((0, 3, 3)) if rotations is None else \
        np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    framed = (g >= 0) & (g < len(rot)) & bool(cubic)
    g = np.where(framed, g, -1)
    R = np.full((nf, 3, 3), np.nan)
    R[framed] = rot[g[framed]]
    framed &= np.all(np.isfinite(R), axis=(1, 2))
    crystal = np.full((nf, 3), np.nan)
    crystal[framed] = np.einsum("fji,fj->fi", R[framed], smooth[framed])  # R^T s
    dirs, hkl_dirs, fam_dirs = low_index_directions()
    label = np.full(nf, -1, np.int64)
    cos_tol = math.cos(math.radians(tolerance))
    if framed.any():
        c = crystal[framed] @ dirs.T
        best = np.argmax(c, axis=1)
        ok = c[np.arange(len(c)), best] > cos_tol
        label[np.flatnonzero(framed)[ok]] = best[ok]
    # planes of labelled triangles: components of same-label, same-frame edge neighbours
    plane = np.full(nf, -1, np.int64)
    n_planes = 0
    if (label >= 0).any():
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        i, j = (pairs[:, 0], pairs[:, 1]) if len(pairs) else (np.zeros(0, int),) * 2
        same = (label[i] >= 0) & (label[i] == label[j])
        same &= g[i] == g[j]
        graph = coo_matrix((np.ones(int(same.sum())), (i[same], j[same])), shape=(nf, nf))
        _, comp = connected_components(graph, directed=False)
        lab = np.flatnonzero(label >= 0)
        _, plane[lab] = np.unique(comp[lab], return_inverse=True)
        n_planes = int(plane.max()) + 1
    rest, n_rest = _grow_unindexed(label < 0, smooth, area, pairs, cos_tol)
    plane[label < 0] = rest[label < 0] + n_planes
    n_planes += n_rest
    # per-plane values
    p_area = np.bincount(plane, weights=area, minlength=n_planes).astype(np.float64)
    wn = nrm * area[:, None]
    mean_n = np.column_stack([np.bincount(plane, weights=wn[:, c], minlength=n_planes)
                              for c in range(3)]).reshape(n_planes, 3).astype(np.float64)
    mean_n /= np.maximum(np.linalg.norm(mean_n, axis=1, keepdims=True), 1e-300)
    corners = np.unique(np.column_stack([np.repeat(plane, 3), f.ravel()]), axis=0)
    p_atoms = np.bincount(corners[:, 0], minlength=n_planes) if nf else np.zeros(0, np.int64)
    hkl = np.full((n_planes, 3), np.nan)
    family = np.full(n_planes, 3, np.int64)
    first = np.full(n_planes, -1, np.int64)
    first[plane[::-1]] = np.arange(nf)[::-1]  # the lowest triangle of each plane
    hi_dirs, hi_hkl = _high_index_directions()
    cos_hi = math.cos(math.radians(HIGH_INDEX_TOLERANCE))
    lab_first = label[first] if nf else np.zeros(0, np.int64)
    indexed = lab_first >= 0
    hkl[indexed] = hkl_dirs[lab_first[indexed]]
    family[indexed] = fam_dirs[lab_first[indexed]]
    # unindexed planes in a crystal frame: the area-weighted mean crystal-frame normal
    other = ~indexed & (framed[first] if nf else np.zeros(0, bool))
    if other.any():
        sel = framed & other[plane]
        m_t = np.einsum("fji,fj->fi", R[sel], nrm[sel] * area[sel, None])
        m = np.column_stack([np.bincount(plane[sel], weights=m_t[:, c], minlength=n_planes)
                             for c in range(3)])[other]
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-300)
        c = m @ hi_dirs.T
        b = np.argmax(c, axis=1)
        ok = c[np.arange(len(b)), b] > cos_hi
        rows = np.flatnonzero(other)[ok]
        hkl[rows] = hi_hkl[b[ok]]
        family[rows] = [_family_of(v) for v in hi_hkl[b[ok]]]
    key = np.lexsort((np.round(mean_n[:, 2], 9), np.round(mean_n[:, 1], 9),
                      np.round(mean_n[:, 0], 9), -p_atoms, -np.round(p_area, 9)))
    new = np.empty(n_planes, np.int64)
    new[key] = np.arange(n_planes)
    table = {"facet": np.arange(n_planes, dtype=np.int64), "h": hkl[key, 0], "k": hkl[key, 1],
             "l": hkl[key, 2], "area": p_area[key], "n_atoms": p_atoms[key].astype(np.int64),
             "normal_x": mean_n[key, 0], "normal_y": mean_n[key, 1],
             "normal_z": mean_n[key, 2], "family": family[key]}
    return {"plane": new[plane] if nf else plane, "table": table}


def facet_fractions(table) -> dict:
    """``facet_fraction_{111,100,110,other}`` (area fractions of the whole surface; NaN without
    a surface) and ``n_facets`` (planes of at least :data:`MIN_FACET_ATOMS` atoms) from the
    table of :func:`facet_planes`."""
    area = np.asarray(table["area"], dtype=np.float64)
    fam = np.asarray(table["family"])
    total = float(area.sum())
    out = {}
    for k, name in enumerate(FAMILIES):
        out[f"facet_fraction_{name}"] = float(area[fam == k].sum()) / total if total > 0 \
            else math.nan
    out["n_facets"] = int((np.asarray(table["n_atoms"]) >= MIN_FACET_ATOMS).sum())
    return out
