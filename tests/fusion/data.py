"""Paths of the wearable fixtures and readers for the Mobilise-D reference (tests only)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.io

from kinematics.fusion import ImuRecording

WEARABLES = Path(__file__).resolve().parents[1] / "fixtures" / "wearables"
MOBILISED_CSV = WEARABLES / "HA001_TimeMeasure1_Test5_Trial1_lowerback.csv"
MOBILISED_MAT = WEARABLES / "HA001_data.mat"
XSENS_THIGH = WEARABLES / "walking_xsens_upperLeg.txt"
UCI_5N = WEARABLES / "5Nmar.txt"
TRIALS = (("Test5", "Trial1"), ("Test5", "Trial2"), ("Test11", "Trial1"))


@dataclass(frozen=True)
class ReferenceBout:
    """One walking bout of the optical (stereophotogrammetry) reference."""

    start_s: float
    end_s: float
    initial_contacts_s: np.ndarray
    sides: tuple[str, ...]  # "left" / "right"
    cadence_steps_per_min: float


@lru_cache(maxsize=1)
def _mat() -> dict:
    return scipy.io.loadmat(MOBILISED_MAT, simplify_cells=True)["data"]["TimeMeasure1"]


def mobilised_recording(test: str, trial: str) -> ImuRecording:
    """The lower-back IMU of one trial from the .mat (acc in g, gyr in deg/s, 100 Hz)."""
    su = _mat()[test][trial]["SU"]["LowerBack"]
    fs = float(su["Fs"]["Acc"])
    n = su["Acc"].shape[0]
    return ImuRecording(
        t_s=np.arange(n) / fs,
        acc_mps2=su["Acc"] * 9.80665,
        gyr_rads=np.radians(su["Gyr"]),
        placement="lower_back",
        sampling_rate_hz=fs,
        source=f"HA001_data.mat:{test}/{trial}",
        format="mobilised",
    )


def reference_bouts(test: str, trial: str, system: str = "Stereophoto") -> list[ReferenceBout]:
    """Walking bouts with initial contacts, seconds from the start of the recording.

    Structure of the Mobilise-D .mat (``scipy.io.loadmat(..., simplify_cells=True)``):
    ``data/TimeMeasure1/<test>/<trial>/Standards/<system>/MicroWB`` is one bout
    (a dict) or a list of them, each with ``Start``, ``End`` (s),
    ``InitialContact_Event`` (s, NaN where the reference missed one),
    ``InitialContact_LeftRight`` ("Left"/"Right") and ``Cadence`` (steps/min).
    """
    wbs = _mat()[test][trial]["Standards"][system]["MicroWB"]
    wbs = wbs if isinstance(wbs, list) else [wbs]
    return [
        ReferenceBout(
            start_s=float(w["Start"]),
            end_s=float(w["End"]),
            initial_contacts_s=np.atleast_1d(np.asarray(w["InitialContact_Event"], dtype=float)),
            sides=tuple(str(s).lower() for s in np.atleast_1d(w["InitialContact_LeftRight"])),
            cadence_steps_per_min=float(w["Cadence"]),
        )
        for w in wbs
    ]
