"""The patient page streams the fake camera and a replayed sensor recording, and shows the timing cue.

Chromium's camera plays the synthetic clip; the page replays a synthetic sacral IMU (four pelvic
tilts) and EMG (abdominals on 60 ms before each) from CSV files in real time on the same live
socket, in the binary block form, and a real server answers with its causal analysis.
"""

from __future__ import annotations

import re

import pytest

from tests.service import live_sensor_data as D
from tests.web.conftest import screenshot

pytestmark = pytest.mark.slow


def test_the_page_replays_sensors_beside_the_camera_and_shows_the_timing_cue(page, server, tmp_path, rng):
    imu_path, emg_path, _ = D.synthetic_session(tmp_path, rng)
    page.goto(f"{server.base}/app/patient#key={server.app_key}")
    page.get_by_test_id("exercise-select").locator("option").first.wait_for(state="attached")
    page.get_by_test_id("exercise-select").select_option("standing_hip_flexion")
    page.get_by_test_id("start-camera").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"live-status\"]').textContent.startsWith('Live')",
        timeout=60_000,
    )
    page.get_by_test_id("sensor-files").set_input_files([str(imu_path), str(emg_path)])
    status = page.get_by_test_id("sensor-status")
    page.wait_for_function(  # the page reads the files asynchronously
        "() => document.querySelector('[data-testid=\"sensor-status\"]').textContent !== 'No sensor file chosen.'",
        timeout=30_000,
    )
    assert re.search(r"sacrum\.csv: IMU, 100 Hz, 18\.0 s; emg\.csv: EMG, 1000 Hz, 18\.0 s", status.inner_text())
    frames_before = int(page.get_by_test_id("stage").get_attribute("data-answered"))
    page.get_by_test_id("replay-sensors").click()
    # the first tilt starts 4 s into the recording; its cue comes about a second later
    cue = page.get_by_test_id("timing-cue")
    page.wait_for_function(
        "() => /ms before the movement/.test(document.querySelector('[data-testid=\"timing-cue\"]').textContent)",
        timeout=30_000,
    )
    text = cue.inner_text()
    screenshot(page, "patient-sensors.png")
    delta = int(re.fullmatch(r"Abdominals on (\d+) ms before the movement\.", text).group(1))
    assert 60 <= delta <= 130, text  # a 60 ms lead; the speed threshold fires 30-40 ms into the movement
    assert "Pelvis: obliquity" in status.inner_text()
    # the camera's frames went on being answered while the sensors streamed
    assert int(page.get_by_test_id("stage").get_attribute("data-answered")) > frames_before
    assert int(page.get_by_test_id("sensor-card").get_attribute("data-answered")) > 50
