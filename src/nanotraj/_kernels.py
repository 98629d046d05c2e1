"""Compiled kernels (numba) of the large-frame paths of :func:`nanotraj.order.boo`,
:func:`nanotraj.cna.cna`, :func:`nanotraj.structure.surface` and the sampled
:func:`nanotraj.rdf.rdf`.

The numpy implementations (:mod:`nanotraj._boo_numpy`, :mod:`nanotraj.cna`, ...) are the
reference; these kernels compute the same quantities atom by atom and bond by bond and are used
for frames with many bonds (:mod:`nanotraj.engine`), where they are faster.  Small
frames never import this module: numba's import and the loading of the cached machine code
(a few tenths of a second per process) would cost more than they save.  Every kernel works on
a range of atoms, bonds or centres and releases the GIL, so that ranges run in threads; each
atom's and bond's value is computed alone in a fixed order, so the results do not depend on
the number of threads, bit for bit.

Machine code is cached beside this file (numba's ``cache=True``; a user-wide cache directory
when this one is read-only): ``make venv`` compiles it once (:func:`nanotraj.warmup.warm_up`, ~6 s).
"""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import math

import numba as nb
import numpy as np

from nanotraj._parallel import run_ranges

_JIT = {"nogil": True, "cache": True, "boundscheck": False}

ATOM_CHUNK = 1 << 15  # atoms per range handed to a thread
BOND_CHUNK = 1 << 17  # bonds per range handed to a thread
CENTRE_CHUNK = 512  # centres of g(r) per range handed to a thread


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def adjacency(n, bonds, indptr, nbr, eid):
    """Neighbour lists of ``bonds`` (B, 2) as CSR: ``indptr`` (N+1,), ``nbr`` (2B,) and the
    bond of every entry ``eid`` (2B,), filled in bond order (for bonds sorted by (low, high)
    with low < high every row is ascending: an atom's lower neighbours come from bonds before
    its own)."""
    indptr[:] = 0
    for e in range(bonds.shape[0]):
        indptr[bonds[e, 0] + 1] += 1
        indptr[bonds[e, 1] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:n].copy()
    for e in range(bonds.shape[0]):
        i = bonds[e, 0]
        j = bonds[e, 1]
        nbr[fill[i]] = j
        eid[fill[i]] = e
        fill[i] += 1
        nbr[fill[j]] = i
        eid[fill[j]] = e
        fill[j] += 1


def csr(n, bonds):
    """``(indptr, nbr, eid)`` of :func:`adjacency`; ``nbr`` and ``eid`` int32 when they fit.
    Raises ValueError for a bond index outside ``[0, n)`` (the kernels do not check bounds)."""
    if len(bonds) and (int(bonds.min()) < 0 or int(bonds.max()) >= n):
        raise ValueError(f"bond indices must be in [0, {n}), got [{bonds.min()}, {bonds.max()}]")
    indptr = np.empty(n + 1, np.int64)
    nbr = np.empty(2 * len(bonds), np.int32 if n < 2**31 - 1 else np.int64)
    eid = np.empty(2 * len(bonds), np.int32 if len(bonds) < 2**31 - 1 else np.int64)
    adjacency(n, np.ascontiguousarray(bonds, dtype=np.int64), indptr, nbr, eid)
    return indptr, nbr, eid


@nb.njit(**_JIT)
def bond_means_range(indptr, eid, values, out, a0, a1):
    """``out[p, i]`` = mean of ``values[p, e]`` over the bonds e of atom i (0 without bonds),
    atoms a0 .. a1-1 (C_l of :func:`nanotraj.order.crystallinity`)."""
    for i in range(a0, a1):
        k0 = indptr[i]
        k1 = indptr[i + 1]
        inv = 1.0 / max(k1 - k0, 1)
        for p in range(values.shape[0]):
            total = 0.0
            for k in range(k0, k1):
                total += values[p, eid[k]]
            out[p, i] = total * inv


@nb.njit(**_JIT)
def crystalline_range(indptr, eid, s6, threshold, out, a0, a1):
    """Crystalline atoms a0 .. a1-1: more than half of the bonds with s_6 > threshold,
    ``count >= ceil(cn / 2 + 0.01)`` (:func:`nanotraj.order.crystalline`)."""
    for i in range(a0, a1):
        k0 = indptr[i]
        k1 = indptr[i + 1]
        count = 0
        for k in range(k0, k1):
            if s6[eid[k]] > threshold:
                count += 1
        out[i] = count >= math.ceil((k1 - k0) / 2 + 0.01)


