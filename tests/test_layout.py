"""The library's structure: no import cycles, science modules free of the workflow's files, one
owner for the file layout, the job log streamed, the element table shipped as package data."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from nanotraj import layout

from .conftest import REPO

SRC = REPO / "src" / "nanotraj"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every import of a nanotraj module by another, module level and inside functions."""
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    graph = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                if t in modules and t != name:
                    graph[name].add(t)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 30
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_science_modules_do_not_depend_on_the_stages():
    """Only nanotraj.stages (and the tools above it) read and write the workflow's files."""
    graph = import_graph()
    science = ("rdf", "bonds", "order", "cna", "structure", "coordination", "geometry",
               "tracking", "lattices", "summary", "elements", "engine", "_kernels", "_sph",
               "_boo_numpy", "_boo_compiled", "_boo_pyboo", "plots", "trackplots", "viewer",
               "domains", "domaintrack", "identities", "domainplots")
    for name in science:
        deps = graph[f"nanotraj.{name}"]
        assert not any(d.startswith("nanotraj.stages") for d in deps), (name, deps)
        assert "nanotraj.layout" not in deps, name


def test_the_rules_take_every_path_from_the_layout():
    """No rule file spells out a results/ path: the layout module is their one owner."""
    for smk in [*(REPO / "workflow" / "rules").glob("*.smk"), REPO / "Snakefile"]:
        text = smk.read_text(encoding="utf-8")
        assert '"results/' not in text and "'results/" not in text, smk


def test_layout_paths():
    assert layout.intermediate("boo") == "results/intermediate/{series}/{frame}/boo.npz"
    assert layout.frame_file("atoms.csv", series="s", frame="f") == "results/s/f/atoms.csv"
    assert layout.series_file("summary.csv", root="out") == "out/{series}/summary.csv"
    assert layout.run_file("rejected.csv") == "results/rejected.csv"
    assert layout.log("find_bonds") == "results/logs/{series}/{frame}/find_bonds.log"
    assert layout.log("aggregate_all", per="run") == "results/logs/aggregate_all.log"
    assert layout.benchmark("plot_series", per="series") == (
        "results/benchmarks/{series}/plot_series.tsv")


def test_job_log_is_written_while_the_job_runs(tmp_path):
    from nanotraj.stages.jobs import Log

    path = tmp_path / "logs" / "job.log"
    lg = Log(path)
    lg("step one")
    assert path.read_text() == "step one\n"  # already on disk: a crash keeps it
    lg("step two")
    lg.close("ok")
    lines = path.read_text().splitlines()
    assert lines[:2] == ["step one", "step two"] and lines[2].startswith("ok in ")
    Log(None)("nothing is written")  # no path: no file


def test_a_crashed_stage_leaves_its_log(tmp_path):
    from nanotraj.stages import frame as stage

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    log = tmp_path / "bonds.log"
    with pytest.raises(Exception):  # noqa: B017 - any failure of the loader
        stage.compute_rdf(bad, tmp_path / "rdf.csv", tmp_path / "rdf.npz", log=log)
    assert log.exists()  # opened before the failure


def test_element_table_is_package_data():
    from nanotraj import elements

    assert elements.DEFAULT_TABLE.is_file()
    assert elements.DEFAULT_TABLE.parent == SRC / "data"
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'nanotraj = ["data/*"]' in pyproject


@pytest.mark.slow
def test_installed_wheel_finds_its_data(tmp_path):
    """A non-editable install (the wheel) carries the element table: import it from a copy of
    the package in another folder, without the repository on the path."""
    import shutil

    target = tmp_path / "site"
    shutil.copytree(SRC, target / "nanotraj",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    code = ("import nanotraj.elements as e; print(e.DEFAULT_TABLE.is_file(), "
            "round(e.nn_distance('Pt'), 4))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                         check=True)
    assert out.stdout.split() == ["True", "2.7662"]


def test_benchmarks_and_scripts_import_names_that_exist():
    """Every ``from nanotraj... import name`` of the benchmarks, scripts and workflow scripts
    names something the library has (they are not run by the tests, so a moved function
    would otherwise break them silently)."""
    import importlib

    files = [*(REPO / "benchmarks").glob("*.py"), *(REPO / "scripts").rglob("*.py"),
             *(REPO / "workflow" / "scripts").glob("*.py")]
    checked = 0
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nanotraj"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name) or importlib.util.find_spec(
                        f"{node.module}.{alias.name}") is not None, (path.name, alias.name)
                    checked += 1
    assert checked > 40


def test_every_module_has_an_owner_in_the_architecture_page():
    """docs/architecture.md names every module of the library (one row says what it owns): a
    module added without a row is a fact without a documented owner."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    src = REPO / "src" / "nanotraj"
    modules = [p.stem for p in src.glob("*.py") if p.stem != "__init__"]
    modules += [f"stages.{p.stem}" for p in (src / "stages").glob("*.py") if p.stem != "__init__"]
    missing = [m for m in modules if f"`{m}`" not in text]
    assert not missing, f"modules without a row in docs/architecture.md: {missing}"
