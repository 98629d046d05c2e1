# Per-frame stages. Every body only calls nanotraj.pipeline (the science is in src/nanotraj).
#
# Why `run:` and not `script:`: a `script:` job starts a new Python process (0.10 s, 0.33 s with
# numpy + scipy.spatial) for milliseconds of work; a `run:` job executes inside the Snakemake
# process when --force-use-threads is set (profiles/default sets it), where the library is imported
# once for the whole run (~0.02 s per job). See README "Performance" for the measured numbers.


rule parse_frame:
    input:
        get_frame_path,
    output:
        frame="results/intermediate/{series}/{frame}/frame.npz",
    log:
        "results/logs/{series}/{frame}/parse_frame.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/parse_frame.tsv"
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
        min_distance=config["min_distance"],
    run:
        from nanotraj import pipeline

        pipeline.parse_frame(
            input[0],
            output.frame,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
            min_distance=params.min_distance,
        )


rule compute_rdf:
    input:
        frame="results/intermediate/{series}/{frame}/frame.npz",
    output:
        rdf="results/{series}/{frame}/rdf.csv",
        npz="results/intermediate/{series}/{frame}/rdf.npz",
    log:
        "results/logs/{series}/{frame}/compute_rdf.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/compute_rdf.tsv"
    threads: get_frame_threads
    params:
        version=VERSION,
        cutoff=config["cutoff"],
        dr=config["rdf"]["dr"],
        r_max=config["rdf"]["r_max"],
        max_centres=config["rdf"]["max_centres"],
        on_bad_frame=config["on_bad_frame"],
        r_min=get_auto_cutoff_min,
    run:
        from nanotraj import pipeline

        pipeline.compute_rdf(
            input.frame,
            output.rdf,
            output.npz,
            cutoff=params.cutoff,
            dr=params.dr,
            r_max=params.r_max,
            max_centres=params.max_centres,
            threads=threads,
            r_min=params.r_min,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule find_bonds:
    input:
        frame="results/intermediate/{series}/{frame}/frame.npz",
        rdf="results/intermediate/{series}/{frame}/rdf.npz",
    output:
        bonds="results/intermediate/{series}/{frame}/bonds.npz",
    log:
        "results/logs/{series}/{frame}/find_bonds.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/find_bonds.tsv"
    threads: get_frame_threads
    params:
        version=VERSION,
    run:
        from nanotraj import pipeline

        pipeline.find_bonds(
            input.frame, input.rdf, output.bonds, threads=threads, log=log[0]
        )


rule compute_boo:
    input:
        frame="results/intermediate/{series}/{frame}/frame.npz",
        bonds="results/intermediate/{series}/{frame}/bonds.npz",
    output:
        boo="results/intermediate/{series}/{frame}/boo.npz",
    log:
        "results/logs/{series}/{frame}/compute_boo.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/compute_boo.tsv"
    threads: get_frame_threads
    params:
        version=VERSION,
        threshold=config["boo"]["crystal_bond_threshold"],
    run:
        from nanotraj import pipeline

        pipeline.compute_boo(
            input.frame,
            input.bonds,
            output.boo,
            threshold=params.threshold,
            threads=threads,
            log=log[0],
        )


rule compute_coordination:
    input:
        frame="results/intermediate/{series}/{frame}/frame.npz",
        bonds="results/intermediate/{series}/{frame}/bonds.npz",
    output:
        coordination="results/intermediate/{series}/{frame}/coordination.npz",
    log:
        "results/logs/{series}/{frame}/compute_coordination.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/compute_coordination.tsv"
    params:
        version=VERSION,
        nn_distance=get_nn_distance,
    run:
        from nanotraj import pipeline

        pipeline.compute_coordination(
            input.frame,
            input.bonds,
            output.coordination,
            nn_distance=params.nn_distance,
            log=log[0],
        )


rule compute_neighbour_distance:
    input:
        frame="results/intermediate/{series}/{frame}/frame.npz",
        bonds="results/intermediate/{series}/{frame}/bonds.npz",
    output:
        neighbour_distance="results/intermediate/{series}/{frame}/neighbour_distance.npz",
    log:
        "results/logs/{series}/{frame}/compute_neighbour_distance.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/compute_neighbour_distance.tsv"
    params:
        version=VERSION,
    run:
        from nanotraj import pipeline

        pipeline.compute_neighbour_distance(
            input.frame, input.bonds, output.neighbour_distance, log=log[0]
        )


rule compute_structure:
    input:
        **get_stage_inputs("frame", "bonds", "boo", "coordination"),
    output:
        structure="results/intermediate/{series}/{frame}/structure.npz",
    log:
        "results/logs/{series}/{frame}/compute_structure.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/compute_structure.tsv"
    threads: get_frame_threads
    params:
        version=VERSION,
        nn_distance=get_nn_distance,
    run:
        from nanotraj import pipeline

        pipeline.compute_structure(
            input.frame,
            input.bonds,
            input.boo,
            input.coordination,
            output.structure,
            nn_distance=params.nn_distance,
            threads=threads,
            log=log[0],
        )


rule write_frame_table:
    input:
        **get_stage_inputs(
            "frame",
            "rdf",
            "bonds",
            "boo",
            "coordination",
            "neighbour_distance",
            "structure",
        ),
    output:
        atoms="results/{series}/{frame}/atoms.csv",
        bonds="results/{series}/{frame}/bonds.csv",
        summary="results/{series}/{frame}/summary.csv",
    log:
        "results/logs/{series}/{frame}/write_frame_table.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/write_frame_table.tsv"
    params:
        version=VERSION,
        time=get_time,
        element=get_element,
    run:
        from nanotraj import pipeline

        pipeline.write_frame_table(
            input,
            output,
            series=wildcards.series,
            frame=wildcards.frame,
            time=params.time,
            element=params.element,
            log=log[0],
        )


rule write_frame_pdbs:
    input:
        **get_stage_inputs(
            "frame", "boo", "coordination", "neighbour_distance", "structure"
        ),
    output:
        **{q: f"results/{{series}}/{{frame}}/pdb/{q}.pdb" for q in PDB_QUANTITIES},
        **{
            f"{q}_cif": f"results/{{series}}/{{frame}}/pdb/{q}.cif"
            for q in PDB_QUANTITIES
        },
    log:
        "results/logs/{series}/{frame}/write_frame_pdbs.log",
    benchmark:
        "results/benchmarks/{series}/{frame}/write_frame_pdbs.tsv"
    params:
        version=VERSION,
        element=get_element,
    run:
        from nanotraj import pipeline

        pipeline.write_frame_pdbs(input, output, element=params.element, log=log[0])
