"""opsgrade engine: everything from reading a repository to the gate's exit code."""

__version__ = "0.1.0"
