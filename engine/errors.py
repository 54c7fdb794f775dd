"""The error types the engine raises and the one table of exit codes (DESIGN.md)."""

from __future__ import annotations

import enum

import msgspec


class ExitCode(enum.IntEnum):
    PASSED = 0
    GATE_FAILED = 1
    USAGE = 2
    INTERNAL = 3
    INTERRUPTED = 130


class Located(msgspec.Struct, frozen=True):
    """Where a problem is: a file (repo-relative or a pack's path), a line, a key path."""

    file: str
    line: int = 0
    key: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.key:
            where += f": {self.key}"
        return where


class OpsgradeError(Exception):
    """Base of errors the CLI reports in one line, without a traceback."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str, where: Located | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    @property
    def keyed_message(self) -> str:
        """The message led by its key path, for reports that show the file and line apart."""
        key = self.where.key if self.where else ""
        return f"{key}: {self.message}" if key else self.message


class ConfigError(OpsgradeError):
    """A bad flag, pack, descriptor or repository configuration: exit 2."""

    exit_code = ExitCode.USAGE


class ParseError(OpsgradeError):
    """A repository file that cannot be read as its format; becomes an `error` result."""

    exit_code = ExitCode.USAGE
