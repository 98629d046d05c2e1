# Per-series and whole-run aggregates: cheap, so local rules on a cluster.


localrules:
    aggregate_series,
    aggregate_all,
    list_rejected,


rule aggregate_series:
    input:
        summaries=get_series_summaries,
        tracking="results/{series}/tracking.csv",
    output:
        summary=report(
            "results/{series}/summary.csv",
            caption="../report/summary_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "summary table (one row per frame)"},
        ),
    log:
        "results/logs/{series}/aggregate_series.log",
    benchmark:
        "results/benchmarks/{series}/aggregate_series.tsv"
    params:
        version=VERSION,
    run:
        from nanotraj import pipeline

        pipeline.aggregate_summaries(
            input.summaries, output.summary, tracking=input.tracking, log=log[0]
        )


rule aggregate_all:
    input:
        expand("results/{series}/summary.csv", series=SERIES),
    output:
        summary=report(
            "results/summary.csv",
            caption="../report/summary_all.rst",
            category="All series",
            labels={"result": "summary table of every series"},
        ),
    log:
        "results/logs/aggregate_all.log",
    benchmark:
        "results/benchmarks/aggregate_all.tsv"
    params:
        version=VERSION,
    run:
        from nanotraj import pipeline

        pipeline.aggregate_summaries(
            input, output.summary, sort_by_series=True, log=log[0]
        )


rule list_rejected:
    input:
        summary="results/summary.csv",
    output:
        rejected=report(
            "results/rejected.csv",
            caption="../report/rejected.rst",
            category="All series",
            labels={"result": "rejected frames"},
        ),
    log:
        "results/logs/list_rejected.log",
    benchmark:
        "results/benchmarks/list_rejected.tsv"
    params:
        version=VERSION,
    run:
        from nanotraj import pipeline

        pipeline.list_rejected(input.summary, output.rejected, log=log[0])
