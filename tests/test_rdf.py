"""nanotraj.rdf: g(r) against the seed's formula and analytic expectations; the first minimum."""

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from nanotraj.errors import AnalysisError
from nanotraj.io import read_frame
from nanotraj.rdf import first_minimum, rdf

SERIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "single-pt-series"
STAGES = [f"stage{k}_docked_ATMS.pdb" for k in (1, 2, 3, 4)]
IDEAL = "COM_trunc-octa-3_2.7nm.pdb"


def seed_gr(xyz, dr, m):
    """The seed's gr_calculation (all pairwise distances + histogram), with bins 0..m*dr."""
    dist = pdist(xyz)
    edges = np.arange(m + 1) * dr
    dn, _ = np.histogram(dist, bins=edges)
    r = edges[:-1] + dr / 2
    ext = xyz.max(axis=0) - xyz.min(axis=0)
    big_r = ext.sum() / 3 / 2
    return r, big_r**3 / (3 * dr * dn.sum()) * dn / r**2


def load(name):
    p = SERIES / name
    if not p.exists():
        pytest.skip(f"shared data not available at {p}")
    return read_frame(p).coords


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_seed_formula_random_cluster(seed):
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(0, 12, (400, 3))
    dr, r_max = 0.02, 25.0  # beyond the largest distance (12 sqrt 3 = 20.8): same pairs
    r, g = rdf(xyz, dr=dr, r_max=r_max)
    r0, g0 = seed_gr(xyz, dr, round(r_max / dr))
    assert len(r) == round(r_max / dr) == 1250
    np.testing.assert_allclose(r, r0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-12)
    assert g.sum() > 0


@pytest.mark.parametrize("name", ["stage1_docked_ATMS.pdb", IDEAL])
def test_equals_seed_formula_real(name):
    xyz = load(name)
    r, g = rdf(xyz, dr=0.02, r_max=40.0)
    _, g0 = seed_gr(xyz, 0.02, 2000)
    # lattice data written with 3 decimals has distances exactly on bin edges (19.56 A = 978 dr
    # in the ideal cluster); pdist and the kd-tree round such ties differently, so the two bins
    # around an exact tie are compared by their sum.
    d = pdist(xyz)
    edges = np.arange(2001) * 0.02
    ds = np.sort(d)
    pos = np.clip(np.searchsorted(ds, edges), 1, len(ds) - 1)
    gap = np.minimum(np.abs(ds[pos] - edges), np.abs(ds[pos - 1] - edges))
    ties = [k for k in range(1, 2000) if gap[k] < 1e-9]
    mask = np.ones(2000, bool)
    for k in ties:
        mask[k - 1 : k + 1] = False
        w = r[k - 1 : k + 1] ** 2
        assert abs((g[k - 1 : k + 1] * w).sum() - (g0[k - 1 : k + 1] * w).sum()) < 1e-9
    np.testing.assert_allclose(g[mask], g0[mask], rtol=1e-12, atol=1e-12)
    assert name != IDEAL or ties  # the ideal cluster does have ties


def test_default_bins():
    r, g = rdf(np.random.default_rng(0).uniform(0, 10, (50, 3)))
    assert r.shape == g.shape == (750,)
    np.testing.assert_allclose(r[:2], [0.01, 0.03])
    np.testing.assert_allclose(r[-1], 14.99)


