"""Read inertial sensor (IMU) recordings into SI units.

Three formats are read; :func:`read_imu` recognises them by content.

``generic`` (this project's CSV)
    Comma-separated, one header line, optional ``# key: value`` comment lines
    before it (``sampling_rate_hz``, ``placement``, ``device``)::

        # placement: sacrum
        # sampling_rate_hz: 100
        t_s,acc_x_g,acc_y_g,acc_z_g,gyr_x_dps,gyr_y_dps,gyr_z_dps
        0.00,0.98,0.02,-0.15,0.4,-0.1,0.0

    Time: ``t_s`` (seconds) or ``t_ms`` (milliseconds), from the sensor's own
    clock. Without a time column the sampling rate must be declared and the
    samples are taken as evenly spaced (noted in ``ImuRecording.notes``).
    Every sensor column is ``{acc|gyr|mag}_{x|y|z}_{unit}`` with units
    ``acc``: ``g`` or ``mps2``; ``gyr``: ``dps`` or ``rads``; ``mag`` (optional):
    ``uT``, ``gauss`` or ``au`` (arbitrary units). Other columns are ignored.

``xsens`` (MT Manager text export)
    ``//`` comment lines including ``// Sample rate: 120.0Hz``, then a
    tab-separated header ``Counter Acc_X ... Gyr_Z Mag_X ...``. Xsens exports
    calibrated data in m/s^2 and rad/s, and the magnetic field normalised to
    the local earth field (arbitrary units). Time is the device's sample
    counter (16-bit, unwrapped) divided by the declared rate.

``mobilised`` (Mobilise-D / mobgap example CSV)
    Header ``samples,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z``: a sample counter,
    acceleration in g and angular rate in deg/s, no declared rate (the
    dataset's is 100 Hz; pass ``sampling_rate_hz``).

Every malformed file raises :class:`~kinematics.fusion.errors.SensorFormatError`
naming the file, and where it can the column and the line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np

from kinematics.fusion._table import Table, check_clock, read_table
from kinematics.fusion.errors import SensorFormatError
from kinematics.series import Side

__all__ = [
    "PLACEMENTS",
    "STANDARD_GRAVITY_MPS2",
    "ImuFormat",
    "ImuRecording",
    "Placement",
    "read_imu",
]

STANDARD_GRAVITY_MPS2 = 9.80665  # the conventional value (3rd CGPM, 1901); "g" in a file means this
Placement = Literal["sacrum", "lower_back", "pelvis", "thigh", "shank", "trunk"]
PLACEMENTS: tuple[str, ...] = ("sacrum", "lower_back", "pelvis", "thigh", "shank", "trunk")
ImuFormat = Literal["generic", "xsens", "mobilised"]

_ACC_UNITS = {"g": STANDARD_GRAVITY_MPS2, "mps2": 1.0}
_GYR_UNITS = {"dps": math.pi / 180.0, "rads": 1.0}
_MAG_UNITS = {"ut": "uT", "gauss": "gauss", "au": "au"}
_UNITS_OF: dict[str, Mapping[str, object]] = {"acc": _ACC_UNITS, "gyr": _GYR_UNITS, "mag": _MAG_UNITS}
_SENSOR_COLUMN = re.compile(r"^(acc|gyr|mag)_([xyz])_([A-Za-z0-9]+)$")


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ImuRecording:
    """One inertial sensor, in SI units, in the sensor's own axes.

    Parameters
    ----------
    t_s
        ``(n,)`` seconds on the sensor's clock, strictly increasing.
    acc_mps2
        ``(n, 3)`` specific force in m/s^2 (reads +9.81 on the axis pointing
        up when still), sensor axes x, y, z.
    gyr_rads
        ``(n, 3)`` angular rate in rad/s, right-handed about the sensor axes.
    mag
        ``(n, 3)`` magnetic field in ``mag_unit``, or None.
    mag_unit
        ``"uT"``, ``"gauss"``, ``"au"`` or None.
    placement
        Where the sensor was worn, as declared by the user.
    side
        For a limb placement, which limb, when known.
    sampling_rate_hz
        Measured from ``t_s`` (median interval).
    source
        File name the data came from.
    format
        The format it was read as.
    notes
        Anything a reader of the results should know (e.g. timestamps
        derived from a declared rate).
    """

    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyr_rads: np.ndarray
    placement: Placement
    sampling_rate_hz: float
    source: str
    format: ImuFormat
    mag: np.ndarray | None = None
    mag_unit: str | None = None
    side: Side | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = self.t_s.shape[0]
        for name in ("acc_mps2", "gyr_rads") + (("mag",) if self.mag is not None else ()):
            arr = getattr(self, name)
            if arr.shape != (n, 3):
                raise SensorFormatError(self.source, f"{name} must be ({n}, 3), got {arr.shape}")
            object.__setattr__(self, name, _frozen(arr))
        object.__setattr__(self, "t_s", _frozen(self.t_s))
        if self.placement not in PLACEMENTS:
            raise SensorFormatError(self.source, f"placement {self.placement!r} is not one of {', '.join(PLACEMENTS)}")

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0])

    def shifted(self, offset_s: float) -> ImuRecording:
        """The same recording with ``offset_s`` added to every timestamp (e.g. onto the video clock)."""
        return ImuRecording(
            t_s=self.t_s + offset_s,
            acc_mps2=self.acc_mps2,
            gyr_rads=self.gyr_rads,
            placement=self.placement,
            sampling_rate_hz=self.sampling_rate_hz,
            source=self.source,
            format=self.format,
            mag=self.mag,
            mag_unit=self.mag_unit,
            side=self.side,
            notes=self.notes,
        )


def _check_placement(path: Path, declared: str | None, given: str | None) -> Placement:
    if given is None and declared is None:
        raise SensorFormatError(
            path,
            f"no placement: declare it in the file ('# placement: sacrum') or pass placement= "
            f"(one of {', '.join(PLACEMENTS)})",
        )
    if given is not None and declared is not None and given != declared:
        raise SensorFormatError(path, f"the file declares placement {declared!r} but {given!r} was passed")
    placement = given or declared
    if placement not in PLACEMENTS:
        raise SensorFormatError(path, f"placement {placement!r} is not one of {', '.join(PLACEMENTS)}")
    return cast(Placement, placement)


def _declared_rate(path: Path, meta_value: str | None, given: float | None) -> float | None:
    declared = None
    if meta_value is not None:
        m = re.match(r"^\s*([0-9.]+)\s*(hz)?\s*$", meta_value, re.IGNORECASE)
        if not m:
            raise SensorFormatError(path, f"sampling rate {meta_value!r} is not a number of Hz")
        declared = float(m.group(1))
    if given is not None and declared is not None and abs(given - declared) > 1e-6 * declared:
        raise SensorFormatError(path, f"the file declares {declared:g} Hz but sampling_rate_hz={given:g} was passed")
    return given if given is not None else declared


def _sensor_columns(table: Table, path: Path) -> dict[str, tuple[list[str], str]]:
    """``{"acc": ([x, y, z column names], unit), ...}`` from a generic header."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for name in table.columns:
        m = _SENSOR_COLUMN.match(name)
        if not m:
            if name.lower().startswith(("acc", "gyr", "mag")):
                raise SensorFormatError(
                    path,
                    "sensor columns are named {acc|gyr|mag}_{x|y|z}_{unit}, e.g. acc_x_g, gyr_z_dps",
                    column=name,
                    line=table.header_line,
                )
            continue
        kind, axis, unit = m.group(1), m.group(2), m.group(3)
        accepted: Mapping[str, object] = _UNITS_OF[kind]
        if unit.lower() not in accepted:
            raise SensorFormatError(
                path,
                f"unknown unit {unit!r} for {kind}; accepted: {', '.join(accepted)}",
                column=name,
                line=table.header_line,
            )
        found.setdefault(kind, {})[axis] = (name, unit.lower())
    out = {}
    for kind in ("acc", "gyr", "mag"):
        axes = found.get(kind, {})
        if kind == "mag" and not axes:
            continue
        missing = [f"{kind}_{a}_<unit>" for a in "xyz" if a not in axes]
        if missing:
            raise SensorFormatError(
                path,
                f"missing column(s) {', '.join(missing)}; the header has {', '.join(table.columns)}",
                column=missing[0],
                line=table.header_line,
            )
        units = {axes[a][1] for a in "xyz"}
        if len(units) > 1:
            raise SensorFormatError(
                path,
                f"{kind} axes use different units ({', '.join(sorted(units))})",
                column=axes["x"][0],
                line=table.header_line,
            )
        out[kind] = ([axes[a][0] for a in "xyz"], units.pop())
    return out


