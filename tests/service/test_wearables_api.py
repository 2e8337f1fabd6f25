"""Wearable files sent with a recording: stored, checked at upload, analysed by the job, deleted with it."""

from __future__ import annotations

from tests.conftest import ASTRONAUT
from tests.fusion.data import MOBILISED_CSV, UCI_5N
from tests.service.conftest import run_worker_once, stored_files


def _post(client, auth, imu: bytes | None = None, emg: bytes | None = None, **fields):
    files = {"video": ("photo.png", ASTRONAUT.read_bytes(), "image/png")}
    if imu is not None:
        files["imu"] = ("lowerback.csv", imu, "text/csv")
    if emg is not None:
        files["emg"] = ("gait.txt", emg, "text/plain")
    return client.post("/v1/assessments", headers=auth, files=files, data=fields)


def test_imu_and_emg_are_analysed_with_the_recording(client, auth, settings):
    r = _post(
        client,
        auth,
        imu=MOBILISED_CSV.read_bytes(),
        emg=UCI_5N.read_bytes(),
        imu_sampling_rate_hz="100",
        emg_hardware_delay_s="0.048",
    )
    assert r.status_code == 202, r.text
    assert len(stored_files(settings)) == 3
    run_worker_once(settings)
    done = client.get(r.headers["location"], headers=auth).json()
    assert done["status"] == "done", done.get("reason")
    w = done["wearables"]
    assert w["imu"]["placement"] == "lower_back" and 90 < w["imu"]["gait"]["cadence_steps_per_min"] < 105
    assert w["emg"]["hardware_delay_s"] == 0.048 and not w["emg"]["hardware_delay_assumed"]
    assert w["imu"]["filename"] != "lowerback.csv"  # uploaded names may carry a patient's name
    assert client.delete(r.headers["location"], headers=auth).status_code == 204
    assert stored_files(settings) == []


def test_a_malformed_imu_file_is_refused_at_upload_and_nothing_is_kept(client, auth, settings):
    bad = MOBILISED_CSV.read_bytes().replace(b"\n5,", b"\n5,oops,", 1)
    r = _post(client, auth, imu=bad, imu_sampling_rate_hz="100")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"].endswith("malformed-sensor-file")
    assert body["detail"].startswith("imu, line 7") and str(settings.uploads_path) not in body["detail"]
    assert stored_files(settings) == []


def test_wearable_fields_are_validated(client, auth, settings):
    r = _post(
        client, auth, imu=MOBILISED_CSV.read_bytes(), imu_sampling_rate_hz="100", imu_axes="up=+x,anterior=+z,left=+y"
    )
    assert r.status_code == 422 and "imu_axes" in r.json()["detail"]
    r = _post(client, auth, imu_placement="sacrum")
    assert r.status_code == 422 and "without an 'imu' or 'emg' file" in r.json()["detail"]
    assert stored_files(settings) == []


def test_cli_analyze_with_imu_and_emg(tmp_path):
    import json

    from service.cli import EXIT_INPUT, main
    from service.schemas import Assessment
    from tests.vision.test_landmark_json import document

    src = tmp_path / "phone.json"
    src.write_text(json.dumps(document(n=60)))
    out = tmp_path / "a.json"
    assert (
        main(
            [
                "analyze",
                str(src),
                "--out",
                str(out),
                "-q",
                "--imu",
                str(MOBILISED_CSV),
                "--imu-rate",
                "100",
                "--emg",
                str(UCI_5N),
                "--emg-delay",
                "0.03",
            ]
        )
        == 0
    )
    a = Assessment.model_validate_json(out.read_text())
    assert a.wearables is not None and a.wearables.imu.gait.n_steps > 5
    assert a.wearables.emg.hardware_delay_s == 0.03
    assert "sync_failed" in {q.code for q in a.wearables.quality}  # 2 s of video: too short to correlate
    assert main(["analyze", str(src), "-q", "--imu", str(MOBILISED_CSV)]) == EXIT_INPUT  # no rate: one clear line
    assert main(["analyze", str(src), "-q", "--imu", str(MOBILISED_CSV), "--imu-axes", "up=+x"]) == EXIT_INPUT
