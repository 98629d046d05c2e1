"""Spherical harmonics, Wigner 3j symbols and the shared checks of the BOO engines.

The mathematical building blocks used by the public formulas of :mod:`nanotraj.order` and by
its engines (:mod:`nanotraj._boo_numpy`, :mod:`nanotraj._boo_compiled`,
:mod:`nanotraj._boo_pyboo`).  Only numpy and the standard library are imported.
"""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

import numpy as np

from nanotraj.errors import ConfigError

#: Largest supported degree l.
L_MAX = 12


FOUR_PI = 4.0 * math.pi


SUB = 8192  # vectors per block of vectorised work (stays in cache)


#: q_l below this is treated as exactly 0 by the normalised bond product: a vanishing q_l (e.g.
#: q_4 of an icosahedral or fcc-with-second-shell environment) is 0 up to round-off, and the
#: 0/0 ratio would be round-off noise that changes with the particle's orientation.
Q_ZERO = 1e-10


def check_l(l):
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)):
        raise ConfigError(f"l must be an even integer 0..{L_MAX}, got {l!r}")
    l = int(l)
    if l < 0 or l > L_MAX or l % 2:
        raise ConfigError(f"l must be an even integer 0..{L_MAX}, got {l}")
    return l


def check_coords(coords):
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {coords.shape}")
    return coords


def check_bonds(bonds, n):
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


def check_qlm(qlm):
    qlm = np.asarray(qlm)
    if qlm.ndim != 2 or qlm.shape[1] % 2 != 1:
        raise ValueError(f"qlm must have shape (N, 2l+1), got {qlm.shape}")
    l = check_l((qlm.shape[1] - 1) // 2)
    return np.ascontiguousarray(qlm, dtype=np.complex128), l


def bond_counts(n, bonds):
    return np.bincount(bonds.ravel(), minlength=n).astype(np.int64)


@cache
def legendre_coefficients(lmax):
    """Coefficients of the recurrence for P~_l^m(z) = Pbar_l^m(z) / sin(theta)^m.

    Pbar_l^m is the associated Legendre function normalised so that
    Y_lm(theta, phi) = Pbar_l^m(cos theta) exp(i m phi) (orthonormal, Condon-Shortley phase).
    Starting value P~_m^m = (-1)^m (2m-1)!! sqrt((2m+1) / (4 pi (2m)!)) (a constant),
    P~_{m+1}^m = sqrt(2m+3) z P~_m^m,
    P~_l^m = a_lm (z P~_{l-1}^m - b_lm P~_{l-2}^m),
    a_lm = sqrt((4l^2-1)/(l^2-m^2)), b_lm = sqrt(((l-1)^2-m^2)/(4(l-1)^2-1)).
    """
    diag = np.empty(lmax + 1)
    diag[0] = math.sqrt(1.0 / FOUR_PI)
    for m in range(1, lmax + 1):
        diag[m] = -math.sqrt((2 * m + 1) / (2 * m)) * diag[m - 1]
    a = np.zeros((lmax + 1, lmax + 1))
    ab = np.zeros((lmax + 1, lmax + 1))
    for m in range(lmax + 1):
        for l in range(m + 2, lmax + 1):
            a[l, m] = math.sqrt((4 * l * l - 1) / (l * l - m * m))
            ab[l, m] = a[l, m] * math.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1))
    return diag, a, ab


def unit(vectors):
    """Unit vectors; a zero vector becomes (0, 0, 1) (pyboo: theta = phi = 0)."""
    r = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    zero = r == 0.0
    if zero.any():
        vectors = vectors.copy()
        vectors[zero] = (0.0, 0.0, 1.0)
        r[zero] = 1.0
    return vectors / r[:, None]


def ylm_half_into(u, ls, outs):
    """Write Y_lm(u), m = 0..l, for unit vectors u (n, 3) into outs[l] (n, 2(l+1)) float64.

    Column 2m holds Re Y_lm, column 2m+1 holds Im Y_lm.  Uses Y_lm = P~_l^m(z) (x + i y)^m,
    no trigonometric function, vectorised in blocks that stay in cache.
    """
    lmax = max(ls)
    diag, a, ab = legendre_coefficients(lmax)
    want = {l: outs[l] for l in ls}
    n = len(u)
    for s0 in range(0, n, SUB):
        s1 = min(n, s0 + SUB)
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


def half_to_full(half, l):
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
    l = check_l(l)
    v = check_coords(vectors)
    out = np.empty((len(v), 2 * (l + 1)))
    if len(v):
        ylm_half_into(unit(v), (l,), {l: out})
    return half_to_full(out.view(np.complex128), l)


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


@cache
def wl_terms(l):
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


def columns(ls):
    """Column slices of every l in the side-by-side (N, C) float layout, and C."""
    cols, c0 = {}, 0
    for l in ls:
        cols[l] = slice(c0, c0 + 2 * (l + 1))
        c0 += 2 * (l + 1)
    return cols, c0


def ordered_result(out, ls, products):
    keys = [f"{p}{l}" for p in ("q", "Q", "w", "W") for l in ls]
    keys += [f"C{l}" for l in products] + ["crystalline"] + [f"s{l}" for l in products]
    return {k: out[k] for k in keys}


def normalise_products(s, q, bonds):
    qi, qj = q[bonds[:, 0]], q[bonds[:, 1]]
    den = qi * qj
    ok = (qi > Q_ZERO) & (qj > Q_ZERO)
    out = np.zeros_like(s)
    np.divide(s, den, out=out, where=ok)
    return out
