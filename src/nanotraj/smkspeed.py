"""Work-arounds for two costs of Snakemake that grow with a series' length.

**Input checks** (:func:`fast_input_checks`).

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

**Output records** (:func:`fast_output_records`). When a job finishes, Snakemake 9
(``snakemake.persistence.PersistenceBase.finished``) writes a metadata record for each of its
outputs, and for each output it computes the checksum (sha256) of every input file of at most
``--max-checksum-file-size`` (1 MB) again: O(inputs x outputs) file reads per job, in the
Snakemake process, between jobs. ``plot_series`` has ~800 inputs and five outputs at 200 frames.
The patch keeps the checksums of one ``finished`` call in a cache of that call (the job has
ended: its inputs do not change while its records are written), so each input is read once per
job; the records are the same.
"""

from __future__ import annotations

import contextvars

__all__ = ["fast_input_checks", "fast_output_records"]

_MARK = "_nanotraj_fast_input_checks"
_RECORDS_MARK = "_nanotraj_fast_output_records"
#: The checksums computed during one ``Persistence.finished`` call (None outside such a call).
_CHECKSUMS: contextvars.ContextVar = contextvars.ContextVar("nanotraj_checksums", default=None)


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


def fast_output_records() -> bool:
    """Patch ``snakemake.persistence.PersistenceBase.finished`` and
    ``snakemake.io._IOFile.checksum`` (module docstring, *Output records*); True if the patch is
    (now or already) in place, False where this Snakemake has neither method."""
    try:
        from snakemake import persistence
        from snakemake.io import _IOFile
    except ImportError:
        return False
    # Snakemake 9: PersistenceBase (file and database back ends); 8: Persistence
    Persistence = getattr(persistence, "PersistenceBase", None) or getattr(  # noqa: N806
        persistence, "Persistence", None)
    original_finished = getattr(Persistence, "finished", None)
    original_checksum = getattr(_IOFile, "checksum", None)
    if original_finished is None or original_checksum is None:
        return False
    if getattr(original_finished, _RECORDS_MARK, False):
        return True

    async def checksum(self, threshold=None, force=False, algorithm=None):
        cache = _CHECKSUMS.get()
        if cache is None:
            return await original_checksum(self, threshold, force, algorithm)
        key = (str(self), threshold, force, algorithm)
        if key not in cache:
            cache[key] = await original_checksum(self, threshold, force, algorithm)
        return cache[key]

    async def finished(self, job):
        token = _CHECKSUMS.set({})
        try:
            return await original_finished(self, job)
        finally:
            _CHECKSUMS.reset(token)

    for new, old in ((checksum, original_checksum), (finished, original_finished)):
        setattr(new, _RECORDS_MARK, True)
        new.__doc__ = old.__doc__
        new.__wrapped__ = old
    _IOFile.checksum = checksum
    Persistence.finished = finished
    return True
