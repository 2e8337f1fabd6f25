"""Wearable sensors: IMU and EMG ingestion, pelvic orientation, clock sync, fusion with video, gait, EMG timing.

Pure numpy/scipy, like the rest of :mod:`kinematics`. Modules:

=================  ===========================================================
``imu_io``         read IMU files (generic CSV, Xsens text, Mobilise-D CSV)
``axes``           sensor-to-body axis mapping, static calibration
``orientation``    pelvic tilt and obliquity (Mahony 2008 complementary filter)
``sync``           IMU-to-video clock offset by cross-correlation
``fuse``           video + IMU obliquity (complementary Kalman filter + RTS)
``gait``           walking bouts, initial contacts, side and cadence
``stride``         stride length and walking speed (inverted pendulum, Zijlstra & Hof 2003)
``emg_io``         read EMG files (generic CSV, UCI lower-limb text)
``emg``            filters, envelopes, normalisation, symmetry, co-contraction, timing
``onsets``         threshold onset detection (Hodges & Bui 1996)
``evidence``       valid samples, and what each sensor value rests on (coverage, events, confidence)
``synth``          synthetic sensors with known ground truth (tests)
=================  ===========================================================
"""

from kinematics.fusion.axes import MOBILISED_LOWER_BACK, AxisMapping, StaticCalibration, calibrate_static
from kinematics.fusion.emg import EmgAnalysis, EmgFilter, EmgResult, co_contraction_index, symmetry_index, tkeo
from kinematics.fusion.emg_io import SITES, EmgChannel, EmgRecording, read_emg
from kinematics.fusion.errors import SensorFormatError, SynchronisationError
from kinematics.fusion.fuse import FusedAngle, ObliquityFusion
from kinematics.fusion.gait import GaitEvents, InitialContactDetector, MatchResult, match_events, vertical_acceleration
from kinematics.fusion.imu_io import PLACEMENTS, ImuRecording, read_imu
from kinematics.fusion.onsets import Bursts, ThresholdOnsetDetector, movement_onsets
from kinematics.fusion.orientation import MahonyFilter, PelvisOrientation, pelvis_orientation, tilt_obliquity_deg
from kinematics.fusion.stride import InvertedPendulum, StrideLengths
from kinematics.fusion.sync import ClockOffset, ClockSync

__all__ = [
    "MOBILISED_LOWER_BACK",
    "PLACEMENTS",
    "SITES",
    "AxisMapping",
    "Bursts",
    "ClockOffset",
    "ClockSync",
    "EmgAnalysis",
    "EmgChannel",
    "EmgFilter",
    "EmgRecording",
    "EmgResult",
    "FusedAngle",
    "GaitEvents",
    "ImuRecording",
    "InitialContactDetector",
    "InvertedPendulum",
    "MahonyFilter",
    "MatchResult",
    "ObliquityFusion",
    "PelvisOrientation",
    "SensorFormatError",
    "StaticCalibration",
    "StrideLengths",
    "SynchronisationError",
    "ThresholdOnsetDetector",
    "calibrate_static",
    "co_contraction_index",
    "match_events",
    "movement_onsets",
    "pelvis_orientation",
    "read_emg",
    "read_imu",
    "symmetry_index",
    "tilt_obliquity_deg",
    "tkeo",
    "vertical_acceleration",
]