def _read_generic(
    path: Path, table: Table, placement: str | None, side: Side | None, sampling_rate_hz: float | None
) -> ImuRecording:
    placement = _check_placement(path, table.meta.get("placement"), placement)
    declared = _declared_rate(path, table.meta.get("sampling_rate_hz"), sampling_rate_hz)
    sensors = _sensor_columns(table, path)
    names = [c for cols, _ in sensors.values() for c in cols]
    notes: list[str] = []
    time_col = next((c for c in ("t_s", "t_ms") if c in table.columns), None)
    if time_col is None:
        bad = [c for c in table.columns if c.lower().startswith(("t_", "time"))]
        if bad:
            raise SensorFormatError(
                path,
                "the time column must be t_s (seconds) or t_ms (milliseconds)",
                column=bad[0],
                line=table.header_line,
            )
        if declared is None:
            raise SensorFormatError(
                path,
                "no time column (t_s or t_ms) and no declared sampling rate "
                "('# sampling_rate_hz: 100' or sampling_rate_hz=)",
                line=table.header_line,
            )
        t_s = np.arange(table.values.shape[0]) / declared
        notes.append(f"no timestamps in the file: samples taken as evenly spaced at the declared {declared:g} Hz")
    else:
        table.require_finite([time_col])
        t_s = table.column(time_col) * (1e-3 if time_col == "t_ms" else 1.0)
    table.require_finite(names)
    rate = check_clock(str(path), t_s, table.lines, column=time_col or "(row index)", declared_rate_hz=declared)
    acc_cols, acc_unit = sensors["acc"]
    gyr_cols, gyr_unit = sensors["gyr"]
    mag = None
    mag_unit = None
    if "mag" in sensors:
        mag_cols, mag_unit = sensors["mag"]
        mag = np.column_stack([table.column(c) for c in mag_cols])
        mag_unit = _MAG_UNITS[mag_unit]
    return ImuRecording(
        t_s=t_s - t_s[0] if time_col is None else t_s,
        acc_mps2=np.column_stack([table.column(c) for c in acc_cols]) * _ACC_UNITS[acc_unit],
        gyr_rads=np.column_stack([table.column(c) for c in gyr_cols]) * _GYR_UNITS[gyr_unit],
        mag=mag,
        mag_unit=mag_unit,
        placement=placement,
        side=side,
        sampling_rate_hz=rate,
        source=path.name,
        format="generic",
        notes=tuple(notes),
    )


