"""The instrument fingerprint: every real fixture, every exercise, against the stored summary.

A failure lists each series, metric, count or label that moved and by how much. If the
move is intended (a better algorithm, a reviewed dependency upgrade), run
``make fingerprint-update`` and commit the diff of ``tests/fingerprint/`` with the reason.
"""

from __future__ import annotations

import json

import pytest

from tests.fingerprint import (
    TOLERANCE,
    VALUES_ROOT,
    compare,
    cpu_class,
    environment,
    fingerprint,
    fixture_inputs,
    stored_path,
    values_dir,
)

INPUTS = fixture_inputs()


@pytest.mark.slow
@pytest.mark.parametrize("item", INPUTS, ids=[i.name for i in INPUTS])
def test_measurements_match_the_stored_fingerprint(item):
    path = stored_path(item)
    assert path.exists(), (
        f"{path} missing: no fingerprint for this machine's CPU class ({cpu_class()}) or for this input: "
        "run `make fingerprint-update` here and review the new files against the other classes' "
        f"({', '.join(sorted(d.name for d in VALUES_ROOT.iterdir() if d.is_dir()))})"
    )
    diffs = compare(json.loads(path.read_text()), fingerprint(item))
    if diffs:
        made = json.loads((values_dir() / "environment.json").read_text())["packages"]
        now = environment()["packages"]
        changed = {
            k: f"{made.get(k)} -> {now.get(k)}" for k in sorted(set(made) | set(now)) if made.get(k) != now.get(k)
        }
        pytest.fail(
            f"{item.name}: {len(diffs)} measured values moved"
            + (f" (packages changed since the fingerprint: {changed})" if changed else "")
            + ":\n  "
            + "\n  ".join(diffs[:60])
            + ("\n  ..." if len(diffs) > 60 else ""),
            pytrace=False,
        )


def test_every_cpu_class_has_every_fixture_and_no_stale_ones():
    classes = sorted(d.name for d in VALUES_ROOT.iterdir() if d.is_dir())
    assert classes and set(classes) <= {"avx512", "avx2", "baseline"}
    for cpu in classes:
        stored = {p.name for p in values_dir(cpu).glob("*.json")} - {"environment.json"}
        assert stored == {stored_path(i, cpu).name for i in INPUTS}, cpu
        assert cpu_class(json.loads((values_dir(cpu) / "environment.json").read_text())["cpu_flags"]) == cpu


#: The fixtures whose stored values differ by CPU class beyond the tolerance (tests/fingerprint/__init__.py):
#: the two-person clips and the multi-person Pose2Sim set, where the tracker amplifies the kernels' last bits.
CPU_SENSITIVE = {"pose2sim_multi_cam01", "pose2sim_multi_cam02", "pose2sim_multi_cam03", "sports2d_two_people"}


def test_cpu_classes_agree_on_every_fixture_but_the_multi_person_ones():
    """The instruction set may only change what a knife-edge tracking decision does; anywhere
    else the stored sets must agree within the tolerance, or a CPU changes the instrument."""
    classes = sorted(d.name for d in VALUES_ROOT.iterdir() if d.is_dir())
    if len(classes) < 2:
        pytest.skip("one CPU class stored")
    differ = set()
    for item in INPUTS:
        first, *others = (json.loads(stored_path(item, cpu).read_text()) for cpu in classes)
        if any(compare(first, other) for other in others):
            differ.add(item.name)
    assert differ == CPU_SENSITIVE
    assert TOLERANCE["deg"] <= 0.2  # (the agreement above is within the instrument's own tolerance)


def test_compare_reports_what_moved_and_by_how_much():
    a = {
        "series": {"x_deg": {"unit": "deg", "n_valid": 10, "mean": 1.0, "samples": {"3": 2.0}}},
        "findings": ["a:info"],
    }
    b = {
        "series": {"x_deg": {"unit": "deg", "n_valid": 10, "mean": 1.15, "samples": {"3": 2.5}}},
        "findings": ["a:attention"],
    }
    assert compare(a, b) == [
        'findings: ["a:info"] -> ["a:attention"]',
        "series.x_deg.samples.3: moved +0.500 deg (2.0 -> 2.5; tolerance 0.2 deg)",
    ]
    b["series"]["x_deg"]["n_valid"] = 11
    assert "series.x_deg.n_valid: 10 -> 11" in compare(a, b)
