"""The workflow through profiles/slurm on a real single-node SLURM on localhost.

The module fixture starts SLURM with scripts/ci/slurm.sh (munged, slurmctld, slurmd, all bound to
127.0.0.1) and stops every daemon it started at the end. Skipped, with the reason, where SLURM
or the executor plugin is not installed (`scripts/ci/slurm.sh install` installs Debian's
packages) or where this is not root (slurmd must run as root).

    .venv/bin/python -m pytest -m slurm -s     # -s prints the measured wall times

NANOTRAJ_SLURM_BENCH=1 adds the whole demo with and without job groups (several minutes).
"""

from __future__ import annotations

import csv
import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SNAKEFILE = REPO / "Snakefile"
PROFILE = REPO / "profiles" / "slurm"
SLURM_SH = REPO / "scripts" / "ci" / "slurm.sh"
SLURM_COMMANDS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol")
# Test-only overrides: poll the local scheduler every 2 s at first instead of every 10 s.
FAST_POLL = ("--slurm-init-seconds-before-status-checks", "2")
OUTPUT_SUFFIXES = {".csv", ".pdb", ".png"}
LOCK = "/tmp/nanotraj-slurm-test.lock"


@pytest.fixture(scope="module")
def slurm():
    """A running single-node SLURM on localhost, started and stopped here."""
    if os.geteuid() != 0:
        pytest.skip("SLURM test needs root (slurmd runs jobs as the submitting user)")
    missing = [c for c in SLURM_COMMANDS if shutil.which(c) is None]
    if missing:
        pytest.skip(
            f"SLURM is not installed ({', '.join(missing)} not found): "
            "run `scripts/ci/slurm.sh install`"
        )
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip(
            "snakemake-executor-plugin-slurm is not installed (make slurm)"
        )
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and "nanotraj scripts/ci/slurm.sh" not in conf.read_text():
        pytest.skip(f"{conf} belongs to a real SLURM setup; not starting a test cluster here")
    # One test session at a time on this machine: the cluster has fixed ports and config path.
    with open(LOCK, "w") as lock:
        deadline = time.monotonic() + 900
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip(f"another test session holds {LOCK} since 15 minutes")
                time.sleep(2)
        yield from _start_stop()


