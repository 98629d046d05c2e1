"""Per-frame summary rows and their aggregation over a series and over a whole run.

The summary columns are part of the output contract (``DESIGN.md``): later features append columns,
the ones below never change name or meaning.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from nanotraj.contract import SUMMARY_COLUMNS


def _mean(values) -> float:
    """Mean of the finite values (NaN for none): atoms without bonds have no nn_distance."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan


def frame_summary(
    *,
    series: str,
    frame: str,
    time: float,
    n_atoms: int,
    diameter: float,
    cutoff: float,
    n_bonds: int,
    atoms: Mapping[str, np.ndarray],
    s6: np.ndarray,
) -> dict:
    """One summary row for a frame.

    Parameters
    ----------
    atoms : mapping of per-atom arrays, shape (N,): at least ``cn, cn_lattice, q4, q6, Q4, Q6, w6,
        W6, C6, crystalline, nn_distance``.
    s6 : (B,) normalised q6 bond products.

    ``n_disordered`` counts the atoms that are not crystalline (fewer than ceil(cn/2 + 0.01) bonds
    with s6 above the threshold; atoms without bonds are disordered), ``fraction_disordered`` is
    ``n_disordered / n_atoms``. ``nn_distance_mean`` averages over atoms that have bonds.
    """
    crystalline = np.asarray(atoms["crystalline"], dtype=bool)
    n_disordered = int(n_atoms - crystalline.sum())
    return {
        "series": series,
        "frame": frame,
        "time": float(time),
        "n_atoms": int(n_atoms),
        "diameter": float(diameter),
        "cutoff": float(cutoff),
        "n_bonds": int(n_bonds),
        "cn_mean": _mean(atoms["cn"]),
        "cn_lattice_mean": _mean(atoms["cn_lattice"]),
        "q4_mean": _mean(atoms["q4"]),
        "q6_mean": _mean(atoms["q6"]),
        "Q4_mean": _mean(atoms["Q4"]),
        "Q6_mean": _mean(atoms["Q6"]),
        "w6_mean": _mean(atoms["w6"]),
        "W6_mean": _mean(atoms["W6"]),
        "C6_mean": _mean(atoms["C6"]),
        "s6_mean": _mean(s6),
        "n_disordered": n_disordered,
        "fraction_disordered": n_disordered / n_atoms if n_atoms else math.nan,
        "nn_distance_mean": _mean(atoms["nn_distance"]),
        "status": "ok",
    }


def rejected_summary(*, series: str, frame: str, time: float, reason: str) -> dict:
    """The summary row of a rejected frame: identity, time and ``status``; every value empty."""
    return {"series": series, "frame": frame, "time": float(time), "status": f"rejected: {reason}"}


def summary_columns(rows: Iterable[Mapping]) -> list[str]:
    """The contract's columns, then every other column of ``rows`` in first-seen order."""
    cols = list(SUMMARY_COLUMNS)
    for row in rows:
        for key in row:
            if key not in cols:
                cols.append(key)
    return cols


def is_ok(row: Mapping[str, str]) -> bool:
    """Whether a summary row (as read from a CSV) is of an analysed frame (``status`` ok)."""
    return str(row.get("status", "ok")).strip() in ("ok", "")


def as_float(value) -> float:
    """A summary cell as a float (NaN for an empty or non-numeric cell)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


#: ``|scale_change|`` above this (2 %) is reported as a warning: the mean nearest-neighbour
#: distance of a metal particle changes by ~0.1 % per 100 K and by ~1 % with its size or
#: surface strain; a larger jump between consecutive frames suggests reconstructions of
#: different length scales (voxel size, magnification). The Pt series of Kang et al.: -4.2 %
#: from stage 3 to 4.
SCALE_CHANGE_WARN = 0.02


def scale_changes(rows: list[Mapping[str, str]]) -> list[float | None]:
    """``nn_distance_mean(t) / nn_distance_mean(t_prev) - 1`` for each row of a series' summary
    (rows in time order; ``t_prev`` the previous accepted frame), None for the first accepted
    frame, rejected frames and undefined means."""
    out, prev = [], None
    for row in rows:
        value = as_float(row.get("nn_distance_mean")) if is_ok(row) else math.nan
        if not math.isfinite(value):
            out.append(None)
            continue
        out.append(value / prev - 1.0 if prev else None)
        prev = value
    return out
