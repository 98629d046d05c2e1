"""nanotraj.smkspeed: Snakemake's pipe/service input check answered the same in O(F) per job,
input checksums once per file and content, the scheduler's wake-up timers as daemons."""

from __future__ import annotations

import pytest

from nanotraj import smkspeed

jobs = pytest.importorskip("snakemake.jobs")


class _Dep:
    def __init__(self, files, pipes=()):
        self.files = set(files)
        self.pipe_or_service_output = set(pipes)


class _Dag:
    def __init__(self):
        self.dependencies = {}


def _job(dag, deps):
    """A stand-in with the two attributes the check reads (Job has __slots__; the method is
    called unbound, as Snakemake's own code does through the instance)."""

    class J:
        pass

    j = J()
    j.dag = dag
    dag.dependencies[j] = {d: d.files for d in deps}
    return j


def _original():
    f = jobs.Job.is_pipe_or_service_input
    return getattr(f, "__wrapped__", f)


def test_same_answers_with_and_without_pipes():
    original = _original()
    assert smkspeed.fast_input_checks()
    patched = jobs.Job.is_pipe_or_service_input
    assert patched is not original
    dag = _Dag()
    plain = [_Dep({f"f{k}.csv"}) for k in range(50)]
    piped = [*plain, _Dep({"p.fifo", "q.csv"}, pipes={"p.fifo"})]
    a, b = _job(dag, plain), _job(dag, piped)
    for job in (a, b):
        for path in ["f0.csv", "f49.csv", "p.fifo", "q.csv", "absent.csv"]:
            assert patched(job, path) == original(job, path), (path,)
    assert patched(b, "p.fifo") is True
    assert patched(a, "f3.csv") is False


def test_idempotent():
    assert smkspeed.fast_input_checks()
    first = jobs.Job.is_pipe_or_service_input
    assert smkspeed.fast_input_checks()
    assert jobs.Job.is_pipe_or_service_input is first


def test_no_method_no_patch(monkeypatch):
    monkeypatch.delattr(jobs.Job, "is_pipe_or_service_input")
    assert smkspeed.fast_input_checks() is False


_TINY = '''
import hashlib, os
from pathlib import Path

if os.environ.get("NANOTRAJ_PATCH") == "1":
    from nanotraj.smkspeed import fast_output_records

    assert fast_output_records()

_digest = hashlib.file_digest
_calls = []


def _counting(f, algorithm):
    _calls.append(f.name)
    return _digest(f, algorithm)


hashlib.file_digest = _counting


onsuccess:
    Path("digests.txt").write_text("\\n".join(_calls) + "\\n")


rule all:
    input:
        "a.out",
        "b.out",
        "c.out",
        "d.out",


rule make:
    input:
        [f"in{k}.txt" for k in range(5)],
    output:
        "a.out",
        "b.out",
        "c.out",
    run:
        for out in output:
            Path(out).write_text("".join(Path(i).read_text() for i in input))


rule again:
    input:
        [f"in{k}.txt" for k in range(5)],
        "a.out",
    output:
        "d.out",
    run:
        Path(output[0]).write_text("".join(Path(i).read_text() for i in input))
'''


def _records(folder):
    """The metadata records Snakemake wrote, by output file."""
    import base64
    import json

    out = {}
    for p in (folder / ".snakemake" / "metadata").iterdir():
        name = base64.urlsafe_b64decode(p.name.encode()).decode()
        out[name] = json.loads(p.read_text())
    return out


