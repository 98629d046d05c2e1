"""Particle geometry: distance to the centre, convex-hull diameter.  Lengths in Angstrom."""

from __future__ import annotations

import numpy as np

from nanotraj.errors import AnalysisError

__all__ = ["distance_to_centre", "hull_diameter"]


def distance_to_centre(coords) -> np.ndarray:
    """Distance of each atom from the particle's centre (the unweighted mean position).

    ``d_i = |x_i - (1/N) sum_j x_j|`` (the seed's ``distance_from_center``; Kang et al.).

    Parameters
    ----------
    coords : array_like, shape (N, 3), Angstrom, N >= 1

    Returns
    -------
    ndarray, shape (N,), float64 (Angstrom)
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    if len(x) == 0:
        return np.zeros(0)
    d = x - x.mean(axis=0)
    return np.sqrt(np.einsum("ij,ij->i", d, d))  # einsum: no (N, 3) temporary of squares


def hull_diameter(coords) -> float:
    """Diameter of the sphere with the volume of the atoms' convex hull.

    ``D = (6 V / pi)^(1/3)`` with V the volume of the convex hull of the atom centres (Qhull via
    ``scipy.spatial.ConvexHull``); the seed's ``calculate_diameter`` (Kang et al.).  Stage 1 of
    the Kang et al. series: 19.688 A.

    Parameters
    ----------
    coords : array_like, shape (N, 3), Angstrom

    Returns
    -------
    float (Angstrom)

    Raises
    ------
    AnalysisError
        ``AnalysisError("convex hull", reason)`` for fewer than 4 atoms or coplanar / collinear /
        coincident atoms (zero volume); the caller re-raises with the frame's path.

    References
    ----------
    C. B. Barber, D. P. Dobkin, H. Huhdanpaa, The Quickhull algorithm for convex hulls,
    ACM TOMS 22 (1996) 469.
    """
    from scipy.spatial import ConvexHull, QhullError

    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    if len(x) < 4:
        raise AnalysisError("convex hull", f"{len(x)} atoms; a 3D hull needs at least 4")
    if not np.isfinite(x).all():
        raise AnalysisError("convex hull", "non-finite coordinates")
    try:
        volume = ConvexHull(x).volume
    except QhullError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "QhullError"
        raise AnalysisError(
            "convex hull", f"atoms are coplanar, collinear or coincident (Qhull: {first})"
        ) from None
    if not volume > 0:
        raise AnalysisError("convex hull", "zero volume (coplanar atoms)")
    return float((6.0 * volume / np.pi) ** (1.0 / 3.0))
