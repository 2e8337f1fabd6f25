"""Mobilise-D lab recordings: the lower-back IMU, the reference systems, and one scorer.

Everything ``docs/validation.md`` ("Wearables") and ``docs/wearables.md`` state about
gait from the lower-back IMU is computed with this module: ``bench/gait.py`` prints the
side-by-side comparison with mobgap, ``tests/fusion/test_gait.py`` asserts the bounds.

Data (``tests/fixtures/wearables``, Apache-2.0, mobgap's ``example_data``): three
participants, HA001 and HA002 (healthy adults) and MS001 (multiple sclerosis), each with
three trials: ``Test5`` Trial1/Trial2 (a straight lab walk) and ``Test11`` Trial1 (2-4 min
of simulated daily life: sitting, standing, walking with turns, carrying, short bouts).
The IMU is a McRoberts MM+ at L5, 100 Hz, acc in g, gyr in deg/s; standing, its x axis points
up, z anterior and -y to the left (:data:`kinematics.fusion.MOBILISED_LOWER_BACK`).

Reference systems (``Standards/<system>/MicroWB``, one dict per walking bout):

* ``Stereophoto``: optical motion capture, only inside the capture volume: contacts outside
  it are unknown, so detections are scored only inside its bouts (``scope="bouts"``).
* ``INDIP``: foot-worn IMUs, pressure insoles and distance sensors over the whole recording:
  a detection outside every INDIP bout is a false positive (``scope="recording"``). Where a
  trial has no INDIP bouts at all (HA002 Test5) INDIP data are missing, not "no walking".

Contacts are matched one-to-one within +-0.25 s (mobgap's evaluation window).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.io

from kinematics.fusion import ImuRecording, match_events

__all__ = [
    "PARTICIPANTS",
    "TOLERANCE_S",
    "TRIALS",
    "Participant",
    "ReferenceBout",
    "Score",
    "participant",
    "recording",
    "reference_agreement",
    "reference_bouts",
    "score_contacts",
]

WEARABLES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "wearables"
PARTICIPANTS = ("HA001", "HA002", "MS001")
TRIALS = (("Test5", "Trial1"), ("Test5", "Trial2"), ("Test11", "Trial1"))
TOLERANCE_S = 0.25  # mobgap's ICD evaluation: a 0.5 s window centred on each reference contact
System = Literal["Stereophoto", "INDIP"]


@dataclass(frozen=True)
class Participant:
    """``infoForAlgo.mat``: what the Mobilise-D algorithms are told about the participant."""

    pid: str
    cohort: str
    height_m: float
    sensor_height_m: float  # L5 sensor above the ground while standing: the pendulum's length

    @property
    def data_path(self) -> Path:
        return WEARABLES / f"{self.pid}_data.mat"

    @property
    def info_path(self) -> Path:
        return WEARABLES / f"{self.pid}_infoForAlgo.mat"


@dataclass(frozen=True)
class ReferenceBout:
    """One walking bout of a reference system, seconds from the start of the recording."""

    start_s: float
    end_s: float
    initial_contacts_s: np.ndarray  # (n,), NaN where the reference missed one
    sides: tuple[str, ...]  # "left" / "right", one per contact
    cadence_steps_per_min: float
    stride_length_m: np.ndarray  # (k,) per stride
    stride_speed_mps: np.ndarray  # (k,)
    stride_contacts_s: np.ndarray  # (k, 2) first and last contact of each stride
    walking_speed_mps: float
    mean_stride_length_m: float


@lru_cache(maxsize=3)
def _mat(pid: str) -> dict:
    return scipy.io.loadmat(WEARABLES / f"{pid}_data.mat", simplify_cells=True)["data"]["TimeMeasure1"]


@lru_cache(maxsize=3)
def participant(pid: str) -> Participant:
    info = scipy.io.loadmat(WEARABLES / f"{pid}_infoForAlgo.mat", simplify_cells=True)["infoForAlgo"]
    tm = info["TimeMeasure1"]
    return Participant(
        pid=pid,
        cohort=pid[:2],
        height_m=float(tm["Height"]) / 100.0,
        sensor_height_m=float(tm["SensorHeight"]) / 100.0,
    )


def recording(pid: str, test: str, trial: str) -> ImuRecording:
    """The lower-back IMU of one trial (acc g -> m/s^2, gyr deg/s -> rad/s, 100 Hz)."""
    su = _mat(pid)[test][trial]["SU"]["LowerBack"]
    fs = float(su["Fs"]["Acc"])
    n = su["Acc"].shape[0]
    return ImuRecording(
        t_s=np.arange(n) / fs,
        acc_mps2=su["Acc"] * 9.80665,
        gyr_rads=np.radians(su["Gyr"]),
        placement="lower_back",
        sampling_rate_hz=fs,
        source=f"{pid}_data.mat:{test}/{trial}",
        format="mobilised",
    )


def _arr(x, dims: int = 1) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a.reshape(-1, 2) if dims == 2 else np.atleast_1d(a).reshape(-1)


def reference_bouts(pid: str, test: str, trial: str, system: System = "Stereophoto") -> list[ReferenceBout]:
    """Walking bouts of one reference system; empty when that system has none for the trial.

    Structure (``scipy.io.loadmat(..., simplify_cells=True)``):
    ``data/TimeMeasure1/<test>/<trial>/Standards/<system>/MicroWB`` is one bout (a dict),
    a list of them, or an empty array; each with ``Start``, ``End`` (s),
    ``InitialContact_Event`` (s, NaN where missed), ``InitialContact_LeftRight``,
    ``Cadence`` (steps/min), ``Stride_Length`` (m), ``Stride_Speed`` (m/s),
    ``Stride_InitialContacts`` ((k, 2) s) and ``WalkingSpeed`` (m/s).
    """
    wbs = _mat(pid)[test][trial]["Standards"][system]["MicroWB"]
    wbs = wbs if isinstance(wbs, list) else [wbs] if isinstance(wbs, dict) else []
    return [
        ReferenceBout(
            start_s=float(w["Start"]),
            end_s=float(w["End"]),
            initial_contacts_s=_arr(w["InitialContact_Event"]),
            sides=tuple(str(s).lower() for s in np.atleast_1d(w["InitialContact_LeftRight"])),
            cadence_steps_per_min=float(w["Cadence"]),
            stride_length_m=_arr(w["Stride_Length"]),
            stride_speed_mps=_arr(w["Stride_Speed"]),
            stride_contacts_s=_arr(w["Stride_InitialContacts"], 2),
            walking_speed_mps=float(w["WalkingSpeed"]),
            mean_stride_length_m=float(w["AverageStrideLength"]),
        )
        for w in wbs
    ]


@dataclass(frozen=True)
class Score:
    """Detected contacts against one reference system."""

    n_reference: int
    tp: int
    fp: int
    fn: int
    errors_s: np.ndarray  # (tp,) detected minus reference
    side_correct: int

    @property
    def f1(self) -> float:
        den = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / den if den else float("nan")

    @property
    def median_abs_error_ms(self) -> float:
        return 1000.0 * float(np.median(np.abs(self.errors_s))) if self.tp else float("nan")

    @property
    def median_error_ms(self) -> float:
        return 1000.0 * float(np.median(self.errors_s)) if self.tp else float("nan")

    @property
    def side_share(self) -> float:
        return self.side_correct / self.tp if self.tp else float("nan")


def score_contacts(
    t_s: np.ndarray,
    sides: list[str | None] | tuple[str | None, ...],
    bouts: list[ReferenceBout],
    *,
    scope: Literal["bouts", "recording"] = "bouts",
    tolerance_s: float = TOLERANCE_S,
) -> Score:
    """Match detections to the reference contacts one-to-one within ``tolerance_s``.

    ``scope="bouts"`` scores only detections within ``tolerance_s`` of a reference bout
    (an optical capture volume); ``"recording"`` scores every detection (a reference that
    covers the whole recording), so steps found while standing or sitting are false positives.
    """
    t = np.asarray(t_s, dtype=float)
    ref_t = np.concatenate([b.initial_contacts_s for b in bouts]) if bouts else np.zeros(0)
    ref_side = [s for b in bouts for s in b.sides]
    if scope == "bouts":
        inside = np.zeros(t.shape, dtype=bool)
        for b in bouts:
            inside |= (t >= b.start_s - tolerance_s) & (t <= b.end_s + tolerance_s)
    else:
        inside = np.ones(t.shape, dtype=bool)
    idx = np.flatnonzero(inside)
    finite = np.isfinite(ref_t)
    m = match_events(t[idx], ref_t, tolerance_s=tolerance_s)
    side_ok = 0
    for d, r in m.pairs:
        i = idx[int(np.argmin(np.abs(t[idx] - d)))]
        j = int(np.nanargmin(np.abs(ref_t - r)))
        side_ok += sides[i] == ref_side[j]
    return Score(
        n_reference=int(finite.sum()),
        tp=len(m.pairs),
        fp=m.false_positives,
        fn=m.false_negatives,
        errors_s=m.errors_s,
        side_correct=int(side_ok),
    )


def reference_agreement(pid: str, test: str, trial: str) -> Score | None:
    """INDIP's contacts scored against the optical ones, as a detector would be; None without both.

    The two reference systems time a contact differently (INDIP: foot-worn pressure insoles and
    IMUs; optical: foot markers), so no detector can agree with the optical reference better than
    INDIP does unless it shares the optical system's own timing: this is the floor of the optical
    timing error, printed beside every detector by ``python -m bench gait``.
    """
    optical = reference_bouts(pid, test, trial, "Stereophoto")
    indip = reference_bouts(pid, test, trial, "INDIP")
    if not optical or not indip:
        return None
    t = np.concatenate([b.initial_contacts_s for b in indip])
    sides = [s for b in indip for s in b.sides]
    keep = np.flatnonzero(np.isfinite(t))
    return score_contacts(t[keep], [sides[i] for i in keep], optical)
