# The 3D viewer page (rule build_viewer) in its own process, for the reason in plot_series.py.
from nanotraj.stages import figures

sm = snakemake  # noqa: F821 (injected by the script directive)
figures.build_viewer(
    sm.input.atoms,
    sm.input.summaries,
    sm.output.html,
    series=sm.wildcards.series,
    time_unit=sm.params.time_unit,
    log=sm.log[0],
)
