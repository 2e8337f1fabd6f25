"""Single-camera view and facing against the pose2sim four-camera reference (docs/validation.md)."""

from __future__ import annotations

import numpy as np
import pytest

from validation import multiview as mv

STALE = (
    "docs/validation.md no longer says what validation/multiview.py measures: run bench/validate_multiview.py --write"
)


@pytest.fixture(scope="module")
def single() -> list[mv.CameraReport]:
    return mv.analyse("single")


@pytest.fixture(scope="module")
def multi() -> list[mv.CameraReport]:
    return mv.analyse("multi")


def test_calibration_reprojects_the_pipeline_landmarks_within_a_few_percent_of_the_body():
    cams = mv.read_qca(mv.CALIBRATION)
    assert [c.name for c in cams] == ["cam01", "cam02", "cam03", "cam04"]
    tri = mv.triangulate(cams, mv.load_views("single"))
    # ~15 px on a ~800 px tall person: the disagreement of BlazePose between views, not calibration
    assert np.nanmedian(tri.error_px[:, mv._CORE]) < 20.0
    pelvis_z = np.nanmedian(mv._mid(tri.xyz_m, "left_hip", "right_hip")[:, 2])
    assert 0.7 < pelvis_z < 1.1  # metres above the floor: z is up, the scale is right


def test_reference_places_the_cameras_where_the_pictures_show_them(single):
    ref = {r.name: float(np.nanmedian(r.reference_yaw_deg)) for r in single}
    assert abs(ref["pose2sim_cam01"]) < 45 and abs(ref["pose2sim_cam02"]) < 45  # his front
    assert abs(ref["pose2sim_cam03"]) > 120 and abs(ref["pose2sim_cam04"]) > 120  # his back
    assert all(r.independent for r in single)  # each reference is built without the camera's own view


def test_single_camera_yaw_against_the_reference(single):
    errors = np.concatenate([r.yaw_error_deg for r in single])
    assert np.nanmedian(errors) <= 15.0
    for r in single:
        assert np.nanmedian(r.yaw_error_deg) <= 15.0, r.name
        assert r.facing == ("front" if "cam01" in r.name or "cam02" in r.name else "back"), r.name
    # a back view read as a front one mirrors left and right for the clinician: never, frame by frame
    assert sum(r.front_back_errors for r in single) == 0
    assert sum(r.front_back_frames for r in single) >= 350  # and the facing is called, not withheld


def test_reference_facing_does_not_flip_between_frames():
    """The anatomical left is kept along the continuous hip-shoulder line, so the reference
    cannot turn half a circle between two frames 17 ms apart (its nose/toe vote alone did)."""
    xyz = mv.triangulate(mv.read_qca(mv.CALIBRATION), mv.load_views("single")).xyz_m
    left, _ = mv.body_axes(xyz)
    step = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", left[1:], left[:-1]), -1.0, 1.0)))
    assert np.nanmax(step) < 30.0


def test_view_agreement_with_the_reference(single):
    # Measured 0.70 (docs/validation.md); the target of 0.90 is not reached: the
    # subject stands 20-45 deg from the cameras, on the 30 deg frontal/oblique edge.
    assert np.mean(np.concatenate([r.agreement for r in single])) >= 0.65
    # frames called with at least 80 % probability agree (reported apart, never instead)
    sure = np.concatenate([r.confident for r in single])
    assert sure.mean() >= 0.3 and np.mean(np.concatenate([r.agreement for r in single])[sure]) >= 0.9
    # no recording is read as a view the reference does not give it: over-cautious at worst
    for r in single:
        truth = mv._band(mv.fold(np.array([np.nanmedian(np.abs(r.reference_yaw_deg))])))[0]
        assert r.recording_view in (truth, "oblique"), r.name


#: The CPU class the figures in docs/validation.md were generated on (tests/fingerprint: onnxruntime's kernels
#: differ in the last bits by instruction set, and on these multi-person clips the tracker amplifies them).
DOC_CPU_CLASS = "avx512"


def test_document_states_the_measured_figures(single, multi):
    from tests.fingerprint import cpu_class

    if cpu_class() != DOC_CPU_CLASS:
        pytest.skip(
            f"docs/validation.md's figures were made with {DOC_CPU_CLASS} kernels and this machine runs "
            f"{cpu_class()}: on these clips they differ by a few per cent (e.g. the woman's strict agreement 42 -> 38 %); "
            "the conclusions are asserted by the other tests here on every CPU"
        )
    doc = mv.DOC_PATH.read_text(encoding="utf-8")
    problems = mv.BLOCKS.stale(doc, mv.render_blocks(single, multi))
    assert not problems, STALE + "\n" + "\n".join(problems[:20])


def test_the_triangulated_body_proportions_are_an_adults():
    """The width ratios docs/validation.md reports (and the estimator's defaults are compared with)."""
    people = {tuple(p[0]): p for r in mv.RECORDINGS for p in mv.anatomy(r)}
    assert len(people) == 3  # the man alone, and the woman and the man of the two-person clip
    for _, trunk_m, shoulders, hips in people.values():
        assert 0.4 < trunk_m < 0.6 and 0.6 < shoulders < 0.75 and 0.33 < hips < 0.45


def test_a_yaw_about_the_true_vertical_is_the_reference_and_about_the_image_vertical_is_not():
    """docs/validation.md: with no landmark error at all, knowing where *up* is decides the view;
    the trunk's own axis or the image's vertical (what one camera knows) do not reach 90 %."""
    ceil = mv.ceilings("single")
    share = {k: float(np.mean(np.concatenate(v))) for k, v in ceil.items()}
    assert share["true vertical"] >= 0.98
    assert share["trunk axis"] < 0.9 and share["image vertical"] < 0.9


def test_the_reference_decides_most_frames_bands():
    """Spread of the folded yaw over the four three-camera references: a few degrees."""
    for ref, sd in mv.reference_spread("single"):
        assert np.nanmedian(sd) < 5.0
        assert np.mean(mv.edge_distance_deg(ref) > sd) > 0.75
