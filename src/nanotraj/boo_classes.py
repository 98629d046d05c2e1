r"""Structure classes from bond-orientational order that never invent a structure.

:func:`nanotraj.structure.boo_class` gives every atom the *nearest* perfect-lattice point in
(Q4, Q6, 40 W6) space.  Noise moves every atom away from its lattice's point, and the points of
fcc and hcp are close: on noisy particles it invents structures (the interior of a perfect fcc
sphere of 2,243 atoms with 0.15 A of noise: 38 % hcp; ``benchmarks/validate_structure.py``).
:func:`classify_boo` instead compares each atom with the **distributions** that atoms of known
environments have *at the frame's own noise level and bond cutoff*, and names a structure only
when the atom is unambiguously in one of them:

1. Reference environments (:data:`ENVIRONMENTS`, :func:`reference_samples`): the interior
   atoms of noisy perfect fcc, hcp and bcc spheres, the centres of noisy Mackay icosahedra
   (ico), and three environments that a structure must be told apart from -- fcc atoms next to
   a twin plane (``twin``; named fcc, which their own shell is), a metallic glass (``glass``)
   and the five-fold axes of multiply twinned particles (``axis``; both never named).
2. Table (``data/boo_reference.npz``, written by ``scripts/calibrate_boo_classes.py`` with
   :func:`reference_table`): for each environment, each relative noise ``s = sigma / d_nn`` on
   the grid 0 .. 0.12 (step 0.005; 0 .. 0.33 A for Pt) and each relative cutoff
   ``kappa = cutoff / d_nn`` on the grid 1.15 .. 1.55 (step 0.025), the mean ``m_e`` and
   covariance ``C_e`` of the features ``x = (Q4, Q6, W4, W6)`` (:data:`FEATURES`:
   coarse-grained, pyboo conventions, :func:`nanotraj.order.boo`), bonds = all pairs within
   ``kappa d_nn``.  Between grid points ``m`` and ``C`` are interpolated linearly.
3. Model: ``x | e ~ N(m_e, C_e + F + J_e J_e^T ds^2)``, ``F`` a small floor (noise-free
   lattices have no spread), ``J_e = dm_e/ds`` and ``ds = sigma_error x s`` the uncertainty of
   the noise level (a mis-estimated level moves the references).  Equal priors.
4. Rule: the most probable environment ``e`` names the class ``c`` (:data:`ENVIRONMENT_CLASS`);
   the atom gets ``c`` when ``c`` is a structure, its posterior (summed over its environments)
   is ``>= min_posterior`` (0.99) **and** the atom lies in the core of ``e``: squared
   Mahalanobis distance ``<= chi2_4(core)`` (core 0.99: 13.28).  Otherwise ``"disordered"``.
   Optionally (``crystalline``) fcc, hcp and bcc also need the ten Wolde criterion.  NaN
   features, a NaN noise level, a noise level above the table or a cutoff outside it:
   ``"disordered"``.

The measurements behind these choices (``benchmarks/validate_structure.py --ablation
--seeds 3``, interior atoms of ~2,000-atom particles, noise 0 .. 0.25 A; "wrong" = named a
class the noise-free particle's CNA does not give the atom): the defaults are wrong on at most
0.3 % of the atoms of any particle and noise level.  Without the twin, glass and axis
environments: up to 14 % wrong (five-fold axes called ico, fcc next to twin planes called hcp);
without W4 (the old features): up to 4.3 % wrong and at 0.25 A 77 % instead of 97 % of the
fcc interior named; ``min_posterior`` 0.9: up to 2.0 % wrong; 0.999: hcp at 0.20 A 30 % instead
of 75 % named; core 0.95 / 0.999 and ``sigma_error`` 0 / 0.15 change the named fractions by
a few % and the wrong ones not measurably.  Why the cutoff enters: at large noise it decides
how much of the second shell is bonded, and that moves the references by more than their width
(fcc at 0.2 A: Q6 = 0.46 with ``kappa`` = 1.2, 0.38 with 1.35).

What the classes mean.  ``fcc``/``hcp``/``bcc``: the atom's coarse-grained environment (its
shell and its neighbours' shells) is that of the bulk crystal, beyond doubt at this noise level.
``ico``: the environment of the centre of a Mackay icosahedron.  ``disordered``: not
identifiable -- a glass, a five-fold axis, a defect, atoms whose coarse-grained values mix two
environments (most atoms of a small Mackay icosahedron, whose tetrahedra are only a few atoms
thick), and atoms of a crystal that noise has made ambiguous (at 0.25 A most of the hcp
interior: it overlaps fcc next to a twin plane).  Read it as "not identified", not "amorphous".

Limits.  The class fractions depend on the noise level: at low noise the references are narrow
and atoms near the surface (whose neighbours' shells are incomplete) fall outside them, at high
noise the references are wide and many are named, with their crystal's class (all atoms of
a 2,243-atom fcc sphere: 53 % fcc at 0 A, 82 % at 0.25 A; of an hcp sphere at 0.20-0.25 A
up to 2.5 % are called fcc, near its surface).  Compare frames of similar noise, or the
interior atoms (:func:`nanotraj.noise.interior_atoms`).  The references are perfect lattices
with Gaussian noise: strain, relaxation or other (non-Gaussian) errors of a real
reconstruction are not in them and make atoms "disordered" rather than wrong.

Lengths in Angstrom.  Only numpy is imported at module level.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "STRUCTURES",
    "CLASSES",
    "EXTRA_ENVIRONMENTS",
    "ENVIRONMENTS",
    "ENVIRONMENT_CLASS",
    "FEATURES",
    "TABLE_FILE",
    "MIN_POSTERIOR",
    "CORE",
    "SIGMA_ERROR",
    "S_GRID",
    "KAPPA_GRID",
    "REFERENCE_SEEDS",
    "ICO_PARTICLES",
    "load_table",
    "workflow_descriptors",
    "reference_samples",
    "reference_table",
    "reference_distributions",
    "classify_boo",
    "classify_frame",
    "reference_ellipses",
]

#: Structures that :func:`classify_boo` can name, and the class of everything else.
STRUCTURES = ("fcc", "hcp", "bcc", "ico")
CLASSES = (*STRUCTURES, "disordered")
#: Further reference environments (see :func:`reference_samples`): fcc atoms next to a twin
#: plane (named fcc: their own shell is fcc); a metallic glass and the five-fold axes of
#: multiply twinned particles (never named: "disordered").
EXTRA_ENVIRONMENTS = ("twin", "glass", "axis")
#: Every reference environment of the table, in its order, and the class each one names.
ENVIRONMENTS = STRUCTURES + EXTRA_ENVIRONMENTS
ENVIRONMENT_CLASS = {"fcc": "fcc", "hcp": "hcp", "bcc": "bcc", "ico": "ico", "twin": "fcc",
                     "glass": "disordered", "axis": "disordered"}
#: The per-atom features, keys of :func:`nanotraj.order.boo`'s result.
FEATURES = ("Q4", "Q6", "W4", "W6")
#: Internal units of the features (W4, W6 are ~1e-3: scaled to order 0.1-1 before the algebra).
_FEATURE_SCALE = np.array([1.0, 1.0, 1e3, 1e2])
#: Floor of the reference standard deviations, in the features' own units (the noise-free
#: lattices have none; ~1 % of each feature's range over the four structures).
_FLOOR = np.array([2e-3, 2e-3, 1e-5, 2e-5])

#: The stored reference table.
TABLE_FILE = Path(__file__).resolve().parent / "data" / "boo_reference.npz"
#: Default smallest posterior of the class named.
MIN_POSTERIOR = 0.99
#: Default core: the atom must lie inside the ellipsoid holding this fraction of the class.
CORE = 0.99
#: Default relative uncertainty of the noise level: between the spread of
#: :func:`nanotraj.noise.noise_estimate` at ~300 atoms (up to 10 %) and at 2,000 (1-3 %).
#: (On the validation particles 0 and 0.15 give the same wrong fractions.)
SIGMA_ERROR = 0.07

#: Grid of the table: relative noise s = sigma / d_nn and relative cutoff kappa = cutoff / d_nn.
S_GRID = tuple(round(0.005 * k, 3) for k in range(25))
KAPPA_GRID = tuple(round(1.15 + 0.025 * k, 3) for k in range(17))
#: Noise seeds of the crystal particles per (structure, s) and the Mackay icosahedra per s.
REFERENCE_SEEDS = 2
ICO_PARTICLES = 150
_ICO_PER_FRAME = 25  # icosahedra side by side in one frame (far apart: independent)
_RADIUS = 8.0  # crystal spheres: radius in d_nn
_DEPTH = 3.0  # their interior atoms: at least this many d_nn below the hull


# ----------------------------------------------------------------------------------------------
# the workflow's descriptors
# ----------------------------------------------------------------------------------------------
def workflow_descriptors(coords, *, element=None, r_min=None, cutoff=None, workers=1,
                         noise=True):
    """Bonds, BOO and noise level of a frame exactly as the workflow computes them.

    The per-frame stages of :func:`nanotraj.stages.frame.run_frame`: g(r)
    (:func:`nanotraj.rdf.rdf`, ``dr = 0.02`` A, ``r_max = 15`` A, the pair counts), cutoff =
    :func:`nanotraj.rdf.first_minimum` at or beyond ``r_min`` (default
    :func:`nanotraj.elements.auto_cutoff_min` of ``element``, 0 without an element; a fixed
    ``cutoff`` in Angstrom skips g(r)), :func:`nanotraj.bonds.find_bonds`,
    :func:`nanotraj.order.boo` (l = 4, 6, ``threshold = 0.8``, ``products = (6,)``), plus
    (unless ``noise=False``) :func:`nanotraj.noise.noise_estimate`.

    Returns
    -------
    dict with ``cutoff`` (float, A), ``bonds`` ((B, 2) int64), ``distances`` ((B,) A), ``cn``
    ((N,) int64), every per-atom array of :func:`nanotraj.order.boo` (``"Q4"``, ``"Q6"``,
    ``"W4"``, ``"W6"``, ``"crystalline"``, ...) and ``noise`` (the dict of
    :func:`nanotraj.noise.noise_estimate`; None with ``noise=False``).  Raises
    :class:`nanotraj.errors.AnalysisError` when g(r) has no first minimum (as the workflow's
    ``rdf`` stage).
    """
    from nanotraj.bonds import find_bonds
    from nanotraj.noise import noise_estimate
    from nanotraj.order import boo
    from nanotraj.rdf import first_minimum, rdf

    x = np.asarray(coords, dtype=np.float64)
    if cutoff is None:
        if r_min is None:
            from nanotraj.elements import auto_cutoff_min

            r_min = auto_cutoff_min(element) if element is not None else 0.0
        r, g, counts = rdf(x, dr=0.02, r_max=15.0, workers=workers, return_counts=True)
        cutoff = first_minimum(r, g, r_min=float(r_min), counts=counts)
    bonds, distances = find_bonds(x, float(cutoff), workers=workers)
    res = boo(x, bonds, ls=(4, 6), threshold=0.8, workers=workers, products=(6,))
    res.update(cutoff=float(cutoff), bonds=bonds, distances=distances,
               cn=np.bincount(bonds.ravel(), minlength=len(x)).astype(np.int64),
               noise=noise_estimate(x, bonds, distances, workers=workers) if noise else None)
    return res


# ----------------------------------------------------------------------------------------------
# reference distributions
# ----------------------------------------------------------------------------------------------
def _depth_below_hull(x):
    """Distance of every point below the convex hull's faces (>= 0 inside)."""
    from scipy.spatial import ConvexHull

    eq = ConvexHull(x).equations
    return -(x @ eq[:, :3].T + eq[:, 3]).max(axis=1)


