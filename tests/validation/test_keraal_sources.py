"""KERAAL through every skeleton source against the optical reference (docs/validation.md, "sources").

The bounds are the figures measured when the comparison was first run (in the
comments) plus a quarter and half a degree: a change to the schema registry, the
parser or the pipeline that makes any source agree worse fails here, and the
generated table in docs/validation.md must be the one this code computes.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.pipeline import KinematicsPipeline
from kinematics.schemas import SCHEMAS
from validation import keraal as K
from validation import keraal_sources as S

# RMSE (deg, no offset removed) against the optical reference, view gate off.
RMSE_BOUND = {
    ("BP", "CTK", "obliquity"): 2.0,  # measured 1.17
    ("BP", "CTK", "lean"): 2.0,  # measured 1.2
    # measured 8.38 and 3.71 without the frames whose hips AlphaPose collapses (KinematicsPipeline
    # min_hip_width_ratio); 10.10 and 7.44 with them, 14.58 before the plausibility gate
    ("AP", "CTK", "obliquity"): 11.0,
    ("AP", "CTK", "lean"): 5.0,
    ("OP", "CTK", "obliquity"): 5.8,  # measured 4.17
    ("OP", "CTK", "lean"): 3.6,  # measured 2.47
    ("Kinect", "CTK", "obliquity"): 4.9,  # measured 3.49
    ("Kinect", "CTK", "lean"): 3.8,  # measured 2.58
    ("BP", "ELK", "obliquity"): 5.9,  # measured 4.24
    ("BP", "ELK", "lean"): 6.5,  # measured 4.76
    ("AP", "ELK", "obliquity"): 9.5,  # measured 7.16
    ("AP", "ELK", "lean"): 6.8,  # measured 4.97
    ("OP", "ELK", "obliquity"): 3.9,  # measured 2.7
    ("OP", "ELK", "lean"): 6.2,  # measured 4.55
    ("Kinect", "ELK", "obliquity"): 7.2,  # measured 5.32
    ("Kinect", "ELK", "lean"): 15.1,  # measured 11.64
    ("BP", "RTK", "obliquity"): 3.8,  # measured 2.63
    ("BP", "RTK", "lean"): 3.0,  # measured 1.96
    ("AP", "RTK", "obliquity"): 5.0,  # measured 3.6
    ("AP", "RTK", "lean"): 2.4,  # measured 1.48
    ("OP", "RTK", "obliquity"): 5.8,  # measured 4.21
    ("OP", "RTK", "lean"): 2.9,  # measured 1.92
    ("Kinect", "RTK", "obliquity"): 8.7,  # measured 6.56
    ("Kinect", "RTK", "lean"): 7.8,  # measured 5.78
}
# AlphaPose collapses the hips (and misplaces the pose with them) in 22 of its 194 CTK frames (hands over
# the face): those are withheld (measured 172 / 194 kept); every other source keeps 95 %.
KEPT_SHARE = {("AP", "CTK"): 0.85}
# ELK is the one trial with real pelvic motion (28 deg): there the time course must be followed.
ELK_R_MIN = {"BP": 0.93, "AP": 0.70, "OP": 0.92, "Kinect": 0.85}  # measured 0.98, 0.75, 0.97, 0.90
ELK_SLOPE = {"BP": (0.45, 0.7), "AP": (0.65, 1.0), "OP": (0.8, 1.1), "Kinect": (0.85, 1.15)}  # 0.58 0.83 0.96 1.01


@pytest.fixture(scope="module")
def reports() -> dict[tuple[str, str], S.SourceReport]:
    return S.analyse_sources()


def test_every_source_file_is_read_as_its_schema():
    for src, (schema, _) in S.SOURCES.items():
        for ex in K.EXERCISES:
            lm = S.load(src, ex)
            assert lm.schema.name == schema
            assert len(lm) > 190
            # facing the camera, the subject's left is on the image's right in every source
            left, right = lm.point("left_hip")[:, 0], lm.point("right_hip")[:, 0]
            ok = np.isfinite(left) & np.isfinite(right)
            assert np.mean(left[ok] > right[ok]) > 0.95, (src, ex)


def test_openpose_frames_keep_the_joints_it_found_and_miss_the_rest():
    lm = S.load("OP", "CTK")
    assert (lm.vis("left_hip") == 1).mean() > 0.95
    assert not lm.vis("left_heel").any() and not lm.vis("left_eye_inner").any()


def test_blazepose_from_its_document_equals_the_keraal_loader():
    doc = S.load("BP", "ELK")
    direct = K.load_blazepose(K.bp_path("ELK"))
    np.testing.assert_array_equal(doc.xyz, direct.xyz)
    np.testing.assert_array_equal(doc.t_s, direct.t_s)


def test_kinect_v2_says_it_has_no_face_or_feet():
    res = KinematicsPipeline().run(S.load("Kinect", "CTK"))
    assert res.view.view == "frontal"  # side-on angles withheld for the view, not for the skeleton
    assert all("frontal view" in res.unavailable[n] for n in ("hip_flexion_left_deg", "trunk_lean_forward_deg"))
    assert {lim.what for lim in SCHEMAS["kinect_v2_25"].limits()} >= {"facing from the head", "facing from the feet"}


def test_every_source_is_aligned_to_the_optical_recording(reports):
    for (src, ex), r in reports.items():
        assert abs(r.alignment.lag_s) < 0.1, (src, ex)  # within three video frames of the BlazePose lag (~0)
        assert r.alignment.r > 0.7, (src, ex)


@pytest.mark.parametrize(("src", "ex", "quantity"), list(RMSE_BOUND))
def test_agreement_within_the_measured_bounds(reports, src, ex, quantity):
    a = reports[(src, ex)].agreement[quantity]
    assert a.n >= KEPT_SHARE.get((src, ex), 0.95) * a.available
    assert a.rmse <= RMSE_BOUND[(src, ex, quantity)]


@pytest.mark.parametrize("src", list(S.SOURCES))
def test_elk_obliquity_time_course_is_followed(reports, src):
    a = reports[(src, "ELK")].agreement["obliquity"]
    assert a.r >= ELK_R_MIN[src]
    lo, hi = ELK_SLOPE[src]
    assert lo <= a.slope <= hi


def test_kinect_reads_rtk_rotation_as_tilt(reports):
    """The documented finding: in the rotation trial the Kinect's frontal angles run against the reference."""
    a = reports[("Kinect", "RTK")].agreement
    assert a["obliquity"].r < -0.5 and a["lean"].r < -0.5
    for src in ("BP", "AP", "OP"):
        assert reports[(src, "RTK")].agreement["lean"].r > 0.6


def test_document_states_the_measured_source_figures(reports):
    documented = K.extract_block(K.DOC_PATH.read_text(encoding="utf-8"), "sources")
    assert documented is not None, "docs/validation.md has no sources block"
    problems = K.compare_block(documented, S.render_sources(reports))
    assert not problems, "docs/validation.md is stale: run bench/validate_keraal.py --write\n" + "\n".join(problems)
