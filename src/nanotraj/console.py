"""What a run prints: Snakemake's progress without its scheduler chatter, and a closing line.

The default profile (``profiles/default``) sets ``quiet: [rules, host, reason]``: Snakemake then
prints no job descriptions, only its progress (``12 of 96 steps (12%) done``), warnings and
errors. Its scheduler still announces every job (``Select jobs to execute...``, ``Execute 1
jobs...``, a timestamp and ``Finished jobid: ...``: four lines per job); :func:`quiet_scheduler`
drops those lines, nothing else. :func:`closing_message` says where the results are.
"""

from __future__ import annotations

import logging
import re

__all__ = ["quiet_scheduler", "closing_message"]

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
