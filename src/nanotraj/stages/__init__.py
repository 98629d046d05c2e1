"""The file-level stages: what the workflow's rules call, one module per group of rules.

* :mod:`nanotraj.stages.jobs` -- the plumbing every stage shares: the streamed job log, the
  status a stage passes on (``ok`` or ``rejected: <reason>``), saving a stage's arrays;
* :mod:`nanotraj.stages.frame` -- the per-frame stages (parse, g(r), bonds, BOO, coordination,
  neighbour distance, local structure, tables, PDB/mmCIF files) and :func:`~nanotraj.stages.
  frame.run_frame`, every one of them in one call;
* :mod:`nanotraj.stages.tracking` -- frame-to-frame tracking files;
* :mod:`nanotraj.stages.series` -- the aggregated summaries and the rejected frames;
* :mod:`nanotraj.stages.figures` -- the PNG figures and the 3D viewer page.

The science modules of :mod:`nanotraj` never read or write the workflow's files; these do.
"""
