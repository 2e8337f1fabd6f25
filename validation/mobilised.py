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
from validation.docblocks import GeneratedBlocks

__all__ = [
    "BLOCKS",
    "PARTICIPANTS",
    "TOLERANCE_S",
    "TRIALS",
    "ContactTiming",
    "Participant",
    "ReferenceBout",
    "Score",
    "contact_timing",
    "error_drift",
    "final_contact_errors",
    "participant",
    "recording",
    "reference_agreement",
    "reference_bouts",
    "score_contacts",
    "timing_blocks",
]

WEARABLES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "wearables"
PARTICIPANTS = ("HA001", "HA002", "MS001")
TRIALS = (("Test5", "Trial1"), ("Test5", "Trial2"), ("Test11", "Trial1"))
TOLERANCE_S = 0.25  # mobgap's ICD evaluation: a 0.5 s window centred on each reference contact
System = Literal["Stereophoto", "INDIP"]
BLOCKS = GeneratedBlocks("gait", "python -m bench gait")  # docs/validation.md: the optical timing tables


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
    final_contacts_s: np.ndarray  # (m,) toe-offs, NaN where missed
    turns_s: np.ndarray  # (t, 2) start and end of each turn the system found in the bout


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
    ``Stride_InitialContacts`` ((k, 2) s), ``WalkingSpeed`` (m/s), ``FinalContact_Event`` (s) and
    ``Turn_Start`` / ``Turn_End`` (s, empty without turns).
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
            final_contacts_s=_arr(w["FinalContact_Event"]),
            turns_s=np.column_stack([_arr(w["Turn_Start"]), _arr(w["Turn_End"])]),
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


@dataclass(frozen=True)
class ContactTiming:
    """One optical initial contact, and how far a detector's and INDIP's matched contacts are from it.

    Both matches are those of :func:`score_contacts` (one-to-one within ``TOLERANCE_S``), so the
    signed errors here are exactly the ones the scores' medians are taken over.
    """

    t_s: float
    side: str
    bout: int  # index of its optical bout
    position: Literal["first", "last", "inside"]  # in its optical bout
    in_turn: bool  # inside one of the optical system's turns of that bout
    speed_mps: float  # the optical bout's walking speed
    detector_error_s: float  # detected - optical; NaN where unmatched
    indip_error_s: float  # INDIP - optical; NaN where unmatched or INDIP has no bout there


def _pairs(det: np.ndarray, ref: np.ndarray) -> dict[float, float]:
    return {r: d for d, r in match_events(det, ref, tolerance_s=TOLERANCE_S).pairs}


def contact_timing(pid: str, test: str, trial: str, detected_s: np.ndarray) -> list[ContactTiming]:
    """Every optical initial contact of a trial with the signed errors of a detector and of INDIP.

    For locating the optical reference's disagreement with the two IMU-based systems (the detector
    on the trunk, INDIP on the feet) in time, by bout, side, turns and bout edges; the scores
    themselves stay :func:`score_contacts`'.
    """
    optical = reference_bouts(pid, test, trial, "Stereophoto")
    if not optical:
        return []
    t = np.asarray(detected_s, dtype=float)
    inside = np.zeros(t.shape, dtype=bool)
    for b in optical:
        inside |= (t >= b.start_s - TOLERANCE_S) & (t <= b.end_s + TOLERANCE_S)
    ref = np.concatenate([b.initial_contacts_s for b in optical])
    by_detector = _pairs(t[inside], ref)
    indip = reference_bouts(pid, test, trial, "INDIP")
    by_indip = _pairs(np.concatenate([b.initial_contacts_s for b in indip]), ref) if indip else {}
    out = []
    for k, b in enumerate(optical):
        finite = b.initial_contacts_s[np.isfinite(b.initial_contacts_s)]
        for r, side in zip(b.initial_contacts_s, b.sides, strict=True):
            if not np.isfinite(r):
                continue
            r = float(r)
            out.append(
                ContactTiming(
                    t_s=r,
                    side=side,
                    bout=k,
                    position="first" if r == finite[0] else "last" if r == finite[-1] else "inside",
                    in_turn=bool(np.any((b.turns_s[:, 0] <= r) & (r <= b.turns_s[:, 1]))),
                    speed_mps=b.walking_speed_mps,
                    detector_error_s=by_detector[r] - r if r in by_detector else float("nan"),
                    indip_error_s=by_indip[r] - r if r in by_indip else float("nan"),
                )
            )
    return out


def final_contact_errors(pid: str, test: str, trial: str) -> list[np.ndarray]:
    """Per optical bout, INDIP's final contacts (toe-offs) minus the optical ones, matched as the initial ones.

    A clock offset between the two systems moves initial and final contacts alike; a difference in how
    either system times the initial contact moves only those.
    """
    optical = reference_bouts(pid, test, trial, "Stereophoto")
    indip = reference_bouts(pid, test, trial, "INDIP")
    fc = np.concatenate([b.final_contacts_s for b in indip]) if indip else np.zeros(0)
    return [match_events(fc, b.final_contacts_s, tolerance_s=TOLERANCE_S).errors_s for b in optical]


