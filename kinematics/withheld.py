"""Why an angle sample is not measured: one code per withheld sample, and the reason in words.

:meth:`kinematics.pipeline.KinematicsPipeline.run` withholds samples at several steps (a frame
without a pose, a pose still settling, hips collapsed, a view or skeleton that cannot show the
angle, a frame from another view, a landmark not visible, an implausible value). It marks each
withheld sample of each angle series with the *first* of those causes, in the order the pipeline
applies them (:func:`first_cause`), and keeps the codes on the result
(:attr:`~kinematics.pipeline.KinematicsResult.withheld`). The codes are the recording's quality
issue codes where the pipeline has one (``pose_settling``, ``hips_collapsed``,
``implausible_angle``, ``frames_without_pose``, ``oblique_view``, ``view_unknown``,
``view_changes``) plus three that only a sample or a series can have (``plane_not_in_view``,
``landmarks_not_in_schema``, ``not_visible``); :data:`NOT_MEASURED` says each in words.

The offline assessment and the live window (:class:`kinematics.streaming.SlidingAssessment`) read
the same codes from the same run, so a sample the live feedback shows as "not measured: ..." is the
one the offline analysis of the same samples withholds, for the same reason.

A sample that was measured after all (a short gap bridged by interpolation) has no code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["NOT_MEASURED", "Withheld", "first_cause", "view_code"]

NOT_MEASURED: dict[str, str] = {
    "frames_without_pose": "no person was found in this frame",
    "pose_settling": "the pose model's first estimates of a person it has just found are its roughest",
    "hips_collapsed": "the pose model put the two hips nearly on top of each other (a pose failure)",
    "landmarks_not_in_schema": "the skeleton sent has no landmark this angle needs",
    "view_unknown": "the camera view could not be determined (shoulders and hips not all visible)",
    "oblique_view": "an oblique view: neither frontal- nor sagittal-plane angles are reliable",
    "plane_not_in_view": "this angle's plane cannot be seen from the recording's view",
    "view_changes": "this frame was seen from another view than the recording's, and frames from other views "
    "are left out",
    "not_visible": "a landmark this angle needs was not visible, or was outside the picture, in this frame",
    "implausible_angle": "a value no body can produce (a pose failure: a limb lost or swapped, another person)",
}
"""Every code a withheld sample can carry, and what it means in general. A result's own reason for a
code (:meth:`Withheld.reason`) is more specific where the pipeline said more."""


class _Issue(Protocol):  # kinematics.pipeline.QualityIssue (which imports this module)
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...


# the codes that withhold a whole series, whose reason is the series' own ``unavailable`` text
_SERIES_CODES = ("landmarks_not_in_schema", "view_unknown", "oblique_view", "plane_not_in_view")


def view_code(view: str) -> str:
    """The code of a series withheld because the recording's ``view`` does not show its plane."""
    return {"unknown": "view_unknown", "oblique": "oblique_view"}.get(view, "plane_not_in_view")


def first_cause(withheld: np.ndarray, causes: Iterable[tuple[str, np.ndarray]]) -> np.ndarray:
    """``(n,)`` object array: at each withheld sample the code of the first cause true there, else None.

    Parameters
    ----------
    withheld
        ``(n,)`` bool, True where the sample is not measured.
    causes
        ``(code, (n,) bool)`` in the order the pipeline applies them; a withheld sample that no
        cause explains gets ``"not_visible"`` (its landmarks were masked or could not be bridged).
    """
    withheld = np.asarray(withheld, dtype=bool)
    codes = np.full(withheld.shape[0], None, dtype=object)
    left = withheld.copy()
    for code, where in causes:
        hit = left & np.asarray(where, dtype=bool)
        codes[hit] = code
        left &= ~hit
    codes[left] = "not_visible"
    return codes


@dataclass(frozen=True, eq=False)
class Withheld:
    """The code of every withheld sample of every angle series of one run, and the reasons.

    Attributes
    ----------
    codes
        Series name -> ``(n,)`` object array, a :data:`NOT_MEASURED` code where the sample is
        withheld, None where it is measured.
    reasons
        Code -> the run's own sentence for it: the quality issue of the same code where the run
        reported one (with its counts), else :data:`NOT_MEASURED`.
    unavailable
        Series name -> why none of it could be measured (the result's ``unavailable``); the reason
        of that series' series-wide code.
    """

    codes: Mapping[str, np.ndarray]
    reasons: Mapping[str, str]
    unavailable: Mapping[str, str]

    @classmethod
    def of(cls, codes: Mapping[str, np.ndarray], issues: Sequence[_Issue], unavailable: Mapping[str, str]) -> Withheld:
        """From the codes and the run's quality issues (:class:`kinematics.pipeline.QualityIssue`)."""
        said = {q.code: q.message for q in issues}
        used = {c for v in codes.values() for c in v if c is not None}
        reasons = {c: said.get(c, NOT_MEASURED[c]) for c in sorted(used)}
        return cls(dict(codes), reasons, dict(unavailable))

    def reason(self, name: str, code: str) -> str:
        """Why a sample of series ``name`` carrying ``code`` is not measured, in words."""
        if code in _SERIES_CODES and name in self.unavailable:
            return self.unavailable[name]
        return self.reasons.get(code, NOT_MEASURED.get(code, code))

    def at(self, name: str, i: int) -> tuple[str, str] | None:
        """``(code, reason)`` of sample ``i`` of series ``name``, None when it is measured."""
        code = self.codes[name][i]
        return None if code is None else (code, self.reason(name, code))
