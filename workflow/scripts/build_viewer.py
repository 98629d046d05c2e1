# The 3D viewer page (rule build_viewer) in its own process, for the reason in plot_series.py.
from nanotraj import layout
from nanotraj.stages import figures
from nanotraj.stages.jobs import start_script_job

sm = snakemake  # noqa: F821 (injected by the script directive)
start_script_job()  # ends with a killed run (nothing half-written); fewer GC passes
figures.build_viewer(
    # the frames' files (a chunked series' inputs are its chunks: common.smk get_frame_paths)
    sm.params.paths[sm.params.atoms_table],  # atoms.csv or .parquet
    sm.params.paths["summary.csv"],
    sm.output.html,
    series=sm.wildcards.series,
    # fate.csv of frame k+1 describes frame k's atoms; the last frame has none
    fates=sm.params.fates,
    time_unit=sm.params.time_unit,
    atom_ids=sm.input.atom_ids,
    domains=sm.input.domains,
    # the frames' parsed tables, kept for the next run (a rerun parses the changed frames only)
    cache_dir=layout.viewer_cache(series=sm.wildcards.series),
    log=sm.log[0],
)
