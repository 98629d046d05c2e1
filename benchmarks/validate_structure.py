"""How often each structure classifier labels interior atoms of synthetic particles right and wrong.

Particles (``nanotraj.lattices``, Pt spacing d_nn = 2.766 A except bcc: Fe, a = 2.8665 A, analysed
as Fe so that the workflow's cutoff keeps the 2nd shell):

* ``fcc``  -- ``fcc_sphere`` of ~2,000 atoms;
* ``hcp``  -- ``hcp_sphere`` (ideal c/a) of ~2,000 atoms;
* ``bcc``  -- ``bcc_sphere`` of ~2,000 atoms;
* ``ico``  -- Mackay ``icosahedron(7)``, 1,415 atoms;
* ``deca`` -- Ino ``decahedron(12)``, ~1,800 atoms;
* ``amorphous`` -- ``amorphous_sphere(20.0)``, 2,149 atoms (a jammed, LJ-quenched glass),

each with Gaussian noise of 0, 0.05, 0.10, 0.15, 0.20 and 0.25 A per coordinate (seeds 0 ..
``--seeds``-1).  Every classifier sees the noisy coordinates only.

Interior atoms: atoms at least 2 d_nn below the convex hull of the **noise-free** particle (the
outer two layers are left out; a coarse-grained BOO value also depends on the neighbours'
shells).

Truth: conventional CNA (``nanotraj.cna.cna``) of the **noise-free** particle with a cutoff
between the shells (1.2 d_nn; bcc: ``(1 + sqrt 2)/2 a``, between its 2nd and 3rd shells;
amorphous: its own first minimum of g(r)).  So the tetrahedra of the icosahedron and the
decahedron are fcc, their twin planes hcp (a coherent twin boundary is one hcp layer, as OVITO
shows it), the five-fold axes "other" (CNA 2 x 555 + 10 x 422) and the icosahedron's centre
ico; the glass has a few CNA-ico atoms and nothing crystalline.

Scores per (particle, noise, classifier), over the interior atoms: **right** = the classifier's
code equals the truth and the truth is a structure (fcc, hcp, bcc, ico); **wrong** = the
classifier names a structure that is not the truth (for the glass: any structure other than a
CNA-ico atom's ico); the rest is "other"/"disordered" (not identified).  The columns ``wrong
as`` break the wrong labels down by the name given.

Classifiers (the ``CLASSIFIERS`` table; add one with ``register``), all returning the codes 0
other, 1 fcc, 2 hcp, 3 bcc, 4 ico:

* ``cna`` -- conventional CNA on the workflow's bonds (``cna.cna``);
* ``boo-old`` -- ``structure.boo_class`` (nearest reference point, the workflow's current BOO
  classes);
* ``boo-new`` -- ``boo_classes.classify_boo`` with the frame's own ``noise.noise_estimate``;
* ``boo-new+xtal`` -- the same, fcc/hcp/bcc also requiring ``crystalline``;
* ``ptm`` -- ``nanotraj.ptm.ptm(coords, rmsd_cutoff=0.13)["structure"]`` (the workflow's
  default cutoff, ``structure.ptm_rmsd_cutoff``; sc counted as other), ``acna`` --
  ``nanotraj.acna.adaptive_cna(coords)``: only when those modules are importable;
* ``ovito-acna``, ``ovito-ptm`` -- OVITO's ``CommonNeighborAnalysisModifier`` (adaptive) and
  ``PolyhedralTemplateMatchingModifier`` (defaults): only when ``ovito`` is importable.  With
  OVITO, a second table gives each classifier's agreement with OVITO's adaptive CNA atom by
  atom (same code, "other" = "disordered").

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/validate_structure.py            # ~1 minute
    PYTHONPATH=src /tmp/ovenv/bin/python benchmarks/validate_structure.py       # + OVITO
    ... --seeds 3 --noise 0 0.1 0.25 --particles fcc hcp --classifiers boo-new cna
    ... --timing     # median times of noise_estimate and classify_boo, 2e3 .. 1e6 atoms
    ... --ablation   # + boo-new with min_posterior, core, sigma_error changed, without W4,
                     # and with the crystal references only (the measurements behind defaults)
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from _common import ovito_collection  # noqa: E402

from nanotraj import boo_classes as bc  # noqa: E402
from nanotraj import cna as cn_mod  # noqa: E402
from nanotraj import lattices as lat  # noqa: E402
from nanotraj import structure as st  # noqa: E402
from nanotraj.bonds import find_bonds  # noqa: E402
from nanotraj.elements import lattice  # noqa: E402

NAMES = ("other", "fcc", "hcp", "bcc", "ico")
NOISE = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25)
PT_NN = lat.PT_NN
FE_A = lattice("Fe")["a"]


# ----------------------------------------------------------------------------------------------
# particles
# ----------------------------------------------------------------------------------------------
@cache
def _amorphous():
    return lat.amorphous_sphere(20.0, PT_NN, seed=0)


#: name -> (noise-free coordinates (callable), element analysed as, d_nn, truth cutoff or None)
PARTICLES = {
    "fcc": (lambda: lat.fcc_sphere(20.0), "Pt", PT_NN, 1.2 * PT_NN),
    "hcp": (lambda: lat.hcp_sphere(20.0), "Pt", PT_NN, 1.2 * PT_NN),
    "bcc": (lambda: lat.bcc_sphere(19.5, FE_A), "Fe", FE_A * math.sqrt(3) / 2,
            0.5 * (1 + math.sqrt(2)) * FE_A),
    "ico": (lambda: lat.icosahedron(7), "Pt", PT_NN, 1.2 * PT_NN),
    "deca": (lambda: lat.decahedron(12), "Pt", PT_NN, 1.2 * PT_NN),
    "amorphous": (_amorphous, "Pt", PT_NN, None),
}


def _depth_below_hull(x):
    from scipy.spatial import ConvexHull

    eq = ConvexHull(x).equations
    return -(x @ eq[:, :3].T + eq[:, 3]).max(axis=1)


@cache
def reference(name):
    """(noise-free coords, interior mask, truth codes) of a particle."""
    make, element, nn, cut = PARTICLES[name]
    x0 = make()
    interior = _depth_below_hull(x0) >= 2.0 * nn
    if cut is None:  # the glass: its own first minimum
        cut = bc.workflow_descriptors(x0, element=element, noise=False)["cutoff"]
    bonds, _ = find_bonds(x0, cut)
    _, truth = cn_mod.cna(len(x0), bonds)
    return x0, interior, np.asarray(truth, np.int64)


def noisy(name, noise, seed):
    x0 = reference(name)[0]
    if noise == 0:
        return x0.copy()
    return x0 + np.random.default_rng(1000 + seed).normal(0.0, noise, x0.shape)


# ----------------------------------------------------------------------------------------------
# classifiers: name -> fn(coords, descriptors) -> (N,) codes 0..4
# ----------------------------------------------------------------------------------------------
CLASSIFIERS = {}


def register(name, fn):
    """Add a classifier ``fn(coords, descriptors) -> (N,) int codes`` (0 other, 1 fcc, 2 hcp,
    3 bcc, 4 ico); ``descriptors`` is :func:`nanotraj.boo_classes.workflow_descriptors`."""
    CLASSIFIERS[name] = fn


def _codes_of_names(labels):
    lookup = {"fcc": 1, "hcp": 2, "bcc": 3, "ico": 4}
    labels = np.asarray(labels).astype(str)
    out = np.zeros(len(labels), np.int64)
    for k, v in lookup.items():
        out[labels == k] = v
    return out


def _cna(x, d):
    return np.asarray(cn_mod.cna(len(x), d["bonds"])[1], np.int64)


def _boo_old(x, d):
    return _codes_of_names(st.boo_class(d["Q4"], d["Q6"], d["W6"], d["crystalline"]))


def _boo_new(x, d, crystalline=False, **options):
    nz = d["noise"]
    return _codes_of_names(bc.classify_boo(
        d["Q4"], d["Q6"], d["W4"], d["W6"], sigma=nz["sigma"], nn_distance=nz["nn_distance"],
        cutoff=d["cutoff"], crystalline=d["crystalline"] if crystalline else None, **options))


register("cna", _cna)
register("boo-old", _boo_old)
register("boo-new", _boo_new)
register("boo-new+xtal", lambda x, d: _boo_new(x, d, crystalline=True))


def _ablation():
    """Variants of boo-new with one option changed (the measurements behind the defaults), and
    the posterior rule without the extra reference environments (twin, glass, axis)."""
    variants = {
        "p=0.9": {"min_posterior": 0.9}, "p=0.999": {"min_posterior": 0.999},
        "core=0.95": {"core": 0.95}, "core=0.999": {"core": 0.999},
        "sigma_error=0": {"sigma_error": 0.0}, "sigma_error=0.15": {"sigma_error": 0.15},
        "no W4": {"features": ("Q4", "Q6", "W6")},
    }
    for label, opts in variants.items():
        register(f"boo-new[{label}]", lambda x, d, o=opts: _boo_new(x, d, **o))
    table = bc.load_table()
    keep = [k for k, e in enumerate(table["environments"]) if str(e) in bc.STRUCTURES]
    crystals_only = dict(table, environments=table["environments"][keep], mean=table["mean"][keep],
                         cov=table["cov"][keep], n=table["n"][keep])
    register("boo-new[crystals only]", lambda x, d: _boo_new(x, d, table=crystals_only))


def _optional():
    try:
        from nanotraj import ptm as _ptm

        def ptm_codes(x, d):
            res = _ptm.ptm(x, rmsd_cutoff=0.13)  # the workflow's structure.ptm_rmsd_cutoff
            s = res["structure"] if isinstance(res, dict) else res
            s = np.asarray(s, np.int64)
            return np.where(s <= 4, s, 0)

        register("ptm", ptm_codes)
    except ImportError:
        pass
    try:
        from nanotraj import acna as _acna

        def acna_codes(x, d):
            res = _acna.adaptive_cna(x)
            s = res["structure"] if isinstance(res, dict) else res
            return np.asarray(s, np.int64)

        register("acna", acna_codes)
    except ImportError:
        pass
    try:
        import ovito  # noqa: F401

        register("ovito-acna", lambda x, d: _ovito(x, "acna"))
        register("ovito-ptm", lambda x, d: _ovito(x, "ptm"))
    except ImportError:
        pass


def _ovito(coords, which):
    """OVITO's per-atom structure types on a DataCollection built here (non-periodic cell)."""
    from ovito.modifiers import CommonNeighborAnalysisModifier, PolyhedralTemplateMatchingModifier

    data = ovito_collection(coords)
    if which == "acna":
        data.apply(CommonNeighborAnalysisModifier())  # adaptive (the default mode)
    else:
        data.apply(PolyhedralTemplateMatchingModifier())  # fcc, hcp, bcc, ico enabled by default
    s = np.asarray(data.particles["Structure Type"][...], np.int64)
    return np.where(s <= 4, s, 0)


