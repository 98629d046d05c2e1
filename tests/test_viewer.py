"""The interactive 3D page (nanotraj.viewer): built from small atoms.csv files, then opened in a
real headless Chromium (Debian's ``chromium`` driven by Playwright for Python).

Browser tests are skipped, with the reason, where Playwright or Chromium is missing; CI installs
Chromium with ``scripts/ci/install_browser.sh`` (Playwright's own browser download cannot work
here, so the system browser is used through ``executable_path``). Each page is opened once per
module (loading 5 MB of plotly.js costs seconds): the browser tests of a page run in file order
and put the controls back where they need them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nanotraj import viewer
from nanotraj.contract import ATOM_COLUMNS, STRUCTURE_COLUMNS
from nanotraj.stages import figures
from nanotraj.tables import write_columns

from .conftest import REPO

pytest.importorskip("plotly", reason="plotly is not installed (pip install -e '.[workflow]')")

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip

# the colours a user sees for each structure, whatever the classifier (OVITO's hues)
FCC, HCP, BCC, ICO, SC, GREY = "#3cb043", "#e8413c", "#3b6fe0", "#f2b705", "#a03cd6", "#a0a0a0"


# ----------------------------------------------------------------------------------------------
# synthetic frames


def write_atoms(path, coords, *, rng, extra=None, element="Pt"):
    """An atoms.csv with every contract column (values random but plausible), the element
    column last (as the frame stage writes it) and ``extra`` columns after it."""
    n = len(coords)
    cols = {"x": coords[:, 0], "y": coords[:, 1], "z": coords[:, 2]}
    cols["cn"] = rng.integers(3, 13, n)
    cols["cn_lattice"] = cols["cn"]
    for k in ("q4", "q6", "Q4", "Q6", "C6"):
        cols[k] = rng.uniform(0.0, 0.7, n)
    for k in ("w4", "w6", "W4", "W6"):
        cols[k] = rng.uniform(-0.01, 0.01, n)
    cols["crystalline"] = rng.integers(0, 2, n)
    cols["d_center"] = np.linalg.norm(coords - coords.mean(axis=0), axis=1)
    cols["nn_distance"] = rng.uniform(2.6, 2.9, n)
    if n:
        cols["nn_distance"][0] = np.nan  # an atom without bonds
    cols["structure_cna"] = rng.integers(0, 5, n)
    cols["structure_boo"] = rng.choice(["fcc", "hcp", "bcc", "ico", "disordered"], n)
    cols["surface"] = rng.integers(0, 2, n)
    cols["structure_acna"] = rng.integers(0, 5, n)
    cols["structure_ptm"] = rng.integers(0, 6, n)
    cols["ptm_rmsd"] = rng.uniform(0.0, 0.2, n)
    for axis in "xyzw":
        cols[f"orientation_{axis}"] = rng.uniform(-1.0, 1.0, n)
    cols = {c: cols[c] for c in (*ATOM_COLUMNS, *STRUCTURE_COLUMNS)}
    cols["element"] = (np.full(n, element) if isinstance(element, str) else element)
    cols |= extra or {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i in range(n):
            w.writerow(["nan" if isinstance(v[i], float) and v[i] != v[i] else v[i]
                        for v in cols.values()])
    return cols


def write_fate(path, coords, removed):
    """A fate.csv as the tracking stage writes it (the columns the viewer reads)."""
    n = len(coords)
    write_columns(path, {
        "index": np.arange(n), "partner": np.where(removed, -1, np.arange(n)),
        "fate": np.where(removed, "removed", "retained"), "x": coords[:, 0], "y": coords[:, 1],
        "z": coords[:, 2]})


def summary_row(frame, time, n, status="ok"):
    if status != "ok":
        return {"series": "s", "frame": frame, "time": str(time), "n_atoms": "",
                "diameter": "", "fraction_disordered": "", "status": status}
    return {"series": "s", "frame": frame, "time": str(time), "n_atoms": str(n),
            "diameter": f"{12.0 + n / 100:.6f}", "fraction_disordered": "0.125", "status": "ok"}


def page_data(html_text) -> dict:
    """The viewer's data object (``var NT = {...};``) from a page."""
    m = re.search(r"var NT = (\{.*?\});\nvar base", html_text, re.S)
    assert m, "the page holds the viewer's data"
    return json.loads(m.group(1).replace("<\\/", "</"))


def values(nt, frame, key):
    """Decoded values of column ``key`` of frame ``frame`` (index or name) of a page's data:
    class names, floats (None missing) or coordinates."""
    fr = nt["frames"][frame] if isinstance(frame, int) else next(
        f for f in nt["frames"] if f["name"] == frame)
    j = nt["keys"].index(key)
    col = nt["columns"][j]
    if col["coord"] >= 0:
        return [v / 10 ** nt["coordDecimals"] for v in fr["xyz"[col["coord"]]]]
    raw = fr["v"][j]
    if col["kind"] == "categorical":
        return [col["categories"][c] for c in raw]
    if raw is None:
        return [None] * len(fr["x"])
    return [None if v is None else v / 10 ** col["decimals"] for v in raw]


def drawn_rows(nt, frame):
    fr = nt["frames"][frame]
    return fr["idx"] if fr["idx"] is not None else list(range(len(fr["x"])))


@pytest.fixture
def synthetic(tmp_path):
    """Three frames given out of time order, the middle one in time rejected."""
    rng = np.random.default_rng(1)
    frames = []
    for name, time, n in (("late", 20.0, 40), ("early", 0.0, 60)):
        coords = rng.normal(0, 5, (n, 3))
        write_atoms(tmp_path / name / "atoms.csv", coords, rng=rng)
        frames.append((name, time, tmp_path / name / "atoms.csv", summary_row(name, time, n)))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "atoms.csv").write_text(",".join(ATOM_COLUMNS) + "\n")
    frames.append(("bad", 10.0, tmp_path / "bad" / "atoms.csv",
                   summary_row("bad", 10.0, 0, "rejected: fewer than 4 atoms")))
    return tmp_path, frames


# ----------------------------------------------------------------------------------------------
# the page, without a browser


