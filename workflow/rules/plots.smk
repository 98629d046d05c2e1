# Figures per frame and per series, marked for the Snakemake HTML report (`snakemake --report`).
# Every body only calls nanotraj.stages.figures (drawing: nanotraj.plots) (matplotlib object API, Agg canvas, no pyplot): matplotlib
# is imported by the plot jobs only (~0.7 s, once per Snakemake process with --force-use-threads).
# plot_series (and plot_tracking, build_viewer) are `script:` jobs, in a process of their own: they
# hold the GIL for 1-2 s each on a long series, which inside the Snakemake process would stall
# every other job; measured on 200 frames, one changed frame reruns in 9.0 s instead of 10.9 s.
#
# Priorities (`priority:`, higher first among the jobs ready to run; the per-frame rules keep 0):
# Snakemake's greedy scheduler otherwise prefers the ready job with the largest input files, so
# after one frame was edited the per-series jobs (200 inputs) took both cores while the frame's
# own chain (lattice, domains, table) waited. Now the frame's jobs go first, then plot_series (the
# longest series job, it reads only the frames' files: it starts as soon as they are written)
# and the aggregates that feed build_viewer and plot_domains (-1), then build_viewer and
# plot_tracking (-2; plot_tracking is ready as soon as the two pairs are, so it still uses a core
# the frame's chain leaves idle; plot_frame, a leaf holding the GIL in the Snakemake process,
# too), then plot_domains and the trajectory (-3). Only the order changes, never what runs.
#
# Report layout: one category per series; in it the subcategory "Series" (time series, g(r) over
# time, CN over time, the series summary table) and the subcategory "Frames" (g(r) and order maps
# of every frame, labelled by frame and time so that the report's table can be sorted/filtered).


localrules:
    plot_series,
    plot_snapshot,


rule plot_frame:
    input:
        rdf=rules.compute_rdf.output.rdf,
        cutoff=rules.compute_rdf.output.npz,
        structure=rules.compute_structure.output.structure,
        atoms=layout.frame_file(ATOMS_TABLE),
        summary=rules.write_frame_table.output.summary,
    output:
        rdf=report(
            layout.frame_file("rdf.png"),
            caption="../report/rdf.rst",
            category="{series}",
            subcategory="Frames",
            labels=frame_report_labels("g(r)"),
        ),
        order=report(
            layout.frame_file("order.png"),
            caption="../report/order.rst",
            category="{series}",
            subcategory="Frames",
            labels=frame_report_labels("CN, (Q4,Q6), (w6,Q6)"),
        ),
    log:
        layout.log("plot_frame"),
    benchmark:
        layout.benchmark("plot_frame")
    priority: -2  # scheduling order: see plots.smk
    params:
        version=VERSION,
        element=get_element,
        time_unit=config["time_unit"],
        order_limits=config["figures"]["order_limits"],
    run:
        from nanotraj.stages import figures

        figures.plot_frame(
            input,
            output,
            element=params.element,
            time_unit=params.time_unit,
            order_limits=params.order_limits,
            log=log[0],
        )


rule plot_series:
    input:
        # the frames' summaries, not the series' table: the figures do not wait for the
        # series' aggregates (its tracking columns are not drawn)
        summaries=get_series_frame_files("summary.csv"),
        rdf=get_series_frame_files("rdf.csv"),
        atoms=get_series_frame_files(ATOMS_TABLE),
        profiles=get_series_frame_files("strain_profile.csv"),
    output:
        timeseries=report(
            layout.series_file("timeseries.png"),
            caption="../report/timeseries.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "summary quantities against time"},
        ),
        rdf_series=report(
            layout.series_file("rdf_series.png"),
            caption="../report/rdf_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "g(r) of every frame"},
        ),
        cn_series=report(
            layout.series_file("cn_series.png"),
            caption="../report/cn_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "coordination numbers against time"},
        ),
        strain_series=report(
            layout.series_file("strain_series.png"),
            caption="../report/strain_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "lattice constant and strain against time"},
        ),
        facets_series=report(
            layout.series_file("facets_series.png"),
            caption="../report/facets_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "facets and surface sites against time"},
        ),
    log:
        layout.log("plot_series", per="series"),
    benchmark:
        layout.benchmark("plot_series", per="series")
    priority: -1  # scheduling order: see plots.smk
    conda:
        "../../envs/nanotraj.yaml"
    params:
        version=VERSION,
        time_unit=config["time_unit"],
        element=get_series_element,
        paths=get_frame_paths(
            "summary.csv", "rdf.csv", ATOMS_TABLE, "strain_profile.csv"
        ),
        atoms_table=ATOMS_TABLE,
    script:
        "../scripts/plot_series.py"


# A series of one frame (a snapshot) gets this one page instead of plot_series' time panels and
# the tracking figures (common.smk: is_snapshot).
rule plot_snapshot:
    input:
        summary=rules.aggregate_series.output.summary,
        rdf=get_series_frame_files("rdf.csv"),
        atoms=get_series_frame_files(ATOMS_TABLE),
    output:
        snapshot=report(
            layout.series_file("snapshot.png"),
            caption="../report/snapshot.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "snapshot summary (one frame)"},
        ),
    log:
        layout.log("plot_snapshot", per="series"),
    benchmark:
        layout.benchmark("plot_snapshot", per="series")
    conda:
        "../../envs/nanotraj.yaml"
    params:
        version=VERSION,
        time_unit=config["time_unit"],
    script:
        "../scripts/plot_snapshot.py"
