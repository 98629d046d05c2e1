# Tracking figures (rule plot_tracking) in their own process, for the reason in plot_series.py.
from nanotraj.stages import figures
from nanotraj.stages.chunk import frame_arrays
from nanotraj.stages.jobs import start_script_job

sm = snakemake  # noqa: F821 (injected by the script directive)
start_script_job()  # ends with a killed run (nothing half-written); fewer GC passes
figures.plot_tracking(
    # the frames' files (a chunked series' inputs are its chunks: common.smk get_frame_paths)
    sm.params.paths["fate.csv"],
    frame_arrays(sm.input.tracking, "tracking"),
    sm.output,
    frames=sm.params.frames,
    times=sm.params.times,
    time_unit=sm.params.time_unit,
    series=sm.wildcards.series,
    log=sm.log[0],
)
