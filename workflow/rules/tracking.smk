# Frame-to-frame tracking (issue 9): which atoms of frame t-1 are still there in frame t, which are
# removed, which are new, and how far the retained ones moved. One job per frame t of a series
# (frames in time order; the first frame's job records "no previous frame"), one figure job per
# series. Every body only calls nanotraj.stages.tracking / nanotraj.stages.figures.
#
# Incremental: editing frame t changes frame t's intermediate .npz files, which are inputs of the
# pairs (t-1, t) and (t, t+1) only; those two jobs and the per-series aggregates rerun, nothing
# else. The per-frame jobs never read another frame's files (tracking results are separate files:
# fate.csv, fate.pdb/.cif, new.csv per pair, tracking.csv per series), so a bad frame in fail mode does
# not hold up its successor's tables and the cluster profile's per-frame groups stay independent.
#
# Configuration (optional block; defaults used when absent):
#   tracking:
#     max_distance: auto   # 'auto' = 0.5 x the element's nearest-neighbour distance, or Angstrom
#     align: false         # rigid (Kabsch) alignment of frame t onto frame t-1 before matching
#
# The input functions (get_previous_frame, get_track_inputs, get_series_times,
# get_series_frame_names, get_series_intermediate, get_tracking_outputs) live in common.smk, as
# the project's lint requires; the defaults of the tracking block come from the config schema.


# Local rules: on a cluster they run in the head node's Snakemake process instead of waiting in
# the queue. track_pair too: it takes milliseconds up to ~10^4 atoms and ~1.5 s at 10^5 atoms
# (matching, fate.csv, fate.pdb), far less than one SLURM submission; for long series of 10^6-atom
# frames remove it from here and give it its own group in profiles/slurm (not the per-frame group:
# a pair joins two frames, so that group would become the whole series).
localrules:
    track_pair,
    aggregate_tracking,
    plot_tracking,


rule track_pair:
    input:
        unpack(get_track_inputs),
    output:
        tracking=layout.intermediate("tracking"),
        fate=layout.frame_file("fate.csv"),
        pdb=layout.frame_file("fate.pdb"),
        cif=layout.frame_file("fate.cif"),
        new=layout.frame_file("new.csv"),
    log:
        layout.log("track_pair"),
    benchmark:
        layout.benchmark("track_pair")
    params:
        version=VERSION,
        max_distance=config["tracking"]["max_distance"],
        align=config["tracking"]["align"],
        element=get_previous_element,
        previous_frame=get_previous_frame,
    run:
        from nanotraj.stages import tracking as stage

        stage.track_pair(
            input,
            output,
            max_distance=params.max_distance,
            align=params.align,
            element=params.element,
            previous_frame=params.previous_frame,
            log=log[0],
        )


rule plot_tracking:
    input:
        fate=get_series_frame_files("fate.csv"),
        tracking=get_series_intermediate("tracking"),
    output:
        removal_cn=report(
            layout.series_file("removal_cn.png"),
            caption="../report/tracking_removal_cn.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "removal probability against CN"},
        ),
        displacements=report(
            layout.series_file("displacements.png"),
            caption="../report/tracking_displacements.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "displacements between consecutive frames"},
        ),
    log:
        layout.log("plot_tracking", per="series"),
    benchmark:
        layout.benchmark("plot_tracking", per="series")
    priority: -2  # scheduling order: see plots.smk
    conda:
        "../../envs/nanotraj.yaml"
    params:
        version=VERSION,
        frames=get_series_frame_names,
        times=get_series_times,
        time_unit=config["time_unit"],
        paths=get_frame_paths("fate.csv"),
    script:
        "../scripts/plot_tracking.py"


rule aggregate_tracking:
    input:
        get_series_intermediate("tracking"),
    output:
        tracking=layout.series_file("tracking.csv"),
        html=report(
            layout.series_file("tracking.html"),
            caption="../report/tracking_table.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "tracking table (one row per frame)"},
        ),
    log:
        layout.log("aggregate_tracking", per="series"),
    benchmark:
        layout.benchmark("aggregate_tracking", per="series")
    priority: -1  # scheduling order: see plots.smk
    params:
        version=VERSION,
        frames=get_series_frame_names,
        times=get_series_times,
    run:
        from nanotraj.stages import tracking as stage
        from nanotraj.stages.chunk import frame_arrays

        stage.aggregate_tracking(
            frame_arrays(input, "tracking"),
            output.tracking,
            series=wildcards.series,
            frames=params.frames,
            times=params.times,
            html=output.html,
            log=log[0],
        )
