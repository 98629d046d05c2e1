r"""Per-frame estimate of the positional noise: the Gaussian sigma that explains the bond spread.

A reconstructed atomic map places every atom with some error.  If each coordinate of each atom
is off by independent Gaussian noise of standard deviation :math:`\sigma` (Angstrom, per
coordinate), the length of a bond of true length :math:`d` is
:math:`|\mathbf d + \mathbf e_i - \mathbf e_j|` with :math:`\mathbf e_i - \mathbf e_j \sim
N(0, 2\sigma^2 I_3)`: a non-central chi distribution with three degrees of freedom, close to a
Gaussian of width :math:`\tau = \sqrt 2\,\sigma` around :math:`d (1 + O(\sigma^2/d^2))` for
:math:`\sigma \ll d`.  :func:`noise_estimate` measures :math:`\tau` on the **lower flank** of
the first peak of the frame's bond-length distribution and returns
:math:`\sigma \approx \tau / \sqrt 2` after a small calibration.

Why the lower flank: nothing in a metal is shorter than the first shell, while everything else
lies above it -- the second shell of bcc (15 % farther), which merges with the first in noisy
frames, the second shell of fcc/hcp, which reaches down to the cutoff at large noise, and the
cutoff, which truncates the upper tail.  :func:`first_peak` fits a normal distribution by
maximum likelihood to the bond lengths in the window ``[mu - 4 tau, mu + 0.5 tau]`` (truncated
to the window, which follows the fit), so bonds more than 0.5 tau above the peak never enter,
and bonds far below it neither.

Which bonds (:func:`bond_spread`): bonds between **interior** atoms (:func:`interior_atoms`:
at least 80 % of the frame's 90th-percentile count of atoms within 2.1 bond lengths; surface and
sub-surface atoms have fewer).  That count hardly depends on the noise.  The library's
:func:`nanotraj.structure.surface` criterion (a long sum of bond vectors) does: keeping the
atoms it calls non-surface keeps those whose neighbours are displaced least and biases the
estimate low by ~12 % at 0.15-0.25 A (fcc spheres of 4,321 atoms), and at 0.25 A it calls
30-60 % of the interior atoms surface.  Atoms in a close contact (a bond more than 5 widths
below the peak: duplicated or misplaced atoms) are left out too.

Calibration (``data/noise_calibration.json``, written by ``scripts/calibrate_boo_classes.py``
from 270 synthetic fcc and hcp particles, whose first shell is one distance: ~300, ~2,000 and
~20,000 atoms, the lattice constants of Pt, Au and Ni, noise 0.02 .. 0.30 A; the file holds
every particle's values).  With the relative width :math:`\hat s = \hat\tau / (\sqrt 2
\hat\mu)`,

.. math:: s = \hat s\,(1 + a \hat s^2), \qquad d_{nn} = \hat\mu / (1 + b s^2), \qquad
          \sigma = s\, d_{nn},

``a`` = 3.85 and ``b`` = 1.51 fitted by least squares (``a`` corrects the skew of the
non-central chi distribution and the lower flank's shape, ``b`` the outward shift of the peak).
Everything is in units of the frame's own peak position :math:`\hat\mu`: the estimate needs no
lattice constant and no element, and scaling the coordinates by ``c`` scales sigma by ``c``.

Accuracy (``scripts/calibrate_boo_classes.py --noise-report``: mean over 3 seeds of the
workflow's cutoff and bonds on particles of ~300, ~2,000 and ~5,000-20,000 atoms; relative
bias averaged over the sizes): fcc (Pt, Au, Ni) -2 %, hcp 0 .. +2 %, decahedra within
+-1.5 %, from 0.05 to 0.30 A; bcc (Fe) +3 % at 0.10 A and +8 .. +12 % from 0.15 A on (its second
shell merges with the first); Mackay icosahedra +22 % at 0.05 A and +10 % at 0.10 A (their
radial and tangential bonds differ by 5 %: a structural width of ~0.06 A), within 4 % from
0.15 A on.  Spread between seeds: < 1 % at 20,000 atoms, 1-3 % at 2,000, up to ~10 % at 300.
A noise-free lattice gives exactly 0.

What it means for other frames.  An **amorphous** frame has a structural spread of bond
lengths: the estimate is the sigma of the Gaussian noise that would give a crystal the same
lower-flank width (its effective noise), not the reconstruction's error --
``nanotraj.lattices.amorphous_sphere`` reads 0.037-0.041 A without added noise (1.4 % of
d_nn), and noise added to it adds roughly in quadrature.  Likewise strain, relaxation and
thermal motion of a real particle add to the estimate: read it as an upper bound on the
reconstruction noise.

Lengths in Angstrom.  Only numpy is imported at module level (scipy where needed).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "NOISE_LIMITS",
    "classification_warning",
    "CALIBRATION_FILE",
    "MIN_BONDS",
    "INTERIOR_RADIUS",
    "INTERIOR_FRACTION",
    "MAX_BONDS",
    "CLOSE",
    "calibration",
    "first_peak",
    "bond_spread",
    "interior_atoms",
    "noise_estimate",
    "sigma_estimate",
]

#: The calibration of :func:`noise_estimate` (``a``, ``b`` and their provenance).
CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "noise_calibration.json"
#: Fewest usable bond lengths: with fewer the estimate is NaN.
MIN_BONDS = 30
#: Interior atoms (:func:`interior_atoms`): atoms counted within this many median bond lengths ...
INTERIOR_RADIUS = 2.1
#: ... at least this fraction of the frame's 90th percentile of that count.
INTERIOR_FRACTION = 0.8
#: At most this many bonds are used (a deterministic, evenly strided subset above it; the
#: statistical error of the width is then ~0.5 %, and the interior count of their atoms
#: stays well under a second at 10^6 atoms).
MAX_BONDS = 50_000
#: Atoms with a bond more than this many peak widths below the peak are left out
#: (:func:`bond_spread`; 5 tau: 3e-7 of the bonds of a Gaussian peak).
CLOSE = 5.0

_LOW = 4.0  # the fit window: [mu - _LOW tau, mu + _HIGH tau]
_HIGH = 0.5
_PASSES = 10  # window moves of first_peak
_SQRT2 = math.sqrt(2.0)


@cache
def _calibration(path: str):
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return {"a": float(data["a"]), "b": float(data["b"]), **data}


def calibration(path=None) -> dict:
    """The calibration constants ``a``, ``b`` of :func:`noise_estimate` (and how they were
    obtained: the keys written by ``scripts/calibrate_boo_classes.py``).  A fresh copy."""
    return dict(_calibration(str(CALIBRATION_FILE if path is None else Path(path))))


def _check(coords, bonds, distances):
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("coords hold NaN or infinite values")
    b = np.asarray(bonds)
    if b.size == 0:
        b = np.zeros((0, 2), np.int64)
    if b.ndim != 2 or b.shape[1] != 2:
        raise ValueError(f"bonds must have shape (B, 2), got {b.shape}")
    if not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"bonds must be integers, got dtype {b.dtype}")
    b = b.astype(np.int64, copy=False)
    if len(b) and (b.min() < 0 or b.max() >= len(x)):
        raise ValueError(f"bond indices must be in [0, {len(x)}), got [{b.min()}, {b.max()}]")
    d = np.asarray(distances, dtype=np.float64).ravel()
    if len(d) != len(b):
        raise ValueError(f"distances must have one value per bond ({len(b)}), got {len(d)}")
    return x, b, d


def interior_atoms(coords, scale, *, atoms=None, radius=INTERIOR_RADIUS,
                   fraction=INTERIOR_FRACTION, workers=1):
    """Atoms away from the surface, by a count that does not depend on their own bonds.

    ``n_i`` = number of atoms within ``radius * scale`` of atom ``i`` (itself included; a
    kd-tree); atom ``i`` is interior when ``n_i >= fraction * P90(n)``, ``P90`` the 90th
    percentile over the atoms tested.  With ``scale`` the bond length (``radius = 2.1``: the
    first four fcc shells, 55 atoms in the bulk) a surface atom has about half the bulk count
    and a sub-surface atom ~70-80 %, so the outer one or two layers are left out.  Unlike
    :func:`nanotraj.structure.surface` the count hardly depends on the noise of the atom's own
    neighbours (they are well inside the sphere), so the selected atoms are not the less noisy
    ones (fcc sphere of 2,243 atoms: 66 % interior without noise, 62 % with 0.25 A).

    Parameters
    ----------
    coords : (N, 3) float, Angstrom.
    scale : float > 0, Angstrom (the frame's typical bond length, e.g. the median).
    atoms : (M,) int, optional: test only these atoms (default all).
    radius, fraction : floats (see above).
    workers : int, threads of the kd-tree query (the result does not depend on it).

    Returns
    -------
    (M,) bool, or (N,) without ``atoms`` (empty for no atom).
    """
    from scipy.spatial import cKDTree

    x = np.asarray(coords, dtype=np.float64)
    idx = np.arange(len(x)) if atoms is None else np.asarray(atoms, dtype=np.int64).ravel()
    if len(idx) == 0:
        return np.zeros(0, bool)
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    n = cKDTree(x).query_ball_point(x[idx], radius * float(scale), return_length=True,
                                    workers=max(1, int(workers)))
    return n >= fraction * np.percentile(n, 90)


def _fit_window(d, lo, hi, mu0, tau0):
    """ML (mu, tau) of a normal distribution truncated to [lo, hi], from the values of d there.

    Negative log-likelihood from the sufficient statistics n, sum d, sum d^2,
    ``sum (d - mu)^2 / (2 tau^2) + n log tau + n log Z``, ``Z = Phi(beta) - Phi(alpha)``,
    ``alpha, beta = (lo - mu) / tau, (hi - mu) / tau``, minimised over ``(mu, log tau)`` by BFGS
    with its analytic gradient, then polished by Newton steps to round-off.
    """
    from scipy.optimize import minimize
    from scipy.special import ndtr

    w = d[(d >= lo) & (d <= hi)]
    n = len(w)
    if n < MIN_BONDS:
        return math.nan, math.nan
    c = float(np.mean(w))  # centred sums: no cancellation
    s1 = float(np.sum(w - c))
    s2 = float(np.sum((w - c) ** 2))
    inv_sqrt_2pi = 1.0 / math.sqrt(2.0 * math.pi)

    def nll(p):
        mu, log_tau = float(p[0]), float(p[1])
        tau = math.exp(log_tau)
        a, b = (lo - mu) / tau, (hi - mu) / tau
        z = float(ndtr(b) - ndtr(a))
        if not z > 1e-300:
            return 1e300, np.zeros(2)
        m = mu - c
        q = s2 - 2.0 * m * s1 + n * m * m  # sum (d - mu)^2
        pa, pb = inv_sqrt_2pi * math.exp(-0.5 * a * a), inv_sqrt_2pi * math.exp(-0.5 * b * b)
        # per value (divided by n): O(1) numbers for any n
        value = q / (2.0 * n * tau * tau) + log_tau + math.log(z)
        g_mu = -(s1 / n - m) / (tau * tau) + (pa - pb) / (tau * z)
        g_lt = -q / (n * tau * tau) + 1.0 + (a * pa - b * pb) / z
        return value, np.array([g_mu, g_lt])

    res = minimize(nll, [mu0, math.log(tau0)], jac=True, method="BFGS",
                   options={"gtol": 1e-9, "maxiter": 200})
    p = np.array(res.x, dtype=np.float64)
    # Newton polish to round-off (Hessian by central differences of the analytic gradient):
    # the passes of first_peak amplify small differences, so every fit is solved to ~1e-15
    for _ in range(20):
        g = nll(p)[1]
        h = np.empty((2, 2))
        for k in range(2):
            e = np.zeros(2)
            e[k] = 1e-6
            h[:, k] = (nll(p + e)[1] - nll(p - e)[1]) / 2e-6
        try:
            step = np.linalg.solve(0.5 * (h + h.T), g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        p = p - step
        if np.max(np.abs(step)) < 1e-15:
            break
    return float(p[0]), float(math.exp(p[1]))


def first_peak(lengths, *, low=_LOW, high=_HIGH, passes=_PASSES):
    r"""Position and width of the first peak of a distribution of bond lengths, from its lower
    flank.

    Start: ``mu`` = median, ``tau`` = 1.4826 x the median absolute deviation.  Then,
    ``passes`` times: fit a normal distribution truncated to the window
    ``[mu - low tau, max(mu + high tau, median)]`` to the lengths inside it by maximum
    likelihood (:func:`_fit_window`) and move the window to the fit.  The result is the mean
    of the last half of the passes.  Values above the window (other shells, the cutoff) and
    below it (outliers) do not enter; the window always reaches the median, so it holds about
    half the values and cannot run away into the lower tail of a small sample.

    Why a fixed number of passes, not "until converged": lengths entering and leaving the
    window make the iterates wander by ~1 % of tau (for ~2,000 lengths, within the
    statistical error), and a stopping rule would pick one of them by chance; a fixed set of
    passes, each solved to round-off, is a deterministic function of the data, and scaling the
    lengths by ``c`` scales the result by ``c`` (to ~1e-10).  For exact Gaussian data the fit
    is unbiased; for the bond lengths of a noisy lattice see :func:`noise_estimate`.

    Parameters
    ----------
    lengths : (n,) float, Angstrom (non-finite and non-positive values are dropped).
    low, high : window in units of ``tau`` (defaults 4 and 0.5).
    passes : int >= 2, window moves (default 10).

    Returns
    -------
    (mu, tau) : floats, Angstrom.  ``tau = 0`` when more than half the lengths are equal
    (to 1e-9 relative: a noise-free lattice); ``(nan, nan)`` with fewer than
    :data:`MIN_BONDS` usable lengths or when the window empties.
    """
    d = np.asarray(lengths, dtype=np.float64).ravel()
    d = d[np.isfinite(d) & (d > 0)]
    if len(d) < MIN_BONDS:
        return math.nan, math.nan
    scale = float(np.median(d))
    d = d / scale  # the fit runs in units of the median: scale-free
    mu = 1.0
    tau = 1.4826 * float(np.median(np.abs(d - mu)))
    if tau <= 1e-9:
        return scale, 0.0
    history = []
    for _ in range(max(2, int(passes))):
        # the window reaches at least the median (1 here): it always holds about half the
        # values, and the fit cannot run away into the lower tail of a small sample
        mu, tau = _fit_window(d, mu - low * tau, max(mu + high * tau, 1.0), mu, tau)
        if not (math.isfinite(mu) and math.isfinite(tau)):
            return math.nan, math.nan
        history.append((mu, tau))
    mu, tau = np.mean(history[len(history) // 2:], axis=0)
    return float(mu) * scale, float(tau) * scale


def bond_spread(coords, bonds, distances, *, interior=None, max_bonds=MAX_BONDS, workers=1):
    """Position and width of the first peak of the frame's bond lengths (uncalibrated).

    The bonds of positive length (every k-th of them when there are more than ``max_bonds``:
    deterministic) whose two atoms are interior (``interior``, default :func:`interior_atoms`
    of those bonds' atoms with the median bond length as ``scale``; fewer than
    :data:`MIN_BONDS` such bonds: all of them), then :func:`first_peak` of their lengths.  If
    some bond of the frame is shorter than ``mu - CLOSE tau`` (:data:`CLOSE` = 5: a close
    contact, a duplicated or misplaced atom whose bonds to the neighbours of its partner would
    spread the peak), every atom with such a bond is left out and the fit is repeated.
    Arguments as :func:`noise_estimate`.

    Returns
    -------
    dict with ``peak`` and ``width`` (``mu``, ``tau`` of :func:`first_peak`, Angstrom; NaN with
    fewer than :data:`MIN_BONDS` bonds of positive length), ``n_bonds`` (int, bonds fitted)
    and ``interior`` (bool: only bonds between interior atoms were used).
    """
    x, b, d = _check(coords, bonds, distances)
    good = np.isfinite(d) & (d > 0)
    n_good = int(np.count_nonzero(good))
    if n_good < MIN_BONDS:
        return {"peak": math.nan, "width": math.nan, "n_bonds": 0, "interior": False}
    cand = np.flatnonzero(good)[:: -(-n_good // int(max_bonds))]  # at most max_bonds
    bc, dc = b[cand], d[cand]
    if interior is None:
        ends = np.unique(bc)
        inner = np.zeros(len(x), bool)
        inner[ends] = interior_atoms(x, float(np.median(dc)), atoms=ends, workers=workers)
    else:
        inner = np.asarray(interior, dtype=bool).ravel().copy()
        if len(inner) != len(x):
            raise ValueError(f"interior must have length {len(x)}, got {len(inner)}")

    def fit():
        use = inner[bc[:, 0]] & inner[bc[:, 1]]
        ok = np.count_nonzero(use) >= MIN_BONDS
        values = dc[use] if ok else dc
        return (*first_peak(values), len(values), ok)

    mu, tau, n_fit, used_interior = fit()
    if math.isfinite(mu) and tau > 0:
        # atoms in a close contact (a bond more than CLOSE widths below the peak: a duplicated
        # or misplaced atom) are suspect: their bonds to the neighbours of their partner would
        # spread the peak.  Fit again without any of their bonds.
        close = b[good & (d < mu - CLOSE * tau)]
        if len(close):
            inner[close.ravel()] = False
            mu, tau, n_fit, used_interior = fit()
    return {"peak": float(mu), "width": float(tau), "n_bonds": int(n_fit),
            "interior": bool(used_interior)}


def noise_estimate(coords, bonds, distances, *, interior=None, max_bonds=MAX_BONDS,
                   calibration_file=None, workers=1):
    r"""The Gaussian positional noise that explains the frame's spread of bond lengths.

    Steps (see the module docstring for the model and its accuracy):

    1. :func:`bond_spread`: the bonds between interior atoms (``interior``, default
       :func:`interior_atoms`), the position ``mu`` and width ``tau`` of the first peak of
       their lengths (:func:`first_peak`, lower flank);
    2. ``s_hat = tau / (sqrt(2) mu)``, ``s = s_hat (1 + a s_hat^2)``,
       ``d_nn = mu / (1 + b s^2)``, ``sigma = s d_nn`` (``a``, ``b``: :func:`calibration`).

    Parameters
    ----------
    coords : (N, 3) float, Angstrom (finite).
    bonds : (B, 2) int, the frame's bond network (``nanotraj.bonds.find_bonds`` at the frame's
        cutoff), each pair once.
    distances : (B,) float, the bond lengths, Angstrom.
    interior : (N,) bool, optional: the atoms whose bonds (both ends) are used.  Do not pass
        ``nanotraj.structure.surface``'s complement: it prefers the less noisy atoms (see the
        module docstring).
    max_bonds : int, at most this many bonds are used (every k-th above it).
    calibration_file : path, optional (default :data:`CALIBRATION_FILE`).
    workers : int, threads of the interior-atom count (the result does not depend on it).

    Returns
    -------
    dict with ``sigma`` (float, Angstrom: the per-coordinate Gaussian sigma), ``relative``
    (``sigma / nn_distance``, dimensionless), ``nn_distance`` (float, Angstrom: the frame's
    nearest-neighbour distance from the peak) and the keys of :func:`bond_spread` (``peak``,
    ``width``, ``n_bonds``, ``interior``).  The floats are NaN with fewer than
    :data:`MIN_BONDS` bonds of positive length; ``sigma = 0`` for a noise-free lattice.

    Raises
    ------
    ValueError for malformed input (shapes, non-integer or out-of-range bonds, NaN coordinates).
    """
    cal = calibration(calibration_file)
    spread = bond_spread(coords, bonds, distances, interior=interior, max_bonds=max_bonds,
                         workers=workers)
    mu, tau = spread["peak"], spread["width"]
    if not (math.isfinite(mu) and math.isfinite(tau)):
        return {"sigma": math.nan, "relative": math.nan, "nn_distance": math.nan} | spread
    s_hat = tau / (_SQRT2 * mu)
    s = s_hat * (1.0 + cal["a"] * s_hat * s_hat)
    nn = mu / (1.0 + cal["b"] * s * s)
    return {"sigma": float(s * nn), "relative": float(s), "nn_distance": float(nn)} | spread


def sigma_estimate(coords, bonds, distances, *, interior=None, workers=1) -> float:
    """The frame's positional noise sigma in Angstrom (per coordinate, Gaussian):
    ``noise_estimate(coords, bonds, distances, ...)["sigma"]``, see :func:`noise_estimate`
    (NaN with fewer than :data:`MIN_BONDS` usable bonds)."""
    return noise_estimate(coords, bonds, distances, interior=interior, workers=workers)["sigma"]


#: Relative noise levels ``sigma / d_nn`` at which the classifiers stop labelling crystals right,
#: measured on the interior atoms of noisy fcc, hcp, bcc, icosahedral and decahedral particles
#: (``benchmarks/validate_structure.py``, docs/methods.md): conventional and adaptive
#: CNA fall below ~90 % right above 0.055 (0.15 A for Pt); PTM (RMSD cutoff 0.13) holds ~88 %
#: at 0.072 (0.2 A) and loses most of a crystal by 0.09; the BOO classes' calibration ends at
#: 0.12.
NOISE_LIMITS = (("CNA", 0.055), ("PTM", 0.08), ("BOO", 0.12))


def classification_warning(sigma: float, nn_distance: float) -> str:
    """A short warning when the noise level ``sigma`` (Angstrom) of a frame with
    nearest-neighbour distance ``nn_distance`` (Angstrom) is beyond what some classifiers
    handle (:data:`NOISE_LIMITS`); ``""`` when every classifier is reliable or the level is
    unknown (NaN)."""
    if not (math.isfinite(sigma) and math.isfinite(nn_distance) and nn_distance > 0):
        return ""
    s = sigma / nn_distance
    head = f"noise {sigma:.3f} A ({100 * s:.1f} % of d_nn)"
    (_, cna), (_, ptm), (_, boo) = NOISE_LIMITS
    if s > boo:
        return f"{head}: beyond every classifier's range, structure fractions unreliable"
    if s > ptm:
        return f"{head}: CNA, a-CNA and PTM miss many crystalline atoms; BOO classes hold"
    if s > cna:
        return f"{head}: CNA and a-CNA miss crystalline atoms; PTM and BOO classes hold"
    return ""