def error_drift(t_s: np.ndarray, errors_s: np.ndarray, *, min_span_s: float = 60.0) -> tuple[float, float]:
    """Least-squares slope of signed errors over time and its standard error, ms per minute.

    A clock drifting between two systems makes the error grow linearly over a trial. NaN when fewer
    than 4 errors or when they span less than ``min_span_s`` (a slope within one short bout is gait,
    not a clock).
    """
    t, e = np.asarray(t_s, dtype=float), np.asarray(errors_s, dtype=float)
    ok = np.isfinite(e)
    if ok.sum() < 4 or np.ptp(t[ok]) < min_span_s:
        return float("nan"), float("nan")
    coef, cov = np.polyfit(t[ok], 1000.0 * e[ok], 1, cov=True)
    return 60.0 * float(coef[0]), 60.0 * float(np.sqrt(cov[0, 0]))


def _med(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    return f"{1000 * np.median(x):+.0f}" if x.size else "-"


def _med_abs(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    return f"{_med(x)} / {1000 * np.median(np.abs(x)):.0f} ms (n={x.size})" if x.size else "-"


def _slope(t: np.ndarray, e: np.ndarray) -> str:
    slope, se = error_drift(t, e)
    return f"{slope:+.1f} +- {se:.1f} ms/min" if np.isfinite(slope) else "-"


def timing_blocks(detected: dict[tuple[str, str, str], np.ndarray]) -> dict[str, str]:
    """Where the optical initial contacts disagree with a detector's and INDIP's (both IMU-based).

    ``detected``: contact times (s) per (participant, test, trial). Three blocks of
    docs/validation.md (:data:`BLOCKS`): signed medians by optical bout, the slope of the signed
    errors over each trial longer than 60 s, and the daily-life trials by kind of optical contact.
    """
    bouts = [
        (
            "| trial | optical bout | speed | contacts (in turns) | INDIP - optical: initial / final contact | "
            "this project - optical | this project - INDIP |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    drift = [
        "| trial | INDIP - optical: slope over time | this project - optical: slope over time | span |",
        "|---|---|---|---|",
    ]
    kinds = [
        "| trial | contacts | this project - optical: median signed / abs | INDIP - optical: median signed / abs |",
        "|---|---|---|---|",
    ]
    for pid in PARTICIPANTS:
        for test, trial in TRIALS:
            t_det = detected.get((pid, test, trial))
            contacts = contact_timing(pid, test, trial, t_det) if t_det is not None else []
            if not contacts:
                continue
            name = f"{pid} {test} {trial}"
            optical = reference_bouts(pid, test, trial)
            fc = final_contact_errors(pid, test, trial)
            t = np.array([c.t_s for c in contacts])
            det = np.array([c.detector_error_s for c in contacts])
            ind = np.array([c.indip_error_s for c in contacts])
            bout = np.array([c.bout for c in contacts])
            for k, b in enumerate(optical):
                sel = bout == k
                turns = sum(c.in_turn for c, s in zip(contacts, sel, strict=True) if s)
                bouts.append(
                    f"| {name} | {b.start_s:.1f}-{b.end_s:.1f} s | {b.walking_speed_mps:.2f} m/s | "
                    f"{int(sel.sum())} ({turns}) | {_med(ind[sel])} / {_med(fc[k])} ms | {_med(det[sel])} ms | "
                    f"{_med(det[sel] - ind[sel])} ms |"
                )
            if t[-1] - t[0] >= 60.0:  # a slope within one short bout says nothing about a clock
                drift.append(f"| {name} | {_slope(t, ind)} | {_slope(t, det)} | {t[0]:.0f}-{t[-1]:.0f} s |")
            if test != "Test11":
                continue
            groups = {
                "first of an optical bout": [c.position == "first" for c in contacts],
                "last of an optical bout": [c.position == "last" for c in contacts],
                "inside a bout, in an optical turn": [c.position == "inside" and c.in_turn for c in contacts],
                "inside a bout, straight": [c.position == "inside" and not c.in_turn for c in contacts],
                "left foot": [c.side == "left" for c in contacts],
                "right foot": [c.side == "right" for c in contacts],
            }
            for label, mask in groups.items():
                m = np.asarray(mask, dtype=bool)
                kinds.append(f"| {name} | {label} | {_med_abs(det[m])} | {_med_abs(ind[m])} |")
    return {
        "timing-bouts": "\n".join(bouts),
        "timing-drift": "\n".join(drift),
        "timing-kinds": "\n".join(kinds),
    }
