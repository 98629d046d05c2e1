"""nanotraj.smkspeed: Snakemake's pipe/service input check, answered the same, in O(F) per job."""

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
    """A job of 5 inputs and 3 outputs: Snakemake checksums each input once per output (15
    reads); with the patch once (5), and the records hold the same checksums."""
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
    assert sorted(records) == ["a.out", "b.out", "c.out"]
    import hashlib

    expected = {f"in{k}.txt": "sha256:" + hashlib.sha256(
        (folder / f"in{k}.txt").read_bytes()).hexdigest() for k in range(5)}
    for rec in records.values():
        assert rec["input_checksums"] == expected
    assert len(reads) == (5 if patched == "1" else 15)


def test_output_records_patch_is_idempotent():
    from snakemake.io import _IOFile
    from snakemake.persistence import PersistenceBase

    assert smkspeed.fast_output_records()
    first = (PersistenceBase.finished, _IOFile.checksum)
    assert smkspeed.fast_output_records()
    assert (PersistenceBase.finished, _IOFile.checksum) == first
    assert first[0].__wrapped__ is not first[0]
