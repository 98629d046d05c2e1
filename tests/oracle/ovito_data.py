"""The one way the oracle tests hand atoms to OVITO: a DataCollection with the positions in a
non-periodic cell enclosing them with a 10 A margin (OVITO's file readers are not involved)."""

from __future__ import annotations

import numpy as np


def collection(x):
    """An ``ovito.data.DataCollection`` holding the (N, 3) positions ``x`` (Angstrom)."""
    from ovito.data import DataCollection

    x = np.asarray(x, dtype=np.float64)
    data = DataCollection()
    lo = x.min(axis=0) - 10.0
    hi = x.max(axis=0) + 10.0
    cell = np.zeros((3, 4))
    cell[:, :3] = np.diag(hi - lo)
    cell[:, 3] = lo
    data.create_cell(cell, pbc=(False, False, False))
    data.create_particles(count=len(x)).create_property("Position", data=x)
    return data
