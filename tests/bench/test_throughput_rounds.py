"""`bench throughput`'s interleaved rounds: every mode once per round, each round in another order,
and ratios taken against the same round's bare run (the host's speed drifts between rounds)."""

from pathlib import Path

import bench.throughput as tp


def test_each_round_runs_every_mode_once_in_a_rotated_order(monkeypatch):
    calls = []

    def fake_run(mode, clip, workers=2):
        calls.append(mode)
        return {"fps": 10.0, "frames": 1800}

    monkeypatch.setattr(tp, "run", fake_run)
    modes = ["bare", "parallel", "parallel_threads"]
    rounds = tp.interleaved(modes, Path("clip.mp4"), 2, 4)
    assert [sorted(r) for r in rounds] == [sorted(modes)] * 4
    assert calls == [
        "bare", "parallel", "parallel_threads",
        "parallel", "parallel_threads", "bare",
        "parallel_threads", "bare", "parallel",
        "bare", "parallel", "parallel_threads",
    ]  # fmt: skip


def test_the_median_is_the_middle_run_or_the_mean_of_the_two_middle_ones():
    assert tp._median([1.3, 0.9, 1.1]) == 1.1
    assert tp._median([1.0, 4.0, 2.0, 3.0]) == 2.5
    assert tp._median([0.7]) == 0.7
