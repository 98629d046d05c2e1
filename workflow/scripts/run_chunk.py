# A chunk of frames of a long series (rule run_chunk) in its own process: every per-frame stage
# of its frames, the pairs and domain links (nanotraj.stages.chunk).
from nanotraj.stages.chunk import run_chunk
from nanotraj.stages.jobs import end_with_snakemake

sm = snakemake  # noqa: F821 (injected by the script directive)
end_with_snakemake()  # a killed run does not leave this process writing
run_chunk(
    sm.params.frames,
    sm.output.bundle,
    series=sm.wildcards.series,
    previous=sm.params.previous,
    options=sm.params.options,
    log=sm.log[0],
)
