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

#: Last column of ``atoms.csv``: the element each atom is written with in the frame's PDB/mmCIF
#: files (the frame's configured element; each atom's own for a file with several elements,
#: see :func:`nanotraj.elements.atom_elements`).
ELEMENT_COLUMNS = ("element",)

#: Columns of ``bonds.csv`` (0-based atom indices into atoms.csv).
BOND_COLUMNS = ("i", "j", "distance", "s6")

#: Quantities written as ``pdb/{quantity}.pdb`` with the value in the B-factor column.
PDB_QUANTITIES = ("Q6", "Q4", "cn", "C6", "crystalline", "nn_distance", "structure_cna",
                  "structure_ptm")

#: Summary columns (per frame, per series, whole run), in order.
SUMMARY_COLUMNS = (
    "series", "frame", "time", "n_atoms", "diameter", "cutoff", "n_bonds", "cn_mean",
    "cn_lattice_mean", "q4_mean", "q6_mean", "Q4_mean", "Q6_mean", "w6_mean", "W6_mean",
    "C6_mean", "s6_mean", "n_disordered", "fraction_disordered", "nn_distance_mean", "status",
)  # fmt: skip