@nb.njit(**_JIT)
def surface_range(coords, indptr, nbr, cn, limit, min_cn, out, a0, a1):
    """Surface atoms a0 .. a1-1 (:func:`nanotraj.structure.surface`): ``|sum_j (r_j - r_i)| >
    limit`` (``limit`` = t d_nn, Angstrom) or ``cn < min_cn``."""
    for i in range(a0, a1):
        tx = 0.0
        ty = 0.0
        tz = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            j = nbr[k]
            tx += coords[j, 0] - coords[i, 0]
            ty += coords[j, 1] - coords[i, 1]
            tz += coords[j, 2] - coords[i, 2]
        out[i] = math.sqrt(tx * tx + ty * ty + tz * tz) > limit or cn[i] < min_cn


@nb.njit(**_JIT)
def cna_structure_range(indptr, eid, cls, codes, a0, a1):
    """Per-atom CNA codes of atoms a0 .. a1-1 from the classes of their bonds (1 = 421,
    2 = 422, 3 = 555, 4 = 444, 5 = 666): fcc (1) 12 bonds all 421; hcp (2) 12 bonds, six 421
    and six 422; ico (4) 12 bonds all 555; bcc (3) 14 bonds, eight 666 and six 444; else 0
    (``cna.structure_from_classes``)."""
    counts = np.zeros(6, np.int64)
    for i in range(a0, a1):
        counts[:] = 0
        k0 = indptr[i]
        k1 = indptr[i + 1]
        for k in range(k0, k1):
            counts[cls[eid[k]]] += 1
        cn = k1 - k0
        code = 0
        if cn == 12:
            if counts[1] == 12:
                code = 1
            elif counts[1] == 6 and counts[2] == 6:
                code = 2
            elif counts[3] == 12:
                code = 4
        elif cn == 14 and counts[5] == 8 and counts[4] == 6:
            code = 3
        codes[i] = code


@nb.njit(**_JIT)
def _popcount(x):
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c


# ----------------------------------------------------------------------------------------------
# common neighbour analysis
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def cna_range(indptr, nbr, bonds, e0, e1, sig, cls):
    """CNA signatures ``(n_common, n_bonds, longest_chain)`` and classes of bonds ``e0 .. e1-1``
    (``bonds[e, 0] < bonds[e, 1]``) into ``sig`` (B, 3) and ``cls`` (B,), from ascending
    neighbour rows.

    Common neighbours: a merge of the two rows.  Bonds among them: a binary search of each
    later common neighbour in the row of an earlier one, kept as bit masks (at most 63 common
    neighbours: the caller makes sure no atom has more than 64 bonds).  Longest chain: the
    number of bonds of the largest connected cluster of those bonds (flood fill on the masks),
    as :func:`nanotraj.cna.cna_signatures`.  Classes as ``cna.classes``:
    1 = 421, 2 = 422, 3 = 555, 4 = 444, 5 = 666, 0 otherwise.
    """
    common = np.empty(64, np.int64)
    adj = np.zeros(64, np.int64)
    for e in range(e0, e1):
        a = bonds[e, 0]
        b = bonds[e, 1]
        pa = indptr[a]
        qa = indptr[a + 1]
        pb = indptr[b]
        qb = indptr[b + 1]
        m = 0
        while pa < qa and pb < qb:
            x = nbr[pa]
            y = nbr[pb]
            if x == y:
                common[m] = x
                m += 1
                pa += 1
                pb += 1
            elif x < y:
                pa += 1
            else:
                pb += 1
        n_bonds = 0
        for p in range(m):
            adj[p] = 0
        for p in range(m):
            r0 = indptr[common[p]]
            r1 = indptr[common[p] + 1]
            for q in range(p + 1, m):
                t = common[q]
                lo = r0
                hi = r1
                while lo < hi:  # first position in the row >= t
                    mid = (lo + hi) >> 1
                    if nbr[mid] < t:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < r1 and nbr[lo] == t:
                    adj[p] |= np.int64(1) << q
                    adj[q] |= np.int64(1) << p
                    n_bonds += 1
                    r0 = lo + 1  # later common neighbours are larger
        chain = 0
        if n_bonds:
            seen = np.int64(0)
            for p in range(m):
                if (seen >> p) & 1 or adj[p] == 0:
                    continue
                comp = np.int64(1) << p
                front = comp
                while front:
                    reach = np.int64(0)
                    for v in range(m):
                        if (front >> v) & 1:
                            reach |= adj[v]
                    front = reach & ~comp
                    comp |= front
                seen |= comp
                ends = 0
                for v in range(m):
                    if (comp >> v) & 1:
                        ends += _popcount(adj[v])
                if ends // 2 > chain:
                    chain = ends // 2
        sig[e, 0] = m
        sig[e, 1] = n_bonds
        sig[e, 2] = chain
        c = 0
        if m == 4 and n_bonds == 2:
            c = 1 if chain == 1 else (2 if chain == 2 else 0)
        elif m == 5 and n_bonds == 5 and chain == 5:
            c = 3
        elif m == 4 and n_bonds == 4 and chain == 4:
            c = 4
        elif m == 6 and n_bonds == 6 and chain == 6:
            c = 5
        cls[e] = c


