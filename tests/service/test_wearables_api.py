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


# -- sensor-only assessments (no camera) -----------------------------------------------------------


def _post_sensors(client, auth, imu: bytes | None = None, emg: bytes | None = None, **fields):
    files = {}
    if imu is not None:
        files["imu"] = ("lowerback.csv", imu, "text/csv")
    if emg is not None:
        files["emg"] = ("gait.txt", emg, "text/plain")
    return client.post("/v1/assessments", headers=auth, files=files, data=fields)


def test_an_imu_alone_gives_a_gait_assessment(client, auth, settings):
    r = _post_sensors(
        client,
        auth,
        imu=MOBILISED_CSV.read_bytes(),
        imu_placement="lower_back",
        imu_sampling_rate_hz="100",
        imu_axes="mobilised",
        imu_height_m="0.964",
        exercise="gait",
    )
    assert r.status_code == 202, r.text
    assert client.get(r.headers["location"], headers=auth).json()["input_kind"] == "sensors"
    run_worker_once(settings)
    done = client.get(r.headers["location"], headers=auth).json()
    assert done["status"] == "done", done.get("reason")
    assert done["input"]["kind"] == "sensors" and done["view"]["view"] == "none"
    assert done["series"]["pelvic_obliquity_deg"] is None and "camera" in done["unavailable"]["pelvic_obliquity_deg"]
    contacts = [e for e in done["events"] if e["type"] == "initial_contact"]
    assert len(contacts) >= 10 and {e["side"] for e in contacts} == {"left", "right"}
    assert [e["type"] for e in done["events"]].count("walking_bout") == 1
    metrics = {(m["name"], m["side"]): m for m in done["metrics"]}
    assert 95 < metrics["cadence_steps_per_min", None]["value"] < 103  # reference 98.4 steps/min
    assert metrics["step_time_s", "left"]["ci95"] is not None
    assert 1.0 < metrics["stride_length_m", None]["value"] < 1.35  # optical reference 1.17 m
    assert done["wearables"]["imu"]["gait"]["strides"]
    assert client.delete(r.headers["location"], headers=auth).status_code == 204
    assert stored_files(settings) == []


def test_emg_alone_is_accepted(client, auth, settings):
    r = _post_sensors(client, auth, emg=UCI_5N.read_bytes())
    assert r.status_code == 202, r.text
    run_worker_once(settings)
    done = client.get(r.headers["location"], headers=auth).json()
    assert done["status"] == "done", done.get("reason")
    assert done["input"]["kind"] == "sensors" and len(done["wearables"]["emg"]["channels"]) == 4
    assert done["wearables"]["imu"] is None and done["events"] == []


def test_a_multipart_without_any_recording_is_refused_naming_the_fields(client, auth, settings):
    body = b'--b0\r\nContent-Disposition: form-data; name="exercise"\r\n\r\ngait\r\n--b0--\r\n'
    headers = {**auth, "content-type": "multipart/form-data; boundary=b0"}
    r = client.post("/v1/assessments", headers=headers, content=body)
    assert r.status_code == 422, r.text
    body = r.json()
    assert "'video'" in body["detail"] and "'imu'" in body["detail"] and "'emg'" in body["detail"]
    assert body["accepted"] == ["video", "imu", "emg"]
    assert stored_files(settings) == []


def test_cli_imu_alone_and_nothing_at_all(tmp_path, capsys):
    import json

    from service.cli import EXIT_INPUT, main

    out = tmp_path / "a.json"
    args = ["analyze", "--imu", str(MOBILISED_CSV), "--imu-placement", "lower_back", "--imu-rate", "100"]
    assert main([*args, "--imu-axes", "mobilised", "--exercise", "gait", "--out", str(out), "-q"]) == 0
    doc = json.loads(out.read_text())
    assert doc["input"]["kind"] == "sensors" and doc["exercise"] == "gait"
    assert sum(e["type"] == "initial_contact" for e in doc["events"]) >= 10
    assert doc["wearables"]["imu"]["gait"]["cadence_steps_per_min"] > 90
    capsys.readouterr()
    assert main(["analyze"]) == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--imu" in err[0] and "video" in err[0] and "landmark JSON" in err[0]