@cache
def _crystal(structure):
    """Noise-free sphere of radius 8 d_nn (d_nn = 1) and its interior atoms (at least 3 d_nn
    below the hull)."""
    from nanotraj import lattices as lat

    if structure == "fcc":
        x = lat.fcc_sphere(_RADIUS, a=math.sqrt(2.0))
    elif structure == "hcp":
        x = lat.hcp_sphere(_RADIUS, a=1.0)
    elif structure == "bcc":
        x = lat.bcc_sphere(_RADIUS, a=2.0 / math.sqrt(3.0))
    else:
        raise ValueError(f"unknown structure {structure!r}")
    return x, np.flatnonzero(_depth_below_hull(x) >= _DEPTH)


@cache
def _ico_frame():
    """``_ICO_PER_FRAME`` noise-free 147-atom Mackay icosahedra (d_nn = 1) on a line, 20 d_nn
    apart (no bond between them at any cutoff of the grid), and the indices of their centres."""
    from nanotraj.lattices import icosahedron

    one = icosahedron(3, 1.0)
    x = np.concatenate([one + (20.0 * k, 0.0, 0.0) for k in range(_ICO_PER_FRAME)])
    return x, np.arange(_ICO_PER_FRAME) * len(one)


@cache
def _glass():
    """A noise-free glass particle (``lattices.amorphous_sphere(8, nn=1)``, ~2,900 atoms) and
    its atoms at least 3 d_nn below its hull."""
    from nanotraj.lattices import amorphous_sphere

    x = amorphous_sphere(_RADIUS, 1.0, seed=11)
    return x, np.flatnonzero(_depth_below_hull(x) >= _DEPTH)


