"""The instrument fingerprint: every real fixture, every exercise, against the stored summary.

A failure lists each series, metric, count or label that moved and by how much. If the
move is intended (a better algorithm, a reviewed dependency upgrade), run
``make fingerprint-update`` and commit the diff of ``tests/fingerprint/`` with the reason.
"""

from __future__ import annotations

import json

import pytest

from tests.fingerprint import ENVIRONMENT, compare, environment, fingerprint, fixture_inputs, stored_path

INPUTS = fixture_inputs()


@pytest.mark.slow
@pytest.mark.parametrize("item", INPUTS, ids=[i.name for i in INPUTS])
def test_measurements_match_the_stored_fingerprint(item):
    path = stored_path(item)
    assert path.exists(), f"{path} missing: run `make fingerprint-update` and review the new file"
    diffs = compare(json.loads(path.read_text()), fingerprint(item))
    if diffs:
        made = json.loads(ENVIRONMENT.read_text())["packages"]
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


def test_every_fixture_has_a_stored_fingerprint_and_no_stale_ones():
    stored = {p.name for p in stored_path(INPUTS[0]).parent.glob("*.json")}
    assert stored == {stored_path(i).name for i in INPUTS}


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
