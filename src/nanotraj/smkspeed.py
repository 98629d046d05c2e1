"""A work-around for a cost of Snakemake that grows with the square of a series' length.

Before a job runs, Snakemake 9 (``snakemake.jobs.Job.prepare``) asks for every input file
whether it is a pipe or service output of one of the job's dependencies
(``Job.is_pipe_or_service_input``), and answers each question by scanning the job's
dependencies until one holds the file: O(inputs x dependencies) per job. The per-series jobs of
nanotraj read a file of every frame (``plot_series``: the series' summary and three files per
frame, ~600 inputs from ~600 jobs for 200 frames), so each such job costs O(F^2) in the
Snakemake process before it starts: measured 2.1 s of the scheduler's time for the 30 jobs of a
one-frame rerun of a 200-frame series, 25 times that for 1,000 frames.

nanotraj never declares ``pipe()`` or ``service()`` outputs. :func:`fast_input_checks` replaces
the method by one that first asks, once per job, whether any dependency has such an output at
all (a cached yes/no), and only then falls back to Snakemake's own scan: the answers are the
same, the cost O(dependencies) once per job. The Snakefile calls it at parse time; it does
nothing when the installed Snakemake has no such method (another version), and calling it twice
patches once.
"""

from __future__ import annotations

__all__ = ["fast_input_checks"]

_MARK = "_nanotraj_fast_input_checks"


def fast_input_checks() -> bool:
    """Patch ``snakemake.jobs.Job.is_pipe_or_service_input`` (module docstring); True if the
    patch is (now or already) in place, False where this Snakemake has no such method."""
    try:
        from snakemake.jobs import Job
    except ImportError:
        return False
    original = getattr(Job, "is_pipe_or_service_input", None)
    if original is None:
        return False
    if getattr(original, _MARK, False):
        return True
    has_pipes: dict = {}  # job -> whether any dependency has a pipe or service output

    def is_pipe_or_service_input(self, path) -> bool:
        try:
            known = has_pipes[self]
        except KeyError:
            known = has_pipes[self] = any(
                dep.pipe_or_service_output for dep in self.dag.dependencies[self])
        return original(self, path) if known else False

    setattr(is_pipe_or_service_input, _MARK, True)
    is_pipe_or_service_input.__doc__ = original.__doc__
    is_pipe_or_service_input.__wrapped__ = original
    Job.is_pipe_or_service_input = is_pipe_or_service_input
    return True
