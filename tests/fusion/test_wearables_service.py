"""service.wearables: real files in, a JSON-ready section out, with every limitation stated."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from kinematics.fusion import MOBILISED_LOWER_BACK
from kinematics.fusion.errors import SensorFormatError
from kinematics.fusion.synth import pelvis_imu, rehab_motion, video_angle
from service.wearables import WearablesOut, WearablesRequest, analyze_wearables, parse_axes
from tests.fusion.data import MOBILISED_CSV, UCI_5N, XSENS_THIGH


def test_real_lower_back_imu_and_real_emg(tmp_path):
    out = analyze_wearables(WearablesRequest(imu_sampling_rate_hz=100.0), imu_path=MOBILISED_CSV, emg_path=UCI_5N)
    doc = json.loads(out.model_dump_json())
    assert WearablesOut.model_validate(doc).model_dump_json() == out.model_dump_json()  # round-trips
    imu = doc["imu"]
    assert imu["placement"] == "lower_back" and imu["axes"] == {"up": "+x", "anterior": "+z", "left": "-y"}
    assert imu["pelvic_obliquity_deg"]["clock"] == "imu" and len(imu["pelvic_tilt_deg"]["values"]) == 1246
    assert 90.0 < imu["gait"]["cadence_steps_per_min"] < 105.0
    assert {c["side"] for c in imu["gait"]["initial_contacts"]} == {"left", "right"}
    codes = {q["code"] for q in doc["quality"]}
    assert {"imu_not_still", "emg_delay_assumed", "emg_session_peak"} <= codes  # this recording starts with a turn
    emg = doc["emg"]
    assert emg["hardware_delay_assumed"] and emg["hardware_delay_s"] == 0.0
    assert emg["channels"][0]["label"] == "rectus femoris surface EMG"
    assert len(emg["envelopes"]["RF"]["t_s"]) == 657  # 100 Hz
    assert doc["sync"] is None and doc["fused"] is None


def test_with_video_the_imu_is_synchronised_and_fused(rng, tmp_path):
    t = np.arange(0.0, 40.0, 0.01)
    motion = rehab_motion(t, posture_obliquity_deg=1.0, rng=rng)
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, rng=rng, clock_offset_s=2.5)
    lines = ["# placement: sacrum", "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_rads,gyr_y_rads,gyr_z_rads"]
    lines += [",".join(f"{v:.6f}" for v in row) for row in np.column_stack([rec.t_s, rec.acc_mps2, rec.gyr_rads])]
    path = tmp_path / "sacrum.csv"
    path.write_text("\n".join(lines) + "\n")
    video, _ = video_angle(t, motion.obliquity_deg, rng=rng)
    out = analyze_wearables(
        WearablesRequest(imu_axes="up=+x,anterior=+z,left=-y"), imu_path=path, video_obliquity=video
    )
    assert out.sync is not None and out.sync.method == "cross_correlation"
    assert out.sync.offset_s == pytest.approx(2.5, abs=1 / 30)
    assert out.fused is not None and out.fused.pelvic_obliquity_deg.clock == "video"
    fused = np.array(out.fused.pelvic_obliquity_deg.values, dtype=float)
    truth = np.interp(out.fused.pelvic_obliquity_deg.t_s, t, motion.obliquity_deg)
    assert np.sqrt(np.nanmean((fused - truth) ** 2)) < 0.6
    assert out.imu.pelvic_obliquity_deg.clock == "video"
    manual = analyze_wearables(
        WearablesRequest(imu_axes="mobilised", imu_offset_s=2.5), imu_path=path, video_obliquity=video
    )
    assert manual.sync.method == "manual" and manual.sync.offset_s == 2.5


def test_a_thigh_imu_is_summarised_without_pelvic_angles():
    out = analyze_wearables(WearablesRequest(imu_placement="thigh"), imu_path=XSENS_THIGH)
    assert out.imu.sampling_rate_hz == pytest.approx(120.0) and out.imu.pelvic_tilt_deg is None
    assert any(q.code == "imu_placement" for q in out.quality)


def test_bad_requests_and_files_are_input_errors(tmp_path):
    with pytest.raises(ValidationError, match="expected up=..,anterior=..,left"):
        WearablesRequest(imu_axes="x up")
    with pytest.raises(ValidationError):
        WearablesRequest(imu_axes="up=+x,anterior=+z,left=+y")  # mirrored
    with pytest.raises(SensorFormatError, match="100 Hz"):
        analyze_wearables(imu_path=MOBILISED_CSV)
    assert parse_axes("mobilised") is MOBILISED_LOWER_BACK


def test_a_sensor_only_gait_states_what_each_value_rests_on():
    """The real Mobilise-D lower-back walk, no camera: every sample valid, each metric with its coverage,
    steps and confidence in the document; the real UCI EMG's channels with their bursts' evidence."""
    from service.analysis import analyze_sensors
    from service.wearables import WearableFiles

    files = WearableFiles(
        imu_path=MOBILISED_CSV,
        emg_path=UCI_5N,
        request=WearablesRequest(imu_sampling_rate_hz=100.0, imu_axes="mobilised", imu_height_m=0.964),
    )
    doc = json.loads(analyze_sensors(files, exercise="gait").model_dump_json())
    imu = doc["wearables"]["imu"]
    assert imu["samples"] == {"coverage": 1.0, "lost": {"clock gaps": 0.0, "dropouts": 0.0, "saturation": 0.0}}
    metrics = {(m["name"], m["side"]): m for m in doc["metrics"]}
    contacts = imu["gait"]["initial_contacts"]
    cadence = metrics["cadence_steps_per_min", None]
    assert (cadence["coverage"], cadence["n_events"], cadence["event_kind"]) == (1.0, len(contacts), "step")
    assert cadence["confidence"] == pytest.approx(np.mean([c["confidence"] for c in contacts]), abs=0.002)
    stride = metrics["stride_length_m", None]
    assert stride["measurable"] and stride["event_kind"] == "stride" and stride["coverage"] == 1.0
    assert all(m["coverage"] is not None and m["confidence"] is not None for m in doc["metrics"])
    onsets = {e["channel"]: e for e in doc["wearables"]["emg"]["onset_evidence"]}
    assert sorted(onsets) == sorted(c["name"] for c in doc["wearables"]["emg"]["channels"])
    for e in onsets.values():
        assert e["coverage"] == 1.0 and e["event_kind"] == "burst" and e["n_events"] >= 1 and e["measurable"]
        assert 0.0 < e["confidence"] <= 1.0
