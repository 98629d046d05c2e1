# Interactive 3D view of every frame of a series: one self-contained HTML page (plotly.js inlined,
# works offline), listed in the Snakemake report. The body only calls nanotraj.viewer, which
# imports plotly itself (only this job pays for it). Cheap: a local rule on a cluster.


localrules:
    build_viewer,


rule build_viewer:
    input:
        atoms=get_series_frame_files("atoms.csv"),
        summaries=get_series_frame_files("summary.csv"),
    output:
        html=report(
            "results/{series}/viewer.html",
            caption="../report/viewer.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "interactive 3D view of every frame"},
        ),
    log:
        "results/logs/{series}/build_viewer.log",
    benchmark:
        "results/benchmarks/{series}/build_viewer.tsv"
    params:
        version=VERSION,
        time_unit=config["time_unit"],
    run:
        from nanotraj import viewer

        viewer.viewer_from_files(
            input.atoms,
            input.summaries,
            output.html,
            series=wildcards.series,
            time_unit=params.time_unit,
            log=log[0],
        )