_XSENS = ["Counter", "Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z"]


def _read_xsens(
    path: Path, table: Table, placement: str | None, side: Side | None, sampling_rate_hz: float | None
) -> ImuRecording:
    placement = _check_placement(path, None, placement)
    declared = _declared_rate(path, table.meta.get("sample rate"), sampling_rate_hz)
    if declared is None:
        raise SensorFormatError(path, "no '// Sample rate: ...Hz' line and no sampling_rate_hz given")
    table.require(_XSENS, what="Xsens export")
    has_mag = all(c in table.columns for c in ("Mag_X", "Mag_Y", "Mag_Z"))
    table.require_finite(_XSENS + (["Mag_X", "Mag_Y", "Mag_Z"] if has_mag else []))
    counter = table.column("Counter")
    if np.any(counter != np.round(counter)) or np.any(counter < 0) or np.any(counter > 65535):
        i = int(np.flatnonzero((counter != np.round(counter)) | (counter < 0) | (counter > 65535))[0])
        raise SensorFormatError(
            path, f"sample counter {counter[i]:g} is not a 16-bit count", column="Counter", line=int(table.lines[i])
        )
    step = np.diff(counter)
    step = np.where(step < -32768, step + 65536, step)  # the 16-bit counter wraps at 65535
    ticks = np.concatenate([[0.0], np.cumsum(step)])
    t_s = ticks / declared
    rate = check_clock(str(path), t_s, table.lines, column="Counter", declared_rate_hz=declared)
    mag = np.column_stack([table.column(c) for c in ("Mag_X", "Mag_Y", "Mag_Z")]) if has_mag else None
    return ImuRecording(
        t_s=t_s,
        acc_mps2=np.column_stack([table.column(c) for c in ("Acc_X", "Acc_Y", "Acc_Z")]),
        gyr_rads=np.column_stack([table.column(c) for c in ("Gyr_X", "Gyr_Y", "Gyr_Z")]),
        mag=mag,
        mag_unit="au" if has_mag else None,
        placement=placement,
        side=side,
        sampling_rate_hz=rate,
        source=path.name,
        format="xsens",
        notes=(f"time from the device's sample counter at the declared {declared:g} Hz",),
    )


