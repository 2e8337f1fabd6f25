"""Run mobgap's own gait algorithms on Mobilise-D .mat recordings; print JSON.

Runs **inside the benchmark-only venv** ``.venv-mobgap`` (``make .venv-mobgap``,
from ``requirements/bench-mobgap.txt``): it imports mobgap, pandas, tpcp, ...,
none of which the project depends on, and nothing from this project.
``bench/gait.py`` calls it in a subprocess and scores its output and this
project's detector with one scorer.

    .venv-mobgap/bin/python bench/mobgap/run.py PID=DATA.mat:INFO.mat ... > out.json

Output: ``{"mobgap_version": ..., "results": {pid: {"Test5/Trial1": {config: {...}}}}}``
where each config holds ``ic_s`` (initial contacts, seconds from the recording
start), ``side`` ("left"/"right"), ``gs_s`` (gait sequences [start, end] s)
and, for the official pipelines, ``strides`` ([start_s, end_s,
stride_length_m, walking_speed_mps]).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import mobgap
import numpy as np
from mobgap.data import GenericMobilisedDataset
from mobgap.gait_sequences import GsdIluz, GsdIonescu
from mobgap.initial_contacts import IcdHKLeeImproved, IcdIonescu, IcdShinImproved
from mobgap.laterality import LrcMcCamley, LrcUllrich
from mobgap.pipeline import MobilisedPipelineHealthy, MobilisedPipelineImpaired

TRIALS = (("Test5", "Trial1"), ("Test5", "Trial2"), ("Test11", "Trial1"))


def configs() -> dict[str, object]:
    """The two official Mobilise-D pipelines, and each other ICD / LRC inside the healthy one."""
    healthy, impaired = MobilisedPipelineHealthy(), MobilisedPipelineImpaired()
    out: dict[str, object] = {
        "GsdIluz+IcdIonescu+LrcUllrich (pipeline healthy)": healthy,
        "GsdIonescu+IcdIonescu+LrcUllrich (pipeline impaired)": impaired,
        "GsdIluz+IcdIonescu+LrcMcCamley": healthy.clone().set_params(laterality_classification=LrcMcCamley()),
        "GsdIluz+IcdShinImproved+LrcUllrich": healthy.clone().set_params(initial_contact_detection=IcdShinImproved()),
        "GsdIluz+IcdHKLeeImproved+LrcUllrich": healthy.clone().set_params(initial_contact_detection=IcdHKLeeImproved()),
        "GsdIonescu+IcdShinImproved+LrcUllrich": impaired.clone().set_params(
            initial_contact_detection=IcdShinImproved()
        ),
        "GsdIonescu+IcdHKLeeImproved+LrcUllrich": impaired.clone().set_params(
            initial_contact_detection=IcdHKLeeImproved()
        ),
    }
    assert isinstance(out["GsdIluz+IcdIonescu+LrcUllrich (pipeline healthy)"], MobilisedPipelineHealthy)
    assert type(healthy.gait_sequence_detection) is GsdIluz and type(impaired.gait_sequence_detection) is GsdIonescu
    assert type(healthy.initial_contact_detection) is IcdIonescu
    assert type(healthy.laterality_classification) is LrcUllrich
    return out


def _run(pipe, dp) -> dict[str, object]:
    fs = dp.sampling_rate_hz
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = pipe.clone().run(dp)
    ic = p.raw_ic_list_.reset_index()
    gs = p.gs_list_
    res: dict[str, object] = {
        "ic_s": [float(x) / fs for x in ic["ic"].to_numpy()],
        "side": [str(x) for x in ic["lr_label"].to_numpy()],
        "gs_s": [[float(a) / fs, float(b) / fs] for a, b in zip(gs["start"], gs["end"], strict=True)],
    }
    st = p.per_stride_parameters_
    if st is not None and len(st):
        cols = [c for c in ("stride_length_m", "walking_speed_mps") if c in st.columns]
        res["strides"] = [
            [float(r["start"]) / fs, float(r["end"]) / fs, *(float(r[c]) for c in cols)] for _, r in st.iterrows()
        ]
        res["stride_columns"] = ["start_s", "end_s", *cols]
    return res


def main(argv: list[str]) -> int:
    work = Path(tempfile.mkdtemp(prefix="mobgap-bench-"))
    try:
        results: dict[str, dict[str, dict[str, object]]] = {}
        paths = []
        for spec in argv:
            pid, files = spec.split("=", 1)
            data, info = files.split(":", 1)
            cohort = "".join(c for c in pid if c.isalpha())
            folder = work / cohort / pid  # the loader wants data.mat beside infoForAlgo.mat
            folder.mkdir(parents=True)
            shutil.copyfile(data, folder / "data.mat")
            shutil.copyfile(info, folder / "infoForAlgo.mat")
            paths.append(folder / "data.mat")
        ds = GenericMobilisedDataset(
            sorted(paths),
            test_level_names=GenericMobilisedDataset.COMMON_TEST_LEVEL_NAMES["tvs_lab"],
            parent_folders_as_metadata=["cohort", "participant_id"],
            measurement_condition="laboratory",
            reference_system=None,
        )
        cfg = configs()
        for dp in ds:
            row = dp.group_label
            if (row.test, row.trial) not in TRIALS:
                continue
            pid = row.participant_id
            results.setdefault(pid, {})[f"{row.test}/{row.trial}"] = {name: _run(p, dp) for name, p in cfg.items()}
        json.dump({"mobgap_version": mobgap.__version__, "results": results}, sys.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
