r"""Surface atoms, surface area and solid volume of a particle by the alpha-shape method.

A. Stukowski, "Computational analysis methods in atomistic modeling of crystals", JOM 66, 399
(2014); H. Edelsbrunner & E. P. Muecke, "Three-dimensional alpha shapes", ACM Trans. Graph. 13,
43 (1994).  A probe sphere of radius ``alpha`` (the *probe radius*, Angstrom) rolls over the
atoms; the region it cannot enter is the solid:

1. Delaunay tetrahedralisation of the atoms.
2. A tetrahedron is **solid** when the radius ``R`` of its circumsphere is smaller than
   ``alpha``: ``R^2 < alpha^2`` (strict), ``R^2 = |N|^2 / (4 D^2)`` with ``D = u.(v x w)``
   (six times the volume) and ``N = |u|^2 (v x w) + |v|^2 (w x u) + |w|^2 (u x v)`` for the
   edge vectors ``u, v, w`` from one vertex.  A *sliver* whose circumsphere is undefined,
   ``4 D^2 < 1e-9`` and ``|N|^2 < 1e-9`` (Angstrom^6, ^8: four atoms on one circle, as in
   perfect lattices), is solid when none of its four neighbours is outside the convex hull or
   a non-sliver with ``R >= alpha``.
3. **Boundary facets** are the triangles between a solid tetrahedron and a non-solid one or the
   outside, oriented with the normal pointing out of the solid.  **Surface atoms** are their
   corners, the **area** is the sum of their areas and the **volume** the solid volume,
   computed from the oriented boundary alone (divergence theorem):
   ``V = sum_f a_f . (b_f x c_f) / 6``, equal to the sum of the solid tetrahedra.

These are the rules of OVITO 3.17.2's ``ConstructSurfaceModifier(method=AlphaShape,
radius=alpha, select_surface_particles=True, smoothing_level=0)`` (its source was read, not
copied): ``radius`` is ``alpha``; OVITO's surface particles are the corners of its mesh faces
(made only between solid and non-solid tetrahedra; nothing else is removed); its area attribute
``ConstructSurfaceMesh.surface_area`` is the area of those faces only while the mesh is not
smoothed (``smoothing_level=0``; the default 8 moves the vertices); its solid volume is
``ConstructSurfaceMesh.filled_volume`` (with ``identify_regions=True``).  Like OVITO, every
atom is first displaced by a fixed pseudo-random amount of at most ``1e-10`` times the
diagonal of the bounding box per coordinate, so that the Delaunay tetrahedralisation of perfect
lattices (many atoms on one sphere) is unique; all decisions use the displaced positions,
areas, volumes and normals the given ones.  ``tests/oracle/test_ovito_alphashape.py`` checks
the surface atoms (atom for atom), the area and the volume against OVITO.

Two implementations give the same result:

* :func:`alpha_shape_reference`: ``scipy.spatial.Delaunay`` (Qhull) of all atoms, then the
  rules above.  About 30 us per atom (1e6 atoms: ~35 s).
* :func:`alpha_shape` (fast, exact): only atoms near the surface are triangulated.

**Why the fast path is exact.**  (a) *Candidates.*  If a facet ``f`` is a boundary facet, its
two tetrahedra ``T`` (solid, ``R_T < alpha``) and ``T'`` (``R_T' >= alpha`` or the outside)
have empty circumballs through the circle of ``f``; along the pencil of spheres through that
circle the radius varies continuously from ``R_T`` to ``R_T'`` (to infinity on the side of a
hull facet), and every ball between the two is inside their union, hence empty.  So some
empty ball of radius exactly ``alpha`` passes through the corners of ``f``.  An atom ``p`` is
a *candidate* when such a ball may exist (equivalently: its Voronoi cell reaches ``alpha``
from it): each atom ``q`` with ``d = |q - p| < 2 alpha`` forbids the ball centres
``p + alpha u`` with ``u . (q - p) / d > d / (2 alpha)``, an open spherical cap of angular
radius ``arccos(d / 2 alpha)``; ``p`` is *not* a candidate when these caps cover the whole
sphere of directions.  That is tested rigorously on three nested sets of directions
(Fibonacci points, 64 / 800 / 6400, covering radii ``theta_l`` = 19.6, 5.5, 2.0 degrees
computed exactly from their spherical Delaunay triangles, plus 1e-9 rad): a direction inside a
cap shrunk by ``theta_l`` proves its whole ``theta_l``-neighbourhood covered; a direction not
proven covered is refined into the next set's directions within ``theta_l + theta_(l+1)``;
one not proven at the finest level makes ``p`` a candidate.  Only the atoms within
``min(2 alpha, 3 h)`` are used (``h``: the cell edge, ~1.5 nearest-neighbour distances):
fewer caps can only add candidates.  Every surface atom is a candidate (the converse is not
needed; in practice there are 0.1 - 3 % more candidates than surface atoms).  (b) *Facets.*
Every boundary facet has an empty ball through its corners, all candidates, so it is a facet
of the Delaunay tetrahedralisation of the candidates alone (a subset), computed with Qhull.
(c) *Classification.*  For such a facet (corners a, b, c; circumcentre ``c0``, radius ``rho``,
unit normal ``n``), the sphere ``c0 + t n`` of radius ``sqrt(rho^2 + t^2)`` contains atom
``q`` iff ``k t > m`` with ``k = 2 n.(q - c0)``, ``m = |q - c0|^2 - rho^2``; the facet is
Delaunay iff ``t_lo = max_{k<0} m/k`` is below ``t_hi = min_{k>0} m/k``, and its tetrahedra
on the two sides have ``R^2 = rho^2 + t_hi^2`` and ``rho^2 + t_lo^2`` (no atom on a side: the
outside).  Only atoms in ``|q - c0| <= alpha + sqrt(alpha^2 - rho^2)`` can change whether a
side has ``R < alpha`` (the balls of radius <= alpha of the pencil lie there), so only those
are scanned (cell list).  Facets with ``rho >= alpha`` are never boundary (both sides have
``R >= rho``).  (d) *Hard cases.*  A facet is *hard* when a tetrahedron through it may be a
sliver (its status then depends on its neighbours), when ``R^2`` is within ``1e-8``
(relative) of ``alpha^2`` or ``t_lo`` within ``1e-8 alpha`` of ``t_hi`` (rounding could
decide).  The facets at the corners of hard facets are taken instead from a Qhull
tetrahedralisation of every atom within ``3 alpha`` of those corners, with the reference
rules.  A solid tetrahedron at such a corner ``h`` has its circumball within ``2 alpha`` of
``h``, where this subset holds every atom, so the non-sliver tetrahedra around ``h`` and
their status are those of the full tetrahedralisation, and a sliver's neighbours (which share
three of its corners, on one circle through ``h``) are found there too.  Where atoms are not
in general position (perfect lattices: four or more atoms on one circle or sphere, several
tetrahedralisations are Delaunay) the local and the full Qhull runs may split a flat group
of atoms differently (a square of a {100} facet along the other diagonal): the surface atoms,
the area (also per facet plane) and the volume are the same, the facet lists can differ.
The fast path hands the frame to :func:`alpha_shape_reference` when Qhull fails or leaves
atoms out, or the cell list would be too large (``"method"`` says which ran).
``tests/test_alphashape.py`` checks that both paths give the same surface atoms, areas and
volumes within 1e-9 (and the same facets in general position) on perfect, noisy, amorphous,
hollow, pitted, stepped, touching and flat particles at probe radii 2.5, 4 and 6 A.

The work grows with ``alpha^3`` (the scanned neighbourhoods) and with the number of
candidates (Qhull, ~30 us each: the surface atoms); a probe radius of ~1.5 nearest-neighbour
distances keeps both small.

**Degenerate input.**  Exact duplicate positions are one atom (every copy gets its surface
flag; facets name the first copy).  Fewer than 4 distinct positions, or all within
``1e-9 x`` the bounding-box diagonal of one plane (coplanar or collinear; Qhull cannot
tetrahedralise them): every atom is surface, area and volume 0, no facets.  Atoms not touching
any solid tetrahedron (isolated atoms, when ``alpha`` is small) are not surface.  Facets whose
corners are on one line (zero area: between slivers of collinear atoms of perfect lattices)
are left out of ``"facets"``, area and volume, their corners stay surface.  NaN or infinite
coordinates and a non-positive probe radius raise ValueError.  The displacement is relative
to the bounding box: for atoms spread over a huge box (two particles 1e7 A apart) it grows
accordingly (1e-3 A), as in OVITO.

All lengths in Angstrom, areas in Angstrom^2, volumes in Angstrom^3.
"""

