"""Interruptions and determinism: a run stopped by SIGINT or SIGKILL, then rerun, gives the same
bytes as a clean run; two clean runs give the same bytes.

The workflow's jobs run as threads inside the snakemake process (profiles/default sets
force-use-threads) and every output is written atomically (temporary name, then rename), so a
signal to the process group can stop the run anywhere without leaving a half-written file under
its final name. Snakemake itself asks for what the rerun needs: ``--unlock`` after SIGKILL (the
lock of the killed process remains) and ``--rerun-incomplete`` for the jobs that were running.
Every file under ``results/`` is compared (tables, PDB, PNG, intermediate ``.npz``) except the
logs and benchmarks, which hold run times.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nanotraj.io import read_frame, write_values

from .conftest import REPO

pytestmark = pytest.mark.workflow

SNAKEFILE = REPO / "Snakefile"
N_FRAMES = 4  # ~8 s per run on two cores, most of it the figures


def command(workdir, *args):
    return [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
            "--cores", "2", *args, "--config", "frames=frames.tsv"]


def snakemake(workdir, *args, check=True):
    proc = subprocess.run(command(workdir, *args), capture_output=True, text=True, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_series(work: Path) -> Path:
    """``N_FRAMES`` frames: the demo frames, each rotated by 7 degrees more about z."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "data").mkdir(exist_ok=True)
    rows = ["series\tframe\ttime\tpath"]
    for k in range(N_FRAMES):
        f = read_frame(REPO / "resources" / "demo" / f"demo_t{k % 8:02d}.pdb")
        a = np.deg2rad(7.0 * k)
        rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        write_values(work / "data" / f"f{k:02d}.pdb", f.coords @ rot.T, np.zeros(f.n_atoms))
        rows.append(f"run\tf{k:02d}\t{15 * k}\tdata/f{k:02d}.pdb")
    (work / "frames.tsv").write_text("\n".join(rows) + "\n")
    return work


def copy_inputs(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src / "data", dst / "data")
    shutil.copy2(src / "frames.tsv", dst / "frames.tsv")
    return dst


def snapshot(work: Path) -> dict[str, bytes]:
    """Every result file (relative path -> bytes) except logs, benchmarks and the hidden
    ``.<name>.<random>.tmp`` files a SIGKILL can leave next to an output (never taken for it)."""
    root = work / "results"
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or rel.parts[0] in ("logs", "benchmarks"):
            continue
        if p.name.startswith(".") and p.name.endswith(".tmp"):
            continue
        out[rel.as_posix()] = p.read_bytes()
    return out


def assert_same(a: dict[str, bytes], b: dict[str, bytes]):
    assert sorted(a) == sorted(b), sorted(set(a) ^ set(b))
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, f"files differ: {differ}"


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    return make_series(tmp_path_factory.mktemp("series"))


@pytest.fixture(scope="module")
def clean(series, tmp_path_factory):
    work = copy_inputs(series, tmp_path_factory.mktemp("clean"))
    snakemake(work)
    return work


def test_clean_run_is_complete(clean):
    files = snapshot(clean)
    for k in range(N_FRAMES):
        for name in ("atoms.csv", "bonds.csv", "rdf.csv", "summary.csv", "rdf.png", "order.png",
                     "pdb/Q6.pdb"):
            assert f"run/f{k:02d}/{name}" in files
    assert "summary.csv" in files and "run/timeseries.png" in files
    assert any(k.endswith(".npz") for k in files)


def test_two_clean_runs_are_byte_identical(series, clean, tmp_path):
    work = copy_inputs(series, tmp_path / "again")
    snakemake(work)
    assert_same(snapshot(clean), snapshot(work))


