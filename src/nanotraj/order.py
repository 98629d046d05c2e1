r"""Bond-orientational order (BOO) parameters, matching pyboo 1.0.0.

Re-implementation (no numba, no code copied) of the conventions of pyboo 1.0.0
(M. Leocmach, *pyboo: a Python package to compute bond orientational order parameters*,
doi:10.5281/zenodo.1066568, https://github.com/MathieuLeocmach/pyboo), which the published
method (``shared/seed/analysis-structural-tutorial.md``) uses.  Every quantity below agrees with
pyboo to round-off (~1e-15, tested against stored pyboo values to 1e-10).

Definitions (all lengths in Angstrom; the parameters themselves are dimensionless).
A *bond* is an unordered pair ``(i, j)`` of atoms; ``bonds`` is a ``(B, 2)`` integer array with
each pair listed once (as returned by :func:`nanotraj.bonds.find_bonds` or
``scipy.spatial.cKDTree.query_pairs``).  ``N_i`` is the number of bonds of atom ``i``.

* :math:`q_{\ell m}(i) = \frac{1}{N_i}\sum_{j \in b(i)} Y_{\ell m}(\hat r_{ij})`
  (Steinhardt, Nelson & Ronchetti, Phys. Rev. B 28, 784 (1983)), with the orthonormal
  spherical harmonics including the Condon-Shortley phase (``scipy.special.sph_harm_y``).
* :math:`q_\ell = \sqrt{\frac{4\pi}{2\ell+1}\sum_{m=-\ell}^{\ell}|q_{\ell m}|^2}`.
* :math:`w_\ell = \sum_{m_1+m_2+m_3=0}\begin{pmatrix}\ell&\ell&\ell\\m_1&m_2&m_3\end{pmatrix}
  q_{\ell m_1}q_{\ell m_2}q_{\ell m_3}` -- **not** normalised by
  :math:`(\sum_m|q_{\ell m}|^2)^{3/2}` (pyboo's ``wl``).  The normalised
  :math:`\hat w_\ell` of Steinhardt et al. is
  ``w / (sqrt((2l+1)/(4 pi)) * q)**3``.
* :math:`Q_{\ell m}(i) = \frac{1}{N_i}\sum_{j\in b(i)} q_{\ell m}(j)`: pyboo's bond-based
  coarse-graining, the mean over the **neighbours only**.  Lechner & Dellago, J. Chem. Phys. 129,
  114707 (2008) (and freud's ``average=True``) also include the atom itself,
  :math:`\frac{1}{N_i+1}(q_{\ell m}(i)+\sum_j q_{\ell m}(j))`; pyboo's docstring shows that
  formula but its code (and therefore the published numbers) uses neighbours only.  ``Q_l``,
  ``W_l`` are ``q_l``, ``w_l`` of ``Q_lm``.
* :math:`s_\ell(i,j) = \frac{4\pi}{2\ell+1}\,\mathrm{Re}\sum_m q_{\ell m}(i)q^*_{\ell m}(j)
  \,/\,(q_\ell(i) q_\ell(j))`, the normalised bond product (ten Wolde, Ruiz-Montero & Frenkel,
  J. Chem. Phys. 104, 9932 (1996)).
* :math:`C_\ell(i)=\frac{1}{N_i}\sum_{j\in b(i)}s_\ell(i,j)` (crystallinity, Russo & Tanaka,
  Sci. Rep. 2, 505 (2012), as in pyboo).
* crystalline: at least ``ceil(N_i/2 + 0.01)`` bonds with ``s_6 > threshold`` (ten Wolde et
  al. 1996; the seed's choice of ``nb_thr`` in pyboo's ``x_particles``).

Atoms without bonds have ``q_lm = Q_lm = 0``, hence ``q = Q = w = W = C = 0`` and are not
crystalline (pyboo's behaviour).  Only even ``l`` (``0 <= l <= 12``) are supported: pyboo adds
the same ``Y_lm(r_j - r_i)`` to both ends of a bond, which is only correct for even ``l``.

``qlm`` arrays of this module have shape ``(N, 2l+1)``, columns ``m = -l..l`` and satisfy
``q_{l,-m} = (-1)^m conj(q_{lm})`` (pyboo stores only ``m >= 0``).  :func:`boo` works internally
on the ``m >= 0`` half and processes bonds in chunks, so that 10^6 atoms take a few seconds and
a few hundred MB.
"""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

import numpy as np

from nanotraj.errors import ConfigError

__all__ = [
    "L_MAX",
    "PYBOO_INSTALL",
    "spherical_harmonics",
    "bond_qlm",
    "ql",
    "wl",
    "coarse_grain",
    "bond_product",
    "crystallinity",
    "crystalline",
    "wigner3j",
    "boo",
]

#: Largest supported degree l.
L_MAX = 12

#: How to install the optional engine "pyboo" (pyboo 1.0.0 imports ``scipy.special.sph_harm``,
#: removed in scipy 1.17, so it needs its own virtual environment).
PYBOO_INSTALL = (
    "pip install numpy numba 'scipy==1.16.3' && pip install --no-build-isolation pyboo==1.0.0"
)

_CHUNK = 1 << 16  # bonds per chunk (bounds temporary memory: ~12 MB of Y_lm per thread)
_SUB = 8192  # vectors per block of vectorised work (stays in cache)
_FOUR_PI = 4.0 * math.pi


