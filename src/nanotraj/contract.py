"""The output contract: file and column names that tests and users rely on (see DESIGN.md).

Plain Python (no numpy) so that the Snakefile can import it at parse time for free.
Later features append columns; the names here never change.
"""

#: Per-atom columns of ``atoms.csv``, in order.
ATOM_COLUMNS = (
    "x", "y", "z", "cn", "cn_lattice", "q4", "q6", "Q4", "Q6", "w4", "w6", "W4", "W6", "C6",
    "crystalline", "d_center", "nn_distance",
)  # fmt: skip

#: Local-structure columns appended to ``atoms.csv``: CNA and adaptive-CNA codes (0 other, 1 fcc,
#: 2 hcp, 3 bcc, 4 ico), the BOO class (fcc/hcp/bcc/ico/disordered), surface 0/1 (alpha shape),
#: PTM code (0 other, 1 fcc, 2 hcp, 3 bcc, 4 ico, 5 sc: OVITO's numbering), its RMSD and the
#: lattice orientation as a unit quaternion (x, y, z, w; nan where PTM classified nothing).
STRUCTURE_COLUMNS = ("structure_cna", "structure_boo", "surface", "structure_acna",
                     "structure_ptm", "ptm_rmsd", "orientation_x", "orientation_y",
                     "orientation_z", "orientation_w")

#: Lattice columns appended to ``atoms.csv`` after :data:`STRUCTURE_COLUMNS`: the elastic strain
#: tensor (Green-Lagrangian, sample axes, tensor components; nan where the atom is not of the
#: frame's lattice: :mod:`nanotraj.strain`), its volumetric part tr/3 and the strain along the
#: direction from the centre, the generalised coordination number and the surface site class
#: (:data:`SITE_CLASSES`; :mod:`nanotraj.sites`).
LATTICE_COLUMNS = ("strain_xx", "strain_yy", "strain_zz", "strain_xy", "strain_xz", "strain_yz",
                   "strain_volumetric", "strain_radial", "gcn", "site")

#: Values of ``site``: ``bulk`` for atoms that are not at the surface.
SITE_CLASSES = ("bulk", "vertex", "edge", "terrace111", "terrace100", "other")

#: Summary columns of the lattice stage (per frame, after the structure columns).
LATTICE_SUMMARY_COLUMNS = (
    "lattice_constant", "lattice_constant_err", "lattice_n_atoms", "strain_reference",
    "strain_volumetric_mean_core", "strain_volumetric_mean_surface", "gcn_mean_surface",
    "fraction_vertex", "fraction_edge", "fraction_terrace111", "fraction_terrace100",
    "facet_fraction_111", "facet_fraction_100", "facet_fraction_110", "facet_fraction_other",
    "n_facets",
)  # fmt: skip

#: Columns of the per-frame ``strain_profile.csv`` (radial shells of the distance to the centre).
STRAIN_PROFILE_COLUMNS = ("r_min", "r_max", "n_atoms", "strain_radial_mean",
                          "strain_volumetric_mean")

#: Columns of the per-frame ``facets.csv`` (one row per plane of the surface).
FACET_COLUMNS = ("facet", "h", "k", "l", "area", "n_atoms", "normal_x", "normal_y", "normal_z")

#: Last column of ``atoms.csv``: the element each atom is written with in the frame's PDB/mmCIF
#: files (the frame's configured element; each atom's own for a file with several elements,
#: see :func:`nanotraj.elements.atom_elements`).
ELEMENT_COLUMNS = ("element",)

#: Columns of ``bonds.csv`` (0-based atom indices into atoms.csv).
BOND_COLUMNS = ("i", "j", "distance", "s6")

#: Quantities written as ``pdb/{quantity}.pdb`` with the value in the B-factor column.
PDB_QUANTITIES = ("Q6", "Q4", "cn", "C6", "crystalline", "nn_distance", "structure_cna",
                  "structure_ptm", "strain_volumetric", "gcn")

#: Summary columns (per frame, per series, whole run), in order.
SUMMARY_COLUMNS = (
    "series", "frame", "time", "n_atoms", "diameter", "cutoff", "n_bonds", "cn_mean",
    "cn_lattice_mean", "q4_mean", "q6_mean", "Q4_mean", "Q6_mean", "w6_mean", "W6_mean",
    "C6_mean", "s6_mean", "n_disordered", "fraction_disordered", "nn_distance_mean", "status",
)  # fmt: skip

#: Crystalline domains (issue 21; :mod:`nanotraj.domains`). Columns appended to ``atoms.csv``:
#: ``domain`` (index into the frame's domains.csv, -1 = none) and ``boundary`` (0/1). The atoms'
#: persistent ``atom_id`` is not in atoms.csv but in the series' atom_ids.csv (joined on
#: ``frame, index``): it depends on every earlier frame, atoms.csv only on its own frame.
DOMAIN_ATOM_COLUMNS = ("domain", "boundary")

#: A frame's ``domains.csv`` (one row per domain).
DOMAIN_COLUMNS = (
    "domain", "n_atoms", "structure", "orientation_x", "orientation_y", "orientation_z",
    "orientation_w", "centroid_x", "centroid_y", "centroid_z", "radius_gyration", "Q6_mean",
    "order_mean", "d_center",
)  # fmt: skip

#: A frame's ``boundaries.csv`` (one row per pair of neighbouring domains).
BOUNDARY_COLUMNS = ("domain_a", "domain_b", "misorientation", "sigma3", "n_atoms", "kind",
                    "sigma3_deviation")

#: Summary columns of the domains (frame, series and run summaries).
DOMAIN_SUMMARY_COLUMNS = ("n_domains", "largest_domain_fraction", "fraction_boundary",
                          "n_twin_boundaries", "fraction_twin_boundary")

#: The series' ``domains.csv``: one row per domain and frame, with its track.
SERIES_DOMAIN_COLUMNS = ("series", "frame", "time", "domain", "track", "event",
                         *DOMAIN_COLUMNS[1:])

#: The series' ``domain_events.csv``: one row per event between consecutive frames.
DOMAIN_EVENT_COLUMNS = ("time", "event", "track", "tracks_before", "tracks_after", "n_atoms",
                        "series", "frame", "previous_frame", "n_atoms_before", "domains_before",
                        "domains_after")

#: The series' ``atom_ids.csv``: one row per atom and frame.
ATOM_ID_COLUMNS = ("series", "frame", "time", "index", "atom_id")

#: The series' ``lifetimes.csv``: one row per atom_id.
LIFETIME_COLUMNS = ("atom_id", "first_frame", "last_frame", "first_time", "last_time",
                    "n_frames", "lifetime", "in_first_frame", "in_last_frame", "core")

#: The series' ``survival.csv``: one row per frame.
SURVIVAL_COLUMNS = ("series", "frame", "time", "n_atoms", "n_survivors", "survival", "n_core",
                    "n_new", "tracked")

#: The series' ``rmsd_matrix.csv``: one row per ordered pair of frames (of 500 frames evenly
#: spread over a longer series: :func:`nanotraj.identities.rmsd_frames`).
RMSD_COLUMNS = ("frame_a", "frame_b", "time_a", "time_b", "n_shared", "rmsd", "rmsd_raw")
