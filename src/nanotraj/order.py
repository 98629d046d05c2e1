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

import numpy as np

from nanotraj import _boo_numpy
from nanotraj import engine as _engine
from nanotraj._boo_numpy import (
    Plan,
    boo_numpy,
    crystalline_from_s,
    mean_over_bonds,
    neighbour_mean,
    qlm_f,
    sorted_bonds,
    wl_f,
)
from nanotraj._boo_pyboo import PYBOO_INSTALL
from nanotraj._sph import (
    FOUR_PI,
    L_MAX,
    bond_counts,
    check_bonds,
    check_coords,
    check_l,
    check_qlm,
    half_to_full,
    normalise_products,
    spherical_harmonics,
    wigner3j,
)

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
    l = check_l(l)
    coords = check_coords(coords)
    bonds = check_bonds(bonds, len(coords))
    cn = bond_counts(len(coords), bonds)
    f, _ = qlm_f(coords, Plan(sorted_bonds(bonds, len(coords))[0], len(coords)), (l,), cn)
    return half_to_full(f.view(np.complex128), l)


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
    qlm, l = check_qlm(qlm)
    f = qlm.view(np.float64)
    return np.sqrt(FOUR_PI / (2 * l + 1) * np.einsum("ij,ij->i", f, f))


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
    qlm, l = check_qlm(qlm)
    return wl_f(np.ascontiguousarray(qlm[:, l:]).view(np.float64))


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
    bonds = check_bonds(bonds, n)
    plan = Plan(sorted_bonds(bonds, n)[0], n)
    return neighbour_mean(qlm.view(np.float64), plan, bond_counts(n, bonds)).view(np.complex128)


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
    qlm, l = check_qlm(qlm)
    bonds = check_bonds(bonds, len(qlm))
    f = qlm.view(np.float64)
    s = np.empty(len(bonds))
    for b0 in range(0, len(bonds), _boo_numpy.CHUNK):
        chunk = bonds[b0 : b0 + _boo_numpy.CHUNK]
        s[b0 : b0 + len(chunk)] = np.einsum("ij,ij->i", f[chunk[:, 0]], f[chunk[:, 1]])
    s *= FOUR_PI / (2 * l + 1)
    return normalise_products(s, ql(qlm), bonds)


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
    qlm, _ = check_qlm(qlm)
    bonds = check_bonds(bonds, len(qlm))
    s = bond_product(qlm, bonds)
    return mean_over_bonds(len(qlm), bonds, s, bond_counts(len(qlm), bonds))


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
    qlm, _ = check_qlm(qlm)
    bonds = check_bonds(bonds, len(qlm))
    s = bond_product(qlm, bonds)
    return crystalline_from_s(len(qlm), bonds, s, bond_counts(len(qlm), bonds), threshold)


def boo(coords, bonds, *, ls=(4, 6), threshold=0.8, engine="auto", workers=1,
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
    engine : "auto", "numpy" or "compiled" (:mod:`nanotraj.engine`: the numpy engine
        :mod:`nanotraj._boo_numpy`, and under "auto" for frames of at least
        :data:`nanotraj.engine.LARGE_BONDS` bonds the compiled kernels, equal to ~1e-15), or
        "pyboo" (calls ``import boo``, pyboo 1.0.0, which supports ``l <= 10`` only).  Raises
        :class:`nanotraj.errors.ConfigError` when pyboo is not importable (install recipe in
        the message, see :data:`PYBOO_INSTALL`) or for an unknown engine.
    workers : int, threads of the numpy and compiled engines (chunks of bonds and atoms; numpy,
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
    coords = check_coords(coords)
    n = len(coords)
    bonds = check_bonds(bonds, n)
    ls = tuple(dict.fromkeys(check_l(l) for l in ls))
    products = ls if products is None else tuple(dict.fromkeys(check_l(l) for l in products))
    if engine == "pyboo":
        from nanotraj._boo_pyboo import boo_pyboo

        return boo_pyboo(coords, bonds, ls, float(threshold), products)
    workers = max(1, int(workers))
    if (kernels := _engine.kernels_for(engine, len(bonds))) is not None:
        from nanotraj._boo_compiled import boo_compiled

        return boo_compiled(kernels, coords, bonds, ls, float(threshold), workers, products)
    return boo_numpy(coords, bonds, ls, float(threshold), workers, products)