def interrupt(work: Path, sig: int, *, min_outputs: int = 2, timeout: float = 300.0) -> int:
    """Start snakemake, wait until ``min_outputs`` frames have their tables, signal the process
    group with ``sig``; return snakemake's exit status."""
    with open(work / "interrupted.log", "w") as log:
        # SIGINT as in an interactive shell: a test run started in the background by a
        # non-interactive shell (`make test &`) inherits SIGINT ignored, and so would Snakemake.
        proc = subprocess.Popen(command(work), cwd=work, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < timeout and proc.poll() is None:
                if len(list((work / "results").glob("run/*/atoms.csv"))) >= min_outputs:
                    break
                time.sleep(0.02)
            assert proc.poll() is None, "the run ended before it could be interrupted"
            os.killpg(proc.pid, sig)
            return proc.wait(timeout=120)
        finally:
            if proc.poll() is None:  # pragma: no cover - only if the signal did not stop it
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def rerun(work: Path) -> list[str]:
    """Rerun as a user would: add what Snakemake asks for. Returns the steps taken."""
    steps, extra = [], []
    for _ in range(4):
        proc = snakemake(work, *extra, check=False)
        out = proc.stdout + proc.stderr
        if proc.returncode == 0:
            steps.append(" ".join(["rerun", *extra]))
            return steps
        if "--unlock" in out and "LockException" in out:
            snakemake(work, "--unlock")
            steps.append("--unlock")
        elif "--rerun-incomplete" in out and "--rerun-incomplete" not in extra:
            extra.append("--rerun-incomplete")
            steps.append("asked for --rerun-incomplete")
        else:
            raise AssertionError(f"rerun failed ({proc.returncode}):\n{out[-4000:]}")
    raise AssertionError(f"rerun did not finish: {steps}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_run_then_rerun_equals_clean_run(series, clean, tmp_path, sig):
    work = copy_inputs(series, tmp_path / "interrupted")
    status = interrupt(work, sig)
    assert status != 0, "snakemake did not report the interruption"
    partial = snapshot(work)
    reference = snapshot(clean)
    assert len(partial) < len(reference), "the signal came after the end of the run"
    # whatever a stopped run left under a final name is complete: identical to the clean run's
    # file, or absent (files of jobs that were running are reported as incomplete and redone)
    steps = rerun(work)
    assert_same(reference, snapshot(work))
    if sig == signal.SIGKILL:
        assert "--unlock" in steps  # Snakemake's lock of the killed process remained
    # and nothing is left to do
    proc = snakemake(work, "-n", check=True)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_outputs_have_the_umask_modes(clean):
    """Atomic writes keep ordinary permissions (a temporary file from mkstemp is 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    wrong = sorted({(p.suffix, oct(p.stat().st_mode & 0o777))
                    for p in (clean / "results").rglob("*")
                    if p.is_file() and p.stat().st_mode & 0o777 != expected})
    assert not wrong, f"expected {oct(expected)}: {wrong}"


def test_script_jobs_end_when_snakemake_is_killed(tmp_path):
    """A `script:` job (a process under a shell under Snakemake) ends itself within a second
    when Snakemake is killed with SIGKILL, instead of writing outputs of a run that is gone."""
    import signal
    import subprocess
    import sys
    import time

    marker = tmp_path / "survived"
    child = tmp_path / "job.py"
    child.write_text("import time\nfrom nanotraj.stages.jobs import end_with_snakemake\n"
                     "print(end_with_snakemake(0.1), flush=True)\ntime.sleep(5)\n"
                     f"open({str(marker)!r}, 'w').write('x')\n")
    fake = tmp_path / "snakemake"  # a program called snakemake that runs a shell that runs us
    shell = f"set -e; {sys.executable} {child}; echo done"
    fake.write_text(f"import subprocess\nsubprocess.run(['sh', '-c', {shell!r}])\n")
    parent = subprocess.Popen([sys.executable, str(fake)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "True"  # the watcher found Snakemake
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    time.sleep(6)
    assert not marker.exists()
    # without a Snakemake ancestor nothing is watched
    out = subprocess.run([sys.executable, "-c", "from nanotraj.stages.jobs import "
                          "end_with_snakemake as e; print(e())"], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
