"""Exception family of specfit.

Every error a user can provoke with bad input is a :class:`SpecfitError`. Reading errors
(:class:`ReadError` and subclasses) always name the file and, where known, the line or byte
offset at which parsing failed, so that one printed line tells the user what is wrong.
"""

from __future__ import annotations

import os

__all__ = [
    "ConventionError",
    "CorruptFileError",
    "FitError",
    "ModelError",
    "ReadError",
    "SpecfitError",
    "UnknownFormatError",
]


class SpecfitError(Exception):
    """Base class of every error specfit raises on purpose."""


class ReadError(SpecfitError):
    """A file could not be read.

    Parameters
    ----------
    path
        The file being read.
    message
        What is wrong, in words a user understands.
    line
        1-based line number where parsing failed (text formats).
    offset
        Byte offset where parsing failed (binary formats).
    """

    def __init__(
        self,
        path: str | os.PathLike | None,
        message: str,
        *,
        line: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.message = message
        self.line = line
        self.offset = offset
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f", line {self.line}"
        elif self.offset is not None:
            where = f", byte {self.offset}"
        name = self.path if self.path is not None else "<data>"
        return f"{name}{where}: {self.message}"

    def __reduce__(self):  # keep picklable (dask workers ship exceptions)
        return (_rebuild_read_error, (type(self), self.path, self.message, self.line, self.offset))


def _rebuild_read_error(cls, path, message, line, offset):
    return cls(path, message, line=line, offset=offset)


class UnknownFormatError(ReadError):
    """No registered reader recognises the file."""


class CorruptFileError(ReadError):
    """The file looks like a known format but is damaged or truncated."""


class ConventionError(SpecfitError):
    """An xarray object does not follow specfit's data conventions."""


class ModelError(SpecfitError):
    """A fit model (Python or model file) is inconsistent or incomplete."""


class FitError(SpecfitError):
    """A fit could not be carried out."""
