r"""Adaptive common neighbour analysis (a-CNA): per-atom fcc / hcp / bcc / ico without a cutoff.

A. Stukowski, "Structure identification methods for atomistic simulations of crystalline
materials", Modelling Simul. Mater. Sci. Eng. 20, 045021 (2012), section 2.3.  The conventional
CNA (:func:`nanotraj.cna.cna`) needs one cutoff between the first and second neighbour
shells for the whole frame; a-CNA chooses a cutoff *per atom* from its own nearest neighbours,
so that strained, thermally or experimentally noisy atoms and particles of mixed lattice
spacing are classified without tuning.  For every atom ``i``:

1. **fcc, hcp, ico (12 neighbours).**  With the 12 nearest neighbours at distances
   ``d_1 <= ... <= d_12``, the local cutoff is

   .. math:: r_c^{(12)} = \frac{1 + \sqrt 2}{2}\,\frac{1}{12}\sum_{k=1}^{12} d_k ,

   halfway between the first (``d``) and second (``sqrt 2 d``) shells of a perfect fcc/hcp
   crystal.  Two of the 12 neighbours are bonded when ``|r_j - r_k| <= r_c``.  For each
   neighbour ``j`` the CNA signature is (number of common neighbours of ``i`` and ``j`` among
   the 12, number of bonds among those, number of bonds in the largest connected cluster of
   them).  The atom is **fcc** when all 12 signatures are 421, **hcp** when six are 421 and
   six 422, **ico** when all 12 are 555.
2. **bcc (14 neighbours)**, only when step 1 gave nothing: with the 8 nearest at ``d_1..d_8``
   (first bcc shell, ``sqrt 3 / 2 a``) and the next 6 at ``d_9..d_14`` (second shell, ``a``),

   .. math:: r_c^{(14)} = 1.207\,\frac{1}{14}\Big(\sum_{k=1}^{8} \frac{d_k}{\sqrt{3/4}}
             + \sum_{k=9}^{14} d_k\Big),

   halfway between the second (``a``) and third (``sqrt 2 a``) shells; the atom is **bcc**
   when eight signatures among the 14 are 666 and six are 444.
3. Otherwise **other** (0); so is every atom with fewer than 12 (for bcc: 14) other atoms.

Codes are OVITO's ``CommonNeighborAnalysisModifier.Type`` numbering (0 other, 1 fcc, 2 hcp,
3 bcc, 4 ico; the same as :data:`nanotraj.cna.FCC` ...).  The choices that the paper
leaves open follow OVITO 3.17.2 (``CommonNeighborAnalysisModifier(mode=AdaptiveCutoff)``;
its source was read, not copied): the 12-neighbour test comes first and a bcc atom is only
looked for when it fails; a neighbour pair exactly at the cutoff is bonded (``<=``); the
factor ``(1 + sqrt 2) / 2`` is evaluated in single precision (``1.2071068``) and the bcc factor
is the single-precision ``1.207``; the cutoff is ``mean distance x factor`` with the mean
summed from the nearest neighbour out.  Neighbours at equal distance are ordered by atom
index (OVITO's order among exact ties is its kd-tree's; it matters only for atoms of perfect
lattices whose 12th and 13th, or 14th and 15th, neighbours are at the same distance).
``tests/oracle/test_ovito_acna.py`` checks the result atom for atom against OVITO.

All lengths in Angstrom.  The result does not depend on the order of the atoms (up to exact
distance ties, above), on rotations or translations (up to round-off for a neighbour pair at
exactly the cutoff), nor on the number of threads; scaling all coordinates by a power of two
changes nothing at all.  The cell-list helpers :func:`grid_build` and :func:`grid_for` are
also used by :mod:`nanotraj.alphashape`.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from nanotraj._parallel import run_ranges
from nanotraj.cna import BCC, CNA_NAMES, FCC, HCP, ICO, OTHER

__all__ = ["adaptive_cna", "OTHER", "FCC", "HCP", "BCC", "ICO", "CNA_NAMES"]

_JIT = {"nogil": True, "cache": True}

#: (1 + sqrt 2) / 2 as OVITO evaluates it: ``(1.0f + sqrt(2.0f)) * 0.5f`` in float32.
_F12 = float(np.float32(1.0) + np.sqrt(np.float32(2.0)))  # times 0.5 in the kernel
#: OVITO's bcc factor, the float32 literal ``1.207f``.
_F14 = float(np.float32(1.207))
_K = 19  # neighbours asked from the kd-tree: self + 18 (fcc: 12 + the whole 6-atom 2nd shell)
_CHUNK = 1 << 15  # atoms per range handed to a thread


@nb.njit(**_JIT)
def _popcount(v):
    c = 0
    while v:
        v &= v - 1
        c += 1
    return c


@nb.njit(**_JIT)
def _bond_class(adj, ni, nn, large):
    """Class of the CNA signature (n_common, n_bonds, longest_chain) of the pair (centre,
    neighbour ``ni``), from the bond bitmasks ``adj`` of the ``nn`` neighbours (bit k of
    ``adj[j]``: neighbours j and k bonded; all ``nn`` are bonded to the centre, so the common
    neighbours of the pair are ``adj[ni]``).  n_bonds counts the bonds among the common
    neighbours, longest_chain the bonds in their largest connected cluster.  Returns 1 for
    421, 2 for 422, 3 for 555 (``large`` False), 4 for 444, 5 for 666 (``large`` True), else 0.
    Only the chain lengths these signatures need are computed: with two bonds, 2 when they
    share an atom, else 1; otherwise whether all bonds form one cluster."""
    common = adj[ni]
    nc = 0
    twice = 0  # bonds among the common neighbours, counted from both ends
    has2 = False
    for j in range(nn):
        if common >> j & 1:
            nc += 1
            deg = _popcount(adj[j] & common)
            twice += deg
            has2 = has2 or deg == 2
    n_bonds = twice // 2
    if not large:
        if nc == 4 and n_bonds == 2:
            return 2 if has2 else 1
        if not (nc == 5 and n_bonds == 5):
            return 0
        code = 3
    else:
        if nc == 4 and n_bonds == 4:
            code = 4
        elif nc == 6 and n_bonds == 6:
            code = 5
        else:
            return 0
    # one cluster?  Grow it from a common neighbour that has a bond; every common neighbour
    # with a bond must be reached.
    bonded = 0
    for j in range(nn):
        if common >> j & 1 and adj[j] & common:
            bonded |= 1 << j
    comp = bonded & -bonded
    while True:
        grown = comp
        for j in range(nn):
            if comp >> j & 1:
                grown |= adj[j] & common
        if grown == comp:
            break
        comp = grown
    return code if comp == bonded else 0


@nb.njit(**_JIT)
def _bond_masks(dx, dy, dz, nn, cut2, adj):
    for a in range(nn):
        adj[a] = 0
    for a in range(nn):
        for b in range(a + 1, nn):
            ex = dx[a] - dx[b]
            ey = dy[a] - dy[b]
            ez = dz[a] - dz[b]
            if ex * ex + ey * ey + ez * ez <= cut2:
                adj[a] |= 1 << b
                adj[b] |= 1 << a


@nb.njit(**_JIT)
def _classify_atom(dx, dy, dz, d2, n, f12, f14, adj):
    """a-CNA code of one atom from its neighbours' vectors sorted by distance (n of them)."""
    if n < 12:
        return 0
    s = 0.0
    for k in range(12):
        s += math.sqrt(d2[k])
    cut = s / 12.0 * f12 * 0.5
    _bond_masks(dx, dy, dz, 12, cut * cut, adj)
    n421 = 0
    n422 = 0
    n555 = 0
    for ni in range(12):
        c = _bond_class(adj, ni, 12, False)
        if c == 1:
            n421 += 1
        elif c == 2:
            n422 += 1
        elif c == 3:
            n555 += 1
        else:
            break
    if n421 == 12:
        return 1
    if n421 == 6 and n422 == 6:
        return 2
    if n555 == 12:
        return 4
    if n < 14:
        return 0
    s = 0.0
    for k in range(8):
        s += math.sqrt(d2[k] / 0.75)
    for k in range(8, 14):
        s += math.sqrt(d2[k])
    cut = s / 14.0 * f14
    _bond_masks(dx, dy, dz, 14, cut * cut, adj)
    n444 = 0
    n666 = 0
    for ni in range(14):
        c = _bond_class(adj, ni, 14, True)
        if c == 4:
            n444 += 1
        elif c == 5:
            n666 += 1
        else:
            break
    if n666 == 8 and n444 == 6:
        return 3
    return 0


