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
