# Per-frame stages. Every body only calls nanotraj.stages.frame (the science is in src/nanotraj);
# every path comes from nanotraj.layout.
#
# Why `run:` and not `script:`: a `script:` job starts a new Python process (0.10 s, 0.33 s with
# numpy + scipy.spatial) for milliseconds of work; a `run:` job executes inside the Snakemake
# process when --force-use-threads is set (profiles/default sets it), where the library is imported
# once for the whole run (~0.02 s per job). See docs/performance.md for the measured numbers.


rule parse_frame:
    input:
        get_frame_path,
    output:
        frame=layout.intermediate("frame"),
    log:
        layout.log("parse_frame"),
    benchmark:
        layout.benchmark("parse_frame")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        min_distance=config["min_distance"],
        max_bytes=config["max_frame_bytes"],
        # frame_index, length_unit, type_map, index_cache (common.smk)
        reading=get_frame_reading,
    run:
        from nanotraj.stages import frame as stage

        stage.parse_frame(
            input[0],
            output.frame,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
            min_distance=params.min_distance,
            max_bytes=params.max_bytes,
            **params.reading,
        )


rule compute_rdf:
    input:
        frame=rules.parse_frame.output.frame,
    output:
        rdf=layout.frame_file("rdf.csv"),
        npz=layout.intermediate("rdf"),
    log:
        layout.log("compute_rdf"),
    benchmark:
        layout.benchmark("compute_rdf")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    threads: get_frame_threads
    params:
        version=VERSION,
        element=get_element,
        cutoff=config["cutoff"],
        dr=config["rdf"]["dr"],
        r_max=config["rdf"]["r_max"],
        max_centres=config["rdf"]["max_centres"],
        on_bad_frame=config["on_bad_frame"],
    run:
        from nanotraj.stages import frame as stage

        stage.compute_rdf(
            input.frame,
            output.rdf,
            output.npz,
            element=params.element,
            cutoff=params.cutoff,
            dr=params.dr,
            r_max=params.r_max,
            max_centres=params.max_centres,
            threads=threads,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule find_bonds:
    input:
        frame=rules.parse_frame.output.frame,
        rdf=rules.compute_rdf.output.npz,
    output:
        bonds=layout.intermediate("bonds"),
    log:
        layout.log("find_bonds"),
    benchmark:
        layout.benchmark("find_bonds")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    threads: get_frame_threads
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
    run:
        from nanotraj.stages import frame as stage

        stage.find_bonds(
            input.frame,
            input.rdf,
            output.bonds,
            threads=threads,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule compute_boo:
    input:
        frame=rules.parse_frame.output.frame,
        bonds=rules.find_bonds.output.bonds,
    output:
        boo=layout.intermediate("boo"),
    log:
        layout.log("compute_boo"),
    benchmark:
        layout.benchmark("compute_boo")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    threads: get_frame_threads
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        threshold=config["boo"]["crystal_bond_threshold"],
    run:
        from nanotraj.stages import frame as stage

        stage.compute_boo(
            input.frame,
            input.bonds,
            output.boo,
            threshold=params.threshold,
            threads=threads,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule compute_coordination:
    input:
        frame=rules.parse_frame.output.frame,
        rdf=rules.compute_rdf.output.npz,
        bonds=rules.find_bonds.output.bonds,
    output:
        coordination=layout.intermediate("coordination"),
    log:
        layout.log("compute_coordination"),
    benchmark:
        layout.benchmark("compute_coordination")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        element=get_element,
    run:
        from nanotraj.stages import frame as stage

        stage.compute_coordination(
            input.frame,
            input.rdf,
            input.bonds,
            output.coordination,
            element=params.element,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule compute_neighbour_distance:
    input:
        frame=rules.parse_frame.output.frame,
        bonds=rules.find_bonds.output.bonds,
    output:
        neighbour_distance=layout.intermediate("neighbour_distance"),
    log:
        layout.log("compute_neighbour_distance"),
    benchmark:
        layout.benchmark("compute_neighbour_distance")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
    run:
        from nanotraj.stages import frame as stage

        stage.compute_neighbour_distance(
            input.frame,
            input.bonds,
            output.neighbour_distance,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule compute_structure:
    input:
        frame=rules.parse_frame.output.frame,
        rdf=rules.compute_rdf.output.npz,
        bonds=rules.find_bonds.output.bonds,
        boo=rules.compute_boo.output.boo,
        coordination=rules.compute_coordination.output.coordination,
    output:
        structure=layout.intermediate("structure"),
    log:
        layout.log("compute_structure"),
    benchmark:
        layout.benchmark("compute_structure")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    threads: get_frame_threads
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        element=get_element,
    run:
        from nanotraj.stages import frame as stage

        stage.compute_structure(
            input.frame,
            input.rdf,
            input.bonds,
            input.boo,
            input.coordination,
            output.structure,
            element=params.element,
            threads=threads,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule compute_surface:
    input:
        frame=rules.parse_frame.output.frame,
    output:
        surface=layout.intermediate("surface"),
    log:
        layout.log("compute_surface"),
    benchmark:
        layout.benchmark("compute_surface")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    threads: get_frame_threads
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        element=get_element,
        probe_radius=config["surface"]["probe_radius"],
    run:
        from nanotraj.stages import frame as stage

        stage.compute_surface(
            input.frame,
            output.surface,
            element=params.element,
            probe_radius=params.probe_radius,
            threads=threads,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule compute_ptm:
    input:
        frame=rules.parse_frame.output.frame,
    output:
        ptm=layout.intermediate("ptm"),
    log:
        layout.log("compute_ptm"),
    benchmark:
        layout.benchmark("compute_ptm")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    threads: get_frame_threads
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        rmsd_cutoff=config["structure"]["ptm_rmsd_cutoff"],
    run:
        from nanotraj.stages import frame as stage

        stage.compute_ptm(
            input.frame,
            output.ptm,
            rmsd_cutoff=params.rmsd_cutoff,
            threads=threads,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule compute_lattice:
    input:
        frame=rules.parse_frame.output.frame,
        bonds=rules.find_bonds.output.bonds,
        surface=rules.compute_surface.output.surface,
        ptm=rules.compute_ptm.output.ptm,
    output:
        lattice=layout.intermediate("lattice"),
        profile=layout.frame_file("strain_profile.csv"),
        facets=layout.frame_file("facets.csv"),
    log:
        layout.log("compute_lattice"),
    benchmark:
        layout.benchmark("compute_lattice")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        element=get_element,
        reference=config["lattice"]["reference"],
        profile_bin=config["lattice"]["profile_bin"],
    run:
        from nanotraj.stages import lattice as stage

        stage.compute_lattice(
            input.frame,
            input.bonds,
            input.surface,
            input.ptm,
            output.lattice,
            output.profile,
            output.facets,
            element=params.element,
            reference=params.reference,
            profile_bin=params.profile_bin,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule write_frame_table:
    input:
        **stage_files(
            "frame",
            "rdf",
            "bonds",
            "boo",
            "coordination",
            "neighbour_distance",
            "structure",
            "surface",
            "ptm",
            "lattice",
            "domains",
        ),
    output:
        # atoms, bonds (.csv) and/or atoms_parquet, bonds_parquet: config outputs.table_format
        **{key: layout.frame_file(name) for key, name in TABLE_FILES.items()},
        summary=layout.frame_file("summary.csv"),
        extxyz=layout.frame_file("atoms.extxyz"),
    log:
        layout.log("write_frame_table"),
    benchmark:
        layout.benchmark("write_frame_table")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    threads: get_frame_threads
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        time=get_time,
        element=get_element,
    run:
        from nanotraj.stages import frame as stage

        stage.write_frame_table(
            input,
            output,
            series=wildcards.series,
            frame=wildcards.frame,
            time=params.time,
            element=params.element,
            threads=threads,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule write_frame_pdbs:
    input:
        **stage_files(
            "frame",
            "boo",
            "coordination",
            "neighbour_distance",
            "structure",
            "ptm",
            "lattice",
        ),
    output:
        **{q: layout.frame_file(f"pdb/{q}.pdb") for q in PDB_QUANTITIES},
        **{f"{q}_cif": layout.frame_file(f"pdb/{q}.cif") for q in PDB_QUANTITIES},
    log:
        layout.log("write_frame_pdbs"),
    benchmark:
        layout.benchmark("write_frame_pdbs")
    wildcard_constraints:
        series=STAGE_SERIES_RE,  # the others: analyse_frame (common.smk)
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        element=get_element,
        per_value_pdb=config["outputs"]["per_value_pdb"],
    run:
        from nanotraj.stages import frame as stage

        stage.write_frame_pdbs(
            input,
            output,
            element=params.element,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
            per_value_pdb=params.per_value_pdb,
        )
