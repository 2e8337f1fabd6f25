"""IMU files: the real formats load in SI units; malformed files name the file, the column and the line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kinematics.errors import InputError
from kinematics.fusion import SensorFormatError, read_imu
from tests.fusion.data import MOBILISED_CSV, XSENS_THIGH
from validation.mobilised import recording

G = 9.80665


def test_the_mobilised_csv_is_in_g_and_deg_per_s_and_matches_the_mat():
    rec = read_imu(MOBILISED_CSV, sampling_rate_hz=100.0)
    assert rec.format == "mobilised" and rec.placement == "lower_back"
    assert len(rec) == 1246 and rec.sampling_rate_hz == pytest.approx(100.0)
    # standing still at the start: |acc| ~ 1 g, expressed in m/s^2
    assert np.linalg.norm(rec.acc_mps2[:50], axis=1).mean() == pytest.approx(G, rel=0.03)
    mat = recording("HA001", "Test5", "Trial1")
    np.testing.assert_allclose(rec.gyr_rads, mat.gyr_rads, atol=1e-9)  # the same gyroscope samples
    # the CSV's acceleration is the .mat's scaled by 9.81 / 9.80665 (a g conversion upstream)
    np.testing.assert_allclose(rec.acc_mps2, mat.acc_mps2 * 9.81 / G, rtol=1e-6)


def test_the_xsens_export_keeps_its_si_units_and_counter_clock():
    rec = read_imu(XSENS_THIGH, placement="thigh")
    assert rec.format == "xsens" and len(rec) == 3511
    assert rec.sampling_rate_hz == pytest.approx(120.0)
    assert rec.t_s[-1] == pytest.approx(3510 / 120.0)
    assert np.linalg.norm(rec.acc_mps2[:60], axis=1).mean() == pytest.approx(G, rel=0.05)  # already m/s^2
    assert np.abs(rec.gyr_rads).max() < 20  # rad/s, not deg/s
    assert rec.mag is not None and rec.mag_unit == "au"


def _write(tmp_path: Path, text: str, name: str = "imu.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """# placement: sacrum
# sampling_rate_hz: 100
t_s,acc_x_g,acc_y_g,acc_z_g,gyr_x_dps,gyr_y_dps,gyr_z_dps
0.00,0.0,1.0,0.0,90,0,0
0.01,0.0,1.0,0.0,90,0,0
0.02,0.0,1.0,0.0,90,0,0
0.03,0.0,1.0,0.0,90,0,0
"""


def test_the_generic_csv_converts_units_to_si(tmp_path):
    rec = read_imu(_write(tmp_path, GOOD))
    assert rec.placement == "sacrum" and rec.format == "generic"
    np.testing.assert_allclose(rec.acc_mps2[0], [0.0, G, 0.0])
    np.testing.assert_allclose(rec.gyr_rads[0], [math.pi / 2, 0.0, 0.0])
    si = (
        GOOD.replace("_g,", "_mps2,")
        .replace("acc_z_g", "acc_z_mps2")
        .replace("_dps", "_rads")
        .replace("# sampling_rate_hz: 100\n", "")
        .replace("t_s,", "t_ms,")
        .replace("0.0,1.0,0.0,90", "0.0,9.81,0.0,1.5")
    )
    si = si.replace("\n0.01,", "\n10,").replace("\n0.02,", "\n20,").replace("\n0.03,", "\n30,")
    rec = read_imu(_write(tmp_path, si, "si.csv"))
    np.testing.assert_allclose(rec.t_s, [0.0, 0.01, 0.02, 0.03])
    np.testing.assert_allclose(rec.acc_mps2[0], [0.0, 9.81, 0.0])
    np.testing.assert_allclose(rec.gyr_rads[0], [1.5, 0.0, 0.0])


@pytest.mark.parametrize(
    ("edit", "column", "line", "words"),
    [
        (lambda s: s.replace(",gyr_z_dps", ",gyro_z"), "gyro_z", 3, "{acc|gyr|mag}_{x|y|z}_{unit}"),
        (lambda s: s.replace(",gyr_z_dps", ",gyr_z_rpm"), "gyr_z_rpm", 3, "unknown unit 'rpm'"),
        (lambda s: s.replace("gyr_z_dps", "temp_c").replace(",0\n", ",0\n"), "gyr_z_<unit>", 3, "missing column"),
        (lambda s: s.replace("0.02,0.0,1.0", "0.005,0.0,1.0"), "t_s", 6, "does not increase"),
        (lambda s: s.replace("0.02,0.0,1.0,0.0,90,0,0", "0.02,0.0,,0.0,90,0,0"), "acc_y_g", 6, "empty"),
        (lambda s: s.replace("0.02,0.0,1.0,0.0,90,0,0", "0.02,0.0,nan,0.0,90,0,0"), "acc_y_g", 6, "non-finite"),
        (lambda s: s.replace("0.02,0.0,1.0,0.0,90,0,0", "0.02,0.0,one,0.0,90,0,0"), "acc_y_g", 6, "not a number"),
        (
            lambda s: s.replace("sampling_rate_hz: 100", "sampling_rate_hz: 120"),
            "t_s",
            None,
            "declared sampling rate is 120",
        ),
        (lambda s: s + "0.09,0.0,1.0,0.0,90,0,0\n", "t_s", 8, "clock gap"),
    ],
)
def test_malformed_files_name_the_file_the_column_and_the_line(tmp_path, edit, column, line, words):
    path = _write(tmp_path, edit(GOOD), "broken_imu.csv")
    with pytest.raises(SensorFormatError) as info:
        read_imu(path)
    msg = str(info.value)
    assert "broken_imu.csv" in msg and words in msg
    assert f"column {column!r}" in msg and info.value.column == column
    if line is not None:
        assert f"line {line}" in msg and info.value.line == line


def test_a_row_with_the_wrong_number_of_fields_is_named(tmp_path):
    path = _write(tmp_path, GOOD.replace("0.01,0.0,1.0,0.0,90,0,0", "0.01,0.0,1.0,0.0,90,0"))
    with pytest.raises(SensorFormatError, match=r"imu\.csv, line 5: 6 fields, expected 7"):
        read_imu(path)


def test_placement_is_required_and_must_agree(tmp_path):
    path = _write(tmp_path, GOOD.replace("# placement: sacrum\n", ""))
    with pytest.raises(SensorFormatError, match="no placement"):
        read_imu(path)
    with pytest.raises(SensorFormatError, match="declares placement 'sacrum' but 'thigh'"):
        read_imu(_write(tmp_path, GOOD, "b.csv"), placement="thigh")
    with pytest.raises(SensorFormatError, match="placement 'knee' is not one of"):
        read_imu(path, placement="knee")  # type: ignore[arg-type]


def test_without_timestamps_the_rate_must_be_declared(tmp_path):
    text = "\n".join(ln.split(",", 1)[1] if not ln.startswith("#") and ln else ln for ln in GOOD.splitlines())
    text = text.replace("# sampling_rate_hz: 100\n", "")
    with pytest.raises(SensorFormatError, match="no time column"):
        read_imu(_write(tmp_path, text))
    rec = read_imu(_write(tmp_path, text, "r.csv"), sampling_rate_hz=50.0)
    np.testing.assert_allclose(rec.t_s, [0.0, 0.02, 0.04, 0.06])
    assert "evenly spaced" in rec.notes[0]


def test_xsens_counter_gaps_and_missing_rate_are_named(tmp_path):
    lines = XSENS_THIGH.read_text().splitlines()
    gap = lines[:5] + lines[5:105] + lines[110:200]
    with pytest.raises(SensorFormatError) as info:
        read_imu(_write(tmp_path, "\n".join(gap), "xs.txt"), placement="thigh")
    assert "clock gap" in str(info.value) and info.value.column == "Counter" and info.value.line == 106
    with pytest.raises(SensorFormatError, match="Sample rate"):
        read_imu(_write(tmp_path, "\n".join(lines[2:50]), "xs2.txt"), placement="thigh")


def test_the_mobilised_csv_needs_its_rate(tmp_path):
    with pytest.raises(SensorFormatError, match="100 Hz"):
        read_imu(MOBILISED_CSV)


def test_a_missing_file_and_a_binary_file_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_imu(tmp_path / "nope.csv")
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(SensorFormatError, match="not a UTF-8 text file"):
        read_imu(p)


def test_arrays_are_read_only():
    rec = read_imu(MOBILISED_CSV, sampling_rate_hz=100.0)
    with pytest.raises(ValueError):
        rec.acc_mps2[0, 0] = 1.0