def cna(n_atoms, bonds, workers=1):
    """``(sig, cls, codes)`` of the sorted unique bonds (B, 2) int64 (``i < j``): (B, 3) int16
    signatures and (B,) int8 classes as ``cna.signatures_masks``, and the (N,) int8
    per-atom codes (:func:`cna_structure_range`); None when an atom has more than 64 bonds."""
    indptr, nbr, eid = csr(n_atoms, bonds)
    if len(bonds) and int(np.diff(indptr).max()) > 64:
        return None
    sig = np.empty((len(bonds), 3), np.int16)
    cls = np.empty(len(bonds), np.int8)
    run_ranges(lambda e0, e1: cna_range(indptr, nbr, bonds, e0, e1, sig, cls), len(bonds),
               workers, BOND_CHUNK)
    codes = np.empty(n_atoms, np.int8)
    run_ranges(lambda a0, a1: cna_structure_range(indptr, eid, cls, codes, a0, a1), n_atoms,
               workers, ATOM_CHUNK)
    return sig, cls, codes


def surface(coords, bonds, cn, limit, min_cn, workers=1):
    """(N,) bool surface atoms of :func:`surface_range` for ``bonds`` (B, 2), any order."""
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    indptr, nbr, _ = csr(len(coords), bonds)
    out = np.empty(len(coords), np.bool_)
    cn = np.ascontiguousarray(cn, dtype=np.int64)
    run_ranges(lambda a0, a1: surface_range(coords, indptr, nbr, cn, limit, min_cn, out, a0, a1),
               len(coords), workers, ATOM_CHUNK)
    return out


# ----------------------------------------------------------------------------------------------
# bond-orientational order
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _invariants(rows, nb_, col, ls, t_off, t_m, t_w, t_g, t_k, q, w, i0, acc):
    """q_l and w_l of ``nb_`` atoms from their q_lm rows stored by column, ``rows`` (C, _BLOCK)
    (the m >= 0 half, Re and Im side by side from ``col[l]``), into ``q[k, i0 + t]`` and
    ``w[k, i0 + t]`` for ``l = ls[k]``; every step a loop over the atoms (vectorised).

    q_l = sqrt(4 pi / (2l + 1) (|q_l0|^2 + 2 sum_{m>0} |q_lm|^2)).  w_l with the terms t_off[k]
    .. t_off[k+1]-1 of ``_sph.wl_terms(l)`` (|m1|, |m2|, |m3| in ``t_m``, weight ``t_w``,
    ``t_g`` = s2 s3 and ``t_k`` = s1 s3 from its signs), the operations of ``_boo_numpy._wl_block``:
    Re(q1 q2 q3) = a1 (a2 a3 - g c2 c3) - k c1 (a2 c3 + g c2 a3).
    """
    for kk in range(ls.shape[0]):
        l = ls[kk]
        c0 = col[l]
        for t in range(nb_):
            acc[t] = 0.0
        for c in range(c0 + 2, c0 + 2 * (l + 1)):
            for t in range(nb_):
                acc[t] += rows[c, t] * rows[c, t]
        norm = 4.0 * math.pi / (2 * l + 1)
        for t in range(nb_):
            x = acc[t] * 2.0 + rows[c0, t] * rows[c0, t] + rows[c0 + 1, t] * rows[c0 + 1, t]
            q[kk, i0 + t] = math.sqrt(norm * x)
            acc[t] = 0.0
        for term in range(t_off[kk], t_off[kk + 1]):
            i1 = c0 + 2 * t_m[term, 0]
            i2 = c0 + 2 * t_m[term, 1]
            i3 = c0 + 2 * t_m[term, 2]
            g = t_g[term]
            k = t_k[term]
            weight = t_w[term]
            for t in range(nb_):
                a1 = rows[i1, t]
                a2 = rows[i2, t]
                a3 = rows[i3, t]
                c1 = rows[i1 + 1, t]
                c2 = rows[i2 + 1, t]
                c3 = rows[i3 + 1, t]
                x = a2 * a3 - g * (c2 * c3)
                u = a2 * c3 + g * (c2 * a3)
                x *= a1
                u *= c1
                x -= k * u
                x *= weight
                acc[t] += x
        for t in range(nb_):
            w[kk, i0 + t] = acc[t]


