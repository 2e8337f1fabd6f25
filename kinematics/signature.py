"""Motion signature: a fixed, versioned feature vector of one session's movement.

A signature collects the protocol metrics of a session's assessments into one
vector (pelvic drop per side, hip ranges per side and their asymmetry, hold
times, sit-to-stand tempo, trunk lean ...). Each feature is standardised by
its *noise scale*: the published minimal detectable change where one exists,
else the instrument's measured error, else a stated convention. Distances
between two signatures, or to a small table of typical values, are the RMS of
the standardised differences over the features both have, with each
feature's contribution, so a clinician sees *which* feature moved.

Pure numpy. Inputs are plain mappings shaped like the stored assessment
(``{"exercise": ..., "metrics": [...], "events": [...]}``). Missing features
stay ``NaN``; a distance over fewer than ``min_shared`` features is "not
comparable", not a number. Supports a clinician's judgement; never a diagnosis.

Errors: :class:`SignatureError` (an :class:`~kinematics.errors.InputError`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kinematics.errors import InputError

__all__ = [
    "FEATURES",
    "MIN_SHARED",
    "SIGNATURE_VERSION",
    "Contribution",
    "Distance",
    "FeatureSpec",
    "FeatureVerdict",
    "Signature",
    "SignatureError",
    "distance",
    "distance_to_reference",
    "signature",
    "verdicts",
]

SIGNATURE_VERSION = "1"
MIN_SHARED = 3  # fewer shared features than this: "not comparable"

NoiseKind = Literal["mdc", "instrument_error", "propagated", "convention"]
Verdict = Literal["changed", "within noise", "not comparable", "not judged"]

_MDC_DROP = (
    "minimal detectable change of the pelvis-on-femur angle in single-leg stance, goniometer "
    "(J Sport Rehabil 2007;16(4):326)"
)
_FRONTAL_HIP = (
    "camera-based frontal-plane hip angle error vs marker-based capture, RMSE < 6 deg "
    "(OpenCap, 2 phones; shared/notes/clinical.md)"
)
_SAGITTAL_HIP = (
    "single side camera 2D sagittal hip angle vs marker-based capture, MAE 4.0 deg (Stenum et al. 2021, OpenPose)"
)
_LEAN = (
    "trunk lateral lean, BlazePose vs optical capture, RMSE with offset removed 4.77 deg in the largest-motion "
    "KERAAL trial (ELK; docs/validation.md), the least favourable of the three trials"
)
_HOLD_SOURCE = "Hardcastle & Nade 1985: the Trendelenburg test holds single-leg stance 30 s"
_WILSON = (
    "passive goniometric hip abduction 30-50 deg (Wilson, Am Fam Physician 2014); "
    "active standing abduction is often smaller"
)
_STS_ROM = (
    "sit-to-stand hip range 77 deg in healthy adults vs 51 deg in degenerative lumbar disease "
    "(Sensors 2025;25(10):3122), group means"
)
_SYMMETRY = "convention: 0 = left and right equal; no sourced typical asymmetry"


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of the signature.

    ``exercise``/``metric``/``side`` select the protocol metric it is read from;
    derived features name the two features in ``derived_from`` instead
    (``kind`` ``"difference"`` = left - right, ``"symmetry_index"`` =
    200 (L - R) / (L + R) %, Robinson et al. 1987). ``noise_scale`` (same unit)
    standardises it; ``None`` means it is reported but neither judged nor used in
    distances. ``reference_low``/``reference_high`` bound typical values (either
    may be ``None`` for an open side; both ``None``: no reference).
    """

    name: str
    unit: str
    description: str
    exercise: str | None
    metric: str | None
    side: Literal["left", "right"] | None
    noise_scale: float | None
    noise_kind: NoiseKind | None
    noise_source: str | None
    reference_low: float | None = None
    reference_high: float | None = None
    reference_source: str | None = None
    derived_from: tuple[str, str] | None = None
    kind: Literal["metric", "difference", "symmetry_index", "rep_time_cv"] = "metric"

    @property
    def has_reference(self) -> bool:
        return self.reference_low is not None or self.reference_high is not None


def _pair(
    stem: str, unit: str, what: str, exercise: str, metric: str, scale: float, kind: NoiseKind, source: str, **ref
) -> tuple[FeatureSpec, FeatureSpec]:
    return tuple(
        FeatureSpec(f"{stem}_{side}", unit, f"{what}, {side}", exercise, metric, side, scale, kind, source, **ref)
        for side in ("left", "right")
    )  # type: ignore[return-value]


