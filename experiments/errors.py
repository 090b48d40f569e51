"""The error type shared by every layer of ``experiments`` (the CLI prints it on one line)."""


class ExperimentError(Exception):
    """A user-facing error in an experiment's set-up (the CLI prints it on one line, exit 2)."""
