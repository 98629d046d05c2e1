"""Radial distribution function g(r) of a finite particle and its first minimum (the bond cutoff).

All lengths in Angstrom.
"""

from __future__ import annotations

import numpy as np

from nanotraj.errors import AnalysisError

__all__ = ["MAX_CENTRES", "rdf", "first_minimum"]


#: Frames with more atoms than this count the pairs of a sample of this many centres (see rdf).
MAX_CENTRES = 20_000


#: Most bins :func:`rdf` accepts (the workflow's config check uses the same limit).
MAX_BINS = 200_000


def rdf(coords, *, dr: float = 0.02, r_max: float = 15.0, workers: int = 1,
        max_centres: int | None = MAX_CENTRES, return_counts: bool = False,
        engine: str = "auto"):
    """Radial distribution function of a finite particle, with the seed's normalisation.

    Formula (Kang et al., the seed notebook ``gr_calculation``)::

        g(r_k) = R^3 / (3 dr N_pairs) * n_k / r_k^2

    where ``n_k`` is the number of unordered atom pairs whose distance d falls in bin k,
    ``r_k - dr/2 <= d < r_k + dr/2`` with bin edges ``k * dr`` (k = 0..M), ``r_k`` the bin centre,
    ``N_pairs = N (N - 1) / 2`` all pairs of the particle, and ``R = (dx + dy + dz) / 6`` the mean
    half extent of the particle's bounding box.  For a homogeneous ball of radius R this gives
    ``g(r) = 1 - 3x/4 + x^3/16`` (x = r/R): it tends to 1 for r -> 0 and decays to 0 at
    r = 2R because of the particle's finite size (it is not the bulk g(r) -> 1 at large r).
    For a homogeneous cube (R = L/2) it tends to pi/6 ~ 0.524 instead.  R comes from the
    axis-aligned box, as in the seed, so the **height** of g(r) depends on how the particle is
    oriented (the factor ``(R'/R)^3``: the shared 586-atom truncated octahedron turned by 20
    degrees has a first peak 24 % higher); positions of peaks and minima, hence the cutoff, do
    not.  Compare heights only between frames in one orientation (docked frames).

    Differences from the seed: the seed bins up to ``ceil(max distance)`` and divides by the number
    of pairs inside its bins; here the bins stop at ``r_max`` and ``N_pairs`` is all pairs, so both
    agree whenever ``r_max`` exceeds the largest distance.

    Exact up to ``max_centres`` atoms: pairs are counted with a dual-tree
    ``scipy.spatial.cKDTree.count_neighbors`` (non-cumulative, one traversal for all bins): memory
    O(N), never the N^2 distances.  Bins are half-open ``[e_k, e_{k+1})`` like numpy.histogram
    (the tree is queried at ``e_k (1 - 1e-12)``).  The cost grows with the number of pairs closer
    than ``r_max``, ~N x 940 for a metal at r_max = 15 A (1e6 atoms: ~5e8 pairs, ~110 s).

    Sampled above ``max_centres`` atoms (default :data:`MAX_CENTRES` = 20,000): a deterministic
    subset of M = ``max_centres`` centres (drawn without replacement by
    ``numpy.random.default_rng(0)``, the same for the same N) is paired with **all** atoms, the
    distances are binned (``floor(d / dr)``) and the ordered counts c_k are rescaled to unordered
    pairs of the whole particle, ``n_k = c_k N / (2 M)``: an unbiased estimate (every atom is a
    centre with probability M / N, and each unordered pair is seen from both ends).  Its relative
    standard error per bin is ~1/sqrt(c_k) (the first peak of a 1e6-atom metal holds ~1e4 sampled
    pairs per 0.02 A bin: ~1 %; the first-minimum search tests significance on the sampled counts
    c_k, which it recovers from g).  Cost ~M x 940 pairs, independent of N; the distances are
    counted by a compiled cell-list kernel (:func:`nanotraj._kernels.centre_histogram`; 1e6
    atoms: ~0.3 s with 2 threads, ``benchmarks/bench_threads.py``), or, where numba is missing
    or the atoms are spread over a box with far more cells than atoms, or ``engine="numpy"``,
    from the kd-tree's (slower) lists of distances; both give the same counts.  Memory O(N + chunk).
    ``max_centres=None`` forces the exact count at any size.

    Parameters
    ----------
    coords : array_like, shape (N, 3)
        Positions in Angstrom, N >= 2.
    dr : float
        Bin width in Angstrom.
    r_max : float
        Upper edge of the last bin, Angstrom.  M = round(r_max / dr) bins.
    workers : int
        Threads counting pairs (the kd-tree, numpy and the kernel release the GIL), exact or
        sampled; the result does not depend on it.  The workflow passes the job's ``threads``.
    max_centres : int or None
        Exact count up to this many atoms, a sample of this many centres above (see above);
        ``None``: always exact.
    return_counts : bool
        Also return the pair counts behind g (for the significance test of
        :func:`first_minimum`).
    engine : "auto", "numpy" or "compiled" (:mod:`nanotraj.engine`), of the sampled count
        ("auto" uses the compiled kernel whenever it loads).

    Returns
    -------
    r : ndarray, shape (M,)
        Bin centres ``(k + 1/2) dr``.
    g : ndarray, shape (M,)
        g(r), dimensionless.  All zero for a particle of zero extent is impossible (ValueError).
    counts : ndarray, shape (M,), int64 (only with ``return_counts``)
        The pairs counted per bin: n_k (exact), or the ordered (centre, atom) pairs of the
        sampled centres (their Poisson noise is that of the estimate).
    """
    from scipy.spatial import cKDTree

    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"coords must have shape (N, 3), got {x.shape}")
    n = len(x)
    if n < 2:
        raise ValueError("g(r) needs at least 2 atoms")
    if not (dr > 0 and r_max > 0):
        raise ValueError("dr and r_max must be positive")
    if r_max / dr > MAX_BINS:
        raise ValueError(f"r_max / dr = {r_max / dr:.3g} bins; at most {MAX_BINS:,}")
    m = int(round(r_max / dr))
    if m < 1:
        raise ValueError("r_max must be at least dr")
    edges = np.arange(m + 1, dtype=np.float64) * dr
    r = edges[:-1] + dr / 2
    extent = x.max(axis=0) - x.min(axis=0)
    big_r = extent.sum() / 6.0
    if big_r <= 0:
        raise ValueError("all atoms at the same position")

    if max_centres is not None:
        max_centres = int(max_centres)
        if max_centres < 1:
            raise ValueError("max_centres must be a positive integer or None")
        if n > max_centres:
            counts = _sampled_counts(x, max_centres, dr, m, r_max, workers, engine)
            n_k = counts * (n / (2.0 * max_centres))
            n_pairs = n * (n - 1) / 2.0
            g = big_r**3 / (3.0 * dr * n_pairs) * n_k / r**2
            return (r, g, np.asarray(counts, np.int64)) if return_counts else (r, g)

    tree = cKDTree(x)
    # count_neighbors(cumulative=False): result[0] = #(d <= e0), result[k] = #(e_{k-1} < d <= e_k).
    # Radii a hair below the edges give numpy.histogram's half-open bins [e_{k-1}, e_k): a distance
    # exactly on an edge (lattice data written with 3 decimals has such ties) goes to the upper bin.
    edges = edges * (1.0 - 1e-12)
    if workers <= 1 or n < 20_000:
        counts = tree.count_neighbors(tree, edges, cumulative=False)
    else:
        from concurrent.futures import ThreadPoolExecutor

        parts = np.array_split(np.arange(n), 4 * workers)
        with ThreadPoolExecutor(workers) as ex:
            counts = sum(
                ex.map(
                    lambda idx: cKDTree(x[idx]).count_neighbors(tree, edges, cumulative=False),
                    parts,
                )
            )
    counts = np.asarray(counts, dtype=np.int64)
    # ordered pairs -> unordered; counts[0] holds the N self pairs and coincident atoms (d = 0)
    n_k = counts[1:] // 2
    n_k[0] += (counts[0] - n) // 2
    n_pairs = n * (n - 1) / 2.0
    g = big_r**3 / (3.0 * dr * n_pairs) * n_k / r**2
    return (r, g, n_k) if return_counts else (r, g)