def _difference(stem: str, unit: str, what: str, scale: float, source: str) -> FeatureSpec:
    return FeatureSpec(
        f"{stem}_asymmetry",
        unit,
        f"{what}, left minus right",
        None,
        None,
        None,
        round(scale * math.sqrt(2.0), 2),
        "propagated",
        f"sqrt(2) x {scale:g} {unit} (independent left and right errors): {source}",
        0.0,
        0.0,
        _SYMMETRY,
        (f"{stem}_left", f"{stem}_right"),
        "difference",
    )


def _symmetry_index(stem: str, what: str) -> FeatureSpec:
    return FeatureSpec(
        f"{stem}_symmetry_index",
        "%",
        f"{what}, symmetry index 200 (L - R) / (L + R)",
        None,
        None,
        None,
        None,
        None,
        "reported only: its noise depends on the range itself, so it is not judged",
        derived_from=(f"{stem}_left", f"{stem}_right"),
        kind="symmetry_index",
    )


FEATURES: tuple[FeatureSpec, ...] = (
    *_pair(
        "sls_pelvic_drop",
        "deg",
        "single-leg stance: pelvic drop, side that was lower",
        "single_leg_stance",
        "pelvic_drop_deg",
        4.0,
        "mdc",
        _MDC_DROP,
        reference_low=None,
        reference_high=0.0,
        reference_source="Trendelenburg test (Hardcastle & Nade 1985): normal when the free side does not drop; "
        "no validated degree cut-off exists",
    ),
    _difference("sls_pelvic_drop", "deg", "single-leg stance: pelvic drop", 4.0, _MDC_DROP),
    *_pair(
        "sls_hold_time",
        "s",
        "single-leg stance: longest stance on this leg",
        "single_leg_stance",
        "stance_duration_s",
        1.0,
        "convention",
        "convention: 1 s; no published minimal detectable change for video-timed stance was found "
        "(the video's timing resolution is one frame, about 0.03 s)",
        reference_source=_HOLD_SOURCE + "; not used as a reference here: a recording shorter than 30 s "
        "ends the stance, which the protocol's finding reports and this value cannot tell",
    ),
    *_pair(
        "sls_trunk_lean_toward_stance",
        "deg",
        "single-leg stance: trunk lean toward the stance leg",
        "single_leg_stance",
        "trunk_lean_toward_stance_deg",
        4.8,
        "instrument_error",
        _LEAN,
    ),
    *_pair(
        "abd_range",
        "deg",
        "standing hip abduction: range",
        "standing_hip_abduction",
        "hip_abduction_range_deg",
        6.0,
        "instrument_error",
        _FRONTAL_HIP,
        reference_low=30.0,
        reference_high=50.0,
        reference_source=_WILSON,
    ),
    _difference("abd_range", "deg", "standing hip abduction: range", 6.0, _FRONTAL_HIP),
    _symmetry_index("abd_range", "standing hip abduction: range"),
    *_pair(
        "flex_range",
        "deg",
        "standing hip flexion: range",
        "standing_hip_flexion",
        "hip_flexion_range_deg",
        4.0,
        "instrument_error",
        _SAGITTAL_HIP,
    ),
    _difference("flex_range", "deg", "standing hip flexion: range", 4.0, _SAGITTAL_HIP),
    _symmetry_index("flex_range", "standing hip flexion: range"),
    FeatureSpec(
        "sts_hip_range",
        "deg",
        "sit-to-stand: hip flexion range",
        "sit_to_stand",
        "hip_flexion_range_deg",
        None,
        4.0,
        "instrument_error",
        _SAGITTAL_HIP,
        reference_low=77.0,
        reference_high=77.0,
        reference_source=_STS_ROM,
    ),
    FeatureSpec(
        "sts_time_per_rep",
        "s",
        "sit-to-stand: median time per repetition",
        "sit_to_stand",
        "time_per_rep_s",
        None,
        0.5,
        "convention",
        "convention: 0.5 s; no published minimal detectable change for this measure was found",
    ),
    FeatureSpec(
        "sts_rep_time_cv",
        "%",
        "sit-to-stand: variability of repetition time (coefficient of variation, 3 or more repetitions)",
        "sit_to_stand",
        None,
        None,
        10.0,
        "convention",
        "convention: 10 percentage points; no published minimal detectable change was found",
        kind="rep_time_cv",
    ),
)
_INDEX = {f.name: i for i, f in enumerate(FEATURES)}


class SignatureError(InputError):
    """An assessment metric whose unit disagrees with the feature it feeds; the message names both."""