def test_page_is_self_contained_and_ordered_by_time(synthetic):
    tmp, frames = synthetic
    out = tmp / "viewer.html"
    lines = []
    info = viewer.build_viewer("s", frames, out, time_unit="min", log=lines.append)
    text = out.read_text(encoding="utf-8")
    # offline: plotly.js inlined, no script or stylesheet loaded from anywhere
    assert "<script src" not in text and "<link" not in text
    assert "cdn.plot.ly" not in text.split("<script", 2)[1][:300]
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs()[:2000] in text
    assert info["bytes_plotlyjs"] > 1e6 and info["bytes_total"] == out.stat().st_size
    nt = page_data(text)
    assert [f["name"] for f in nt["frames"]] == ["early", "bad", "late"]
    early, bad, late = nt["frames"]
    assert "t = 0 min" in early["title"] and "60 atoms" in early["title"]
    assert "diameter 12.60 Å" in early["title"] and "fraction disordered 0.125" in early["title"]
    assert "rejected: fewer than 4 atoms" in bad["title"] and bad["x"] == []
    assert len(late["x"]) == 40 and all(len(v) == 40 for v in late["v"] if v is not None)
    assert early["idx"] is None, "all rows drawn: hover index = position = row of atoms.csv"
    # every column of the header is in the menu: classes first, then values, coordinates last
    assert nt["keys"] == [
        "element", "structure_cna", "structure_acna", "structure_ptm", "structure_boo",
        "crystalline", "surface", "cn", "Q6", "Q4", "C6", "nn_distance", "cn_lattice", "q6", "q4",
        "W6", "W4", "w6", "w4", "d_center", "ptm_rmsd", "orientation_x", "orientation_y",
        "orientation_z", "orientation_w", "x", "y", "z"]
    assert info["quantities"] == nt["keys"]
    assert nt["keys"][nt["defaultQuantity"]] == viewer.DEFAULT_QUANTITY
    specs = {c["key"]: c for c in nt["columns"]}
    assert "Å" in specs["nn_distance"]["colorbar"]["title"]["text"]
    assert specs["cn"]["colorbar"]["tickformat"] == "d" and specs["cn"]["decimals"] == 0
    assert specs["structure_boo"]["categories"] == ["fcc", "hcp", "bcc", "ico", "disordered"]
    assert specs["crystalline"]["categories"] == ["not crystalline", "crystalline"]
    # the rejected frame adds no "n/a" class; the atom without bonds is missing (not 0)
    assert "n/a" not in specs["surface"]["categories"]
    assert values(nt, "early", "nn_distance")[0] is None
    # the menu of the page lists them all, in groups, with their labels
    for j, c in enumerate(nt["columns"]):
        assert f'<option value="{j}" title="column {c["key"]}">{c["label"]}</option>' in text
    assert text.index('optgroup label="classes"') < text.index('optgroup label="values"')
    # one colour range per series, from the stored (rounded) values
    q6 = [v for f in ("early", "late") for v in values(nt, f, "Q6")]
    assert specs["Q6"]["cmin"] == min(q6) and specs["Q6"]["cmax"] == max(q6)
    # sizes measured and reported, per frame
    assert set(info["bytes_per_frame"]) == {"early", "bad", "late"}
    assert info["bytes_per_frame"]["early"] > info["bytes_per_frame"]["late"] > 0
    assert any("frame early: 60 atoms, 60 drawn" in ln for ln in lines)
    assert "MB" in lines[-1] and "KiB per frame" in lines[-1]
    assert f"Page {info['bytes_total'] / 1e6:.2f} MB" in text


