"""The optional pyboo engine of :func:`nanotraj.order.boo`: calls pyboo 1.0.0 itself
(M. Leocmach, doi:10.5281/zenodo.1066568), the reference of the published analysis."""

# ruff: noqa: E741  (l is the degree of the spherical harmonics, as in the literature)
from __future__ import annotations

import numpy as np

from nanotraj._sph import bond_counts, normalise_products, ordered_result
from nanotraj.errors import ConfigError

#: How to install the optional engine "pyboo" (pyboo 1.0.0 imports ``scipy.special.sph_harm``,
#: removed in scipy 1.17, so it needs its own virtual environment).
PYBOO_INSTALL = (
    "pip install numpy numba 'scipy==1.16.3' && pip install --no-build-isolation pyboo==1.0.0"
)


def import_pyboo():
    try:
        import boo as pyboo  # optional dependency
    except Exception as exc:  # ImportError, or pyboo 1.0.0 failing on scipy >= 1.17
        raise ConfigError(
            f"engine 'pyboo' needs pyboo 1.0.0 but 'import boo' failed ({type(exc).__name__}: "
            f"{exc}); pyboo 1.0.0 needs scipy < 1.17, install it in a separate virtual "
            f"environment: {PYBOO_INSTALL}"
        ) from exc
    return pyboo


def boo_pyboo(coords, bonds, ls, threshold, products):
    import warnings

    with warnings.catch_warnings():
        # pyboo 1.0.0 calls scipy.special.sph_harm, deprecated since scipy 1.15
        warnings.simplefilter("ignore", DeprecationWarning)
        return _boo_pyboo_calls(coords, bonds, ls, threshold, products)


def _boo_pyboo_calls(coords, bonds, ls, threshold, products):
    pyboo = import_pyboo()
    from boo.boo import product

    if max(ls + products) > 10:
        raise ConfigError("engine 'pyboo' supports l <= 10 only (pyboo's Wigner 3j table)")
    n = len(coords)
    cn = bond_counts(n, bonds)
    inside = np.ones(n, bool)
    out = {}
    for l in sorted(set(ls) | set(products) | {6}):
        qlm = pyboo.bonds2qlm(coords, bonds, l=l)
        q = np.asarray(pyboo.ql(qlm), float)
        if len(bonds):
            s = normalise_products(
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
    return ordered_result(out, ls, products)
