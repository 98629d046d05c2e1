"""The numpy engine of the bond-orientational order (the reference implementation).

Sums over bonds onto atoms run segment by segment of atoms (:class:`Plan`), q_lm streamed
through a ring of segment slots (:func:`boo_streamed`), in threads
(:func:`nanotraj._parallel.ordered_map`); every sum is done in the same order whatever the
number of threads, so the results do not depend on it, bit for bit.  The formulas are those of
:mod:`nanotraj.order`; numpy and scipy only (numba is never imported).
"""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import numpy as np

from nanotraj import _sph
from nanotraj._parallel import ordered_map
from nanotraj._sph import (
    FOUR_PI,
    Q_ZERO,
    bond_counts,
    columns,
    ordered_result,
    unit,
    wl_terms,
    ylm_half_into,
)

CHUNK = 1 << 16  # bonds per chunk (bounds temporary memory: ~12 MB of Y_lm per thread)


SEG_MIN = 1 << 12  # atoms per segment (a power of two): at least ...


_SEG_MAX = 1 << 17  # ... at most ...


_SEG_PARTS = 16  # ... and otherwise about N / _SEG_PARTS


def segments(n):
    """Atom ranges ``[a, b)`` covering atoms 0 .. n-1 in order.

    Their size depends on N only, never on the number of threads: every sum is done in the same
    order for any ``workers``, so the results are bit-for-bit the same.  It is a power of two
    (the smallest >= N / _SEG_PARTS, within SEG_MIN .. _SEG_MAX), so that a ring of segment
    slots (:func:`boo_streamed`) is addressed with a bit mask.
    """
    size = _segment_size(n)
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _segment_size(n):
    """Atoms per segment of :func:`segments` (a power of two)."""
    size = 1 << (max(SEG_MIN, -(-n // _SEG_PARTS), 1) - 1).bit_length()
    return min(1 << (_SEG_MAX - 1).bit_length(), size)


def _is_sorted(bonds):
    """True when every bond is ``(low, high)`` (low <= high) and the lows never decrease
    (:func:`nanotraj.bonds.find_bonds` gives bonds so); checked in chunks."""
    prev = -1
    for b0 in range(0, len(bonds), 1 << 18):
        c = bonds[b0 : b0 + (1 << 18)]
        low = c[:, 0]
        if low[0] < prev or (low > c[:, 1]).any() or (low[1:] < low[:-1]).any():
            return False
        prev = low[-1]
    return True


def sorted_bonds(bonds, n, new=None):
    """``(sorted, order)``: the bonds as ``(low, high)`` pairs sorted by ``low``, with
    ``sorted[k]`` the caller's bond ``order[k]``; ``order`` is None (and nothing is copied) when
    the bonds already are so.  ``new`` (N,) int, optional, relabels the atoms first."""
    if new is None and _is_sorted(bonds):
        return bonds, None
    step = 1 << 18  # in chunks: no bond-sized temporaries (fresh memory is slow)
    key = np.empty(len(bonds), np.int64)  # (low, high), packed
    for b0 in range(0, len(bonds), step):
        a, b = bonds[b0 : b0 + step, 0], bonds[b0 : b0 + step, 1]
        if new is not None:
            a, b = new[a], new[b]
        k = np.minimum(a, b, out=key[b0 : b0 + step])
        k *= n
        k += np.maximum(a, b)
    order = np.argsort(key)  # duplicated bonds: any order among themselves
    out = np.empty((len(key), 2), np.int64)
    for b0 in range(0, len(bonds), step):
        np.divmod(key[order[b0 : b0 + step]], n, out=(out[b0 : b0 + step, 0],
                                                      out[b0 : b0 + step, 1]))
    return out, order


class Plan:
    """Bonds sorted by their low end (:func:`sorted_bonds`), split by the segments of atoms
    (:func:`segments`).

    Segment ``k`` (atoms ``a .. b-1``) *owns* the bonds whose low end it holds, a contiguous
    range ``own[k] .. own[k+1]-1``; its *incoming* bonds have their low end in an earlier
    segment and their high end in it.  A per-atom sum over bonds is then done for each segment
    alone (threads write disjoint rows): its own bonds give to both ends inside it, its incoming
    bonds to their high end.  With atoms in a spatial order, incoming bonds come from the few
    chunks just before the segment's own bonds (``reach``: the largest high end of the chunks so
    far) and are a few per cent of all.
    """

    def __init__(self, bonds, n):
        import bisect

        self.bonds, self.n = bonds, n
        self.segs = segments(n)
        self.size = _segment_size(n)
        low = bonds[:, 0]
        self.own = [bisect.bisect_left(low, a) for a, _ in self.segs] + [len(bonds)]
        hi_of = [int(bonds[c : c + CHUNK, 1].max()) for c in range(0, len(bonds), CHUNK)]
        self.reach = np.maximum.accumulate(np.array(hi_of, np.int64))
        self._incoming = {}

    def incoming(self, k):
        """(K, 2) bonds with the low end before segment k and the high end in it, in order."""
        if k not in self._incoming:
            a, b = self.segs[k]
            c0 = int(np.searchsorted(self.reach, a))  # first chunk with a high end >= a
            cand = self.bonds[c0 * CHUNK : self.own[k]]
            high = cand[:, 1]
            self._incoming[k] = cand[(high >= a) & (high < b)]
        return self._incoming[k]

    def run(self, fn, workers):
        """``fn(k, a, b)`` for every segment, in ``workers`` threads."""
        for _ in ordered_map(lambda k: fn(k, *self.segs[k]), range(len(self.segs)), workers):
            pass


def _entries(block, a, b):
    """Rows (relative to ``a``) of the ends of ``block``'s bonds inside ``[a, b)``: every low
    end, the high end where it is inside.  ``(rows, per_bond, keep)``: rows bond by bond, how
    many each bond has, and the (B*2,) mask of the kept ends of ``block.ravel()`` (None: all)."""
    inside = block[:, 1] < b
    if inside.all():
        return (block - a).ravel(), 2, None
    keep = np.ones((len(block), 2), bool)
    keep[:, 1] = inside
    return (block - a).ravel()[keep.ravel()], keep.sum(axis=1), keep.ravel()


def _scatter_add(out, rows, per_bond, values):
    """``out[r] += values[k]`` for the rows ``r`` of bond ``k``: ``rows`` lists them bond by
    bond, ``per_bond`` (int or (B,) ints) says how many each has.

    A product with a sparse CSC incidence matrix accumulated into ``out`` in place by scipy's
    compiled kernel (``scipy.sparse._sparsetools.csc_matvecs``, ``out += E @ values``): no
    temporary the size of ``out``.  Where that private kernel is missing, the same sums (up to
    the order of the additions inside a block) through the public product.
    """
    k = values.shape[1]
    if isinstance(per_bond, int):
        indptr = np.arange(0, len(rows) + 1, per_bond, dtype=np.int64)
    else:
        indptr = np.zeros(len(values) + 1, np.int64)
        np.cumsum(per_bond, out=indptr[1:])
    data = np.ones(len(rows))
    if CSC_MATVECS is not None:
        CSC_MATVECS(len(out), len(values), k, indptr, rows, data, values.reshape(-1),
                     out.reshape(-1))
        return
    import scipy.sparse as sp

    out += sp.csc_matrix((data, rows, indptr), shape=(len(out), len(values))) @ values


def _gather_add(out, rows, cols, values):
    """``out[rows[e]] += values[cols[e]]`` for every entry e, in order: a COO product
    accumulated in place by scipy's compiled kernel (``coo_matmat_dense``; gather and scatter in
    one pass, no temporary); the public product where the private kernel is missing."""
    data = np.ones(len(rows))
    if COO_MATMAT is not None:
        COO_MATMAT(len(rows), values.shape[1], rows, cols, data, values.reshape(-1),
                    out)
        return
    import scipy.sparse as sp

    out += sp.coo_matrix((data, (rows, cols)), shape=(len(out), len(values))) @ values


def _sparsetools(name):
    try:
        from scipy.sparse import _sparsetools
    except ImportError:  # pragma: no cover - scipy moved its private kernels
        return None
    return getattr(_sparsetools, name, None)


CSC_MATVECS = _sparsetools("csc_matvecs")


COO_MATMAT = _sparsetools("coo_matmat_dense")


def _qlm_segment(coords, plan, k, out, ls, cols, ybuf):
    """Sums of Y_lm over the bonds of segment k's atoms (not yet divided by N_i) into ``out``
    (b - a, C) float64, zeroed first.

    Per block of bonds: bond vectors, unit vectors and Y_lm of all l (temporaries that stay in
    cache, ``ybuf`` (_sph.SUB, C)), added to the ends inside the segment (:func:`_scatter_add`): own
    bonds to both ends (the high one where inside), incoming bonds to their high end.  The Y_lm
    of an incoming bond is computed again here (the same value, bit for bit).
    """
    a, b = plan.segs[k]
    out.fill(0.0)

    def ylm_of(block):
        v = coords[block[:, 1]]
        v -= coords[block[:, 0]]
        ylm = ybuf[: len(block)]
        ylm_half_into(unit(v), ls, {l: ylm[:, cols[l]] for l in ls})
        return ylm

    p0, p1 = plan.own[k], plan.own[k + 1]
    for s0 in range(p0, p1, _sph.SUB):
        block = plan.bonds[s0 : min(p1, s0 + _sph.SUB)]
        rows, per_bond, _ = _entries(block, a, b)
        _scatter_add(out, rows, per_bond, ylm_of(block))
    incoming = plan.incoming(k)
    for s0 in range(0, len(incoming), _sph.SUB):
        block = incoming[s0 : s0 + _sph.SUB]
        _scatter_add(out, block[:, 1] - a, 1, ylm_of(block))


def neighbour_segment(fv, plan, k, acc, ring=None):
    """Sums over each atom's bonded neighbours of their rows of ``fv`` for segment k's atoms,
    into ``acc`` (b - a, k) float64, zeroed first.  Atom r's row is ``fv[r]``, or
    ``fv[r & (ring - 1)]`` when ``fv`` is a ring of ``ring`` rows, a power of two
    (:func:`boo_streamed`).

    Per chunk of own bonds atom i gets row j and atom j (if inside) row i, then the incoming
    bonds give their high end the low end's row (:func:`_gather_add`).
    """
    a, b = plan.segs[k]
    acc.fill(0.0)
    p0, p1 = plan.own[k], plan.own[k + 1]
    for c0 in range(p0, p1, CHUNK):
        block = plan.bonds[c0 : min(p1, c0 + CHUNK)]
        rows, _, keep = _entries(block, a, b)
        cols = block[:, ::-1].ravel()  # the other end of each kept end
        if keep is not None:
            cols = cols[keep]
        if ring is not None:
            cols &= ring - 1
        _gather_add(acc, rows, cols, fv)
    incoming = plan.incoming(k)
    if len(incoming):
        cols = incoming[:, 0] & (ring - 1) if ring is not None else incoming[:, 0].copy()
        _gather_add(acc, incoming[:, 1] - a, cols, fv)


def qlm_f(coords, plan, ls, cn, workers=1):
    """(F, cols): q_lm, m = 0..l, of every l side by side in one (N, C) float64 array.

    ``F[:, cols[l]]`` holds Re q_l0, Im q_l0, Re q_l1, ... (pyboo's ``bonds2qlm``); segment by
    segment of atoms (:func:`_qlm_segment`), in threads.
    """
    import threading

    cols, c0 = columns(ls)
    f = np.empty((plan.n, c0))
    inv = 1.0 / np.maximum(cn, 1)
    local = threading.local()  # one Y_lm block buffer per thread

    def segment(k, a, b):
        if getattr(local, "ylm", None) is None:
            local.ylm = np.empty((_sph.SUB, c0))
        _qlm_segment(coords, plan, k, f[a:b], ls, cols, local.ylm)
        f[a:b] *= inv[a:b, None]

    plan.run(segment, workers)
    return f, cols


def neighbour_mean(fv, plan, cn, workers=1):
    """Mean over each atom's bonded neighbours of the rows of ``fv`` (N, k) float64 (0 without
    bonds), segment by segment of atoms (:func:`neighbour_segment`), in threads."""
    fv = np.ascontiguousarray(fv)
    inv = 1.0 / np.maximum(cn, 1)
    result = np.empty(fv.shape)

    def segment(k, a, b):
        neighbour_segment(fv, plan, k, result[a:b])
        result[a:b] *= inv[a:b, None]

    plan.run(segment, workers)
    return result


def _run_after(tasks, workers):
    """Run ``tasks``, a list of ``(fn, deps)`` where ``deps`` are indices of earlier tasks that
    must finish first, in ``workers`` threads (in list order with one).

    Tasks are queued in list order and the pool's threads take them first in, first out, so a
    task's dependencies have all been taken (run or running) when it starts: waiting for them
    cannot deadlock.
    """
    if workers <= 1:
        for fn, _ in tasks:
            fn()
        return
    from concurrent.futures import ThreadPoolExecutor

    def after(waits, fn):
        for w in waits:
            w.result()
        fn()

    with ThreadPoolExecutor(workers) as ex:
        futures = []
        for fn, deps in tasks:
            futures.append(ex.submit(after, [futures[d] for d in deps], fn))
        for fut in futures:
            fut.result()


#: A segment's Q_lm and s_l are taken this many q_lm segments behind the last one computed
_LOOKAHEAD = 2


def ring_of(plan):
    """``(lo, hi, slots, ring)`` of :func:`boo_streamed`: per segment k the first and last
    segment its B task reads (from the lowest end of its incoming bonds to the highest end of
    its own), the number of slots (a power of two >= 2 span + _LOOKAHEAD) and the ring's rows
    (None when the slots would cover every segment: the whole (N, C) array is used)."""
    nseg = len(plan.segs)
    lo = [k if not len(plan.incoming(k)) else int(plan.incoming(k)[:, 0].min()) // plan.size
          for k in range(nseg)]
    hi = [k if plan.own[k] == plan.own[k + 1] else
          int(plan.bonds[plan.own[k] : plan.own[k + 1], 1].max()) // plan.size
          for k in range(nseg)]
    span = max((h - g + 1 for g, h in zip(lo, hi, strict=True)), default=1)
    slots = 1 << (2 * span + _LOOKAHEAD - 1).bit_length()
    return lo, hi, slots, (slots * plan.size if slots < nseg else None)


def boo_streamed(coords, plan, ls, products, cn, workers, qs, on_q, on_coarse):
    """q_lm, Q_lm and s_l of every bond, streamed segment by segment of atoms through a ring of
    q_lm rows: ``(s, cols)``, s a dict of (B,) arrays for every l of ``products``.

    Task A(k) computes the q_lm rows of segment k (:func:`_qlm_segment`) into its slot of the
    ring, its q_l into ``qs[l][a:b]`` (``qs``: (N,) arrays for every l of ``ls`` and
    ``products``) and calls ``on_q(a, b, rows, cols)``.  Task B(k) takes s_l of segment k's own
    bonds (:func:`_bond_product_block`) and the mean Q_lm of its atoms
    (:func:`neighbour_segment`), then calls ``on_coarse(a, b, rows, cols)``.

    B(k) reads the q_lm rows of the segments lo(k) .. hi(k) its bonds reach, so it runs after
    their A tasks; A(m) reuses the slot of segment m - P, so it runs after every B that reads
    that segment.  With span = max(hi - lo + 1), P >= 2 span + _LOOKAHEAD slots (a power of
    two) keep every dependency earlier in the queue (see :func:`_run_after`); when P covers all
    segments the "ring" is simply the (N, C) array.  At 10^6 atoms in spatial order that is 8
    slots of 65,536 rows instead of 10^6 rows: the memory touched for the first time, the
    slowest memory, shrinks by 90 MB.  The results do not depend on the slots or the threads.
    """
    import threading

    n, bonds = plan.n, plan.bonds
    need = tuple(sorted(set(ls) | set(products)))
    cols, c0 = columns(need)
    nseg = len(plan.segs)
    lo, hi, slots, ring = ring_of(plan)
    f = np.empty((ring if ring is not None else n, c0))
    inv = 1.0 / np.maximum(cn, 1)
    s = {l: np.empty(len(bonds)) for l in products}
    pcols = {l: cols[l] for l in products}
    local = threading.local()

    def rows_of(k):
        a, b = plan.segs[k]
        if ring is None:
            return f[a:b]
        r0 = (k % slots) * plan.size
        return f[r0 : r0 + b - a]

    def task_a(k):
        if getattr(local, "ylm", None) is None:
            local.ylm = np.empty((_sph.SUB, c0))
        a, b = plan.segs[k]
        rows = rows_of(k)
        _qlm_segment(coords, plan, k, rows, need, cols, local.ylm)
        rows *= inv[a:b, None]
        for l in need:
            qs[l][a:b] = ql_f(rows[:, cols[l]])
        on_q(a, b, rows, cols)

    def task_b(k):
        a, b = plan.segs[k]
        p0, p1 = plan.own[k], plan.own[k + 1]
        for b0 in range(p0, p1, _sph.SUB):
            b1 = min(p1, b0 + _sph.SUB)
            _bond_product_block(f, pcols, bonds[b0:b1], ring, qs, s, b0, b1)
        if getattr(local, "acc", None) is None or len(local.acc) < b - a:
            local.acc = np.empty((plan.size, c0))
        acc = local.acc[: b - a]
        neighbour_segment(f, plan, k, acc, ring)
        acc *= inv[a:b, None]
        on_coarse(a, b, acc, cols)

    # queue order: A tasks _LOOKAHEAD segments ahead of the B task that needs them
    tasks, index_a, index_b, next_a = [], {}, {}, 0
    for k in range(nseg):
        while next_a < nseg and next_a <= hi[k] + _LOOKAHEAD:
            m = next_a
            deps = []
            if ring is not None and m >= slots:  # the slot's previous segment is read by ...
                deps = [index_b[j] for j in index_b if lo[j] <= m - slots <= hi[j]]
            index_a[m] = len(tasks)
            tasks.append((lambda m=m: task_a(m), deps))
            next_a += 1
        index_b[k] = len(tasks)
        tasks.append((lambda k=k: task_b(k), [index_a[j] for j in range(lo[k], hi[k] + 1)]))
    _run_after(tasks, workers)
    return s, cols


def ql_f(f):
    """q_l from the m >= 0 half in float layout (n, 2(l+1)) (any row stride)."""
    l = f.shape[1] // 2 - 1
    s = np.einsum("ij,ij->i", f[:, 2:], f[:, 2:]) * 2.0 + f[:, 0] ** 2 + f[:, 1] ** 2
    return np.sqrt(FOUR_PI / (2 * l + 1) * s)


def wl_f(f):
    """w_l from the m >= 0 half in float layout (n, 2(l+1)), in blocks of atoms that stay in
    cache, real arithmetic.

    With q_m = a_m + i b_m for m >= 0 and q_{-m} = (-1)^m (a_m - i b_m), the sign (-1)^m is in
    the term's weight and the conjugation in its signs (sigma_k = -1 for negative m_k):
    Re(q_1 q_2 q_3) = a1 (a2 a3 - s2 s3 b2 b3) - s1 b1 (s3 a2 b3 + s2 b2 a3).
    """
    l = f.shape[1] // 2 - 1
    n = f.shape[0]
    w = np.zeros(n)
    terms = wl_terms(l)
    for b0 in range(0, n, _sph.SUB):
        _wl_block(f, w, b0, min(n, b0 + _sph.SUB), terms)
    return w


def _wl_block(f, w, b0, b1, terms):
    """Adds the terms of w_l of atoms b0 .. b1 - 1 to w (see :func:`wl_f`)."""
    block = f[b0:b1].T  # (2(l+1), nb)
    re = np.ascontiguousarray(block[0::2])
    im = np.ascontiguousarray(block[1::2])
    acc = w[b0:b1]
    for m1, m2, m3, weight, (s1, s2, s3) in terms:
        a1, a2, a3 = re[abs(m1)], re[abs(m2)], re[abs(m3)]
        c1, c2, c3 = im[abs(m1)], im[abs(m2)], im[abs(m3)]
        t = a2 * a3
        if s2 * s3 > 0:
            t -= c2 * c3
        else:
            t += c2 * c3
        u = a2 * c3
        v = c2 * a3
        if s3 == s2:
            u += v
        else:
            u -= v
        # u = s3 (s3 a2 c3 + s2 c2 a3); Re(...) = a1 t - s1 s3 c1 u
        t *= a1
        u *= c1
        if s1 * s3 > 0:
            t -= u
        else:
            t += u
        t *= weight
        acc += t


def _bond_product_block(f, cols, bonds, ring, qs, out, b0, b1):
    """Normalised s_l of bonds b0 .. b1 - 1 (``bonds``) into ``out[l][b0:b1]`` for every l of
    ``cols`` (0 where q_i or q_j is below Q_ZERO).

    ``f`` holds the q_lm rows in the float layout of :func:`qlm_f` (atom r in row r, or
    ``r & (ring - 1)`` for a ring, :func:`boo_streamed`); one gather of both ends' columns serves
    every l.  sum_m Re(q_m(i) q_m(j)*) = q_0(i) q_0(j) + 2 sum_{m>0} Re(...).
    """
    i = bonds[:, 0]
    j = bonds[:, 1]
    c_lo = min(c.start for c in cols.values())  # gather only the columns of these l
    part = f[:, c_lo : max(c.stop for c in cols.values())]
    fi = part[i & (ring - 1) if ring is not None else i]
    fj = part[j & (ring - 1) if ring is not None else j]
    for l, c in cols.items():
        a = fi[:, c.start - c_lo : c.stop - c_lo]
        b = fj[:, c.start - c_lo : c.stop - c_lo]
        dot = np.einsum("ij,ij->i", a, b)
        dot *= 2.0
        dot -= a[:, 0] * b[:, 0]
        dot -= a[:, 1] * b[:, 1]
        dot *= FOUR_PI / (2 * l + 1)
        qi, qj = qs[l][i], qs[l][j]
        out[l][b0:b1] = 0.0
        np.divide(dot, qi * qj, out=out[l][b0:b1], where=(qi > Q_ZERO) & (qj > Q_ZERO))


def mean_over_bonds(n, bonds, values, cn):
    from nanotraj.bonds import bond_sums

    (tot,) = bond_sums(n, bonds, values)
    return tot / np.maximum(cn, 1)


def crystalline_from_s(n, bonds, s, cn, threshold):
    """Solid-like bonds per atom (s > threshold) against ceil(cn/2 + 0.01)."""
    from nanotraj.bonds import bond_counts_where

    return bond_counts_where(n, bonds, s > threshold) >= np.ceil(cn / 2 + 0.01)


#: Atoms are put in spatial order internally (:func:`spatial_order`) when, on a frame of at
#: least _REORDER_MIN atoms, the typical chunk of bonds spans more than this fraction of them
#: and more than 8 times the atoms whose bonds it holds.
_REORDER_SPAN = 0.25


_REORDER_MIN = 20_000


def spatial_order(coords, bonds):
    """A permutation putting the atoms in raster order of cells, or None if they are local.

    The sums over bonds run segment by segment of atoms (:class:`Plan`): a bond whose ends
    lie in different segments is computed by both, and a segment's incoming bonds are looked
    for back to the first chunk of bonds that reaches it.  With atoms in a spatial order (a
    lattice written plane by plane, most PDB files) a chunk of bonds spans a small window of
    atoms and few bonds cross segments; with atoms in random order a chunk spans every atom,
    nearly every bond crosses and every segment would scan all earlier bonds.  Atoms are sorted
    by cell ``floor((x - min) / h)`` (z, then y, then x), with h = 1.5 x the median bond length
    of a sample of bonds: neighbours then lie within about one plane of cells.
    """
    n = len(coords)
    if n < _REORDER_MIN or len(bonds) == 0:
        return None
    starts = range(0, len(bonds), CHUNK)
    spans = [int(np.ptp(bonds[b : b + CHUNK])) for b in starts[:: max(1, len(starts) // 16)]]
    own = min(CHUNK, len(bonds)) * n / len(bonds)  # ~ atoms whose bonds a chunk holds
    if np.median(spans) <= max(_REORDER_SPAN * n, 8 * own):
        return None
    sample = bonds[:: max(1, len(bonds) // 10_000)]
    d = coords[sample[:, 1]] - coords[sample[:, 0]]
    h = 1.5 * float(np.median(np.sqrt(np.einsum("ij,ij->i", d, d))))
    if not h > 0:
        return None
    cell = np.floor((coords - coords.min(axis=0)) / h).astype(np.int64)
    size = cell.max(axis=0) + 1
    if float(size[0]) * float(size[1]) * float(size[2]) >= 2.0**62:  # far outliers: no packing
        return np.lexsort((cell[:, 0], cell[:, 1], cell[:, 2]))
    return np.argsort((cell[:, 2] * size[1] + cell[:, 1]) * size[0] + cell[:, 0], kind="stable")


def boo_numpy(coords, bonds, ls, threshold, workers=1, products=None):
    """The numpy engine of :func:`nanotraj.order.boo` (arguments checked there).  Atoms in a
    poor order (see :func:`spatial_order`) are relabelled into a spatial order for
    the computation, bonds not sorted by their low end are sorted (:func:`sorted_bonds`); the
    results are mapped back to the caller's atoms and bonds."""
    n = len(coords)
    perm = spatial_order(coords, bonds)
    new = None
    if perm is not None:
        new = np.empty(n, np.int64)
        new[perm] = np.arange(n)  # new label of every atom
        coords = coords[perm]
    sbonds, order = sorted_bonds(bonds, n, new)
    res = boo_ordered(coords, sbonds, ls, threshold, workers, products)
    del sbonds
    for k, value in res.items():
        if k.startswith("s"):  # per bond
            if order is not None:
                back = np.empty_like(value)
                back[order] = value  # sorted bond k is the caller's bond order[k]
                res[k] = back
        elif new is not None:
            res[k] = value[new]  # atom a has row new[a]
    return res


def boo_ordered(coords, bonds, ls, threshold, workers=1, products=None):
    """:func:`boo_numpy` on bonds sorted by their low end (:func:`boo_streamed`)."""
    products = ls if products is None else products
    n = len(coords)
    plan = Plan(bonds, n)
    cn = bond_counts(n, bonds)
    with_6 = tuple(sorted(set(products) | {6}))  # s_6 gives the crystalline atoms
    qs = {l: np.empty(n) for l in set(ls) | set(with_6)}
    out = {}
    for l in ls:
        for p in ("w", "Q", "W"):
            out[f"{p}{l}"] = np.empty(n)

    def on_q(a, b, rows, cols):  # w_l of a finished segment, in its thread
        for l in ls:
            out[f"w{l}"][a:b] = wl_f(rows[:, cols[l]])

    def on_coarse(a, b, rows, cols):  # Q_l, W_l of a segment's Q_lm (no (N, C) array of them)
        for l in ls:
            out[f"Q{l}"][a:b] = ql_f(rows[:, cols[l]])
            out[f"W{l}"][a:b] = wl_f(rows[:, cols[l]])

    ss, _ = boo_streamed(coords, plan, ls, with_6, cn, workers, qs, on_q, on_coarse)
    out["crystalline"] = crystalline_from_s(n, bonds, ss[6], cn, threshold)
    from nanotraj.bonds import bond_sums

    inv = 1.0 / np.maximum(cn, 1)
    for l, total in zip(products, bond_sums(n, bonds, *(ss[l] for l in products)),
                        strict=True):
        out[f"C{l}"] = total * inv
        out[f"s{l}"] = ss[l]
    for l in ls:
        out[f"q{l}"] = qs[l]
    return ordered_result(out, ls, products)
