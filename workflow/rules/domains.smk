# Crystalline domains, twins and nuclei followed through a series; atom identities over the whole
# series (issue 21). Every body only calls nanotraj.stages.domains (science: nanotraj.domains,
# nanotraj.domaintrack, nanotraj.identities); every path comes from nanotraj.layout.
#
# Incremental: find_domains reads its own frame's .npz files only; link_domains of frame t reads
# the domains of t-1 and t and the pair's tracking.npz; everything that needs the whole chain of
# earlier frames (track ids, atom ids, survival, lifetimes, the RMSD matrix) is a per-series
# aggregate. Editing frame t reruns its own jobs, the links (t-1, t) and (t, t+1) and the
# aggregates. This is why atom_id is in results/{series}/atom_ids.csv and not in atoms.csv.
#
# The input functions (get_link_inputs, get_domain_outputs, ...) live in common.smk, as the
# project's lint requires; the defaults of the domains block come from the config schema.


# Local rules: a link takes milliseconds and joins two frames (not in a per-frame job group);
# the aggregates and the figures are cheap per-series jobs.
localrules:
    link_domains,
    aggregate_domains,
    aggregate_atom_ids,
    plot_domains,


rule find_domains:
    input:
        frame=rules.parse_frame.output.frame,
        bonds=rules.find_bonds.output.bonds,
        boo=rules.compute_boo.output.boo,
        ptm=rules.compute_ptm.output.ptm,
    output:
        domains=layout.intermediate("domains"),
        table=layout.frame_file("domains.csv"),
        boundaries=layout.frame_file("boundaries.csv"),
    log:
        layout.log("find_domains"),
    benchmark:
        layout.benchmark("find_domains")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        # method, max_misorientation, min_atoms, order_threshold, twin_tolerance
        options=get_domain_options(),
    run:
        from nanotraj.stages import domains as stage

        stage.find_domains(
            *input,
            *output,
            **params.options,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule link_domains:
    input:
        unpack(get_link_inputs),
    output:
        links=layout.intermediate("domainlinks"),
    log:
        layout.log("link_domains"),
    benchmark:
        layout.benchmark("link_domains")
    params:
        version=VERSION,
        link_fraction=config["domains"]["link_fraction"],
        size_change=config["domains"]["size_change"],
        previous_frame=get_previous_frame,
    run:
        from nanotraj.stages import domains as stage

        stage.link_domains(
            input,
            output.links,
            link_fraction=params.link_fraction,
            size_change=params.size_change,
            previous_frame=params.previous_frame,
            log=log[0],
        )


rule aggregate_domains:
    input:
        domains=get_series_intermediate("domains"),
        links=get_series_intermediate("domainlinks"),
    output:
        domains=layout.series_file("domains.csv"),
        events=layout.series_file("domain_events.csv"),
    log:
        layout.log("aggregate_domains", per="series"),
    benchmark:
        layout.benchmark("aggregate_domains", per="series")
    priority: -1  # scheduling order: see plots.smk
    params:
        version=VERSION,
        frames=get_series_frame_names,
        times=get_series_times,
    run:
        from nanotraj.stages import domains as stage
        from nanotraj.stages.chunk import frame_arrays

        stage.aggregate_domains(
            frame_arrays(input.domains, "domains"),
            frame_arrays(input.links, "domainlinks"),
            output,
            series=wildcards.series,
            frames=params.frames,
            times=params.times,
            log=log[0],
        )


rule aggregate_atom_ids:
    input:
        tracking=get_series_intermediate("tracking"),
        frames=get_series_intermediate("frame"),
    output:
        atom_ids=layout.series_file("atom_ids.csv"),
        lifetimes=layout.series_file("lifetimes.csv"),
        survival=layout.series_file("survival.csv"),
        rmsd=layout.series_file("rmsd_matrix.csv"),
    log:
        layout.log("aggregate_atom_ids", per="series"),
    benchmark:
        layout.benchmark("aggregate_atom_ids", per="series")
    priority: -1  # scheduling order: see plots.smk
    params:
        version=VERSION,
        frames=get_series_frame_names,
        times=get_series_times,
    run:
        from nanotraj.stages import domains as stage
        from nanotraj.stages.chunk import frame_arrays

        stage.aggregate_atom_ids(
            frame_arrays(input.tracking, "tracking"),
            frame_arrays(input.frames, "frame"),
            output,
            series=wildcards.series,
            frames=params.frames,
            times=params.times,
            log=log[0],
        )


rule plot_domains:
    input:
        domains=rules.aggregate_domains.output.domains,
        events=rules.aggregate_domains.output.events,
        survival=rules.aggregate_atom_ids.output.survival,
        rmsd=rules.aggregate_atom_ids.output.rmsd,
    output:
        domains_series=report(
            layout.series_file("domains_series.png"),
            caption="../report/domains_series.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "domain sizes against time, by track"},
        ),
        survival=report(
            layout.series_file("survival.png"),
            caption="../report/survival.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "survival of the first frame's atoms"},
        ),
        rmsd_matrix=report(
            layout.series_file("rmsd_matrix.png"),
            caption="../report/rmsd_matrix.rst",
            category="{series}",
            subcategory="Series",
            labels={"result": "RMSD between frames on shared atoms"},
        ),
    log:
        layout.log("plot_domains", per="series"),
    benchmark:
        layout.benchmark("plot_domains", per="series")
    priority: -3  # scheduling order: see plots.smk
    conda:
        "../../envs/nanotraj.yaml"
    params:
        version=VERSION,
        time_unit=config["time_unit"],
    script:
        "../scripts/plot_domains.py"
