"""The real pose model over real recordings: orientation, coverage, one subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import ASTRONAUT, POSE2SIM


def _idx(name: str) -> int:
    from kinematics.series import BLAZEPOSE33

    return BLAZEPOSE33.index(name)


def test_pose2sim_portrait_clip_decodes_upright_with_a_pose_in_nearly_every_frame(pose2sim_extraction):
    ex = pose2sim_extraction
    assert (ex.media.width, ex.media.height) == (1080, 1920)
    assert ex.media.frames_read == 100
    with_pose = ex.image.visibility.max(axis=1) > 0
    assert with_pose.mean() >= 0.95
    # Upright: the nose is above the hips, which are above the ankles (y grows downward).
    y = ex.image.xyz[with_pose, :, 1]
    hips = y[:, [_idx("left_hip"), _idx("right_hip")]].mean(axis=1)
    ankles = y[:, [_idx("left_ankle"), _idx("right_ankle")]].mean(axis=1)
    assert np.all(y[:, _idx("nose")] < hips) and np.all(hips < ankles)
    # Timestamps are the container's: 60 fps, first frame at 0.
    np.testing.assert_allclose(np.diff(ex.image.t_s), 1 / 60, atol=1e-6)


def test_pose2sim_world_landmarks_have_human_proportions(pose2sim_extraction):
    w = pose2sim_extraction.world
    assert w is not None and w.space == "world_m"
    thigh = np.linalg.norm(w.point("left_knee") - w.point("left_hip"), axis=1)
    assert 0.3 < np.nanmedian(thigh) < 0.6  # metres


def test_the_first_subject_is_followed_when_a_second_person_walks_in(sports2d_extraction):
    """Sports2D demo: a man stands and walks on a box (hips at y ~0.22-0.31 of
    the frame height) while a woman walks past below him (hips at y ~0.72)
    from 3.5 s on; he jumps down at ~5.7 s. The model sees both people; the
    followed subject must never become the woman."""
    ex = sports2d_extraction
    assert ex.subject.max_people_in_frame == 2
    assert ex.subject.frames_with_other_people > 30
    with_pose = ex.image.visibility.max(axis=1) > 0
    on_box = with_pose & (ex.image.t_s < 5.7)
    assert on_box.sum() > 120
    hip_y = ex.image.xyz[on_box][:, [_idx("left_hip"), _idx("right_hip")], 1].mean(axis=1)
    assert np.all(hip_y < 0.47), f"followed a person with hips at y={hip_y.max():.2f} (the woman walks at ~0.72)"
    # ...and stays on the box, which spans x ~0.05-0.45 of the frame width (his
    # hips reach 0.47 at the far end), while the woman walks from x ~0.55 to 0.
    hip_x = ex.image.xyz[on_box][:, [_idx("left_hip"), _idx("right_hip")], 0].mean(axis=1)
    assert np.all((hip_x > 0.3) & (hip_x < 0.5))


def test_hips_out_of_view_are_not_measurable(tmp_path):
    from service.analysis import analyze_file

    a = analyze_file(ASTRONAUT)
    assert a.input.kind == "image" and a.input.frames_with_pose == 1
    for name in ("pelvic_obliquity_deg", "hip_abduction_left_deg", "hip_flexion_left_deg"):
        assert a.series[name] is None
        assert name in a.unavailable
    codes = {q.code for q in a.quality}
    assert "hips_not_visible" in codes
    assert all(not m.measurable for m in a.metrics)


def _sha(model: str) -> str:
    import tomllib

    with open(Path(__file__).resolve().parents[2] / "models" / "manifest.toml", "rb") as f:
        return tomllib.load(f)["models"][model]["sha256"]


def test_whole_video_assessment_reports_only_what_the_view_allows():
    from service.analysis import analyze_file

    a = analyze_file(POSE2SIM)
    # front-oblique (17-46 deg by the four-camera reference, validation/multiview.py)
    assert a.view.view == "oblique"
    assert a.view.facing == "front"
    assert a.series["hip_flexion_left_deg"] is None and a.series["pelvic_obliquity_deg"] is None
    assert "oblique view" in a.unavailable["pelvic_obliquity_deg"]
    assert len(a.series["t_s"]) == 100
    # provenance: the default model (ONNX BlazePose Full, settings.pose_backend) as the manifest pins it
    assert a.model["name"] == "blazepose_full_onnx"
    assert a.model["sha256"] == _sha("blazepose_full_onnx")


def test_a_blurred_video_gets_coaching_instead_of_scores(tmp_path):
    """The same real clip, sharp and blurred: the blurred one is flagged and not scored."""
    import av
    import cv2

    from service.analysis import BLUR_THRESHOLD, analyze_file

    def write(path, sigma):
        with av.open(str(POSE2SIM)) as src, av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=60)
            stream.width, stream.height, stream.pix_fmt = 540, 960, "yuv420p"
            for i, frame in enumerate(src.decode(video=0)):
                if i >= 40:
                    break
                rgb = cv2.resize(frame.to_ndarray(format="rgb24"), (540, 960), interpolation=cv2.INTER_AREA)
                if sigma:
                    rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)

    sharp, blurred = tmp_path / "sharp.mp4", tmp_path / "blurred.mp4"
    write(sharp, 0)
    write(blurred, 4)
    a, b = analyze_file(sharp, exercise="squat"), analyze_file(blurred, exercise="squat")
    assert a.input.sharpness > BLUR_THRESHOLD > b.input.sharpness
    assert "blurred" not in {c.code for c in a.coaching}
    assert "blurred" in {c.code for c in b.coaching}
    assert b.findings == [] and not [m for m in b.metrics if m.source == "protocol"]
    assert "blurred" in {q.code for q in b.quality}