_CENTRE_CHUNK = 512  # sampled centres per chunk (~5e5 pair distances of a metal at 15 A, ~12 MB)


def _sampled_counts(x, n_centres, dr, m, r_max, workers=1, engine="auto"):
    """Ordered pair counts per bin between a deterministic sample of centres and all atoms.

    Returns (m,) int64: c_k = #{(c, j) : c a sampled centre, j != c, floor(|x_c - x_j| / dr) = k},
    distances <= r_max only (the last bin is half-open like the others: d = r_max is dropped).
    """
    n = len(x)
    centres = np.sort(np.random.default_rng(0).choice(n, size=n_centres, replace=False))
    from nanotraj.engine import compiled_kernels, kernels_for

    # compiled cell-list counts (faster than the kd-tree's lists of distances, the same counts;
    # "auto" uses them whatever N: the sampled count's cost does not depend on N)
    kernels = compiled_kernels() if engine == "auto" else kernels_for(engine, 0)
    if (_kernels := kernels) is not None:
        counts = _kernels.centre_histogram(x, x[centres], dr, m, r_max, workers)
        if counts is not None:
            counts[0] -= n_centres  # each centre paired with itself (d = 0)
            return counts[:m]
    from scipy.spatial import cKDTree

    # Unbalanced trees build ~3x faster; the sampled count does not depend on the tree's shape.
    tree = cKDTree(x, balanced_tree=False, compact_nodes=False)
    # Chunks of centres that are close in space touch only their part of the tree: visit the
    # centres in the tree's leaf order (the counts do not depend on the order).
    rank = np.empty(n, np.int64)
    rank[tree.indices] = np.arange(n)
    centres = centres[np.argsort(rank[centres], kind="stable")]
    del rank
    inv_dr = 1.0 / dr

    def chunk_counts(c0):
        sub = cKDTree(x[centres[c0 : c0 + _CENTRE_CHUNK]], balanced_tree=False,
                      compact_nodes=False)
        d = sub.sparse_distance_matrix(tree, r_max, output_type="ndarray")["v"]
        d *= inv_dr
        k = d.astype(np.int64)
        np.minimum(k, m, out=k)  # d >= r_max (rounding at the last edge): dropped below
        return np.bincount(k, minlength=m + 1)

    starts = range(0, n_centres, _CENTRE_CHUNK)
    if workers <= 1:
        counts = sum(map(chunk_counts, starts))
    else:  # the kd-tree query and numpy release the GIL; integer sums: order-independent
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as ex:
            counts = sum(ex.map(chunk_counts, starts))
    counts = np.asarray(counts, np.int64)
    counts[0] -= n_centres  # each centre paired with itself (d = 0)
    return counts[:m]


