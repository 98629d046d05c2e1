"""What a run prints: Snakemake's progress without its scheduler chatter, and a closing line.

The default profile (``profiles/default``) sets ``quiet: [rules, host, reason]``: Snakemake then
prints no job descriptions, only its progress (``12 of 96 steps (12%) done``), warnings and
errors. Its scheduler still announces every job (``Select jobs to execute...``, ``Execute 1
jobs...``, a timestamp and ``Finished jobid: ...``: four lines per job); :func:`quiet_scheduler`
drops those lines, nothing else. :func:`short_errors` prints a job that failed on one of
nanotraj's own errors (a bad frame, an analysis that cannot proceed) as the error's one line,
without the traceback lines Snakemake adds. :func:`closing_message` says where the results are.
"""

from __future__ import annotations

import logging
import re

__all__ = ["quiet_scheduler", "short_errors", "closing_message"]

_CHATTER = re.compile(r"Select jobs to execute\.\.\.|Execute \d+ jobs\.\.\.")


class _SchedulerChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if str(getattr(record, "event", "")).lower().endswith("job_finished"):
            return False
        return not _CHATTER.fullmatch(str(record.msg))


def quiet_scheduler(logger_name: str = "snakemake.logging") -> None:
    """Drop the scheduler's per-job lines from Snakemake's log (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _SchedulerChatter) for f in logger.filters):
        logger.addFilter(_SchedulerChatter())


def _own_error_names() -> list[str]:
    from nanotraj import errors

    names, todo = [], [errors.NanotrajError]
    while todo:
        cls = todo.pop()
        names.append(cls.__name__)
        todo.extend(cls.__subclasses__())
    return sorted(set(names))


_OWN_ERROR = re.compile(
    r"(?:RuleException:\n)?(?P<cls>{names}) in file \"[^\"\n]*\", line \d+:\n(?P<msg>.+?)"
    r"(?P<tb>(?:\n  File \"[^\n]*)*)\s*\Z".format(names="|".join(_own_error_names())),
    re.S,
)


def one_line_error(text: str) -> str | None:
    """The one line for Snakemake's report of a job that raised one of nanotraj's own errors
    (:mod:`nanotraj.errors`), ``Error: <file>: <reason>  [rule <name>]``; None for any other
    text (a bug keeps its traceback)."""
    m = _OWN_ERROR.fullmatch(text.strip())
    if not m:
        return None
    rule = re.search(r"in __rule_(\w+)", m.group("tb") or "")
    where = f"  [rule {rule.group(1)}]" if rule else ""
    return f"Error: {' '.join(m.group('msg').split())}{where}"


class _ShortErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and isinstance(record.msg, str):
            line = one_line_error(record.msg)
            if line is not None:
                record.msg, record.args = line, ()
        return True


def short_errors(logger_name: str = "snakemake.logging") -> None:
    """Print jobs that failed on nanotraj's own errors as one line (:func:`one_line_error`);
    other failures are left as Snakemake prints them (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _ShortErrors) for f in logger.filters):
        logger.addFilter(_ShortErrors())


def closing_message(series, *, results="results", frames_option="") -> str:
    """The lines printed when a run succeeded: where the tables, the figures, the viewer and the
    report are. ``frames_option``: the ``--config`` part that selects the run's sheet, repeated
    in the report command so that the report is of this run."""
    lines = ["nanotraj: done.",
             f"  tables:  {results}/summary.csv (every frame), {results}/<series>/summary.csv",
             f"  figures: {results}/<series>/timeseries.png and {results}/<series>/<frame>/"]
    for s in series[:5]:
        lines.append(f"  viewer:  {results}/{s}/viewer.html")
    if len(series) > 5:
        lines.append(f"  viewer:  ... and {len(series) - 5} more series")
    report = "snakemake --report results/report.html" + (f" {frames_option}" if frames_option
                                                         else "")
    lines.append(f"  report:  {report}")
    return "\n".join(lines)