@dataclass(frozen=True, eq=False)
class Signature:
    """One session's features, aligned with :data:`FEATURES`.

    ``values`` (k,) in each feature's unit, NaN where missing; ``n_sources`` (k,)
    how many assessments contributed (derived features: the smaller of their two).
    """

    values: np.ndarray
    n_sources: np.ndarray
    version: str = SIGNATURE_VERSION

    def __post_init__(self) -> None:
        k = len(FEATURES)
        if self.values.shape != (k,) or self.n_sources.shape != (k,):
            raise SignatureError(
                f"values and n_sources must be ({k},), got {self.values.shape} and {self.n_sources.shape}"
            )
        self.values.flags.writeable = False
        self.n_sources.flags.writeable = False

    @property
    def n_features(self) -> int:
        return int(np.sum(np.isfinite(self.values)))

    def value(self, name: str) -> float:
        return float(self.values[_INDEX[name]])


@dataclass(frozen=True)
class Contribution:
    """``z`` = difference / noise scale; ``share`` = z^2 / sum of z^2 (0 when the distance is 0)."""

    name: str
    difference: float
    z: float
    share: float


@dataclass(frozen=True)
class Distance:
    """Standardised RMS distance over ``n_used`` shared features, or not comparable (``value`` None)."""

    value: float | None
    n_used: int
    comparable: bool
    reason: str
    contributions: tuple[Contribution, ...] = ()


@dataclass(frozen=True)
class FeatureVerdict:
    name: str
    baseline: float | None
    current: float | None
    difference: float | None
    verdict: Verdict
    reason: str


def _rep_time_cv(doc: Mapping) -> float | None:
    durations = [
        float(e["end_s"]) - float(e["start_s"])
        for e in doc.get("events") or []
        if e.get("type") == "rep" and e.get("end_s") is not None
    ]
    durations = [d for d in durations if d > 0]
    if len(durations) < 3:
        return None
    arr = np.asarray(durations)
    return float(np.std(arr, ddof=1) / np.mean(arr) * 100.0)


def _metric_values(doc: Mapping, spec: FeatureSpec) -> list[float]:
    out = []
    for m in doc.get("metrics") or []:
        if (
            m.get("source", "protocol") != "protocol"
            or m.get("name") != spec.metric
            or m.get("side") != spec.side
            or not m.get("measurable", True)
            or m.get("value") is None
        ):
            continue
        if m.get("unit") != spec.unit:
            raise SignatureError(
                f"metric {spec.metric} ({spec.exercise}) has unit {m.get('unit')!r}; "
                f"feature {spec.name} expects {spec.unit!r}"
            )
        out.append(float(m["value"]))
    return out


def signature(assessments: Iterable[Mapping]) -> Signature:
    """The signature of one session.

    Parameters
    ----------
    assessments
        Finished assessment documents of the session, each with ``exercise``,
        ``metrics`` (``name``, ``value``, ``unit``, ``side``, ``measurable``,
        ``source``) and ``events``. Only measurable ``source: "protocol"``
        metrics of the feature's exercise are read.

    Returns
    -------
    Signature
        Each base feature is the mean over the assessments that measured it;
        a derived feature needs both of its parts.

    Examples
    --------
    >>> doc = {"exercise": "single_leg_stance", "metrics": [
    ...     {"name": "pelvic_drop_deg", "value": 6.0, "unit": "deg", "side": "left", "measurable": True,
    ...      "source": "protocol"},
    ...     {"name": "pelvic_drop_deg", "value": 2.0, "unit": "deg", "side": "right", "measurable": True,
    ...      "source": "protocol"}]}
    >>> signature([doc]).value("sls_pelvic_drop_asymmetry")
    4.0
    """
    docs = list(assessments)
    k = len(FEATURES)
    values = np.full(k, np.nan)
    n = np.zeros(k, dtype=int)
    for i, spec in enumerate(FEATURES):
        if spec.derived_from is not None:
            continue
        found: list[float] = []
        for doc in docs:
            if doc.get("exercise") != spec.exercise:
                continue
            if spec.kind == "rep_time_cv":
                cv = _rep_time_cv(doc)
                found += [] if cv is None else [cv]
            else:
                found += _metric_values(doc, spec)
        if found:
            values[i], n[i] = float(np.mean(found)), len(found)
    for i, spec in enumerate(FEATURES):
        if spec.derived_from is None:
            continue
        a, b = (_INDEX[x] for x in spec.derived_from)
        left, right = values[a], values[b]
        if not (np.isfinite(left) and np.isfinite(right)):
            continue
        if spec.kind == "difference":
            values[i] = left - right
        elif left + right != 0:  # symmetry index: undefined when both are 0
            values[i] = 200.0 * (left - right) / (left + right)
        else:
            continue
        n[i] = min(n[a], n[b])
    return Signature(values, n)


