# Long series in chunks (issue 22; nanotraj.chunking, config chunk_size): one job per chunk of
# consecutive frames runs every per-frame stage of its frames, and the pairs and domain links
# with the frame before each, in one process (nanotraj.stages.chunk.run_chunk: the same stage
# functions as the per-frame rules, the same per-frame files, byte for byte). Planning a series
# then costs ~100 jobs instead of ~16 per frame (10,000 frames: ~160,000 jobs, minutes to plan).
#
# A `script:` job: a process of its own (two chunks run side by side on two cores; in the
# Snakemake process they would share one GIL), which pays its ~1-2 s of imports once per chunk.
#
# Incremental: the chunk's inputs are its frames' files and the file of the frame before its
# first frame (the first pair); a frame of a multi-frame file is followed by the digest of its
# own bytes (params.frames, common.smk chunk_row) instead of the whole file, so editing one frame
# of a trajectory, or one sheet row, reruns only its chunk (and the next chunk when it is the
# chunk's last frame) and the series' aggregates. The frames' files are written by the job but
# not declared (the declared output is the chunk's frames.npz): a frame file deleted by hand is
# rewritten by deleting the chunk's frames.npz, or with -R run_chunk.


rule run_chunk:
    input:
        get_chunk_inputs,
    output:
        bundle=layout.chunk_file(layout.CHUNK_BUNDLE),
    log:
        layout.log("run_chunk", per="chunk", frame="{chunk}"),
    benchmark:
        layout.benchmark("run_chunk", per="chunk", frame="{chunk}")
    wildcard_constraints:
        series=PLAIN_CHUNK_SERIES_RE,  # the others: run_chunk_figures
    conda:
        "../../envs/nanotraj.yaml"
    params:
        version=VERSION,
        element=get_series_element,  # the report's captions of the frames' figures
        # per frame: name, time, file, frame_index, length_unit, type_map, element, digest
        frames=get_chunk_frames,
        previous=get_chunk_previous,
        options=get_chunk_options,
    script:
        "../scripts/run_chunk.py"


# The chunks of a series whose frames' figures are drawn (outputs.frame_figures; auto: a series
# of up to 200 frames, common.smk FRAME_OUTPUTS): the same job, which also links each frame's
# rdf.png and order.png into two folders of the chunk, outputs marked for the report (a rule's
# outputs are fixed patterns, the frames of a chunk are not: the report finds {frame}/rdf.png
# and {frame}/order.png in them; the captions read params.element). The folders are Snakemake's
# to remove before the job reruns: links, not the figures.
use rule run_chunk as run_chunk_figures with:
    output:
        bundle=layout.chunk_file(layout.CHUNK_BUNDLE),
        rdf=report(
            directory(layout.chunk_file(layout.CHUNK_FIGURES["rdf"])),
            patterns=["{frame}/rdf.png"],
            caption="../report/rdf.rst",
            category="{series}",
            subcategory="Frames",
            labels=frame_report_labels("g(r)"),
        ),
        order=report(
            directory(layout.chunk_file(layout.CHUNK_FIGURES["order"])),
            patterns=["{frame}/order.png"],
            caption="../report/order.rst",
            category="{series}",
            subcategory="Frames",
            labels=frame_report_labels("CN, (Q4,Q6), (w6,Q6)"),
        ),
    log:
        layout.log("run_chunk", per="chunk", frame="{chunk}"),
    benchmark:
        layout.benchmark("run_chunk", per="chunk", frame="{chunk}")
    wildcard_constraints:
        series=FIGURE_CHUNK_SERIES_RE,