# ----------------------------------------------------------------------------------------------
# scores
# ----------------------------------------------------------------------------------------------
def score(codes, truth, mask):
    """(right, wrong, wrong by name) fractions of the masked atoms."""
    c, t = codes[mask], truth[mask]
    n = max(1, len(c))
    named = c > 0
    right = np.count_nonzero(named & (c == t)) / n
    wrong_mask = named & (c != t)
    by = {NAMES[k]: np.count_nonzero(wrong_mask & (c == k)) / n for k in range(1, 5)}
    return right, np.count_nonzero(wrong_mask) / n, by


def run(particles, noises, seeds, classifiers):
    rows = []
    times = {name: [] for name in classifiers}
    for pname in particles:
        _, interior, truth = reference(pname)
        element = PARTICLES[pname][1]
        for noise in noises:
            acc = {name: [] for name in classifiers}
            sig = []
            for seed in range(seeds):
                x = noisy(pname, noise, seed)
                d = bc.workflow_descriptors(x, element=element)
                sig.append(d["noise"]["sigma"])
                codes = {}
                for name in classifiers:
                    t0 = time.perf_counter()
                    codes[name] = CLASSIFIERS[name](x, d)
                    times[name].append(time.perf_counter() - t0)
                    acc[name].append(score(codes[name], truth, interior))
                if "ovito-acna" in codes:
                    for name in classifiers:
                        c, o = codes[name][interior], codes["ovito-acna"][interior]
                        agree = np.mean(c == o)
                        named = o > 0
                        same = np.mean(c[named] == o[named]) if named.any() else math.nan
                        conflict = np.mean((c > 0) & (o > 0) & (c != o))
                        acc[name][-1] = acc[name][-1] + (agree, same, conflict)
            for name in classifiers:
                vals = acc[name]
                right = np.mean([v[0] for v in vals])
                wrong = np.mean([v[1] for v in vals])
                by = {k: np.mean([v[2][k] for v in vals]) for k in NAMES[1:]}
                ov = (tuple(np.nanmean([v[k] for v in vals]) for k in (3, 4, 5))
                      if len(vals[0]) > 3 else None)
                rows.append({"particle": pname, "noise": noise, "classifier": name,
                             "n_interior": int(interior.sum()), "n_atoms": len(truth),
                             "sigma_est": float(np.mean(sig)), "right": right, "wrong": wrong,
                             "by": by, "ovito": ov})
            print(f"  {pname} {noise:.2f} A done", file=sys.stderr, flush=True)
    return rows, times


