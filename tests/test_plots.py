"""Figures: pixel size, not blank, byte-identical PNGs, reference points, rejected frames.

Synthetic data come from the project's perfect-lattice generators; the real series (../shared) is
run through the pipeline stages into a temporary folder and plotted (skipped where absent).
"""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from nanotraj import figstyle, plots, tables
from nanotraj.stages import figures
from nanotraj.tables import write_columns

from .conftest import SERIES_DIR

FRAME_STAGES = ("frame", "rdf", "bonds", "boo", "coordination", "neighbour_distance")


# ----------------------------------------------------------------------------------------------
# helpers


def png_size(path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    data = Path(path).read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def expected_size(kind) -> tuple[int, int]:
    w, h = plots.FIGURE_SIZES[kind]
    return round(w * figstyle.DPI), round(h * figstyle.DPI)


def pixel_std(path) -> float:
    from matplotlib.image import imread

    img = imread(str(path))[..., :3]
    return float(img.std())


def check_png(path, kind, min_std=0.02):
    assert Path(path).is_file(), path
    assert png_size(path) == expected_size(kind)
    std = pixel_std(path)
    assert std > min_std, f"{path} looks blank (pixel std {std:.4f})"


def run_frame_stages(source, work, out, *, series, frame, time, on_bad_frame="skip"):
    """The per-frame pipeline stages (what the workflow's rules call); returns the output dir."""
    from nanotraj.stages import frame as stage

    files = stage.run_frame(str(source), out.parent.parent, series=series, frame=frame,
                            time=time, on_bad_frame=on_bad_frame, pdbs=False)
    assert files["atoms"].parent == out
    return out


def frame_io(d: Path):
    """The plot_frame rule's files of a frame folder results/{series}/{frame}."""
    from nanotraj.stages.frame import frame_files

    work, _ = frame_files(d.parent.parent, d.parent.name, d.name)
    inputs = {"rdf": d / "rdf.csv", "cutoff": work["rdf"], "structure": work["structure"],
              "atoms": d / "atoms.csv", "summary": d / "summary.csv"}
    outputs = {"rdf": d / "rdf.png", "order": d / "order.png"}
    return inputs, outputs


def series_outputs(d: Path):
    return {k: d / f"{k}.png" for k in ("timeseries", "rdf_series", "cn_series")}


# ----------------------------------------------------------------------------------------------
# synthetic data


@pytest.fixture(scope="module")
def synthetic_atoms():
    """Per-atom values of a noisy perfect FCC sphere (library computations)."""
    from nanotraj.bonds import bond_counts, find_bonds
    from nanotraj.lattices import fcc_sphere
    from nanotraj.order import boo

    coords = np.asarray(fcc_sphere(9.0, noise=0.08, seed=1))
    bonds, _ = find_bonds(coords, 3.35)
    res = boo(coords, bonds)
    d = np.linalg.norm(coords - coords.mean(axis=0), axis=1)
    return {
        "coords": coords,
        "cn": bond_counts(len(coords), bonds),
        "Q4": res["Q4"],
        "Q6": res["Q6"],
        "w6": res["w6"],
        "W6": res["W6"],
        "d_center": d,
    }


@pytest.fixture(scope="module")
def synthetic_series(tmp_path_factory):
    """A 4-frame series written by the pipeline stages; the third frame is rejected (too few
    atoms), so the series figures must skip it."""
    from nanotraj.io import write_values
    from nanotraj.lattices import fcc_sphere
    from nanotraj.stages.series import aggregate_summaries

    root = tmp_path_factory.mktemp("series")
    frames = []
    for k, radius in enumerate((9.0, 8.5, None, 7.5)):
        name = f"f{k}"
        src = root / "in" / f"{name}.pdb"
        src.parent.mkdir(parents=True, exist_ok=True)
        if radius is None:  # a bad frame: two atoms only
            src.write_text(
                "ATOM      1  PT   X  A   1       0.000   0.000   0.000  1.00  0.00          PT\n"
                "ATOM      2  PT   X  A   2       2.800   0.000   0.000  1.00  0.00          PT\n"
                "END\n"
            )
        else:
            xyz = np.asarray(fcc_sphere(radius, noise=0.05 + 0.05 * k, seed=k))
            write_values(src, xyz, np.zeros(len(xyz)))
        out = root / "demo" / name
        run_frame_stages(src, root / "work" / name, out, series="demo", frame=name, time=10.0 * k)
        frames.append(out)
    aggregate_summaries([f / "summary.csv" for f in frames], root / "demo" / "summary.csv")
    return root / "demo", frames


# ----------------------------------------------------------------------------------------------
# per-frame figures


def test_import_does_not_import_matplotlib_nor_pyplot(tmp_path):
    code = (
        "import sys\n"
        "import nanotraj.plots as p\n"
        "assert 'matplotlib' not in sys.modules, 'import nanotraj.plots imported matplotlib'\n"
        "import numpy as np\n"
        f"p.plot_placeholder({str(tmp_path / 'x.png')!r}, 'rejected: test')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plot_rdf_with_reference(tmp_path, synthetic_atoms):
    from nanotraj.rdf import rdf

    r, g = rdf(synthetic_atoms["coords"])
    ref = plots.reference_rdf("Pt", len(synthetic_atoms["coords"]), dr=0.02, r_max=15.0)
    assert ref is not None and ref["structure"] == "fcc"
    assert np.array_equal(ref["r"], r)  # same binning as the frame
    out = tmp_path / "rdf.png"
    info = plots.plot_rdf(
        r,
        g,
        3.35,
        out,
        reference=(ref["r"], ref["g"]),
        reference_label="perfect",
        title="t",
        cutoff_auto=True,
    )
    check_png(out, "rdf")
    # axes fit the data: y up to just above the highest value, x to the last non-zero bin
    assert info["ylim"][1] == pytest.approx(1.08 * g.max())
    assert info["xlim"][0] < r[np.flatnonzero(g)[0]] and info["xlim"][0] >= 0
    assert info["xlim"][0] <= 3.35 <= info["xlim"][1]
    assert 0 < info["reference_scale"] < 1  # the perfect cluster's peaks are taller


def test_broadened_reference_matches_a_noisy_cluster():
    """Analytic: a single-bin peak of pair counts becomes a Gaussian of the pair distance's
    spread sqrt(2) sigma. Physical: a perfect Pt sphere with Gaussian noise sigma on every
    coordinate has the g(r) of the perfect sphere broadened by that sigma (first peak height
    and position within tolerances), while the unbroadened curve is several times taller."""
    from nanotraj import lattices
    from nanotraj.rdf import rdf

    dr = 0.01
    r = (np.arange(2000) + 0.5) * dr
    g = np.zeros_like(r)
    g[1000] = 1.0 / r[1000] ** 2  # pair counts n = g r^2: one unit at r = 10.005 A
    b = plots.broadened(r, g, 0.1)
    n = b * r * r
    assert n.sum() == pytest.approx(1.0, rel=1e-9)  # pairs conserved
    mean = (n * r).sum()
    std = math.sqrt((n * (r - mean) ** 2).sum())
    assert mean == pytest.approx(r[1000], abs=1e-9)
    assert std == pytest.approx(math.sqrt(2.0) * 0.1, rel=0.01)
    assert np.array_equal(plots.broadened(r, g, 0.0), g)

    sigma = 0.12
    coords = np.asarray(lattices.fcc_sphere(14.0, a=3.924), dtype=np.float64)
    rng = np.random.default_rng(7)
    rn, gn = rdf(coords + rng.normal(0.0, sigma, coords.shape), dr=0.02, r_max=12.0)
    rp, gp = rdf(coords, dr=0.02, r_max=12.0)
    gb = plots.broadened(rp, gp, sigma)
    first = (rp > 2.3) & (rp < 3.2)
    assert gb[first].max() == pytest.approx(gn[first].max(), rel=0.12)
    assert abs(rp[first][gb[first].argmax()] - rn[first][gn[first].argmax()]) <= 0.06
    assert gp[first].max() > 2.5 * gn[first].max()


def test_reference_rdf_size_and_cache():
    a = plots.reference_rdf("Pt", 314)
    b = plots.reference_rdf("Pt", 316)
    assert a["r"] is b["r"]  # one cached computation for frames of similar size
    assert 250 <= a["n_atoms"] <= 400
    big = plots.reference_rdf("Pt", 10**6)
    assert big["n_atoms"] <= 1.1 * plots.REFERENCE_MAX_ATOMS


def test_plot_order_draws_the_classes_regions_in_their_space(tmp_path, synthetic_atoms):
    """The references are the BOO classes' regions at the frame's noise level, in the
    coarse-grained (Q4, Q6) and (W6, Q6) planes the classifier uses (the ICO centre at
    Q6 ~ 0.3, not the bare q6 = 0.66), and the axes are the fixed ORDER_LIMITS."""
    from nanotraj.boo_classes import reference_ellipses

    out = tmp_path / "order.png"
    regions = reference_ellipses(0.08, 2.766, 3.35)
    info = plots.plot_order(synthetic_atoms, out, regions, title="synthetic")
    check_png(out, "order")
    centres = info["reference_centres"]
    assert set(centres) == {"fcc", "hcp", "bcc", "ico"}
    for name, (q4, q6, w6) in centres.items():
        c = regions[name]["centre"]
        assert (q4, q6, w6) == (c["Q4"], c["Q6"], c["W6"])
    assert 0.2 < centres["ico"][1] < 0.4  # coarse-grained, not the bare q6 of the centre
    lim = info["limits"]
    assert {k: lim[k] for k in ("Q4", "Q6", "W6")} == plots.ORDER_LIMITS
    for name, (q4, q6, w6) in centres.items():  # the fixed axes hold every class ...
        assert lim["Q4"][0] < q4 < lim["Q4"][1], name
        assert lim["Q6"][0] < q6 < lim["Q6"][1], name
        assert lim["W6"][0] < w6 < lim["W6"][1], name
    assert info["outside"] == 0  # ... and this noisy fcc particle
    top = np.bincount(synthetic_atoms["cn"]).max()  # the CN axis fits the tallest bar
    assert lim["cn_count"][1] == pytest.approx(plots.CN_HEADROOM * top)
    tight = {"Q4": (0.0, 0.1), "Q6": (0.0, 0.65), "W6": (-0.0085, 0.0035)}
    info = plots.plot_order(synthetic_atoms, tmp_path / "o2.png", limits=tight)
    assert info["outside"] == int((synthetic_atoms["Q4"] > 0.1).sum()) > 0


def test_pngs_are_byte_identical(tmp_path, synthetic_atoms):
    from nanotraj.rdf import rdf

    r, g = rdf(synthetic_atoms["coords"])
    for k in (1, 2):
        plots.plot_rdf(r, g, 3.35, tmp_path / f"rdf{k}.png")
        plots.plot_order(synthetic_atoms, tmp_path / f"order{k}.png")
    assert (tmp_path / "rdf1.png").read_bytes() == (tmp_path / "rdf2.png").read_bytes()
    assert (tmp_path / "order1.png").read_bytes() == (tmp_path / "order2.png").read_bytes()
    assert b"Software" not in (tmp_path / "rdf1.png").read_bytes()
    assert b"matplotlib" not in (tmp_path / "order1.png").read_bytes()


def test_rejected_frame_placeholders(tmp_path, synthetic_series):
    _, frames = synthetic_series
    rejected = frames[2]
    inputs, _ = frame_io(rejected)
    outputs = {"rdf": tmp_path / "rdf.png", "order": tmp_path / "order.png"}
    info = figures.plot_frame(inputs, outputs, element="Pt")
    assert info["status"].startswith("rejected: ")
    check_png(outputs["rdf"], "rdf", min_std=0.005)
    check_png(outputs["order"], "order", min_std=0.005)


# ----------------------------------------------------------------------------------------------
# per-series figures


def plot_and_check_series(d, frames, outs, *, time_unit):
    """plots.plot_series on a series folder; every figure checked (size, not blank)."""
    info = figures.plot_series(d / "summary.csv", [f / "rdf.csv" for f in frames],
                             [f / "atoms.csv" for f in frames], outs, time_unit=time_unit)
    for kind, path in outs.items():
        check_png(path, kind)
    return info


def test_plot_series_skips_rejected(synthetic_series):
    d, frames = synthetic_series
    outs = series_outputs(d)
    info = plot_and_check_series(d, frames, outs, time_unit="min")
    assert list(info["timeseries"]["times"]) == [0.0, 10.0, 30.0]
    assert list(info["timeseries"]["rejected_times"]) == [20.0]
    fr = info["cn_series"]["fractions"]
    assert fr.shape[1] == 4 and np.isnan(fr[:, 2]).all()
    assert np.allclose(np.nansum(fr[:, [0, 1, 3]], axis=0), 1.0)
    # deterministic
    first = {k: p.read_bytes() for k, p in outs.items()}
    figures.plot_series(
        d / "summary.csv",
        [f / "rdf.csv" for f in frames],
        [f / "atoms.csv" for f in frames],
        outs,
        time_unit="min",
    )
    assert first == {k: p.read_bytes() for k, p in outs.items()}
    # the rule passes the frames' summaries (in any order), not the series' table: the same
    # figures, byte for byte
    figures.plot_series(
        [f / "summary.csv" for f in reversed(frames)],
        [f / "rdf.csv" for f in frames],
        [f / "atoms.csv" for f in frames],
        outs,
        time_unit="min",
    )
    assert first == {k: p.read_bytes() for k, p in outs.items()}


def test_plot_series_all_rejected(tmp_path):
    from nanotraj.summary import rejected_summary
    from nanotraj.tables import write_summary

    write_summary(
        tmp_path / "summary.csv",
        [rejected_summary(series="s", frame="a", time=0.0, reason="no atoms")],
    )
    outs = series_outputs(tmp_path)
    figures.plot_series(tmp_path / "summary.csv", [], [], outs)
    for kind, path in outs.items():
        check_png(path, kind, min_std=0.005)


def test_cn_series_irregular_times(tmp_path):
    rng = np.random.default_rng(0)
    frames = [{"time": t, "cn": rng.integers(3, 13, size=50)} for t in (0.0, 1.0, 5.0)]
    info = plots.plot_cn_series(frames, tmp_path / "cn.png", time_unit="s")
    check_png(tmp_path / "cn.png", "cn_series")
    assert np.allclose(info["fractions"].sum(axis=0), 1.0)
    assert np.allclose(plots._time_edges(np.array([0.0, 1.0, 5.0])), [-0.5, 0.5, 3.0, 7.0])


def test_read_columns(tmp_path):
    write_columns(tmp_path / "a.csv", {"x": np.array([1.0, np.nan]), "cn": np.array([3, 4])})
    cols = tables.read_columns(tmp_path / "a.csv", ["cn"])
    assert cols["cn"].tolist() == [3.0, 4.0]
    write_columns(tmp_path / "e.csv", {"x": np.array([]), "cn": np.array([])})
    assert tables.read_columns(tmp_path / "e.csv", ["cn"])["cn"].size == 0
    with pytest.raises(KeyError, match="missing column"):
        tables.read_columns(tmp_path / "a.csv", ["Q6"])


# ----------------------------------------------------------------------------------------------
# real stages


@pytest.fixture(scope="module")
def real_series(tmp_path_factory):
    if not SERIES_DIR.is_dir():
        pytest.skip(f"shared data not available at {SERIES_DIR}")
    from nanotraj.stages.series import aggregate_summaries

    root = tmp_path_factory.mktemp("real")
    frames = []
    for k in range(1, 5):
        name = f"stage{k}"
        out = root / "pt" / name
        run_frame_stages(
            SERIES_DIR / f"stage{k}_docked_ATMS.pdb",
            root / "work" / name,
            out,
            series="pt",
            frame=name,
            time=float(k),
        )
        frames.append(out)
    aggregate_summaries([f / "summary.csv" for f in frames], root / "pt" / "summary.csv")
    return root / "pt", frames


def test_real_stages_frame_figures(real_series):
    _, frames = real_series
    for d in frames:
        inputs, outputs = frame_io(d)
        info = figures.plot_frame(inputs, outputs, element="Pt")
        assert info["status"] == "ok"
        check_png(outputs["rdf"], "rdf")
        check_png(outputs["order"], "order")
        fcc = info["order"]["reference_centres"]["fcc"]  # at the frame's noise level
        assert 0.16 < fcc[0] < 0.195 and 0.45 < fcc[1] < 0.58
        # the first peak of Pt is inside the plotted range, the cutoff after it
        assert info["rdf"]["xlim"][0] < 2.77 < info["rdf"]["cutoff"] < info["rdf"]["xlim"][1]


def test_real_stages_series_figures(real_series):
    d, frames = real_series
    outs = series_outputs(d)
    info = plot_and_check_series(d, frames, outs, time_unit="stage")
    assert list(info["timeseries"]["times"]) == [1.0, 2.0, 3.0, 4.0]


def test_threads_give_the_same_files(tmp_path, real_series):
    """Plot jobs run as threads in the Snakemake process: concurrent calls give the same bytes."""
    _, frames = real_series
    serial = {}
    for d in frames[:2]:
        inputs, outputs = frame_io(d)
        figures.plot_frame(inputs, outputs, element="Pt")
        serial[d.name] = outputs["order"].read_bytes()
    errors = []

    def job(d):
        try:
            inputs, _ = frame_io(d)
            outs = {"rdf": tmp_path / f"{d.name}_rdf.png", "order": tmp_path / f"{d.name}.png"}
            figures.plot_frame(inputs, outs, element="Pt")
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=job, args=(d,)) for d in frames[:2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for d in frames[:2]:
        assert (tmp_path / f"{d.name}.png").read_bytes() == serial[d.name]


@pytest.mark.parametrize("times, integer", [([1, 2, 3, 4], True), ([0.0, 0.5, 1.5], False)])
def test_time_ticks_are_whole_numbers_for_whole_number_times(times, integer):
    """Stages 1-4 get ticks 1, 2, 3, 4 (matplotlib alone puts them at 1.5, 2.5, ...); other
    times keep matplotlib's ticks."""
    fig = figstyle.new_figure((4.0, 3.0))
    ax = fig.add_subplot()
    ax.plot(times, np.ones(len(times)))
    ax.set_xlim(min(times) - 0.1, max(times) + 0.1)
    figstyle.time_ticks(ax.xaxis, times)
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert len(ticks) >= 2
    assert all(float(t).is_integer() for t in ticks) == integer, ticks
    assert figstyle.time_label("min") == "time (min)"
    assert figstyle.time_label("$", "time of frame t") == r"time of frame t (\$)"


@pytest.mark.parametrize("times, integer", [([1, 2, 3, 4], True), ([0.0, 0.5, 1.5, 2.0], False)])
def test_lattice_series_time_axes_tick_at_whole_stages(tmp_path, monkeypatch, times, integer):
    """strain_series.png and facets_series.png share the series' time axis conventions: the
    time label of figstyle and ticks at whole numbers for stages 1-4 (a rejected frame's time
    included in the limits)."""
    from nanotraj import latticeplots

    figs = []
    monkeypatch.setattr(figstyle, "save_png", lambda fig, out: figs.append(fig))
    rows = [{"status": "ok", "time": str(t), "lattice_constant": "3.92",
             "lattice_constant_err": "0.001", "strain_reference": "3.92",
             "strain_volumetric_mean_core": "0.001", "strain_volumetric_mean_surface": "0.002",
             "facet_fraction_111": "0.7", "facet_fraction_100": "0.2", "facet_fraction_110": "0",
             "facet_fraction_other": "0.1", "fraction_vertex": "0.1", "fraction_edge": "0.3",
             "fraction_terrace111": "0.4", "fraction_terrace100": "0.1", "n_facets": "14",
             "gcn_mean_surface": "5.5"} for t in times[:-1]]
    rows.append({"status": "rejected: test", "time": str(times[-1])})
    profile = {"r_min": np.array([0.0, 3.0]), "r_max": np.array([3.0, 6.0]),
               "n_atoms": np.array([20, 40]), "strain_radial_mean": np.array([0.001, 0.002])}
    latticeplots.plot_strain_series(rows, [profile] * (len(times) - 1), tmp_path / "s.png",
                                    time_unit="min")
    latticeplots.plot_facets_series(rows, tmp_path / "f.png", time_unit="min")
    assert len(figs) == 2
    for fig in figs:
        time_axes = [ax for ax in fig.axes if ax.get_xlabel() == "time (min)"]
        assert time_axes
        for ax in time_axes:
            lo, hi = ax.get_xlim()
            assert lo < min(times) and hi > max(times)  # the rejected frame's band is inside
            ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
            assert len(ticks) >= 2
            assert all(float(t).is_integer() for t in ticks) == integer, ticks


@pytest.mark.parametrize("autoscale", [True, False])
def test_lines_draw_the_image_of_one_plot_call_per_line(tmp_path, autoscale):
    """figstyle.Lines (one ax.plot, then Line2D objects) gives the PNG of ax.plot per line:
    curves, one-point markers over them in between, lists and arrays, the axes' autoscaling."""
    rng = np.random.default_rng(3)
    r = np.linspace(1.0, 8.0, 300)
    specs = []
    for k in range(40):
        g = np.abs(np.sin(r * (1 + 0.05 * k))) + 0.02 * k + rng.normal(0, 0.01, r.size)
        specs.append((r, g, {"color": (k / 40, 0.2, 0.5, 1.0), "lw": 1.2}))
        specs.append(([3.3], [float(g[100])], {"marker": "|", "color": "black", "ms": 10,
                                                 "mew": 1.5}))
    specs.append((r[::10], np.cos(r[::10]), {"ls": "-", "marker": "o", "ms": 3, "lw": 1.2,
                                             "color": "tab:red"}))
    images = []
    for how in ("plot", "lines"):
        fig = figstyle.new_figure((5, 4))
        ax = fig.add_subplot()
        lines = figstyle.Lines(ax)
        for x, y, props in specs:
            if how == "plot":
                ax.plot(x, y, **props)
            else:
                lines.add(x, y, **props)
        if not autoscale:
            ax.set_xlim(0.5, 8.5)
            ax.set_ylim(-1.5, 3.0)
        out = tmp_path / f"{how}.png"
        figstyle.save_png(fig, out)
        images.append(out.read_bytes())
        assert len(ax.lines) == len(specs)
    assert images[0] == images[1]