_BLOCK = 256  # bond ends per block of the Y_lm recurrence (SIMD loops over the block)


@nb.njit(**_JIT)
def qlm_range(coords, indptr, nbr, diag, a_co, ab_co, col, ls, t_off, t_m, t_w, t_g, t_k, f, q,
              w, a0, a1):
    """q_lm (m >= 0, Re and Im side by side: ``f[i, col[l] + 2m]``, ``+1``) of atoms a0 .. a1-1,
    and their q_l, w_l (``q[k, i]``, ``w[k, i]`` for ``l = ls[k]``, :func:`_invariants`).

    q_lm(i) = 1/N_i sum_j Y_lm(r_j - r_i) with Y_lm = P~_l^m(z) (x + iy)^m and the recurrence of
    ``_sph.legendre_coefficients``, the same operations as ``_sph.ylm_half_into``; the bond
    vector points from the lower to the higher atom label as in ``_boo_numpy._qlm_segment``
    (for even l, Y_lm(-r) = Y_lm(r)); a zero vector is +z.  The bond ends of the range (CSR
    entries) go through the recurrence in blocks of ``_BLOCK``, each step a loop over the block
    that the compiler vectorises, then are added to their atoms.
    """
    lmax = diag.shape[0] - 1
    nc = f.shape[1]
    own = np.empty(_BLOCK, np.int64)
    ux = np.empty(_BLOCK)
    uy = np.empty(_BLOCK)
    uz = np.empty(_BLOCK)
    wr = np.empty(_BLOCK)
    wi = np.empty(_BLOCK)
    p = np.empty(_BLOCK)
    pp = np.empty(_BLOCK)
    yb = np.empty((nc, _BLOCK))
    for i in range(a0, a1):
        for c in range(nc):
            f[i, c] = 0.0
    e_end = indptr[a1]
    i = a0
    for e0 in range(indptr[a0], e_end, _BLOCK):
        nbk = min(e_end, e0 + _BLOCK) - e0
        for t in range(nbk):  # unit bond vectors of the block
            e = e0 + t
            while indptr[i + 1] <= e:
                i += 1
            own[t] = i
            j = nbr[e]
            lo = min(i, j)
            hi = max(i, j)
            vx = coords[hi, 0] - coords[lo, 0]
            vy = coords[hi, 1] - coords[lo, 1]
            vz = coords[hi, 2] - coords[lo, 2]
            r = math.sqrt(vx * vx + vy * vy + vz * vz)
            if r == 0.0:
                ux[t] = 0.0
                uy[t] = 0.0
                uz[t] = 1.0
            else:
                ux[t] = vx / r
                uy[t] = vy / r
                uz[t] = vz / r
        for m in range(lmax + 1):
            if m == 0:  # (x + iy)^m
                for t in range(nbk):
                    wr[t] = 1.0
                    wi[t] = 0.0
            elif m == 1:
                for t in range(nbk):
                    wr[t] = ux[t]
                    wi[t] = uy[t]
            else:
                for t in range(nbk):
                    u = wr[t] * ux[t] - wi[t] * uy[t]
                    wi[t] = wr[t] * uy[t] + wi[t] * ux[t]
                    wr[t] = u
            d = diag[m]
            for t in range(nbk):
                pp[t] = 0.0
                p[t] = d
            s23 = math.sqrt(2 * m + 3)
            for l in range(m, lmax + 1):
                if l == m + 1:
                    for t in range(nbk):
                        pp[t] = p[t]
                        p[t] = (s23 * p[t]) * uz[t]
                elif l > m + 1:
                    a = a_co[l, m]
                    ab = ab_co[l, m]
                    for t in range(nbk):
                        u = uz[t] * p[t]
                        u *= a
                        u -= ab * pp[t]
                        pp[t] = p[t]
                        p[t] = u
                c = col[l]
                if c >= 0:
                    if m == 0:
                        for t in range(nbk):
                            yb[c, t] = p[t]
                            yb[c + 1, t] = 0.0
                    else:
                        for t in range(nbk):
                            yb[c + 2 * m, t] = wr[t] * p[t]
                            yb[c + 2 * m + 1, t] = wi[t] * p[t]
        for t in range(nbk):
            k = own[t]
            for c in range(nc):
                f[k, c] += yb[c, t]
    for i0 in range(a0, a1, _BLOCK):
        nb_ = min(a1, i0 + _BLOCK) - i0
        for t in range(nb_):
            i = i0 + t
            cnt = indptr[i + 1] - indptr[i]
            if cnt > 0:
                inv = 1.0 / cnt
                for c in range(nc):
                    f[i, c] *= inv
            for c in range(nc):
                yb[c, t] = f[i, c]
        _invariants(yb, nb_, col, ls, t_off, t_m, t_w, t_g, t_k, q, w, i0, p)