@nb.njit(**_JIT)
def _insert(d2, idx, dx, dy, dz, n, cap, r2, j, ex, ey, ez):
    """Insert neighbour j into the first ``n`` entries sorted by (r2, j), keeping at most
    ``cap``; returns the new count."""
    if n == cap and (d2[n - 1] < r2 or (d2[n - 1] == r2 and idx[n - 1] < j)):
        return n
    p = n if n < cap else cap - 1
    while p > 0 and (d2[p - 1] > r2 or (d2[p - 1] == r2 and idx[p - 1] > j)):
        d2[p] = d2[p - 1]
        idx[p] = idx[p - 1]
        dx[p] = dx[p - 1]
        dy[p] = dy[p - 1]
        dz[p] = dz[p - 1]
        p -= 1
    d2[p] = r2
    idx[p] = j
    dx[p] = ex
    dy[p] = ey
    dz[p] = ez
    return n + 1 if n < cap else cap


@nb.njit(**_JIT)
def grid_build(x, origin, size, dims):
    """Cell list of ``x`` (N, 3) on a grid of cubic cells of edge ``size`` starting at
    ``origin``, ``dims`` cells per axis (cells indexed ``(ix * dims[1] + iy) * dims[2] + iz``,
    positions outside clipped to the border cells): ``(order, start)``, the atoms sorted by
    cell (then index) and the offset of every cell's first atom in ``order`` ((C + 1,),
    C = prod(dims))."""
    n = x.shape[0]
    n_cells = dims[0] * dims[1] * dims[2]
    cell = np.empty(n, np.int64)
    start = np.zeros(n_cells + 1, np.int64)
    for i in range(n):
        cx = min(max(int((x[i, 0] - origin[0]) / size), 0), dims[0] - 1)
        cy = min(max(int((x[i, 1] - origin[1]) / size), 0), dims[1] - 1)
        cz = min(max(int((x[i, 2] - origin[2]) / size), 0), dims[2] - 1)
        c = (cx * dims[1] + cy) * dims[2] + cz
        cell[i] = c
        start[c + 1] += 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    fill = start[:n_cells].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        order[fill[cell[i]]] = i
        fill[cell[i]] += 1
    return order, start


def grid_for(x, size, max_cells):
    """``(origin, size, dims)`` of a cell list of ``x`` with cells of edge ``size`` (Angstrom),
    or None when it would need more than ``max_cells`` cells (sparse or far-flung atoms)."""
    lo = x.min(axis=0)
    hi = x.max(axis=0)
    dims = np.floor((hi - lo) / size) + 1
    if not np.isfinite(dims).all() or float(np.prod(dims)) > max_cells:
        return None
    return lo.astype(np.float64), float(size), dims.astype(np.int64)


@nb.njit(**_JIT)
def _acna_grid_range(xs, order, start, origin, size, dims, rc2, f12, f14, out, p0, p1):
    """a-CNA codes of the atoms ``order[p0:p1]`` from their neighbours within ``sqrt(rc2)``.
    ``xs = x[order]`` are the coordinates sorted by cell (cell list of :func:`grid_build`,
    cells of edge >= that radius: contiguous in memory).  Atoms with fewer than 12 such
    neighbours, and atoms with 12 or 13 that are not fcc/hcp/ico (the bcc test needs the 14
    nearest), get -1: the caller asks a kd-tree for their nearest neighbours."""
    cap = 14
    idx = np.empty(cap, np.int64)
    d2 = np.empty(cap)
    dx = np.empty(cap)
    dy = np.empty(cap)
    dz = np.empty(cap)
    adj = np.zeros(14, np.int64)
    for p in range(p0, p1):
        px = xs[p, 0]
        py = xs[p, 1]
        pz = xs[p, 2]
        cx = min(max(int((px - origin[0]) / size), 0), dims[0] - 1)
        cy = min(max(int((py - origin[1]) / size), 0), dims[1] - 1)
        cz = min(max(int((pz - origin[2]) / size), 0), dims[2] - 1)
        n = 0
        found = 0
        for ax in range(max(cx - 1, 0), min(cx + 2, dims[0])):
            for ay in range(max(cy - 1, 0), min(cy + 2, dims[1])):
                c0 = (ax * dims[1] + ay) * dims[2]
                q0 = start[c0 + max(cz - 1, 0)]  # the z-neighbour cells are contiguous
                q1 = start[c0 + min(cz + 2, dims[2])]
                for q in range(q0, q1):
                    ex = xs[q, 0] - px
                    ey = xs[q, 1] - py
                    ez = xs[q, 2] - pz
                    r2 = ex * ex + ey * ey + ez * ez
                    if r2 <= rc2 and q != p:
                        found += 1
                        n = _insert(d2, idx, dx, dy, dz, n, cap, r2, order[q], ex, ey, ez)
        code = -1
        if found >= 12:  # the 12 nearest are exact: the fcc/hcp/ico test is
            code = _classify_atom(dx, dy, dz, d2, min(found, 14), f12, f14, adj)
            if code == 0 and found < 14:
                code = -1  # the bcc test needs the 14 nearest
        out[order[p]] = code


