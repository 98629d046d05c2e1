"""The compiled engine of the bond-orientational order: glue between :func:`nanotraj.order.boo`
and the numba kernels of :mod:`nanotraj._kernels` (the same formulas as the numpy engine,
:mod:`nanotraj._boo_numpy`, summed atom by atom; tested to agree within 1e-12)."""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import numpy as np

from nanotraj._parallel import run_ranges
from nanotraj._sph import Q_ZERO, columns, legendre_coefficients, ordered_result, wl_terms


def boo_compiled(kernels, coords, bonds, ls, threshold, workers=1, products=None):
    """The BOO of :func:`nanotraj._boo_numpy.boo_numpy` with the compiled kernels of
    :mod:`nanotraj._kernels`: q_lm of every atom into one (N, C) array (atoms in ranges, in
    threads), then Q_l and W_l from the mean of the neighbours' rows, then s_l bond by bond;
    the same formulas as the numpy path, summed in another order (tested to agree within
    1e-12; ~1e-15 on the test frames)."""
    products = ls if products is None else products
    n = len(coords)
    need = tuple(sorted(set(ls) | set(products) | {6}))
    with_6 = tuple(sorted(set(products) | {6}))  # s_6 gives the crystalline atoms
    cols, c0 = columns(need)
    lmax = max(need)
    diag, a_co, ab_co = legendre_coefficients(lmax)
    col = np.full(lmax + 1, -1, np.int64)
    for l in need:
        col[l] = cols[l].start
    t_m, t_w, t_g, t_k, t_off = [], [], [], [], [0]  # the terms of w_l (_kernels._invariants)
    for l in need:
        for m1, m2, m3, weight, (s1, s2, s3) in wl_terms(l):
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
    run_ranges(lambda a, b: kernels.qlm_range(
        coords, indptr, nbr, diag, a_co, ab_co, col, need_a, t_off, t_m, t_w, t_g, t_k, f, q, w,
        a, b), n, workers, kernels.ATOM_CHUNK)
    big_q = np.empty((len(need), n))
    big_w = np.empty((len(need), n))
    run_ranges(lambda a, b: kernels.coarse_range(
        indptr, nbr, col, need_a, t_off, t_m, t_w, t_g, t_k, f, big_q, big_w, a, b), n, workers,
        kernels.ATOM_CHUNK)
    nbr = None  # no longer needed (indptr and eid serve the per-atom passes below)
    pls = np.array(with_6, np.int64)
    pk = np.array([k_of[l] for l in with_6], np.int64)
    s = np.empty((len(with_6), len(bonds)))
    run_ranges(lambda a, b: kernels.products_range(
        bonds, col, pls, pk, f, q, Q_ZERO, s, a, b), len(bonds), workers, kernels.BOND_CHUNK)
    f = None
    out = {}
    for l in ls:
        k = k_of[l]
        out[f"q{l}"], out[f"w{l}"], out[f"Q{l}"], out[f"W{l}"] = q[k], w[k], big_q[k], big_w[k]
    crystalline = np.empty(n, bool)
    run_ranges(lambda a, b: kernels.crystalline_range(
        indptr, eid, s[with_6.index(6)], threshold, crystalline, a, b), n, workers,
        kernels.ATOM_CHUNK)
    out["crystalline"] = crystalline
    rows = [with_6.index(l) for l in products]
    means = np.empty((len(products), n))
    if products:
        s_p = s if rows == list(range(len(with_6))) else np.ascontiguousarray(s[rows])
        run_ranges(lambda a, b: kernels.bond_means_range(indptr, eid, s_p, means, a, b),
                           n, workers, kernels.ATOM_CHUNK)
    for p, l in enumerate(products):
        out[f"C{l}"] = means[p]
        out[f"s{l}"] = s[rows[p]]
    return ordered_result(out, ls, products)
