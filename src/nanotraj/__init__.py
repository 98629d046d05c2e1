"""nanotraj: structural analysis of time series of 3D atomic maps of nanocrystals."""

__version__ = "0.7.0"
