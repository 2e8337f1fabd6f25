"""Patient-reported outcomes (Oswestry Disability Index, pain NRS) and change from baseline.

Pure Python: scoring the questionnaires and judging a change against the
published minimal clinically important difference (outcomes) or the minimal
detectable change (motion metrics). Every threshold carries its source.

Errors: :class:`OutcomeError` (an :class:`~kinematics.errors.InputError`, so a
``ValueError``) with a message that names the section or answer at fault.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from kinematics.errors import InputError

__all__ = [
    "MOTION_MDC",
    "NRS_MCID",
    "ODI_MCID",
    "ODI_SECTIONS",
    "Change",
    "ChangeThreshold",
    "Judgement",
    "OdiScore",
    "OutcomeError",
    "judge_metric_change",
    "judge_outcome_change",
    "odi_band",
    "score_nrs",
    "score_odi",
]

Judgement = Literal["improved", "unchanged", "worse", "inconclusive"]

# Fairbank & Pynsent 2000, version 2.1a section order.
ODI_SECTIONS: tuple[str, ...] = (
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
)
ODI_SOURCE = "Fairbank & Pynsent, Spine 2000;25(22):2940-52"
# The published rule divides by 5 x the sections answered and sets no limit on how many may be
# missing; more than two missing leaves too little of the questionnaire to compare over time.
# This limit is the service's choice (docs/outcomes.md), not part of the published scoring.
ODI_MAX_MISSING = 2
_ODI_BANDS: tuple[tuple[float, str], ...] = (
    (20.0, "minimal"),
    (40.0, "moderate"),
    (60.0, "severe"),
    (80.0, "crippled"),
    (100.0, "bed-bound or exaggerating"),
)


class OutcomeError(InputError):
    """A questionnaire answer that cannot be scored; the message names the section or answer."""


@dataclass(frozen=True)
class ChangeThreshold:
    """A change limit with its source: ``points`` (in the measure's unit) and optionally ``percent`` of baseline."""

    name: str
    points: float
    unit: str
    source: str
    percent: float | None = None
    lower_is_better: bool = True
    kind: Literal["mcid", "mdc"] = "mcid"


ODI_MCID = ChangeThreshold(
    "odi_percent", 10.0, "%", "Ostelo et al., Spine 2008;33(1):90-4 (consensus MCID)", percent=30.0
)
NRS_MCID = ChangeThreshold(
    "pain_nrs", 2.0, "points", "Ostelo et al., Spine 2008;33(1):90-4 (consensus MCID)", percent=30.0
)
NRS_RECOVERED_SOURCE = "Kamper et al., 2010: 'recovered' as pain NRS 0"
# Motion metrics: only those with a published minimal detectable change are judged.
MOTION_MDC: dict[str, ChangeThreshold] = {
    "pelvic_drop_deg": ChangeThreshold(
        "pelvic_drop_deg",
        4.0,
        "deg",
        "minimal detectable change of the pelvis-on-femur angle in single-leg stance (J Sport Rehabil 2007;16(4):326)",
        kind="mdc",
    ),
}


@dataclass(frozen=True)
class OdiScore:
    """A scored ODI: ``percent`` over the answered sections, its band, and what was missing."""

    percent: float
    raw_sum: int
    answered: int
    missing: tuple[str, ...]
    band: str


def odi_band(percent: float) -> str:
    """Fairbank & Pynsent band of an ODI %; upper bounds inclusive (fractional % occur with a missing section)."""
    if not (0.0 <= percent <= 100.0) or math.isnan(percent):
        raise OutcomeError(f"ODI must be within 0-100 %, got {percent}")
    return next(name for upper, name in _ODI_BANDS if percent <= upper)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def score_odi(answers: Mapping[str, int | None], *, max_missing: int = ODI_MAX_MISSING) -> OdiScore:
    """Score the Oswestry Disability Index.

    Parameters
    ----------
    answers
        One entry per section of :data:`ODI_SECTIONS`, each an integer 0-5, or ``None``
        when the patient left the section unanswered. Every section must be present.
    max_missing
        Most unanswered sections still scored (default 2, the service's choice).

    Returns
    -------
    OdiScore
        ``percent`` = sum / (5 x answered) x 100, rounded to 0.1.

    Notes
    -----
    Fairbank & Pynsent, Spine 2000: with one section missing the sum is divided by 45.
    Lower is better.

    Examples
    --------
    >>> a = dict.fromkeys(ODI_SECTIONS, 2); a["sex_life"] = None; a["walking"] = 0
    >>> score_odi(a).percent
    35.6
    """
    if not isinstance(answers, Mapping):
        raise OutcomeError(f"answers: expected an object with one entry per section, got {type(answers).__name__}")
    unknown = [k for k in answers if k not in ODI_SECTIONS]
    if unknown:
        raise OutcomeError(f"answers.{unknown[0]}: not an ODI section; sections are {', '.join(ODI_SECTIONS)}")
    absent = [s for s in ODI_SECTIONS if s not in answers]
    if absent:
        raise OutcomeError(f"answers: section(s) {', '.join(absent)} not given; send null for an unanswered section")
    for section in ODI_SECTIONS:
        value = answers[section]
        if value is not None and not (_is_int(value) and 0 <= value <= 5):
            raise OutcomeError(f"answers.{section}: {value!r} is not a score; each section is an integer 0-5 or null")
    missing = tuple(s for s in ODI_SECTIONS if answers[s] is None)
    if len(missing) > max_missing:
        raise OutcomeError(
            f"answers: {len(missing)} sections unanswered ({', '.join(missing)}); "
            f"at most {max_missing} may be missing for a score"
        )
    answered = len(ODI_SECTIONS) - len(missing)
    raw = sum(v for s in ODI_SECTIONS if isinstance(v := answers[s], int))
    percent = round(raw / (5 * answered) * 100.0, 1)
    return OdiScore(percent=percent, raw_sum=raw, answered=answered, missing=missing, band=odi_band(percent))


def score_nrs(value: object) -> int:
    """Validate a pain numeric rating scale answer: an integer 0 (no pain) to 10 (worst imaginable)."""
    if not (isinstance(value, int) and _is_int(value) and 0 <= value <= 10):
        raise OutcomeError(f"value: {value!r} is not a pain NRS score; expected an integer 0-10")
    return value


@dataclass(frozen=True)
class Change:
    """A change from baseline and how it is judged against ``threshold``.

    ``delta`` = current - baseline in the measure's unit; ``delta_percent`` relative to
    baseline (None when the baseline is 0); ``ci95`` the interval of ``delta`` when both
    values carried one.
    """

    baseline: float
    current: float
    delta: float
    delta_percent: float | None
    judgement: Judgement
    reason: str
    ci95: tuple[float, float] | None = None


def judge_outcome_change(baseline: float, current: float, threshold: ChangeThreshold) -> Change:
    """Judge a patient-reported outcome against its MCID (lower is better).

    Notes
    -----
    Ostelo et al. 2008: an improvement is important when it reaches ``threshold.points``
    *or* ``threshold.percent`` of baseline. The percentage criterion is defined for
    improvement; a deterioration is judged on the points alone, so a one-point rise from a
    low baseline is not called worse.
    """
    delta = float(current) - float(baseline)
    pct = None if baseline == 0 else round(delta / float(baseline) * 100.0, 1)
    better = -delta if threshold.lower_is_better else delta
    better_pct = None if pct is None else (-pct if threshold.lower_is_better else pct)
    if better >= threshold.points or (
        threshold.percent is not None and better_pct is not None and better > 0 and better_pct >= threshold.percent
    ):
        how = f"{abs(delta):g} {threshold.unit}" + ("" if pct is None else f" ({abs(pct):g} % of baseline)")
        return Change(
            baseline,
            current,
            round(delta, 3),
            pct,
            "improved",
            f"improved by {how}; MCID {threshold.points:g} {threshold.unit}"
            + (f" or {threshold.percent:g} %" if threshold.percent else ""),
        )
    if -better >= threshold.points:
        return Change(
            baseline,
            current,
            round(delta, 3),
            pct,
            "worse",
            f"worse by {abs(delta):g} {threshold.unit}; MCID {threshold.points:g} {threshold.unit}",
        )
    return Change(
        baseline, current, round(delta, 3), pct, "unchanged", f"change of {delta:+g} {threshold.unit} is below the MCID"
    )


def _se_of(ci95: tuple[float, float]) -> float:
    lo, hi = ci95
    return (hi - lo) / (2 * 1.959964)


def judge_metric_change(
    baseline: float,
    current: float,
    threshold: ChangeThreshold,
    *,
    baseline_ci95: tuple[float, float] | None = None,
    current_ci95: tuple[float, float] | None = None,
) -> Change:
    """Judge a motion metric's change against its minimal detectable change.

    Notes
    -----
    When both values carry a 95 % interval, the change's interval is
    ``delta +- 1.96 sqrt(se_b^2 + se_c^2)`` with each se = interval width / 3.92; if it
    contains ``+MDC`` or ``-MDC`` the data cannot tell a real change from none:
    ``inconclusive``. Otherwise ``|delta| >= MDC`` is a change, in the direction given by
    ``threshold.lower_is_better``.
    """
    delta = float(current) - float(baseline)
    pct = None if baseline == 0 else round(delta / float(baseline) * 100.0, 1)
    mdc = threshold.points
    ci: tuple[float, float] | None = None
    if baseline_ci95 is not None and current_ci95 is not None:
        half = 1.959964 * math.hypot(_se_of(baseline_ci95), _se_of(current_ci95))
        ci = (round(delta - half, 3), round(delta + half, 3))
        straddled = [m for m in (-mdc, mdc) if ci[0] < m < ci[1]]
        if straddled:
            return Change(
                baseline,
                current,
                round(delta, 3),
                pct,
                "inconclusive",
                f"the change's 95 % interval {ci[0]:g} to {ci[1]:g} {threshold.unit} contains "
                f"{straddled[0]:+g} {threshold.unit} (the MDC)",
                ci,
            )
    if abs(delta) < mdc:
        return Change(
            baseline,
            current,
            round(delta, 3),
            pct,
            "unchanged",
            f"change of {delta:+g} {threshold.unit} is below the MDC of {mdc:g} {threshold.unit}",
            ci,
        )
    better = (delta < 0) == threshold.lower_is_better
    return Change(
        baseline,
        current,
        round(delta, 3),
        pct,
        "improved" if better else "worse",
        f"change of {delta:+g} {threshold.unit} reaches the MDC of {mdc:g} {threshold.unit}",
        ci,
    )
