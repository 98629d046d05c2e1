# Interactive 3D view of every frame of a series: one self-contained HTML page (plotly.js inlined,
# works offline), listed in the Snakemake report, with the atoms' fates from the tracking rule.
# The script only calls nanotraj.stages.figures (page: nanotraj.viewer), which imports plotly
# itself (only this job pays for it); a process of its own (see plots.smk). Cheap: a local rule
# on a cluster.


localrules:
    build_viewer,


rule build_viewer:
    input:
        atoms=get_series_frame_files(ATOMS_TABLE),
        summaries=get_series_frame_files("summary.csv"),
        # frame k's fates are in frame k+1's fate.csv: n-1 files for n frames (see common.smk)
        fates=get_series_next_fate_files,
        # series tables of issue 21: atom_id and the domains' tracks depend on every frame
        atom_ids=layout.series_file("atom_ids.csv"),
        domains=layout.series_file("domains.csv"),
    output:
        html=report(
            layout.series_file("viewer.html"),
            caption="../report/viewer.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "interactive 3D view of every frame"},
        ),
    log:
        layout.log("build_viewer", per="series"),
    benchmark:
        layout.benchmark("build_viewer", per="series")
    priority: -2  # scheduling order: see plots.smk
    conda:
        "../../envs/nanotraj.yaml"
    params:
        version=VERSION,
        time_unit=config["time_unit"],
        paths=get_frame_paths(ATOMS_TABLE, "summary.csv"),
        atoms_table=ATOMS_TABLE,
        fates=get_viewer_fates,
    script:
        "../scripts/build_viewer.py"
