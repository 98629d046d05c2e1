"""Compiled kernels (numba) of :func:`nanotraj.ptm.ptm`, polyhedral template matching.

Re-implemented from the description in P. M. Larsen, S. Schmidt, J. Schiotz, "Robust structural
identification via polyhedral template matching", Modelling Simul. Mater. Sci. Eng. 24, 055007
(2016), with the conventions of OVITO 3.17's ``PolyhedralTemplateMatchingModifier`` (the test
oracle).  One atom at a time, in this order:

1. its (at most) 18 nearest neighbours, ordered by the solid angle of their face of the atom's
   Voronoi cell (largest first; ties and atoms without a face by distance)
   -- :func:`voronoi_solid_angles` (the cell is built by cutting a box with the bisector planes
   in order of distance; a vertex within ``1e-11`` A^2 of a plane counts as on it);
2. for each enabled structure, the convex hull of the atom and its first 6 (sc), 12 (fcc, hcp,
   ico) or 14 (bcc) neighbours -- :func:`hull_extend`, an incremental hull with a ``1e-12``
   tolerance on coordinates normalised to a mean neighbour distance of 1, extended point by point
   from one structure to the next; no match if the central atom is on the hull or the hull
   does not have the template's number of facets;
3. the canonical code of the hull's triangulated surface as an oriented planar map (a
   breadth-first labelling from the best oriented edge, :func:`graph_code`), looked up among the
   codes of the templates' triangulations (tables of :mod:`nanotraj.ptm`); every
   orientation-preserving isomorphism is a candidate correspondence of neighbours and template
   points;
4. for each candidate the scale-invariant RMSD after the optimal rotation and scaling: the
   largest eigenvalue of Horn's 4x4 quaternion matrix by Newton's method on its characteristic
   polynomial (Theobald, Acta Cryst. A 61, 478 (2005)); the lowest RMSD over all structures
   wins (ties: the first in the order sc, fcc, hcp, ico, bcc);
5. the winner's rotation (eigenvector by Jacobi rotations), mapped into the fundamental zone of
   its symmetry group, and the correspondence renumbered accordingly.

Every atom is computed alone (the result does not depend on the ranges or on the threads); all
kernels release the GIL.  ``error_model="numpy"``: degenerate input gives NaN/inf inside, never
an exception; every such case ends as "no match".
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_JIT = {"nogil": True, "cache": True, "boundscheck": False, "error_model": "numpy"}

#: Neighbours considered per atom (OVITO's ``PTMAlgorithm::MAX_INPUT_NEIGHBORS``).
MAX_NEIGHBOURS = 18
#: Tolerance of the Voronoi cell (A^2, on ``2 v . p - |p|^2``), that of voro++ in OVITO.
VORONOI_TOL = 1e-11
#: Tolerance of the convex hull (normalised units).
HULL_TOL = 1e-12
#: Maximum number of hull facets (2 * 16 - 4).
MAX_FACETS = 28

_MAXV = 512  # Voronoi cell vertices (created; dead ones are not reused)
_MAXF = 32  # Voronoi cell faces (6 box + 18)
_MAXFV = 64  # vertices of one face
_MAXP = MAX_NEIGHBOURS + 1
_MAXM = 14  # neighbours in the largest template (bcc)
_MAXCODE = _MAXM + 6 * _MAXM  # vertices + 2 * edges (3 m - 6 edges)

# structure codes (OVITO's PolyhedralTemplateMatchingModifier.Type)
_FCC, _HCP, _BCC, _ICO, _SC = 1, 2, 3, 4, 5
_FLAG = np.array([0, 1, 2, 4, 8, 16])  # bit of each code in ``flags``


# ----------------------------------------------------------------------------------------------
# 1. Voronoi solid angles
# ----------------------------------------------------------------------------------------------
_BOX_FACES = np.array(
    [[0, 2, 6, 4], [1, 3, 7, 5], [0, 1, 5, 4], [2, 3, 7, 6], [0, 1, 3, 2], [4, 5, 7, 6]],
    dtype=np.int32,
)


@nb.njit(**_JIT)
def _solid_angle(a, b, c):
    """Solid angle of the triangle of unit vectors a, b, c (Van Oosterom & Strackee, IEEE Trans.
    Biomed. Eng. 30, 125 (1983))."""
    num = a[0] * (b[1] * c[2] - b[2] * c[1])
    num += a[1] * (b[2] * c[0] - b[0] * c[2])
    num += a[2] * (b[0] * c[1] - b[1] * c[0])
    den = 1.0 + (a[0] * b[0] + a[1] * b[1] + a[2] * b[2])
    den += a[0] * c[0] + a[1] * c[1] + a[2] * c[2]
    den += b[0] * c[0] + b[1] * c[1] + b[2] * c[2]
    return abs(2.0 * math.atan2(num, den))


@nb.njit(**_JIT)
def _pseudo_angle(x, y):
    """A monotonic function of ``atan2(y, x)`` in [0, 4) (the order of directions around a
    point without trigonometry)."""
    d = abs(x) + abs(y)
    if d == 0.0:
        return 0.0
    t = y / d
    return 1.0 - t if x >= 0.0 else 3.0 + t


@nb.njit(**_JIT)
def voronoi_solid_angles(P, n, area, V, F, FL, FI, live, s, cls, poly, ein, eout, enew, w, ang, u):
    """Solid angle (sr) of the Voronoi face of each of the ``n`` neighbour vectors ``P[:n]``
    (Angstrom, the atom at the origin) in ``area[:n]``; 0 for a neighbour without a face.

    The cell starts as the cube ``[-10 r, 10 r]^3`` (``r`` the largest neighbour distance) and
    is cut by the bisector plane ``2 v . p = |p|^2`` of every neighbour ``p`` in the given
    order.  A plane cuts only if some vertex lies beyond it by more than :data:`VORONOI_TOL`
    (on ``2 v . p - |p|^2``); vertices within the tolerance stay and join the new face, whose
    vertices are ordered by angle around the plane normal.  A face's solid angle is the sum
    over a fan of triangles of its vertices projected on the unit sphere.  The other arguments
    are work arrays (``V`` (_MAXV, 3) holds twice the vertex coordinates; faces are vertex
    cycles ``F[f, :FL[f]]`` of the plane ``FI[f]``, -1 for the box).  Returns 0, or -1 when a
    work array overflowed (then the areas are 0).
    """
    for j in range(n):
        area[j] = 0.0
    r2max = 0.0
    for j in range(n):
        r2 = P[j, 0] * P[j, 0] + P[j, 1] * P[j, 1] + P[j, 2] * P[j, 2]
        if r2 > r2max:
            r2max = r2
    k2 = 2.0 * (10.0 * math.sqrt(r2max))
    if not (k2 > 0.0 and k2 < np.inf):
        return 0
    for b in range(8):
        V[b, 0] = k2 if b & 1 else -k2
        V[b, 1] = k2 if b & 2 else -k2
        V[b, 2] = k2 if b & 4 else -k2
        live[b] = b
    nv = 8
    nlive = 8
    for f in range(6):
        for k in range(4):
            F[f, k] = _BOX_FACES[f, k]
        FL[f] = 4
        FI[f] = -1
    nf = 6
    for j in range(n):
        px = P[j, 0]
        py = P[j, 1]
        pz = P[j, 2]
        rsq = px * px + py * py + pz * pz
        nout = 0
        for q in range(nlive):
            v = live[q]
            t = V[v, 0] * px
            t += V[v, 1] * py
            t += V[v, 2] * pz - rsq
            s[v] = t
            if t > VORONOI_TOL:
                cls[v] = 1
                nout += 1
            elif t < -VORONOI_TOL:
                cls[v] = -1
            else:
                cls[v] = 0
        if nout == 0:
            continue
        ne = 0
        f = 0
        while f < nf:
            L = FL[f]
            cut = False
            for k in range(L):
                if cls[F[f, k]] > 0:
                    cut = True
                    break
            if not cut:
                f += 1
                continue
            k2 = 0
            for k in range(L):
                a = F[f, k]
                b = F[f, k + 1 if k + 1 < L else 0]
                if cls[a] <= 0:
                    if k2 >= _MAXFV:
                        return -1
                    poly[k2] = a
                    k2 += 1
                if (cls[a] < 0 and cls[b] > 0) or (cls[a] > 0 and cls[b] < 0):
                    vi = a if cls[a] < 0 else b
                    vo = b if cls[a] < 0 else a
                    idx = -1
                    for e in range(ne):
                        if ein[e] == vi and eout[e] == vo:
                            idx = enew[e]
                            break
                    if idx < 0:
                        if nv >= _MAXV or ne >= _MAXFV:
                            return -1
                        r = s[vo] / (s[vo] - s[vi])
                        for x in range(3):
                            V[nv, x] = r * V[vi, x] + (1.0 - r) * V[vo, x]
                        ein[ne] = vi
                        eout[ne] = vo
                        enew[ne] = nv
                        idx = nv
                        ne += 1
                        nv += 1
                    if k2 >= _MAXFV:
                        return -1
                    poly[k2] = idx
                    k2 += 1
            if k2 >= 3:
                for k in range(k2):
                    F[f, k] = poly[k]
                FL[f] = k2
                f += 1
            else:  # the face is gone: move the last face here
                nf -= 1
                if f < nf:
                    for k in range(FL[nf]):
                        F[f, k] = F[nf, k]
                    FL[f] = FL[nf]
                    FI[f] = FI[nf]
        # the new face: vertices on the plane, by angle around its normal
        nw = 0
        q2 = 0
        for q in range(nlive):
            v = live[q]
            if cls[v] == 0:
                w[nw] = v
                nw += 1
            if cls[v] <= 0:
                live[q2] = v
                q2 += 1
        nlive = q2
        for e in range(ne):
            w[nw] = enew[e]
            nw += 1
            live[nlive] = enew[e]
            nlive += 1
        if nw >= 3:
            if nf >= _MAXF or nw > _MAXFV:
                return -1
            cx = 0.0
            cy = 0.0
            cz = 0.0
            for k in range(nw):
                cx += V[w[k], 0]
                cy += V[w[k], 1]
                cz += V[w[k], 2]
            cx /= nw
            cy /= nw
            cz /= nw
            # e1 perpendicular to p, e2 = p x e1
            if abs(px) <= abs(py) and abs(px) <= abs(pz):
                e1x, e1y, e1z = 0.0, pz, -py
            elif abs(py) <= abs(pz):
                e1x, e1y, e1z = -pz, 0.0, px
            else:
                e1x, e1y, e1z = py, -px, 0.0
            e2x = py * e1z - pz * e1y
            e2y = pz * e1x - px * e1z
            e2z = px * e1y - py * e1x
            for k in range(nw):
                dx = V[w[k], 0] - cx
                dy = V[w[k], 1] - cy
                dz = V[w[k], 2] - cz
                ang[k] = _pseudo_angle(
                    dx * e1x + dy * e1y + dz * e1z, dx * e2x + dy * e2y + dz * e2z
                )
            for k in range(1, nw):  # insertion sort by angle
                a_k = ang[k]
                w_k = w[k]
                m = k - 1
                while m >= 0 and ang[m] > a_k:
                    ang[m + 1] = ang[m]
                    w[m + 1] = w[m]
                    m -= 1
                ang[m + 1] = a_k
                w[m + 1] = w_k
            for k in range(nw):
                F[nf, k] = w[k]
            FL[nf] = nw
            FI[nf] = j
            nf += 1
    # solid angles of the faces
    for f in range(nf):
        j = FI[f]
        if j < 0:
            continue
        L = FL[f]
        for k in range(L):
            v = F[f, k]
            x = V[v, 0]
            y = V[v, 1]
            z = V[v, 2]
            nrm = math.sqrt(x * x + y * y + z * z)
            u[k, 0] = x / nrm
            u[k, 1] = y / nrm
            u[k, 2] = z / nrm
        total = 0.0
        for k in range(2, L):
            total += _solid_angle(u[0], u[k - 1], u[k])
        area[j] = total
    return 0


# ----------------------------------------------------------------------------------------------
# 2. Incremental convex hull
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _facet_normal(P, a, b, c, out):
    ux = P[b, 0] - P[a, 0]
    uy = P[b, 1] - P[a, 1]
    uz = P[b, 2] - P[a, 2]
    vx = P[c, 0] - P[a, 0]
    vy = P[c, 1] - P[a, 1]
    vz = P[c, 2] - P[a, 2]
    nx = uy * vz - uz * vy
    ny = uz * vx - ux * vz
    nz = ux * vy - uy * vx
    nn = math.sqrt(nx * nx + ny * ny + nz * nz)
    out[0] = nx / nn
    out[1] = ny / nn
    out[2] = nz / nn


@nb.njit(**_JIT)
def _height(P, w, a, nrm):
    """Signed distance of point w above the facet plane through point a (unit normal nrm)."""
    return (
        nrm[0] * (P[w, 0] - P[a, 0]) + nrm[1] * (P[w, 1] - P[a, 1]) + nrm[2] * (P[w, 2] - P[a, 2])
    )


@nb.njit(**_JIT)
def _new_facet(P, a, b, c, bc, facets, normals, nfac):
    """Append facet (a, b, c) oriented counter-clockwise seen from outside (its normal away from
    the hull's interior point ``bc``), rotated to start at its lowest index.  Returns False if
    that facet already exists."""
    nrm = normals[nfac]
    _facet_normal(P, a, b, c, nrm)
    inward = nrm[0] * (P[a, 0] - bc[0]) + nrm[1] * (P[a, 1] - bc[1]) + nrm[2] * (P[a, 2] - bc[2])
    if not inward > 0.0:  # normal points inwards (or undefined): flip
        nrm[0] = -nrm[0]
        nrm[1] = -nrm[1]
        nrm[2] = -nrm[2]
        a, b = b, a
    if b < a and b < c:
        a, b, c = b, c, a
    elif c < a and c < b:
        a, b, c = c, a, b
    for f in range(nfac):
        if facets[f, 0] == a and facets[f, 1] == b and facets[f, 2] == c:
            return False
    facets[nfac, 0] = a
    facets[nfac, 1] = b
    facets[nfac, 2] = c
    return True


@nb.njit(**_JIT)
def _hull_init(P, n, facets, normals, processed, bc, lo, hi, nrm):
    """Initial tetrahedron: the extreme pair along the axis of largest extent, the point
    farthest from their line, the point farthest from that plane.  Returns 0 or a negative
    code for a degenerate point set."""
    for ax in range(3):
        dmin = np.inf
        dmax = -np.inf
        imin = 0
        imax = 0
        for i in range(n):
            x = P[i, ax]
            if x < dmin:
                dmin = x
                imin = i
            if x > dmax:
                dmax = x
                imax = i
        if imin == imax:
            return -1
        lo[ax] = imin
        hi[ax] = imax
    best = -1
    dbest = 0.0
    for ax in range(3):
        dx = P[lo[ax], 0] - P[hi[ax], 0]
        dy = P[lo[ax], 1] - P[hi[ax], 1]
        dz = P[lo[ax], 2] - P[hi[ax], 2]
        dd = dx * dx + dy * dy + dz * dz
        if dd > dbest:
            dbest = dd
            best = ax
    if best < 0:
        return -1
    a = lo[best]
    b = hi[best]
    # third point: farthest from the line ab (squared distance)
    lx = P[b, 0] - P[a, 0]
    ly = P[b, 1] - P[a, 1]
    lz = P[b, 2] - P[a, 2]
    ll = lx * lx + ly * ly + lz * lz
    c = -1
    dbest = 0.0
    for i in range(n):
        if i == a or i == b:
            continue
        wx = P[a, 0] - P[i, 0]
        wy = P[a, 1] - P[i, 1]
        wz = P[a, 2] - P[i, 2]
        dot = wx * lx + wy * ly + wz * lz
        dd = ((wx * wx + wy * wy + wz * wz) * ll - dot * dot) / ll
        if dd > dbest:
            dbest = dd
            c = i
    if not dbest > HULL_TOL:
        return -2
    # fourth point: farthest from the plane abc
    _facet_normal(P, a, b, c, nrm)
    d = -1
    dbest = 0.0
    for i in range(n):
        if i == a or i == b or i == c:
            continue
        dd = abs(_height(P, i, a, nrm))
        if dd > dbest:
            dbest = dd
            d = i
    if not dbest > HULL_TOL:
        return -3
    for i in range(_MAXP):
        processed[i] = False
    bc[0] = 0.0
    bc[1] = 0.0
    bc[2] = 0.0
    for v in (a, b, c, d):
        processed[v] = True
        bc[0] += P[v, 0]
        bc[1] += P[v, 1]
        bc[2] += P[v, 2]
    bc[0] /= 4
    bc[1] /= 4
    bc[2] /= 4
    _new_facet(P, a, b, c, bc, facets, normals, 0)
    _new_facet(P, a, b, d, bc, facets, normals, 1)
    _new_facet(P, a, c, d, bc, facets, normals, 2)
    _new_facet(P, b, c, d, bc, facets, normals, 3)
    return 0


@nb.njit(**_JIT)
def hull_extend(P, n, hs, facets, normals, processed, bc, vis, edge, hor, scratch, out):
    """Convex hull of points ``P[:n]`` (point 0 the central atom), extending the hull of a
    previous call when ``hs[0]`` (ok flag) is set: points are added one at a time in index
    order; a point is outside a facet when its height above it exceeds :data:`HULL_TOL`.
    ``hs`` = (ok, number of points already processed, number of facets); ``vis``, ``edge``
    (zero on entry and exit), ``hor`` and ``scratch`` (int64, >= 7) are work arrays.

    Returns 0 with the facets (indices of ``P`` minus 1, counter-clockwise seen from outside)
    in ``out[:hs[2]]``; 1 when the central atom is a vertex of the hull; negative for a
    degenerate point set (-1..-3), too many facets (-4) or a repeated facet (-5).  A negative
    return clears the ok flag (the next call starts a new hull).
    """
    n_prev = hs[1]
    hs[1] = n
    if hs[0] == 0:
        ret = _hull_init(
            P, n, facets, normals, processed, bc, scratch[0:3], scratch[3:6], normals[MAX_FACETS]
        )
        if ret != 0:
            return ret
        hs[0] = 1
        hs[2] = 4
        n_prev = 0
    nfac = hs[2]
    for i in range(n_prev, n):
        if processed[i]:
            continue
        processed[i] = True
        anyvis = False
        for f in range(nfac):
            h = _height(P, i, facets[f, 0], normals[f])
            vis[f] = h > HULL_TOL
            anyvis |= vis[f]
            flag = 1 if vis[f] else 2
            edge[facets[f, 0], facets[f, 1]] = flag
            edge[facets[f, 1], facets[f, 2]] = flag
            edge[facets[f, 2], facets[f, 0]] = flag
        # horizon: directed edges a -> b of visible facets whose twin b -> a is invisible
        nh = 0
        for f in range(nfac):
            if not vis[f]:
                continue
            for k in range(3):
                a = facets[f, k]
                b = facets[f, (k + 1) % 3]
                if edge[b, a] == 2:
                    hor[nh, 0] = a
                    hor[nh, 1] = b
                    nh += 1
        for f in range(nfac):
            edge[facets[f, 0], facets[f, 1]] = 0
            edge[facets[f, 1], facets[f, 2]] = 0
            edge[facets[f, 2], facets[f, 0]] = 0
        if not anyvis:
            continue
        # drop the visible facets (order kept), then add the cone to point i
        m = 0
        for f in range(nfac):
            if not vis[f]:
                if m != f:
                    facets[m, 0] = facets[f, 0]
                    facets[m, 1] = facets[f, 1]
                    facets[m, 2] = facets[f, 2]
                    normals[m, 0] = normals[f, 0]
                    normals[m, 1] = normals[f, 1]
                    normals[m, 2] = normals[f, 2]
                m += 1
        nfac = m
        for k in range(nh):
            if nfac >= MAX_FACETS:
                hs[0] = 0
                return -4
            if not _new_facet(P, hor[k, 0], hor[k, 1], i, bc, facets, normals, nfac):
                hs[0] = 0
                return -5
            nfac += 1
    hs[2] = nfac
    for f in range(nfac):
        if facets[f, 0] == 0 or facets[f, 1] == 0 or facets[f, 2] == 0:
            return 1
        out[f, 0] = facets[f, 0] - 1
        out[f, 1] = facets[f, 1] - 1
        out[f, 2] = facets[f, 2] - 1
    return 0


# ----------------------------------------------------------------------------------------------
# 3. Canonical code of a triangulated sphere (oriented planar map)
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def build_map(facets, nfac, m, succ, deg):
    """Rotation system of the triangulation ``facets[:nfac]`` (counter-clockwise seen from
    outside) on vertices ``0..m-1``: ``succ[a, b]`` is the neighbour of ``a`` after ``b``
    (counter-clockwise), ``deg`` the vertex degrees.  False if a directed edge repeats or a
    vertex is not on the surface."""
    for a in range(m):
        deg[a] = 0
        for b in range(m):
            succ[a, b] = -1
    for f in range(nfac):
        a = facets[f, 0]
        b = facets[f, 1]
        c = facets[f, 2]
        if a < 0 or b < 0 or c < 0 or a >= m or b >= m or c >= m:
            return False
        if succ[a, b] >= 0 or succ[b, c] >= 0 or succ[c, a] >= 0:
            return False
        succ[a, b] = c
        succ[b, c] = a
        succ[c, a] = b
        deg[a] += 1
        deg[b] += 1
        deg[c] += 1
    for a in range(m):
        if deg[a] < 3:
            return False
    return True


@nb.njit(**_JIT)
def code_from(succ, deg, m, a, b, best, have_best, cur, lab, order, first):
    """Code of the map from the oriented edge ``a -> b``: vertices are labelled in order of
    discovery by a breadth-first walk that lists each vertex's neighbours counter-clockwise
    starting from the one it was reached from (for ``a``: ``b``); the code is, vertex by vertex
    in label order, its degree then its neighbours' labels.  Compared on the fly with ``best``
    (when ``have_best``): returns -1 as soon as it is larger, 0 if equal, 1 if smaller (or
    first), -2 if the map is not connected/closed.  ``cur`` and ``lab`` receive the code and
    the labels."""
    for v in range(m):
        lab[v] = -1
    lab[a] = 0
    order[0] = a
    first[a] = b
    nl = 1
    pos = 0
    p = 0
    state = 0 if have_best else 1
    while pos < nl:
        x = order[pos]
        pos += 1
        val = deg[x]
        cur[p] = val
        if state == 0:
            if val > best[p]:
                return -1
            if val < best[p]:
                state = 1
        p += 1
        y = first[x]
        for _ in range(deg[x]):
            if y < 0:
                return -2
            if lab[y] < 0:
                lab[y] = nl
                order[nl] = y
                first[y] = x
                nl += 1
            val = lab[y]
            cur[p] = val
            if state == 0:
                if val > best[p]:
                    return -1
                if val < best[p]:
                    state = 1
            p += 1
            y = succ[x, y]
    if nl != m:
        return -2
    return state


@nb.njit(**_JIT)
def start_degrees(facets, nfac, deg):
    """The largest (degree of tail, degree of head) over the oriented edges (the starting
    edges of the canonical code), packed as ``64 * tail + head``."""
    best = -1
    for f in range(nfac):
        for k in range(3):
            key = 64 * deg[facets[f, k]] + deg[facets[f, (k + 1) % 3]]
            if key > best:
                best = key
    return best


@nb.njit(**_JIT)
def graph_code(facets, nfac, m, succ, deg, best, blab, cur, lab, order, first):
    """Canonical code (minimum of :func:`code_from` over the oriented edges with the largest
    degree pair, :func:`start_degrees`) of the triangulation ``facets[:nfac]`` on ``m``
    vertices, in ``best[:m + 3 * nfac]``, with the labels of that walk in ``blab``.  Returns the
    code length, or -1 if the facets do not form a closed oriented surface on all vertices."""
    if not build_map(facets, nfac, m, succ, deg):
        return -1
    key = start_degrees(facets, nfac, deg)
    have = False
    for f in range(nfac):
        for k in range(3):
            a = facets[f, k]
            b = facets[f, (k + 1) % 3]
            if 64 * deg[a] + deg[b] != key:
                continue
            r = code_from(succ, deg, m, a, b, best, have, cur, lab, order, first)
            if r == -2:
                return -1
            if r == 1:
                length = m + 3 * nfac
                for p in range(length):
                    best[p] = cur[p]
                for v in range(m):
                    blab[v] = lab[v]
                have = True
    return m + 3 * nfac


@nb.njit(**_JIT)
def code_hash(code, length):
    """64-bit FNV-1a hash of a code (for the table lookup; codes are compared in full)."""
    h = np.uint64(14695981039346656037)
    for p in range(length):
        h ^= np.uint64(code[p] & 0xFF)
        h *= np.uint64(1099511628211)
    return np.int64(h)


# ----------------------------------------------------------------------------------------------
# 4. RMSD: Horn's quaternion matrix, largest eigenvalue and eigenvector
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _horn(S, K):
    """Horn's symmetric 4x4 matrix of ``S[a, b] = sum_k t_k[a] x_k[b]``: its top eigenvector
    is the unit quaternion (w, x, y, z) of the rotation R maximising ``sum_k x_k . R t_k``, its
    top eigenvalue that maximum (B. K. P. Horn, J. Opt. Soc. Am. A 4, 629 (1987))."""
    sxx, sxy, sxz = S[0, 0], S[0, 1], S[0, 2]
    syx, syy, syz = S[1, 0], S[1, 1], S[1, 2]
    szx, szy, szz = S[2, 0], S[2, 1], S[2, 2]
    K[0, 0] = sxx + syy + szz
    K[0, 1] = syz - szy
    K[0, 2] = szx - sxz
    K[0, 3] = sxy - syx
    K[1, 1] = sxx - syy - szz
    K[1, 2] = sxy + syx
    K[1, 3] = szx + sxz
    K[2, 2] = -sxx + syy - szz
    K[2, 3] = syz + szy
    K[3, 3] = -sxx - syy + szz
    for i in range(4):
        for j in range(i):
            K[i, j] = K[j, i]


@nb.njit(**_JIT)
def _det3(a, b, c, d, e, f, g, h, i):
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


@nb.njit(**_JIT)
def top_eigenvalue(S, K, start):
    """Largest eigenvalue of Horn's matrix of ``S`` by Newton's method on the characteristic
    polynomial ``l^4 + c2 l^2 + c1 l + c0`` from ``start`` (>= the eigenvalue; Theobald, Acta
    Cryst. A 61, 478 (2005)); converged to 1e-14 relative."""
    _horn(S, K)
    c2 = 0.0
    for a in range(3):
        for b in range(3):
            c2 += S[a, b] * S[a, b]
    c2 = -2.0 * c2
    c1 = -8.0 * _det3(
        S[0, 0], S[0, 1], S[0, 2], S[1, 0], S[1, 1], S[1, 2], S[2, 0], S[2, 1], S[2, 2]
    )
    # c0 = det(K), Laplace expansion along the first row
    c0 = 0.0
    for j in range(4):
        c_0 = 1 if j == 0 else 0
        c_1 = 2 if j <= 1 else 1
        c_2 = 3 if j <= 2 else 2
        minor = _det3(
            K[1, c_0], K[1, c_1], K[1, c_2],
            K[2, c_0], K[2, c_1], K[2, c_2],
            K[3, c_0], K[3, c_1], K[3, c_2],
        )  # fmt: skip
        c0 += (-1.0 if j & 1 else 1.0) * K[0, j] * minor
    lam = start
    for _ in range(60):
        l2 = lam * lam
        p = (l2 + c2) * l2 + c1 * lam + c0
        dp = 4.0 * l2 * lam + 2.0 * c2 * lam + c1
        if dp == 0.0:
            break
        step = p / dp
        lam_new = lam - step
        if not abs(step) > 1e-14 * abs(lam_new):
            lam = lam_new
            break
        lam = lam_new
    return lam


@nb.njit(**_JIT)
def top_eigenvector(K, q, Vm):
    """Unit eigenvector ``q`` of the largest eigenvalue of the symmetric 4x4 ``K`` (cyclic
    Jacobi rotations; ``K`` and the work array ``Vm`` (4, 4) are overwritten)."""
    for a in range(4):
        for b in range(4):
            Vm[a, b] = 1.0 if a == b else 0.0
    for _sweep in range(30):
        off = 0.0
        diag = 0.0
        for i in range(4):
            diag += K[i, i] * K[i, i]
            for j in range(i + 1, 4):
                off += K[i, j] * K[i, j]
        if not off > 1e-32 * diag:
            break
        for p in range(3):
            for r in range(p + 1, 4):
                apr = K[p, r]
                if apr == 0.0:
                    continue
                theta = (K[r, r] - K[p, p]) / (2.0 * apr)
                t = (1.0 if theta >= 0 else -1.0) / (abs(theta) + math.sqrt(theta * theta + 1.0))
                cs = 1.0 / math.sqrt(t * t + 1.0)
                sn = t * cs
                for k in range(4):
                    akp = K[k, p]
                    akr = K[k, r]
                    K[k, p] = cs * akp - sn * akr
                    K[k, r] = sn * akp + cs * akr
                for k in range(4):
                    apk = K[p, k]
                    ark = K[r, k]
                    K[p, k] = cs * apk - sn * ark
                    K[r, k] = sn * apk + cs * ark
                for k in range(4):
                    vkp = Vm[k, p]
                    vkr = Vm[k, r]
                    Vm[k, p] = cs * vkp - sn * vkr
                    Vm[k, r] = sn * vkp + cs * vkr
    best = 0
    for i in range(1, 4):
        if K[i, i] > K[best, best]:
            best = i
    nrm = 0.0
    for k in range(4):
        nrm += Vm[k, best] * Vm[k, best]
    nrm = math.sqrt(nrm)
    for k in range(4):
        q[k] = Vm[k, best] / nrm


@nb.njit(**_JIT)
def quat_matrix(q, R):
    """Rotation matrix of the unit quaternion (w, x, y, z) (active: ``v -> R v``)."""
    a, b, c, d = q[0], q[1], q[2], q[3]
    R[0, 0] = a * a + b * b - c * c - d * d
    R[0, 1] = 2 * b * c - 2 * a * d
    R[0, 2] = 2 * b * d + 2 * a * c
    R[1, 0] = 2 * b * c + 2 * a * d
    R[1, 1] = a * a - b * b + c * c - d * d
    R[1, 2] = 2 * c * d - 2 * a * b
    R[2, 0] = 2 * b * d - 2 * a * c
    R[2, 1] = 2 * c * d + 2 * a * b
    R[2, 2] = a * a - b * b - c * c + d * d


# ----------------------------------------------------------------------------------------------
# 5. the per-atom driver
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def ptm_range(
    coords, nbr, row0, a0, a1, flags, want_f,
    t_pts, t_m, t_nfac, t_g1, t_nn, t_pen,
    rep_start, rep_count, rep_hash, rep_code, rep_lab_start, rep_lab_count, labs,
    gen_start, gen_count, gens, gen_perm, gen_tidx,
    o_type, o_rmsd, o_q, o_dist, o_nbr, o_tidx, o_F,
):  # fmt: skip
    """PTM of atoms ``a0 .. a1-1`` of ``coords`` (N, 3).  ``nbr[i - row0]`` lists candidate
    neighbours of atom i nearest first (a k-d tree query; the atom itself and entries outside
    ``[0, N)`` are skipped, the first 18 others used).  ``flags``: bit 1 fcc, 2 hcp, 4 bcc,
    8 ico, 16 sc.  Template tables as built by :mod:`nanotraj.ptm`.  Outputs per atom (index
    ``i``): structure code (0 no match), RMSD, orientation (x, y, z, w) in the fundamental
    zone, interatomic distance (A), neighbour atom indices in template order, template index,
    and the deformation gradient when ``want_f``; unmatched atoms get NaN / -1."""
    n_atoms = coords.shape[0]
    # work arrays (one set per range)
    D = np.empty((MAX_NEIGHBOURS, 3))
    d2 = np.empty(MAX_NEIGHBOURS)
    nidx = np.empty(MAX_NEIGHBOURS, np.int64)
    area = np.empty(MAX_NEIGHBOURS)
    vo_order = np.empty(MAX_NEIGHBOURS, np.int64)
    V = np.empty((_MAXV, 3))
    F = np.empty((_MAXF, _MAXFV), np.int32)
    FL = np.empty(_MAXF, np.int32)
    FI = np.empty(_MAXF, np.int32)
    live = np.empty(_MAXV, np.int32)
    sv = np.empty(_MAXV)
    cls = np.empty(_MAXV, np.int8)
    poly = np.empty(_MAXFV, np.int32)
    ein = np.empty(_MAXFV, np.int32)
    eout = np.empty(_MAXFV, np.int32)
    enew = np.empty(_MAXFV, np.int32)
    wv = np.empty(_MAXV, np.int32)
    ang = np.empty(_MAXV)
    uvec = np.empty((_MAXFV, 3))
    pts = np.empty((_MAXP, 3))
    pidx = np.empty(_MAXP, np.int64)
    ch = np.empty((_MAXP, 3))
    hs = np.zeros(3, np.int64)
    hfac = np.empty((MAX_FACETS, 3), np.int64)
    hnrm = np.empty((MAX_FACETS + 1, 3))
    hhor = np.empty((3 * MAX_FACETS, 2), np.int64)
    hscr = np.empty(8, np.int64)
    Vm = np.empty((4, 4))
    processed = np.zeros(_MAXP, np.bool_)
    hbc = np.empty(3)
    hvis = np.empty(MAX_FACETS, np.bool_)
    hedge = np.zeros((_MAXP, _MAXP), np.int8)
    gfac = np.empty((MAX_FACETS, 3), np.int64)
    succ = np.empty((_MAXM, _MAXM), np.int64)
    deg = np.empty(_MAXM, np.int64)
    code = np.empty(_MAXCODE, np.int64)
    blab = np.empty(_MAXM, np.int64)
    inv = np.empty(_MAXM, np.int64)
    cur = np.empty(_MAXCODE, np.int64)
    clab = np.empty(_MAXM, np.int64)
    corder = np.empty(_MAXM, np.int64)
    cfirst = np.empty(_MAXM, np.int64)
    X = np.empty((_MAXP, 3))
    S = np.empty((3, 3))
    K = np.empty((4, 4))
    cand = np.empty(_MAXP, np.int64)
    bmap = np.empty(_MAXP, np.int64)
    nmap = np.empty(_MAXP, np.int64)
    q = np.empty(4)
    qg = np.empty(4)
    for i in range(a0, a1):
        row = i - row0
        # ---- neighbours: the 18 nearest, by |r_j - r_i|^2 computed component-wise ----
        n = 0
        for c in range(nbr.shape[1]):
            j = nbr[row, c]
            if j == i or j < 0 or j >= n_atoms:
                continue
            dx = coords[j, 0] - coords[i, 0]
            dy = coords[j, 1] - coords[i, 1]
            dz = coords[j, 2] - coords[i, 2]
            dd = dx * dx + dy * dy + dz * dz
            # stable insertion by squared distance
            k = n
            while k > 0 and d2[k - 1] > dd:
                if k < MAX_NEIGHBOURS:
                    d2[k] = d2[k - 1]
                    nidx[k] = nidx[k - 1]
                    D[k, 0] = D[k - 1, 0]
                    D[k, 1] = D[k - 1, 1]
                    D[k, 2] = D[k - 1, 2]
                k -= 1
            if k < MAX_NEIGHBOURS:
                d2[k] = dd
                nidx[k] = j
                D[k, 0] = dx
                D[k, 1] = dy
                D[k, 2] = dz
                if n < MAX_NEIGHBOURS:
                    n += 1
        o_type[i] = 0
        o_rmsd[i] = np.nan
        o_dist[i] = np.nan
        o_tidx[i] = -1
        for k in range(4):
            o_q[i, k] = np.nan
        for k in range(o_nbr.shape[1]):
            o_nbr[i, k] = -1
        if want_f:
            for a in range(3):
                for b in range(3):
                    o_F[i, a, b] = np.nan
        # ---- order by Voronoi solid angle (largest first), then distance ----
        ok = voronoi_solid_angles(
            D, n, area, V, F, FL, FI, live, sv, cls, poly, ein, eout, enew, wv, ang, uvec
        )
        if ok != 0:
            continue
        for k in range(n):
            vo_order[k] = k
        for k in range(1, n):
            e = vo_order[k]
            m = k - 1
            while m >= 0 and (
                area[vo_order[m]] < area[e]
                or (area[vo_order[m]] == area[e] and d2[vo_order[m]] > d2[e])
            ):
                vo_order[m + 1] = vo_order[m]
                m -= 1
            vo_order[m + 1] = e
        npts = n + 1
        pts[0, 0] = 0.0
        pts[0, 1] = 0.0
        pts[0, 2] = 0.0
        pidx[0] = i
        for k in range(n):
            e = vo_order[k]
            pts[k + 1, 0] = D[e, 0]
            pts[k + 1, 1] = D[e, 1]
            pts[k + 1, 2] = D[e, 2]
            pidx[k + 1] = nidx[e]
        # ---- normalised copy for the hull: barycentre 0, mean distance 1 ----
        bx = 0.0
        by = 0.0
        bz = 0.0
        for k in range(npts):
            bx += pts[k, 0]
            by += pts[k, 1]
            bz += pts[k, 2]
        bx /= npts
        by /= npts
        bz /= npts
        for k in range(npts):
            ch[k, 0] = pts[k, 0] - bx
            ch[k, 1] = pts[k, 1] - by
            ch[k, 2] = pts[k, 2] - bz
        scale = 0.0
        for k in range(1, npts):
            scale += math.sqrt(ch[k, 0] * ch[k, 0] + ch[k, 1] * ch[k, 1] + ch[k, 2] * ch[k, 2])
        scale /= npts
        for k in range(npts):
            ch[k, 0] /= scale
            ch[k, 1] /= scale
            ch[k, 2] /= scale
        # ---- match the enabled structures ----
        hs[0] = 0
        hs[1] = 0
        hs[2] = 0
        best_rmsd = np.inf
        best_s = 0
        best_g2 = 0.0
        for stage in range(3):
            if stage == 0:
                if not (flags & 16):
                    continue
                m = 6
            elif stage == 1:
                if not (flags & (1 | 2 | 8)):
                    continue
                m = 12
            else:
                if not (flags & 4):
                    continue
                m = 14
            if npts < m + 1:
                continue
            ret = hull_extend(
                ch, m + 1, hs, hfac, hnrm, processed, hbc, hvis, hedge, hhor, hscr, gfac
            )
            if ret != 0:
                continue
            nfac = hs[2]
            first_s = _SC if stage == 0 else (_FCC if stage == 1 else _BCC)
            if nfac != t_nfac[first_s]:
                continue
            length = graph_code(gfac, nfac, m, succ, deg, code, blab, cur, clab, corder, cfirst)
            if length < 0:
                continue
            for v in range(m):
                inv[blab[v]] = v
            h = code_hash(code, length)
            # observed points relative to their barycentre (Angstrom)
            bx = 0.0
            by = 0.0
            bz = 0.0
            for k in range(m + 1):
                bx += pts[k, 0]
                by += pts[k, 1]
                bz += pts[k, 2]
            bx /= m + 1
            by /= m + 1
            bz /= m + 1
            g2 = 0.0
            for k in range(m + 1):
                X[k, 0] = pts[k, 0] - bx
                X[k, 1] = pts[k, 1] - by
                X[k, 2] = pts[k, 2] - bz
                g2 += X[k, 0] * X[k, 0] + X[k, 1] * X[k, 1] + X[k, 2] * X[k, 2]
            for s in (_SC, _FCC, _HCP, _ICO, _BCC):
                if not (flags & _FLAG[s]) or t_m[s] != m:
                    continue
                g1 = t_g1[s]
                for r in range(rep_start[s], rep_start[s] + rep_count[s]):
                    if rep_hash[r] != h:
                        continue
                    same = True
                    for p in range(length):
                        if rep_code[r, p] != code[p]:
                            same = False
                            break
                    if not same:
                        continue
                    for li in range(rep_lab_start[r], rep_lab_start[r] + rep_lab_count[r]):
                        cand[0] = 0
                        for t in range(m):
                            cand[t + 1] = inv[labs[li, t]] + 1
                        for a in range(3):
                            for b in range(3):
                                acc = 0.0
                                for k in range(1, m + 1):
                                    acc += t_pts[s, 0, k, a] * X[cand[k], b]
                                S[a, b] = acc
                        lam = top_eigenvalue(S, K, 0.5 * (g1 + g2))
                        rmsd = math.sqrt(abs(g1 - lam * lam / g2) / (m + 1))
                        if rmsd < best_rmsd:
                            best_rmsd = rmsd
                            best_s = s
                            best_g2 = g2
                            for k in range(m + 1):
                                bmap[k] = cand[k]
        if best_s == 0:
            continue
        # ---- the winner: rotation, fundamental zone, outputs ----
        s = best_s
        m = t_m[s]
        bx = 0.0
        by = 0.0
        bz = 0.0
        for k in range(m + 1):
            bx += pts[k, 0]
            by += pts[k, 1]
            bz += pts[k, 2]
        bx /= m + 1
        by /= m + 1
        bz /= m + 1
        for k in range(m + 1):
            X[k, 0] = pts[k, 0] - bx
            X[k, 1] = pts[k, 1] - by
            X[k, 2] = pts[k, 2] - bz
        for a in range(3):
            for b in range(3):
                acc = 0.0
                for k in range(1, m + 1):
                    acc += t_pts[s, 0, k, a] * X[bmap[k], b]
                S[a, b] = acc
        lam = top_eigenvalue(S, K, 0.5 * (t_g1[s] + best_g2))
        _horn(S, K)
        top_eigenvector(K, q, Vm)
        # fundamental zone: q g with the largest |w| over the symmetry group, then w >= 0
        gbest = -1
        wmax = 0.0
        for g in range(gen_start[s], gen_start[s] + gen_count[s]):
            wq = q[0] * gens[g, 0] - q[1] * gens[g, 1] - q[2] * gens[g, 2] - q[3] * gens[g, 3]
            if abs(wq) > wmax:
                wmax = abs(wq)
                gbest = g
        if gbest < 0:
            continue
        g0, g1_, g2_, g3 = gens[gbest, 0], gens[gbest, 1], gens[gbest, 2], gens[gbest, 3]
        qg[0] = q[0] * g0 - q[1] * g1_ - q[2] * g2_ - q[3] * g3
        qg[1] = q[0] * g1_ + q[1] * g0 + q[2] * g3 - q[3] * g2_
        qg[2] = q[0] * g2_ - q[1] * g3 + q[2] * g0 + q[3] * g1_
        qg[3] = q[0] * g3 + q[1] * g2_ - q[2] * g1_ + q[3] * g0
        if qg[0] < 0:
            for k in range(4):
                qg[k] = -qg[k]
        tidx = gen_tidx[gbest]
        for k in range(m + 1):
            nmap[gen_perm[gbest, k]] = bmap[k]
        sc = lam / best_g2
        o_type[i] = s
        o_rmsd[i] = best_rmsd
        o_q[i, 0] = qg[1]
        o_q[i, 1] = qg[2]
        o_q[i, 2] = qg[3]
        o_q[i, 3] = qg[0]
        o_dist[i] = t_nn[s] / sc
        o_tidx[i] = tidx
        for k in range(m):
            o_nbr[i, k] = pidx[nmap[k + 1]]
        if want_f:
            for a in range(3):
                for b in range(3):
                    acc = 0.0
                    for k in range(1, m + 1):
                        acc += t_pen[s, tidx, k, b] * X[nmap[k], a]
                    o_F[i, a, b] = acc * sc
