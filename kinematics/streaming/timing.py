"""Muscle onset against movement onset, per repetition, as the onsets arrive.

The offline row (:class:`~kinematics.fusion.EmgAnalysis`, ``timing_ms``): for each movement
onset, each channel's first onset within ``timing_window_s`` (before, after) of it, and
``muscle - movement`` in ms, **negative = the muscle started first**. Live, a movement's row
is settled once the EMG has been analysed far enough past the window's end that no onset in
it can still be reported; until then it waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinematics.fusion.emg_io import EmgChannel

__all__ = ["MuscleTiming", "TimingRow"]


@dataclass(frozen=True)
class TimingRow:
    """One movement and one channel, as offline's ``timing_ms`` row (times on one clock, s)."""

    channel: str
    label: str
    movement_onset_s: float
    muscle_onset_s: float | None
    delta_ms: float | None  # muscle - movement; < 0: the muscle started first
    already_on: bool = False  # no onset in the window, but a burst begun earlier was still on


@dataclass
class MuscleTiming:
    """Pairs muscle onsets with movement onsets (both on the same clock) per repetition.

    Parameters
    ----------
    channels
        The EMG channels paired.
    window_s
        ``(before, after)`` a movement onset, as offline (``EmgAnalysis.timing_window_s``).
    report_delay_s
        How long after an onset the EMG stream can still report it (the longer of the
        detector's window and ``min_burst_s``): a row waits for the EMG analysed to
        ``movement + after + report_delay_s``.
    """

    channels: tuple[EmgChannel, ...]
    window_s: tuple[float, float] = (0.5, 0.5)
    report_delay_s: float = 0.03
    _movements: list[float] = field(default_factory=list, init=False)
    _muscles: dict[str, list[float]] = field(default_factory=dict, init=False)
    _ends: dict[str, list[tuple[float, float]]] = field(default_factory=dict, init=False)

    def add_movement(self, t_s: float) -> None:
        self._movements.append(float(t_s))

    def add_muscle(self, channel: str, t_s: float) -> None:
        self._muscles.setdefault(channel, []).append(float(t_s))

    def add_burst_end(self, channel: str, onset_s: float, offset_s: float) -> None:
        """A burst's end (EmgBlock.offsets): tells "already on" from "did not switch on"."""
        self._ends.setdefault(channel, []).append((float(onset_s), float(offset_s)))

    def settle(self, emg_analysed_s: float) -> list[TimingRow]:
        """Rows of the movements whose window the EMG has been analysed past, oldest first."""
        before, after = self.window_s
        rows: list[TimingRow] = []
        while self._movements and self._movements[0] + after + self.report_delay_s <= emg_analysed_s:
            m = self._movements.pop(0)
            for ch in self.channels:
                on = np.asarray(self._muscles.get(ch.name, []))
                near = on[(on >= m - before) & (on <= m + after)]
                first = float(near.min()) if near.size else None
                earlier = on[on < m - before]
                ended = {a for a, b in self._ends.get(ch.name, []) if b <= m}
                already = first is None and bool(earlier.size) and float(earlier.max()) not in ended
                delta = None if first is None else round(1000.0 * (first - m), 1)
                rows.append(TimingRow(ch.name, ch.label, m, first, delta, already))
        # muscle onsets older than any window still open are no longer needed (a movement is
        # known up to about a second late: keep 10 s)
        horizon = min(self._movements[0] if self._movements else np.inf, emg_analysed_s - 10.0) - before
        for name, onsets in self._muscles.items():
            self._muscles[name] = [t for t in onsets if t >= horizon] or onsets[-1:]  # the last one: still on?
        for name, ends in self._ends.items():
            self._ends[name] = [(a, b) for a, b in ends if b >= horizon]
        return rows
