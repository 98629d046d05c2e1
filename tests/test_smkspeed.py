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
