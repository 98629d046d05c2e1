"""Compile the numba kernels once (``make venv`` runs ``python -m nanotraj.warmup``).

Every kernel is compiled for the argument types the workflow gives it (read-only arrays mapped
from the stage files, and writable ones) and cached by numba, so that the first large frame
after an install does not wait for the compiler (~10 s, once).
"""

from __future__ import annotations

import numpy as np


def warm_up() -> None:
    """Run every compiled kernel once on a small FCC cluster (``engine="compiled"``)."""
    from nanotraj import _csvfmt, _kernels, acna, alphashape, cna, order, ptm, structure
    from nanotraj.lattices import fcc_sphere

    acna.warm_up()
    alphashape.warm_up()
    ptm.ptm(fcc_sphere(6.0, noise=0.05), deformation_gradient=True)
    _csvfmt.csv_bytes([np.array([1.5]), np.array([1]), np.array(["a"])])

    x = fcc_sphere(8.0)
    d = x[:, None, :] - x[None, :, :]
    i, j = np.nonzero(np.triu(np.einsum("ijk,ijk->ij", d, d) <= 3.4**2, 1))
    bonds = np.stack([i, j], axis=1).astype(np.int64)
    for writable in (True, False):
        xc, bc = x.copy(), bonds.copy()
        xc.setflags(write=writable)
        bc.setflags(write=writable)
        order.boo(xc, bc, products=(6,), engine="compiled")
        cna.cna(len(xc), bc, engine="compiled")
        cn = np.bincount(bc.ravel(), minlength=len(xc))
        structure.surface(xc, cn, bc, 2.77, engine="compiled")
        _kernels.centre_histogram(xc, xc[:5], 0.02, 750, 15.0)


if __name__ == "__main__":
    warm_up()
