"""Error types of nanotraj.

Every error that reaches a user is one line, ``"<file>: <reason>"``, so that Snakemake logs and the
terminal show which frame is bad and why, without a traceback.
"""


class NanotrajError(Exception):
    """Base class of every error raised on purpose by nanotraj."""


class FrameError(NanotrajError, ValueError):
    """A frame (input file) that cannot be analysed: unreadable, malformed or physically invalid.

    ``str(error)`` is one line: ``"<path>: <reason>"``.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # always one line
        super().__init__(f"{self.path}: {self.reason}")


class AnalysisError(FrameError):
    """A readable frame whose analysis cannot proceed (no first minimum in g(r), coplanar...)."""


class ConfigError(NanotrajError, ValueError):
    """A bad configuration value (unknown element, invalid cutoff...)."""
