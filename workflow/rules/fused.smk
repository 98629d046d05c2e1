# One job per frame (config frame_jobs: one; auto above 50 frames; nanotraj.chunking.frame_jobs):
# analyse_frame runs every per-frame stage of its frame in order, parse_frame .. find_domains,
# write_frame_table and write_frame_pdbs, with the same stage functions and arguments as the
# per-stage rules (nanotraj.stages.chunk.analyse, shared with run_chunk), and writes the same
# files at the same paths, the stages' .npz files included. So every later rule (track_pair,
# link_domains, plot_frame, the aggregates, the viewer, the trajectory) reads the same files and
# stays as it is. A frame then costs ~4 jobs instead of ~16: Snakemake's planning (~2-3 ms per
# job) drops from ~16 to ~4 jobs per frame (docs/performance.md, "One job per frame").
#
# Which rule writes a series' frame files: the rule-level `series` constraints (common.smk,
# FUSED_SERIES_RE here, STAGE_SERIES_RE in the per-stage rules) give each file one producer.
#
# A `run:` job, like the per-stage rules (in the Snakemake process with --force-use-threads:
# the library is imported once per run). Its params are every option the stages read
# (nanotraj.chunking.frame_stage_options): a changed stage option reruns all of the frame's
# stages (~0.3-0.6 s per frame of 300 atoms); one of the pairs, links or figures does not.


rule analyse_frame:
    input:
        get_frame_path,
    output:
        **get_fused_outputs(),
    log:
        layout.log("analyse_frame"),
    benchmark:
        layout.benchmark("analyse_frame")
    wildcard_constraints:
        series=FUSED_SERIES_RE,
    priority: 0  # a frame's own stages first, like the per-stage rules: see plots.smk
    threads: get_frame_threads
    params:
        version=VERSION,
        # frame, time, path, element, frame_index, length_unit, type_map (common.smk)
        row=get_fused_row,
        # every option of the per-frame stages (nanotraj.chunking.frame_stage_options)
        options=get_fused_options(),
    run:
        from nanotraj.stages import chunk

        chunk.analyse_frame(
            params.row,
            series=wildcards.series,
            options=params.options,
            threads=threads,
            log=log[0],
        )