@nb.njit(**_JIT)
def coarse_range(indptr, nbr, col, ls, t_off, t_m, t_w, t_g, t_k, f, big_q, big_w, a0, a1):
    """Q_l, W_l of atoms a0 .. a1-1 (:func:`_invariants`) from the mean of their neighbours'
    q_lm rows (the atom itself excluded, as pyboo; 0 without neighbours)."""
    nc = f.shape[1]
    rows = np.empty((nc, _BLOCK))
    acc = np.empty(nc)
    tmp = np.empty(_BLOCK)
    for i0 in range(a0, a1, _BLOCK):
        nb_ = min(a1, i0 + _BLOCK) - i0
        for t in range(nb_):
            i = i0 + t
            acc[:] = 0.0
            k0 = indptr[i]
            k1 = indptr[i + 1]
            for k in range(k0, k1):
                j = nbr[k]
                for c in range(nc):
                    acc[c] += f[j, c]
            if k1 > k0:
                inv = 1.0 / (k1 - k0)
                for c in range(nc):
                    acc[c] *= inv
            for c in range(nc):
                rows[c, t] = acc[c]
        _invariants(rows, nb_, col, ls, t_off, t_m, t_w, t_g, t_k, big_q, big_w, i0, tmp)


@nb.njit(**_JIT)
def products_range(bonds, col, pls, pk, f, q, q_zero, s, b0, b1):
    """Normalised s_l = 4 pi/(2l+1) sum_m q_lm(i) q_lm(j)* / (q_l(i) q_l(j)) of bonds b0 .. b1-1
    for every ``l = pls[p]`` into ``s[p, b]`` (``q[pk[p]]`` holds its q_l; 0 where a q_l is below
    ``q_zero``)."""
    for e in range(b0, b1):
        i = bonds[e, 0]
        j = bonds[e, 1]
        for p in range(pls.shape[0]):
            l = pls[p]
            c0 = col[l]
            dot = 0.0
            for c in range(c0, c0 + 2 * (l + 1)):
                dot += f[i, c] * f[j, c]
            dot *= 2.0
            dot -= f[i, c0] * f[j, c0]
            dot -= f[i, c0 + 1] * f[j, c0 + 1]
            dot *= 4.0 * math.pi / (2 * l + 1)
            qi = q[pk[p], i]
            qj = q[pk[p], j]
            s[p, e] = dot / (qi * qj) if (qi > q_zero and qj > q_zero) else 0.0