@pytest.mark.parametrize("patched", ["0", "1"])
def test_output_records_read_each_input_once(tmp_path, patched):
    """A job of 5 inputs and 3 outputs, then a job of the same 5 inputs and one of the first
    job's outputs: Snakemake checksums each input once per output (15 + 6 reads); with the patch
    once per file and content (5 + 1), and the records hold the same checksums."""
    import os
    import subprocess
    import sys

    folder = tmp_path / patched
    folder.mkdir()
    for k in range(5):
        (folder / f"in{k}.txt").write_text(f"input {k}\n" * (k + 1))
    (folder / "Snakefile").write_text(_TINY)
    env = dict(os.environ, NANOTRAJ_PATCH=patched)
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--quiet"],
                   cwd=folder, env=env, check=True, capture_output=True)
    reads = (folder / "digests.txt").read_text().split()
    records = _records(folder)
    assert sorted(records) == ["a.out", "b.out", "c.out", "d.out"]
    import hashlib

    def digest(name):
        return "sha256:" + hashlib.sha256((folder / name).read_bytes()).hexdigest()

    expected = {f"in{k}.txt": digest(f"in{k}.txt") for k in range(5)}
    for name in ("a.out", "b.out", "c.out"):
        assert records[name]["input_checksums"] == expected
    assert records["d.out"]["input_checksums"] == {**expected, "a.out": digest("a.out")}
    assert len(reads) == (6 if patched == "1" else 21)


def test_output_records_patch_is_idempotent():
    from snakemake.io import _IOFile
    from snakemake.persistence import PersistenceBase

    assert smkspeed.fast_output_records()
    first = (PersistenceBase.finished, _IOFile.checksum)
    assert smkspeed.fast_output_records()
    assert (PersistenceBase.finished, _IOFile.checksum) == first
    assert first[0].__wrapped__ is not first[0]


def test_output_records_cache_sees_a_rewritten_file(tmp_path):
    """The process-wide checksum cache is keyed by the file's stat signature: a file rewritten
    with other bytes of the same size gets its new checksum, an unchanged one is not read
    again."""
    import asyncio
    import hashlib
    from types import SimpleNamespace

    from snakemake.io import IOFile

    assert smkspeed.fast_output_records()
    # what the checksum reads of its rule: the workflow's I/O cache (off while jobs run)
    rule = SimpleNamespace(workflow=SimpleNamespace(iocache=SimpleNamespace(active=False)))
    path = tmp_path / "frame.csv"
    path.write_text("x,y\n1,2\n")
    reads = []
    original = hashlib.file_digest

    def counting(f, algorithm):
        reads.append(f.name)
        return original(f, algorithm)

    async def checksum():
        token = smkspeed._IN_FINISHED.set(True)  # as inside Persistence.finished
        try:
            f = IOFile(str(path))
            f.rule = rule
            return await f.checksum(threshold=10**6)
        finally:
            smkspeed._IN_FINISHED.reset(token)

    hashlib.file_digest = counting
    try:
        first = asyncio.run(checksum())
        again = asyncio.run(checksum())
        path.write_text("x,y\n3,4\n")  # same size, other bytes
        changed = asyncio.run(checksum())
    finally:
        hashlib.file_digest = original
    assert first == again == "sha256:" + hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    assert changed == "sha256:" + hashlib.sha256(b"x,y\n3,4\n").hexdigest()
    assert len(reads) == 2  # the unchanged file was read once


class _Scheduler:
    """What the scheduler's wake-up reads: a semaphore the scheduler waits on."""

    def __init__(self):
        import threading

        self._open_jobs = threading.Semaphore(0)


