"""Paths of the wearable fixtures (tests only); the Mobilise-D recordings are read by ``validation.mobilised``."""

from __future__ import annotations

from pathlib import Path

WEARABLES = Path(__file__).resolve().parents[1] / "fixtures" / "wearables"
MOBILISED_CSV = WEARABLES / "HA001_TimeMeasure1_Test5_Trial1_lowerback.csv"
XSENS_THIGH = WEARABLES / "walking_xsens_upperLeg.txt"
UCI_5N = WEARABLES / "5Nmar.txt"
