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
        frame=WORK_DIR + "/frame.npz",
    log:
        LOG_DIR + "/parse_frame.log",
    benchmark:
        BENCH_DIR + "/parse_frame.tsv"
    params:
        version=VERSION,
        on_bad_frame=config["on_bad_frame"],
    run:
        from nanotraj import pipeline

        pipeline.parse_frame(
            input[0], output.frame, log=log[0], on_bad_frame=params.on_bad_frame
        )


rule compute_rdf:
    input:
        frame=WORK_DIR + "/frame.npz",
    output:
        rdf=FRAME_DIR + "/rdf.csv",
        npz=WORK_DIR + "/rdf.npz",
    log:
        LOG_DIR + "/compute_rdf.log",
    benchmark:
        BENCH_DIR + "/compute_rdf.tsv"
    params:
        version=VERSION,
        cutoff=config["cutoff"],
        dr=config["rdf"]["dr"],
        r_max=config["rdf"]["r_max"],
        on_bad_frame=config["on_bad_frame"],
    run:
        from nanotraj import pipeline

        pipeline.compute_rdf(
            input.frame,
            output.rdf,
            output.npz,
            cutoff=params.cutoff,
            dr=params.dr,
            r_max=params.r_max,
            log=log[0],
            on_bad_frame=params.on_bad_frame,
        )


rule find_bonds:
    input:
        frame=WORK_DIR + "/frame.npz",
        rdf=WORK_DIR + "/rdf.npz",
    output:
        bonds=WORK_DIR + "/bonds.npz",
    log:
        LOG_DIR + "/find_bonds.log",
    benchmark:
        BENCH_DIR + "/find_bonds.tsv"
    params:
        version=VERSION,
    run:
        from nanotraj import pipeline

        pipeline.find_bonds(input.frame, input.rdf, output.bonds, log=log[0])


rule compute_boo:
    input:
        frame=WORK_DIR + "/frame.npz",
        bonds=WORK_DIR + "/bonds.npz",
    output:
        boo=WORK_DIR + "/boo.npz",
    log:
        LOG_DIR + "/compute_boo.log",
    benchmark:
        BENCH_DIR + "/compute_boo.tsv"
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
            log=log[0],
        )


rule compute_coordination:
    input:
        frame=WORK_DIR + "/frame.npz",
        bonds=WORK_DIR + "/bonds.npz",
    output:
        coordination=WORK_DIR + "/coordination.npz",
    log:
        LOG_DIR + "/compute_coordination.log",
    benchmark:
        BENCH_DIR + "/compute_coordination.tsv"
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
        frame=WORK_DIR + "/frame.npz",
        bonds=WORK_DIR + "/bonds.npz",
    output:
        neighbour_distance=WORK_DIR + "/neighbour_distance.npz",
    log:
        LOG_DIR + "/compute_neighbour_distance.log",
    benchmark:
        BENCH_DIR + "/compute_neighbour_distance.tsv"
    params:
        version=VERSION,
    run:
        from nanotraj import pipeline

        pipeline.compute_neighbour_distance(
            input.frame, input.bonds, output.neighbour_distance, log=log[0]
        )


rule write_frame_table:
    input:
        **get_stage_inputs(
            "frame", "rdf", "bonds", "boo", "coordination", "neighbour_distance"
        ),
    output:
        atoms=FRAME_DIR + "/atoms.csv",
        bonds=FRAME_DIR + "/bonds.csv",
        summary=FRAME_DIR + "/summary.csv",
    log:
        LOG_DIR + "/write_frame_table.log",
    benchmark:
        BENCH_DIR + "/write_frame_table.tsv"
    params:
        version=VERSION,
        time=get_time,
    run:
        from nanotraj import pipeline

        pipeline.write_frame_table(
            input,
            output,
            series=wildcards.series,
            frame=wildcards.frame,
            time=params.time,
            log=log[0],
        )


rule write_frame_pdbs:
    input:
        **get_stage_inputs(
            "frame", "bonds", "boo", "coordination", "neighbour_distance"
        ),
    output:
        **{q: FRAME_DIR + f"/pdb/{q}.pdb" for q in PDB_QUANTITIES},
    log:
        LOG_DIR + "/write_frame_pdbs.log",
    benchmark:
        BENCH_DIR + "/write_frame_pdbs.tsv"
    params:
        version=VERSION,
        element=get_element,
    run:
        from nanotraj import pipeline

        pipeline.write_frame_pdbs(input, output, element=params.element, log=log[0])