def _ordered_map(fn, items, workers):
    """``map(fn, items)`` evaluated by ``workers`` threads, results yielded in input order.

    numpy and scipy.sparse release the GIL inside their loops, so chunks of vectorised work run
    in parallel.  The caller combines the results in input order, so every floating-point sum
    is done in the same order as with ``workers=1``: the output does not depend on ``workers``
    (bit for bit).  At most ``2 * workers`` results wait in memory.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as ex:
        pending = deque()
        for item in items:
            pending.append(ex.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _check_l(l):
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)):
        raise ConfigError(f"l must be an even integer 0..{L_MAX}, got {l!r}")
    l = int(l)
    if l < 0 or l > L_MAX or l % 2:
        raise ConfigError(f"l must be an even integer 0..{L_MAX}, got {l}")
    return l


def _check_coords(coords):
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {coords.shape}")
    return coords


def _check_bonds(bonds, n):
    bonds = np.asarray(bonds)
    if bonds.size == 0:
        return np.zeros((0, 2), np.int64)
    if bonds.ndim != 2 or bonds.shape[1] != 2:
        raise ValueError(f"bonds must have shape (B, 2), got {bonds.shape}")
    if not np.issubdtype(bonds.dtype, np.integer):
        raise ValueError(f"bonds must be integers, got dtype {bonds.dtype}")
    bonds = np.ascontiguousarray(bonds, dtype=np.int64)
    if bonds.min() < 0 or bonds.max() >= n:
        raise ValueError(f"bond indices must be in [0, {n}), got [{bonds.min()}, {bonds.max()}]")
    return bonds


def _check_qlm(qlm):
    qlm = np.asarray(qlm)
    if qlm.ndim != 2 or qlm.shape[1] % 2 != 1:
        raise ValueError(f"qlm must have shape (N, 2l+1), got {qlm.shape}")
    l = _check_l((qlm.shape[1] - 1) // 2)
    return np.ascontiguousarray(qlm, dtype=np.complex128), l


def _bond_counts(n, bonds):
    return np.bincount(bonds.ravel(), minlength=n).astype(np.int64)


# --------------------------------------------------------------------------------------------
# spherical harmonics
# --------------------------------------------------------------------------------------------
@cache
def _legendre_coefficients(lmax):
    """Coefficients of the recurrence for P~_l^m(z) = Pbar_l^m(z) / sin(theta)^m.

    Pbar_l^m is the associated Legendre function normalised so that
    Y_lm(theta, phi) = Pbar_l^m(cos theta) exp(i m phi) (orthonormal, Condon-Shortley phase).
    Starting value P~_m^m = (-1)^m (2m-1)!! sqrt((2m+1) / (4 pi (2m)!)) (a constant),
    P~_{m+1}^m = sqrt(2m+3) z P~_m^m,
    P~_l^m = a_lm (z P~_{l-1}^m - b_lm P~_{l-2}^m),
    a_lm = sqrt((4l^2-1)/(l^2-m^2)), b_lm = sqrt(((l-1)^2-m^2)/(4(l-1)^2-1)).
    """
    diag = np.empty(lmax + 1)
    diag[0] = math.sqrt(1.0 / _FOUR_PI)
    for m in range(1, lmax + 1):
        diag[m] = -math.sqrt((2 * m + 1) / (2 * m)) * diag[m - 1]
    a = np.zeros((lmax + 1, lmax + 1))
    ab = np.zeros((lmax + 1, lmax + 1))
    for m in range(lmax + 1):
        for l in range(m + 2, lmax + 1):
            a[l, m] = math.sqrt((4 * l * l - 1) / (l * l - m * m))
            ab[l, m] = a[l, m] * math.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1))
    return diag, a, ab


def _unit(vectors):
    """Unit vectors; a zero vector becomes (0, 0, 1) (pyboo: theta = phi = 0)."""
    r = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    zero = r == 0.0
    if zero.any():
        vectors = vectors.copy()
        vectors[zero] = (0.0, 0.0, 1.0)
        r[zero] = 1.0
    return vectors / r[:, None]


def _ylm_half_into(u, ls, outs):
    """Write Y_lm(u), m = 0..l, for unit vectors u (n, 3) into outs[l] (n, 2(l+1)) float64.

    Column 2m holds Re Y_lm, column 2m+1 holds Im Y_lm.  Uses Y_lm = P~_l^m(z) (x + i y)^m,
    no trigonometric function, vectorised in blocks that stay in cache.
    """
    lmax = max(ls)
    diag, a, ab = _legendre_coefficients(lmax)
    want = {l: outs[l] for l in ls}
    n = len(u)
    for s0 in range(0, n, _SUB):
        s1 = min(n, s0 + _SUB)
        block = u[s0:s1]
        z = np.ascontiguousarray(block[:, 2])
        w = np.empty(s1 - s0, np.complex128)  # x + i y
        wf = w.view(np.float64)
        wf[0::2] = block[:, 0]
        wf[1::2] = block[:, 1]
        wm = wmf = None  # (x + i y)^m: one complex product per m
        for m in range(lmax + 1):
            if m == 1:
                wm = w
            elif m > 1:
                wm = wm * w
            if m:
                wmf = wm.view(np.float64)
            p_prev = 0.0
            p = diag[m]  # degree l = m: a constant
            for l in range(m, lmax + 1):
                if l == m + 1:
                    p_prev, p = p, (math.sqrt(2 * m + 3) * p) * z
                elif l > m + 1:
                    t = z * p
                    t *= a[l, m]
                    t -= ab[l, m] * p_prev
                    p_prev, p = p, t
                if l in want:
                    out = want[l]
                    if m == 0:
                        out[s0:s1, 0] = p
                        out[s0:s1, 1] = 0.0
                    else:
                        np.multiply(wmf[0::2], p, out=out[s0:s1, 2 * m])
                        np.multiply(wmf[1::2], p, out=out[s0:s1, 2 * m + 1])


def _half_to_full(half, l):
    """(n, l+1) complex m >= 0 -> (n, 2l+1) complex m = -l..l using q_{l,-m} = (-1)^m q_lm*."""
    full = np.empty((half.shape[0], 2 * l + 1), np.complex128)
    full[:, l:] = half
    for m in range(1, l + 1):
        full[:, l - m] = np.conj(half[:, m]) if m % 2 == 0 else -np.conj(half[:, m])
    return full


def spherical_harmonics(vectors, l):
    r"""Spherical harmonics :math:`Y_{\ell m}(\hat v)` of the directions of ``vectors``.

    Orthonormal spherical harmonics with the Condon-Shortley phase, identical to
    ``scipy.special.sph_harm_y(l, m, theta, phi)`` with ``theta`` the polar angle of ``v`` and
    ``phi`` its azimuth (and to the old ``scipy.special.sph_harm(m, l, phi, theta)`` used by
    pyboo).  Computed as :math:`Y_{\ell m} = \tilde P_\ell^m(z)\,(x+iy)^m` with a forward
    column recurrence for the normalised associated Legendre functions divided by
    :math:`\sin^m\theta` (Holmes & Featherstone, J. Geodesy 76, 279 (2002)), and
    :math:`Y_{\ell,-m} = (-1)^m Y_{\ell m}^*`.  Accuracy ~1e-15 for ``l <= 12``.

    Parameters
    ----------
    vectors : (n, 3) array of float
        Any length (Angstrom or unitless); only the direction matters.  A zero vector is
        treated as the +z direction (pyboo's behaviour).
    l : int
        Even degree, ``0 <= l <= 12``.

    Returns
    -------
    (n, 2l+1) complex128 array, columns ``m = -l..l``.
    """
    l = _check_l(l)
    v = _check_coords(vectors)
    out = np.empty((len(v), 2 * (l + 1)))
    if len(v):
        _ylm_half_into(_unit(v), (l,), {l: out})
    return _half_to_full(out.view(np.complex128), l)


# --------------------------------------------------------------------------------------------
# sums over bonds onto atoms, segment of atoms by segment of atoms
# --------------------------------------------------------------------------------------------
_SEG_MIN = 1 << 12  # atoms per segment (a power of two): at least ...
_SEG_MAX = 1 << 17  # ... at most ...
_SEG_PARTS = 16  # ... and otherwise about N / _SEG_PARTS


def _segments(n):
    """Atom ranges ``[a, b)`` covering atoms 0 .. n-1 in order.

    Their size depends on N only, never on the number of threads: every sum is done in the same
    order for any ``workers``, so the results are bit-for-bit the same.  It is a power of two
    (the smallest >= N / _SEG_PARTS, within _SEG_MIN .. _SEG_MAX), so that a ring of segment
    slots (:func:`_boo_streamed`) is addressed with a bit mask.
    """
    size = _segment_size(n)
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _segment_size(n):
    """Atoms per segment of :func:`_segments` (a power of two)."""
    size = 1 << (max(_SEG_MIN, -(-n // _SEG_PARTS), 1) - 1).bit_length()
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


def _sorted_bonds(bonds, n, new=None):
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


class _Plan:
    """Bonds sorted by their low end (:func:`_sorted_bonds`), split by the segments of atoms
    (:func:`_segments`).

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
        self.segs = _segments(n)
        self.size = _segment_size(n)
        low = bonds[:, 0]
        self.own = [bisect.bisect_left(low, a) for a, _ in self.segs] + [len(bonds)]
        hi_of = [int(bonds[c : c + _CHUNK, 1].max()) for c in range(0, len(bonds), _CHUNK)]
        self.reach = np.maximum.accumulate(np.array(hi_of, np.int64))
        self._incoming = {}

    def incoming(self, k):
        """(K, 2) bonds with the low end before segment k and the high end in it, in order."""
        if k not in self._incoming:
            a, b = self.segs[k]
            c0 = int(np.searchsorted(self.reach, a))  # first chunk with a high end >= a
            cand = self.bonds[c0 * _CHUNK : self.own[k]]
            high = cand[:, 1]
            self._incoming[k] = cand[(high >= a) & (high < b)]
        return self._incoming[k]

    def run(self, fn, workers):
        """``fn(k, a, b)`` for every segment, in ``workers`` threads."""
        for _ in _ordered_map(lambda k: fn(k, *self.segs[k]), range(len(self.segs)), workers):
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
    if _CSC_MATVECS is not None:
        _CSC_MATVECS(len(out), len(values), k, indptr, rows, data, values.reshape(-1),
                     out.reshape(-1))
        return
    import scipy.sparse as sp

    out += sp.csc_matrix((data, rows, indptr), shape=(len(out), len(values))) @ values


def _gather_add(out, rows, cols, values):
    """``out[rows[e]] += values[cols[e]]`` for every entry e, in order: a COO product
    accumulated in place by scipy's compiled kernel (``coo_matmat_dense``; gather and scatter in
    one pass, no temporary); the public product where the private kernel is missing."""
    data = np.ones(len(rows))
    if _COO_MATMAT is not None:
        _COO_MATMAT(len(rows), values.shape[1], rows, cols, data, values.reshape(-1),
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


_CSC_MATVECS = _sparsetools("csc_matvecs")
_COO_MATMAT = _sparsetools("coo_matmat_dense")


def _columns(ls):
    """Column slices of every l in the side-by-side (N, C) float layout, and C."""
    cols, c0 = {}, 0
    for l in ls:
        cols[l] = slice(c0, c0 + 2 * (l + 1))
        c0 += 2 * (l + 1)
    return cols, c0


def _qlm_segment(coords, plan, k, out, ls, cols, ybuf):
    """Sums of Y_lm over the bonds of segment k's atoms (not yet divided by N_i) into ``out``
    (b - a, C) float64, zeroed first.

    Per block of bonds: bond vectors, unit vectors and Y_lm of all l (temporaries that stay in
    cache, ``ybuf`` (_SUB, C)), added to the ends inside the segment (:func:`_scatter_add`): own
    bonds to both ends (the high one where inside), incoming bonds to their high end.  The Y_lm
    of an incoming bond is computed again here (the same value, bit for bit).
    """
    a, b = plan.segs[k]
    out.fill(0.0)

    def ylm_of(block):
        v = coords[block[:, 1]]
        v -= coords[block[:, 0]]
        ylm = ybuf[: len(block)]
        _ylm_half_into(_unit(v), ls, {l: ylm[:, cols[l]] for l in ls})
        return ylm

    p0, p1 = plan.own[k], plan.own[k + 1]
    for s0 in range(p0, p1, _SUB):
        block = plan.bonds[s0 : min(p1, s0 + _SUB)]
        rows, per_bond, _ = _entries(block, a, b)
        _scatter_add(out, rows, per_bond, ylm_of(block))
    incoming = plan.incoming(k)
    for s0 in range(0, len(incoming), _SUB):
        block = incoming[s0 : s0 + _SUB]
        _scatter_add(out, block[:, 1] - a, 1, ylm_of(block))


def _neighbour_segment(fv, plan, k, acc, ring=None):
    """Sums over each atom's bonded neighbours of their rows of ``fv`` for segment k's atoms,
    into ``acc`` (b - a, k) float64, zeroed first.  Atom r's row is ``fv[r]``, or
    ``fv[r & (ring - 1)]`` when ``fv`` is a ring of ``ring`` rows, a power of two
    (:func:`_boo_streamed`).

    Per chunk of own bonds atom i gets row j and atom j (if inside) row i, then the incoming
    bonds give their high end the low end's row (:func:`_gather_add`).
    """
    a, b = plan.segs[k]
    acc.fill(0.0)
    p0, p1 = plan.own[k], plan.own[k + 1]
    for c0 in range(p0, p1, _CHUNK):
        block = plan.bonds[c0 : min(p1, c0 + _CHUNK)]
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


def _qlm_f(coords, plan, ls, cn, workers=1):
    """(F, cols): q_lm, m = 0..l, of every l side by side in one (N, C) float64 array.

    ``F[:, cols[l]]`` holds Re q_l0, Im q_l0, Re q_l1, ... (pyboo's ``bonds2qlm``); segment by
    segment of atoms (:func:`_qlm_segment`), in threads.
    """
    import threading

    cols, c0 = _columns(ls)
    f = np.empty((plan.n, c0))
    inv = 1.0 / np.maximum(cn, 1)
    local = threading.local()  # one Y_lm block buffer per thread

    def segment(k, a, b):
        if getattr(local, "ylm", None) is None:
            local.ylm = np.empty((_SUB, c0))
        _qlm_segment(coords, plan, k, f[a:b], ls, cols, local.ylm)
        f[a:b] *= inv[a:b, None]

    plan.run(segment, workers)
    return f, cols


def _neighbour_mean(fv, plan, cn, workers=1):
    """Mean over each atom's bonded neighbours of the rows of ``fv`` (N, k) float64 (0 without
    bonds), segment by segment of atoms (:func:`_neighbour_segment`), in threads."""
    fv = np.ascontiguousarray(fv)
    inv = 1.0 / np.maximum(cn, 1)
    result = np.empty(fv.shape)

    def segment(k, a, b):
        _neighbour_segment(fv, plan, k, result[a:b])
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


def _ring_of(plan):
    """``(lo, hi, slots, ring)`` of :func:`_boo_streamed`: per segment k the first and last
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


def _boo_streamed(coords, plan, ls, products, cn, workers, qs, on_q, on_coarse):
    """q_lm, Q_lm and s_l of every bond, streamed segment by segment of atoms through a ring of
    q_lm rows: ``(s, cols)``, s a dict of (B,) arrays for every l of ``products``.

    Task A(k) computes the q_lm rows of segment k (:func:`_qlm_segment`) into its slot of the
    ring, its q_l into ``qs[l][a:b]`` (``qs``: (N,) arrays for every l of ``ls`` and
    ``products``) and calls ``on_q(a, b, rows, cols)``.  Task B(k) takes s_l of segment k's own
    bonds (:func:`_bond_product_block`) and the mean Q_lm of its atoms
    (:func:`_neighbour_segment`), then calls ``on_coarse(a, b, rows, cols)``.

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
    cols, c0 = _columns(need)
    nseg = len(plan.segs)
    lo, hi, slots, ring = _ring_of(plan)
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
            local.ylm = np.empty((_SUB, c0))
        a, b = plan.segs[k]
        rows = rows_of(k)
        _qlm_segment(coords, plan, k, rows, need, cols, local.ylm)
        rows *= inv[a:b, None]
        for l in need:
            qs[l][a:b] = _ql_f(rows[:, cols[l]])
        on_q(a, b, rows, cols)

    def task_b(k):
        a, b = plan.segs[k]
        p0, p1 = plan.own[k], plan.own[k + 1]
        for b0 in range(p0, p1, _SUB):
            b1 = min(p1, b0 + _SUB)
            _bond_product_block(f, pcols, bonds[b0:b1], ring, qs, s, b0, b1)
        if getattr(local, "acc", None) is None or len(local.acc) < b - a:
            local.acc = np.empty((plan.size, c0))
        acc = local.acc[: b - a]
        _neighbour_segment(f, plan, k, acc, ring)
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


# --------------------------------------------------------------------------------------------
# invariants on the m >= 0 half
# --------------------------------------------------------------------------------------------
def _ql_f(f):
    """q_l from the m >= 0 half in float layout (n, 2(l+1)) (any row stride)."""
    l = f.shape[1] // 2 - 1
    s = np.einsum("ij,ij->i", f[:, 2:], f[:, 2:]) * 2.0 + f[:, 0] ** 2 + f[:, 1] ** 2
    return np.sqrt(_FOUR_PI / (2 * l + 1) * s)


@cache
def _wl_terms(l):
    """Distinct terms of w_l: tuples (m1, m2, m3, weight, signs), m1 <= m2 <= m3, sum 0.

    Each unordered triple stands for its distinct orderings (``n_perm`` = 1, 3 or 6: for even
    l the symbol (l l l; m1 m2 m3) is invariant under column permutations) and, when different,
    for its negation (-m3, -m2, -m1), whose term has the same real part (the 3j symbol is
    invariant under m -> -m for even l, and q_{-m} = (-1)^m q_m* makes the product the complex
    conjugate).  weight = 3j x n_perm x (2 if the negation is distinct) x (-1)^m for each
    negative odd m; signs[k] = -1 when m_k < 0 (the imaginary part of q_{m_k} flips).
    """
    terms = []
    for m1 in range(-l, l + 1):
        for m2 in range(m1, l + 1):
            m3 = -m1 - m2
            if m3 < m2 or m3 > l:
                continue
            neg = (-m3, -m2, -m1)
            if neg < (m1, m2, m3):
                continue  # counted with its negation
            n_perm = 6 if (m1 != m2 and m2 != m3) else (1 if m1 == m3 else 3)
            factor = n_perm * (1 if neg == (m1, m2, m3) else 2)
            w = wigner3j(l, l, l, m1, m2, m3) * factor
            # q_{-m} = (-1)^m conj(q_m): fold (-1)^m into the weight, conj into the signs
            for m in (m1, m2, m3):
                if m < 0 and m % 2:
                    w = -w
            signs = tuple(-1 if m < 0 else 1 for m in (m1, m2, m3))
            if w != 0.0:
                terms.append((m1, m2, m3, w, signs))
    return tuple(terms)


def _wl_f(f):
    """w_l from the m >= 0 half in float layout (n, 2(l+1)), in blocks of atoms that stay in
    cache, real arithmetic.

    With q_m = a_m + i b_m for m >= 0 and q_{-m} = (-1)^m (a_m - i b_m), the sign (-1)^m is in
    the term's weight and the conjugation in its signs (sigma_k = -1 for negative m_k):
    Re(q_1 q_2 q_3) = a1 (a2 a3 - s2 s3 b2 b3) - s1 b1 (s3 a2 b3 + s2 b2 a3).
    """
    l = f.shape[1] // 2 - 1
    n = f.shape[0]
    w = np.zeros(n)
    terms = _wl_terms(l)
    for b0 in range(0, n, _SUB):
        _wl_block(f, w, b0, min(n, b0 + _SUB), terms)
    return w


def _wl_block(f, w, b0, b1, terms):
    """Adds the terms of w_l of atoms b0 .. b1 - 1 to w (see :func:`_wl_f`)."""
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


#: q_l below this is treated as exactly 0 by the normalised bond product: a vanishing q_l (e.g.
#: q_4 of an icosahedral or fcc-with-second-shell environment) is 0 up to round-off, and the
#: 0/0 ratio would be round-off noise that changes with the particle's orientation.
Q_ZERO = 1e-10


def _bond_product_block(f, cols, bonds, ring, qs, out, b0, b1):
    """Normalised s_l of bonds b0 .. b1 - 1 (``bonds``) into ``out[l][b0:b1]`` for every l of
    ``cols`` (0 where q_i or q_j is below Q_ZERO).

    ``f`` holds the q_lm rows in the float layout of :func:`_qlm_f` (atom r in row r, or
    ``r & (ring - 1)`` for a ring, :func:`_boo_streamed`); one gather of both ends' columns serves
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
        dot *= _FOUR_PI / (2 * l + 1)
        qi, qj = qs[l][i], qs[l][j]
        out[l][b0:b1] = 0.0
        np.divide(dot, qi * qj, out=out[l][b0:b1], where=(qi > Q_ZERO) & (qj > Q_ZERO))


def _normalise_products(s, q, bonds):
    qi, qj = q[bonds[:, 0]], q[bonds[:, 1]]
    den = qi * qj
    ok = (qi > Q_ZERO) & (qj > Q_ZERO)
    out = np.zeros_like(s)
    np.divide(s, den, out=out, where=ok)
    return out


def _mean_over_bonds(n, bonds, values, cn):
    from nanotraj.bonds import bond_sums

    (tot,) = bond_sums(n, bonds, values)
    return tot / np.maximum(cn, 1)


def _crystalline_from_s(n, bonds, s, cn, threshold):
    """Solid-like bonds per atom (s > threshold) against ceil(cn/2 + 0.01)."""
    from nanotraj.bonds import bond_counts_where

    return bond_counts_where(n, bonds, s > threshold) >= np.ceil(cn / 2 + 0.01)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def bond_qlm(coords, bonds, l):
    r"""Bond-orientational order tensor :math:`q_{\ell m}(i)` of every atom.

    .. math:: q_{\ell m}(i) = \frac{1}{N_i}\sum_{j\in b(i)} Y_{\ell m}(\hat r_{ij}),
              \qquad \hat r_{ij} = \frac{r_j - r_i}{|r_j - r_i|}

    Steinhardt, Nelson & Ronchetti, Phys. Rev. B 28, 784 (1983); pyboo's ``bonds2qlm``
    (Leocmach, doi:10.5281/zenodo.1066568).  For even ``l`` the bond direction sign does not
    matter.

    Parameters
    ----------
    coords : (N, 3) float array, Angstrom.
    bonds : (B, 2) int array, each bonded pair once (order inside a pair irrelevant).
        Duplicated pairs count twice, as in pyboo.  Zero-length bonds point along +z.
    l : even int, ``0 <= l <= 12``.

    Returns
    -------
    (N, 2l+1) complex128, columns ``m = -l..l``; a row of zeros for an atom without bonds.
    """
    l = _check_l(l)
    coords = _check_coords(coords)
    bonds = _check_bonds(bonds, len(coords))
    cn = _bond_counts(len(coords), bonds)
    f, _ = _qlm_f(coords, _Plan(_sorted_bonds(bonds, len(coords))[0], len(coords)), (l,), cn)
    return _half_to_full(f.view(np.complex128), l)


def ql(qlm):
    r"""Second-order rotational invariant :math:`q_\ell` of ``qlm`` (per atom).

    .. math:: q_\ell = \sqrt{\frac{4\pi}{2\ell+1}\sum_{m=-\ell}^{\ell}|q_{\ell m}|^2}

    Steinhardt et al., Phys. Rev. B 28, 784 (1983); pyboo ``ql``.  Applied to the coarse-grained
    :math:`Q_{\ell m}` (:func:`coarse_grain`) it gives :math:`Q_\ell`.

    Parameters
    ----------
    qlm : (N, 2l+1) complex, columns ``m = -l..l``.

    Returns
    -------
    (N,) float64 in [0, 1]; 0 for an atom without bonds (zero row).
    """
    qlm, l = _check_qlm(qlm)
    f = qlm.view(np.float64)
    return np.sqrt(_FOUR_PI / (2 * l + 1) * np.einsum("ij,ij->i", f, f))


def wl(qlm):
    r"""Third-order rotational invariant :math:`w_\ell` (NOT normalised, pyboo's ``wl``).

    .. math:: w_\ell = \sum_{m_1+m_2+m_3=0}
              \begin{pmatrix}\ell&\ell&\ell\\ m_1&m_2&m_3\end{pmatrix}
              q_{\ell m_1} q_{\ell m_2} q_{\ell m_3}

    with Wigner 3j symbols from :func:`wigner3j`.  Steinhardt et al., Phys. Rev. B 28, 784 (1983)
    define the normalised :math:`\hat w_\ell = w_\ell / (\sum_m |q_{\ell m}|^2)^{3/2}`
    = ``w / (sqrt((2l+1)/(4 pi)) * q)**3``; pyboo (and this function) return the unnormalised
    value, e.g. perfect FCC: :math:`w_6 = -0.002626` (:math:`\hat w_6 = -0.013161`).

    Parameters
    ----------
    qlm : (N, 2l+1) complex, columns ``m = -l..l``, with ``q_{l,-m} = (-1)^m conj(q_lm)``
        (true for every output of :func:`bond_qlm` and :func:`coarse_grain`; only the
        ``m >= 0`` columns are read, as in pyboo).

    Returns
    -------
    (N,) float64; 0 for an atom without bonds.
    """
    qlm, l = _check_qlm(qlm)
    return _wl_f(np.ascontiguousarray(qlm[:, l:]).view(np.float64))


def coarse_grain(qlm, bonds):
    r"""Coarse-grained :math:`Q_{\ell m}(i)`: the mean ``qlm`` of atom ``i``'s bonded neighbours.

    .. math:: Q_{\ell m}(i) = \frac{1}{N_i}\sum_{j \in b(i)} q_{\ell m}(j)

    This is pyboo's ``coarsegrain_qlm`` with every atom "inside": the atom's own
    :math:`q_{\ell m}(i)` is **not** included.  Lechner & Dellago, J. Chem. Phys. 129, 114707
    (2008) include it (:math:`\frac{1}{N_i+1}(q_{\ell m}(i)+\sum_j q_{\ell m}(j))`, as does
    freud's ``average=True``); the published analysis (and so nanotraj) follows pyboo's code.

    Parameters
    ----------
    qlm : (N, k) complex (normally (N, 2l+1) from :func:`bond_qlm`; any k works, it is linear).
    bonds : (B, 2) int array, each pair once.

    Returns
    -------
    (N, k) complex128; a zero row for an atom without bonds.
    """
    qlm = np.asarray(qlm)
    if qlm.ndim != 2:
        raise ValueError(f"qlm must have shape (N, k), got {qlm.shape}")
    qlm = np.ascontiguousarray(qlm, dtype=np.complex128)
    n = len(qlm)
    bonds = _check_bonds(bonds, n)
    plan = _Plan(_sorted_bonds(bonds, n)[0], n)
    return _neighbour_mean(qlm.view(np.float64), plan, _bond_counts(n, bonds)).view(np.complex128)


def bond_product(qlm, bonds):
    r"""Normalised bond product :math:`s_\ell(i,j)` for every bond.

    .. math:: s_\ell(i,j) = \frac{4\pi}{2\ell+1}
              \frac{\mathrm{Re}\sum_{m=-\ell}^{\ell} q_{\ell m}(i)\,q^*_{\ell m}(j)}
                   {q_\ell(i)\,q_\ell(j)} \in [-1, 1]

    ten Wolde, Ruiz-Montero & Frenkel, J. Chem. Phys. 104, 9932 (1996); pyboo's
    ``bond_normed_product``.  When :math:`q_\ell(i)` or :math:`q_\ell(j)` vanishes (below
    :data:`Q_ZERO` = 1e-10) pyboo returns NaN or round-off noise (0/0); here the value is defined
    as **0** (no orientational correlation), which only matters for degenerate environments
    (e.g. ``q_4`` of a perfect icosahedron is 0) and keeps s_l rotation invariant.

    Parameters
    ----------
    qlm : (N, 2l+1) complex, columns ``m = -l..l``.
    bonds : (B, 2) int array.

    Returns
    -------
    (B,) float64, in the order of ``bonds``.
    """
    qlm, l = _check_qlm(qlm)
    bonds = _check_bonds(bonds, len(qlm))
    f = qlm.view(np.float64)
    s = np.empty(len(bonds))
    for b0 in range(0, len(bonds), _CHUNK):
        chunk = bonds[b0 : b0 + _CHUNK]
        s[b0 : b0 + len(chunk)] = np.einsum("ij,ij->i", f[chunk[:, 0]], f[chunk[:, 1]])
    s *= _FOUR_PI / (2 * l + 1)
    return _normalise_products(s, ql(qlm), bonds)


def crystallinity(qlm, bonds):
    r"""Crystallinity :math:`C_\ell(i)`: mean normalised bond product over atom ``i``'s bonds.

    .. math:: C_\ell(i) = \frac{1}{N_i}\sum_{j\in b(i)} s_\ell(i,j)

    Russo & Tanaka, Sci. Rep. 2, 505 (2012); pyboo ``crystallinity``.  ``s_l`` from
    :func:`bond_product` (0 for a bond with a zero ``q_l`` at either end).

    Parameters
    ----------
    qlm : (N, 2l+1) complex.
    bonds : (B, 2) int array.

    Returns
    -------
    (N,) float64 in [-1, 1]; 0 for an atom without bonds.
    """
    qlm, _ = _check_qlm(qlm)
    bonds = _check_bonds(bonds, len(qlm))
    s = bond_product(qlm, bonds)
    return _mean_over_bonds(len(qlm), bonds, s, _bond_counts(len(qlm), bonds))


def crystalline(qlm, bonds, threshold=0.8):
    r"""Crystalline atoms: at least ``ceil(N_i/2 + 0.01)`` bonds with :math:`s_\ell > ` threshold.

    A bond is crystalline when its normalised product (:func:`bond_product`, normally of
    ``q_6``) exceeds ``threshold`` (strictly); an atom is crystalline when more than half of its
    ``N_i`` bonds are, i.e. at least ``ceil(N_i/2 + 0.01)`` of them (ten Wolde, Ruiz-Montero &
    Frenkel, J. Chem. Phys. 104, 9932 (1996); pyboo ``x_particles(qlm, bonds, value_thr,
    nb_thr=ceil(N_i/2 + 0.01))`` as in the published analysis).

    Parameters
    ----------
    qlm : (N, 2l+1) complex (``l = 6`` in nanotraj).
    bonds : (B, 2) int array.
    threshold : float, dimensionless, default 0.8.

    Returns
    -------
    (N,) bool; False for an atom without bonds.
    """
    qlm, _ = _check_qlm(qlm)
    bonds = _check_bonds(bonds, len(qlm))
    s = bond_product(qlm, bonds)
    return _crystalline_from_s(len(qlm), bonds, s, _bond_counts(len(qlm), bonds), threshold)


def wigner3j(l1, l2, l3, m1, m2, m3):
    r"""Wigner 3j symbol :math:`\begin{pmatrix}l_1&l_2&l_3\\m_1&m_2&m_3\end{pmatrix}`.

    Computed (not tabulated) with Racah's formula (G. Racah, Phys. Rev. 62, 438 (1942);
    DLMF §34.2) in exact rational arithmetic (integer factorials, ``fractions.Fraction``); only
    the final square root is rounded, so the result is within ~1 ulp.  Results are cached.

    .. math:: (-1)^{l_1-l_2-m_3}\sqrt{\Delta\,\prod_i (l_i+m_i)!(l_i-m_i)!}\;
              \sum_k \frac{(-1)^k}{k!\,(l_3-l_2+k+m_1)!\,(l_3-l_1+k-m_2)!\,
              (l_1+l_2-l_3-k)!\,(l_1-k-m_1)!\,(l_2-k+m_2)!}

    with :math:`\Delta = \frac{(l_1+l_2-l_3)!(l_1-l_2+l_3)!(-l_1+l_2+l_3)!}{(l_1+l_2+l_3+1)!}`.

    Parameters
    ----------
    l1, l2, l3, m1, m2, m3 : integers or half-integers (e.g. 0.5).

    Returns
    -------
    float; 0.0 when a selection rule is violated (m1+m2+m3 != 0, |m_i| > l_i, triangle rule).
    """
    two = []
    for x in (l1, l2, l3, m1, m2, m3):
        t = Fraction(x) * 2
        if t.denominator != 1:
            raise ValueError(f"wigner3j arguments must be integers or half-integers, got {x!r}")
        two.append(int(t))
    return _wigner3j_twice(*two)


@cache
def _wigner3j_twice(tj1, tj2, tj3, tm1, tm2, tm3):
    """3j symbol from doubled arguments (exact arithmetic)."""
    if min(tj1, tj2, tj3) < 0:
        return 0.0
    if tm1 + tm2 + tm3 != 0:
        return 0.0
    for tj, tm in ((tj1, tm1), (tj2, tm2), (tj3, tm3)):
        if abs(tm) > tj or (tj + tm) % 2:
            return 0.0
    if (tj1 + tj2 + tj3) % 2 or tj3 > tj1 + tj2 or tj3 < abs(tj1 - tj2):
        return 0.0
    j1p, j1m = (tj1 + tm1) // 2, (tj1 - tm1) // 2
    j2p, j2m = (tj2 + tm2) // 2, (tj2 - tm2) // 2
    j3p, j3m = (tj3 + tm3) // 2, (tj3 - tm3) // 2
    a = (tj1 + tj2 - tj3) // 2  # j1 + j2 - j3
    b = (tj1 - tj2 + tj3) // 2  # j1 - j2 + j3
    c = (-tj1 + tj2 + tj3) // 2  # -j1 + j2 + j3
    big = (tj1 + tj2 + tj3) // 2 + 1  # j1 + j2 + j3 + 1
    f = math.factorial
    # k-independent factorial arguments of the Racah sum
    d1 = (tj3 - tj2 + tm1) // 2  # j3 - j2 + m1
    d2 = (tj3 - tj1 - tm2) // 2  # j3 - j1 - m2
    e1 = (tj1 - tm1) // 2  # j1 - m1
    e2 = (tj2 + tm2) // 2  # j2 + m2
    kmin = max(0, -d1, -d2)
    kmax = min(a, e1, e2)
    total = Fraction(0)
    for k in range(kmin, kmax + 1):
        den = f(k) * f(d1 + k) * f(d2 + k) * f(a - k) * f(e1 - k) * f(e2 - k)
        total += Fraction((-1) ** k, den)
    if total == 0:
        return 0.0
    square = Fraction(f(a) * f(b) * f(c), f(big))
    square *= f(j1p) * f(j1m) * f(j2p) * f(j2m) * f(j3p) * f(j3m)
    square *= total * total
    sign = -1.0 if (total < 0) else 1.0
    if ((tj1 - tj2 - tm3) // 2) % 2:
        sign = -sign
    return sign * math.sqrt(square)


def boo(coords, bonds, *, ls=(4, 6), threshold=0.8, engine="native", workers=1,
        products=None):
    r"""All bond-orientational order parameters of a frame, as in the published analysis.

    For every ``l`` in ``ls``: ``q_l``, ``w_l`` (unnormalised) of :func:`bond_qlm`;
    ``Q_l``, ``W_l`` of :func:`coarse_grain` (neighbours only, pyboo); ``C_l``
    (:func:`crystallinity`) and per-bond ``s_l`` (:func:`bond_product`); plus ``crystalline``
    from ``s_6`` (:func:`crystalline`; ``l = 6`` is computed for it even when not in ``ls``).
    References: Steinhardt, Nelson & Ronchetti, PRB 28, 784 (1983); Lechner & Dellago, JCP 129,
    114707 (2008) (pyboo's coarse-graining differs: the atom itself is excluded); ten Wolde,
    Ruiz-Montero & Frenkel, JCP 104, 9932 (1996); Leocmach, pyboo, doi:10.5281/zenodo.1066568.

    Parameters
    ----------
    coords : (N, 3) float array, Angstrom.
    bonds : (B, 2) int array, each bonded pair once.
    ls : iterable of even ints in 0..12, default (4, 6).
    threshold : float, the ``s_6`` value above which a bond is crystalline, default 0.8.
    engine : "native" (this module: numpy, and for frames of at least :data:`LARGE_BONDS`
        bonds the compiled kernels of :mod:`nanotraj._kernels`, equal to ~1e-15) or "pyboo"
        (calls ``import boo``, pyboo 1.0.0, which supports ``l <= 10`` only).  Raises
        :class:`nanotraj.errors.ConfigError` when pyboo is not importable (install recipe in
        the message, see :data:`PYBOO_INSTALL`) or for an unknown engine.
    workers : int, threads of the native engine (chunks of bonds and atoms; numpy,
        scipy.sparse and the kernels release the GIL).  Partial sums are combined in a fixed
        order, so the results are bit-for-bit the same for every ``workers``.  Default 1.
    products : iterable of even ints, or None (default: ``ls``)
        The degrees whose per-bond ``s_l`` and per-atom ``C_l`` are returned (the published
        analysis uses ``s_6`` and ``C_6`` only: ``products=(6,)`` skips the others' work and
        memory -- at 10^6 atoms each ``s_l`` is 6e6 values).

    Returns
    -------
    dict of numpy arrays.  Per atom (N,): ``"q{l}", "Q{l}", "w{l}", "W{l}"`` (float64) for each
    ``l`` of ``ls``, ``"C{l}"`` for each ``l`` of ``products`` and ``"crystalline"`` (bool).
    Per bond (B,), in the order of ``bonds``: ``"s{l}"`` for each ``l`` of ``products``.
    Atoms without bonds: q = Q = w = W = C = 0, crystalline False.
    """
    coords = _check_coords(coords)
    n = len(coords)
    bonds = _check_bonds(bonds, n)
    ls = tuple(dict.fromkeys(_check_l(l) for l in ls))
    products = ls if products is None else tuple(dict.fromkeys(_check_l(l) for l in products))
    if engine == "native":
        return _boo_native(coords, bonds, ls, float(threshold), max(1, int(workers)), products)
    if engine == "pyboo":
        return _boo_pyboo(coords, bonds, ls, float(threshold), products)
    raise ConfigError(f"unknown BOO engine {engine!r}; known: 'native', 'pyboo'")


#: Atoms are put in spatial order internally (:func:`_spatial_order`) when, on a frame of at
#: least _REORDER_MIN atoms, the typical chunk of bonds spans more than this fraction of them
#: and more than 8 times the atoms whose bonds it holds.
_REORDER_SPAN = 0.25
_REORDER_MIN = 20_000


def _spatial_order(coords, bonds):
    """A permutation putting the atoms in raster order of cells, or None if they are local.

    The sums over bonds run segment by segment of atoms (:class:`_Plan`): a bond whose ends
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
    starts = range(0, len(bonds), _CHUNK)
    spans = [int(np.ptp(bonds[b : b + _CHUNK])) for b in starts[:: max(1, len(starts) // 16)]]
    own = min(_CHUNK, len(bonds)) * n / len(bonds)  # ~ atoms whose bonds a chunk holds
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


#: frames with at least this many bonds (about 70,000 atoms of a metal particle) use the
#: compiled kernels (:mod:`nanotraj._kernels`, numba) for the BOO and the CNA; smaller frames
#: use the numpy paths and never import numba
LARGE_BONDS = 400_000


def compiled_kernels():
    """:mod:`nanotraj._kernels` (imports numba), or None when it cannot be loaded: numba is a
    pinned dependency, but a platform without it, or without any writable place for numba's
    cache, still runs the numpy paths."""
    try:
        from nanotraj import _kernels
    except (ImportError, OSError, RuntimeError):  # pragma: no cover - see the docstring
        return None
    return _kernels


def _kernels_for(n_bonds):
    """:func:`compiled_kernels` for a frame of ``n_bonds`` bonds, None below
    :data:`LARGE_BONDS` (small frames never import numba)."""
    return compiled_kernels() if n_bonds >= LARGE_BONDS else None


def _boo_native(coords, bonds, ls, threshold, workers=1, products=None):
    """The native engine.  Frames with many bonds go to the compiled kernels
    (:func:`_boo_compiled`) as they are (at 10^6 atoms in random order about twice as slow as
    in file order: ``benchmarks/bench_descriptors.py --shuffle``).  On the numpy path,
    atoms in a poor order (see :func:`_spatial_order`) are relabelled into a spatial order for
    the computation, bonds not sorted by their low end are sorted (:func:`_sorted_bonds`); the
    results are mapped back to the caller's atoms and bonds."""
    n = len(coords)
    if (kernels := _kernels_for(len(bonds))) is not None:
        return _boo_compiled(kernels, coords, bonds, ls, threshold, workers, products)
    perm = _spatial_order(coords, bonds)
    new = None
    if perm is not None:
        new = np.empty(n, np.int64)
        new[perm] = np.arange(n)  # new label of every atom
        coords = coords[perm]
    sorted_bonds, order = _sorted_bonds(bonds, n, new)
    res = _boo_native_ordered(coords, sorted_bonds, ls, threshold, workers, products)
    del sorted_bonds
    for k, value in res.items():
        if k.startswith("s"):  # per bond
            if order is not None:
                back = np.empty_like(value)
                back[order] = value  # sorted bond k is the caller's bond order[k]
                res[k] = back
        elif new is not None:
            res[k] = value[new]  # atom a has row new[a]
    return res


def _boo_native_ordered(coords, bonds, ls, threshold, workers=1, products=None):
    """:func:`_boo_native` on bonds sorted by their low end (:func:`_boo_streamed`)."""
    products = ls if products is None else products
    n = len(coords)
    plan = _Plan(bonds, n)
    cn = _bond_counts(n, bonds)
    with_6 = tuple(sorted(set(products) | {6}))  # s_6 gives the crystalline atoms
    qs = {l: np.empty(n) for l in set(ls) | set(with_6)}
    out = {}
    for l in ls:
        for p in ("w", "Q", "W"):
            out[f"{p}{l}"] = np.empty(n)

    def on_q(a, b, rows, cols):  # w_l of a finished segment, in its thread
        for l in ls:
            out[f"w{l}"][a:b] = _wl_f(rows[:, cols[l]])

    def on_coarse(a, b, rows, cols):  # Q_l, W_l of a segment's Q_lm (no (N, C) array of them)
        for l in ls:
            out[f"Q{l}"][a:b] = _ql_f(rows[:, cols[l]])
            out[f"W{l}"][a:b] = _wl_f(rows[:, cols[l]])

    ss, _ = _boo_streamed(coords, plan, ls, with_6, cn, workers, qs, on_q, on_coarse)
    out["crystalline"] = _crystalline_from_s(n, bonds, ss[6], cn, threshold)
    from nanotraj.bonds import bond_sums

    inv = 1.0 / np.maximum(cn, 1)
    for l, total in zip(products, bond_sums(n, bonds, *(ss[l] for l in products)),
                        strict=True):
        out[f"C{l}"] = total * inv
        out[f"s{l}"] = ss[l]
    for l in ls:
        out[f"q{l}"] = qs[l]
    return _ordered(out, ls, products)


def _boo_compiled(kernels, coords, bonds, ls, threshold, workers=1, products=None):
    """:func:`_boo_native` with the compiled kernels of :mod:`nanotraj._kernels`: q_lm of every
    atom into one (N, C) array (atoms in ranges, in threads), then Q_l and W_l from the mean of
    the neighbours' rows, then s_l bond by bond; the same formulas as the numpy path, summed in
    another order (tested to agree within 1e-12; ~1e-15 on the test frames)."""
    products = ls if products is None else products
    n = len(coords)
    need = tuple(sorted(set(ls) | set(products) | {6}))
    with_6 = tuple(sorted(set(products) | {6}))  # s_6 gives the crystalline atoms
    cols, c0 = _columns(need)
    lmax = max(need)
    diag, a_co, ab_co = _legendre_coefficients(lmax)
    col = np.full(lmax + 1, -1, np.int64)
    for l in need:
        col[l] = cols[l].start
    t_m, t_w, t_g, t_k, t_off = [], [], [], [], [0]  # the terms of w_l (_kernels._invariants)
    for l in need:
        for m1, m2, m3, weight, (s1, s2, s3) in _wl_terms(l):
            t_m.append((abs(m1), abs(m2), abs(m3)))
            t_w.append(weight)
            t_g.append(s2 * s3)
            t_k.append(s1 * s3)
        t_off.append(len(t_w))
    t_m = np.array(t_m, np.int64).reshape(-1, 3)
    t_w, t_g, t_k = (np.array(v, np.float64) for v in (t_w, t_g, t_k))
    t_off = np.array(t_off, np.int64)
    need_a = np.array(need, np.int64)
    k_of = {l: k for k, l in enumerate(need)}  # row of each l in q, w, big_q, big_w
    indptr, nbr, eid = kernels.csr(n, bonds)
    f = np.empty((n, c0))
    q = np.empty((len(need), n))
    w = np.empty((len(need), n))
    kernels.run_ranges(lambda a, b: kernels.qlm_range(
        coords, indptr, nbr, diag, a_co, ab_co, col, need_a, t_off, t_m, t_w, t_g, t_k, f, q, w,
        a, b), n, workers, kernels._CHUNK)
    big_q = np.empty((len(need), n))
    big_w = np.empty((len(need), n))
    kernels.run_ranges(lambda a, b: kernels.coarse_range(
        indptr, nbr, col, need_a, t_off, t_m, t_w, t_g, t_k, f, big_q, big_w, a, b), n, workers,
        kernels._CHUNK)
    nbr = None  # no longer needed (indptr and eid serve the per-atom passes below)
    pls = np.array(with_6, np.int64)
    pk = np.array([k_of[l] for l in with_6], np.int64)
    s = np.empty((len(with_6), len(bonds)))
    kernels.run_ranges(lambda a, b: kernels.products_range(
        bonds, col, pls, pk, f, q, Q_ZERO, s, a, b), len(bonds), workers, kernels._BOND_CHUNK)
    f = None
    out = {}
    for l in ls:
        k = k_of[l]
        out[f"q{l}"], out[f"w{l}"], out[f"Q{l}"], out[f"W{l}"] = q[k], w[k], big_q[k], big_w[k]
    crystalline = np.empty(n, bool)
    kernels.run_ranges(lambda a, b: kernels.crystalline_range(
        indptr, eid, s[with_6.index(6)], threshold, crystalline, a, b), n, workers,
        kernels._CHUNK)
    out["crystalline"] = crystalline
    rows = [with_6.index(l) for l in products]
    means = np.empty((len(products), n))
    if products:
        s_p = s if rows == list(range(len(with_6))) else np.ascontiguousarray(s[rows])
        kernels.run_ranges(lambda a, b: kernels.bond_means_range(indptr, eid, s_p, means, a, b),
                           n, workers, kernels._CHUNK)
    for p, l in enumerate(products):
        out[f"C{l}"] = means[p]
        out[f"s{l}"] = s[rows[p]]
    return _ordered(out, ls, products)


def _ordered(out, ls, products):
    keys = [f"{p}{l}" for p in ("q", "Q", "w", "W") for l in ls]
    keys += [f"C{l}" for l in products] + ["crystalline"] + [f"s{l}" for l in products]
    return {k: out[k] for k in keys}


def _import_pyboo():
    try:
        import boo as pyboo  # optional dependency
    except Exception as exc:  # ImportError, or pyboo 1.0.0 failing on scipy >= 1.17
        raise ConfigError(
            f"engine 'pyboo' needs pyboo 1.0.0 but 'import boo' failed ({type(exc).__name__}: "
            f"{exc}); pyboo 1.0.0 needs scipy < 1.17, install it in a separate virtual "
            f"environment: {PYBOO_INSTALL}"
        ) from exc
    return pyboo


def _boo_pyboo(coords, bonds, ls, threshold, products):
    import warnings

    with warnings.catch_warnings():
        # pyboo 1.0.0 calls scipy.special.sph_harm, deprecated since scipy 1.15
        warnings.simplefilter("ignore", DeprecationWarning)
        return _boo_pyboo_calls(coords, bonds, ls, threshold, products)


def _boo_pyboo_calls(coords, bonds, ls, threshold, products):
    pyboo = _import_pyboo()
    from boo.boo import product

    if max(ls + products) > 10:
        raise ConfigError("engine 'pyboo' supports l <= 10 only (pyboo's Wigner 3j table)")
    n = len(coords)
    cn = _bond_counts(n, bonds)
    inside = np.ones(n, bool)
    out = {}
    for l in sorted(set(ls) | set(products) | {6}):
        qlm = pyboo.bonds2qlm(coords, bonds, l=l)
        q = np.asarray(pyboo.ql(qlm), float)
        if len(bonds):
            s = _normalise_products(
                np.asarray(product(qlm[bonds[:, 0]], qlm[bonds[:, 1]]), float), q, bonds
            )
        else:
            s = np.zeros(0)
        if l == 6:
            out["crystalline"] = np.asarray(
                pyboo.x_particles(qlm, bonds, value_thr=threshold, nb_thr=np.ceil(cn / 2 + 0.01)),
                bool,
            )
        if l in ls:
            big, _ = pyboo.coarsegrain_qlm(qlm, bonds, inside)
            out[f"q{l}"] = q
            out[f"w{l}"] = np.asarray(pyboo.wl(qlm), float)
            out[f"Q{l}"] = np.asarray(pyboo.ql(big), float)
            out[f"W{l}"] = np.asarray(pyboo.wl(big), float)
        if l in products:
            out[f"C{l}"] = np.asarray(pyboo.crystallinity(qlm, bonds), float)
            out[f"s{l}"] = s
    return _ordered(out, ls, products)