# ----------------------------------------------------------------------------------------------
# pair distances of g(r)
# ----------------------------------------------------------------------------------------------
@nb.njit(**_JIT)
def histogram_range(xs, start, dims, lo, h, centres, inv_dr, m, r_max, counts, c0, c1):
    """Adds to ``counts`` (m + 1,) the distances d <= r_max between the centres c0 .. c1-1
    (``centres`` (M, 3)) and every atom (itself included), binned ``min(floor(d / dr), m)``.

    The atoms ``xs`` (N, 3) are sorted by cell of a grid of side ``h`` from ``lo``: cell
    ``(a * dims[1] + b) * dims[2] + c`` holds ``xs[start[cell] : start[cell + 1]]``; a centre
    visits the cells whose box comes within ``r_max`` of it.
    """
    r2 = r_max * r_max
    skip = r2 * (1.0 + 1e-9)  # a cell is skipped only when clearly out of reach
    reach = int(math.ceil(r_max / h)) + 1  # one more: rounding of the cell indices
    for c in range(c0, c1):
        px = centres[c, 0]
        py = centres[c, 1]
        pz = centres[c, 2]
        ix = int((px - lo[0]) / h)
        iy = int((py - lo[1]) / h)
        iz = int((pz - lo[2]) / h)
        for a in range(max(0, ix - reach), min(dims[0], ix + reach + 1)):
            gx = max(0.0, lo[0] + a * h - px, px - (lo[0] + (a + 1) * h))
            for b in range(max(0, iy - reach), min(dims[1], iy + reach + 1)):
                gy = max(0.0, lo[1] + b * h - py, py - (lo[1] + (b + 1) * h))
                if gx * gx + gy * gy > skip:
                    continue
                for cz in range(max(0, iz - reach), min(dims[2], iz + reach + 1)):
                    gz = max(0.0, lo[2] + cz * h - pz, pz - (lo[2] + (cz + 1) * h))
                    if gx * gx + gy * gy + gz * gz > skip:
                        continue
                    cell = (a * dims[1] + b) * dims[2] + cz
                    for t in range(start[cell], start[cell + 1]):
                        dx = xs[t, 0] - px
                        dy = xs[t, 1] - py
                        dz = xs[t, 2] - pz
                        d2 = dx * dx + dy * dy + dz * dz
                        if d2 <= r2:
                            k = int(math.sqrt(d2) * inv_dr)
                            counts[min(k, m)] += 1


#: largest number of cells of :func:`centre_histogram`'s grid per atom (a frame spread over a much
#: larger box, e.g. with far stray atoms, is counted with the kd-tree instead)
MAX_CELLS_PER_ATOM = 8


def centre_histogram(x, centres, dr, m, r_max, workers=1):
    """(m + 1,) int64 counts of the distances between ``centres`` (M, 3) and all atoms ``x``
    (N, 3) up to ``r_max``, binned ``min(floor(d / dr), m)`` (:func:`histogram_range`), or None
    when the frame's box needs more than :data:`MAX_CELLS_PER_ATOM` cells per atom.  Each
    thread counts its ranges of centres into its own array; the integer sums do not depend on
    the threads."""
    h = r_max / 3.0
    lo = x.min(axis=0)
    dims = np.floor((x.max(axis=0) - lo) / h).astype(np.int64) + 1
    n_cells = int(dims[0]) * int(dims[1]) * int(dims[2])
    if n_cells > MAX_CELLS_PER_ATOM * len(x) + 1000:
        return None
    ijk = np.minimum(np.floor((x - lo) / h).astype(np.int64), dims - 1)
    cell = (ijk[:, 0] * dims[1] + ijk[:, 1]) * dims[2] + ijk[:, 2]
    del ijk
    order = np.argsort(cell, kind="stable")
    start = np.searchsorted(cell[order], np.arange(n_cells + 1))
    xs = np.ascontiguousarray(x[order])
    del order, cell
    centres = np.ascontiguousarray(centres, dtype=np.float64)
    parts = []

    def count(c0, c1):
        out = np.zeros(m + 1, np.int64)
        histogram_range(xs, start, dims, lo, h, centres, 1.0 / dr, m, r_max, out, c0, c1)
        parts.append(out)

    run_ranges(count, len(centres), workers, CENTRE_CHUNK)
    return np.sum(parts, axis=0) if parts else np.zeros(m + 1, np.int64)
