# The one-page figure of a series of one frame (rule plot_snapshot) in its own process, for the
# reason in plot_series.py.
from nanotraj.stages import figures
from nanotraj.stages.jobs import start_script_job

sm = snakemake  # noqa: F821 (injected by the script directive)
start_script_job()  # ends with a killed run (nothing half-written); fewer GC passes
figures.plot_snapshot(
    sm.input.summary,
    sm.input.rdf[0],
    sm.input.atoms[0],
    sm.output.snapshot,
    time_unit=sm.params.time_unit,
    log=sm.log[0],
)
