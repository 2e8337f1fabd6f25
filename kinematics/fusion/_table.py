"""Delimited text files with line numbers kept, for error messages that point at the fault.

Private: the IMU and EMG readers build on it. Only the standard library's
``csv`` and numpy are used.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinematics.fusion.errors import SensorFormatError

__all__ = ["MAX_GAP_INTERVALS", "Table", "check_clock", "read_table"]

#: A sample interval longer than this many median intervals is a clock gap: samples were lost there.
MAX_GAP_INTERVALS = 1.5


@dataclass(frozen=True, eq=False)
class Table:
    """A numeric table read from text.

    ``values`` is ``(rows, columns)`` float, NaN where a cell was empty;
    ``lines`` is ``(rows,)`` the 1-based line of each row in the file;
    ``meta`` holds ``key: value`` pairs found in comment lines, keys lowercased.
    """

    path: str
    columns: tuple[str, ...]
    header_line: int
    values: np.ndarray
    lines: np.ndarray
    meta: dict[str, str]

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name)]

    def require(self, names: list[str], *, what: str) -> None:
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise SensorFormatError(
                self.path,
                f"{what}: missing column(s) {', '.join(missing)}; the header has {', '.join(self.columns)}",
                column=missing[0],
                line=self.header_line,
            )

    def require_finite(self, names: list[str]) -> None:
        """Raise on the first empty or NaN cell among ``names``, naming its line and column."""
        for name in names:
            bad = np.flatnonzero(~np.isfinite(self.column(name)))
            if bad.size:
                raise SensorFormatError(
                    self.path,
                    f"empty or non-finite value ({bad.size} such row(s) in this column)",
                    column=name,
                    line=int(self.lines[bad[0]]),
                )


def _number(cell: str) -> float:
    cell = cell.strip()
    return math.nan if cell == "" else float(cell)


def read_table(
    path: str | Path,
    *,
    comment_prefixes: tuple[str, ...] = ("#", "//"),
    delimiter: str | None = None,
    header: bool = True,
    skip_prefixes: tuple[str, ...] = (),
) -> Table:
    """Read a delimited numeric table with an optional header line.

    Comment lines (``comment_prefixes``) may carry ``key: value`` metadata.
    Lines starting with one of ``skip_prefixes`` before the data are ignored
    too. The delimiter is sniffed from the header (comma, tab or semicolon)
    unless given. A trailing delimiter on every line (as Xsens writes) is
    tolerated.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SensorFormatError(path, f"not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SensorFormatError(path, f"cannot be read: {exc.strerror or exc}") from None
    meta: dict[str, str] = {}
    columns: tuple[str, ...] | None = None
    header_line = 0
    rows: list[list[float]] = []
    lines: list[int] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith(comment_prefixes):
            body = stripped.lstrip("#/ ").strip()
            if ":" in body:
                key, value = body.split(":", 1)
                meta[key.strip().lower()] = value.strip()
            continue
        if columns is None and not rows and skip_prefixes and stripped.startswith(skip_prefixes):
            continue
        if delimiter is None:
            delimiter = max((",", "\t", ";"), key=raw.count) if any(d in raw for d in ",\t;") else ","
        cells = next(csv.reader([raw], delimiter=delimiter))
        if columns is None and header:
            while cells and cells[-1].strip() == "":
                cells.pop()
            columns = tuple(c.strip() for c in cells)
            header_line = lineno
            if len(set(columns)) != len(columns):
                dup = sorted({c for c in columns if columns.count(c) > 1})
                raise SensorFormatError(path, f"duplicate column name(s) {', '.join(dup)}", column=dup[0], line=lineno)
            continue
        if columns is None:
            columns = tuple(f"col{i + 1}" for i in range(len(cells)))
        if len(cells) > len(columns) and all(c.strip() == "" for c in cells[len(columns) :]):
            cells = cells[: len(columns)]
        if len(cells) != len(columns):
            raise SensorFormatError(path, f"{len(cells)} fields, expected {len(columns)} as in the header", line=lineno)
        try:
            rows.append([_number(c) for c in cells])
        except ValueError:
            for name, cell in zip(columns, cells, strict=True):
                try:
                    _number(cell)
                except ValueError:
                    raise SensorFormatError(
                        path,
                        f"{cell.strip()!r} is not a number",
                        column=name,
                        line=lineno,
                    ) from None
        lines.append(lineno)
    if columns is None:
        raise SensorFormatError(path, "no header line and no data")
    if not rows:
        raise SensorFormatError(path, "a header but no data rows", line=header_line)
    return Table(
        path=str(path),
        columns=columns,
        header_line=header_line,
        values=np.asarray(rows, dtype=float),
        lines=np.asarray(lines, dtype=int),
        meta=meta,
    )


def check_clock(
    path: str,
    t_s: np.ndarray,
    lines: np.ndarray,
    *,
    column: str,
    declared_rate_hz: float | None,
    rate_tolerance: float = 0.01,
    max_gap_intervals: float = MAX_GAP_INTERVALS,
) -> float:
    """Validate sample times and return the measured sampling rate in Hz.

    Raises on a non-increasing time, on a median rate that differs from
    ``declared_rate_hz`` by more than ``rate_tolerance`` (relative), and on a
    gap longer than ``max_gap_intervals`` median intervals (a lost stretch of
    samples: the sensor's clock and the data no longer line up).
    """
    if t_s.shape[0] < 2:
        raise SensorFormatError(path, f"{t_s.shape[0]} sample(s); at least 2 are needed", column=column)
    dt = np.diff(t_s)
    bad = np.flatnonzero(dt <= 0)
    if bad.size:
        i = int(bad[0])
        raise SensorFormatError(
            path,
            f"time does not increase: {t_s[i + 1]:.6g} after {t_s[i]:.6g} (line {int(lines[i])})",
            column=column,
            line=int(lines[i + 1]),
        )
    median = float(np.median(dt))
    rate = 1.0 / median
    if declared_rate_hz is not None:
        if not declared_rate_hz > 0:
            raise SensorFormatError(path, f"sampling rate must be > 0 Hz, got {declared_rate_hz}")
        if abs(rate - declared_rate_hz) > rate_tolerance * declared_rate_hz:
            raise SensorFormatError(
                path,
                f"the declared sampling rate is {declared_rate_hz:g} Hz but the timestamps say "
                f"{rate:.4g} Hz (median interval {median * 1000:.4g} ms)",
                column=column,
            )
    gaps = np.flatnonzero(dt > max_gap_intervals * median)
    if gaps.size:
        i = int(gaps[0])
        raise SensorFormatError(
            path,
            f"clock gap: {dt[i]:.4g} s from {t_s[i]:.6g} s (line {int(lines[i])}) to {t_s[i + 1]:.6g} s, "
            f"{dt[i] / median:.1f} sample intervals ({gaps.size} gap(s) in the file); samples were lost",
            column=column,
            line=int(lines[i + 1]),
        )
    return rate