def _start_stop():
    # State, spool and logs where the daemons' users (slurm, munge) can reach them.
    state = Path(tempfile.mkdtemp(prefix="nanotraj-slurm-", dir="/tmp"))
    state.chmod(0o755)
    env = {**os.environ, "NANOTRAJ_SLURM_DIR": str(state)}
    deadline = time.monotonic() + 300
    while True:  # a cluster started by something else (its own slurm.sh) may still be up
        start = subprocess.run(
            ["bash", str(SLURM_SH), "start"], env=env, capture_output=True, text=True, timeout=180
        )
        if start.returncode == 0 or "already running" not in start.stderr:
            break
        if time.monotonic() > deadline:
            shutil.rmtree(state, ignore_errors=True)
            pytest.skip(f"another SLURM stays up on this machine: {start.stderr.strip()}")
        time.sleep(5)
    if start.returncode != 0:
        shutil.rmtree(state, ignore_errors=True)
        pytest.fail(f"scripts/ci/slurm.sh start failed:\n{start.stdout}\n{start.stderr}")
    pidfiles = [
        state / "run" / "slurmctld.pid",
        state / "run" / "slurmd.pid",
        state / "munge" / "munged.pid",
    ]
    pids = [int(p.read_text()) for p in pidfiles if p.exists()]
    try:
        yield state
    finally:
        stop = subprocess.run(
            ["bash", str(SLURM_SH), "stop"], env=env, capture_output=True, text=True, timeout=180
        )
        left = [pid for pid in pids if _alive(pid)]
        shutil.rmtree(state, ignore_errors=True)
        assert stop.returncode == 0, f"slurm.sh stop failed:\n{stop.stdout}\n{stop.stderr}"
        assert not left, f"daemons still running after slurm.sh stop: {left}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def snakemake_cmd(workdir, *args):
    """Snakemake with job descriptions shown (``--quiet host`` replaces the default profile's
    quiet list), which the checks below read."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
           "--quiet", "host"]
    return [*cmd, *args]


class Run:
    """A snakemake run started in the background (output to ``<workdir>.log``, so that runs in
    parallel never block on a full pipe); ``wait()`` returns itself when it ended."""

    def __init__(self, workdir, *args):
        self.workdir = Path(workdir)
        self.logfile = self.workdir.with_suffix(".log")
        self.log, self.returncode, self.wall = "", None, None
        self.t0 = time.perf_counter()
        with open(self.logfile, "w") as out:
            self.proc = subprocess.Popen(
                snakemake_cmd(workdir, *args), cwd=workdir, stdout=out, stderr=subprocess.STDOUT
            )
        self.reaper = threading.Thread(target=self._reap, daemon=True)
        self.reaper.start()

    def _reap(self):
        self.proc.wait()
        self.wall = time.perf_counter() - self.t0

    def wait(self, timeout=600):
        if self.returncode is None:
            self.reaper.join(max(0.0, self.t0 + timeout - time.perf_counter()))
            note = ""
            if self.proc.poll() is None:
                self.proc.terminate()  # snakemake cancels its SLURM jobs on SIGTERM
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                note = f"\n[test: snakemake stopped after {timeout} s]"
            self.reaper.join()
            self.returncode = self.proc.returncode
            self.log = self.logfile.read_text(errors="replace") + note
        return self

    def check(self):
        assert self.wait().returncode == 0, f"snakemake failed ({self.returncode}):\n{self.log}"
        return self


def snakemake(workdir, *args, timeout=600):
    """Run snakemake to its end, fail on an error; returns the Run."""
    return Run(workdir, *args).wait(timeout).check()


def slurm_job_ids(run: Run) -> list[str]:
    """SLURM job ids of the submissions that snakemake reports."""
    return re.findall(r"submitted with SLURM jobid (\d+)", run.log)


def slurm_states(ids, field="%T") -> dict[str, str]:
    """Job id -> state (or another squeue field) of finished and running jobs (squeue lists
    finished jobs for MinJobAge = 300 s)."""
    cmd = ["squeue", "--states=all", "--noheader", f"--format=%i|{field}", "--jobs", ",".join(ids)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(line.split("|", 1) for line in out.stdout.split())


def demo_rows():
    with open(REPO / "config" / "frames.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def make_workdir(path: Path, rows) -> Path:
    """A working directory with copies of the frames and a sheet naming them."""
    (path / "data").mkdir(parents=True)
    lines = ["series\tframe\ttime\tpath"]
    for r in rows:
        name = Path(r["path"]).name
        src = Path(r["path"]) if Path(r["path"]).is_absolute() else REPO / r["path"]
        if src.exists():
            shutil.copy(src, path / "data" / name)
        lines.append(f"{r['series']}\t{r['frame']}\t{r['time']}\tdata/{name}")
    (path / "frames.tsv").write_text("\n".join(lines) + "\n")
    return path


def outputs(workdir: Path) -> dict[str, bytes]:
    res = workdir / "results"
    return {
        str(p.relative_to(res)): p.read_bytes()
        for p in sorted(res.rglob("*"))
        if p.suffix in OUTPUT_SUFFIXES and "benchmarks" not in p.parts
    }


def assert_same_outputs(local: Path, cluster: Path):
    a, b = outputs(local), outputs(cluster)
    assert a, "the local run wrote no outputs"
    assert sorted(a) == sorted(b), f"different files: {sorted(set(a) ^ set(b))}"
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"files differ between the local and the SLURM run: {differ}"


# ----------------------------------------------------------------------------------------------
# Three runs at once (the SLURM runs mostly wait for the scheduler and the status polling):
# two demo frames locally and through profiles/slurm, and a bad frame through profiles/slurm.


@pytest.fixture(scope="module")
def runs(slurm, tmp_path_factory):
    rows = demo_rows()[-2:]  # the two smallest demo frames: one job group (group-components 4)
    local = make_workdir(tmp_path_factory.mktemp("local"), rows)
    cluster = make_workdir(tmp_path_factory.mktemp("slurm"), rows)
    bad = make_workdir(
        tmp_path_factory.mktemp("bad"), [{**rows[-1], "frame": "broken", "path": "broken.pdb"}]
    )
    (bad / "data" / "broken.pdb").write_text("this is not a PDB file\n")
    started = {
        "local": Run(local, "--cores", "2", "--config", "frames=frames.tsv"),
        "slurm": Run(
            cluster, "--profile", str(PROFILE), *FAST_POLL, "--config", "frames=frames.tsv"
        ),
        # --retries 1: two attempts. The partition on the command line as the README shows (the
        # command line replaces the profile's default-resources as a whole).
        "bad": Run(
            bad,
            "--profile",
            str(PROFILE),
            *FAST_POLL,
            "--retries",
            "1",
            "--default-resources",
            "slurm_partition=other",
            "runtime=2*attempt",
            "mem_mb=2000*2**(attempt-1)",
            "--config",
            "frames=frames.tsv",
            "on_bad_frame=fail",
        ),
    }
    done = {name: run.wait(timeout=420) for name, run in started.items()}
    print("\n" + ", ".join(f"{name} {run.wall:.1f} s" for name, run in done.items()))
    return done


def test_demo_through_slurm_is_identical_to_local(runs):
    local, cluster = runs["local"].check(), runs["slurm"].check()
    assert_same_outputs(local.workdir, cluster.workdir)


def test_jobs_went_through_slurm_in_job_groups(runs):
    """The per-frame jobs went to SLURM as job groups of group-components frames each (both
    frames in one SLURM job with the shipped 4), COMPLETED; the aggregates ran as local rules
    on the head node."""
    run = runs["slurm"].check()
    per_job = yaml.safe_load((PROFILE / "config.yaml").read_text())["group-components"]["frame"]
    ids = slurm_job_ids(run)
    expected = -(-2 // per_job)  # ceil(2 frames / frames per submission)
    assert len(ids) == expected, f"expected {expected} group submission(s), got {ids}:\n{run.log}"
    assert slurm_states(ids) == dict.fromkeys(ids, "COMPLETED")
    assert set(slurm_states(ids, "%P").values()) == {"debug"}, "the default partition"
    assert "Group job frame" in run.log
    assert re.search(r"localrule aggregate_all\b", run.log)
    assert not re.search(r"^rule aggregate_all\b", run.log, re.MULTILINE)


def test_failing_job_is_reported_and_retried(runs):
    """A bad frame fails its job group; SLURM reports the job FAILED, snakemake resubmits it once
    and ends with an error naming the frame's file."""
    run = runs["bad"].wait()
    assert run.returncode != 0, run.log
    ids = slurm_job_ids(run)
    assert len(ids) == 2, f"expected 2 attempts, got submissions {ids}:\n{run.log}"
    assert slurm_states(ids) == {i: "FAILED" for i in ids}
    assert set(slurm_states(ids, "%P").values()) == {"other"}, "not the partition asked for"
    assert "Trying to restart job" in run.log, run.log
    assert "--attempt 2" in run.log, "the second submission is attempt 2"
    assert "data/broken.pdb: " in run.log, "the error names the frame's file and the reason"
    # SLURM's log of a failed job is kept, with the frame's one-line reason.
    kept = list((run.workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(kept) == 2 and all("broken.pdb" in p.read_text(errors="replace") for p in kept)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("NANOTRAJ_SLURM_BENCH") != "1",
    reason="set NANOTRAJ_SLURM_BENCH=1 to time the demo with and without groups",
)
def test_demo_wall_time_with_and_without_groups(slurm, tmp_path):
    rows = demo_rows()
    no_groups = tmp_path / "profile-no-groups"
    no_groups.mkdir()
    cfg = yaml.safe_load((PROFILE / "config.yaml").read_text())
    cfg.pop("groups"), cfg.pop("group-components")
    (no_groups / "config.yaml").write_text(yaml.safe_dump(cfg))
    local = make_workdir(tmp_path / "local", rows)
    t_local = snakemake(local, "--cores", "2").wall
    times = {}
    for name, args in {
        "groups, 4 frames per job": ("--profile", str(PROFILE)),
        "groups, 1 frame per job": ("--profile", str(PROFILE), "--group-components", "frame=1"),
        "no groups": ("--profile", str(no_groups)),
    }.items():
        work = make_workdir(tmp_path / re.sub(r"\W+", "-", name), rows)
        run = snakemake(work, *args, timeout=1800)
        times[name] = (run.wall, len(slurm_job_ids(run)))
        assert_same_outputs(local, work)
    print(f"\ndemo ({len(rows)} frames), local --cores 2: {t_local:.1f} s")
    for name, (wall, n) in times.items():
        print(f"  SLURM {name}: {wall:.1f} s, {n} submissions")
