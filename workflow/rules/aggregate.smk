# Per-series and whole-run aggregates: cheap, so local rules on a cluster.


localrules:
    aggregate_series,
    write_trajectory,
    aggregate_all,
    list_rejected,


rule aggregate_series:
    input:
        summaries=get_series_frame_files("summary.csv"),
        tracking=layout.series_file("tracking.csv"),
    output:
        summary=layout.series_file("summary.csv"),
        html=report(
            layout.series_file("summary.html"),
            caption="../report/summary_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "summary table (one row per frame)"},
        ),
    log:
        layout.log("aggregate_series", per="series"),
    benchmark:
        layout.benchmark("aggregate_series", per="series")
    priority: -1  # scheduling order: see plots.smk
    params:
        version=VERSION,
    run:
        from nanotraj.stages import series as stage

        stage.aggregate_summaries(
            # a chunked series: the inputs are its chunks, the frames' files are read
            series_frame_paths(wildcards.series, "summary.csv"),
            output.summary,
            tracking=input.tracking,
            html=output.html,
            title=f"Series {wildcards.series}: summary, one row per frame",
            log=log[0],
        )


rule aggregate_all:
    input:
        [layout.series_file("summary.csv", series=s) for s in SERIES],
    output:
        summary=layout.run_file("summary.csv"),
        html=report(
            layout.run_file("summary.html"),
            caption="../report/summary_all.rst",
            category="All series",
            labels={"result": "summary table of every series"},
        ),
    log:
        layout.log("aggregate_all", per="run"),
    benchmark:
        layout.benchmark("aggregate_all", per="run")
    params:
        version=VERSION,
    run:
        from nanotraj.stages import series as stage

        stage.aggregate_summaries(
            input,
            output.summary,
            sort_by_series=True,
            html=output.html,
            title="Summary of every series, one row per frame",
            log=log[0],
        )


rule list_rejected:
    input:
        summary=rules.aggregate_all.output.summary,
    output:
        rejected=layout.run_file("rejected.csv"),
        html=report(
            layout.run_file("rejected.html"),
            caption="../report/rejected.rst",
            category="All series",
            labels={"result": "rejected frames"},
        ),
    log:
        layout.log("list_rejected", per="run"),
    benchmark:
        layout.benchmark("list_rejected", per="run")
    params:
        version=VERSION,
    run:
        from nanotraj.stages import series as stage

        stage.list_rejected(
            input.summary, output.rejected, html=output.html, log=log[0]
        )


# Every frame of a series in one multi-frame extended XYZ file, for playback in OVITO / ASE.
rule write_trajectory:
    input:
        get_series_frame_files("atoms.extxyz"),
    output:
        # not a report item: the report would embed the whole file
        trajectory=layout.series_file("trajectory.extxyz"),
    log:
        layout.log("write_trajectory", per="series"),
    benchmark:
        layout.benchmark("write_trajectory", per="series")
    priority: -3  # scheduling order: see plots.smk
    params:
        version=VERSION,
    run:
        from nanotraj.stages import series as stage

        stage.write_trajectory(
            series_frame_paths(wildcards.series, "atoms.extxyz"),
            output.trajectory,
            log=log[0],
        )