def _judged() -> np.ndarray:
    return np.array([f.noise_scale is not None for f in FEATURES])


def _scales() -> np.ndarray:
    return np.array([np.nan if f.noise_scale is None else f.noise_scale for f in FEATURES])


def _rms(diff: np.ndarray, mask: np.ndarray, min_shared: int, what: str) -> Distance:
    used = int(mask.sum())
    if used < min_shared:
        return Distance(
            None, used, False, f"not comparable: {used} shared feature(s) with {what}, at least {min_shared} needed"
        )
    z = np.where(mask, diff / _scales(), 0.0)
    sum_sq = float(np.sum(z[mask] ** 2))
    contributions = tuple(
        Contribution(
            FEATURES[i].name,
            round(float(diff[i]), 3),
            round(float(z[i]), 3),
            round(float(z[i] ** 2 / sum_sq), 3) if sum_sq > 0 else 0.0,
        )
        for i in np.flatnonzero(mask)
    )
    value = math.sqrt(sum_sq / used)
    return Distance(
        round(value, 3),
        used,
        True,
        f"RMS of {used} standardised differences (difference / noise scale) from {what}",
        contributions,
    )


def distance(baseline: Signature, current: Signature, *, min_shared: int = MIN_SHARED) -> Distance:
    """Standardised distance of ``current`` from ``baseline``.

    Notes
    -----
    ``d = sqrt(mean_i (z_i^2))`` with ``z_i = (current_i - baseline_i) / s_i`` over
    the judged features both signatures have; ``s_i`` is the feature's noise
    scale. ``d = 1`` means a typical feature moved by one noise scale. Each
    contribution's ``share`` is its part of the sum of squares.
    """
    diff = current.values - baseline.values
    mask = np.isfinite(diff) & _judged()
    return _rms(diff, mask, min_shared, "the baseline")


def distance_to_reference(sig: Signature, *, min_shared: int = MIN_SHARED) -> Distance:
    """Standardised distance of ``sig`` from the typical ranges in :data:`FEATURES`.

    Notes
    -----
    Per feature the difference is 0 inside ``[reference_low, reference_high]``,
    else the distance to the nearer bound (signed: > 0 above the range); only
    features with a reference and a noise scale count.
    """
    low = np.array([-np.inf if f.reference_low is None else f.reference_low for f in FEATURES])
    high = np.array([np.inf if f.reference_high is None else f.reference_high for f in FEATURES])
    has_ref = np.array([f.has_reference for f in FEATURES])
    with np.errstate(invalid="ignore"):
        diff = np.where(sig.values > high, sig.values - high, np.where(sig.values < low, sig.values - low, 0.0))
    diff = np.where(np.isfinite(sig.values), diff, np.nan)
    mask = np.isfinite(diff) & _judged() & has_ref
    return _rms(diff, mask, min_shared, "the reference of typical values")


def verdicts(baseline: Signature, current: Signature) -> list[FeatureVerdict]:
    """Per feature: ``changed`` when ``|current - baseline|`` reaches its noise scale, else ``within noise``.

    Missing in either signature: ``not comparable``; no noise scale: ``not judged``.
    """
    out = []
    for i, spec in enumerate(FEATURES):
        b, c = baseline.values[i], current.values[i]
        bv = None if not np.isfinite(b) else round(float(b), 3)
        cv = None if not np.isfinite(c) else round(float(c), 3)
        if bv is None or cv is None:
            missing = (
                "either session" if bv is None and cv is None else "the baseline" if bv is None else "this session"
            )
            out.append(FeatureVerdict(spec.name, bv, cv, None, "not comparable", f"not measured in {missing}"))
            continue
        d = round(float(c - b), 3)
        if spec.noise_scale is None:
            out.append(FeatureVerdict(spec.name, bv, cv, d, "not judged", spec.noise_source or "no noise scale"))
        elif abs(c - b) >= spec.noise_scale:
            out.append(
                FeatureVerdict(
                    spec.name,
                    bv,
                    cv,
                    d,
                    "changed",
                    f"change of {d:+g} {spec.unit} reaches the noise scale of "
                    f"{spec.noise_scale:g} {spec.unit} ({spec.noise_kind})",
                )
            )
        else:
            out.append(
                FeatureVerdict(
                    spec.name,
                    bv,
                    cv,
                    d,
                    "within noise",
                    f"change of {d:+g} {spec.unit} is below the noise scale of "
                    f"{spec.noise_scale:g} {spec.unit} ({spec.noise_kind})",
                )
            )
    return out