def test_uniform_cube_analytic():
    """Random points in a cube: the seed normalisation does NOT tend to 1.

    For a cube of side L the distance density is f(r) = (4 pi s^2 - 6 pi s^3 + 8 s^4) / L with
    s = r/L (s <= 1), so with R = L/2, g(r) = R^3 f(r) / (3 r^2) -> pi/6 ~ 0.524 at small r and
    decreases linearly (for a ball it would tend to 1).  We compare the binned expectation
    (exact integral of f over each bin).  Statistical error per bin: Poisson (1/sqrt(n_k), n_k >~
    3e4 here, i.e. < 0.6 %) plus the boundary term of the U-statistic of comparable size, so
    ~1 % rms; the tolerance 4 % is > 4 sigma.
    """
    rng = np.random.default_rng(42)
    n, big_l = 20000, 100.0
    xyz = rng.uniform(0, big_l, (n, 3))
    dr, r_max = 0.5, 20.0
    r, g = rdf(xyz, dr=dr, r_max=r_max)
    ext = xyz.max(axis=0) - xyz.min(axis=0)
    big_r = ext.sum() / 6
    side = ext.mean()

    def cdf(s):  # integral of the unit-cube distance density
        return 4 * np.pi / 3 * s**3 - 1.5 * np.pi * s**4 + 1.6 * s**5

    edges = np.arange(len(r) + 1) * dr
    frac = np.diff(cdf(edges / side))  # expected fraction of pairs in each bin
    expected = big_r**3 / (3 * dr * r**2) * frac
    sel = r > 5  # enough pairs per bin
    np.testing.assert_allclose(g[sel], expected[sel], rtol=0.04)
    assert abs(expected[sel][0] - np.pi / 6 * (1 - 1.5 * 5.25 / side)) < 0.01


