"""The interactive 3D page (nanotraj.viewer): built from small atoms.csv files, then opened in a
real headless Chromium (Debian's ``chromium`` driven by Playwright for Python).

Browser tests are skipped, with the reason, where Playwright or Chromium is missing; CI installs
Chromium with ``scripts/ci/install_browser.sh`` (Playwright's own browser download cannot work
here, so the system browser is used through ``executable_path``).
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

from .conftest import REPO

pytest.importorskip("plotly", reason="plotly is not installed (pip install -e '.[workflow]')")

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip


# ----------------------------------------------------------------------------------------------
# synthetic frames


def write_atoms(path, coords, *, rng, extra=None):
    """An atoms.csv with every contract column (values random but plausible)."""
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
    cols["nn_distance"][0] = np.nan  # an atom without bonds
    cols["structure_cna"] = rng.integers(0, 5, n)
    cols["structure_boo"] = rng.choice(["fcc", "hcp", "bcc", "ico", "disordered"], n)
    cols["surface"] = rng.integers(0, 2, n)
    cols["structure_acna"] = rng.integers(0, 5, n)
    cols["structure_ptm"] = rng.integers(0, 6, n)
    cols["ptm_rmsd"] = rng.uniform(0.0, 0.2, n)
    for axis in "xyzw":
        cols[f"orientation_{axis}"] = rng.uniform(-1.0, 1.0, n)
    cols = {c: cols[c] for c in (*ATOM_COLUMNS, *STRUCTURE_COLUMNS)} | (extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i in range(n):
            w.writerow(["nan" if isinstance(v[i], float) and v[i] != v[i] else v[i]
                        for v in cols.values()])
    return cols


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
    data = page_data(text)
    assert [f["name"] for f in data["frames"]] == ["early", "bad", "late"]
    early, bad, late = data["frames"]
    assert "t = 0 min" in early["title"] and "60 atoms" in early["title"]
    assert "diameter 12.60 Å" in early["title"] and "fraction disordered 0.125" in early["title"]
    assert "rejected: fewer than 4 atoms" in bad["title"] and bad["x"] == []
    assert len(late["x"]) == 40 and len(late["cd"]) == 40
    assert [row[0] for row in early["cd"]] == list(range(60)), "hover index = row of atoms.csv"
    assert data["keys"] == ["cn", "Q6", "Q4", "C6", "crystalline", "nn_distance",
                            "structure_cna", "structure_boo"]
    assert data["keys"][data["defaultQuantity"]] == viewer.DEFAULT_QUANTITY
    # hover text names every value; colour bars carry units
    for key in data["keys"]:
        assert f"{key}: %{{customdata[" in data["hovertemplate"]
    specs = {q["key"]: q for q in data["quantities"]}
    assert "Å" in specs["nn_distance"]["colorbar"]["title"]["text"]
    assert specs["structure_cna"]["colorbar"]["ticktext"] == ["other", "fcc", "hcp", "bcc", "ico"]
    assert specs["structure_boo"]["map"] == {c: i for i, c in enumerate(viewer.BOO_CLASSES)}
    assert early["cd"][0][data["keys"].index("nn_distance") + 1] == "n/a", "nan stays missing"
    # one colour range per series
    q6 = [r[2] for f in data["frames"] for r in f["cd"]]
    assert specs["Q6"]["cmin"] == min(q6) and specs["Q6"]["cmax"] == max(q6)
    # sizes measured and reported, per frame
    assert set(info["bytes_per_frame"]) == {"early", "bad", "late"}
    assert info["bytes_per_frame"]["early"] > info["bytes_per_frame"]["late"] > 0
    assert any("frame early: 60 atoms, 60 drawn" in ln for ln in lines)
    assert "MB" in lines[-1] and "KiB per frame" in lines[-1]
    assert f"Page {info['bytes_total'] / 1e6:.2f} MB" in text


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
    (f,) = page_data(text)["frames"]
    assert info["drawn"] == {"f": 100} and info["subsampled"] == ["f"]
    assert "showing 100 of 300 atoms" in f["title"]
    assert "more than 100 atoms are drawn as a fixed random subsample" in text
    idx = [r[0] for r in f["cd"]]
    assert idx == sorted(set(idx)) and idx == viewer.subsample(300, 100).tolist()
    np.testing.assert_allclose(f["x"], np.round(cols["x"][idx], 3))
    # every quantity of a drawn atom is that atom's row (only the drawn rows are parsed)
    keys = [q["key"] for q in viewer.QUANTITIES]
    q6 = [r[1 + keys.index("Q6")] for r in f["cd"]]
    np.testing.assert_allclose(q6, np.round(cols["Q6"][idx], 3))
    assert [r[1 + keys.index("structure_boo")] for r in f["cd"]] == cols["structure_boo"][
        idx].tolist()
    # the whole-page budget lowers the per-frame limit
    info = viewer.build_viewer("s", frames * 1, tmp_path / "w.html", max_total_atoms=50)
    assert info["limit"] == 50 and info["drawn"] == {"f": 50}
    assert viewer.marker_size(300) > viewer.marker_size(20000) >= 2


def test_optional_fate_column_joins_the_colour_menu(tmp_path):
    rng = np.random.default_rng(3)
    coords = rng.normal(0, 5, (30, 3))
    fate = np.array(["kept", "removed"] * 15)
    write_atoms(tmp_path / "f" / "atoms.csv", coords, rng=rng,
                extra={"new": rng.integers(0, 2, 30), "fate": fate})
    frames = [("f", 0.0, tmp_path / "f" / "atoms.csv", summary_row("f", 0, 30))]
    info = viewer.build_viewer("s", frames, tmp_path / "v.html")
    assert info["quantities"][-2:] == ["new", "fate"]
    data = page_data((tmp_path / "v.html").read_text(encoding="utf-8"))
    fate_spec = data["quantities"][-1]
    assert fate_spec["colorbar"]["ticktext"] == ["kept", "removed"]
    assert data["frames"][0]["cd"][1][-1] == "removed"


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
# in a real browser, on the demo series


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


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory):
    """The viewer of the shipped demo series, its frames analysed by the library."""
    from nanotraj.stages import frame as stage

    out = tmp_path_factory.mktemp("viewer")
    with open(REPO / "config" / "frames.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    atoms, sums = [], []
    for r in rows:
        f = stage.run_frame(REPO / r["path"], out / "results", series=r["series"],
                               frame=r["frame"], time=float(r["time"]), pdbs=False)
        atoms.append(f["atoms"])
        sums.append(f["summary"])
    info = figures.build_viewer(atoms, sums, out / "viewer.html", series=rows[0]["series"],
                                    log=out / "viewer.log")
    n_atoms = [sum(1 for _ in open(a)) - 1 for a in atoms]
    return out / "viewer.html", rows, n_atoms, info


class Page:
    """A page of the viewer opened in Chromium, with its console errors and network requests."""

    def __init__(self, browser, path):
        self.errors, self.requests = [], []
        self.page = browser.new_page(viewport={"width": 1200, "height": 800})
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

    def settle(self):
        # two animation frames after plotly's promise chain: the WebGL canvas is drawn
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                           "requestAnimationFrame(r)))")
        self.page.wait_for_timeout(200)

    def js(self, expr):
        return self.page.evaluate(expr)

    def graph(self):
        return self.js("""() => { const gd = document.querySelector('.plotly-graph-div');
            return {n: gd.data[0].x.length, x0: gd.data[0].x[0], title: gd.layout.title.text,
                    color: Array.from(gd.data[0].marker.color),
                    bar: gd.data[0].marker.colorbar.title.text,
                    active: gd.layout.sliders[0].active,
                    eye: gd._fullLayout.scene.camera.eye}; }""")

    def scene_pixels(self):
        from PIL import Image

        png = self.page.screenshot(clip=self.box)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)

    def close(self):
        self.page.close()


@pytest.fixture
def page(browser, demo_page):
    pg = Page(browser, demo_page[0])
    yield pg
    pg.close()


def test_browser_page_loads_offline_without_errors_and_draws(page, demo_page):
    _, rows, n_atoms, _ = demo_page
    assert page.errors == []
    assert all(u.startswith("file://") for u in page.requests), page.requests
    g = page.graph()
    assert g["n"] == n_atoms[0] and f"frame {rows[0]['frame']}" in g["title"]
    px = page.scene_pixels()
    assert px.std() > 20, "the 3D canvas is not blank"
    assert len(np.unique(px.reshape(-1, 3)[:, 0] // 16)) > 5, "many colours are drawn"
    assert page.page.locator(".gtitle").first.text_content().startswith(rows[0]["series"])


def test_browser_slider_changes_frame_and_title_and_keeps_camera(page, demo_page):
    _, rows, n_atoms, _ = demo_page
    # rotate the particle with the mouse, as a user would
    box = page.box
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.page.mouse.move(cx, cy)
    page.page.mouse.down()
    page.page.mouse.move(cx + 150, cy + 60, steps=10)
    page.page.mouse.up()
    page.settle()
    before_px, before = page.scene_pixels(), page.graph()
    # click the slider's rail at its right end: the last frame
    rail = page.page.locator(".slider-rail-touch-rect").bounding_box()
    page.page.mouse.click(rail["x"] + rail["width"] - 2, rail["y"] + rail["height"] / 2)
    page.settle()
    after = page.graph()
    assert after["active"] == len(rows) - 1
    assert after["n"] == n_atoms[-1] != before["n"]
    assert f"frame {rows[-1]['frame']}" in after["title"]
    assert f"t = {float(rows[-1]['time']):g} s" in after["title"]
    assert f"{n_atoms[-1]} atoms" in after["title"] and "diameter" in after["title"]
    title = page.page.locator(".gtitle").first.text_content()
    assert rows[-1]["frame"] in title and rows[0]["frame"] not in title
    assert after["eye"] == pytest.approx(before["eye"]), "the camera is kept"
    assert before["eye"] != pytest.approx({"x": 1.5, "y": 1.5, "z": 1.1}), "the drag rotated"
    diff = np.abs(page.scene_pixels() - before_px).mean()
    assert diff > 1.0, "the drawn frame changed"
    assert page.errors == []


def test_browser_colour_menu_changes_colours(page):
    before_px, before = page.scene_pixels(), page.graph()
    page.page.locator(".updatemenu-header-group", has_text="CN (bonds)").click()
    page.page.locator(".updatemenu-dropdown-button", has_text="structure (BOO)").click()
    page.settle()
    after = page.graph()
    assert after["bar"] == "structure (BOO)"
    assert set(after["color"]) <= set(range(len(viewer.BOO_CLASSES)))
    assert after["color"] != before["color"] and after["n"] == before["n"]
    assert np.abs(page.scene_pixels() - before_px).mean() > 1.0, "the colours changed"
    # the choice stays when the frame changes
    page.js("() => nanotrajViewer.show(3)")
    page.settle()
    assert page.graph()["bar"] == "structure (BOO)"
    assert page.errors == []


def test_browser_play_steps_through_frames(page, demo_page):
    _, rows, _, _ = demo_page
    page.page.locator(".updatemenu-button", has_text="play").click()
    page.page.wait_for_function(
        "() => document.querySelector('.plotly-graph-div').layout.sliders[0].active >= 2",
        timeout=20000)
    page.page.locator(".updatemenu-button", has_text="pause").click()
    page.settle()
    k = page.graph()["active"]
    page.page.wait_for_timeout(3 * viewer.PLAY_INTERVAL_MS)
    g = page.graph()
    assert g["active"] == k, "pause stops playing"
    assert f"frame {rows[k]['frame']}" in g["title"]
    assert page.errors == []


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
    data = page_data((tmp_path / target).read_text(encoding="utf-8"))
    assert [f["name"] for f in data["frames"]] == [r["frame"] for r in rows]
    log = (tmp_path / "results" / "logs" / series / "build_viewer.log").read_text()
    assert "KiB of data" in log and "page" in log
    proc = subprocess.run([*cmd, "--report", "report.html"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "viewer.html" in report
