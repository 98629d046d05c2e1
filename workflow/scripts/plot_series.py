# Series figures (rule plot_series) in their own process: matplotlib holds the GIL for seconds,
# so inside the Snakemake process (--force-use-threads) this job would stall the other jobs.
from nanotraj.stages import figures
from nanotraj.stages.jobs import start_script_job

sm = snakemake  # noqa: F821 (injected by the script directive)
start_script_job()  # ends with a killed run (nothing half-written); fewer GC passes
figures.plot_series(
    # the frames' files (a chunked series' inputs are its chunks: common.smk get_frame_paths)
    sm.params.paths["summary.csv"],
    sm.params.paths["rdf.csv"],
    sm.params.paths[sm.params.atoms_table],  # atoms.csv or .parquet
    sm.output,
    profile_csvs=sm.params.paths["strain_profile.csv"],
    element=sm.params.element,
    time_unit=sm.params.time_unit,
    log=sm.log[0],
)