def test_values_are_stored_to_the_stated_precision(synthetic):
    """Coordinates to 0.001 A, other values to 4 significant digits of the column's largest
    magnitude, integers exactly: compared with the atoms.csv they come from."""
    tmp, frames = synthetic
    viewer.build_viewer("s", frames, tmp / "v.html")
    nt = page_data((tmp / "v.html").read_text(encoding="utf-8"))
    with open(tmp / "early" / "atoms.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for key in ("x", "y", "z", "cn", "Q6", "w6", "d_center", "nn_distance"):
        ref = np.array([float(r[key]) for r in rows])
        got = np.array([np.nan if v is None else v for v in values(nt, "early", key)])
        finite = np.isfinite(ref)
        assert np.array_equal(np.isfinite(got), finite), key
        big = np.max(np.abs(ref[finite]))
        tol = 0.0005 if key in "xyz" else (0 if key == "cn" else 0.5 * 10 ** (
            np.floor(np.log10(big)) - 3))
        np.testing.assert_allclose(got[finite], ref[finite], rtol=0, atol=tol * (1 + 1e-9),
                                   err_msg=key)
    # w6 (|w| < 0.01) keeps its digits: 4 significant digits of 0.01, not 3 decimals
    assert nt["columns"][nt["keys"].index("w6")]["decimals"] == 6


def test_page_is_deterministic(synthetic):
    tmp, frames = synthetic
    viewer.build_viewer("s", frames, tmp / "a.html")
    viewer.build_viewer("s", list(reversed(frames)), tmp / "b.html")
    assert (tmp / "a.html").read_bytes() == (tmp / "b.html").read_bytes()
    assert 'id="nanotraj-viewer-s"' in (tmp / "a.html").read_text(encoding="utf-8")


def test_large_frames_are_subsampled_and_say_so(tmp_path):
    rng = np.random.default_rng(2)
    coords = rng.normal(0, 8, (300, 3))
    cols = write_atoms(tmp_path / "f" / "atoms.csv", coords, rng=rng)
    frames = [("f", 0.0, tmp_path / "f" / "atoms.csv", summary_row("f", 0, 300))]
    info = viewer.build_viewer("s", frames, tmp_path / "v.html", max_atoms=100)
    text = (tmp_path / "v.html").read_text(encoding="utf-8")
    nt = page_data(text)
    (f,) = nt["frames"]
    assert info["drawn"] == {"f": 100} and info["subsampled"] == ["f"]
    assert "showing 100 of 300 atoms" in f["title"]
    assert "more than 100 atoms are drawn as a fixed random subsample" in text
    idx = f["idx"]
    assert idx == sorted(set(idx)) and idx == viewer.subsample(300, 100).tolist()
    np.testing.assert_allclose(values(nt, 0, "x"), np.round(cols["x"][idx], 3), atol=1e-9)
    # every quantity of a drawn atom is that atom's row (only the drawn rows are parsed)
    np.testing.assert_allclose(values(nt, 0, "Q6"), cols["Q6"][idx], atol=5e-5)
    assert values(nt, 0, "structure_boo") == cols["structure_boo"][idx].tolist()
    names = [viewer.STRUCTURE_NAMES[c] for c in cols["structure_cna"][idx]]
    assert values(nt, 0, "structure_cna") == names
    # the whole-page budget lowers the per-frame limit
    info = viewer.build_viewer("s", frames * 1, tmp_path / "w.html", max_total_atoms=50)
    assert info["limit"] == 50 and info["drawn"] == {"f": 50}
    assert viewer.marker_size(300) > viewer.marker_size(20000) >= 2


def test_columns_are_discovered_from_the_header(tmp_path):
    """New columns appear by themselves: a numeric one as a value with a colour bar under its
    own name, a short text one as classes, a text one with too many values not at all (logged);
    structure codes of every classifier share names and colours; PTM's sc (5) is named."""
    rng = np.random.default_rng(4)
    n = 48
    coords = rng.normal(0, 5, (n, 3))
    ptm = np.arange(n) % 7  # 0..5 named, 6 unknown to the viewer: shown as its number
    extra = {"structure_ptm": ptm, "strain": rng.normal(0, 0.02, n),
             "phase": rng.choice(["core", "shell"], n), "label": [f"a{i}" for i in range(n)]}
    els = np.where(np.arange(n) % 3 == 0, "Ni", "Pt")
    write_atoms(tmp_path / "f" / "atoms.csv", coords, rng=rng, extra=extra, element=els)
    lines = []
    frames = [("f", 0.0, tmp_path / "f" / "atoms.csv", summary_row("f", 0, n))]
    info = viewer.build_viewer("s", frames, tmp_path / "v.html", log=lines.append)
    nt = page_data((tmp_path / "v.html").read_text(encoding="utf-8"))
    specs = {c["key"]: c for c in nt["columns"]}
    assert "strain" in info["quantities"] and specs["strain"]["kind"] == "continuous"
    assert specs["strain"]["colorbar"]["title"]["text"] == "strain"
    assert specs["phase"]["categories"] == ["core", "shell"]
    assert "label" not in specs and any("'label' is not in the colour menu" in ln for ln in lines)
    assert info["quantities"].index("structure_ptm") == 3  # after CNA and a-CNA, before BOO
    assert specs["structure_ptm"]["categories"] == [*viewer.STRUCTURE_NAMES, "6"]
    assert values(nt, 0, "structure_ptm") == [(*viewer.STRUCTURE_NAMES, "6")[c] for c in ptm]
    colour = {}
    for key in ("structure_cna", "structure_acna", "structure_ptm", "structure_boo"):
        for name, c in zip(specs[key]["categories"], specs[key]["colours"], strict=True):
            colour.setdefault(name, set()).add(c)
    assert colour["fcc"] == {FCC} and colour["hcp"] == {HCP} and colour["bcc"] == {BCC}
    assert colour["ico"] == {ICO} and colour["sc"] == {SC}
    assert colour["other"] == colour["disordered"] == {GREY}
    assert specs["element"]["categories"] == ["Ni", "Pt"]
    assert specs["element"]["colours"] == viewer.element_colours(["Ni", "Pt"])
    assert values(nt, 0, "element") == els.tolist()


def test_domains_and_atom_ids_colour_the_atoms(tmp_path):
    """``domain`` and ``boundary`` of atoms.csv are classes (none = -1, light grey); the series'
    atom_ids.csv and domains.csv add ``atom_id`` (values) and ``domain_track`` (classes, the
    same track in both frames) through figures.build_viewer."""
    rng = np.random.default_rng(8)
    frames = []
    doms = {"a": np.array([0, 0, 1, -1, 1]), "b": np.array([1, 0, 0, -1])}
    for name, time in (("a", 0.0), ("b", 10.0)):
        n = len(doms[name])
        write_atoms(tmp_path / name / "atoms.csv", rng.normal(0, 4, (n, 3)), rng=rng,
                    extra={"domain": doms[name], "boundary": (doms[name] < 0).astype(int)})
        frames.append((name, time, tmp_path / name / "atoms.csv", summary_row(name, time, n)))
    # frame b: its domain 1 continues track 0 of frame a, its domain 0 is a new track 2
    (tmp_path / "domains.csv").write_text(
        "series,frame,time,domain,track\ns,a,0,0,0\ns,a,0,1,1\ns,b,10,0,2\ns,b,10,1,0\n")
    (tmp_path / "atom_ids.csv").write_text(
        "series,frame,time,index,atom_id\n" + "".join(f"s,a,0,{i},{i}\n" for i in range(5))
        + "s,b,10,0,4\ns,b,10,1,1\ns,b,10,2,5\ns,b,10,3,0\n")
    out = tmp_path / "viewer.html"
    for name, _time, _, row in frames:
        write_columns(tmp_path / name / "summary.csv", {k: [v] for k, v in row.items()})
    figures.build_viewer([f[2] for f in frames], [tmp_path / f[0] / "summary.csv" for f in frames],
                         out, series="s", atom_ids=tmp_path / "atom_ids.csv",
                         domains=tmp_path / "domains.csv")
    nt = page_data(out.read_text(encoding="utf-8"))
    assert values(nt, "a", "domain") == ["domain 0", "domain 0", "domain 1", "none", "domain 1"]
    col = nt["columns"][nt["keys"].index("domain")]
    assert col["kind"] == "categorical" and col["categories"][0] == "none"
    assert col["colours"][0] == viewer.NONE_COLOUR
    assert values(nt, "b", "domain_track") == ["track 0", "track 2", "track 2", "none"]
    assert values(nt, "a", "domain_track") == ["track 0", "track 0", "track 1", "none", "track 1"]
    assert values(nt, "b", "atom_id") == [4.0, 1.0, 5.0, 0.0]
    assert nt["columns"][nt["keys"].index("atom_id")]["kind"] == "continuous"
    assert values(nt, "a", "boundary")[3] == "domain boundary"


def test_domain_tracks_match_a_lookup_atom_by_atom(tmp_path):
    """figures.series_columns' ``domain_track`` (a vectorised lookup) against a dict lookup per
    atom: domains listed or not in domains.csv, -1 (no domain), a frame with no domain listed."""
    rng = np.random.default_rng(21)
    frames, expected, rows = [], {}, ["series,frame,time,domain,track"]
    for k in range(5):
        dom = rng.integers(-1, 9, 60)
        path = tmp_path / f"f{k}" / "atoms.csv"
        write_atoms(path, rng.normal(0, 4, (len(dom), 3)), rng=rng, extra={"domain": dom})
        listed = [] if k == 2 else rng.choice(9, size=int(rng.integers(1, 9)), replace=False)
        track = {int(d): int(rng.integers(0, 30)) for d in listed}
        rows += [f"s,f{k},{k},{d},{t}" for d, t in track.items()]
        frames.append((f"f{k}", float(k), path))
        expected[f"f{k}"] = np.array([track.get(int(d), -1) for d in dom], dtype=float)
    (tmp_path / "domains.csv").write_text("\n".join(rows) + "\n")
    got = figures.series_columns(frames, domains=tmp_path / "domains.csv")
    for name, want in expected.items():
        assert np.array_equal(got[name]["domain_track"], want), name


def test_element_colours_are_fixed_visible_and_distinct():
    # OVITO's default colours; the pale ones darkened to a luma of 0.65
    # Ni (80, 208, 80): luma 171.55 / 255 = 0.6727, times 0.65 / 0.6727 -> (77.3, 200.98,
    # 77.3), rounded down (77, 200, 77); Pt (230, 217, 173) -> (176, 166, 132)
    assert viewer.element_colours(["Ni", "Pt"]) == ["#4dc84d", "#b0a684"]
    assert viewer.element_colours(["Cu"]) == ["#c88033"]  # dark enough: OVITO's own
    assert viewer.element_colours(["Pt", "Au"]) == viewer.element_colours(["Au", "Pt"])[::-1]
    for el in viewer.OVITO_ELEMENT_RGB:
        rgb = viewer._rgb(viewer.element_colours([el])[0])
        assert (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255 <= 0.651, el
    # Ru and Rh (teal, 32 apart in OVITO's table) are told apart; so is any set of elements
    many = ["Ru", "Rh", "Pd", "Pt", "Ag", "Au", "Ir", "Os", "Xx", "Yy"]
    cols = [viewer._rgb(c) for c in viewer.element_colours(many)]
    assert min(np.linalg.norm(a - b) for i, a in enumerate(cols) for b in cols[:i]) >= 60
    assert viewer.element_colours(["Pt", "Pt"])[0] == viewer.element_colours(["Pt"])[0]


def test_fates_come_from_the_next_frames_fate_file(tmp_path):
    """fate.csv of frame t+1 describes frame t's atoms: removed / retained; the last frame and
    a frame whose pair was not matched (header-only fate.csv) are unknown."""
    rng = np.random.default_rng(5)
    names, frames, coords = ["a", "b", "c", "d"], [], {}
    for k, name in enumerate(names):
        coords[name] = rng.normal(0, 5, (30 - 3 * k, 3))
        write_atoms(tmp_path / name / "atoms.csv", coords[name], rng=rng)
    removed_a = np.arange(30) % 4 == 1
    write_fate(tmp_path / "b" / "fate.csv", coords["a"], removed_a)  # a -> b
    write_columns(tmp_path / "c" / "fate.csv", {"index": np.zeros(0, int), "fate": []})  # b -> c
    write_fate(tmp_path / "d" / "fate.csv", coords["c"], np.arange(24) % 2 == 0)  # c -> d
    fates = [tmp_path / n / "fate.csv" for n in names[1:]] + [None]
    for k, name in enumerate(names):
        frames.append((name, float(k), tmp_path / name / "atoms.csv",
                       summary_row(name, k, len(coords[name])), fates[k]))
    info = viewer.build_viewer("s", frames, tmp_path / "v.html")
    nt = page_data((tmp_path / "v.html").read_text(encoding="utf-8"))
    assert "fate" in info["quantities"]
    spec = nt["columns"][nt["keys"].index("fate")]
    assert spec["categories"] == ["removed", "retained", "unknown"]
    assert spec["colours"] == list(viewer.FATE_COLOURS)
    assert values(nt, "a", "fate") == np.where(removed_a, "removed", "retained").tolist()
    assert set(values(nt, "b", "fate")) == {"unknown"} == set(values(nt, "d", "fate"))
    assert values(nt, "c", "fate") == ["removed", "retained"] * 12
    # through the stage: the list is aligned with the frames, None where absent
    sums = []
    for k, name in enumerate(names):
        sums.append(tmp_path / name / "summary.csv")
        row = summary_row(name, k, len(coords[name]))
        write_columns(sums[-1], {c: [v] for c, v in row.items()})
    atoms = [tmp_path / n / "atoms.csv" for n in names]
    figures.build_viewer(atoms, sums, tmp_path / "w.html", series="s", fates=fates)
    assert (tmp_path / "w.html").read_bytes() == (tmp_path / "v.html").read_bytes()
    with pytest.raises(ValueError, match="3 fate files for 4 frames"):
        figures.build_viewer(atoms, sums, tmp_path / "x.html", series="s", fates=fates[:3])
    # a frame's own fate.csv (the previous frame's atoms) is refused, not silently misapplied
    bad = [tmp_path / "b" / "fate.csv", None, None, None]
    with pytest.raises(ValueError, match="describes 30 atoms but .* has 27"):
        figures.build_viewer(atoms[1:2] + atoms[1:], sums[1:2] + sums[1:],
                             tmp_path / "x.html", series="s", fates=bad)
    write_fate(tmp_path / "e" / "fate.csv", coords["a"] + 0.5, removed_a)  # same count
    with pytest.raises(ValueError, match="coordinates differ"):
        viewer.build_viewer("s", [(*frames[0][:4], tmp_path / "e" / "fate.csv")],
                            tmp_path / "x.html")
    # no fate file at all: no fate mode
    info = viewer.build_viewer("s", [f[:4] for f in frames], tmp_path / "y.html")
    assert "fate" not in info["quantities"]


def test_a_kept_parse_gives_the_same_page_and_follows_the_files(tmp_path):
    """ParseCache: the page built from kept parses equals the page built from the files, byte
    for byte (numbers, text columns, fates, a rejected frame); a changed atoms.csv or fate.csv
    is parsed again, and so is a damaged entry; prune removes the entries not used."""
    rng = np.random.default_rng(7)
    names, coords = ["a", "b", "c", "r"], {}
    for k, name in enumerate(names[:3]):
        coords[name] = rng.normal(0, 5, (20 + k, 3))
        write_atoms(tmp_path / name / "atoms.csv", coords[name], rng=rng)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "atoms.csv").write_text(",".join(ATOM_COLUMNS) + "\n")
    write_fate(tmp_path / "b" / "fate.csv", coords["a"], np.arange(20) % 3 == 0)  # a -> b
    fates = [tmp_path / "b" / "fate.csv", None, None, None]
    frames = [(n, float(k), tmp_path / n / "atoms.csv",
               summary_row(n, k, len(coords[n])) if n in coords
               else summary_row(n, k, 0, "rejected: fewer than 4 atoms"), fates[k])
              for k, n in enumerate(names)]
    folder = tmp_path / "cache"

    def build(name, cache=True):
        kept = viewer.ParseCache(folder) if cache else None
        viewer.build_viewer("s", frames, tmp_path / f"{name}.html", cache=kept)
        return (tmp_path / f"{name}.html").read_bytes(), kept

    plain, _ = build("plain", cache=False)
    first, kept = build("first")
    assert kept.hits == 0 and len(list(folder.glob("*.npz"))) == 4
    again, kept = build("again")
    assert kept.hits == 4 and first == again == plain
    nt = page_data(again.decode("utf-8"))
    assert "fate" in nt["keys"] and "structure_boo" in nt["keys"]
    # a changed atoms.csv: that frame only is parsed again, and the page follows it
    write_atoms(tmp_path / "c" / "atoms.csv", coords["c"] + 1.0, rng=rng)
    changed, kept = build("changed")
    assert kept.hits == 3 and changed == build("plain2", cache=False)[0] != plain
    (folder / "0123.part.npz").write_bytes(b"an interrupted write")
    assert kept.prune() == 2 and len(list(folder.glob("*.npz"))) == 4
    # a changed fate.csv changes its frame's key
    write_fate(tmp_path / "b" / "fate.csv", coords["a"], np.arange(20) % 2 == 0)
    fated, kept = build("fated")
    assert kept.hits == 3 and fated == build("plain3", cache=False)[0] != changed
    kept.prune()
    # a damaged entry is parsed again and written anew
    victim = sorted(folder.glob("*.npz"))[0]
    victim.write_bytes(b"not a zip file")
    mended, kept = build("mended")
    assert kept.hits == 3 and mended == fated
    assert build("after")[1].hits == 4
    # a folder that refuses the entries (here: a file in its place): the same page, none kept
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    kept = viewer.ParseCache(blocked)
    viewer.build_viewer("s", frames, tmp_path / "blocked.html", cache=kept)
    assert kept.hits == 0 and (tmp_path / "blocked.html").read_bytes() == fated
    assert kept.prune() == 0


def test_bad_input_gives_clear_errors(tmp_path):
    rng = np.random.default_rng(6)
    write_atoms(tmp_path / "f" / "atoms.csv", rng.normal(0, 5, (10, 3)), rng=rng)
    ok = ("f", 0.0, tmp_path / "f" / "atoms.csv", summary_row("f", 0, 10))
    with pytest.raises(ValueError, match="no frames"):
        viewer.build_viewer("s", [], tmp_path / "v.html")
    with pytest.raises(ValueError, match="at least 1"):
        viewer.build_viewer("s", [ok], tmp_path / "v.html", max_atoms=0)
    with pytest.raises(ValueError, match="each frame is"):
        viewer.build_viewer("s", [ok[:3]], tmp_path / "v.html")
    text = (tmp_path / "f" / "atoms.csv").read_text().splitlines()
    (tmp_path / "g.csv").write_text("\n".join([*text[:3], text[3] + ",1", *text[4:]]) + "\n")
    with pytest.raises(ValueError, match="g.csv: a data row has"):
        viewer.build_viewer("s", [("g", 0, tmp_path / "g.csv", None)], tmp_path / "v.html")
    (tmp_path / "h.csv").write_text("x,y,z\n1,2,3\n1,two,3\n")
    with pytest.raises(ValueError, match="'y' holds values that are not numbers"):
        viewer.build_viewer("s", [("h", 0, tmp_path / "h.csv", None)], tmp_path / "v.html")
    # text from the files reaches the page escaped (plotly shows labels and hover as HTML)
    (tmp_path / "k.csv").write_text('x,y,z,<img src=x onerror=alert(1)>,phase\n'
                                    '0,0,0,1,<b>core</b>\n1,1,1,2,</script><script>x\n')
    viewer.build_viewer("s", [("k", 0, tmp_path / "k.csv", None)], tmp_path / "k.html")
    text = (tmp_path / "k.html").read_text(encoding="utf-8")
    body = text.split("<script", 1)[0]  # the page's HTML before plotly.js
    data = text.split("var NT = ", 1)[1].split("\nvar base", 1)[0]
    assert "<img" not in body and "</script" not in data.lower() and "x" in data
    spec = {c["key"]: c for c in page_data(text)["columns"]}["<img src=x onerror=alert(1)>"]
    assert spec["label"] == spec["colorbar"]["title"]["text"] == (
        "&lt;img src=x onerror=alert(1)&gt;")
    nt = page_data(text)
    assert nt["columns"][nt["keys"].index("phase")]["categories"] == [
        "&lt;/script&gt;&lt;script&gt;x", "&lt;b&gt;core&lt;/b&gt;"]
    assert "&lt;img src=x onerror=alert(1)&gt;</option>" in text
    # a table without atoms, or only coordinates: a working page with what there is
    (tmp_path / "i.csv").write_text("x,y,z\n0,0,0\n")
    (tmp_path / "j.csv").write_text("")
    info = viewer.build_viewer("s", [("i", 0, tmp_path / "i.csv", None),
                                     ("j", 1, tmp_path / "j.csv", None)], tmp_path / "v.html")
    assert info["quantities"] == ["x", "y", "z"] and info["drawn"] == {"i": 1, "j": 0}


def test_plotly_js_version_is_read_from_the_embedded_bundle(synthetic):
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    version = viewer.plotly_js_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert f"plotly.js v{version}" in js[:200]
    assert viewer.plotly_js_version("/** plotly.js v9.8.7\n*/ x") == "9.8.7"
    assert viewer.plotly_js_version('x={version:"1.2.3"}') == "1.2.3"
    tmp, frames = synthetic
    info = viewer.build_viewer("s", frames, tmp / "v.html")
    text = (tmp / "v.html").read_text(encoding="utf-8")
    assert info["plotlyjs_version"] == version
    assert f'plotly.js <span id="nt-plotlyjs-version">{version}</span>' in text
    import plotly

    if plotly.__version__ != version:
        assert f"plotly.js {plotly.__version__}" not in text, "the Python package's version"


def test_viewer_from_files_reads_frames_from_summaries(synthetic):
    tmp, frames = synthetic
    for name, _time, _atoms, row in frames:
        with open(tmp / name / "summary.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(row))
            w.writeheader()
            w.writerow(row)
    atoms = [tmp / n / "atoms.csv" for n in ("early", "bad", "late")]
    sums = [tmp / n / "summary.csv" for n in ("early", "bad", "late")]
    info = figures.build_viewer(atoms, sums, tmp / "v.html", series="s", log=tmp / "v.log")
    assert list(info["drawn"]) == ["early", "bad", "late"]
    log = (tmp / "v.log").read_text()
    assert "frame late: 40 atoms, 40 drawn" in log and log.rstrip().splitlines()[-1][:3] == "ok "


# ----------------------------------------------------------------------------------------------
# in a real browser


def _chromium() -> str:
    path = os.environ.get("NANOTRAJ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip(f"Chromium not found at {path} (install it: scripts/ci/install_browser.sh, "
                    "or set NANOTRAJ_CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is not installed (dev extra)")
    path = _chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Page:
    """A page of the viewer opened in Chromium, with its console errors and network requests."""

    def __init__(self, browser, path, viewport=(1200, 800)):
        self.errors, self.requests = [], []
        self.page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        self.page.on("console",
                     lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_function("() => window.nanotrajViewer !== undefined", timeout=30000)
        self.settle()
        # the scene's centre when the page opens: a fixed region to compare screenshots of (the
        # canvas itself resizes when the colour bar's labels change width)
        b = self.page.locator("#scene canvas").bounding_box()
        self.box = {"x": b["x"] + 0.2 * b["width"], "y": b["y"] + 0.1 * b["height"],
                    "width": 0.6 * b["width"], "height": 0.8 * b["height"]}

    def settle(self, drawn=True):
        """The viewer's render is done (the figure's data are set); ``drawn``: then two
        animation frames and a moment more, so that the WebGL canvas is drawn."""
        self.page.wait_for_function("() => !nanotrajViewer.state.busy", timeout=30000)
        if drawn:
            self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                               "requestAnimationFrame(r)))")
            self.page.wait_for_timeout(100)

    def js(self, expr):
        return self.page.evaluate(expr)

    def reset(self):
        """Frame 0, the default colour, no cut."""
        self.js("() => { nanotrajViewer.pause(); nanotrajViewer.setCut({axis: 'off'}); "
                "nanotrajViewer.colourBy(nanotrajViewer.data.defaultQuantity); "
                "return nanotrajViewer.show(0); }")
        self.settle()

    def colour(self, key):
        """Choose ``key`` in the page's colour menu, as a user does."""
        j = self.js(f"() => nanotrajViewer.data.keys.indexOf({json.dumps(key)})")
        assert j >= 0, f"{key} is in the colour menu"
        self.page.select_option("#nt-colour", value=str(j))
        self.settle(drawn=False)

    def graph(self):
        return self.js("""() => { const gd = document.querySelector('.plotly-graph-div');
            const d = gd.data;
            return {n: d.reduce((s, t) => s + t.x.length, 0), title: gd.layout.title.text,
                    traces: d.map(t => ({name: t.name, color: Array.isArray(t.marker.color) ?
                        Array.from(t.marker.color) : t.marker.color, visible: t.visible,
                        idx: t.customdata.map(r => r[0]), x: Array.from(t.x),
                        cmin: t.marker.cmin, cmax: t.marker.cmax,
                        bar: t.marker.showscale ? t.marker.colorbar.title.text : null})),
                    legend: gd.layout.showlegend, active: gd.layout.sliders[0].active,
                    eye: gd._fullLayout.scene.camera.eye}; }""")

    def shown(self):
        """Sorted atoms.csv rows of the atoms drawn now (every trace)."""
        return sorted(i for t in self.graph()["traces"] for i in t["idx"])

    def scene_pixels(self):
        from PIL import Image

        png = self.page.screenshot(clip=self.box)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)

    def close(self):
        self.page.close()


# ---- the demo series, analysed by the library, with the tracking stage's fate files


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory):
    """The viewer of the first four frames of the shipped demo series, with real fates."""
    from nanotraj.stages import frame as stage
    from nanotraj.stages import tracking

    out = tmp_path_factory.mktemp("viewer")
    with open(REPO / "config" / "frames.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))[:4]
    atoms, sums, fates = [], [], []
    for k, r in enumerate(rows):
        f = stage.run_frame(REPO / r["path"], out / "results", series=r["series"],
                            frame=r["frame"], time=float(r["time"]), pdbs=False)
        atoms.append(f["atoms"])
        sums.append(f["summary"])
        if k:
            work, _ = stage.frame_files(out / "results", r["series"], r["frame"])
            prev, _ = stage.frame_files(out / "results", r["series"], rows[k - 1]["frame"])
            base = f["atoms"].parent
            inputs = {"frame": work["frame"], "rdf": work["rdf"],
                      **{f"prev_{s}": prev[s] for s in ("frame", "boo", "coordination",
                                                        "surface")}}
            tracking.track_pair(inputs, {"tracking": base / "tracking.npz",
                                         "fate": base / "fate.csv", "pdb": base / "fate.pdb"},
                                previous_frame=rows[k - 1]["frame"])
            fates.append(base / "fate.csv")
    fates.append(None)  # fate of frame k = fate.csv of frame k+1; the last frame has none
    info = figures.build_viewer(atoms, sums, out / "viewer.html", series=rows[0]["series"],
                                fates=fates, log=out / "viewer.log")
    n_atoms = [sum(1 for _ in open(a)) - 1 for a in atoms]
    return out / "viewer.html", rows, n_atoms, info, fates


@pytest.fixture(scope="module")
def demo(browser, demo_page):
    pg = Page(browser, demo_page[0])
    yield pg
    pg.close()


def test_browser_page_loads_offline_without_errors_and_draws(demo, demo_page):
    _, rows, n_atoms, _, _ = demo_page
    assert demo.errors == []
    assert all(u.startswith("file://") for u in demo.requests), demo.requests
    g = demo.graph()
    assert g["n"] == n_atoms[0] and f"frame {rows[0]['frame']}" in g["title"]
    px = demo.scene_pixels()
    assert px.std() > 20, "the 3D canvas is not blank"
    assert len(np.unique(px.reshape(-1, 3)[:, 0] // 16)) > 5, "many colours are drawn"
    assert demo.page.locator(".gtitle").first.text_content().startswith(rows[0]["series"])


def test_browser_footer_names_the_embedded_plotly_js(demo):
    runtime = demo.js("() => Plotly.version")
    footer = demo.page.locator("#nt-plotlyjs-version").text_content()
    assert footer == runtime == viewer.plotly_js_version()
    assert f"plotly.js {runtime} " in demo.page.locator("#nanotraj-viewer-note").text_content()


def test_browser_slider_changes_frame_and_title_and_keeps_camera(demo, demo_page):
    _, rows, n_atoms, _, _ = demo_page
    demo.reset()
    # rotate the particle with the mouse, as a user would
    box = demo.box
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    demo.page.mouse.move(cx, cy)
    demo.page.mouse.down()
    demo.page.mouse.move(cx + 150, cy + 60, steps=10)
    demo.page.mouse.up()
    demo.settle()
    before_px, before = demo.scene_pixels(), demo.graph()
    # click the slider's rail at its right end: the last frame
    rail = demo.page.locator(".slider-rail-touch-rect").bounding_box()
    demo.page.mouse.click(rail["x"] + rail["width"] - 2, rail["y"] + rail["height"] / 2)
    demo.settle()
    after = demo.graph()
    assert after["active"] == len(rows) - 1
    assert after["n"] == n_atoms[-1] != before["n"]
    assert f"frame {rows[-1]['frame']}" in after["title"]
    assert f"t = {float(rows[-1]['time']):g} s" in after["title"]
    assert f"{n_atoms[-1]} atoms" in after["title"] and "diameter" in after["title"]
    title = demo.page.locator(".gtitle").first.text_content()
    assert rows[-1]["frame"] in title and rows[0]["frame"] not in title
    assert after["eye"] == pytest.approx(before["eye"]), "the camera is kept"
    assert before["eye"] != pytest.approx({"x": 1.5, "y": 1.5, "z": 1.1}), "the drag rotated"
    diff = np.abs(demo.scene_pixels() - before_px).mean()
    assert diff > 1.0, "the drawn frame changed"
    assert demo.errors == []


def test_browser_colour_menu_changes_colours(demo):
    demo.reset()
    before_px, before = demo.scene_pixels(), demo.graph()
    assert before["traces"][0]["bar"].startswith("CN (bonds)")
    demo.colour("structure_boo")
    after = demo.graph()
    assert after["legend"] and after["n"] == before["n"]
    assert {t["color"] for t in after["traces"]} <= {FCC, HCP, BCC, ICO, GREY}
    assert [t["name"].split(" (")[0] for t in after["traces"]] == [
        c for c in viewer.BOO_CLASSES if c in {t["name"].split(" (")[0] for t in
                                               after["traces"]}]
    assert np.abs(demo.scene_pixels() - before_px).mean() > 1.0, "the colours changed"
    # the choice stays when the frame changes
    demo.js("() => nanotrajViewer.show(2)")
    demo.settle()
    assert demo.graph()["legend"] and demo.page.locator("#nt-colour").input_value() == str(
        demo.js("() => nanotrajViewer.data.keys.indexOf('structure_boo')"))
    assert demo.errors == []


def test_browser_fate_colours_match_the_tracking_files(demo, demo_page):
    """Atoms of frame k coloured 'removed' are exactly those that fate.csv of frame k+1 says
    are removed by then; the last frame's atoms are 'unknown'."""
    _, rows, n_atoms, _, fates = demo_page
    demo.reset()
    demo.colour("fate")
    n_removed = 0
    for k in range(len(rows)):
        demo.js(f"() => nanotrajViewer.show({k})")
        demo.settle()
        got = {t["name"].split(" (")[0]: (t["color"], sorted(t["idx"]))
               for t in demo.graph()["traces"]}
        if fates[k] is None:
            assert got["unknown"][1] == list(range(n_atoms[k])) and not got["removed"][1]
            continue
        with open(fates[k], newline="") as fh:
            fate = [r["fate"] for r in csv.DictReader(fh)]
        assert len(fate) == n_atoms[k]
        assert got["removed"] == (viewer.FATE_COLOURS[0],
                                  [i for i, f in enumerate(fate) if f == "removed"])
        assert got["retained"][1] == [i for i, f in enumerate(fate) if f == "retained"]
        n_removed += len(got["removed"][1])
    assert n_removed > 0, "the demo series loses atoms"
    assert demo.errors == []


def test_browser_legend_hides_a_class_across_frames(demo):
    demo.reset()
    demo.colour("structure_cna")
    demo.page.locator(".legend .traces", has_text="fcc").locator(".legendtoggle").click()
    # plotly waits for a possible double click before it hides the trace
    demo.page.wait_for_function("() => document.querySelector('.plotly-graph-div').data.some("
                                "t => t.visible === 'legendonly')", timeout=5000)
    demo.settle()
    vis = {t["name"].split(" (")[0]: t["visible"] for t in demo.graph()["traces"]}
    assert vis["fcc"] == "legendonly" and vis["other"] in (None, True)
    demo.js("() => nanotrajViewer.show(1)")
    demo.settle()
    vis = {t["name"].split(" (")[0]: t["visible"] for t in demo.graph()["traces"]}
    assert vis["fcc"] == "legendonly", "the hidden class stays hidden in the next frame"
    assert demo.errors == []


def test_browser_play_steps_through_frames(demo, demo_page):
    _, rows, _, _, _ = demo_page
    demo.reset()
    demo.page.locator(".updatemenu-button", has_text="play").click()
    demo.page.wait_for_function(
        "() => document.querySelector('.plotly-graph-div').layout.sliders[0].active >= 2",
        timeout=20000)
    demo.page.locator(".updatemenu-button", has_text="pause").click()
    demo.settle()
    k = demo.graph()["active"]
    demo.page.wait_for_timeout(3 * viewer.PLAY_INTERVAL_MS)
    g = demo.graph()
    assert g["active"] == k, "pause stops playing"
    assert f"frame {rows[k]['frame']}" in g["title"]
    assert demo.errors == []


# ---- a synthetic series: every kind of column, a known grid for the cut, many frames


GRID = 3.0 * np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3)
N_SMALL = 28  # frames of the series (long time labels: the slider must thin them)


def _lab_columns(n, rng):
    k = np.arange(n)
    return {
        "structure_ptm": k % 6,
        "strain": rng.normal(0, 0.02, n),
        "phase": np.where(k % 5 == 0, "shell", "core"),
    }


@pytest.fixture(scope="module")
def lab_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    rng = np.random.default_rng(7)
    frames, tables = [], {}
    n = len(GRID)
    els = np.where(np.arange(n) % 4 == 0, "Ni", "Pt")
    tables["grid"] = write_atoms(out / "grid" / "atoms.csv", GRID, rng=rng, element=els,
                                 extra=_lab_columns(n, rng))
    removed = np.arange(n) % 3 == 0
    write_fate(out / "next" / "fate.csv", GRID, removed)
    frames.append(("grid", 0.0, out / "grid" / "atoms.csv", summary_row("grid", 0, n),
                   out / "next" / "fate.csv"))
    big = rng.uniform(-40, 40, (20000, 3))
    tables["big"] = write_atoms(out / "big" / "atoms.csv", big, rng=rng,
                                extra=_lab_columns(len(big), rng))
    frames.append(("big", 1234.5, out / "big" / "atoms.csv", summary_row("big", 0, 20000),
                   None))
    for k in range(2, N_SMALL):
        small = rng.normal(7.5, 3, (12, 3))
        name = f"s{k:02d}"
        write_atoms(out / name / "atoms.csv", small, rng=rng, extra=_lab_columns(12, rng))
        frames.append((name, 1234.5 * k, out / name / "atoms.csv", summary_row(name, 0, 12),
                       None))
    info = viewer.build_viewer("lab", frames, out / "viewer.html")
    nt = page_data((out / "viewer.html").read_text(encoding="utf-8"))
    return out / "viewer.html", nt, tables, removed, info


@pytest.fixture(scope="module")
def lab(browser, lab_page):
    pg = Page(browser, lab_page[0])
    yield pg
    pg.close()


def expected_classes(key, table, removed):
    """The class of every atom of the grid frame, computed here from the written columns."""
    n = len(table["x"])
    if key == "fate":
        return np.where(removed, "removed", "retained")
    if key in ("structure_cna", "structure_acna", "structure_ptm"):
        return np.array(viewer.STRUCTURE_NAMES)[table[key]]
    if key in ("crystalline", "surface"):
        return np.array(viewer.BINARY_COLUMNS[key][0])[table[key]]
    assert key in ("element", "structure_boo", "phase")
    return np.asarray(table[key]).astype(str)[:n]


def test_browser_every_colour_mode_colours_the_atoms_as_expected(lab, lab_page):
    """Each column of atoms.csv (and the fate) is in the menu; for each, the traces' marker
    colours read back from the page are those of each atom's class or value."""
    _, nt, tables, removed, _ = lab_page
    table = tables["grid"]
    lab.reset()
    options = lab.page.locator("#nt-colour option").all_text_contents()
    assert len(options) == len(nt["keys"]) and "fate in the next frame" in options
    specs = {c["key"]: c for c in nt["columns"]}
    fixed = {"fcc": FCC, "hcp": HCP, "bcc": BCC, "ico": ICO, "sc": SC, "other": GREY,
             "disordered": GREY, "removed": viewer.FATE_COLOURS[0],
             "retained": viewer.FATE_COLOURS[1], "surface": "#ff7f0e",
             "Ni": viewer.element_colours(["Ni", "Pt"])[0],
             "Pt": viewer.element_colours(["Ni", "Pt"])[1]}
    for key in nt["keys"]:
        lab.colour(key)
        g = lab.graph()
        assert lab.shown() == list(range(len(GRID))), key
        if specs[key]["kind"] == "categorical":
            assert g["legend"], key
            want = expected_classes(key, table, removed)
            for t in g["traces"]:
                name = t["name"].rsplit(" (", 1)[0]
                assert t["name"] == f"{name} ({len(t['idx'])})"
                assert sorted(t["idx"]) == np.flatnonzero(want == name).tolist(), (key, name)
                if name in fixed:
                    assert t["color"] == fixed[name], (key, name)
                assert t["color"] == specs[key]["colours"][specs[key]["categories"].index(name)]
            assert len({t["color"] for t in g["traces"]}) == len(g["traces"]) or key.startswith(
                "structure_"), "classes of one menu entry differ (but other = disordered)"
        else:
            (t,) = g["traces"]
            assert not g["legend"] and t["bar"].startswith(specs[key]["label"])
            ref = np.asarray(table[key], dtype=float)[t["idx"]]
            got = np.array([np.nan if c is None else c for c in t["color"]])
            assert np.array_equal(np.isnan(got), np.isnan(ref)), key
            tol = 0.0005 if key in "xyz" else 0.5 * 10.0 ** -specs[key]["decimals"]
            np.testing.assert_allclose(got[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=0,
                                       atol=tol * 1.001, err_msg=key)
            assert (t["cmin"], t["cmax"]) == (specs[key]["cmin"], specs[key]["cmax"])
    assert lab.errors == []


def _set_range(pg, selector, value):
    """Move a range input to ``value`` as a drag does (value, then an input event)."""
    pg.js(f"""() => {{ const e = document.querySelector('{selector}'); e.value = '{value}';
              e.dispatchEvent(new Event('input', {{bubbles: true}})); }}""")
    pg.settle(drawn=False)


def test_browser_slab_and_clipping_plane_hide_the_right_atoms(lab, lab_page):
    """A 6x6x6 grid (3 A spacing): the atoms drawn for each cut are those computed here, through
    the page's own controls, with the frame slider and the colour menu."""
    _, nt, tables, _, _ = lab_page
    lab.reset()
    assert lab.page.locator("#nt-cut-pos").is_disabled()
    lab.page.select_option("#nt-cut-axis", "x")
    lab.settle(drawn=False)
    assert not lab.page.locator("#nt-cut-pos").is_disabled()
    _set_range(lab, "#nt-cut-pos", "7.5")
    _set_range(lab, "#nt-cut-thick", "3.2")  # 5.9 <= x <= 9.1: the planes x = 6 and x = 9
    want = np.flatnonzero(np.abs(GRID[:, 0] - 7.5) <= 1.6).tolist()
    assert len(want) == 72 and lab.shown() == want
    assert "72 of 216 atoms shown" in lab.page.locator("#nt-shown").text_content()
    assert "cut |x − 7.5| ≤ 1.60 Å: 72 of 216" in lab.graph()["title"]
    # keyboard: one step of the position slider (0.1 A) to 7.6: the same planes
    lab.page.locator("#nt-cut-pos").focus()
    lab.page.keyboard.press("ArrowRight")
    lab.settle(drawn=False)
    assert lab.js("() => nanotrajViewer.state.cut.pos") == pytest.approx(7.6)
    assert lab.shown() == want
    # a clipping plane: keep y <= 4.5, then y >= 4.5
    lab.page.select_option("#nt-cut-axis", "y")
    lab.page.select_option("#nt-cut-mode", "below")
    _set_range(lab, "#nt-cut-pos", "4.5")
    assert lab.page.locator("#nt-cut-thick").is_disabled()
    assert lab.shown() == np.flatnonzero(GRID[:, 1] <= 4.5).tolist()
    lab.page.select_option("#nt-cut-mode", "above")
    lab.settle(drawn=False)
    assert lab.shown() == np.flatnonzero(GRID[:, 1] >= 4.5).tolist()
    # the colour menu keeps the cut (classes: the union of the traces)
    lab.colour("structure_ptm")
    assert lab.shown() == np.flatnonzero(GRID[:, 1] >= 4.5).tolist()
    # the view direction: looking down z, the slab is perpendicular to z
    lab.js("() => Plotly.relayout(document.querySelector('.plotly-graph-div'), "
           "{'scene.camera.eye': {x: 0, y: 0, z: 2.2}, 'scene.camera.up': {x: 0, y: 1, z: 0}})")
    lab.page.select_option("#nt-cut-axis", "view")
    lab.page.select_option("#nt-cut-mode", "slab")
    cz = nt["cut"]["centre"][2]
    _set_range(lab, "#nt-cut-pos", f"{round(6.0 - cz, 1)}")
    _set_range(lab, "#nt-cut-thick", "2")
    s = GRID[:, 2] - cz
    p = lab.js("() => nanotrajViewer.state.cut.pos")
    assert lab.shown() == np.flatnonzero(np.abs(s - p) <= 1.0).tolist() == np.flatnonzero(
        GRID[:, 2] == 6.0).tolist()
    # turn the camera to look along x: the plane follows the view
    lab.js("() => Plotly.relayout(document.querySelector('.plotly-graph-div'), "
           "{'scene.camera.eye': {x: 2.2, y: 0, z: 0}, 'scene.camera.up': {x: 0, y: 0, z: 1}})")
    lab.settle(drawn=False)
    cx = nt["cut"]["centre"][0]
    want = np.flatnonzero(np.abs(GRID[:, 0] - cx - p) <= 1.0).tolist()
    assert lab.shown() == want and len(want) == 36
    # turn it with the mouse, as a user does: the plane is perpendicular to the new view
    _set_range(lab, "#nt-cut-thick", "6")
    box = lab.box
    cx_px, cy_px = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    lab.page.mouse.move(cx_px, cy_px)
    lab.page.mouse.down()
    for i in range(1, 13):  # slowly: software WebGL draws a frame per move
        lab.page.mouse.move(cx_px + 10 * i, cy_px + 6 * i)
        lab.page.wait_for_timeout(40)
    lab.page.mouse.up()
    lab.settle(drawn=False)
    cam = lab.js("() => { const c = document.querySelector('.plotly-graph-div')._fullLayout"
                 ".scene._scene.getCamera(); return [c.eye, c.center]; }")
    n = np.array([cam[0][a] - cam[1][a] for a in "xyz"])
    n /= np.linalg.norm(n)
    assert n[0] < 0.999, "the drag turned the view away from x"
    s = (GRID - nt["cut"]["centre"]) @ n
    want = np.flatnonzero(np.abs(s - p) <= 3.0).tolist()
    margin = np.min(np.abs(np.abs(s - p) - 3.0))
    if margin > 1e-6:  # no atom on the slab's faces (rounding of the camera read back)
        assert lab.shown() == want and 0 < len(want) < len(GRID)
    # the next frame (20,000 atoms) keeps the cut; every drawn atom is tested
    lab.page.select_option("#nt-cut-axis", "z")
    _set_range(lab, "#nt-cut-pos", "0")
    _set_range(lab, "#nt-cut-thick", "5")
    lab.js("() => nanotrajViewer.show(1)")
    lab.settle(drawn=False)
    z = np.array(values(nt, 1, "z"))
    assert lab.shown() == sorted(np.array(drawn_rows(nt, 1))[np.abs(z) <= 2.5].tolist())
    assert len(lab.shown()) > 500
    assert lab.errors == []


def test_browser_cut_is_computed_fast_for_20000_atoms(lab):
    """The page's own work for a new cut of a 20,000-atom frame (selection and traces; plotly's
    drawing comes after it) takes milliseconds: median of 7 runs."""
    t = lab.js("""() => { const V = nanotrajViewer, cut = Object.assign({}, V.state.cut);
        Object.assign(V.state.cut, {axis: 'view', mode: 'slab', thick: 5});
        const D = V.decode(1), ts = [];
        if (D.m !== 20000) { return -1; }
        for (let i = 0; i < 7; i++) { const t0 = performance.now(); V.state.cut.pos = i - 3;
            V.traces(D, V.kept(D)); ts.push(performance.now() - t0); }
        Object.assign(V.state.cut, cut);
        ts.sort((a, b) => a - b); return ts[3]; }""")
    assert 0 < t < 100, f"{t:.1f} ms"


def _boxes(pg):
    return pg.js("""() => {
      const r = e => { const b = e.getBoundingClientRect();
                       return [b.left, b.top, b.right, b.bottom]; };
      const gd = document.querySelector('.plotly-graph-div'), q = s => Array.from(
        gd.querySelectorAll(s));
      return {
        gd: r(gd), bar: Array.from(document.querySelectorAll(
          '#nt-bar select, #nt-bar input, #nt-bar output')).map(r),
        scene: r(gd.querySelector('#scene')), title: q('.gtitle').map(r),
        labels: q('.slider-label').filter(e => e.textContent).map(r),
        rail: q('.slider-rail-rect').map(r), buttons: q('.updatemenu-button').map(r),
        colorbar: q('.colorbar').map(r), legend: q('.legend').map(r)}; }""")


def _overlap(a, b, tol=0.5):
    return min(a[2], b[2]) - max(a[0], b[0]) > tol and min(a[3], b[3]) - max(a[1], b[1]) > tol


def _assert_no_overlap(b, where):
    pairs = []
    labels = b["labels"]
    assert len(labels) >= 3, f"{where}: slider labels drawn"
    pairs += [("label", "label", x, y) for i, x in enumerate(labels) for y in labels[:i]]
    others = {"button": b["buttons"], "rail": b["rail"], "title": b["title"],
              "colorbar": b["colorbar"], "legend": b["legend"]}
    for name, boxes in others.items():
        pairs += [("label", name, x, y) for x in labels for y in boxes]
        pairs += [("scene", name, b["scene"], y) for y in boxes]
    pairs += [("scene", "label", b["scene"], y) for y in labels]
    pairs += [("button", "rail", x, y) for x in b["buttons"] for y in b["rail"]]
    pairs += [("title", n, x, y) for x in b["title"] for n in ("colorbar", "legend")
              for y in others[n]]
    bad = [(p, q, x, y) for p, q, x, y in pairs if _overlap(x, y)]
    assert not bad, f"{where}: overlapping {bad[:3]}"
    assert all(x[3] <= b["gd"][1] + 0.5 for x in b["bar"]), f"{where}: the controls above the plot"
    assert all(x[0] >= b["gd"][0] - 0.5 and x[2] <= b["gd"][2] + 0.5 for x in b["buttons"])


@pytest.mark.parametrize("viewport", [(1200, 800), (820, 650)])
def test_browser_controls_and_labels_do_not_overlap(browser, lab, lab_page, viewport):
    """Bounding boxes in Chromium: slider tick labels (28 frames, 6-character times) apart from
    each other and from the buttons; scene, title, colour bar or legend, slider and buttons
    apart; the page's controls above the plot. At two window sizes, for values and classes."""
    lab.reset()
    lab.page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    lab.page.wait_for_timeout(400)  # plotly's resize, then the viewer's (thins the labels)
    lab.settle(drawn=False)
    _assert_no_overlap(_boxes(lab), f"{viewport} values")
    shown = lab.js("() => Array.from(document.querySelectorAll('.slider-label'))"
                   ".filter(e => e.textContent).length")
    assert 3 <= shown < N_SMALL, "28 labels do not fit: every n-th is shown"
    lab.colour("structure_cna")
    _assert_no_overlap(_boxes(lab), f"{viewport} classes")
    lab.page.set_viewport_size({"width": 1200, "height": 800})
    lab.page.wait_for_timeout(400)
    lab.settle(drawn=False)
    assert lab.errors == []


# ----------------------------------------------------------------------------------------------
# the workflow rule and the report


@pytest.mark.workflow
def test_workflow_builds_the_viewer_and_lists_it_in_the_report(tmp_path):
    with open(REPO / "config" / "frames.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))[:2]
    lines = ["series\tframe\ttime\tpath"]
    lines += [f"{r['series']}\t{r['frame']}\t{r['time']}\t{REPO / r['path']}" for r in rows]
    (tmp_path / "frames.tsv").write_text("\n".join(lines) + "\n")
    series = rows[0]["series"]
    target = f"results/{series}/viewer.html"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(tmp_path), "--cores", "2", target, "--config", "frames=frames.tsv"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    nt = page_data((tmp_path / target).read_text(encoding="utf-8"))
    assert [f["name"] for f in nt["frames"]] == [r["frame"] for r in rows]
    # the first frame's fates are those of the second frame's fate.csv; the last are unknown
    with open(tmp_path / "results" / series / rows[1]["frame"] / "fate.csv", newline="") as fh:
        fate = [r["fate"] for r in csv.DictReader(fh)]
    assert values(nt, 0, "fate") == fate and "removed" in fate
    assert set(values(nt, 1, "fate")) == {"unknown"}
    log = (tmp_path / "results" / "logs" / series / "build_viewer.log").read_text()
    assert "KiB of data" in log and "page" in log
    proc = subprocess.run([*cmd, "--report", "report.html"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "viewer.html" in report