from __future__ import annotations

import math
from functools import cache

import numba as nb
import numpy as np

from nanotraj._parallel import run_ranges
from nanotraj.acna import grid_build, grid_for

__all__ = [
    "alpha_shape",
    "alpha_shape_reference",
    "default_probe_radius",
    "PROBE_FACTOR",
    "SLIVER_THRESHOLD",
    "PERTURBATION",
]

#: Default probe radius in units of the element's nearest-neighbour distance: 1.45 d_nn
#: (Pt: 4.01 A, OVITO's default 4 A; Au 4.18, Pd 3.99, Ag 4.19 A).  Measured by
#: ``benchmarks/validate_surface.py`` on Pt particles whose surface is known (atoms with fewer
#: than 12 neighbours in the perfect lattice; truncated octahedra, spheres, a step, a pit;
#: Gaussian noise 0 - 0.4 A).  Holes: from 1.45 d_nn up no interior atom is called surface at
#: any noise tested; at 1.0 - 1.3 d_nn up to 0.3 % are from 0.35 A of noise on, at 0.9 d_nn
#: from 0.25 A, at 0.8 d_nn from 0.2 A, and at 0.7 d_nn (below the octahedral hole, a / 2)
#: every atom is surface even in perfect particles.  Filling: at 1.45 d_nn every atom with 9
#: or fewer neighbours is found (convex truncated octahedra exactly, up to 0.25 A of noise);
#: atoms at the foot of steps and at the bottom of a 7 A pit (10 - 11 neighbours) are not
#: (1.0 d_nn finds those with 10); 2 d_nn misses up to 1.5 %, 3 d_nn up to 10 % of a noisy
#: truncated octahedron's surface.  On the shared Pt frames the surface fraction falls slowly
#: with the probe (stage3: 58 % at 1.0, 49 % at 1.45, 44 % at 2.0 d_nn, no hole-lining atom
#: from 1.0 d_nn up); on a 51,921-atom amorphous Pd particle it is 10.0 % at 4 A (the
#: published 52,308-atom amorphous Pd particle: 9.4 %).
PROBE_FACTOR = 1.45

#: OVITO's threshold on ``4 D^2`` (A^6) and ``|N|^2`` (A^8) below which a tetrahedron's
#: circumsphere is undefined (a sliver; see the module docstring).
SLIVER_THRESHOLD = 1e-9
#: Largest displacement per coordinate, relative to the bounding-box diagonal (as OVITO).
PERTURBATION = 1e-10
_SEED = 4  # of the displacements (numpy default_rng); any fixed value
_HARD = 1e-8  # relative band around R = alpha (and t_lo = t_hi) left to the reference rules
_FLAT = 2e-10  # facets of area < 1e-10 (longest edge)^2 are left out of "facets" (not "surface")
_MARGIN = 1e-9  # radians added to the covering radii of the direction sets (round-off)
_JIT = {"nogil": True, "cache": True}
_CHUNK = 1 << 13  # atoms (facets) per range handed to a thread
#: Outward facets of a positively oriented tetrahedron (v0, v1, v2, v3), opposite vertex k.
_FACE = np.array([[1, 2, 3], [0, 3, 2], [0, 1, 3], [0, 2, 1]])


