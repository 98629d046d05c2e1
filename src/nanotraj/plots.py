"""Figures of a frame and of a series (PNG), for the workflow's plot rules and the HTML report.

Per frame (``results/{series}/{frame}/``):

- ``rdf.png`` (:func:`plot_rdf`): g(r) of the frame, the g(r) of a perfect cluster of the same
  element and about the same number of atoms (:func:`reference_rdf`), the bond cutoff.
- ``order.png`` (:func:`plot_order`): coordination-number histogram, (Q4, Q6) map and (w6, Q6) map
  with the perfect-lattice reference points of :func:`nanotraj.lattices.reference_points`; atoms
  coloured by their distance from the particle's centre.

Per series (``results/{series}/``):

- ``timeseries.png`` (:func:`plot_timeseries`): summary quantities against time, one panel each.
- ``rdf_series.png`` (:func:`plot_rdf_series`): every frame's g(r), offset, coloured by time.
- ``cn_series.png`` (:func:`plot_cn_series`): fraction of atoms per coordination number per frame.

A rejected frame (``on_bad_frame: skip``) gets placeholder figures stating ``rejected: <reason>``
(:func:`plot_placeholder`); per-series figures leave it out and say so.

Drawing rules (object API only, fixed sizes, byte-identical PNGs): :mod:`nanotraj.figstyle`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from nanotraj import figstyle as fs
from nanotraj.figstyle import DRAW_LOCK, FONT, save_png
from nanotraj.summary import as_float, is_ok

#: Size (width, height) in inches of each kind of figure; pixel size = size x :data:`DPI`.
FIGURE_SIZES = {
    "rdf": (8.0, 5.0),
    "order": (17.0, 5.4),
    "timeseries": (15.0, 9.0),
    "rdf_series": (9.0, 6.5),
    "cn_series": (10.0, 5.5),
}

#: Per-series quantities of :func:`plot_timeseries`, one panel each: (summary columns, axis
#: label); several columns share a panel (with a legend). The last panel holds the structure
#: fractions (:data:`STRUCTURE_CLASSIFIERS`).
TIMESERIES_PANELS = (
    (("n_atoms",), "atoms"),
    (("diameter", "diameter_sv"), "diameter (Å)"),
    (("cn_mean",), "mean CN (bonds)"),
    (("Q6_mean",), "mean $Q_6$"),
    (("nn_distance_mean", "cutoff"), "distance (Å)"),
    (("sigma_estimate",), "noise estimate σ (Å)"),
    (("fraction_surface", "fraction_disordered"), "fraction of atoms"),
)

#: Labels of the summary columns in the legends of :func:`plot_timeseries`.
COLUMN_LABELS = {
    "diameter": "convex hull", "diameter_sv": "6V/A of the alpha shape",
    "nn_distance_mean": "mean NN distance", "cutoff": "bond cutoff",
    "fraction_surface": "surface", "fraction_disordered": "not crystalline (ten Wolde)",
}

#: The classifiers whose fractions the structure panel shows, in order of preference (the first
#: present in the summary): (column suffix, name). PTM by default: it labels noisy crystals right
#: longest and never invents a structure (docs/methods.md); the others are in the
#: summary tables.
STRUCTURE_CLASSIFIERS = (("_ptm", "PTM"), ("_acna", "adaptive CNA"), ("", "CNA"))

#: Colour of each structure, the same in every figure and in the 3D viewer.
STRUCTURE_COLOURS = {"fcc": "#1f77b4", "hcp": "#ff7f0e", "bcc": "#2ca02c", "ico": "#d62728",
                     "sc": "#9467bd", "other": "#7f7f7f"}

#: Largest perfect reference cluster (atoms) used by :func:`reference_rdf` (bounded cost).
REFERENCE_MAX_ATOMS = 20000



def _new_figure(kind: str):
    """A new Figure of the size of ``kind`` (:data:`FIGURE_SIZES`)."""
    return fs.new_figure(FIGURE_SIZES[kind])


# ----------------------------------------------------------------------------------------------
# placeholder (rejected frames, series without accepted frames)


def plot_placeholder(out_png, message: str, *, kind: str = "rdf", title: str | None = None) -> None:
    """A figure of the size of ``kind`` stating ``message`` (e.g. ``"rejected: <reason>"``).

    Used for rejected frames so that every frame has its figures and the report shows why.
    """
    import textwrap

    with DRAW_LOCK:
        fig = _new_figure(kind)
        ax = fig.add_subplot()
        ax.set_axis_off()
        width = max(30, int(FIGURE_SIZES[kind][0] * 9))
        text = "\n".join(textwrap.wrap(message, width=width)) or message
        ax.text(
            0.5,
            0.5,
            text,
            ha="center",
            va="center",
            fontsize=FONT["title"] + 2,
            color="firebrick",
            transform=ax.transAxes,
            wrap=True,
        )
        if title:
            ax.set_title(title, fontsize=FONT["title"])
        save_png(fig, out_png)


# ----------------------------------------------------------------------------------------------
# per frame: g(r)


def _reference_radius(n_atoms: int, structure: str, a: float, c: float | None) -> float:
    """Radius (A) of a sphere cut from the perfect lattice that holds about ``n_atoms`` atoms."""
    # atoms per unit volume of the perfect lattice
    if structure == "fcc":
        density = 4.0 / a**3
    elif structure == "bcc":
        density = 2.0 / a**3
    elif structure == "hcp":
        c = c or a * math.sqrt(8.0 / 3.0)
        density = 2.0 / (math.sqrt(3.0) / 2.0 * a * a * c)
    else:  # simple cubic and anything else: one atom per a^3
        density = 1.0 / a**3
    return (3.0 * n_atoms / (4.0 * math.pi * density)) ** (1.0 / 3.0)


@functools.lru_cache(maxsize=64)
def _reference_rdf_cached(element: str, radius: float, dr: float, r_max: float):
    from . import lattices
    from .elements import lattice
    from .rdf import rdf

    lat = lattice(element)
    structure = str(lat["structure"]).lower()
    if structure != "fcc":
        raise ValueError(f"no perfect-cluster generator for structure {structure!r}")
    coords = np.asarray(lattices.fcc_sphere(radius, a=float(lat["a"])), dtype=np.float64)
    r, g = rdf(coords, dr=dr, r_max=r_max)
    r.setflags(write=False)
    g.setflags(write=False)
    return r, g, len(coords), structure


def reference_rdf(element: str, n_atoms: int, dr: float = 0.02, r_max: float = 15.0):
    """g(r) of a perfect cluster of ``element`` with about ``n_atoms`` atoms.

    The cluster is a sphere cut from the element's perfect lattice
    (:func:`nanotraj.lattices.fcc_sphere`, lattice constant from :func:`nanotraj.elements.lattice`),
    no displacement noise, of radius ``R = (3 N / (4 pi rho))^(1/3)`` where ``rho`` is the
    lattice's number density (4/a^3 for FCC) and ``N = min(n_atoms, REFERENCE_MAX_ATOMS)``; the
    radius is rounded to 0.25 A so that frames of similar size share one cached computation.
    Its g(r) is :func:`nanotraj.rdf.rdf` with the same ``dr`` and ``r_max`` (same normalisation as
    the frames'). Only FCC elements have a generator so far.

    Returns
    -------
    dict with ``r`` (M,), ``g`` (M,) (read-only arrays), ``n_atoms`` (the cluster's atom count),
    ``structure``, ``element``; or ``None`` when the element's structure has no generator.
    """
    n = int(min(max(int(n_atoms), 13), REFERENCE_MAX_ATOMS))
    from .elements import lattice

    lat = lattice(element)
    structure = str(lat["structure"]).lower()
    if structure != "fcc":
        return None
    radius = _reference_radius(n, structure, float(lat["a"]), lat.get("c"))
    radius = round(radius * 4.0) / 4.0
    r, g, n_ref, structure = _reference_rdf_cached(
        element.capitalize(), radius, float(dr), float(r_max)
    )
    return {"r": r, "g": g, "n_atoms": n_ref, "structure": structure, "element": element}


def broadened(r, g, sigma: float) -> np.ndarray:
    """A g(r) as it would be measured with Gaussian noise ``sigma`` (A, per coordinate) on every
    atom: the pair counts ``n(r) ~ g(r) r^2`` convolved with a Gaussian of the pair distance's
    spread ``sqrt(2) sigma``, divided by ``r^2`` again (bins of ``r``, equally spaced; the
    kernel truncated at 4 standard deviations and normalised). ``sigma <= 0``: ``g`` as is."""
    r = np.asarray(r, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if not sigma > 0 or len(r) < 2:
        return g.copy()
    dr = float(r[1] - r[0])
    width = math.sqrt(2.0) * float(sigma) / dr
    half = max(1, int(math.ceil(4.0 * width)))
    k = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (k / width) ** 2)
    kernel /= kernel.sum()
    n = np.convolve(g * r * r, kernel, mode="same")
    return n / (r * r)


def plot_rdf(
    r,
    g,
    cutoff,
    out_png,
    *,
    reference=None,
    reference_label=None,
    title=None,
    cutoff_auto: bool | None = None,
    reference_scaled: bool = True,
) -> dict:
    """Draw g(r) with the bond cutoff and, optionally, a perfect-cluster reference curve.

    Parameters
    ----------
    r, g : (M,) bin centres (A) and g(r) of the frame (seed normalisation, see :mod:`nanotraj.rdf`).
    cutoff : bond cutoff (A), drawn as a vertical dashed line and labelled with its value.
    reference : ``(r_ref, g_ref)`` or ``None``. A perfect cluster's g(r) has sharp peaks far higher
        than a measured one; unless ``reference_scaled`` is False (a reference already broadened
        by the frame's noise, :func:`broadened`, drawn as it is) it is scaled so that its highest
        peak below ``r.max()`` matches the frame's highest peak, and the legend states the
        factor.
    reference_label : legend text of the reference (the factor is appended).
    cutoff_auto : if given, the cutoff label says "first minimum" (True) or "fixed" (False).

    Axes: x from just below the frame's closest pair (0.5 A margin) to the largest r where either
    curve is non-zero (plus a margin); y from 0 to
    the highest drawn value (plus a margin). The dotted line g = 1 is the level a uniform particle
    would have at small r. Returns a dict of what was drawn: ``xlim``, ``ylim``, ``cutoff``,
    ``reference_scale`` (None without reference).
    """
    r = np.asarray(r, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    info = {"cutoff": float(cutoff), "reference_scale": None}
    with DRAW_LOCK:
        fig = _new_figure("rdf")
        ax = fig.add_subplot()
        nz = np.flatnonzero(g > 0)
        x_hi = float(r[nz[-1]]) if nz.size else float(r.max(initial=cutoff))
        y_hi = float(np.nanmax(g)) if g.size else 1.0
        ax.plot(r, g, color="tab:blue", lw=1.6, label="this frame", zorder=3)
        if reference is not None:
            r_ref = np.asarray(reference[0], dtype=np.float64)
            g_ref = np.asarray(reference[1], dtype=np.float64)
            inside = r_ref <= (r.max() if r.size else r_ref.max())
            peak_ref = float(np.max(g_ref[inside], initial=0.0))
            scale = (y_hi / peak_ref) if peak_ref > 0 and y_hi > 0 else 1.0
            if not reference_scaled:
                scale = 1.0
                y_hi = max(y_hi, peak_ref)
            info["reference_scale"] = scale
            label = reference_label or "perfect cluster"
            ax.plot(
                r_ref,
                g_ref * scale,
                color="tab:orange",
                lw=1.0,
                alpha=0.9,
                label=f"{label}, scaled ×{scale:.3g}" if reference_scaled else label,
                zorder=2,
            )
            nzr = np.flatnonzero(g_ref > 0)
            if nzr.size:
                x_hi = max(x_hi, float(r_ref[nzr[-1]]))
        what = {True: " (first minimum of g(r))", False: " (fixed)"}.get(cutoff_auto, "")
        ax.axvline(
            cutoff,
            color="firebrick",
            ls="--",
            lw=1.3,
            label=f"bond cutoff = {cutoff:.2f} Å{what}",
            zorder=4,
        )
        ax.axhline(1.0, color="0.4", ls=":", lw=0.9, zorder=1, label="g = 1")
        # x from just below the closest pair (nothing to see at shorter r) to the last pair
        x_lo = max(0.0, math.floor(2.0 * float(r[nz[0]])) / 2.0 - 0.5) if nz.size else 0.0
        xlim = (x_lo, x_hi * 1.02 + 0.1)
        ylim = (0.0, y_hi * 1.08 if y_hi > 0 else 1.0)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.text(
            cutoff,
            ylim[1] * 0.97,
            f" {cutoff:.2f} Å",
            color="firebrick",
            ha="left",
            va="top",
            fontsize=FONT["note"],
        )
        fs.style(ax, xlabel="r (Å)", ylabel="g(r)", title=title or "Radial distribution function")
        ax.legend(fontsize=FONT["legend"], loc="upper right", frameon=True)
        save_png(fig, out_png)
    info["xlim"], info["ylim"] = xlim, ylim
    return info


# ----------------------------------------------------------------------------------------------
# per frame: order maps


#: Fixed axis ranges of the (Q4, Q6) and (W6, Q6) maps of :func:`plot_order`, the same for
#: every frame so that flipping through a series compares like with like (the published figures
#: fixed them too). They hold the classes' reference regions of :mod:`nanotraj.boo_classes` at
#: any noise level and the values of noisy, strained and amorphous particles; atoms outside are
#: drawn on the border and counted in the panel's title. Config ``figures.order_limits``
#: overrides them.
ORDER_LIMITS = {"Q4": (0.0, 0.30), "Q6": (0.0, 0.65), "W6": (-0.0085, 0.0035)}

_REF_MARKERS = {"fcc": "o", "hcp": "s", "bcc": "D", "ico": "^", "sc": "v"}


def _draw_reference_regions(ax, regions, xkey, ykey):
    """Each class's centre (marker) and 1-sigma ellipse (line) of :func:`nanotraj.boo_classes.
    reference_ellipses` in the (``xkey``, ``ykey``) plane, in the class's colour."""
    for name, entry in regions.items():
        plane = entry.get((xkey, ykey))
        if plane is None:
            continue
        colour = STRUCTURE_COLOURS.get(name, "crimson")
        ax.plot(plane["one_sigma"][:, 0], plane["one_sigma"][:, 1], color=colour, lw=1.6,
                zorder=5)
        ax.plot(plane["core"][:, 0], plane["core"][:, 1], color=colour, lw=0.9, ls=":",
                zorder=5)
        x, y = (float(v) for v in plane["mean"])
        ax.scatter([x], [y], s=70, marker=_REF_MARKERS.get(name, "P"), facecolors="white",
                   edgecolors=colour, linewidths=1.8, zorder=6)
        ax.annotate(name.upper(), (x, y), xytext=(7, 5), textcoords="offset points",
                    fontsize=FONT["note"] + 1, color=colour, fontweight="bold", zorder=7)


#: Top of the CN histogram's y axis, relative to its tallest bar (room for the legend).
CN_HEADROOM = 1.25

#: Above this many atoms the (Q4, Q6) and (w6, Q6) maps are 2D histograms, not scatter plots.
SCATTER_MAX_ATOMS = 20000
#: Cells per axis of the binned maps.
MAP_BINS = 160


def _atom_map(ax, x, y, d, norm, xlim, ylim):
    """Atoms in the (x, y) plane coloured by ``d`` (distance from the centre).

    Up to :data:`SCATTER_MAX_ATOMS` atoms: one dot per atom, drawn in a fixed pseudo-random order
    (seed 0) so that neither the core nor the surface systematically hides the other. Above: a
    :data:`MAP_BINS` x :data:`MAP_BINS` grid over the axis limits, each non-empty cell coloured
    by the mean ``d`` of its atoms (a scatter of 10^5-10^6 dots shows only the last ones drawn).
    """
    n = len(x)
    if n <= SCATTER_MAX_ATOMS:
        order = np.random.default_rng(0).permutation(n)
        size = 18.0 if n <= 2000 else max(2.0, 18.0 * math.sqrt(2000.0 / n))
        return ax.scatter(
            x[order],
            y[order],
            c=d[order],
            cmap=fs.cmap(),
            norm=norm,
            s=size,
            alpha=0.6 if n <= 2000 else 0.35,
            linewidths=0,
            zorder=3,
        )
    xe = np.linspace(xlim[0], xlim[1], MAP_BINS + 1)
    ye = np.linspace(ylim[0], ylim[1], MAP_BINS + 1)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(d)
    count, _, _ = np.histogram2d(x[ok], y[ok], [xe, ye])
    total, _, _ = np.histogram2d(x[ok], y[ok], [xe, ye], weights=d[ok])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    return ax.pcolormesh(
        xe, ye, np.ma.masked_invalid(mean.T), cmap=fs.cmap(), norm=norm, shading="flat", zorder=3
    )


def _limits(values: Sequence[np.ndarray], frac=0.06, min_span=1e-3):
    vals = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values])
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return (0.0, 1.0)
    return fs.padded(float(vals.min()), float(vals.max()), frac, min_span)


def plot_order(
    atoms: Mapping[str, np.ndarray], out_png, reference_regions=None, *, title=None,
    limits=None, reference_note=None,
) -> dict:
    """Three panels: CN histogram, (Q4, Q6) map, (W6, Q6) map, atoms coloured by ``d_center``.

    Parameters
    ----------
    atoms : per-atom arrays (N,): ``cn`` (bonds within the cutoff), ``Q4``, ``Q6``, ``W6``
        (coarse-grained, the values the BOO classes use), ``d_center`` (A); optional
        ``cn_lattice`` (neighbours closer than 1.2 x the element's nearest-neighbour distance,
        the CN of the published figure), drawn as an outline.
    reference_regions : :func:`nanotraj.boo_classes.reference_ellipses` at the frame's noise
        level and cutoff (planes ``("Q4", "Q6")`` and ``("W6", "Q6")``): each class's centre,
        1-sigma ellipse (solid) and the projection of its 99 % core (dotted) are drawn in the
        class's colour -- the regions the classifier assigns, in its own space. None: none.
    limits : mapping ``"Q4"``, ``"Q6"``, ``"W6"`` -> (lo, hi); default :data:`ORDER_LIMITS`
        (fixed for every frame). Atoms outside are drawn on the border and counted.
    reference_note : text under the maps' titles (e.g. the noise level of the references).

    Up to :data:`SCATTER_MAX_ATOMS` atoms the maps are scatter plots (fixed pseudo-random drawing
    order); above, 2D histograms coloured by the mean distance of each cell's atoms
    (see ``_atom_map``). The colour scale (distance from the centre, A) is shared by both maps.
    Returns ``{"reference_centres": {name: (Q4, Q6, W6)}, "limits": {...}, "outside": n}``.
    """
    lim = {k: tuple(float(v) for v in (limits or ORDER_LIMITS)[k]) for k in ("Q4", "Q6", "W6")}
    regions = reference_regions or {}
    cn = np.asarray(atoms["cn"]).astype(np.int64)
    d = np.asarray(atoms["d_center"], dtype=np.float64)
    vals = {k: np.asarray(atoms[k], dtype=np.float64) for k in ("Q4", "Q6", "W6")}
    outside = np.zeros(len(cn), bool)
    for k, (lo, hi) in lim.items():
        outside |= (vals[k] < lo) | (vals[k] > hi)
        vals[k] = np.clip(vals[k], lo, hi)
    n = len(cn)
    with DRAW_LOCK:
        fig = _new_figure("order")
        ax1, ax2, ax3 = fig.subplots(1, 3, width_ratios=[1.0, 1.1, 1.1])

        # 1. coordination numbers
        cn_max = int(cn.max(initial=0))
        bins = np.arange(-0.5, cn_max + 1.5)
        counts = np.bincount(cn, minlength=cn_max + 1) if n else np.zeros(1, int)
        ax1.bar(np.arange(cn_max + 1), counts, width=0.8, color="tab:blue",
                label="bonds within cutoff (cn)")
        top = int(counts.max(initial=0))
        if "cn_lattice" in atoms and len(atoms["cn_lattice"]):
            cnl = np.asarray(atoms["cn_lattice"]).astype(np.int64)
            cnl_max = int(cnl.max(initial=0))
            if cnl_max > cn_max:
                bins = np.arange(-0.5, cnl_max + 1.5)
            hl = np.bincount(cnl, minlength=len(bins) - 1)
            ax1.stairs(hl, np.arange(-0.5, len(hl) + 0.5), color="black", lw=1.4,
                       label="neighbours < 1.2 $d_{nn}$ (cn_lattice)")
            top = max(top, int(hl.max(initial=0)))
        ax1.set_xlim(bins[0] - 0.3, bins[-1] + 0.3)
        ax1.set_ylim(0, max(1, top) * CN_HEADROOM)
        step = 1 if len(bins) <= 20 else int(math.ceil(len(bins) / 16))
        ax1.set_xticks(np.arange(0, len(bins) - 1, step))
        ax1.legend(fontsize=FONT["legend"], loc="upper left")
        mean_cn = float(cn.mean()) if n else float("nan")
        fs.style(ax1, xlabel="coordination number", ylabel="atoms",
                 title=f"Coordination numbers (N = {n}, mean cn = {mean_cn:.2f})")

        # 2., 3. maps in the classifier's space
        from matplotlib.colors import Normalize

        norm = Normalize(vmin=float(np.nanmin(d)) if n else 0.0,
                         vmax=float(np.nanmax(d)) if n else 1.0)
        sc = _atom_map(ax2, vals["Q4"], vals["Q6"], d, norm, lim["Q4"], lim["Q6"])
        _atom_map(ax3, vals["W6"], vals["Q6"], d, norm, lim["W6"], lim["Q6"])
        _draw_reference_regions(ax2, regions, "Q4", "Q6")
        _draw_reference_regions(ax3, regions, "W6", "Q6")
        ax2.set_xlim(*lim["Q4"])
        ax2.set_ylim(*lim["Q6"])
        ax3.set_xlim(*lim["W6"])
        ax3.set_ylim(*lim["Q6"])
        ax3.axvline(0.0, color="0.6", lw=0.8, zorder=1)
        for ax in (ax2, ax3):
            ax.grid(True, color="0.9", lw=0.6, zorder=0)
        how = "" if n <= SCATTER_MAX_ATOMS else "; cells coloured by their atoms' mean distance"
        if outside.any():
            how += f"; {int(outside.sum())} atom(s) beyond the axes drawn on the border"
        fs.style(ax2, xlabel="$Q_4$", ylabel="$Q_6$", title="($Q_4$, $Q_6$)")
        fs.style(ax3, xlabel="$W_6$ (coarse-grained, not normalised)", ylabel="$Q_6$",
                 title="($W_6$, $Q_6$)")
        if how:
            ax3.text(0.0, -0.16, how.lstrip("; "), transform=ax3.transAxes,
                     fontsize=FONT["note"], color="0.3")
        cb = fig.colorbar(sc, ax=[ax2, ax3], pad=0.01, aspect=30)
        cb.set_alpha(1.0)
        cb.solids.set(alpha=1.0)
        cb.set_label("distance from centre (Å)", fontsize=FONT["label"])
        cb.ax.tick_params(labelsize=FONT["tick"])
        head = "\n".join(t for t in (title, reference_note) if t)
        if head:
            fig.suptitle(head, fontsize=FONT["title"] + 1)
        save_png(fig, out_png)
    centres = {name: tuple(e["centre"][k] for k in ("Q4", "Q6", "W6"))
               for name, e in regions.items()}
    lim["cn_count"] = (0.0, max(1, top) * CN_HEADROOM)
    return {"reference_centres": centres, "limits": lim, "outside": int(outside.sum())}


# ----------------------------------------------------------------------------------------------
# per series


def plot_timeseries(
    rows: Sequence[Mapping[str, str]], out_png, *, time_unit="s", title=None
) -> dict:
    """Summary quantities of a series against time: :data:`TIMESERIES_PANELS` and a panel of
    structure fractions (:data:`STRUCTURE_CLASSIFIERS`, PTM by default), in two columns.

    ``rows`` are the series' summary rows (``nanotraj.tables.read_rows`` of ``summary.csv``).
    Accepted frames are drawn as points joined by lines; each rejected frame is a vertical red
    band on every panel (no values) and breaks the line. The structure fractions carry their
    binomial standard error ``sqrt(p (1 - p) / N)`` as a band; frames whose noise estimate is
    beyond what the classifiers handle (summary ``noise_warning``) are shaded grey. Shared time
    axis labelled ``time (<time_unit>)``.
    Returns ``{"times": accepted times, "rejected_times": ..., "classifier": its name}``.
    """
    ok = [r for r in rows if is_ok(r)]
    bad = [r for r in rows if not is_ok(r)]
    t = np.array([as_float(r.get("time")) for r in ok])
    order = np.argsort(t, kind="stable")
    t = t[order]
    ok = [ok[i] for i in order]
    t_bad = np.array([as_float(r.get("time")) for r in bad])
    # the joining line breaks at rejected frames (NaN), so nothing is interpolated across them
    t_line = np.concatenate([t, t_bad])
    line_order = np.argsort(t_line, kind="stable")
    markers = 3 if len(t) > 50 else 5
    with DRAW_LOCK:
        fig = _new_figure("timeseries")
        n_rows = (len(TIMESERIES_PANELS) + 2) // 2
        grid = fig.subplots(n_rows, 2, sharex=True, squeeze=False)
        axes = list(grid.T.ravel())  # down the left column, then the right one
        panels = [*TIMESERIES_PANELS, None]
        for ax, panel in zip(axes, panels, strict=False):
            for tb in t_bad:
                ax.axvline(tb, color="firebrick", alpha=0.35, lw=3, zorder=1)
            ax.grid(True, color="0.9", lw=0.6)
            if panel is None:
                classifier = _structure_panel(ax, ok, t, markers)
                continue
            cols, label = panel
            values = []
            for k, col in enumerate(cols):
                y = np.array([as_float(r.get(col)) for r in ok])
                if not np.isfinite(y).any():
                    continue
                values.append(y)
                colour = f"C{k}" if len(cols) > 1 else "tab:blue"
                y_line = np.concatenate([y, np.full(t_bad.size, np.nan)])[line_order]
                ax.plot(t_line[line_order], y_line, "-", color=colour, lw=1.4, zorder=2)
                ax.plot(t, y, "o", color=colour, ms=markers, zorder=3,
                        label=COLUMN_LABELS.get(col, col) if len(cols) > 1 else None)
            finite = np.concatenate(values)[np.isfinite(np.concatenate(values))] if values \
                else np.zeros(0)
            if finite.size:
                lo, hi = float(finite.min()), float(finite.max())
                span = hi - lo
                if span <= 1e-12 * max(1.0, abs(hi)):
                    span = max(abs(hi) * 0.05, 1e-3)
                ax.set_ylim(lo - 0.12 * span, hi + 0.12 * span)
            if len(values) > 1:
                ax.legend(fontsize=FONT["legend"] - 1, loc="best", frameon=False)
            fs.style(ax, ylabel=label)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        all_t = np.concatenate([t, t_bad]) if t_bad.size else t
        if all_t.size:
            lo, hi = float(np.nanmin(all_t)), float(np.nanmax(all_t))
            axes[0].set_xlim(*fs.padded(lo, hi, 0.04, 1.0))
            fs.time_ticks(axes[0].xaxis, all_t)  # the panels share the time axis
        for ax in (grid[-1, 0], grid[-1, 1]):
            fs.style(ax, xlabel=fs.time_label(time_unit))
        head = title or "Series summary"
        note = f"{len(ok)} frames"
        if bad:
            note += f", {len(bad)} rejected frame(s) = red bands"
        fig.suptitle(f"{head} ({note})", fontsize=FONT["title"])
        fig.align_ylabels(axes)
        save_png(fig, out_png)
    return {"times": t, "rejected_times": t_bad, "classifier": classifier}


def _structure_panel(ax, ok, t, markers) -> str | None:
    """Fractions of atoms per structure of the first classifier of
    :data:`STRUCTURE_CLASSIFIERS` present in the rows, with binomial standard-error bands;
    frames with a ``noise_warning`` shaded grey. Returns the classifier's name."""
    present = [(suffix, name) for suffix, name in STRUCTURE_CLASSIFIERS
               if ok and any(np.isfinite(as_float(r.get(f"fraction_fcc{suffix}"))) for r in ok)]
    if not present:
        fs.style(ax, ylabel="fraction of atoms")
        return None
    suffix, name = present[0]
    n = np.array([as_float(r.get("n_atoms")) for r in ok])
    for tw, row in zip(t, ok, strict=True):
        if str(row.get("noise_warning", "")).strip():
            ax.axvspan(tw - 0.5 * _spacing(t), tw + 0.5 * _spacing(t), color="0.85", zorder=0)
    for struct, colour in STRUCTURE_COLOURS.items():
        col = f"fraction_{struct}{suffix}"
        if col not in ok[0]:
            continue
        p = np.array([as_float(r.get(col)) for r in ok])
        if not np.isfinite(p).any() or (struct != "other" and np.nanmax(p) <= 0):
            continue
        err = np.sqrt(np.clip(p * (1 - p), 0, None) / np.maximum(n, 1))
        ax.fill_between(t, p - err, p + err, color=colour, alpha=0.2, lw=0)
        ax.plot(t, p, "-o", ms=markers, color=colour, lw=1.3, label=struct)
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=FONT["legend"] - 1, ncol=3, loc="best", frameon=False,
              title=f"{name} (band: ±1 s.e.)", title_fontsize=FONT["legend"] - 1)
    fs.style(ax, ylabel=f"fraction of atoms\n({name})")
    return name


def _spacing(t) -> float:
    """Typical spacing of the times (for the width of a shaded frame)."""
    return float(np.median(np.diff(np.unique(t)))) if len(np.unique(t)) > 1 else 1.0


def _stack_offset(peaks: Sequence[float], n: int) -> float:
    peak = float(np.max(peaks)) if len(peaks) else 1.0
    return peak * min(0.6, 6.0 / max(n, 1))


def plot_rdf_series(
    curves: Sequence[Mapping], out_png, *, time_unit="s", title=None, n_rejected: int = 0
) -> dict:
    """Every frame's g(r), offset upwards in time order, coloured by time.

    ``curves``: one mapping per accepted frame with ``time``, ``r`` (M,), ``g`` (M,), optional
    ``cutoff`` (A, marked by a black tick on the curve). The offset between successive frames is
    ``peak x min(0.6, 6 / n_frames)`` (``peak`` = highest g of the series) and is stated on the
    figure. Returns ``{"offset": ..., "times": ...}``.
    """
    curves = sorted(curves, key=lambda c: float(c["time"]))
    times = np.array([float(c["time"]) for c in curves])
    peaks = [float(np.nanmax(c["g"])) for c in curves if len(c["g"])]
    offset = _stack_offset(peaks, len(curves))
    with DRAW_LOCK:
        fig = _new_figure("rdf_series")
        ax = fig.add_subplot()
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        lo, hi = (float(times.min()), float(times.max())) if times.size else (0.0, 1.0)
        norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
        cmap = fs.cmap()
        x_lo, x_hi, top = math.inf, 0.0, 0.0
        lines = fs.Lines(ax)
        for k, c in enumerate(curves):
            r = np.asarray(c["r"], dtype=np.float64)
            g = np.asarray(c["g"], dtype=np.float64)
            if not r.size:
                continue
            nz = np.flatnonzero(g > 0)
            if nz.size:
                x_lo = min(x_lo, float(r[nz[0]]))
                x_hi = max(x_hi, float(r[nz[-1]]))
                top = max(top, float(np.nanmax(g)) + k * offset)
            color = cmap(norm(float(c["time"])))
            lines.add(r, g + k * offset, color=color, lw=1.2)
            cut = c.get("cutoff")
            if cut is not None and math.isfinite(float(cut)):
                gy = float(np.interp(float(cut), r, g)) + k * offset
                lines.add([cut], [gy], marker="|", color="black", ms=10, mew=1.5)
        if x_hi > 0:
            ax.set_xlim(max(0.0, math.floor(2.0 * x_lo) / 2.0 - 0.5), x_hi * 1.02 + 0.1)
        ax.set_ylim(0.0, (top if top > 0 else 1.0) * 1.05)
        cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01)
        cb.set_label(fs.time_label(time_unit), fontsize=FONT["label"])
        cb.ax.tick_params(labelsize=FONT["tick"])
        fs.time_ticks(cb.ax.yaxis, [c["time"] for c in curves])
        fs.style(ax, xlabel="r (Å)", ylabel="g(r) + offset")
        note = f"{len(curves)} frames, each raised by {offset:.3g}; | = bond cutoff"
        if n_rejected:
            note += f"; {n_rejected} rejected frame(s) not shown"
        ax.set_title(f"{title or 'g(r) over time'}\n{note}", fontsize=FONT["title"])
        save_png(fig, out_png)
    return {"offset": offset, "times": times}


def _time_edges(times: np.ndarray) -> np.ndarray:
    """Cell edges around sorted times: midpoints between neighbours, half a step at the ends."""
    if times.size == 1:
        return np.array([times[0] - 0.5, times[0] + 0.5])
    mid = (times[1:] + times[:-1]) / 2.0
    first = times[0] - (mid[0] - times[0])
    last = times[-1] + (times[-1] - mid[-1])
    return np.concatenate([[first], mid, [last]])


def plot_cn_series(frames: Sequence[Mapping], out_png, *, time_unit="s", title=None) -> dict:
    """Distribution of coordination numbers against time: a heat map of the fraction of a frame's
    atoms with each CN (column = frame, centred on its time, cell edges halfway to the neighbours),
    and the mean CN (a line; with at most 12 frames, percentages in the cells and the mean printed
    above each column instead). Rejected frames (``cn`` None) are hatched columns.

    ``frames``: mappings with ``time`` and ``cn`` ((N,) ints, or None for a rejected frame).
    Returns ``{"fractions": (n_cn, n_frames) array, "times": ...}``.
    """
    frames = sorted(frames, key=lambda f: float(f["time"]))
    times = np.array([float(f["time"]) for f in frames])
    cns = [None if f.get("cn") is None else np.asarray(f["cn"]).astype(np.int64) for f in frames]
    cn_max = max([int(c.max(initial=0)) for c in cns if c is not None and c.size] or [0])
    frac = np.full((cn_max + 1, len(frames)), np.nan)
    means = np.full(len(frames), np.nan)
    for k, c in enumerate(cns):
        if c is None or not c.size:
            continue
        frac[:, k] = np.bincount(c, minlength=cn_max + 1) / c.size
        means[k] = c.mean()
    with DRAW_LOCK:
        fig = _new_figure("cn_series")
        ax = fig.add_subplot()
        if times.size:
            edges = _time_edges(times)
            mesh = ax.pcolormesh(
                edges,
                np.arange(-0.5, cn_max + 1.5),
                np.ma.masked_invalid(frac),
                cmap="magma_r",
                vmin=0.0,
                vmax=max(float(np.nanmax(frac)) if np.isfinite(frac).any() else 1.0, 1e-9),
                shading="flat",
            )
            for k, c in enumerate(cns):
                if c is None:
                    ax.axvspan(
                        edges[k],
                        edges[k + 1],
                        facecolor="none",
                        edgecolor="firebrick",
                        hatch="//",
                        lw=0,
                    )
            ok = np.isfinite(means)
            annotate = len(frames) <= 12 and cn_max <= 16
            if annotate:  # few cells: print the percentages, and the mean CN above each column
                vmax = mesh.norm.vmax
                for k in range(len(frames)):
                    for c in range(cn_max + 1):
                        v = frac[c, k]
                        if np.isfinite(v) and v > 0:
                            label = f"{100 * v:.0f}%" if v >= 0.005 else "<1%"
                            ax.text(
                                times[k],
                                c,
                                label,
                                ha="center",
                                va="center",
                                fontsize=FONT["note"] - 1,
                                color="white" if v > 0.55 * vmax else "black",
                            )
                    if ok[k]:
                        ax.text(
                            times[k],
                            cn_max + 0.95,
                            f"mean {means[k]:.2f}",
                            ha="center",
                            va="center",
                            fontsize=FONT["note"],
                            color="black",
                        )
            else:
                ax.plot(
                    times[ok],
                    means[ok],
                    "-o",
                    color="tab:cyan",
                    mec="black",
                    lw=1.8,
                    ms=4,
                    label="mean CN",
                )
                ax.legend(fontsize=FONT["legend"], loc="lower left")
            ax.set_xlim(edges[0], edges[-1])
            cb = fig.colorbar(mesh, ax=ax, pad=0.01)
            cb.set_label("fraction of the frame's atoms", fontsize=FONT["label"])
            cb.ax.tick_params(labelsize=FONT["tick"])
        ax.set_ylim(-0.5, cn_max + (1.5 if times.size and annotate else 0.5))
        step = 1 if cn_max <= 16 else int(math.ceil(cn_max / 16))
        ax.set_yticks(np.arange(0, cn_max + 1, step))
        n_bad = sum(c is None for c in cns)
        note = f"{len(frames) - n_bad} frames" + (f", {n_bad} rejected = hatched" if n_bad else "")
        fs.time_ticks(ax.xaxis, times)
        fs.style(
            ax,
            xlabel=fs.time_label(time_unit),
            ylabel="coordination number (bonds)",
            title=f"{title or 'Coordination numbers over time'} ({note})",
        )
        save_png(fig, out_png)
    return {"fractions": frac, "times": times}