def test_reevaluation_timers_are_daemons_and_not_doubled():
    """The patched wake-up: a daemon timer (an exit does not wait for it); a second request
    while a wake-up no later is pending starts nothing; an earlier one starts its own timer;
    each scheduler has its own."""
    import threading
    import time

    from snakemake.scheduling.job_scheduler import JobScheduler

    assert smkspeed.daemon_reevaluation_timers()
    assert smkspeed.daemon_reevaluation_timers()  # twice: patched once
    assert not hasattr(JobScheduler._schedule_reevalutation.__wrapped__, "__wrapped__")

    def timers():
        return [t for t in threading.enumerate() if isinstance(t, threading.Timer)]

    before = set(timers())
    a, b = _Scheduler(), _Scheduler()
    JobScheduler._schedule_reevalutation(a, 0.3)
    JobScheduler._schedule_reevalutation(a, 0.5)  # a wake-up at 0.3 s is pending: nothing
    new = set(timers()) - before
    assert len(new) == 1 and all(t.daemon for t in new)
    JobScheduler._schedule_reevalutation(a, 0.05)  # earlier than the pending one: its own timer
    JobScheduler._schedule_reevalutation(b, 0.3)  # another scheduler: its own timer
    assert len(set(timers()) - before) == 3
    assert a._open_jobs.acquire(timeout=2)  # woken up by the 0.05 s timer
    assert a._open_jobs.acquire(timeout=2)  # and by the 0.3 s one
    assert not a._open_jobs.acquire(timeout=0.4)  # the 0.5 s request started no timer
    assert b._open_jobs.acquire(timeout=2)
    time.sleep(0.05)
    JobScheduler._schedule_reevalutation(a, 0.05)  # nothing pending any more: a new timer
    assert a._open_jobs.acquire(timeout=2)


def test_no_scheduler_method_no_timer_patch(monkeypatch):
    from snakemake.scheduling import job_scheduler

    monkeypatch.delattr(job_scheduler.JobScheduler, "_schedule_reevalutation")
    assert smkspeed.daemon_reevaluation_timers() is False


# ---- lean_gc and the off switch ------------------------------------------------------------
@pytest.fixture
def gc_state(monkeypatch):
    """The collector's thresholds restored after the test; exit hooks recorded, not registered
    (the test process keeps its own exit)."""
    import atexit
    import gc

    saved = gc.get_threshold()
    hooks = []
    monkeypatch.setattr(atexit, "register", lambda f, *a, **k: hooks.append(f) or f)
    monkeypatch.setattr(smkspeed, "_GC_STATE", {})
    monkeypatch.delenv(smkspeed.OFF_ENV, raising=False)
    yield hooks
    gc.set_threshold(*saved)


def test_lean_gc_raises_the_first_threshold_once(gc_state):
    import gc

    gc.set_threshold(700, 10, 10)
    assert smkspeed.lean_gc()
    assert gc.get_threshold() == (smkspeed.GC_THRESHOLD, 10, 10)
    assert smkspeed.lean_gc(threshold=1000)  # never lowers it; one exit hook per process
    assert gc.get_threshold() == (smkspeed.GC_THRESHOLD, 10, 10)
    assert len(gc_state) == 1
    gc.set_threshold(90_000, 5, 7)  # a larger threshold of the caller's stays
    assert smkspeed.lean_gc()
    assert gc.get_threshold() == (90_000, 5, 7)


@pytest.mark.parametrize("off", ["lean_gc", "all", " fast_input_checks , lean_gc"])
def test_switched_off_changes_nothing(gc_state, monkeypatch, off):
    import gc

    monkeypatch.setenv(smkspeed.OFF_ENV, off)
    gc.set_threshold(700, 10, 10)
    assert smkspeed.switched_off("lean_gc")
    assert smkspeed.lean_gc() is False
    assert gc.get_threshold() == (700, 10, 10)
    assert gc_state == []
    assert smkspeed.switched_off("daemon_reevaluation_timers") == (off == "all")


def test_input_checks_switched_off_leave_snakemake_alone(monkeypatch):
    monkeypatch.setattr(jobs.Job, "is_pipe_or_service_input", _original())
    monkeypatch.setenv(smkspeed.OFF_ENV, "fast_input_checks")
    assert smkspeed.fast_input_checks() is False
    assert jobs.Job.is_pipe_or_service_input is _original()


