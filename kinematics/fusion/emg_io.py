"""Read surface-EMG recordings, with channel labels that say what was recorded.

Formats (:func:`read_emg` recognises them by content):

``generic`` (this project's CSV)
    Optional ``# key: value`` comments (``sampling_rate_hz``, ``electrode``:
    ``surface`` or ``fine_wire``), then a header ``t_s`` (or ``t_ms``) and one
    column per channel named ``{site}_{side}_{unit}`` or ``{site}_{unit}``,
    e.g. ``lower_abdominal_left_mV``, ``gluteus_medius_right_uV``. Units:
    ``V``, ``mV``, ``uV``. Sites: the keys of :data:`SITES` (aliases accepted).

``uci`` ("EMG dataset in Lower Limb", Sanchez & Sotelo, UCI, CC BY 4.0)
    Header lines ``Channel N: 'NAME', COUNT values, engineering units: mV,
    ...`` then tab-separated rows: four EMG channels (rectus femoris,
    biceps femoris, vastus medialis, semitendinosus; Spanish or English
    names) and the knee goniometer in deg (kept as an auxiliary series).
    Rows after the EMG's ``COUNT`` that carry only the goniometer are
    dropped. No timestamps: the rate comes from the header when it states
    one ("... to 1000 samples per second") or must be passed.

Labels. Surface electrodes over the lower abdomen pick up transversus
abdominis *and* internal oblique (and more); TrA itself needs fine-wire
electrodes (Hodges & Richardson 1997; shared/notes/clinical.md). A surface
channel declared as transversus abdominis is therefore relabelled
``lower_abdominal`` -> "lower-abdominal (TrA/IO) surface EMG", with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from kinematics.fusion._table import check_clock, read_table
from kinematics.fusion.errors import SensorFormatError
from kinematics.series import Series, Side

__all__ = ["SITES", "EmgChannel", "EmgRecording", "read_emg"]

Electrode = Literal["surface", "fine_wire"]

#: site key -> what a surface electrode there records (label used in every output)
SITES: dict[str, str] = {
    "lower_abdominal": "lower-abdominal (TrA/IO) surface EMG",
    "transversus_abdominis": "transversus abdominis (fine-wire EMG)",
    "rectus_abdominis": "rectus abdominis surface EMG",
    "external_oblique": "external oblique surface EMG",
    "lumbar_multifidus": "lumbosacral paraspinal (multifidus region) surface EMG",
    "erector_spinae": "lumbar erector spinae surface EMG",
    "gluteus_maximus": "gluteus maximus surface EMG",
    "gluteus_medius": "gluteus medius surface EMG",
    "tensor_fasciae_latae": "tensor fasciae latae surface EMG",
    "adductor_longus": "adductor longus surface EMG",
    "rectus_femoris": "rectus femoris surface EMG",
    "vastus_medialis": "vastus medialis surface EMG",
    "vastus_lateralis": "vastus lateralis surface EMG",
    "biceps_femoris": "biceps femoris surface EMG",
    "semitendinosus": "semitendinosus surface EMG",
}
_ALIASES = {
    "tra": "transversus_abdominis",
    "transverse_abdominis": "transversus_abdominis",
    "tra_io": "lower_abdominal",
    "multifidus": "lumbar_multifidus",
    "lm": "lumbar_multifidus",
    "es": "erector_spinae",
    "gmax": "gluteus_maximus",
    "gmed": "gluteus_medius",
    "rf": "rectus_femoris",
    "vm": "vastus_medialis",
    "vl": "vastus_lateralis",
    "bf": "biceps_femoris",
    "st": "semitendinosus",
    "ra": "rectus_abdominis",
    "eo": "external_oblique",
    "tfl": "tensor_fasciae_latae",
    # UCI dataset (Spanish)
    "recto_femoral": "rectus_femoris",
    "biceps_femoral": "biceps_femoris",
    "vasto_medial": "vastus_medialis",
    "emg_semitendinoso": "semitendinosus",
    "semitendinoso": "semitendinosus",
}
_UNITS = {"v": 1000.0, "mv": 1.0, "uv": 1e-3}
_SIDES = {"left": "left", "right": "right", "l": "left", "r": "right"}


@dataclass(frozen=True)
class EmgChannel:
    """One EMG channel: where the electrodes were and what kind."""

    name: str  # column name in the file
    site: str  # key of SITES
    side: Side | None = None
    electrode: Electrode = "surface"

    @property
    def label(self) -> str:
        side = f"{self.side} " if self.side else ""
        return f"{side}{SITES[self.site]}"


def _site(raw: str, electrode: Electrode, notes: list[str], column: str, path: Path, line: int) -> str:
    key = raw.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in SITES:
        raise SensorFormatError(
            path, f"unknown muscle site {raw!r}; accepted: {', '.join(SITES)}", column=column, line=line
        )
    if key == "transversus_abdominis" and electrode == "surface":
        notes.append(
            f"{column}: surface electrodes cannot isolate transversus abdominis; labelled "
            f"'{SITES['lower_abdominal']}' (declare '# electrode: fine_wire' for intramuscular recordings)"
        )
        return "lower_abdominal"
    return key


@dataclass(frozen=True, eq=False)
class EmgRecording:
    """EMG channels in mV, time on axis 0.

    Parameters
    ----------
    t_s
        ``(n,)`` seconds on the EMG system's clock.
    emg_mv
        ``(n, k)`` raw EMG in mV, one column per channel.
    channels
        ``(k,)`` channel descriptions, in column order.
    sampling_rate_hz
        Measured from ``t_s``.
    aux
        Other signals recorded with the EMG (e.g. a goniometer), by name.
    """

    t_s: np.ndarray
    emg_mv: np.ndarray
    channels: tuple[EmgChannel, ...]
    sampling_rate_hz: float
    source: str
    format: str
    aux: dict[str, Series] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n, k = self.t_s.shape[0], len(self.channels)
        if self.emg_mv.shape != (n, k):
            raise SensorFormatError(self.source, f"emg_mv must be ({n}, {k}), got {self.emg_mv.shape}")
        for name in ("t_s", "emg_mv"):
            a = np.array(getattr(self, name), dtype=float)
            a.flags.writeable = False
            object.__setattr__(self, name, a)


def _read_generic(path: Path, sampling_rate_hz: float | None) -> EmgRecording:
    table = read_table(path)
    electrode = table.meta.get("electrode", "surface").lower().replace("-", "_")
    if electrode not in ("surface", "fine_wire"):
        raise SensorFormatError(path, f"electrode {electrode!r}; accepted: surface, fine_wire")
    declared = sampling_rate_hz
    if "sampling_rate_hz" in table.meta:
        try:
            declared_meta = float(table.meta["sampling_rate_hz"].lower().removesuffix("hz"))
        except ValueError:
            raise SensorFormatError(
                path,
                f"sampling_rate_hz {table.meta['sampling_rate_hz']!r} is not a number",
            ) from None
        if declared is not None and abs(declared - declared_meta) > 1e-6 * declared_meta:
            raise SensorFormatError(path, f"the file declares {declared_meta:g} Hz but {declared:g} was passed")
        declared = declared_meta
    notes: list[str] = []
    channels, columns, scales = [], [], []
    for name in table.columns:
        if name in ("t_s", "t_ms"):
            continue
        parts = name.split("_")
        if len(parts) < 2 or parts[-1].lower() not in _UNITS:
            raise SensorFormatError(
                path,
                "EMG columns are named {site}_{side}_{unit} with unit V, mV or uV, e.g. lower_abdominal_left_mV",
                column=name,
                line=table.header_line,
            )
        side = _SIDES.get(parts[-2].lower()) if len(parts) > 2 else None
        site_parts = parts[:-2] if side else parts[:-1]
        site = _site("_".join(site_parts), electrode, notes, name, path, table.header_line)  # type: ignore[arg-type]
        channels.append(EmgChannel(name=name, site=site, side=side, electrode=electrode))  # type: ignore[arg-type]
        columns.append(name)
        scales.append(_UNITS[parts[-1].lower()])
    if not channels:
        raise SensorFormatError(
            path, f"no EMG columns; the header has {', '.join(table.columns)}", line=table.header_line
        )
    table.require_finite(columns)
    time_col = "t_s" if "t_s" in table.columns else "t_ms" if "t_ms" in table.columns else None
    if time_col is None:
        if declared is None:
            raise SensorFormatError(path, "no time column (t_s or t_ms) and no sampling rate", line=table.header_line)
        t_s = np.arange(table.values.shape[0]) / declared
        notes.append(f"no timestamps: samples taken as evenly spaced at {declared:g} Hz")
    else:
        table.require_finite([time_col])
        t_s = table.column(time_col) * (1e-3 if time_col == "t_ms" else 1.0)
    rate = check_clock(str(path), t_s, table.lines, column=time_col or "(row index)", declared_rate_hz=declared)
    emg = np.column_stack([table.column(c) * s for c, s in zip(columns, scales, strict=True)])
    return EmgRecording(
        t_s=t_s,
        emg_mv=emg,
        channels=tuple(channels),
        sampling_rate_hz=rate,
        source=path.name,
        format="generic",
        notes=tuple(notes),
    )


_UCI_CHANNEL = re.compile(
    r"^Channel\s+(\d+):\s*'([^']*)',\s*(\d+)\s+values,\s*engineering units:\s*([^,]+)",
    re.IGNORECASE,
)
_UCI_RATE = re.compile(r"to\s+([0-9.]+)\s+samples per second", re.IGNORECASE)
_UCI_AUX = {"fx": "knee_flexion", "flexo_extension": "knee_flexion"}


def _read_uci(path: Path, sampling_rate_hz: float | None) -> EmgRecording:
    text = path.read_text(encoding="latin-1")
    lines = text.splitlines()
    header: list[tuple[str, int, str, int]] = []  # name, count, unit, line
    rate = None
    first_data = None
    for i, line in enumerate(lines, start=1):
        if line.startswith("File Name") or not line.strip():
            continue
        m = _UCI_CHANNEL.match(line.strip())
        if m:
            header.append((m.group(2), int(m.group(3)), m.group(4).strip(), i))
            r = _UCI_RATE.search(line)
            rate = float(r.group(1)) if r else rate
            continue
        first_data = i
        break
    if not header or first_data is None:
        raise SensorFormatError(path, "no 'Channel N: ...' header lines or no data (UCI lower-limb EMG format)")
    if sampling_rate_hz is not None and rate is not None and abs(sampling_rate_hz - rate) > 1e-6 * rate:
        raise SensorFormatError(path, f"the header states {rate:g} samples/s but sampling_rate_hz={sampling_rate_hz:g}")
    rate = sampling_rate_hz if sampling_rate_hz is not None else rate
    if rate is None:
        raise SensorFormatError(
            path, "the header states no sampling rate; pass sampling_rate_hz (the dataset's description gives 1000 Hz)"
        )
    notes: list[str] = []
    channels: list[EmgChannel] = []
    emg_idx, aux_idx = [], []
    for j, (name, count, unit, lineno) in enumerate(header):
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        if key in _UCI_AUX:
            aux_idx.append((j, _UCI_AUX[key], unit, count))
            continue
        if unit.lower() != "mv":
            raise SensorFormatError(path, f"unit {unit!r}; expected mV", column=name, line=lineno)
        channels.append(EmgChannel(name=name, site=_site(name, "surface", notes, name, path, lineno)))
        emg_idx.append((j, count))
    counts = {c for _, c in emg_idx}
    if len(counts) != 1:
        raise SensorFormatError(path, f"EMG channels declare different lengths {sorted(counts)}")
    count = counts.pop()
    rows: list[list[float]] = []
    row_lines: list[int] = []
    width = len(header)
    for i in range(first_data - 1, len(lines)):
        raw = lines[i]
        if not raw.strip():
            continue
        cells = raw.split("\t")
        if len(cells) != width:
            raise SensorFormatError(path, f"{len(cells)} fields, expected {width}", line=i + 1)
        if len(rows) >= count:
            if any(cells[j].strip() for j, _ in emg_idx):
                raise SensorFormatError(path, f"EMG values after the declared {count} samples", line=i + 1)
            continue
        try:
            rows.append([float(c) if c.strip() else np.nan for c in cells])
        except ValueError:
            bad = next(j for j, c in enumerate(cells) if c.strip() and not _is_float(c))
            raise SensorFormatError(
                path, f"{cells[bad].strip()!r} is not a number", column=header[bad][0], line=i + 1
            ) from None
        row_lines.append(i + 1)
        for j, _ in emg_idx:
            if np.isnan(rows[-1][j]):
                raise SensorFormatError(path, "empty EMG value", column=header[j][0], line=i + 1)
    if len(rows) != count:
        raise SensorFormatError(path, f"{len(rows)} EMG samples, the header declares {count}")
    data = np.asarray(rows)
    t_s = np.arange(count) / rate
    notes.append(f"no timestamps in the file: samples taken as evenly spaced at {rate:g} Hz")
    notes.append("the file does not state which leg was recorded")
    aux = {}
    for j, name, unit, _ in aux_idx:
        v = data[:, j]
        aux[f"{name}_{unit}"] = Series(t_s, v, "deg" if unit == "deg" else "1", np.isfinite(v).astype(float))
    return EmgRecording(
        t_s=t_s,
        emg_mv=data[:, [j for j, _ in emg_idx]],
        channels=tuple(channels),
        sampling_rate_hz=rate,
        source=path.name,
        format="uci",
        aux=aux,
        notes=tuple(notes),
    )


def _is_float(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_emg(path: str | Path, *, sampling_rate_hz: float | None = None) -> EmgRecording:
    """Read an EMG file (generic CSV or the UCI lower-limb text format).

    Raises
    ------
    SensorFormatError
        Naming the file, the column and the line of the first fault.
    """
    path = Path(path)
    if not path.is_file():
        raise SensorFormatError(path, "no such file")
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"File Name"):
        return _read_uci(path, sampling_rate_hz)
    return _read_generic(path, sampling_rate_hz)
