"""nanotraj.domains against OVITO 3.17.2: the misorientation against
``PolyhedralTemplateMatchingModifier.calculate_misorientation``, and the domains against the
grains of ``GrainSegmentationModifier``.

Runs only where ``ovito`` is importable (CI: the separate OVITO venv runs ``tests/oracle``)::

    PYTHONPATH=src /tmp/ovenv/bin/python -m pytest -q -s tests/oracle/test_ovito_domains.py

OVITO's grain segmentation (its default graph clustering, ``min_grain_size`` 13, no adoption of
orphan atoms, stacking faults not handled: hcp and fcc are separate phases) on the same PTM
result (RMSD cutoff 0.13, every structure enabled) must give our domains as its fcc grains --
atom for atom without noise; with noise its clustering (not a union-find) leaves a few
well-aligned atoms at a grain's edge without a grain, so there each grain must lie within one
domain and at most 2 % of the domains' atoms be outside the grains (measured: 4 of 400 in one
of the twelve cases) -- and their mean orientations (within 0.01 degrees for the same atoms);
its hcp grains are the twin planes we set aside as planar defects.  Particles: an Ino
decahedron (n = 10), a Mackay icosahedron (7 shells), an fcc crystal with a twin plane, a
30-degree bicrystal; noise 0 and 0.05 A (two seeds).
"""

import math

import numpy as np
import pytest

ovito = pytest.importorskip("ovito")

from nanotraj import domains as dm  # noqa: E402
from nanotraj import lattices as lat  # noqa: E402

from .ovito_data import collection  # noqa: E402

TWIN = "ABC" * 4 + "A" + "CBA" * 4
PARTICLES = {
    "decahedron": lambda s, seed: lat.decahedron(10, noise=s, seed=seed),
    "icosahedron": lambda s, seed: lat.icosahedron(7, noise=s, seed=seed),
    "twin": lambda s, seed: lat.close_packed_sphere(TWIN, 13.0, noise=s, seed=seed),
    "bicrystal": lambda s, seed: lat.bicrystal(14.0, 30.0, noise=s, seed=seed),
}
CASES = [(name, 0.0, 0) for name in PARTICLES] + [
    (name, 0.05, seed) for name in PARTICLES for seed in (1, 2)]


@pytest.mark.parametrize("symmetry", ["cubic", "hexagonal"])
def test_misorientation_equals_ovitos(symmetry):
    from ovito.modifiers import PolyhedralTemplateMatchingModifier as PTM

    rng = np.random.default_rng(7)
    a = rng.normal(size=(2000, 4))
    b = rng.normal(size=(2000, 4))
    a /= np.linalg.norm(a, axis=1)[:, None]
    b /= np.linalg.norm(b, axis=1)[:, None]
    b[:500] = a[:500] + rng.normal(0, 0.02, (500, 4))  # small angles too
    b[:500] /= np.linalg.norm(b[:500], axis=1)[:, None]
    theirs = np.degrees(PTM.calculate_misorientation(a, b, symmetry=symmetry))
    ours = dm.misorientation(a, b, symmetry)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def _ovito_grains(x):
    from ovito.modifiers import GrainSegmentationModifier, PolyhedralTemplateMatchingModifier

    data = collection(x)
    ptm = PolyhedralTemplateMatchingModifier(output_orientation=True, rmsd_cutoff=0.13)
    for t in ptm.structures:
        t.enabled = True
    data.apply(ptm)
    data.apply(GrainSegmentationModifier(min_grain_size=13, orphan_adoption=False,
                                         handle_stacking_faults=False))
    grain = np.asarray(data.particles["Grain"][...], dtype=np.int64)
    table = data.tables["grains"]
    types = np.asarray(table["Structure Type"][...])
    orient = np.asarray(table["Orientation"][...], dtype=np.float64)
    return grain, types, orient


@pytest.mark.parametrize(("name", "noise", "seed"), CASES)
def test_domains_are_ovitos_fcc_grains(name, noise, seed):
    from ovito.modifiers import PolyhedralTemplateMatchingModifier as PTM

    from nanotraj.bonds import find_bonds
    from nanotraj.order import boo
    from nanotraj.ptm import ptm
    from nanotraj.rdf import first_minimum, rdf

    x = PARTICLES[name](noise, seed)
    r, g, counts = rdf(x, return_counts=True)
    bonds, dist = find_bonds(x, first_minimum(r, g, counts=counts))
    o = boo(x, bonds)
    p = ptm(x, rmsd_cutoff=0.13)
    res = dm.find_domains(x, bonds, p["structure"], p["orientation"], Q4=o["Q4"], Q6=o["Q6"],
                          distances=dist)
    grain, types, orient = _ovito_grains(x)
    fcc = int(PTM.Type.FCC)
    theirs = {tuple(np.flatnonzero(grain == k)): k for k in range(len(types))
              if types[k] == fcc}
    ours = {tuple(np.flatnonzero(res["domain"] == k)): k
            for k in range(res["summary"]["n_domains"])}
    # match each of our domains to the OVITO grain it shares most atoms with
    pairs = []
    for atoms, k in ours.items():
        best = max(theirs, key=lambda t: len(set(t) & set(atoms)))
        jaccard = len(set(best) & set(atoms)) / len(set(best) | set(atoms))
        pairs.append((atoms, k, best, jaccard))
    identical = sum(1 for a, _, t, _ in pairs if a == t)
    print(f"{name} noise {noise} seed {seed}: {len(ours)} domains, OVITO {len(theirs)} fcc "
          f"grains (+ {int(np.sum(types != fcc))} other grains); {identical} identical, "
          f"smallest overlap {min(p[3] for p in pairs):.3f}")
    assert len(ours) == len(theirs) and len({p[2] for p in pairs}) == len(pairs)
    assert all(set(t) <= set(a) for a, _, t, _ in pairs)  # OVITO's grains are within ours
    differ = sum(len(set(a) - set(t)) for a, _, t, _ in pairs)
    assert differ <= 0.02 * sum(len(a) for a in ours)
    if noise == 0:
        assert identical == len(ours)
    d = res["domains"]
    worst = 0.0
    for atoms, k, best, _ in pairs:
        mine = np.array([d[f"orientation_{c}"][k] for c in "xyzw"])
        angle = dm.misorientation(mine, orient[theirs[best]])
        assert angle < (0.01 if atoms == best else 0.5)
        worst = max(worst, angle if atoms == best else 0.0)
    print(f"  mean orientations of identical domains within {worst:.2e} degrees")
    assert math.isfinite(float(res["summary"]["largest_domain_fraction"]))