# ----------------------------------------------------------------------------------------------
# tetrahedra
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _den_nomin(p, i0, i1, i2, i3):
    """``D`` (six times the signed volume) and ``|N|^2`` (see the module docstring) of the
    tetrahedron with corners ``p[i]``, taken in increasing index order (every code path then
    rounds the same way); ``R^2 = |N|^2 / (4 D^2)``."""
    # sort the four indices
    if i0 > i1:
        i0, i1 = i1, i0
    if i2 > i3:
        i2, i3 = i3, i2
    if i0 > i2:
        i0, i2 = i2, i0
    if i1 > i3:
        i1, i3 = i3, i1
    if i1 > i2:
        i1, i2 = i2, i1
    ux = p[i1, 0] - p[i0, 0]
    uy = p[i1, 1] - p[i0, 1]
    uz = p[i1, 2] - p[i0, 2]
    vx = p[i2, 0] - p[i0, 0]
    vy = p[i2, 1] - p[i0, 1]
    vz = p[i2, 2] - p[i0, 2]
    wx = p[i3, 0] - p[i0, 0]
    wy = p[i3, 1] - p[i0, 1]
    wz = p[i3, 2] - p[i0, 2]
    vwx = vy * wz - vz * wy
    vwy = vz * wx - vx * wz
    vwz = vx * wy - vy * wx
    wux = wy * uz - wz * uy
    wuy = wz * ux - wx * uz
    wuz = wx * uy - wy * ux
    uvx = uy * vz - uz * vy
    uvy = uz * vx - ux * vz
    uvz = ux * vy - uy * vx
    den = ux * vwx + uy * vwy + uz * vwz
    u2 = ux * ux + uy * uy + uz * uz
    v2 = vx * vx + vy * vy + vz * vz
    w2 = wx * wx + wy * wy + wz * wz
    nx = u2 * vwx + v2 * wux + w2 * uvx
    ny = u2 * vwy + v2 * wuy + w2 * uvy
    nz = u2 * vwz + v2 * wuz + w2 * uvz
    return den, nx * nx + ny * ny + nz * nz


@nb.njit(**_JIT)
def _tet_status(p, simplices, alpha2, status, orient, t0, t1):
    """Per tetrahedron t0 .. t1-1: ``status`` 1 solid (``R^2 < alpha^2``), 0 not, 2 sliver
    (circumsphere undefined), and ``orient`` the sign of its volume in the given vertex order
    (+1 or -1, from the displaced positions ``p``)."""
    for t in range(t0, t1):
        a = simplices[t, 0]
        b = simplices[t, 1]
        c = simplices[t, 2]
        d = simplices[t, 3]
        den, nomin = _den_nomin(p, a, b, c, d)
        denom = 4.0 * den * den
        if abs(denom) < 1e-9 and abs(nomin) < 1e-9:
            status[t] = 2
        else:
            status[t] = 1 if nomin / denom < alpha2 else 0
        ux = p[b, 0] - p[a, 0]
        uy = p[b, 1] - p[a, 1]
        uz = p[b, 2] - p[a, 2]
        vx = p[c, 0] - p[a, 0]
        vy = p[c, 1] - p[a, 1]
        vz = p[c, 2] - p[a, 2]
        wx = p[d, 0] - p[a, 0]
        wy = p[d, 1] - p[a, 1]
        wz = p[d, 2] - p[a, 2]
        o = ux * (vy * wz - vz * wy) + uy * (vz * wx - vx * wz) + uz * (vx * wy - vy * wx)
        orient[t] = 1 if o >= 0 else -1


def _solid(p, simplices, neighbors, alpha2, workers=1):
    """Solid flags (the rules of the module docstring) and orientations of the tetrahedra of
    a Qhull tetrahedralisation (``simplices``, ``neighbors``: -1 = outside); also the raw
    status (0 / 1 / 2 = sliver)."""
    t = len(simplices)
    status = np.empty(t, np.int8)
    orient = np.empty(t, np.int8)
    run_ranges(lambda a, b: _tet_status(p, simplices, alpha2, status, orient, a, b), t,
               workers, 1 << 16)
    solid = status == 1
    sl = np.flatnonzero(status == 2)
    if len(sl):
        nb_ = neighbors[sl]
        ok = ((nb_ >= 0) & (status[np.maximum(nb_, 0)] != 0)).all(axis=1)
        solid[sl] = ok
    return solid, status, orient


def _boundary(simplices, neighbors, solid, orient):
    """Oriented boundary facets (F, 3) of the solid tetrahedra: facets whose other side is
    outside or not solid, corners ordered so that ``(b - a) x (c - a)`` points out of the
    solid."""
    out = []
    for k in range(4):
        other = neighbors[:, k]
        sel = solid & ((other < 0) | ~solid[np.maximum(other, 0)])
        f = simplices[sel][:, _FACE[k]]
        neg = orient[sel] < 0
        f[neg] = f[neg][:, ::-1]
        out.append(f)
    return np.concatenate(out).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# input, duplicates, displacements
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _duplicates(xs, order, start):
    """``rep[i]``: the smallest atom index with exactly the coordinates of atom i (identical
    positions share a cell; ``xs = x[order]`` sorted by cell, cells by index)."""
    n = xs.shape[0]
    rep = np.empty(n, np.int64)
    for p in range(n):
        rep[order[p]] = order[p]
    for c in range(start.shape[0] - 1):
        for p in range(start[c], start[c + 1]):
            i = order[p]
            if rep[i] != i:
                continue
            for q in range(p + 1, start[c + 1]):
                if xs[q, 0] == xs[p, 0] and xs[q, 1] == xs[p, 1] and xs[q, 2] == xs[p, 2]:
                    rep[order[q]] = i
    return rep