@cache
def _twinned_frame():
    """Two Mackay icosahedra (``icosahedron(5)``, 561 atoms) and two Ino decahedra
    (``decahedron(10)``), noise-free, d_nn = 1, 30 d_nn apart; and their interior (>= 2 d_nn
    below each particle's hull) five-fold-axis atoms (conventional CNA "other" at the cutoff
    1.2: 2 x 555 + 10 x 422) and fcc atoms next to a twin plane (CNA fcc with at least 3
    CNA-hcp neighbours)."""
    from nanotraj.bonds import find_bonds
    from nanotraj.cna import FCC, HCP, OTHER, cna
    from nanotraj.lattices import decahedron, icosahedron

    parts, inner = [], []
    for k, one in enumerate([icosahedron(5, 1.0), decahedron(10, 1.0)] * 2):
        parts.append(one + (30.0 * k, 0.0, 0.0))
        inner.append(_depth_below_hull(one) >= 2.0)
    x = np.concatenate(parts)
    inner = np.concatenate(inner)
    bonds, _ = find_bonds(x, 1.2)
    _, code = cna(len(x), bonds)
    hcp_nb = np.bincount(bonds[:, 0], weights=code[bonds[:, 1]] == HCP, minlength=len(x))
    hcp_nb += np.bincount(bonds[:, 1], weights=code[bonds[:, 0]] == HCP, minlength=len(x))
    axis = np.flatnonzero(inner & (code == OTHER))
    twin = np.flatnonzero(inner & (code == FCC) & (hcp_nb >= 3))
    return x, axis, twin


