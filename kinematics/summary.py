"""Summary metrics of angle series: what a clinician reads first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kinematics.series import Series, Side

__all__ = ["Metric", "summarise"]


@dataclass(frozen=True)
class Metric:
    """One number with its unit, or the reason it could not be measured.

    ``confidence`` is the mean sample confidence of the samples it used times
    the fraction of samples that were measured (``coverage``).
    """

    name: str
    value: float | None
    unit: str
    series: str | None = None
    side: Side | None = None
    measurable: bool = True
    reason: str | None = None
    confidence: float = 0.0
    coverage: float = 0.0
    n_samples: int = 0


_STATS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": np.nanmean,
    "min": np.nanmin,
    "max": np.nanmax,
    "range": lambda v: np.nanmax(v) - np.nanmin(v),
}


def summarise(
    name: str,
    series: Series | None,
    *,
    side: Side | None = None,
    reason: str | None = None,
    min_coverage: float = 0.5,
) -> list[Metric]:
    """Mean, min, max and range of a scalar series.

    Parameters
    ----------
    name
        Series name, e.g. ``"pelvic_obliquity_deg"``; metric names are
        ``"<name without unit>_<stat>"``, e.g. ``"pelvic_obliquity_range"``.
    series
        ``None`` when the series was not measurable; ``reason`` says why.
    min_coverage
        Below this fraction of measured samples the statistics are withheld:
        a range over a third of a recording is not the recording's range.
    """
    stem = name.removesuffix("_deg")
    unit = series.unit if series is not None else "deg"
    if series is None or not series.valid.any():
        why = reason or "no sample of this series could be measured"
        return [Metric(f"{stem}_{s}", None, unit, name, side, False, why) for s in _STATS]
    valid = series.valid
    coverage = float(np.mean(valid))
    confidence = float(np.mean(series.confidence[valid]) * coverage)
    if coverage < min_coverage:
        why = f"only {coverage:.0%} of samples measurable (need {min_coverage:.0%})"
        return [
            Metric(f"{stem}_{s}", None, unit, name, side, False, why, confidence, coverage, int(valid.sum()))
            for s in _STATS
        ]
    values = series.values[valid]
    return [
        Metric(
            f"{stem}_{s}",
            round(float(fn(values)), 2),
            unit,
            name,
            side,
            True,
            None,
            round(confidence, 3),
            round(coverage, 3),
            int(valid.sum()),
        )
        for s, fn in _STATS.items()
    ]