def test_memory_bounded():
    """20000 atoms: all N^2/2 distances would need 1.6 GB; the kd-tree count needs a few MB."""
    xyz = np.random.default_rng(0).uniform(0, 60, (20000, 3))
    tracemalloc.start()
    rdf(xyz, dr=0.1, r_max=4.0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 30e6


def test_invalid_input():
    with pytest.raises(ValueError):
        rdf(np.zeros((1, 3)))
    with pytest.raises(ValueError):
        rdf(np.zeros((5, 2)))
    with pytest.raises(ValueError):
        rdf(np.zeros((5, 3)))  # zero extent


# ------------------------------------------------------------------ first minimum


def gauss(r, mu, s, h):
    return h * np.exp(-0.5 * ((r - mu) / s) ** 2)


def test_stage1_cutoff_matches_authors():
    r, g = rdf(load("stage1_docked_ATMS.pdb"))
    assert abs(first_minimum(r, g) - 3.41) <= 0.10


@pytest.mark.parametrize("name", STAGES + [IDEAL])
def test_all_stages_between_first_and_second_shell(name):
    r, g = rdf(load(name))
    c = first_minimum(r, g)
    a = 3.912
    assert a / np.sqrt(2) + 0.3 < c < a - 0.3  # between Pt's first (2.77) and second (3.91) shells
    assert 3.2 <= c <= 3.6


def test_flat_minimum_middle():
    r = (np.arange(500) + 0.5) * 0.02
    # first and second peaks mirror each other about 3.0, g exactly 0 in between
    g = gauss(r, 2.0, 0.08, 5.0) + gauss(r, 4.0, 0.08, 5.0)
    g[(r > 2.4) & (r < 3.6)] = 0.0
    assert abs(first_minimum(r, g) - 3.0) < 0.011
    # flat part from 3.2 to 3.6 after an asymmetric tail: its middle, 3.4
    g2 = gauss(r, 2.77, 0.1, 5.0) + gauss(r, 3.95, 0.1, 1.0)
    g2[(r > 3.2) & (r < 3.6)] = 0.0
    g2[(r >= 3.0) & (r <= 3.2)] = np.linspace(0.5, 0.0, ((r >= 3.0) & (r <= 3.2)).sum())
    g2[(r >= 3.6) & (r <= 3.8)] = np.linspace(0.0, 0.5, ((r >= 3.6) & (r <= 3.8)).sum())
    assert abs(first_minimum(r, g2, sigma=0) - 3.4) < 0.011
    assert abs(first_minimum(r, g2) - 3.4) < 0.03


@pytest.mark.parametrize("seed", range(5))
def test_noisy_curve(seed):
    r = (np.arange(750) + 0.5) * 0.02
    clean = gauss(r, 2.75, 0.2, 5.0) + gauss(r, 3.95, 0.3, 2.0)
    win = (r > 2.8) & (r < 3.9)
    true_min = r[win][np.argmin(clean[win])]  # 3.42
    rng = np.random.default_rng(seed)
    noisy = np.clip(clean + rng.normal(0, 0.25, r.shape), 0, None)  # 5 % of the peak per bin
    assert abs(first_minimum(r, noisy) - true_min) < 0.1


def test_single_close_pair_is_not_the_first_peak():
    r = (np.arange(750) + 0.5) * 0.02
    g = gauss(r, 2.77, 0.08, 5.0) + gauss(r, 3.91, 0.08, 1.5)
    g[60] = 1.0  # one spurious pair at 1.2 A
    c = first_minimum(r, g)
    assert 3.2 < c < 3.5


@pytest.mark.parametrize("n, side", [(300, 15.0), (3000, 40.0)])
def test_gas_has_no_minimum(n, side):
    xyz = np.random.default_rng(n).uniform(0, side, (n, 3))
    r, g = rdf(xyz)
    with pytest.raises(AnalysisError) as info:
        first_minimum(r, g)
    assert str(info.value).startswith("g(r): ")
    assert "\n" not in str(info.value)


def test_no_peak_or_zero():
    r = (np.arange(100) + 0.5) * 0.02
    with pytest.raises(AnalysisError, match="zero everywhere"):
        first_minimum(r, np.zeros(100))
    with pytest.raises(AnalysisError, match="no minimum"):
        first_minimum(r, np.exp(-r))  # monotonic
    with pytest.raises(AnalysisError, match="no minimum"):
        first_minimum(r, gauss(r, 1.0, 0.1, 3.0))  # a peak but nothing after it rises


def test_sampled_above_max_centres():
    """Above max_centres atoms g(r) is estimated from a sample of centres: close to exact."""
    from nanotraj.lattices import fcc_sphere

    xyz = fcc_sphere(20.0, 3.912, noise=0.05, seed=0)  # ~2,100 atoms
    r, g = rdf(xyz)
    r2, g2 = rdf(xyz, max_centres=800)
    r3, g3 = rdf(xyz, max_centres=800)
    np.testing.assert_array_equal(g2, g3)  # deterministic
    np.testing.assert_array_equal(r, r2)
    w = (r > 2.3) & (r < 3.2)  # first shell: area within 5 %
    assert abs((g2[w] * r[w] ** 2).sum() / (g[w] * r[w] ** 2).sum() - 1) < 0.05
    w = (r > 2.0) & (r < 15.0)  # all pairs within 15 A: within 2 %
    assert abs((g2[w] * r[w] ** 2).sum() / (g[w] * r[w] ** 2).sum() - 1) < 0.02
    assert abs(first_minimum(r2, g2) - first_minimum(r, g)) < 0.05
    np.testing.assert_array_equal(rdf(xyz, max_centres=None)[1], g)  # exact below/without
    with pytest.raises(ValueError):
        rdf(xyz, max_centres=0)


def test_workers_do_not_change_g(monkeypatch):
    """Pair counts are integers summed per chunk: any number of threads gives the same g(r)."""
    from nanotraj import rdf as rdf_module
    from nanotraj.lattices import fcc_sphere

    monkeypatch.setattr(rdf_module, "_CENTRE_CHUNK", 32)  # 150 centres: 5 chunks
    xyz = fcc_sphere(14.0, 3.912, noise=0.05, seed=2)  # ~700 atoms
    one = rdf(xyz, max_centres=150)[1]
    for workers in (2, 3):
        np.testing.assert_array_equal(rdf(xyz, max_centres=150, workers=workers)[1], one)


# ----------------------------------------------------------------------------------------------
# bcc metals: the automatic cutoff keeps the second shell


@pytest.mark.parametrize("noise", [0.0, 0.05, 0.12])
def test_bcc_cutoff_keeps_the_second_shell(noise):
    """A bcc Fe particle: the first minimum of g(r) lies between the 8 first (0.866 a) and the 6
    second (a) neighbours when the shells are resolved; with r_min = a the cutoff is the minimum
    between the 2nd and 3rd (1.414 a) shells, ~1.2 a (OVITO's fixed CNA cutoff for bcc:
    (1 + sqrt 2) / 2 a = 1.207 a), resolved or not."""
    from nanotraj.elements import auto_cutoff_min, lattice
    from nanotraj.lattices import bcc_sphere

    a = lattice("Fe")["a"]
    assert auto_cutoff_min("Fe") == 1.06 * a
    assert auto_cutoff_min("Pt") == 0.0 == auto_cutoff_min("Co")
    r, g = rdf(bcc_sphere(4 * a, a, noise=noise, seed=1))
    cut = first_minimum(r, g, r_min=auto_cutoff_min("Fe"))
    assert 1.15 * a < cut < 1.25 * a
    if noise < 0.1:  # resolved shells: the plain first minimum separates them
        assert 0.866 * a < first_minimum(r, g) < a
    # fcc is unchanged by r_min = 0
    from nanotraj.lattices import fcc_sphere

    r, g = rdf(fcc_sphere(10.0, noise=noise, seed=1))
    assert first_minimum(r, g, r_min=0.0) == first_minimum(r, g)


@pytest.mark.parametrize("scale", [0.9, 1.0, 1.1])
def test_bcc_cutoff_tolerates_a_lattice_off_the_table(scale):
    """A bcc particle whose lattice constant is 10 % off Fe's (strain, a voxel-size error,
    another bcc metal analysed as Fe): still the 2nd/3rd shell valley (at +8 % the lattice
    constant itself as r_min landed between the 1st and 2nd shells)."""
    from nanotraj.elements import auto_cutoff_min, lattice
    from nanotraj.lattices import bcc_sphere

    a = lattice("Fe")["a"] * scale
    r, g = rdf(bcc_sphere(4 * a, a, noise=0.05, seed=3))
    assert 1.15 * a < first_minimum(r, g, r_min=auto_cutoff_min("Fe")) < 1.25 * a


def test_bcc_particle_is_recognised_with_the_automatic_cutoff(tmp_path):
    """The whole frame with element Fe and cutoff auto: interior atoms have 14 bonds and are bcc
    for CNA and for the BOO classes (with a first-shell cutoff none was)."""
    from nanotraj.elements import lattice
    from nanotraj.io import write_values
    from nanotraj.lattices import bcc_sphere
    from nanotraj.stages import frame as stage
    from nanotraj.tables import read_rows

    a = lattice("Fe")["a"]
    src = tmp_path / "fe.pdb"
    xyz = bcc_sphere(4 * a, a, noise=0.03, seed=2)
    write_values(src, xyz, np.zeros(len(xyz)), element="Fe")
    paths = stage.run_frame(src, tmp_path / "res", series="s", frame="f", time=0.0,
                               element="Fe", pdbs=False)
    _, rows = read_rows(paths["summary"])
    summary = rows[0]
    assert 1.15 * a < float(summary["cutoff"]) < 1.25 * a
    assert float(summary["fraction_bcc"]) > 0.3 and float(summary["fraction_bcc_boo"]) > 0.3
    _, atoms = read_rows(paths["atoms"])
    assert max(int(r["cn"]) for r in atoms) == 14


def test_smallest_clusters_get_a_cutoff_from_their_pair_counts():
    """A 13-atom icosahedron (pairs at 2.77, 2.91, 4.71, 5.55 A: 12, 30, 30, 6) has g = 0 from
    2.93 to 4.70 A. Recovered from g alone its counts share the factor 6 (2, 5, 5, 1) and the
    first peak failed the significance test ("no minimum after the peak at 5.55 A"); with the
    counts of rdf() the cutoff is the middle of the gap. A gas is still rejected, and says so."""
    phi = (1 + 5**0.5) / 2
    v = np.array([[0, s1, s2 * phi] for s1 in (1, -1) for s2 in (1, -1)], float)
    v = np.vstack([v, np.roll(v, 1, axis=1), np.roll(v, 2, axis=1)])
    v *= 2.77 / np.linalg.norm(v[0])
    ico = np.vstack([[0.0, 0.0, 0.0], v])
    assert len(np.unique(np.round(ico, 6), axis=0)) == 13
    r, g, counts = rdf(ico, return_counts=True)
    assert counts.sum() == 13 * 12 // 2 and counts.dtype == np.int64
    assert abs(first_minimum(r, g, counts=counts) - (2.92 + 4.70) / 2) < 0.03
    with pytest.raises(AnalysisError):
        first_minimum(r, g)  # from g alone: counts too small by the common factor 6
    gas = np.random.default_rng(0).uniform(0, 20, (300, 3))
    r, g, counts = rdf(gas, return_counts=True)
    with pytest.raises(AnalysisError, match="no significant peak"):
        first_minimum(r, g, counts=counts)