def markdown(rows, times, seeds):
    out = ["| particle | noise (A) | sigma est. (A) | classifier | right % | wrong % | wrong as |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        wrong_as = ", ".join(f"{k} {100 * v:.1f}" for k, v in r["by"].items() if v > 0) or "-"
        out.append(f"| {r['particle']} ({r['n_interior']}/{r['n_atoms']}) | {r['noise']:.2f} | "
                   f"{r['sigma_est']:.3f} | {r['classifier']} | {100 * r['right']:.1f} | "
                   f"{100 * r['wrong']:.1f} | {wrong_as} |")
    out.append("")
    out.append(f"Interior atoms (count/total in the particle column), means over {seeds} "
               "noise seed(s).  right: named the noise-free CNA structure; wrong: named another "
               "structure; the rest: other/disordered.")
    if any(r["ovito"] is not None for r in rows):
        out += ["", "Agreement with OVITO's adaptive CNA on the interior atoms.  agree: same code "
                "(other = disordered); same where OVITO names one: of the atoms OVITO calls "
                "fcc/hcp/bcc/ico, the fraction given the same name; conflict: both name a "
                "structure, different ones.", "",
                "| particle | noise (A) | classifier | agree % | same where OVITO names one % "
                "| conflict % |", "|---|---|---|---|---|---|"]
        for r in rows:
            if r["ovito"] is not None:
                a, same, c = r["ovito"]
                out.append(f"| {r['particle']} | {r['noise']:.2f} | {r['classifier']} | "
                           f"{100 * a:.1f} | {100 * same:.1f} | {100 * c:.1f} |")
    out += ["", "| classifier | median time per particle (s) |", "|---|---|"]
    for name, t in times.items():
        if t:
            out.append(f"| {name} | {statistics.median(t):.4f} |")
    return "\n".join(out)


def timing(repeats=5):
    """Median times of noise_estimate and classify_boo (the new per-frame work) by frame size."""
    from nanotraj.noise import noise_estimate

    lines = ["| atoms | bonds | noise_estimate (s) | classify_boo (s) | workflow BOO stage (s) |",
             "|---|---|---|---|---|"]
    for radius in (20.0, 60.0, 160.0):
        x = lat.fcc_sphere(radius, noise=0.1, seed=0)
        t0 = time.perf_counter()
        d = bc.workflow_descriptors(x, element="Pt", cutoff=1.25 * PT_NN, noise=False)
        t_boo = time.perf_counter() - t0
        t_noise, t_cls = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            nz = noise_estimate(x, d["bonds"], d["distances"])
            t_noise.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bc.classify_boo(d["Q4"], d["Q6"], d["W4"], d["W6"], sigma=nz["sigma"],
                            nn_distance=nz["nn_distance"], cutoff=d["cutoff"])
            t_cls.append(time.perf_counter() - t0)
        lines.append(f"| {len(x)} | {len(d['bonds'])} | {statistics.median(t_noise):.3f} | "
                     f"{statistics.median(t_cls):.3f} | {t_boo:.2f} (bonds + boo, once) |")
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def main(argv=None):
    _optional()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--particles", nargs="+", default=list(PARTICLES), choices=list(PARTICLES))
    p.add_argument("--noise", nargs="+", type=float, default=list(NOISE))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--classifiers", nargs="+", default=None,
                   help=f"default: all registered ({', '.join(CLASSIFIERS)})")
    p.add_argument("--timing", action="store_true", help="time the new functions instead")
    p.add_argument("--ablation", action="store_true",
                   help="also register boo-new with one option changed (min_posterior, core, "
                        "sigma_error)")
    args = p.parse_args(argv)
    if args.ablation:
        _ablation()
    if args.timing:
        print(timing())
        return 0
    names = args.classifiers or list(CLASSIFIERS)
    unknown = [n for n in names if n not in CLASSIFIERS]
    if unknown:
        p.error(f"unknown classifier(s) {unknown}; registered: {list(CLASSIFIERS)}")
    rows, times = run(args.particles, args.noise, args.seeds, names)
    print(markdown(rows, times, args.seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