def _noise_seed(environment, s, k):
    """The seed of noisy copy ``k`` of ``environment`` at relative noise ``s``: fixed, distinct."""
    return 1_000_000 * (ENVIRONMENTS.index(environment) + 1) + 1000 * int(round(s * 1000)) + int(k)


def reference_samples(environment, s, kappas):
    """Features of the reference atoms of an environment at relative noise ``s``, per cutoff.

    Generation (deterministic; d_nn = 1, the features are scale-free), Gaussian noise ``s``
    per coordinate added to noise-free particles (``numpy.random.default_rng`` seeded by
    :func:`_noise_seed`):

    * ``fcc``, ``hcp``, ``bcc``: a sphere of radius 8 d_nn around an atom
      (:mod:`nanotraj.lattices`; hcp ideal, bcc with its first shell at d_nn),
      :data:`REFERENCE_SEEDS` noisy copies, the atoms at least 3 d_nn below the noise-free
      particle's convex hull;
    * ``ico``: the centres of :data:`ICO_PARTICLES` noisy 147-atom Mackay icosahedra
      (``lattices.icosahedron(3)``, 25 side by side per frame);
    * ``glass``: ``lattices.amorphous_sphere(8 d_nn)`` (a jammed, Lennard-Jones-quenched
      glass), 2 noisy copies, the atoms 3 d_nn below its hull;
    * ``axis``, ``twin``: 4 noisy copies of two ``icosahedron(5)`` and two ``decahedron(10)``;
      their interior five-fold-axis atoms, and their interior fcc atoms with at least three
      twin-plane (CNA-hcp) neighbours (:func:`_twinned_frame`).

    For each ``kappa``: bonds = pairs within ``kappa`` (:func:`nanotraj.bonds.find_bonds`),
    then :func:`nanotraj.order.boo` as the workflow.

    Returns
    -------
    dict ``kappa -> (n, 4)`` float64 array of :data:`FEATURES`.
    """
    from nanotraj.bonds import find_bonds
    from nanotraj.order import boo

    if environment == "ico":
        x0, pick = _ico_frame()
        copies = -(-ICO_PARTICLES // _ICO_PER_FRAME)
    elif environment == "glass":
        x0, pick = _glass()
        copies = 2
    elif environment in ("axis", "twin"):
        x0, axis, twin = _twinned_frame()
        pick = axis if environment == "axis" else twin
        copies = 4
    else:
        x0, pick = _crystal(environment)
        copies = REFERENCE_SEEDS
    out = {float(k): [] for k in kappas}
    for k in range(copies):
        rng = np.random.default_rng(_noise_seed(environment, s, k))
        x = x0 + rng.normal(0.0, float(s), x0.shape) if s > 0 else x0
        for kappa in out:
            bonds, _ = find_bonds(x, kappa)
            res = boo(x, bonds, ls=(4, 6), threshold=0.8, products=(6,))
            out[kappa].append(np.stack([res[f][pick] for f in FEATURES], axis=1))
    n_ico = ICO_PARTICLES if environment == "ico" else None
    return {kappa: np.concatenate(v)[:n_ico] for kappa, v in out.items()}


def reference_table(s_grid=S_GRID, kappa_grid=KAPPA_GRID, environments=ENVIRONMENTS,
                    progress=None):
    """The reference table: means and covariances of :func:`reference_samples`.

    Returns
    -------
    dict of arrays: ``s`` (S,), ``kappa`` (K,), ``environments`` (E,) str, ``features`` (4,)
    str, ``mean`` (E, S, K, 4) float32, ``cov`` (E, S, K, 10) float32 (the upper triangle, row
    by row, of ``numpy.cov`` with n - 1; :func:`load_table` restores the 4 x 4 matrices),
    ``n`` (E,) int (reference atoms per cell).  ``progress(environment, s)``, optional, is
    called after each noise level.
    """
    s_grid = np.asarray(s_grid, float)
    kappa_grid = np.asarray(kappa_grid, float)
    mean = np.zeros((len(environments), len(s_grid), len(kappa_grid), len(FEATURES)))
    cov = np.zeros(mean.shape + (len(FEATURES),))
    n = np.zeros(len(environments), np.int64)
    for c, name in enumerate(environments):
        for i, s in enumerate(s_grid):
            samples = reference_samples(name, float(s), [float(k) for k in kappa_grid])
            for j, kappa in enumerate(kappa_grid):
                v = samples[float(kappa)]
                mean[c, i, j] = v.mean(axis=0)
                cov[c, i, j] = np.cov(v.T)
                n[c] = len(v)
            if progress is not None:
                progress(name, float(s))
    iu = np.triu_indices(len(FEATURES))
    return {"s": s_grid, "kappa": kappa_grid, "environments": np.array(environments),
            "features": np.array(FEATURES), "mean": mean.astype(np.float32),
            "cov": cov[..., iu[0], iu[1]].astype(np.float32), "n": n}


@cache
def _load(path):
    with np.load(path, allow_pickle=False) as z:
        table = {k: z[k] for k in z.files}
    if tuple(table["features"].tolist()) != FEATURES:
        raise ValueError(f"{path}: features {table['features']} are not {FEATURES}")
    iu = np.triu_indices(len(FEATURES))
    tri = table["cov"]
    cov = np.zeros(tri.shape[:-1] + (len(FEATURES), len(FEATURES)), tri.dtype)
    cov[..., iu[0], iu[1]] = tri
    cov[..., iu[1], iu[0]] = tri
    table["cov"] = cov
    return table


def load_table(path=None):
    """The stored reference table (:func:`reference_table`'s arrays plus provenance, ``cov``
    as full (C, S, K, 4, 4) matrices), read once per process.  Treat the arrays as
    read-only."""
    return _load(str(TABLE_FILE if path is None else Path(path)))


def _interp_weights(grid, value):
    """(i0, i1, w): value = (1 - w) grid[i0] + w grid[i1]; None outside the grid."""
    g = np.asarray(grid, float)
    if not (g[0] - 1e-12 <= value <= g[-1] + 1e-12):
        return None
    i = int(np.clip(np.searchsorted(g, value, side="right") - 1, 0, len(g) - 2))
    w = float(np.clip((value - g[i]) / (g[i + 1] - g[i]), 0.0, 1.0))
    return i, i + 1, w


def _bilinear(arr, si, ki):
    s0, s1, ws = si
    k0, k1, wk = ki
    a = arr.astype(np.float64)
    return ((1 - ws) * ((1 - wk) * a[:, s0, k0] + wk * a[:, s0, k1])
            + ws * ((1 - wk) * a[:, s1, k0] + wk * a[:, s1, k1]))


def reference_distributions(sigma, nn_distance, cutoff, *, sigma_error=SIGMA_ERROR, table=None):
    """The reference distributions at a frame's noise level and cutoff.

    ``s = sigma / nn_distance`` and ``kappa = cutoff / nn_distance``; means and covariances
    interpolated bilinearly in the table (:func:`load_table`), plus the floor and the
    widening for the uncertainty of ``s`` (see the module docstring; the slope ``dm/ds`` is
    that of the table's s-interval holding ``s``).

    Parameters
    ----------
    sigma : float, Angstrom (:func:`nanotraj.noise.sigma_estimate`).
    nn_distance : float, Angstrom (the frame's: ``noise_estimate(...)["nn_distance"]``).
    cutoff : float, Angstrom (the frame's bond cutoff).
    sigma_error : float, relative uncertainty of ``sigma`` (default :data:`SIGMA_ERROR`).
    table : the table (default :func:`load_table`).

    Returns
    -------
    dict with ``environments`` (tuple of E names), ``mean`` (E, 4) and ``cov`` (E, 4, 4)
    float64 in the features' own units, ``s``, ``kappa`` (floats); or None when ``s`` or
    ``kappa`` is NaN or outside the table, or ``nn_distance`` is not positive.

    Raises
    ------
    ValueError when ``sigma < 0``.
    """
    t = load_table() if table is None else table
    if float(sigma) < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    nn = float(nn_distance)
    if not nn > 0:
        return None
    s, kappa = float(sigma) / nn, float(cutoff) / nn
    if not (math.isfinite(s) and math.isfinite(kappa)):
        return None
    si = _interp_weights(t["s"], s)
    ki = _interp_weights(t["kappa"], kappa)
    if si is None or ki is None:
        return None
    mean = _bilinear(t["mean"], si, ki)
    cov = _bilinear(t["cov"], si, ki)
    s0, s1, _ = si
    slope = ((1 - ki[2]) * (t["mean"][:, s1, ki[0]] - t["mean"][:, s0, ki[0]])
             + ki[2] * (t["mean"][:, s1, ki[1]] - t["mean"][:, s0, ki[1]])).astype(np.float64)
    slope /= float(t["s"][s1] - t["s"][s0])
    ds = float(sigma_error) * s
    cov = cov + np.diag(_FLOOR**2) + ds * ds * slope[:, :, None] * slope[:, None, :]
    return {"environments": tuple(str(c) for c in t["environments"]), "mean": mean, "cov": cov,
            "s": s, "kappa": kappa}


# ----------------------------------------------------------------------------------------------
# classification
# ----------------------------------------------------------------------------------------------
def _chi2_cdf(x, dof):
    """CDF of the chi-square distribution with ``dof`` = 1 .. 4 degrees of freedom (closed
    forms: ``erf(sqrt(x/2))``, ``1 - exp(-x/2)``, ``erf(sqrt(x/2)) - sqrt(2x/pi) exp(-x/2)``,
    ``1 - (1 + x/2) exp(-x/2)``)."""
    h = 0.5 * x
    if dof == 1:
        return math.erf(math.sqrt(h))
    if dof == 2:
        return 1.0 - math.exp(-h)
    if dof == 3:
        return math.erf(math.sqrt(h)) - math.sqrt(2.0 * x / math.pi) * math.exp(-h)
    if dof == 4:
        return 1.0 - (1.0 + h) * math.exp(-h)
    raise ValueError(f"dof must be 1 .. 4, got {dof}")


def _chi2_quantile(p, dof=4):
    """Quantile of the chi-square distribution with ``dof`` degrees of freedom (bisection on
    :func:`_chi2_cdf`, to round-off)."""
    lo, hi = 0.0, 200.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _chi2_cdf(mid, dof) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _mahalanobis_and_logpdf(xt, mean, cov):
    """(C, n) squared Mahalanobis distances and log densities (up to a common constant) of the
    columns of ``xt`` (F, n) under each of the C Gaussians ``N(mean[c], cov[c])``.

    ``z = L^-1 (x - m)`` with ``cov = L L^T``, computed row by row of the small triangular
    ``L^-1`` on contiguous feature rows (a BLAS product of an (n, 4) array is many times slower
    for such skinny shapes)."""
    n_env, n_feat = mean.shape
    m2 = np.empty((n_env, xt.shape[1]))
    lp = np.empty_like(m2)
    for c in range(n_env):
        L = np.linalg.cholesky(cov[c])
        inv = np.linalg.inv(L)  # lower triangular
        acc = m2[c]
        acc[:] = 0.0
        for i in range(n_feat):
            z = inv[i, 0] * (xt[0] - mean[c, 0])
            for j in range(1, i + 1):
                z += inv[i, j] * (xt[j] - mean[c, j])
            z *= z
            acc += z
        lp[c] = -0.5 * acc - np.log(np.diag(L)).sum()
    return m2, lp


def classify_boo(Q4, Q6, W4, W6, *, sigma, nn_distance, cutoff, crystalline=None,
                 min_posterior=MIN_POSTERIOR, core=CORE, sigma_error=SIGMA_ERROR,
                 features=FEATURES, table=None, return_posterior=False):
    r"""Per-atom structure class from coarse-grained BOO, or ``"disordered"`` when not certain.

    For the reference distributions ``N(m_e, C_e)`` of the environments ``e``
    (:func:`reference_distributions` at the frame's noise level and cutoff), atom ``i`` with
    features ``x_i = (Q4, Q6, W4, W6)`` and most probable environment ``e`` gets the class
    ``c`` of ``e`` (:data:`ENVIRONMENT_CLASS`) when ``c`` is a structure and

    .. math:: \sum_{e' \to c} P(e' \mid x_i) \ge p_{min}, \quad
              P(e \mid x_i) = \frac{N(x_i; m_e, C_e)}{\sum_k N(x_i; m_k, C_k)},
              \quad\text{and}\quad
              (x_i - m_e)^T C_e^{-1} (x_i - m_e) \le \chi^2_4(\mathrm{core})

    (equal priors; ``p_min = 0.99``, core 0.99), and ``"disordered"`` otherwise.  See the
    module docstring for the references, what the classes mean and the measurements behind
    the defaults.

    Parameters
    ----------
    Q4, Q6, W4, W6 : (N,) float, ``nanotraj.order.boo(...)`` values (pyboo conventions: ``W``
        not normalised), computed on the bonds within ``cutoff``.
    sigma : float, the frame's noise, Angstrom (:func:`nanotraj.noise.sigma_estimate`).
    nn_distance : float, the frame's nearest-neighbour distance, Angstrom (best
        ``noise_estimate(...)["nn_distance"]``; the element's value is within a few % for a
        frame of that element).
    cutoff : float, the bond cutoff of the frame, Angstrom.
    crystalline : (N,) bool, optional: if given, fcc/hcp/bcc also need it (ten Wolde et al.,
        ``order.boo(...)["crystalline"]``); not needed by the rule above, and at 0.25 A it
        rejects a third of the atoms of a perfect fcc particle.
    min_posterior, core : floats in (0, 1).
    sigma_error : relative uncertainty of ``sigma`` (widens the references).
    features : the features used, a subset of :data:`FEATURES` (the marginal distributions;
        the core then has ``len(features)`` degrees of freedom).  The values of the others are
        ignored (pass zeros).  Default all four.
    table : reference table (default :func:`load_table`).
    return_posterior : also return the (N, E) posteriors over :data:`ENVIRONMENTS` (NaN where
        unknown).

    Returns
    -------
    (N,) ``<U10`` str array with values in :data:`CLASSES`; with ``return_posterior`` also
    the (N, E) float64 posteriors over the table's environments (:data:`ENVIRONMENTS`).  All
    ``"disordered"`` when the noise level or the cutoff is NaN or outside the table
    (``s = sigma / nn_distance > 0.12`` or ``cutoff / nn_distance`` outside 1.15 .. 1.55).

    Raises
    ------
    ValueError when the arrays differ in length, ``sigma < 0`` or a probability is not in (0, 1).
    """
    x = np.stack([np.asarray(v, dtype=np.float64).ravel() for v in (Q4, Q6, W4, W6)], axis=1) \
        if len({np.asarray(v).size for v in (Q4, Q6, W4, W6)}) == 1 else None
    if x is None:
        raise ValueError("Q4, Q6, W4, W6 must have the same length, got "
                         + ", ".join(str(np.asarray(v).size) for v in (Q4, Q6, W4, W6)))
    n = len(x)
    xtal = None
    if crystalline is not None:
        xtal = np.asarray(crystalline).ravel().astype(bool)
        if len(xtal) != n:
            raise ValueError(f"crystalline must have length {n}, got {len(xtal)}")
    use = [FEATURES.index(f) for f in dict.fromkeys(features) if f in FEATURES]
    if not use or len(use) != len(tuple(features)):
        raise ValueError(f"features must be a non-empty subset of {FEATURES}, got {features!r}")
    for name, p in (("min_posterior", min_posterior), ("core", core)):
        if not 0.0 < float(p) < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {p}")
    codes = np.array(CLASSES, dtype="<U10")
    label = np.full(n, len(STRUCTURES))
    ref = None if n == 0 else reference_distributions(sigma, nn_distance, cutoff,
                                                      sigma_error=sigma_error, table=table)
    envs = ENVIRONMENTS if ref is None else ref["environments"]
    post = np.full((n, len(envs)), np.nan)
    if ref is not None:
        finite = np.isfinite(x[:, use]).all(axis=1)
        xt = np.ascontiguousarray((x[finite][:, use] * _FEATURE_SCALE[use]).T)  # (F, n)
        mean = (ref["mean"] * _FEATURE_SCALE)[:, use]
        cov = (ref["cov"] * np.outer(_FEATURE_SCALE, _FEATURE_SCALE))[:, use][:, :, use]
        m2, lp = _mahalanobis_and_logpdf(xt, mean, cov)
        p = np.exp(lp - lp.max(axis=0))
        p /= p.sum(axis=0)  # (E, n) posteriors of the environments
        # class of every environment; a class's posterior is the sum over its environments
        code_of = np.array([CLASSES.index(ENVIRONMENT_CLASS[e]) for e in envs])
        p_class = np.zeros((len(CLASSES), xt.shape[1]))
        for e, k in enumerate(code_of):
            p_class[k] += p[e]
        best = np.argmax(p, axis=0)  # the most probable environment ...
        cls = code_of[best]  # ... names the class
        cols = np.arange(xt.shape[1])
        ok = ((cls < len(STRUCTURES)) & (p_class[cls, cols] >= float(min_posterior))
              & (m2[best, cols] <= _chi2_quantile(float(core), len(use))))
        if xtal is not None:
            ok &= xtal[finite] | (cls == STRUCTURES.index("ico"))
        label[finite] = np.where(ok, cls, len(STRUCTURES))
        post[finite] = p.T
    out = codes[label]
    return (out, post) if return_posterior else out


def classify_frame(coords, *, element=None, r_min=None, cutoff=None, workers=1, **options):
    """:func:`classify_boo` of a frame from its coordinates, as the workflow would compute it
    (:func:`workflow_descriptors`, then the frame's own noise level and nearest-neighbour
    distance from :func:`nanotraj.noise.noise_estimate`).  ``options`` go to
    :func:`classify_boo`.  Returns ``(classes, descriptors)``."""
    d = workflow_descriptors(coords, element=element, r_min=r_min, cutoff=cutoff,
                             workers=workers)
    noise = d["noise"]
    classes = classify_boo(d["Q4"], d["Q6"], d["W4"], d["W6"], sigma=noise["sigma"],
                           nn_distance=noise["nn_distance"], cutoff=d["cutoff"], **options)
    return classes, d


# ----------------------------------------------------------------------------------------------
# reference points and ellipses for the figure
# ----------------------------------------------------------------------------------------------
def reference_ellipses(sigma, nn_distance, cutoff, *, planes=(("Q4", "Q6"), ("W6", "Q6")),
                       environments=STRUCTURES, core=CORE, n_points=73,
                       sigma_error=SIGMA_ERROR, table=None):
    r"""Each class's centre and ellipses in planes of the classifier's features, for a figure.

    For every environment in ``environments`` (default the four named structures; any of
    :data:`ENVIRONMENTS`) of :func:`reference_distributions` (the classifier's references at
    this noise level and cutoff) and every plane ``(x, y)`` of :data:`FEATURES`: the centre
    ``(m_x, m_y)``, the 2 x 2 marginal covariance ``S`` and two closed ellipses
    ``{m + r L u}`` (``S = L L^T``, ``u`` on the unit circle): ``"one_sigma"`` (r = 1) and
    ``"core"`` (``r = sqrt(chi2_4(core))``, 3.64 for core 0.99: the projection onto the plane
    of the 4-D core that :func:`classify_boo` requires -- an atom outside it is outside the
    core, not every atom inside it is inside).  Coordinates are the coarse-grained values the
    classifier uses (``Q4``, ``Q6``, ``W4``, ``W6``, pyboo's unnormalised ``W``), not the bare
    ``q``/``w`` (the centre of a Mackay icosahedron has ``q6 = 0.663`` but ``Q6 ~ 0.30``).

    Parameters
    ----------
    sigma, nn_distance, cutoff : floats, Angstrom (the frame's; as :func:`classify_boo`).
    planes : pairs of feature names.
    environments : names of :data:`ENVIRONMENTS` to return.
    core : float in (0, 1); n_points : int, points per ellipse (closed: first = last).
    sigma_error, table : as :func:`classify_boo`.

    Returns
    -------
    dict ``environment -> {"centre": {feature: float}, (x, y): {"mean": (2,), "cov": (2, 2),
    "one_sigma": (n_points, 2), "core": (n_points, 2)}}`` (float64), or None when the noise
    level or cutoff is outside the table.
    """
    ref = reference_distributions(sigma, nn_distance, cutoff, sigma_error=sigma_error,
                                  table=table)
    if ref is None:
        return None
    t = np.linspace(0.0, 2.0 * np.pi, int(n_points))
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    r_core = math.sqrt(_chi2_quantile(float(core), len(FEATURES)))
    out = {}
    for c, name in enumerate(ref["environments"]):
        if name not in environments:
            continue
        entry = {"centre": {f: float(ref["mean"][c, k]) for k, f in enumerate(FEATURES)}}
        for fx, fy in planes:
            idx = [FEATURES.index(fx), FEATURES.index(fy)]
            m = ref["mean"][c, idx]
            cov = ref["cov"][c][np.ix_(idx, idx)]
            L = np.linalg.cholesky(cov)
            entry[(fx, fy)] = {"mean": m, "cov": cov, "one_sigma": m + circle @ L.T,
                               "core": m + r_core * (circle @ L.T)}
        out[name] = entry
    return out