@nb.njit(**_JIT)
def _acna_knn_range(x, atoms, knn, f12, f14, out, a0, a1):
    """a-CNA codes of atoms ``atoms[a0:a1]``; ``knn[k - a0]`` are candidate neighbour indices of
    atom ``atoms[k]`` from a kd-tree (itself and indices >= N are skipped), re-sorted by
    (distance^2, index) so that the order does not depend on the tree."""
    n_atoms = x.shape[0]
    k_max = knn.shape[1]
    cap = 14
    idx = np.empty(cap, np.int64)
    d2 = np.empty(cap)
    dx = np.empty(cap)
    dy = np.empty(cap)
    dz = np.empty(cap)
    adj = np.zeros(14, np.int64)
    for k in range(a0, a1):
        i = atoms[k]
        n = 0
        for c in range(k_max):
            j = knn[k - a0, c]
            if j < 0 or j >= n_atoms or j == i:
                continue
            ex = x[j, 0] - x[i, 0]
            ey = x[j, 1] - x[i, 1]
            ez = x[j, 2] - x[i, 2]
            n = _insert(d2, idx, dx, dy, dz, n, cap, ex * ex + ey * ey + ez * ez, j, ex, ey,
                        ez)
        out[i] = _classify_atom(dx, dy, dz, d2, n, f12, f14, adj)