def _smooth(g: np.ndarray, sigma_bins: float) -> np.ndarray:
    if sigma_bins <= 0:
        return g.astype(np.float64, copy=True)
    half = int(np.ceil(4 * sigma_bins))
    t = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (t / sigma_bins) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.full(half, g[0]), g, np.full(half, g[-1])])
    return np.convolve(padded, kernel, mode="valid")


def _pair_counts(g, r, m_max: int = 2000):
    """Integer pair counts n_k with g_k r_k^2 = u n_k, or None if g is not made of counts."""
    c = np.clip(g, 0, None) * r**2
    pos = c > 0
    if not pos.any():
        return None
    cp = c[pos]
    c_min = cp.min()
    if cp.max() > 1e12 * c_min:  # far beyond any pair count: not counts
        return None
    probe = np.sort(cp)[:: max(1, len(cp) // 40)][:40] / c_min  # a sample of bins
    m = np.arange(1, m_max + 1, dtype=np.float64)
    x = probe[None, :] * m[:, None]
    ok = (np.abs(x - np.rint(x)) <= 1e-6 * np.maximum(1.0, x)).all(axis=1)
    for mm in m[ok]:
        n = c / c_min * mm
        if (np.abs(n - np.rint(n)) <= 1e-6 * np.maximum(1.0, n)).all():
            return np.rint(n)
    return None


def first_minimum(
    r,
    g,
    *,
    sigma: float = 0.05,
    peak_fraction: float = 0.5,
    rise: float = 0.1,
    flat_tol: float = 0.02,
    max_depth: float = 0.5,
    z: float = 5.0,
    r_min: float = 0.0,
    counts=None,
) -> float:
    """First minimum of g(r) after its first peak: the bond cutoff, in Angstrom.

    Algorithm (thresholds relative to the height P of the candidate peak of the smoothed curve):

    1. Smooth: ``gs = g * Gaussian`` with standard deviation ``sigma`` Angstrom (kernel truncated
       at 4 sigma, ends padded with the end values).  ``sigma = 0`` disables smoothing.
    2. Candidate peaks: the local maxima of gs (``gs[k-1] < gs[k] >= gs[k+1]``) at least
       ``peak_fraction`` times as high as the global maximum of gs, in order of r.
    3. Valley of a candidate: walk outwards keeping the running minimum of gs; the valley is found
       as soon as gs rises ``rise * P`` above that running minimum (noise wiggles on the falling
       flank do not count).  The candidate is accepted when
       - the valley is deep, ``gs_min <= max_depth * P``, and
       - the drop is statistically significant.  g of :func:`rdf` is ``K n_k / r_k^2`` with
         integer pair counts n_k: they are given (``counts``, from :func:`rdf` with
         ``return_counts``) or recovered up to a common factor as ``n_k = g_k r_k^2 / u`` with
         the largest u making them all integers (u = c_min / m, m = 1..2000, c_min the smallest
         positive ``g_k r_k^2``; for a very small symmetric cluster the common factor makes
         them too small: a 13-atom icosahedron's 12, 30, 30, 6 pairs become 2, 5, 5, 1).  The
         counts in windows of +-2 sigma around the peak, ``N_p``, and around the valley scaled by
         ``(r_p / r_v)^2``, ``N_v``, satisfy ``N_p - N_v >= z sqrt(N_p + N_v)``.
         This rejects isolated short pairs (a single pair at small r makes a tall spike because
         of the 1/r^2 factor) and the noise of random points (a gas).  When g is not made of
         integer counts (averaged or synthetic curves) this test is skipped.
       The first accepted candidate is the first peak.  With ``r_min > 0`` a candidate whose
       cutoff (step 4) falls below ``r_min`` is passed over, and the later candidates' heights
       are compared with the maximum of gs beyond that valley: the cutoff is the first minimum
       at or beyond ``r_min`` (for bcc metals, ``r_min = 1.06 a``,
       :func:`nanotraj.elements.auto_cutoff_min`, keeps the 6 second neighbours at ``a`` with
       the 8 first ones at ``0.866 a``, the 14 bonds of the bcc signature of CNA and of the bcc
       reference of the BOO classes; the 2nd shell is only 15 % farther than the 1st and the two
       merge into one peak in noisy frames, where the first minimum is already the one beyond
       ``r_min``).
    4. Flat minimum: the contiguous run of bins around the running minimum with
       ``gs <= gs_min + flat_tol * P``; the cutoff is the middle of that run,
       ``(r_first + r_last) / 2``.  For a crystal whose g is zero between the first and second
       shells this is the middle of the gap (stage 1 of the Kang et al. series: 3.44 A; the
       authors chose 3.41 A by eye).

    Parameters
    ----------
    r, g : array_like, shape (M,)
        Bin centres (Angstrom, evenly spaced, increasing) and g(r) as returned by :func:`rdf`.
    sigma : float
        Smoothing width, Angstrom (0.05 A = 2.5 bins of 0.02 A).
    peak_fraction, rise, flat_tol, max_depth : float
        Dimensionless thresholds described above (fractions of the peak height).
    z : float
        Significance of the peak-valley drop, in standard deviations (Poisson counts).
    r_min : float
        Smallest acceptable cutoff, Angstrom (default 0: the first minimum).
    counts : array_like, shape (M,), optional
        Pairs counted per bin (:func:`rdf` with ``return_counts``); recovered from g if absent.

    Returns
    -------
    float
        The cutoff in Angstrom.

    Raises
    ------
    AnalysisError
        ``AnalysisError("g(r)", reason)`` when no peak is followed by a valley satisfying the
        criteria (a gas or random points, a monotonic curve, all zeros); the caller re-raises with
        the frame's path.

    References
    ----------
    S. Kang et al., "Structural transition of single nanocrystals by atom- and time-resolved 3D
    liquid cell electron microscopy" (seed notebook: cutoff = first minimum of g(r)).
    """
    r = np.asarray(r, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if r.shape != g.shape or r.ndim != 1 or len(r) < 3:
        raise ValueError("r and g must be 1-D arrays of the same length >= 3")
    if not np.isfinite(g).all():
        raise AnalysisError("g(r)", "non-finite values in g(r)")
    dr = (r[-1] - r[0]) / (len(r) - 1)
    if not dr > 0:
        raise ValueError("r must be increasing")
    gs = _smooth(g, sigma / dr)
    if not gs.max() > 0:
        raise AnalysisError("g(r)", "g(r) is zero everywhere (no pairs within r_max)")
    if counts is not None:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.shape != g.shape:
            raise ValueError("counts must have the shape of g")
    else:
        counts = _pair_counts(g, r)  # None when g does not come from integer pair counts
    gmax = gs.max()
    w = max(1, int(round(2 * sigma / dr)))
    csum = np.concatenate([[0.0], np.cumsum(counts)]) if counts is not None else None

    def window(k):
        lo, hi = max(0, k - w), min(len(r), k + w + 1)
        return csum[hi] - csum[lo]

    m = len(gs)
    peaks = np.flatnonzero((gs[1:-1] > gs[:-2]) & (gs[1:-1] >= gs[2:])) + 1
    if gs[0] > 0 and gs[0] >= gs[1]:
        peaks = np.concatenate([[0], peaks])
    reason = "no peak in g(r)"
    best = None
    skip_to = -1  # candidates up to here belong to a valley below r_min
    for p in peaks:
        if p <= skip_to:
            continue
        height = gs[p]
        k_min, found = p, False
        for k in range(p + 1, m):
            if gs[k] < gs[k_min]:
                k_min = k
            elif gs[k] - gs[k_min] >= rise * height:
                found = True
                break
        if not found:
            if best is None:  # else the insignificant candidate says more
                reason = f"no minimum after the peak at {r[p]:.3f} A up to r = {r[-1]:.3f} A"
            break  # nothing later can have a valley either
        if height < peak_fraction * gmax or gs[k_min] > max_depth * height:
            continue
        n_p = window(p) if csum is not None else np.inf
        n_v = window(k_min) * (r[p] / r[k_min]) ** 2 if csum is not None else 0.0
        if csum is not None and n_p - n_v < z * np.sqrt(n_p + n_v):
            if best is None:
                reason = (f"no significant peak: the deepest candidate at {r[p]:.3f} A holds "
                          f"~{n_p:.0f} pairs (noise, isolated pairs or a gas)")
                best = p
            continue
        gmin = gs[k_min]
        level = gmin + flat_tol * height
        lo = k_min
        while lo - 1 > p and gs[lo - 1] <= level:
            lo -= 1
        hi = k_min
        while hi + 1 < m and gs[hi + 1] <= level:
            hi += 1
        cut = float((r[lo] + r[hi]) / 2.0)
        if cut >= r_min:
            return cut
        skip_to, gmax = hi, gs[hi:].max()
        reason = f"no minimum of g(r) beyond r_min = {r_min:.3f} A"
    raise AnalysisError("g(r)", reason)