_MOBILISED = ["samples", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]


def _read_mobilised(
    path: Path, table: Table, placement: str | None, side: Side | None, sampling_rate_hz: float | None
) -> ImuRecording:
    placement = _check_placement(path, None, placement or "lower_back")
    if sampling_rate_hz is None:
        raise SensorFormatError(
            path,
            "the Mobilise-D CSV carries no sampling rate; pass sampling_rate_hz "
            "(the Mobilise-D example recordings are 100 Hz)",
        )
    table.require(_MOBILISED, what="Mobilise-D CSV")
    table.require_finite(_MOBILISED)
    t_s = (table.column("samples") - table.column("samples")[0]) / sampling_rate_hz
    rate = check_clock(str(path), t_s, table.lines, column="samples", declared_rate_hz=sampling_rate_hz)
    return ImuRecording(
        t_s=t_s,
        acc_mps2=np.column_stack([table.column(c) for c in ("acc_x", "acc_y", "acc_z")]) * STANDARD_GRAVITY_MPS2,
        gyr_rads=np.column_stack([table.column(c) for c in ("gyr_x", "gyr_y", "gyr_z")]) * (math.pi / 180.0),
        placement=placement,
        side=side,
        sampling_rate_hz=rate,
        source=path.name,
        format="mobilised",
        notes=(f"time from the sample counter at the given {sampling_rate_hz:g} Hz",),
    )


_READERS = {"generic": _read_generic, "xsens": _read_xsens, "mobilised": _read_mobilised}


def _sniff(table: Table) -> ImuFormat:
    if "Counter" in table.columns and "Acc_X" in table.columns:
        return "xsens"
    if table.columns[:1] == ("samples",) and "acc_x" in table.columns:
        return "mobilised"
    return "generic"


def read_imu(
    path: str | Path,
    *,
    placement: Placement | None = None,
    side: Side | None = None,
    sampling_rate_hz: float | None = None,
    format: ImuFormat | Literal["auto"] = "auto",
) -> ImuRecording:
    """Read an IMU file (generic CSV, Xsens text export or Mobilise-D CSV).

    Parameters
    ----------
    path
        The file.
    placement
        Where the sensor was worn. Required unless the file declares it
        (generic: ``# placement: ...``); the Mobilise-D format defaults to
        ``"lower_back"``. When both are given they must agree.
    side
        For a thigh or shank sensor, which leg.
    sampling_rate_hz
        Declared sampling rate. Checked against the timestamps (1 %) when the
        file has them; required when it has none.
    format
        ``"auto"`` recognises the format from the header.

    Returns
    -------
    ImuRecording
        Acceleration in m/s^2 and angular rate in rad/s, in sensor axes.

    Raises
    ------
    SensorFormatError
        Missing columns, unknown units, non-numeric or empty cells,
        non-increasing time, a declared rate the timestamps contradict, or a
        clock gap; the message names the file, the column and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise SensorFormatError(path, "no such file")
    table = read_table(path)
    fmt = _sniff(table) if format == "auto" else format
    if fmt not in _READERS:
        raise SensorFormatError(path, f"unknown IMU format {fmt!r}; accepted: {', '.join(_READERS)}")
    return _READERS[fmt](path, table, placement, side, sampling_rate_hz)
