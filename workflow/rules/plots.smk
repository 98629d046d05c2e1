# Figures per frame and per series, marked for the Snakemake HTML report (`snakemake --report`).
# Every body only calls nanotraj.plots (matplotlib object API, Agg canvas, no pyplot): matplotlib
# is imported by the plot jobs only (~0.7 s, once per Snakemake process with --force-use-threads).
# plot_series (and plot_tracking, build_viewer) are `script:` jobs, in a process of their own: they
# hold the GIL for 1-2 s each on a long series, which inside the Snakemake process would stall
# every other job; measured on 200 frames, one changed frame reruns in 9.0 s instead of 10.9 s.
#
# Report layout: one category per series; in it the subcategory "Series" (time series, g(r) over
# time, CN over time, the series summary table) and the subcategory "Frames" (g(r) and order maps
# of every frame, labelled by frame and time so that the report's table can be sorted/filtered).


localrules:
    plot_series,


rule plot_frame:
    input:
        rdf="results/{series}/{frame}/rdf.csv",
        atoms="results/{series}/{frame}/atoms.csv",
        summary="results/{series}/{frame}/summary.csv",
    output:
        rdf=report(
            "results/{series}/{frame}/rdf.png",
            caption="../report/rdf.rst",
            category="{series}",
            subcategory="Frames",
            labels=frame_report_labels("g(r)"),
        ),
        order=report(
            "results/{series}/{frame}/order.png",
            caption="../report/order.rst",
            category="{series}",
            subcategory="Frames",
            labels=frame_report_labels("CN, (Q4,Q6), (w6,Q6)"),
        ),
    log:
        "results/logs/{series}/{frame}/plot_frame.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/plot_frame.tsv"
    params:
        version=VERSION,
        element=get_element,
        time_unit=config["time_unit"],
        cutoff_auto=config["cutoff"] == "auto",
    run:
        from nanotraj import plots

        plots.plot_frame(
            input,
            output,
            element=params.element,
            time_unit=params.time_unit,
            cutoff_auto=params.cutoff_auto,
            log=log[0],
        )


rule plot_series:
    input:
        summary="results/{series}/summary.csv",
        rdf=get_series_frame_files("rdf.csv"),
        atoms=get_series_frame_files("atoms.csv"),
    output:
        timeseries=report(
            "results/{series}/timeseries.png",
            caption="../report/timeseries.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "summary quantities against time"},
        ),
        rdf_series=report(
            "results/{series}/rdf_series.png",
            caption="../report/rdf_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "g(r) of every frame"},
        ),
        cn_series=report(
            "results/{series}/cn_series.png",
            caption="../report/cn_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "coordination numbers against time"},
        ),
    log:
        "results/logs/{series}/plot_series.log",
    benchmark:
        "results/benchmarks/{series}/plot_series.tsv"
    conda:
        "../../envs/nanotraj.yaml"
    params:
        version=VERSION,
        time_unit=config["time_unit"],
    script:
        "../scripts/plot_series.py"
