"""The shipped demo series: a synthetic etching experiment on a Pt nanocrystal.

A perfect FCC truncated octahedron (:func:`nanotraj.lattices.truncated_octahedron`) loses atoms
over the frames, low-coordinated sites first (corners, edges, then facets), while its remaining
atoms are displaced by gaussian noise that grows with time, as the surface of an etched particle
roughens. All frames share one reference frame (as docked SINGLE reconstructions do). The series is
deterministic for a given seed; ``scripts/make_demo.py`` regenerates ``resources/demo/``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

#: Time between frames (s) and default number of frames.
DT = 15.0
N_FRAMES = 8


def etching_series(
    *,
    n_frames: int = N_FRAMES,
    a: float = 3.912,
    removal: float = 0.07,
    noise0: float = 0.04,
    noise_step: float = 0.02,
    seed: int = 2026,
):
    """Coordinates of each frame of the demo series (list of (N_k, 3) float64 arrays, Angstrom).

    Frame 0 is the perfect truncated octahedron with ``noise0`` A of gaussian noise. Between two
    frames a fraction ``removal`` of the atoms is removed, each atom drawn with weight
    ``exp(-0.9 cn)`` where cn counts neighbours within 1.2 a/sqrt(2) (so corners and edges go
    first); the noise grows by ``noise_step`` A per frame.
    """
    from scipy.spatial import cKDTree

    from .lattices import truncated_octahedron

    rng = np.random.default_rng(seed)
    base = np.asarray(truncated_octahedron(a=a), dtype=np.float64)
    base = base - base.mean(axis=0)
    nn_cut = 1.2 * a / math.sqrt(2.0)
    frames = []
    for k in range(n_frames):
        if k > 0:
            tree = cKDTree(base)
            cn = np.array([len(n) - 1 for n in tree.query_ball_point(base, nn_cut)])
            weights = np.exp(-0.9 * cn)
            n_remove = int(round(removal * len(base)))
            gone = rng.choice(len(base), size=n_remove, replace=False, p=weights / weights.sum())
            base = np.delete(base, gone, axis=0)
        sigma = noise0 + noise_step * k
        frames.append(base + rng.normal(scale=sigma, size=base.shape))
    return frames


def write_demo(folder, sheet, *, series="demo", element="Pt", **kwargs) -> list[Path]:
    """Write the demo frames as PDB files into ``folder`` and their frames sheet to ``sheet``.

    Paths in the sheet are written relative to the sheet's parent's parent (the project root when
    the sheet is ``config/frames.tsv``), as the workflow expects paths relative to the working
    directory.
    """
    from .io import write_values

    folder, sheet = Path(folder), Path(sheet)
    folder.mkdir(parents=True, exist_ok=True)
    root = sheet.resolve().parent.parent
    lines = ["series\tframe\ttime\tpath"]
    paths = []
    for k, coords in enumerate(etching_series(**kwargs)):
        name = f"{series}_t{k:02d}"
        path = folder / f"{name}.pdb"
        write_values(path, coords, np.zeros(len(coords)), element=element)
        rel = path.resolve().relative_to(root)
        lines.append(f"{series}\t{name}\t{k * DT:g}\t{rel.as_posix()}")
        paths.append(path)
    sheet.parent.mkdir(parents=True, exist_ok=True)
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths
