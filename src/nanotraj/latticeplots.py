"""Figures of the crystal lattice of a series (PNG), for the rule ``plot_series``.

- ``strain_series.png`` (:func:`plot_strain_series`): the fitted lattice constant with its
  standard error and the element table's bulk value; the mean volumetric strain of the core and
  of the outermost crystalline layer; every frame's radial strain profile (``strain_profile.csv``)
  coloured by time.
- ``facets_series.png`` (:func:`plot_facets_series`): the area fractions of {111}, {100}, {110}
  and other facets, the fractions of the surface atoms at vertices, edges and {111} and {100}
  terraces, the number of facets and the mean generalised coordination number of the surface.

Both read the series' summary rows (:mod:`nanotraj.summary`); rejected frames are red vertical
bands.  Same rules as :mod:`nanotraj.plots`: object API, fixed size and dpi, no metadata,
atomic writes, drawing under :data:`nanotraj.figstyle.DRAW_LOCK`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from nanotraj import figstyle as fs
from nanotraj.summary import as_float, is_ok

#: Size (width, height) in inches.
FIGURE_SIZES = {"strain_series": (14.0, 8.0), "facets_series": (14.0, 8.0)}
#: Shells of a radial profile with fewer atoms than this are not drawn (their mean is noise).
MIN_PROFILE_ATOMS = 5
#: Colours of the facet families and site classes (the same in both panels' legends).
FAMILY_COLOURS = {"111": "#1f77b4", "100": "#ff7f0e", "110": "#2ca02c", "other": "#7f7f7f"}
SITE_COLOURS = {"vertex": "#d62728", "edge": "#9467bd", "terrace111": "#1f77b4",
                "terrace100": "#ff7f0e"}


def _time_axis(ax, t, t_bad) -> None:
    """Limits of a (shared) time axis around every frame, rejected ones included, with ticks at
    whole numbers when every time is one (:func:`nanotraj.figstyle.time_ticks`)."""
    every = np.concatenate([t, t_bad])
    if every.size:
        ax.set_xlim(*fs.padded(float(every.min()), float(every.max()), 0.04, 1.0))
        fs.time_ticks(ax.xaxis, every)



def _split(rows):
    ok = sorted((r for r in rows if is_ok(r)), key=lambda r: as_float(r.get("time")))
    t = np.array([as_float(r.get("time")) for r in ok])
    t_bad = np.array([as_float(r.get("time")) for r in rows if not is_ok(r)])
    return ok, t, t_bad


def _column(rows, col, scale=1.0):
    return np.array([as_float(r.get(col)) for r in rows]) * scale


def _bands(ax, t_bad):
    for tb in t_bad:
        ax.axvline(tb, color="firebrick", alpha=0.35, lw=3, zorder=1)
    ax.grid(True, color="0.9", lw=0.6)


def _lines(ax, t, series, markers):
    """``series``: (values, label, colour); returns whether anything was drawn."""
    drawn = False
    for y, label, colour in series:
        if not np.isfinite(y).any():
            continue
        ok = np.isfinite(y)
        ax.plot(t[ok], y[ok], "-o", color=colour, ms=markers, lw=1.3, label=label, zorder=3)
        drawn = True
    return drawn


def _no_data(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            fontsize=fs.FONT["note"], color="0.4")


def plot_strain_series(rows: Sequence[Mapping[str, str]], profiles: Sequence, out_png, *,
                       time_unit: str = "s", element: str = "", element_a: float | None = None,
                       title: str | None = None) -> dict:
    """Lattice constant, mean volumetric strains and radial strain profiles of a series.

    Parameters
    ----------
    rows : the series' summary rows (``summary.csv``; any order).
    profiles : one entry per row of ``rows`` with a status ``ok`` in time order: a mapping of
        the frame's ``strain_profile.csv`` columns (``r_min, r_max, n_atoms,
        strain_radial_mean``), or None.
    element, element_a : the element and its table lattice constant (Angstrom), drawn as a
        dashed line (None: not drawn).

    Returns ``{"times": ..., "n_profiles": drawn profiles}``.
    """
    ok, t, t_bad = _split(rows)
    markers = 3 if len(t) > 50 else 5
    n_drawn = 0
    with fs.DRAW_LOCK:
        fig = fs.new_figure(FIGURE_SIZES["strain_series"])
        grid = fig.add_gridspec(2, 2, width_ratios=(1.0, 1.15))
        ax_a = fig.add_subplot(grid[0, 0])
        ax_v = fig.add_subplot(grid[1, 0], sharex=ax_a)
        ax_p = fig.add_subplot(grid[:, 1])
        for ax in (ax_a, ax_v):
            _bands(ax, t_bad)
        a = _column(ok, "lattice_constant")
        err = _column(ok, "lattice_constant_err")
        fin = np.isfinite(a)
        if fin.any():
            ax_a.errorbar(t[fin], a[fin], yerr=np.where(np.isfinite(err[fin]), err[fin], 0.0),
                          fmt="-o", ms=markers, color="tab:blue", lw=1.3, capsize=3,
                          label="fitted to the PTM crystalline atoms (±1 s.e.)")
        else:
            _no_data(ax_a, "no crystalline atoms in any frame")
        if element_a is not None and math.isfinite(element_a):
            ax_a.axhline(element_a, color="0.3", ls="--", lw=1.0,
                         label=f"{fs.plain(element)} bulk (element table) {element_a:.4f} Å")
        ref = _column(ok, "strain_reference")
        if np.isfinite(ref).any() and not np.allclose(ref[np.isfinite(ref)],
                                                      a[np.isfinite(ref)], equal_nan=True):
            ax_a.plot(t, ref, ":", color="tab:red", lw=1.3, label="strain reference")
        ax_a.legend(fontsize=fs.FONT["legend"] - 1, loc="best", frameon=False)
        fs.style(ax_a, ylabel="lattice constant a (Å)")
        drawn = _lines(ax_v, t, [
            (_column(ok, "strain_volumetric_mean_core", 100.0), "core", "tab:blue"),
            (_column(ok, "strain_volumetric_mean_surface", 100.0),
             "outermost crystalline layer", "tab:orange")], markers)
        if drawn:
            ax_v.axhline(0.0, color="0.5", lw=0.8)
            ax_v.legend(fontsize=fs.FONT["legend"] - 1, loc="best", frameon=False)
        else:
            _no_data(ax_v, "no strain in any frame")
        fs.style(ax_v, xlabel=fs.time_label(time_unit), ylabel="mean volumetric strain (%)")
        if t.size:
            _time_axis(ax_a, t, t_bad)
        # radial profiles
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        norm = Normalize(*(fs.padded(float(t.min()), float(t.max()), 0.0, 1e-9) if t.size
                           else (0.0, 1.0)))
        cmap = fs.cmap()
        lines = fs.Lines(ax_p)
        for tk, prof in zip(t, profiles, strict=True):
            if prof is None or not len(prof["r_min"]):
                continue
            n = np.asarray(prof["n_atoms"], dtype=float)
            y = np.asarray(prof["strain_radial_mean"], dtype=float) * 100.0
            r = 0.5 * (np.asarray(prof["r_min"], float) + np.asarray(prof["r_max"], float))
            keep = (n >= MIN_PROFILE_ATOMS) & np.isfinite(y)
            if keep.any():
                lines.add(r[keep], y[keep], ls="-", marker="o", ms=3, lw=1.2,
                          color=cmap(norm(tk)))
                n_drawn += 1
        if n_drawn:
            ax_p.axhline(0.0, color="0.5", lw=0.8)
            sm = ScalarMappable(norm=norm, cmap=cmap)
            cb = fig.colorbar(sm, ax=ax_p, pad=0.01)
            cb.set_label(fs.time_label(time_unit), fontsize=fs.FONT["label"])
            fs.time_ticks(cb.ax.yaxis, t)
            cb.ax.tick_params(labelsize=fs.FONT["tick"])
        else:
            _no_data(ax_p, "no radial profile")
        ax_p.grid(True, color="0.9", lw=0.6)
        fs.style(ax_p, xlabel="distance from the centre (Å), shell centre",
                 ylabel="mean radial strain (%)",
                 title=f"radial strain profile (shells with >= {MIN_PROFILE_ATOMS} atoms)")
        note = f"{len(ok)} frames" + (f", {len(t_bad)} rejected = red bands" if t_bad.size
                                       else "")
        fig.suptitle(f"{title or 'Lattice and strain'} ({note})", fontsize=fs.FONT["title"])
        fs.save_png(fig, out_png)
    return {"times": t, "n_profiles": n_drawn}


def plot_facets_series(rows: Sequence[Mapping[str, str]], out_png, *, time_unit: str = "s",
                       title: str | None = None) -> dict:
    """Facet area fractions, surface site fractions, number of facets and mean surface GCN of
    a series against time (summary columns ``facet_fraction_*``, ``fraction_{vertex, edge,
    terrace111, terrace100}``, ``n_facets``, ``gcn_mean_surface``).
    Returns ``{"times": ...}``."""
    ok, t, t_bad = _split(rows)
    markers = 3 if len(t) > 50 else 5
    with fs.DRAW_LOCK:
        fig = fs.new_figure(FIGURE_SIZES["facets_series"])
        axes = fig.subplots(2, 2, sharex=True)
        for ax in axes.ravel():
            _bands(ax, t_bad)
        ax_f, ax_s, ax_n, ax_g = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
        if _lines(ax_f, t, [(_column(ok, f"facet_fraction_{k}"), f"{{{k}}}" if k != "other"
                             else "other", c) for k, c in FAMILY_COLOURS.items()], markers):
            ax_f.legend(fontsize=fs.FONT["legend"] - 1, loc="best", frameon=False, ncol=2)
        else:
            _no_data(ax_f, "no surface")
        ax_f.set_ylim(-0.03, 1.03)
        fs.style(ax_f, ylabel="fraction of the surface area")
        if _lines(ax_s, t, [(_column(ok, f"fraction_{k}"), k, c)
                            for k, c in SITE_COLOURS.items()], markers):
            ax_s.legend(fontsize=fs.FONT["legend"] - 1, loc="best", frameon=False, ncol=2)
        else:
            _no_data(ax_s, "no site classes")
        ax_s.set_ylim(-0.03, 1.03)
        fs.style(ax_s, ylabel="fraction of the surface atoms")
        _lines(ax_n, t, [(_column(ok, "n_facets"), None, "tab:blue")], markers)
        fs.style(ax_n, xlabel=fs.time_label(time_unit), ylabel="facets (planes of >= 4 atoms)")
        _lines(ax_g, t, [(_column(ok, "gcn_mean_surface"), None, "tab:purple")], markers)
        fs.style(ax_g, xlabel=fs.time_label(time_unit), ylabel="mean GCN of the surface atoms")
        if t.size:
            _time_axis(ax_f, t, t_bad)
        note = f"{len(ok)} frames" + (f", {len(t_bad)} rejected = red bands" if t_bad.size
                                       else "")
        fig.suptitle(f"{title or 'Facets and surface sites'} ({note})",
                     fontsize=fs.FONT["title"])
        fs.save_png(fig, out_png)
    return {"times": t}
