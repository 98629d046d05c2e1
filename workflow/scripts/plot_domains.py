# Domain and atom-identity figures (rule plot_domains) in their own process, for the reason in
# plot_series.py.
from nanotraj.stages import domains
from nanotraj.stages.jobs import start_script_job

sm = snakemake  # noqa: F821 (injected by the script directive)
start_script_job()  # ends with a killed run (nothing half-written); fewer GC passes
domains.plot_domains(
    sm.input.domains,
    sm.input.events,
    sm.input.survival,
    sm.input.rmsd,
    sm.output,
    series=sm.wildcards.series,
    time_unit=sm.params.time_unit,
    log=sm.log[0],
)
