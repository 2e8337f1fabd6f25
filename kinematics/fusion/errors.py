"""Errors raised by the wearable-sensor code.

Both extend the core family in :mod:`kinematics.errors` (every class is a
``ValueError``)::

    MotionscriptError
    ├── InsufficientDataError
    │   └── SynchronisationError   no trustworthy clock offset between two recordings
    └── InputError
        └── SensorFormatError      a sensor file that does not follow its format

A :class:`SensorFormatError` names the file, and where it can the column and
the line, so that the message alone lets a user find the fault.
"""

from __future__ import annotations

from kinematics.errors import InputError, InsufficientDataError

__all__ = ["SensorFormatError", "SynchronisationError"]


class SensorFormatError(InputError):
    """A sensor file (IMU or EMG) that does not follow its declared format.

    Parameters
    ----------
    path
        The file, as given.
    problem
        What is wrong and what is accepted.
    column
        The column name, when one column is at fault.
    line
        1-based line number in the file (header and comment lines counted),
        when one line is at fault.
    """

    def __init__(self, path: object, problem: str, *, column: str | None = None, line: int | None = None) -> None:
        self.path = str(path)
        self.column = column
        self.line = line
        where = [self.path]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {problem}")


class SynchronisationError(InsufficientDataError):
    """The two signals do not share enough movement to estimate a clock offset."""
