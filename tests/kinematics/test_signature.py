"""Motion signature: features from known metrics, standardised distances and verdicts (kinematics.signature)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kinematics.signature import (
    FEATURES,
    Signature,
    SignatureError,
    distance,
    distance_to_reference,
    signature,
    verdicts,
)

NAMES = [f.name for f in FEATURES]


def metric(name, value, side=None, unit="deg", **extra) -> dict:
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "side": side,
        "measurable": value is not None,
        "source": "protocol",
        **extra,
    }


def sls(drop_left=None, drop_right=None, hold_left=None, hold_right=None) -> dict:
    ms = [
        metric("pelvic_drop_deg", drop_left, "left"),
        metric("pelvic_drop_deg", drop_right, "right"),
        metric("stance_duration_s", hold_left, "left", "s"),
        metric("stance_duration_s", hold_right, "right", "s"),
    ]
    return {"exercise": "single_leg_stance", "metrics": [m for m in ms if m["value"] is not None]}


def abduction(left, right) -> dict:
    return {
        "exercise": "standing_hip_abduction",
        "metrics": [metric("hip_abduction_range_deg", left, "left"), metric("hip_abduction_range_deg", right, "right")],
    }


def vector(**values) -> Signature:
    v = np.full(len(FEATURES), np.nan)
    for name, x in values.items():
        v[NAMES.index(name)] = x
    return Signature(v, np.where(np.isfinite(v), 1, 0))


def test_every_feature_is_documented_with_unit_and_noise_source():
    assert len(set(NAMES)) == len(NAMES)
    for f in FEATURES:
        assert f.unit and f.description and f.noise_source, f.name
        assert (f.noise_scale is None) == (f.noise_kind is None), f.name
        assert f.noise_scale is None or f.noise_scale > 0, f.name
        if f.has_reference:
            assert f.reference_source, f.name
    # The sourced figures: pelvic drop MDC 4 deg (J Sport Rehabil 2007); left-right difference propagated.
    drop = FEATURES[NAMES.index("sls_pelvic_drop_left")]
    assert drop.noise_scale == 4.0 and drop.noise_kind == "mdc" and "16(4):326" in drop.noise_source
    assert FEATURES[NAMES.index("sls_pelvic_drop_asymmetry")].noise_scale == pytest.approx(4 * math.sqrt(2), abs=0.01)


def test_features_are_means_of_the_session_metrics_and_derived_ones_follow():
    sig = signature(
        [
            sls(6.0, 2.0, 12.0, 20.0),
            sls(8.0, None, 14.0, None),
            abduction(30.0, 40.0),
            {"exercise": "squat", "metrics": [metric("pelvic_drop_deg", 50.0, "left")]},
        ]
    )  # another exercise
    assert sig.value("sls_pelvic_drop_left") == 7.0 and sig.n_sources[NAMES.index("sls_pelvic_drop_left")] == 2
    assert sig.value("sls_pelvic_drop_right") == 2.0
    assert (
        sig.value("sls_pelvic_drop_asymmetry") == 5.0 and sig.n_sources[NAMES.index("sls_pelvic_drop_asymmetry")] == 1
    )
    assert sig.value("sls_hold_time_left") == 13.0
    assert sig.value("abd_range_asymmetry") == -10.0
    assert sig.value("abd_range_symmetry_index") == pytest.approx(200 * -10 / 70)
    assert math.isnan(sig.value("flex_range_left")) and math.isnan(sig.value("flex_range_asymmetry"))
    assert sig.n_features == 9


def test_not_measurable_and_series_metrics_are_ignored():
    doc = {
        "exercise": "single_leg_stance",
        "metrics": [
            {
                "name": "pelvic_drop_deg",
                "value": None,
                "unit": "deg",
                "side": "left",
                "measurable": False,
                "source": "protocol",
            },
            {
                "name": "pelvic_drop_deg",
                "value": 9.0,
                "unit": "deg",
                "side": "right",
                "measurable": True,
                "source": "series",
            },
        ],
    }
    assert signature([doc]).n_features == 0


def test_a_unit_that_disagrees_with_the_feature_is_refused():
    doc = {"exercise": "single_leg_stance", "metrics": [metric("pelvic_drop_deg", 0.1, "left", unit="rad")]}
    with pytest.raises(SignatureError, match="unit 'rad'.*expects 'deg'"):
        signature([doc])


def test_rep_time_variability_from_rep_events():
    durations = [2.0, 2.5, 3.0, 2.5]
    t, events = 0.0, []
    for d in durations:
        events.append({"type": "rep", "start_s": t, "end_s": t + d})
        t += d + 0.5
    sig = signature(
        [{"exercise": "sit_to_stand", "metrics": [metric("time_per_rep_s", 2.5, unit="s")], "events": events}]
    )
    assert sig.value("sts_rep_time_cv") == pytest.approx(np.std(durations, ddof=1) / np.mean(durations) * 100)
    assert sig.value("sts_time_per_rep") == 2.5
    two = signature([{"exercise": "sit_to_stand", "metrics": [], "events": events[:2]}])
    assert math.isnan(two.value("sts_rep_time_cv"))  # fewer than 3 repetitions: no variability


def test_distance_to_baseline_is_the_rms_of_known_standardised_changes():
    base = vector(sls_pelvic_drop_left=8.0, abd_range_left=30.0, flex_range_left=50.0, sts_time_per_rep=2.0)
    # Known changes: -8 deg (2 MDC), +3 deg (half of 6), 0, +0.5 s (one convention unit).
    cur = vector(sls_pelvic_drop_left=0.0, abd_range_left=33.0, flex_range_left=50.0, sts_time_per_rep=2.5)
    d = distance(base, cur)
    z = {"sls_pelvic_drop_left": -2.0, "abd_range_left": 0.5, "flex_range_left": 0.0, "sts_time_per_rep": 1.0}
    assert d.comparable and d.n_used == 4
    assert d.value == pytest.approx(math.sqrt(sum(v * v for v in z.values()) / 4), abs=1e-3)
    got = {c.name: c for c in d.contributions}
    assert {n: got[n].z for n in z} == pytest.approx(z)
    assert got["sls_pelvic_drop_left"].share == pytest.approx(4.0 / 5.25, abs=1e-3)  # the feature that moved most
    assert sum(c.share for c in d.contributions) == pytest.approx(1.0, abs=2e-3)
    assert distance(base, base).value == 0.0


def test_distance_uses_only_shared_features_and_says_when_too_few():
    base = vector(sls_pelvic_drop_left=8.0, abd_range_left=30.0, flex_range_left=50.0)
    cur = vector(sls_pelvic_drop_left=4.0, abd_range_left=30.0, sts_time_per_rep=2.0)  # 2 shared
    d = distance(base, cur)
    assert d.value is None and not d.comparable and d.n_used == 2 and "at least 3" in d.reason
    d1 = distance(base, cur, min_shared=2)
    assert d1.n_used == 2 and d1.value == pytest.approx(math.sqrt((1.0 + 0.0) / 2), abs=1e-3)
    # A feature with no noise scale (symmetry index) never enters a distance.
    si = vector(abd_range_symmetry_index=0.0, sls_pelvic_drop_left=1, abd_range_left=1, flex_range_left=1)
    assert (
        distance(
            si, vector(abd_range_symmetry_index=50.0, sls_pelvic_drop_left=1, abd_range_left=1, flex_range_left=1)
        ).value
        == 0.0
    )


def test_distance_to_reference_counts_only_what_lies_outside_the_typical_range():
    inside = vector(abd_range_left=40.0, abd_range_right=45.0, sls_pelvic_drop_left=0.0, sts_hip_range=77.0)
    assert distance_to_reference(inside).value == 0.0 and distance_to_reference(inside).n_used == 4
    # Abduction 18 deg is 12 below the 30-50 deg range (2 noise scales); pelvic drop 4 deg is 1 MDC above 0.
    out = vector(abd_range_left=18.0, abd_range_right=45.0, sls_pelvic_drop_left=4.0, sts_hip_range=77.0)
    d = distance_to_reference(out)
    assert d.value == pytest.approx(math.sqrt((4.0 + 1.0) / 4), abs=1e-3)
    assert {c.name: c.difference for c in d.contributions}["abd_range_left"] == -12.0
    # Features without a sourced reference (trunk lean, standing hip flexion) are not counted.
    assert distance_to_reference(vector(flex_range_left=10.0, sls_trunk_lean_toward_stance_left=20.0)).n_used == 0


def test_verdicts_against_the_noise_scale():
    base = signature([sls(8.0, 2.0), abduction(30.0, 30.0)])
    cur = signature(
        [
            sls(4.0, 5.9),
            {"exercise": "standing_hip_abduction", "metrics": [metric("hip_abduction_range_deg", 30.0, "left")]},
            {"exercise": "standing_hip_flexion", "metrics": [metric("hip_flexion_range_deg", 40.0, "left")]},
        ]
    )
    v = {x.name: x for x in verdicts(base, cur)}
    assert v["sls_pelvic_drop_left"].verdict == "changed" and v["sls_pelvic_drop_left"].difference == -4.0  # = MDC
    assert v["sls_pelvic_drop_right"].verdict == "within noise"  # 3.9 < 4
    assert v["sls_pelvic_drop_asymmetry"].verdict == "changed"  # 6 -> -1.9: 7.9 >= 5.66
    assert v["abd_range_right"].verdict == "not comparable" and "this session" in v["abd_range_right"].reason
    assert v["flex_range_left"].verdict == "not comparable" and "baseline" in v["flex_range_left"].reason
    assert v["abd_range_symmetry_index"].verdict == "not comparable"
    si_base, si_cur = vector(abd_range_symmetry_index=0.0), vector(abd_range_symmetry_index=40.0)
    assert {x.name: x for x in verdicts(si_base, si_cur)}["abd_range_symmetry_index"].verdict == "not judged"


def test_signature_arrays_are_read_only_and_shape_checked():
    sig = signature([sls(6.0, 2.0)])
    with pytest.raises(ValueError):
        sig.values[0] = 1.0
    with pytest.raises(SignatureError, match=r"must be \(18,\)"):
        Signature(np.zeros(3), np.zeros(3, dtype=int))
