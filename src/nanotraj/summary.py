"""Per-frame summary rows and their aggregation over a series and over a whole run.

The summary columns are part of the output contract (``DESIGN.md``): later features append columns,
the ones below never change name or meaning.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .contract import SUMMARY_COLUMNS
from .tables import read_rows, write_rows


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


def write_summary(path: str | os.PathLike, rows: Sequence[Mapping], columns=None) -> None:
    """Write summary rows with the contract's columns first, then any extra columns sorted."""
    columns = list(columns or summary_columns(rows))
    write_rows(path, columns, rows)


def summary_columns(rows: Iterable[Mapping]) -> list[str]:
    """The contract's columns, then every other column of ``rows`` in first-seen order."""
    cols = list(SUMMARY_COLUMNS)
    for row in rows:
        for key in row:
            if key not in cols:
                cols.append(key)
    return cols


def _time_key(row: Mapping[str, str]):
    try:
        t = float(row.get("time", "nan"))
    except ValueError:
        t = math.nan
    return (math.isnan(t), t, row.get("frame", ""))


def aggregate(
    inputs: Sequence[str | os.PathLike], output: str | os.PathLike, *, sort_by_series=False
):
    """Concatenate one-row (or many-row) summary CSVs into ``output``, ordered by time.

    Rows are ordered by ``time`` then ``frame`` (and by ``series`` first when
    ``sort_by_series``), so the result does not depend on the order of ``inputs``. Columns: the
    union of the inputs' columns, contract columns first; a column missing in one input is an
    empty cell there.
    """
    rows: list[dict[str, str]] = []
    header: list[str] = list(SUMMARY_COLUMNS)
    for path in inputs:
        cols, file_rows = read_rows(path)
        for c in cols:
            if c not in header:
                header.append(c)
        rows.extend(file_rows)
    if sort_by_series:
        rows.sort(key=lambda r: (r.get("series", ""), *_time_key(r)))
    else:
        rows.sort(key=_time_key)
    write_rows(output, header, rows)
    return rows
