# Interactive 3D view of every frame of a series: one self-contained HTML page (plotly.js inlined,
# works offline), listed in the Snakemake report. The script only calls nanotraj.viewer, which
# imports plotly itself (only this job pays for it); a process of its own (see plots.smk). Cheap:
# a local rule on a cluster.


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
    conda:
        "../../envs/nanotraj.yaml"
    params:
        version=VERSION,
        time_unit=config["time_unit"],
    script:
        "../scripts/build_viewer.py"