def adaptive_cna(coords, *, workers: int = 1) -> np.ndarray:
    r"""Adaptive common neighbour analysis of every atom (see the module docstring).

    Parameters
    ----------
    coords : (N, 3) float array, Angstrom.  Any N >= 0; atoms with fewer than 12 other atoms
        in the frame (N < 13) are all "other".  Duplicate positions are allowed: a copy is a
        neighbour at distance 0, so the copies (and atoms whose 12 nearest include both) come
        out "other".
    workers : int
        Threads (ranges of atoms; the compiled kernel and the kd-tree search release the GIL).
        The result does not depend on it.

    Returns
    -------
    (N,) int8: 0 other, 1 fcc, 2 hcp, 3 bcc, 4 ico (OVITO's ``CommonNeighborAnalysisModifier``
    ``Type`` numbering, :data:`nanotraj.cna.CNA_NAMES`).

    Raises
    ------
    ValueError
        ``coords`` not of shape (N, 3), or not all finite.

    Notes
    -----
    Reference: A. Stukowski, Modelling Simul. Mater. Sci. Eng. 20, 045021 (2012); the
    implementation choices are those of OVITO 3.17.2 (module docstring), with which it agrees
    atom for atom on perfect and noisy fcc, hcp, bcc, icosahedral and decahedral particles, an
    amorphous particle, a random gas and the shared Pt frames
    (``tests/oracle/test_ovito_acna.py``), and with a brute-force implementation of the
    definition (``tests/test_acna.py``).  Each atom is classified alone by a compiled kernel
    (numba) from its 14 nearest neighbours, found in a cell list of edge 1.3 x the median
    nearest-neighbour distance; atoms without 12 (14 for the bcc test) neighbours inside it
    (surface atoms) ask a ``scipy.spatial.cKDTree`` for their 18 nearest.  About 1 - 2 us per
    atom on one thread; against OVITO: ``benchmarks/bench_surface.py``.  Robustness to noise
    against the conventional CNA: ``benchmarks/validate_acna.py``.
    """
    x = np.array(coords, dtype=np.float64, order="C", copy=True)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("coords must be finite (NaN or infinite coordinates given)")
    n = len(x)
    out = np.zeros(n, np.int8)
    if n < 13:
        return out
    from scipy.spatial import cKDTree

    workers = max(1, int(workers))
    tree = cKDTree(x, balanced_tree=False, compact_nodes=False)
    # Cell list of edge 1.3 x the median nearest-neighbour distance: a bulk fcc, hcp or ico
    # atom has its 12 nearest neighbours inside 1.05 x that distance, a bcc atom its 14 inside
    # 1.16 x; atoms without them inside go to the kd-tree.  Only the speed depends on it.
    sample = x[:: max(1, n // 2000)]
    nn = float(np.median(tree.query(sample, k=2)[0][:, 1]))
    rc = 1.3 * nn
    grid = grid_for(x, rc, max(8 * n, 1 << 20)) if rc > 0 else None
    if grid is not None:
        origin, size, dims = grid
        order, start = grid_build(x, origin, size, dims)
        xs = x[order]

        def by_cells(p0, p1):
            _acna_grid_range(xs, order, start, origin, size, dims, rc * rc, _F12, _F14, out,
                             p0, p1)

        run_ranges(by_cells, n, workers, _CHUNK)
        rest = np.flatnonzero(out < 0)
    else:
        rest = np.arange(n)
    k = min(_K, n)

    def by_tree(a0, a1):
        _, knn = tree.query(x[rest[a0:a1]], k=k)
        _acna_knn_range(x, rest, np.ascontiguousarray(knn, dtype=np.int64), _F12, _F14, out,
                        a0, a1)

    run_ranges(by_tree, len(rest), workers, _CHUNK)
    return out


def warm_up():
    """Compile (or load from numba's cache) the kernels of :func:`adaptive_cna` on a small
    particle: the cell-list and the kd-tree paths.  For ``make venv`` (the first call after an
    install otherwise waits ~10 - 20 s for the compiler)."""
    from nanotraj.lattices import fcc_sphere

    x = fcc_sphere(8.0, noise=0.05)
    adaptive_cna(x, workers=1)
    adaptive_cna(np.concatenate([x, x[:20] + 1e7]), workers=1)
