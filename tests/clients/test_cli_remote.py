"""``motionscript --server URL analyze``: the remote run writes the document the local run writes."""

from __future__ import annotations

import json

import pytest

from clients import cli_remote
from tests.vision.test_landmark_json import document


@pytest.fixture
def landmarks_file(tmp_path):
    path = tmp_path / "landmarks.json"
    path.write_text(json.dumps(document(n=60)))
    return path


def test_remote_analysis_writes_the_same_document_as_the_local_one(server, landmarks_file, tmp_path, capsys):
    from service.cli import main as local_main

    remote, local = tmp_path / "remote.json", tmp_path / "out" / "local.json"
    args = ["analyze", str(landmarks_file), "--exercise", "single_leg_stance"]
    assert cli_remote.main(["--server", server.url, "--api-key", server.key, *args, "--out", str(remote)]) == 0
    assert "wrote" in capsys.readouterr().err
    assert local_main([*args, "--out", str(local), "-q"]) == 0
    r, loc = json.loads(remote.read_text()), json.loads(local.read_text())
    assert list(r) == list(loc)  # same fields in the same order
    for name in (
        "schema_version",
        "exercise",
        "view",
        "series",
        "confidence",
        "unavailable",
        "metrics",
        "events",
        "findings",
        "coaching",
        "conventions",
    ):
        assert r[name] == loc[name], name
    assert r["input"] == {**loc["input"], "filename": None}  # the server never keeps an uploaded file's name
    assert remote.read_text().startswith('{\n "schema_version"')  # indent=1, like the local CLI


def test_key_from_the_environment_and_json_on_stdout(server, landmarks_file, monkeypatch, capsys):
    monkeypatch.setenv("MOTIONSCRIPT_API_KEY", server.key)
    assert cli_remote.main(["--server", server.url, "analyze", str(landmarks_file), "--compact", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["input"]["kind"] == "landmarks"


def test_failures_give_one_line_and_the_local_exit_codes(server, tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video\n" * 100)
    assert cli_remote.main(["--server", server.url, "--api-key", server.key, "analyze", str(bad)]) == 2
    assert "415" in capsys.readouterr().err
    assert cli_remote.main(["--server", server.url, "--api-key", "ms_x_y", "analyze", str(bad)]) == 1
    assert "401" in capsys.readouterr().err
    assert cli_remote.main(["--server", server.url, "analyze", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err


def test_exercise_choices_are_the_protocol_names_in_order(capsys):
    # clients/ may not import kinematics, so cli_remote keeps a copy; the tests may look inside
    from kinematics.protocol_names import PROTOCOL_NAMES

    assert cli_remote.EXERCISES == PROTOCOL_NAMES
    with pytest.raises(SystemExit):
        cli_remote.parser().parse_args(["--server", "http://x", "analyze", "--help"])
    assert "{" + ",".join(PROTOCOL_NAMES) + "}" in capsys.readouterr().out  # what --help shows, in order


@pytest.mark.parametrize(
    "argv,remote",
    [
        (["--server", "http://x", "analyze", "a.mp4"], True),
        (["--server=http://x", "analyze", "a.mp4"], True),
        (["--api-key", "k", "--server", "http://x", "analyze", "a.mp4"], True),
        (["--debug", "--server", "http://x", "analyze", "a.mp4"], True),
        (["analyze", "a.mp4"], False),
        (["analyze", "--server", "a.mp4"], False),
        (["serve", "--port", "8000"], False),
    ],
)
def test_is_remote_looks_only_before_the_command(argv, remote):
    assert cli_remote.is_remote(argv) is remote


def test_remote_overlay_is_the_annotated_video(server, tmp_path, capsys):
    import av

    from tests.conftest import FIXTURES

    clip = FIXTURES / "video" / "sports2d_jumping_jacks.mp4"
    out = tmp_path / "jj.mp4"
    argv = ["--server", server.url, "--api-key", server.key, "analyze", str(clip), "--overlay", str(out), "-q"]
    assert cli_remote.main([*argv, "--out", str(tmp_path / "a.json")]) == 0
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264" and sum(1 for _ in c.decode(video=0)) == 85
    # An app key may analyse but not see the recording: the overlay is refused with the local exit code 1.
    argv[3] = server.app_key
    assert cli_remote.main([*argv, "--out", str(tmp_path / "b.json")]) == 1
    assert "403" in capsys.readouterr().err