class _Frame:
    """The validated input: centred distinct positions (``x``), their displaced copy (``xp``),
    the map back to the input atoms and whether the set is degenerate (module docstring)."""

    def __init__(self, coords, probe_radius):
        x = np.asarray(coords, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 3:
            raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("coords must be finite (NaN or infinite coordinates given)")
        alpha = float(probe_radius)
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"probe_radius must be a positive finite length, got {probe_radius}")
        self.alpha = alpha
        self.n_input = n = len(x)
        if n == 0:
            self.degenerate = True
            self.keep = np.zeros(0, np.int64)
            self.rep = np.zeros(0, np.int64)
            return
        lo = x.min(axis=0)
        hi = x.max(axis=0)
        centre = 0.5 * (lo + hi)
        diag = float(np.linalg.norm(hi - lo))
        xc = x - centre
        # exact duplicates: one atom (cells of ~ the mean spacing keep the check O(N))
        size = max(diag / max(n, 1) ** (1.0 / 3.0), 1e-300)
        grid = grid_for(xc, size, max(8 * n, 1 << 20))
        if grid is None:  # a cell list would be huge: sort instead
            _, first, inverse = np.unique(xc, axis=0, return_index=True, return_inverse=True)
            rep = first[inverse.ravel()]
        else:
            origin, size, dims = grid
            order, start = grid_build(xc, origin, size, dims)
            rep = _duplicates(xc[order], order, start)
        self.rep = rep
        self.keep = np.flatnonzero(rep == np.arange(n))
        self.x = np.ascontiguousarray(xc[self.keep])
        rng = np.random.default_rng(_SEED)
        shift = rng.uniform(-1.0, 1.0, (n, 3))[self.keep] * (PERTURBATION * diag)
        self.xp = self.x + shift
        self.diag = diag
        self.degenerate = len(self.keep) < 4 or self._flat()

    def _flat(self):
        d = self.x - self.x.mean(axis=0)
        _, vec = np.linalg.eigh(d.T @ d)
        return float(np.abs(d @ vec[:, 0]).max()) <= 1e-9 * self.diag

    def result(self, surface_u, facets_u):
        """The public dict from per-distinct-atom surface flags and facets (indices into
        ``self.x``): facets in a canonical order (each rotated to start at its smallest index,
        rows sorted), area and volume summed in that order."""
        n = self.n_input
        if self.degenerate:
            return _empty(n, surface=True)
        f = np.asarray(facets_u, np.int64).reshape(-1, 3)
        if len(f):
            shift = np.argmin(f, axis=1)
            rows = np.arange(len(f))[:, None]
            f = f[rows, (shift[:, None] + np.arange(3)[None, :]) % 3]
            f = f[np.lexsort((f[:, 2], f[:, 1], f[:, 0]))]
        a, b, c = self.x[f[:, 0]], self.x[f[:, 1]], self.x[f[:, 2]]
        cr = np.cross(b - a, c - a)
        norm = np.sqrt(np.einsum("ij,ij->i", cr, cr))
        # facets of (numerically) zero area, corners on a line: between slivers of collinear
        # atoms in perfect lattices, where the tetrahedralisation is not unique; they add
        # nothing
        longest = np.maximum(np.einsum("ij,ij->i", b - a, b - a),
                             np.maximum(np.einsum("ij,ij->i", c - a, c - a),
                                        np.einsum("ij,ij->i", c - b, c - b)))
        flat = norm <= _FLAT * longest
        if flat.any():
            f, a, b, c, cr, norm = f[~flat], a[~flat], b[~flat], c[~flat], cr[~flat], norm[~flat]
        normals = cr / norm[:, None]
        area = 0.5 * float(norm.sum())
        volume = float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0
        surf = np.zeros(n, bool)
        surf[self.keep] = surface_u
        surf = surf[self.rep]
        return {
            "surface": surf,
            "area": area,
            "volume": volume,
            "facets": self.keep[f] if len(f) else np.zeros((0, 3), np.int64),
            "normals": normals,
        }


def _empty(n, surface):
    return {
        "surface": np.full(n, bool(surface)),
        "area": 0.0,
        "volume": 0.0,
        "facets": np.zeros((0, 3), np.int64),
        "normals": np.zeros((0, 3)),
    }


# ----------------------------------------------------------------------------------------------
# reference: Qhull of all atoms
# ----------------------------------------------------------------------------------------------
def _full(fr, workers=1):
    """Surface flags and oriented boundary facets (indices into ``fr.x``) from the Delaunay
    tetrahedralisation of all atoms, and the signed solid volume summed over the solid
    tetrahedra (given positions, orientation of the displaced ones)."""
    from scipy.spatial import Delaunay

    tri = Delaunay(fr.xp)
    simp = np.ascontiguousarray(tri.simplices, dtype=np.int64)
    solid, _, orient = _solid(fr.xp, simp, tri.neighbors, fr.alpha**2, workers)
    facets = _boundary(simp, tri.neighbors, solid, orient)
    surf = np.zeros(len(fr.x), bool)
    surf[facets.ravel()] = True
    if len(tri.coplanar):  # points Qhull left out (closer than its precision): as their vertex
        surf[tri.coplanar[:, 0]] = surf[tri.coplanar[:, 2]]
    s = simp[solid]
    a = fr.x[s[:, 0]]
    vol = orient[solid] * np.einsum("ij,ij->i", fr.x[s[:, 1]] - a,
                                    np.cross(fr.x[s[:, 2]] - a, fr.x[s[:, 3]] - a))
    return surf, facets, float(vol.sum()) / 6.0


def alpha_shape_reference(coords, probe_radius, *, workers: int = 1) -> dict:
    """The alpha-shape surface from the Delaunay tetrahedralisation of *all* atoms.

    The plain implementation of the module docstring's rules (``scipy.spatial.Delaunay``,
    i.e. Qhull, then the solid tetrahedra and their boundary): the reference for
    :func:`alpha_shape`, which returns the same.  Parameters and returned dict as
    :func:`alpha_shape`, plus ``"volume_tetrahedra"``: the solid volume summed over the solid
    tetrahedra (equal to ``"volume"``, from the boundary, to round-off).  About 30 us per atom.
    """
    fr = _Frame(coords, probe_radius)
    if fr.degenerate:
        out = fr.result(None, None)
        out["volume_tetrahedra"] = 0.0
        return out
    surf, facets, vol = _full(fr, max(1, int(workers)))
    out = fr.result(surf, facets)
    out["volume_tetrahedra"] = vol
    return out


