# A chunk of frames of a long series (rule run_chunk) in its own process: every per-frame stage
# of its frames, the pairs and domain links (nanotraj.stages.chunk).
from nanotraj.stages.chunk import run_chunk
from nanotraj.stages.jobs import start_script_job

sm = snakemake  # noqa: F821 (injected by the script directive)
start_script_job()  # ends with a killed run (nothing half-written); fewer GC passes
run_chunk(
    sm.params.frames,
    sm.output.bundle,
    series=sm.wildcards.series,
    previous=sm.params.previous,
    options=sm.params.options,
    # rule run_chunk_figures: the folders of the frames' figures for the report
    figures={k: v for k, v in sm.output.items() if k in ("rdf", "order")},
    log=sm.log[0],
)
