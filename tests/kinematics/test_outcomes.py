"""ODI and pain NRS scoring, and change judgement against the MCID / MDC, with known values."""

from __future__ import annotations

import pytest

from kinematics.errors import InputError
from kinematics.outcomes import (
    MOTION_MDC,
    NRS_MCID,
    ODI_MCID,
    ODI_SECTIONS,
    OutcomeError,
    judge_metric_change,
    judge_outcome_change,
    odi_band,
    score_nrs,
    score_odi,
)


def answers(value: int | None = 0, **overrides: int | None) -> dict[str, int | None]:
    out = dict.fromkeys(ODI_SECTIONS, value)
    out.update(overrides)
    return out


def test_worked_example_one_section_missing_divides_by_45():
    # Fairbank & Pynsent 2000: one section missing -> sum / 45. Sum 16 over nine sections.
    a = answers(2, sex_life=None, walking=0)
    got = score_odi(a)
    assert got.raw_sum == 16 and got.answered == 9 and got.missing == ("sex_life",)
    assert got.percent == 35.6  # 16 / 45 = 35.56 %
    assert got.band == "moderate"


@pytest.mark.parametrize(("value", "percent"), [(0, 0.0), (5, 100.0), (3, 60.0)])
def test_complete_questionnaire_is_sum_times_two(value, percent):
    assert score_odi(answers(value)).percent == percent


def test_two_missing_divide_by_40():
    got = score_odi(answers(1, sex_life=None, lifting=None))
    assert got.percent == 20.0 and got.missing == ("lifting", "sex_life") and got.answered == 8


def test_three_missing_are_refused_naming_them():
    with pytest.raises(OutcomeError, match=r"3 sections unanswered \(lifting, sex_life, travelling\); at most 2"):
        score_odi(answers(1, sex_life=None, lifting=None, travelling=None))


def test_missing_limit_is_a_parameter():
    assert score_odi(answers(1, sex_life=None, lifting=None, travelling=None), max_missing=3).percent == 20.0
    with pytest.raises(OutcomeError, match="at most 0"):
        score_odi(answers(1, sex_life=None), max_missing=0)


@pytest.mark.parametrize("bad", [6, -1, 2.0, True, "3"])
def test_out_of_range_or_non_integer_answer_names_the_section(bad):
    with pytest.raises(OutcomeError, match=r"answers\.walking: .* integer 0-5 or null"):
        score_odi(answers(1, walking=bad))


def test_unknown_and_absent_sections_are_refused():
    with pytest.raises(OutcomeError, match=r"answers\.walkin: not an ODI section"):
        score_odi({**answers(1), "walkin": 2})
    a = answers(1)
    del a["travelling"]
    with pytest.raises(OutcomeError, match="travelling not given; send null"):
        score_odi(a)


def test_outcome_error_is_an_input_error_and_a_value_error():
    assert issubclass(OutcomeError, InputError) and issubclass(OutcomeError, ValueError)


@pytest.mark.parametrize(
    ("percent", "band"),
    [
        (0, "minimal"),
        (20, "minimal"),
        (20.1, "moderate"),
        (35.6, "moderate"),
        (40, "moderate"),
        (41, "severe"),
        (60, "severe"),
        (61, "crippled"),
        (80, "crippled"),
        (81, "bed-bound or exaggerating"),
        (100, "bed-bound or exaggerating"),
    ],
)
def test_bands_follow_fairbank(percent, band):
    assert odi_band(percent) == band


def test_nrs_accepts_integers_0_to_10_only():
    assert [score_nrs(v) for v in (0, 5, 10)] == [0, 5, 10]
    for bad in (-1, 11, 3.5, True, None):
        with pytest.raises(OutcomeError, match="value: .* expected an integer 0-10"):
            score_nrs(bad)


@pytest.mark.parametrize(
    ("baseline", "current", "judgement"),
    [
        (50.0, 40.0, "improved"),  # 10 points: the MCID
        (50.0, 41.0, "unchanged"),  # 9 points, 18 %
        (20.0, 14.0, "improved"),  # 6 points but 30 % of baseline
        (20.0, 15.0, "unchanged"),  # 5 points, 25 %
        (30.0, 40.0, "worse"),  # 10 points worse
        (10.0, 14.0, "unchanged"),  # +40 % but the percentage counts for improvement only
        (0.0, 0.0, "unchanged"),
    ],
)
def test_odi_change_against_mcid(baseline, current, judgement):
    assert judge_outcome_change(baseline, current, ODI_MCID).judgement == judgement


@pytest.mark.parametrize(
    ("baseline", "current", "judgement"),
    [
        (7, 5, "improved"),
        (7, 6, "unchanged"),
        (3, 2, "improved"),  # 1 point = 33 % of 3
        (4, 6, "worse"),
        (2, 3, "unchanged"),
        (0, 1, "unchanged"),
    ],
)
def test_nrs_change_against_mcid(baseline, current, judgement):
    change = judge_outcome_change(baseline, current, NRS_MCID)
    assert change.judgement == judgement and change.delta == current - baseline


def test_pelvic_drop_without_intervals_uses_the_mdc_alone():
    mdc = MOTION_MDC["pelvic_drop_deg"]
    assert mdc.points == 4.0 and "16(4):326" in mdc.source
    assert judge_metric_change(9.0, 4.5, mdc).judgement == "improved"
    assert judge_metric_change(9.0, 6.0, mdc).judgement == "unchanged"
    assert judge_metric_change(3.0, 7.5, mdc).judgement == "worse"


def test_pelvic_drop_interval_straddling_the_mdc_is_inconclusive():
    mdc = MOTION_MDC["pelvic_drop_deg"]
    # se of each = 1.96 / 1.96 = 1 deg -> change interval delta +- 1.96 * sqrt(2) = +-2.77 deg
    got = judge_metric_change(10.0, 5.0, mdc, baseline_ci95=(8.04, 11.96), current_ci95=(3.04, 6.96))
    assert got.judgement == "inconclusive" and got.ci95 == pytest.approx((-7.772, -2.228), abs=1e-3)
    assert "-4 deg" in got.reason
    tight = judge_metric_change(10.0, 5.0, mdc, baseline_ci95=(9.9, 10.1), current_ci95=(4.9, 5.1))
    assert tight.judgement == "improved"
    small = judge_metric_change(10.0, 9.5, mdc, baseline_ci95=(9.5, 10.5), current_ci95=(9.0, 10.0))
    assert small.judgement == "unchanged"  # interval -1.9..0.9 is clear of both +-4
    one_sided = judge_metric_change(10.0, 5.0, mdc, baseline_ci95=(8.04, 11.96))
    assert one_sided.judgement == "improved" and one_sided.ci95 is None