# ----------------------------------------------------------------------------------------------
# fast path: candidates
# ----------------------------------------------------------------------------------------------
def _fibonacci(n):
    """``n`` nearly uniform unit vectors (Fibonacci lattice), (n, 3), ordered along a snake
    through ``sqrt(n)`` bands of z (consecutive directions are close: the test in
    :func:`_sphere_covered` then mostly finds the same cap again)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z * z)
    phi = np.mod(math.pi * (1.0 + math.sqrt(5.0)) * i, 2.0 * math.pi)
    band = np.minimum((0.5 * (1.0 - z) * math.sqrt(n)).astype(np.int64), int(math.sqrt(n)))
    order = np.lexsort((np.where(band % 2 == 0, phi, -phi), band))
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)[order]


def _covering_radius(u):
    """Largest angle (rad) from any unit vector to the nearest of ``u``: the largest angular
    circumradius of the spherical Delaunay triangles (the facets of the convex hull)."""
    from scipy.spatial import ConvexHull

    f = ConvexHull(u).simplices
    a, b, c = u[f[:, 0]], u[f[:, 1]], u[f[:, 2]]
    nrm = np.cross(b - a, c - a)
    nrm /= np.linalg.norm(nrm, axis=1)[:, None]
    cosang = np.abs(np.einsum("ij,ij->i", nrm, a))
    return float(np.arccos(np.clip(cosang, -1.0, 1.0)).max())


def _children(parent, theta_p, child, theta_c):
    """CSR (indptr, idx): for every parent direction, the child directions within
    ``theta_p + theta_c``; they cover the parent's ``theta_p``-neighbourhood with their
    ``theta_c``-neighbourhoods."""
    cos_lim = math.cos(theta_p + theta_c)
    dots = parent @ child.T
    rows, cols = np.nonzero(dots >= cos_lim)
    indptr = np.zeros(len(parent) + 1, np.int64)
    np.add.at(indptr, rows + 1, 1)
    return np.cumsum(indptr), cols.astype(np.int64)


@cache
def _directions():
    """The three nested direction sets of the candidate test (module docstring) and their
    covering radii (radians, with a round-off margin)."""
    u = [_fibonacci(n) for n in (64, 800, 6400)]
    th = np.array([_covering_radius(v) + _MARGIN for v in u])
    c0 = _children(u[0], th[0], u[1], th[1])
    c1 = _children(u[1], th[1], u[2], th[2])
    cs = np.stack([np.cos(th), np.sin(th)], axis=1)
    return np.ascontiguousarray(u[0].T), u[1], u[2], cs, c0[0], c0[1], c1[0], c1[1]


@nb.njit(**_JIT, inline="always")
def _dir_covered(u, k, dirs, thr, m, last):
    """Index q of a cap containing direction ``u[k]`` once shrunk: ``u[k] . dirs[q] > thr[q]``
    (``thr[q] = cos(beta_q - theta)``, 2 for a cap not larger than ``theta``); -1 if none.
    The search starts at cap ``last`` (neighbouring directions mostly lie in the same cap)."""
    ux = u[k, 0]
    uy = u[k, 1]
    uz = u[k, 2]
    for r in range(m):
        q = last + r
        if q >= m:
            q -= m
        if ux * dirs[q, 0] + uy * dirs[q, 1] + uz * dirs[q, 2] > thr[q]:
            return q
    return -1


@nb.njit(**_JIT)
def _sphere_covered(dirs, cosb, sinb, m, u0, u1, u2, cs, p0, c0, p1, c1, thr, cov):
    """Whether the open caps (axis ``dirs[q]``, ``cos`` of the angular radius ``cosb[q]``,
    ``sinb[q]`` its sine, q < m) cover the whole sphere, proven on the nested direction sets
    (module docstring); False when not proven.  ``cs[l] = (cos theta_l, sin theta_l)``;
    ``u0`` is given as (3, n0) (coordinates in rows: the first test vectorises); ``thr``
    (3, >= m) and ``cov`` (n0,) int64 are scratch space."""
    for lev in range(3):
        ct = cs[lev, 0]
        st = cs[lev, 1]
        for q in range(m):
            thr[lev, q] = cosb[q] * ct + sinb[q] * st if cosb[q] < ct else 2.0
    t0 = thr[0]
    t1 = thr[1]
    t2 = thr[2]
    # first set: cap by cap over all its directions (vectorises), until all are covered
    n0 = u0.shape[1]
    cov[:] = 0
    for q in range(m):
        t = t0[q]
        if t > 1.0:
            continue
        dx = dirs[q, 0]
        dy = dirs[q, 1]
        dz = dirs[q, 2]
        total = 0
        for k in range(n0):
            c = cov[k] | (u0[0, k] * dx + u0[1, k] * dy + u0[2, k] * dz > t)
            cov[k] = c
            total += c
        if total == n0:
            return True
    # the rest: refine
    last = 0
    for k in range(n0):
        if cov[k]:
            continue
        for jj in range(p0[k], p0[k + 1]):
            j = c0[jj]
            q = _dir_covered(u1, j, dirs, t1, m, last)
            if q >= 0:
                last = q
                continue
            for ii in range(p1[j], p1[j + 1]):
                q = _dir_covered(u2, c1[ii], dirs, t2, m, last)
                if q < 0:
                    return False
                last = q
    return True


@nb.njit(**_JIT, inline="always")
def _zspan(px, py, pz, ax, ay, origin, h, dims, r):
    """First and last z-cell of column (ax, ay) that come within ``r`` of (px, py, pz)
    (first > last: none), for cells of edge ``h`` from ``origin``."""
    lx = origin[0] + ax * h
    ly = origin[1] + ay * h
    ex = max(lx - px, px - lx - h, 0.0)
    ey = max(ly - py, py - ly - h, 0.0)
    rem = r * r - ex * ex - ey * ey
    if rem < 0.0:
        return 1, 0
    dz = math.sqrt(rem)
    z0 = int(math.floor((pz - dz - origin[2]) / h))
    z1 = int(math.floor((pz + dz - origin[2]) / h))
    return max(z0, 0), min(z1, dims[2] - 1)


@nb.njit(**_JIT)
def _gather(xs, p, start, origin, h, dims, reach, r2min, r2max, twoalpha, dirs, cosb, sinb, m):
    """Append to ``dirs``/``cosb``/``sinb`` (from position ``m``) the unit vectors to the atoms
    q with ``r2min <= |q - p|^2 < r2max`` and their caps (``cos beta = d / 2 alpha``); returns
    the new count, or -1 - (the count needed) when the buffers are too small."""
    px = xs[p, 0]
    py = xs[p, 1]
    pz = xs[p, 2]
    cx = min(max(int((px - origin[0]) / h), 0), dims[0] - 1)
    cy = min(max(int((py - origin[1]) / h), 0), dims[1] - 1)
    cap = cosb.shape[0]
    over = 0
    rmax = math.sqrt(r2max)
    for ax in range(max(cx - reach, 0), min(cx + reach + 1, dims[0])):
        for ay in range(max(cy - reach, 0), min(cy + reach + 1, dims[1])):
            z0, z1 = _zspan(px, py, pz, ax, ay, origin, h, dims, rmax)
            c = (ax * dims[1] + ay) * dims[2]
            for q in range(start[c + z0], start[c + z1 + 1] if z1 >= z0 else start[c + z0]):
                ex = xs[q, 0] - px
                ey = xs[q, 1] - py
                ez = xs[q, 2] - pz
                r2 = ex * ex + ey * ey + ez * ez
                if r2 < r2min or r2 >= r2max or q == p:
                    continue
                if m >= cap:
                    over += 1
                    continue
                d = math.sqrt(r2)
                cb = min(d / twoalpha, 1.0)
                cosb[m] = cb
                sinb[m] = math.sqrt(1.0 - cb * cb)
                dirs[m, 0] = ex / d
                dirs[m, 1] = ey / d
                dirs[m, 2] = ez / d
                m += 1
    return m if over == 0 else -1 - (m + over)


@nb.njit(**_JIT)
def _candidates_range(xs, start, origin, h, dims, alpha, u0, u1, u2, cs, p0, c0, p1, c1,
                      out, a0, a1):
    """``out[p]`` for atoms p = a0 .. a1-1 (sorted-by-cell index): 1 if an empty ball of
    radius ``alpha`` may touch the atom (a candidate), else 0.  First with the atoms within
    one cell edge ``h`` (most interior atoms are settled there), then adding those within
    ``min(2 alpha, 3 h)`` (atoms beyond ``2 alpha`` forbid no direction; fewer caps can only
    make more candidates)."""
    cap = 512
    dirs = np.empty((cap, 3))
    cosb = np.empty(cap)
    sinb = np.empty(cap)
    thr = np.empty((3, cap))
    cov = np.empty(u0.shape[1], np.int64)
    twoalpha = 2.0 * alpha
    r1 = min(h, twoalpha)
    r2 = min(twoalpha, 3.0 * h)  # farther atoms have small caps: leaving them out only adds
    reach2 = int(math.ceil(r2 / h))  # candidates, and bounds the work for a large alpha
    for p in range(a0, a1):
        while True:
            m = _gather(xs, p, start, origin, h, dims, 1, 0.0, r1 * r1, twoalpha, dirs, cosb,
                        sinb, 0)
            if m >= 0:
                if m >= 4 and _sphere_covered(dirs, cosb, sinb, m, u0, u1, u2, cs, p0, c0, p1,
                                              c1, thr, cov):
                    out[p] = 0
                    break
                if r1 >= r2:
                    out[p] = 1
                    break
                m = _gather(xs, p, start, origin, h, dims, reach2, r1 * r1, r2 * r2, twoalpha,
                            dirs, cosb, sinb, m)
                if m >= 0:
                    covered = m >= 4 and _sphere_covered(dirs, cosb, sinb, m, u0, u1, u2, cs, p0,
                                                         c0, p1, c1, thr, cov)
                    out[p] = 0 if covered else 1
                    break
            cap = 2 * (-1 - m) + 64  # buffers too small: grow and redo this atom
            dirs = np.empty((cap, 3))
            cosb = np.empty(cap)
            sinb = np.empty(cap)
            thr = np.empty((3, cap))


@nb.njit(**_JIT)
def _nearest_sample(xs, start, origin, h, dims, step):
    """Distance from every ``step``-th atom (sorted-by-cell index) to its nearest atom within
    one cell edge ``h`` (inf when none): a sample for the typical spacing."""
    n = xs.shape[0]
    k = (n + step - 1) // step
    out = np.full(k, np.inf)
    for s in range(k):
        p = s * step
        px = xs[p, 0]
        py = xs[p, 1]
        pz = xs[p, 2]
        cx = min(max(int((px - origin[0]) / h), 0), dims[0] - 1)
        cy = min(max(int((py - origin[1]) / h), 0), dims[1] - 1)
        cz = min(max(int((pz - origin[2]) / h), 0), dims[2] - 1)
        best = np.inf
        for ax in range(max(cx - 1, 0), min(cx + 2, dims[0])):
            for ay in range(max(cy - 1, 0), min(cy + 2, dims[1])):
                c = (ax * dims[1] + ay) * dims[2]
                for q in range(start[c + max(cz - 1, 0)], start[c + min(cz + 2, dims[2])]):
                    if q != p:
                        r2 = ((xs[q, 0] - px) ** 2 + (xs[q, 1] - py) ** 2
                              + (xs[q, 2] - pz) ** 2)
                        if r2 < best:
                            best = r2
        if best <= h * h:
            out[s] = math.sqrt(best)
    return out


# ----------------------------------------------------------------------------------------------
# fast path: facets of the candidates' tetrahedralisation
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _classify_facets(xs, start, origin, h, dims, fac, alpha2, out, f0, f1):
    """``out[f]`` for facets f0 .. f1-1 (corner indices into the sorted-by-cell atoms ``xs``,
    displaced positions): 0 not a boundary facet, 1 boundary with outward normal
    ``(b - a) x (c - a)``, 2 boundary with the opposite normal, 3 hard (decided elsewhere).
    See the module docstring, (c) and (d)."""
    hard_r2 = 2.0 * 1.5811388300841898e-5 * 1.01  # |D| < sqrt(1e-9 / 4): a sliver may exist
    alpha = math.sqrt(alpha2)
    for f in range(f0, f1):
        a = fac[f, 0]
        b = fac[f, 1]
        c = fac[f, 2]
        ux = xs[b, 0] - xs[a, 0]
        uy = xs[b, 1] - xs[a, 1]
        uz = xs[b, 2] - xs[a, 2]
        vx = xs[c, 0] - xs[a, 0]
        vy = xs[c, 1] - xs[a, 1]
        vz = xs[c, 2] - xs[a, 2]
        nx = uy * vz - uz * vy
        ny = uz * vx - ux * vz
        nz = ux * vy - uy * vx
        n2 = nx * nx + ny * ny + nz * nz
        if n2 == 0.0:
            out[f] = 0
            continue
        u2 = ux * ux + uy * uy + uz * uz
        v2 = vx * vx + vy * vy + vz * vz
        # circumcentre: a + (|u|^2 (v x n) + |v|^2 (n x u)) / (2 |n|^2)
        ox = (u2 * (vy * nz - vz * ny) + v2 * (ny * uz - nz * uy)) / (2.0 * n2)
        oy = (u2 * (vz * nx - vx * nz) + v2 * (nz * ux - nx * uz)) / (2.0 * n2)
        oz = (u2 * (vx * ny - vy * nx) + v2 * (nx * uy - ny * ux)) / (2.0 * n2)
        rho2 = ox * ox + oy * oy + oz * oz
        if rho2 >= alpha2:
            out[f] = 0
            continue
        c0x = xs[a, 0] + ox
        c0y = xs[a, 1] + oy
        c0z = xs[a, 2] + oz
        area2 = math.sqrt(n2)
        nx /= area2
        ny /= area2
        nz /= area2
        t_alpha = math.sqrt(alpha2 - rho2)
        reach_r = t_alpha + alpha
        reach_r2 = reach_r * reach_r * (1.0 + 1e-12)
        k_sliver = hard_r2 / area2  # |D| = |(b-a) x (c-a)| |k| / 2
        t_hi = np.inf
        t_lo = -np.inf
        hard = False
        inside = False
        reach = int(math.ceil(reach_r / h))
        cx = min(max(int((c0x - origin[0]) / h), 0), dims[0] - 1)
        cy = min(max(int((c0y - origin[1]) / h), 0), dims[1] - 1)
        for ax in range(max(cx - reach, 0), min(cx + reach + 1, dims[0])):
            for ay in range(max(cy - reach, 0), min(cy + reach + 1, dims[1])):
                z0, z1 = _zspan(c0x, c0y, c0z, ax, ay, origin, h, dims, reach_r)
                if z1 < z0:
                    continue
                cc = (ax * dims[1] + ay) * dims[2]
                for q in range(start[cc + z0], start[cc + z1 + 1]):
                    dx = xs[q, 0] - c0x
                    dy = xs[q, 1] - c0y
                    dz = xs[q, 2] - c0z
                    d2 = dx * dx + dy * dy + dz * dz
                    if d2 > reach_r2 or q == a or q == b or q == c:
                        continue
                    k = 2.0 * (nx * dx + ny * dy + nz * dz)
                    m = d2 - rho2
                    if abs(k) < k_sliver:
                        den, nomin = _den_nomin(xs, a, b, c, q)
                        if 4.0 * den * den < 1e-9 and nomin < 1e-9:
                            hard = True
                    if k > 0.0:
                        val = m / k
                        if val < t_hi:
                            t_hi = val
                    elif k < 0.0:
                        val = m / k
                        if val > t_lo:
                            t_lo = val
                    elif m < 0.0:
                        inside = True
        if hard:
            out[f] = 3
            continue
        if inside:
            out[f] = 0
            continue
        gap = t_hi - t_lo
        if gap < -_HARD * alpha:  # not a Delaunay facet
            out[f] = 0
            continue
        if gap <= _HARD * alpha:
            out[f] = 3
            continue
        r_hi = rho2 + t_hi * t_hi
        r_lo = rho2 + t_lo * t_lo
        if abs(r_hi - alpha2) <= _HARD * alpha2 or abs(r_lo - alpha2) <= _HARD * alpha2:
            out[f] = 3
            continue
        solid_hi = r_hi < alpha2
        solid_lo = r_lo < alpha2
        if solid_hi == solid_lo:
            out[f] = 0
        elif solid_lo:
            out[f] = 1
        else:
            out[f] = 2


def _facets_of(simplices, neighbors):
    """Every facet of a tetrahedralisation once, (F, 3): facet k of tetrahedron t when its
    neighbour across it is the outside or has a larger index."""
    t = np.arange(len(simplices))
    out = []
    for k in range(4):
        other = neighbors[:, k]
        sel = (other < 0) | (other > t)
        out.append(simplices[sel][:, [j for j in range(4) if j != k]])
    return np.concatenate(out)


@nb.njit(**_JIT)
def _mark_within(xs, start, origin, h, dims, centres, r, mark):
    """``mark[q] = True`` for every atom q within ``r`` of an atom in ``centres``."""
    reach = int(math.ceil(r / h))
    r2 = r * r
    for s in range(centres.shape[0]):
        p = centres[s]
        px = xs[p, 0]
        py = xs[p, 1]
        pz = xs[p, 2]
        cx = min(max(int((px - origin[0]) / h), 0), dims[0] - 1)
        cy = min(max(int((py - origin[1]) / h), 0), dims[1] - 1)
        for ax in range(max(cx - reach, 0), min(cx + reach + 1, dims[0])):
            for ay in range(max(cy - reach, 0), min(cy + reach + 1, dims[1])):
                z0, z1 = _zspan(px, py, pz, ax, ay, origin, h, dims, r)
                if z1 < z0:
                    continue
                cc = (ax * dims[1] + ay) * dims[2]
                for q in range(start[cc + z0], start[cc + z1 + 1]):
                    if ((xs[q, 0] - px) ** 2 + (xs[q, 1] - py) ** 2
                            + (xs[q, 2] - pz) ** 2) <= r2:
                        mark[q] = True


def _hard_facets(xsp, start, origin, h, dims, hard_atoms, alpha, workers):
    """Boundary facets (indices into ``xsp``) with at least one corner in ``hard_atoms``,
    from a Qhull tetrahedralisation of every atom within ``3 alpha`` of them (module
    docstring, (d)); None when Qhull fails or leaves out atoms."""
    from scipy.spatial import Delaunay, QhullError

    r_h = 3.0 * alpha
    mark = np.zeros(len(xsp), bool)
    _mark_within(xsp, start, origin, h, dims, hard_atoms, r_h, mark)
    sub = np.flatnonzero(mark)
    try:
        tri = Delaunay(xsp[sub])
    except QhullError:
        return None
    if len(tri.coplanar):
        return None
    simp = np.ascontiguousarray(tri.simplices, dtype=np.int64)
    solid, status, orient = _solid(xsp[sub], simp, tri.neighbors, alpha * alpha, workers)
    hard_local = np.zeros(len(sub), bool)
    hard_local[np.searchsorted(sub, hard_atoms)] = True
    facets = _boundary(simp, tri.neighbors, solid, orient)
    facets = facets[hard_local[facets].any(axis=1)]
    return sub[facets]


# ----------------------------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------------------------
def default_probe_radius(element: str, table=None) -> float:
    """The default probe radius for ``element``: :data:`PROBE_FACTOR` times its bulk
    nearest-neighbour distance (:func:`nanotraj.elements.nn_distance`), Angstrom.  Pt: 4.01 A.
    Raises ConfigError for an element not in the table."""
    from nanotraj.elements import nn_distance

    return PROBE_FACTOR * nn_distance(element, table)


def _fast(fr, workers):
    """Surface flags and oriented boundary facets (indices into ``fr.x``) by the fast path,
    with the number of candidates; None when it must defer to the reference path."""
    from scipy.spatial import Delaunay, QhullError

    alpha = fr.alpha
    xp = fr.xp
    n = len(xp)
    max_cells = max(8 * n, 1 << 20)
    grid = grid_for(xp, alpha, max_cells)
    if grid is None:
        return None
    origin, h, dims = grid
    order, start = grid_build(xp, origin, h, dims)
    xs = xp[order]
    # cell edge: ~1.5 nearest-neighbour spacings (the first test then sees the first and
    # second neighbour shells), at most alpha
    nn = _nearest_sample(xs, start, origin, h, dims, max(1, n // 2000))
    nn = nn[np.isfinite(nn)]
    if len(nn):
        h_new = min(alpha, 1.5 * float(np.median(nn)))
        if h_new < 0.99 * alpha:
            grid = grid_for(xp, h_new, max_cells)
            if grid is None:
                return None
            origin, h, dims = grid
            order, start = grid_build(xp, origin, h, dims)
            xs = xp[order]
    u0, u1, u2, th, p0, c0, p1, c1 = _directions()
    cand = np.zeros(n, np.int8)
    run_ranges(lambda a, b: _candidates_range(xs, start, origin, h, dims, alpha, u0, u1, u2, th,
                                              p0, c0, p1, c1, cand, a, b), n, workers, _CHUNK)
    cset = np.flatnonzero(cand)
    if len(cset) < 4:
        return None
    try:
        tri = Delaunay(xs[cset])
    except QhullError:
        return None
    if len(tri.coplanar):
        return None
    fac = cset[_facets_of(np.asarray(tri.simplices, np.int64), tri.neighbors)]
    del tri
    fac = np.ascontiguousarray(fac[np.argsort(fac[:, 0], kind="stable")])  # memory locality
    code = np.zeros(len(fac), np.int8)
    run_ranges(lambda a, b: _classify_facets(xs, start, origin, h, dims, fac, alpha * alpha,
                                             code, a, b), len(fac), workers, _CHUNK)
    out = fac[(code == 1) | (code == 2)]
    flip = code[(code == 1) | (code == 2)] == 2
    out[flip] = out[flip][:, ::-1]
    hard = np.unique(fac[code == 3])
    if len(hard):
        local = _hard_facets(xs, start, origin, h, dims, hard, alpha, workers)
        if local is None:
            return None
        is_hard = np.zeros(n, bool)
        is_hard[hard] = True
        out = np.concatenate([out[~is_hard[out].any(axis=1)], local])
    facets = order[out]
    surf = np.zeros(n, bool)
    surf[facets.ravel()] = True
    return surf, facets, len(cset)


def alpha_shape(coords, probe_radius, *, workers: int = 1) -> dict:
    r"""Surface atoms, surface area and solid volume by the alpha-shape method.

    See the module docstring for the definition (OVITO's rules), why this fast path equals the
    full tetrahedralisation (:func:`alpha_shape_reference`), and the degenerate cases.

    Parameters
    ----------
    coords : (N, 3) float array, Angstrom.
    probe_radius : float
        Radius ``alpha`` of the probe sphere, Angstrom (OVITO's ``radius``; its default 4 A).
        Too small and holes open between the atoms inside the particle; too large and
        concavities (steps, pits, the gap between touching particles) are filled.
    workers : int
        Threads of the per-atom and per-facet steps (compiled, GIL released); the Qhull
        calls run in one.  The result does not depend on it.

    Returns
    -------
    dict with
        ``"surface"`` : (N,) bool, atoms at a corner of a boundary facet;
        ``"area"`` : float, A^2, sum of the boundary facets' areas;
        ``"volume"`` : float, A^3, solid volume (from the oriented boundary);
        ``"facets"`` : (F, 3) int64, boundary facets as input atom indices, ordered so that
        ``(x[b] - x[a]) x (x[c] - x[a])`` points out of the solid; each facet starts with its
        smallest index, rows sorted (the same array from both paths);
        ``"normals"`` : (F, 3) float64, the unit outward normals.
        Facets of area below ``1e-10`` times their longest edge squared (corners on a line:
        between slivers of collinear atoms of perfect lattices, whose tetrahedralisation is not
        unique) are left out of ``"facets"``, ``"area"`` and ``"volume"`` (they add nothing)
        but their corners count as surface;
        ``"method"`` : "fast", "reference" (the fast path deferred to it: see the module
        docstring, (d)) or "degenerate";
        ``"n_candidates"`` : int, atoms triangulated by the fast path (0 otherwise).

    Raises
    ------
    ValueError
        Bad shape, NaN or infinite coordinates, or ``probe_radius`` not positive and finite.

    Notes
    -----
    Cost: the candidate test (compiled, ~0.3 us per atom), Qhull on the candidates (~30 us
    each; about the surface atoms and the atoms just below them) and the facet test.  Timings
    against OVITO: ``benchmarks/bench_surface.py``.
    """
    fr = _Frame(coords, probe_radius)
    if fr.degenerate:
        out = fr.result(None, None)
        out.update(method="degenerate", n_candidates=0)
        return out
    workers = max(1, int(workers))
    got = _fast(fr, workers)
    if got is None:
        surf, facets, _ = _full(fr, workers)
        out = fr.result(surf, facets)
        out.update(method="reference", n_candidates=0)
        return out
    surf, facets, n_cand = got
    out = fr.result(surf, facets)
    out.update(method="fast", n_candidates=int(n_cand))
    return out


def warm_up():
    """Compile (or load from numba's cache) the kernels of :func:`alpha_shape` and
    :func:`alpha_shape_reference` on small particles, one of them perfect (slivers: the local
    path).  For ``make venv`` (the first call after an install otherwise waits ~10 - 20 s for
    the compiler)."""
    from nanotraj.lattices import fcc_sphere, truncated_octahedron

    alpha_shape(fcc_sphere(9.0, noise=0.05), 4.0)
    alpha_shape(truncated_octahedron(3), 4.0)
    alpha_shape_reference(truncated_octahedron(3), 4.0)