def test_lean_gc_exit_keeps_status_and_open_files(tmp_path):
    """A process under lean_gc exits with its own status, after its other exit hooks, and a
    file it left open is flushed (freed by its reference count, not by the collector)."""
    import os
    import subprocess
    import sys

    out, hook = tmp_path / "left_open.txt", tmp_path / "hook.txt"
    code = (
        "import atexit, gc, sys\n"
        f"atexit.register(lambda: open({str(hook)!r}, 'w').write(str(gc.isenabled())))\n"
        "from nanotraj.smkspeed import lean_gc\n"
        "assert lean_gc()\n"
        "junk = [{'i': i} for i in range(200000)]\n"
        f"fh = open({str(out)!r}, 'w')\n"
        "fh.write('x' * 100000)\n"
        "sys.exit(3)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != smkspeed.OFF_ENV}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 3, res.stderr
    assert out.read_text() == "x" * 100000
    assert hook.read_text() == "False"  # registered earlier, run after lean_gc's hook


# ---- the DAG: output index and directory check ------------------------------------------------
def _index(entries):
    from snakemake.common.prefix_lookup import PrefixLookup
    from snakemake.output_index import OutputIndex

    index = OutputIndex.__new__(OutputIndex)  # without rules: the look-up table itself
    index._lookup = PrefixLookup(entries=[(p, (rule, s)) for p, s, rule in entries])
    return index


def test_output_index_finds_the_same_rules():
    """Random prefixes and suffixes (with and without /, empty, nested names) against random
    files: the patched look-up returns Snakemake's set of rules for every file."""
    import random

    from snakemake.output_index import OutputIndex

    original = getattr(OutputIndex.match, "__wrapped__", OutputIndex.match)
    assert smkspeed.fast_output_index()
    assert smkspeed.fast_output_index()  # idempotent
    patched = OutputIndex.match
    assert patched is not original
    rng = random.Random(7)
    words = ["results", "a", "b", "atoms.csv", "rdf.csv", "x.png", "logs", "", "csv", ".png"]

    def text(k):
        return "/".join(rng.choice(words) for _ in range(k))

    entries = [(text(rng.randint(0, 2)) + rng.choice(["", "/", "_"]),
                rng.choice(["", "/", ".csv", ".png", "/"]) + text(rng.randint(0, 2)),
                f"rule{k}") for k in range(120)]
    index = _index(entries)
    for _ in range(3000):
        f = text(rng.randint(1, 5))
        assert patched(index, f) == original(index, f), f
    # the workflow's kind of names: many rules share the prefix results/
    index = _index([("results/", "/atoms.csv", "write_table"), ("results/", "/rdf.csv", "rdf"),
                    ("results/", ".csv", "any_csv"), ("results/logs/", ".log", "logs")])
    assert patched(index, "results/s/f/atoms.csv") == {"write_table", "any_csv"}
    assert patched(index, "results/logs/s/f/rdf.log") == {"logs"}
    assert patched(index, "other/s/atoms.csv") == set()


class _Job:
    def __init__(self, name, outputs):
        self.name, self.output = name, outputs

    def __lt__(self, other):
        return self.name < other.name

    def __repr__(self):
        return self.name


@pytest.mark.parametrize(("outputs", "raises"), [
    ({"a": ["results/s/f/atoms.csv", "results/s/f/bonds.csv"], "b": ["results/s/summary.csv"]},
     False),
    ({"a": ["results/s/f"], "b": ["results/s/f/atoms.csv"]}, True),  # a file inside an output
    ({"a": ["results/s/f"], "b": ["results/s/f-1/atoms.csv"]}, False),  # a name, not a folder
    ({"a": ["results/s/./f"], "b": ["results/s/f/x.csv"]}, True),  # not plain: Snakemake's own
    ({"a": ["results/s/f/"], "b": ["results/s/f/x.csv"]}, True),
    ({"a": ["/abs/out"], "b": ["/abs/out/x.csv", "rel.csv"]}, True),
    ({"a": ["results/x/../y"], "b": ["results/x/../y/z"]}, True),
    ({"a": ["x", "x/y"], "b": ["x/z"]}, False),  # Snakemake compares sorted neighbours only
])
def test_directory_check_decides_as_snakemake(tmp_path, monkeypatch, outputs, raises):
    import os

    import snakemake.api  # noqa: F401 (import order of snakemake's modules)
    from snakemake.dag import DAG
    from snakemake.exceptions import ChildIOException

    original = getattr(DAG.check_directory_outputs, "__wrapped__", DAG.check_directory_outputs)
    assert smkspeed.fast_directory_check()
    assert smkspeed.fast_directory_check()  # idempotent
    patched = DAG.check_directory_outputs
    assert patched is not original
    monkeypatch.chdir(tmp_path)

    class Dag:
        jobs = [_Job(name, files) for name, files in outputs.items()]

    for check in (original, patched):
        if raises:
            with pytest.raises(ChildIOException):
                check(Dag())
        else:
            assert check(Dag()) is None
    # Snakemake's own sort and comparison (os.path.commonpath) only where an output lies in
    # another: not for the workflow's usual outputs
    calls = []
    commonpath = os.path.commonpath
    monkeypatch.setattr(os.path, "commonpath", lambda p: calls.append(p) or commonpath(p))
    if not raises:
        patched(Dag())
        nested = any(b.startswith(a + "/") for fs in outputs.values() for a in fs
                     for gs in outputs.values() for b in gs)
        assert bool(calls) == nested


def test_plain_paths_are_pathlibs_absolute_paths(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    files = ["results/s/f/atoms.csv", "/abs/x.csv", "a", "/b"]
    assert smkspeed._plain_paths(files, str(tmp_path)) == [str(Path(f).absolute())
                                                           for f in files]
    for odd in ["a//b", "./a", "a/./b", "a/../b", "a/", ".", "", "/"]:
        assert smkspeed._plain_paths(["ok.csv", odd], str(tmp_path)) is None, odd
    assert smkspeed._plain_paths(["x"], "/") == ["/x"]


# ---- metadata records ---------------------------------------------------------------------------
def test_record_reads_give_snakemakes_records(tmp_path, caplog):
    import json

    import snakemake.api  # noqa: F401 (import order of snakemake's modules)
    from snakemake.persistence.file import FilePersistence

    read = getattr(FilePersistence._io_read, "__wrapped__", FilePersistence._io_read)
    path_of = getattr(FilePersistence._record_path, "__wrapped__", FilePersistence._record_path)
    assert smkspeed.fast_record_reads()
    assert smkspeed.fast_record_reads()  # idempotent
    assert FilePersistence._io_read is not read

    def store():
        p = FilePersistence.__new__(FilePersistence)  # only what the two methods read
        p._max_len = None
        return p

    subject = tmp_path / "metadata"
    subject.mkdir()
    record = {"rule": "plot_series", "input": ["results/a/é.csv"], "params": ["'0.7.0'"],
              "input_checksums": {"x": "sha256:00"}, "incomplete": False, "starttime": 1.5}
    ours, theirs = store(), store()
    key = "results/s/f/atoms.csv"
    path = path_of(theirs, str(subject), key)
    assert ours._record_path(str(subject), key) == path
    with open(path, "w") as fh:
        json.dump(record, fh)
    assert ours._io_read(str(subject), key) == read(theirs, str(subject), key) == record
    long_key = "results/" + "x" * 600 + "/y.csv"  # a record path in several folders
    assert ours._record_path(str(subject), long_key) == path_of(theirs, str(subject), long_key)
    assert ours._io_read(str(subject), long_key) == read(theirs, str(subject), long_key) == {}
    assert ours._io_read(str(subject), "never/written") == {}
    # a record half written: Snakemake's own reading decides (a warning and an empty record)
    with open(path, "w") as fh:
        fh.write('{"rule": "plot_se')
    assert ours._io_read(str(subject), key) == read(theirs, str(subject), key) == {}
    # each record's path is built once per persistence object
    assert (str(subject), key) in ours.__dict__[smkspeed._READS_MARK]
