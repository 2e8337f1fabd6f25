#!/usr/bin/env python3
"""Evaluate int8 quantisation of the BlazePose landmark model (project issue 5, point 3).

The rule of the issue: keep an int8 variant only if, on the real fixture
videos, every angle series moves by <= 0.5 deg RMSE against fp32 on both
fixtures, and it is faster. This script makes the variants, measures them
against fp32 in the same run and prints the figures (also written as JSON).

Exact commands (repository root, project venv; ``onnx`` is needed by
``onnxruntime.quantization`` only, not at run time):

  .venv/bin/pip install onnx==1.23.2
  taskset -c 0 .venv/bin/python models/tools/quantize_landmark_int8.py --out-dir /tmp/int8
  # with --keep VARIANT: copy that variant to models/blazepose_landmark_full_int8.onnx
  # and print its sha256 and size for a manifest entry

Result (2026-11-24, 2 vCPU AVX2): no variant meets the rule; figures and
reasons in docs/models.md, section "int8 quantisation".

Steps:
  (1) the fp32 ONNX backend (default Options: VIDEO mode, num_poses=2,
      people_check_s=0.5, 1 thread) analyses both fixtures through
      ``service.analysis.analyze_file``; a proxy on its landmark session
      records every crop it is fed (the ROIs the fp32 backend tracks, cropped
      by ``_blazepose.crop``), kept as uint8 (the backend's input is
      uint8 / 255, so this is lossless);
  (2) variants, all from ``quant_pre_process`` (ONNX shape inference + ORT
      graph optimisation; skip_symbolic_shape=True) of the fp32 file:
        dynamic        quantize_dynamic, weights QInt8 per channel (Conv -> ConvInteger)
        qdq            quantize_static, QDQ, activations QUInt8, weights QInt8
                       per channel, MinMax calibration
        qdq_excl       the same, first Conv and the four output-head Convs kept fp32
        qdq_excl_rr    qdq_excl with reduce_range=True (7-bit weights)
        qdq_excl_u8u8  qdq_excl with QUInt8 weights
        weights_int8_sim  not a deployable variant: the fp32 model with its Conv
                       weights rounded to int8 per channel, run with fp32 kernels;
                       the error of int8 weights alone, free of any kernel issue
      qdq_excl_rr and qdq_excl_u8u8 are onnxruntime's documented remedies for
      the saturation of its u8s8 kernels on x86 CPUs without VNNI (AVX2 here).
      Tried and dropped (no better): Percentile (99.999) calibration (open
      loop median 33.7 px against 36.9 px, 110 s to calibrate); also keeping
      the 32 depthwise Convs in fp32 (worse: 63 px on a 49-crop subset).
      Static variants are calibrated on every second crop of both
      fixtures (no other real footage is bundled; calibration and
      evaluation share the videos, which flatters static quantisation);
  (3) latency of each network on one real crop (batch 1), one core
      (sched_setaffinity {0}), intra_op 1, models interleaved run by run so
      that they see the same load, warm-up 30, median of --runs;
  (4) open loop: each variant on exactly the fp32 crops; landmark x, y
      differences in crop pixels (of 256) and pose-flag differences;
  (5) closed loop: each variant as the backend's landmark model on the whole
      analysis path; RMSE of every angle series of kinematics.pipeline.
      ANGLE_SERIES against fp32, and the followed subject's landmark
      differences (normalised image units, landmarks visible >= 0.5 in both).
      A second fp32 run is the control (must be 0: the path is deterministic).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

FIXTURES = {
    "pose2sim": REPO / "tests/fixtures/video/pose2sim_cam01.mp4",
    "sports2d": REPO / "tests/fixtures/video/sports2d_two_people.mp4",
}
FIRST_CONV = "Conv_2"
HEAD_CONVS = ["Conv_163", "Conv_164", "Conv_165", "Conv_182"]  # world_landmarks, landmarks, pose_flag, heatmap
BAR_DEG = 0.5
KEEP_FILE = REPO / "models/blazepose_landmark_full_int8.onnx"


class _RecordingSession:
    """Stands in for the backend's landmark InferenceSession and keeps the crops it is given."""

    def __init__(self, session, crops: list[np.ndarray]) -> None:
        self.session, self.crops = session, crops

    def run(self, names, feeds):
        self.crops.extend(np.rint(feeds["image"] * 255.0).astype(np.uint8))
        return self.session.run(names, feeds)


class _Recording:
    """Wraps a backend and keeps what it returned (as tests/vision/test_onnx_backend.py does)."""

    def __init__(self, backend) -> None:
        self.backend, self.name, self.schema = backend, backend.name, backend.schema
        self.frames: list[tuple[float, list, tuple[int, int]]] = []

    def estimate(self, rgb, t_s):
        people = self.backend.estimate(rgb, t_s)
        self.frames.append((t_s, people, (rgb.shape[1], rgb.shape[0])))
        return people

    def provenance(self):
        return self.backend.provenance()

    def close(self) -> None:
        self.backend.close()

    def subject(self) -> tuple[np.ndarray, np.ndarray]:
        from vision.tracking import SubjectTracker

        tracker = SubjectTracker(self.frames[0][2])
        xyz, vis = [], []
        for t, people, _ in self.frames:
            p = tracker.choose(people, t)
            xyz.append(np.full((33, 3), np.nan) if p is None else p.image_xyz)
            vis.append(np.zeros(33) if p is None else p.visibility)
        return np.stack(xyz), np.stack(vis)


def _spec(path: Path, name: str):
    """A ModelSpec like blazepose_full_onnx's for an uncommitted file (experiment only)."""
    from vision.models import ModelSpec, model_spec

    ref = model_spec("blazepose_full_onnx")
    return ModelSpec(
        name=name,
        backend="onnx",
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        schema=ref.schema,
        license=ref.license,
        origin=ref.origin,
        options=MappingProxyType(dict(ref.options)),
    )


def analyse(spec, clip: Path, crops: list | None = None):
    """analyze_file with the ONNX backend on ``spec``: (assessment, subject xyz, subject visibility, seconds)."""
    from service.analysis import analyze_file
    from vision.backends.onnx import Backend, Options

    made: list[_Recording] = []

    def factory(video: bool) -> _Recording:
        backend = Backend(spec, Options(video=video))
        if crops is not None:
            backend._landmarker = _RecordingSession(backend._landmarker, crops)
        made.append(_Recording(backend))
        return made[-1]

    t0 = time.perf_counter()
    assessment = analyze_file(clip, backend_factory=factory)
    seconds = time.perf_counter() - t0
    return (assessment, *made[0].subject(), seconds)


def _as_float(crops: np.ndarray) -> np.ndarray:
    return crops.astype(np.float32) * np.float32(1.0 / 255.0)  # as vision.backends.onnx does


class _Reader:
    def __init__(self, crops: np.ndarray) -> None:
        self.it = iter([{"image": _as_float(c[None])} for c in crops])

    def get_next(self):
        return next(self.it, None)


def make_variants(fp32: Path, out: Path, calib: np.ndarray) -> dict[str, dict]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = out / "landmark_pre.onnx"
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)  # onnx shape inference suffices; no sympy
    static = dict(
        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8
    )
    excl = [FIRST_CONV, *HEAD_CONVS]
    variants = {
        "dynamic": dict(kind="dynamic", per_channel=True, weight_type=QuantType.QInt8),
        "qdq": dict(kind="static", **static, calibrate_method=CalibrationMethod.MinMax),
        "qdq_excl": dict(kind="static", **static, calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=excl),
        # AVX2 without VNNI: onnxruntime's u8s8 kernels (VPMADDUBSW) can saturate; its documented remedies
        "qdq_excl_rr": dict(
            kind="static", **static, calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=excl, reduce_range=True
        ),
        "qdq_excl_u8u8": dict(
            kind="static",
            **(static | {"weight_type": QuantType.QUInt8}),
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=excl,
        ),
    }
    for name, opts in variants.items():
        kwargs = {k: v for k, v in opts.items() if k != "kind"}
        path = out / f"landmark_{name}.onnx"
        t0 = time.perf_counter()
        if opts["kind"] == "dynamic":
            quantize_dynamic(str(pre), str(path), **kwargs)
        else:
            quantize_static(str(pre), str(path), _Reader(calib), **kwargs)
        opts["path"] = path
        opts["seconds"] = round(time.perf_counter() - t0, 1)
        opts["recorded"] = {k: (v.name if hasattr(v, "name") else v) for k, v in kwargs.items()}
        print(f"made {name}: {path.stat().st_size} B in {opts['seconds']} s", flush=True)
    path = out / "landmark_weights_int8_sim.onnx"
    _simulate_int8_weights(fp32, path)
    variants["weights_int8_sim"] = {
        "path": path,
        "seconds": 0.0,
        "recorded": {
            "simulation": "every Conv weight rounded to symmetric int8 per output channel, kept as fp32; "
            "fp32 kernels, activations untouched (a lower bound on int8 error, no speed-up)"
        },
    }
    return variants


def _simulate_int8_weights(fp32: Path, out: Path) -> None:
    """The fp32 model with each Conv weight rounded to symmetric int8 per output channel (stored as fp32)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(fp32))
    weights = {n.input[1] for n in model.graph.node if n.op_type == "Conv"}
    for init in model.graph.initializer:
        if init.name in weights:
            w = numpy_helper.to_array(init)
            scale = np.abs(w).reshape(len(w), -1).max(axis=1) / 127.0
            scale = np.where(scale == 0, 1.0, scale).reshape(-1, *([1] * (w.ndim - 1)))
            q = (np.clip(np.rint(w / scale), -127, 127) * scale).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(q, init.name))
    onnx.save(model, str(out))


def _session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def latency_ms(paths: dict[str, Path], crop: np.ndarray, runs: int) -> dict[str, float]:
    os.sched_setaffinity(0, {0})
    sessions = {k: _session(p) for k, p in paths.items()}
    x = {"image": _as_float(crop[None])}
    for s in sessions.values():
        for _ in range(30):
            s.run(None, x)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(runs):
        for k, s in sessions.items():
            t0 = time.perf_counter()
            s.run(None, x)
            times[k].append(time.perf_counter() - t0)
    return {k: round(1000 * float(np.median(v)), 2) for k, v in times.items()}


def open_loop(paths: dict[str, Path], crops: np.ndarray) -> dict[str, dict]:
    """Each network on the same fp32-tracked crops: raw output differences against fp32."""
    names = ["landmarks", "pose_flag"]
    outs = {}
    for k, p in paths.items():
        s = _session(p)
        got = [s.run(names, {"image": _as_float(crops[i : i + 16])}) for i in range(0, len(crops), 16)]
        outs[k] = [np.concatenate([g[j] for g in got]) for j in range(len(names))]
    ref_lm, ref_flag = outs["fp32"]
    res = {}
    for k, (lm, flag) in outs.items():
        d = np.linalg.norm(lm.reshape(-1, 39, 5)[:, :33, :2] - ref_lm.reshape(-1, 39, 5)[:, :33, :2], axis=-1)
        res[k] = {
            "xy_px_median": round(float(np.median(d)), 3),
            "xy_px_p95": round(float(np.quantile(d, 0.95)), 3),
            "pose_flag_max_abs": round(float(np.abs(flag - ref_flag).max()), 4),
        }
    return res


def _values(series) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in series], dtype=float)


def compare(ref, got) -> dict:
    """Angle RMSE (deg) per series and landmark differences of the followed subject against fp32."""
    from kinematics.pipeline import ANGLE_SERIES

    (a_ref, xyz_ref, vis_ref, _), (a_got, xyz_got, vis_got, _) = ref, got
    angles = {}
    for spec in ANGLE_SERIES:
        a, b = a_ref.series[spec.name], a_got.series[spec.name]
        if a is None and b is None:
            continue
        if (a is None) != (b is None):
            angles[spec.name] = {"rmse_deg": None, "note": "available with one model only"}
            continue
        x, y = _values(a), _values(b)
        ok = ~np.isnan(x) & ~np.isnan(y)
        lost = int((~np.isnan(x) & np.isnan(y)).sum() + (np.isnan(x) & ~np.isnan(y)).sum())
        rmse = float(np.sqrt(np.mean((x[ok] - y[ok]) ** 2))) if ok.any() else None
        angles[spec.name] = {
            "rmse_deg": None if rmse is None else round(rmse, 3),
            "max_deg": round(float(np.abs(x[ok] - y[ok]).max()), 2) if ok.any() else None,
            "samples": int(ok.sum()),
            "samples_one_side_only": lost,
        }
    both = (vis_ref >= 0.5) & (vis_got >= 0.5)
    d = np.linalg.norm(xyz_ref[..., :2] - xyz_got[..., :2], axis=-1)[both]
    found = (vis_ref.max(axis=1) > 0) != (vis_got.max(axis=1) > 0)
    return {
        "angles": angles,
        "landmarks": {
            "median": round(float(np.median(d)), 5),
            "p95": round(float(np.quantile(d, 0.95)), 4),
            "visible_pairs": int(both.sum()),
            "frames_subject_found_by_one_only": int(found.sum()),
        },
    }


def passes(clip_results: dict) -> bool:
    return all(
        v["rmse_deg"] is not None and v["rmse_deg"] <= BAR_DEG and v["samples_one_side_only"] == 0
        for r in clip_results.values()
        for v in r["angles"].values()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", type=Path, default=Path(tempfile.gettempdir()) / "motionscript-int8")
    ap.add_argument("--runs", type=int, default=300, help="timed runs per model (median reported)")
    ap.add_argument("--keep", help="variant to copy to models/blazepose_landmark_full_int8.onnx")
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    import onnxruntime as ort

    from vision.models import model_spec

    fp32 = model_spec("blazepose_full_onnx")
    flags = set(open("/proc/cpuinfo").read().split()) if Path("/proc/cpuinfo").is_file() else set()
    report: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} CPU, {platform.machine()}",
        "cpu_flags": sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"}),
        "onnxruntime": ort.__version__,
        "load_average_start": os.getloadavg(),
    }

    # (1) fp32 reference runs, recording the crops
    crops_by_clip: dict[str, list[np.ndarray]] = {}
    reference = {}
    for clip, path in FIXTURES.items():
        crops_by_clip[clip] = []
        reference[clip] = analyse(fp32, path, crops_by_clip[clip])
        print(f"fp32 {clip}: {len(crops_by_clip[clip])} crops, {reference[clip][3]:.1f} s", flush=True)
    all_crops = np.stack([c for v in crops_by_clip.values() for c in v])
    calib = np.stack([c for v in crops_by_clip.values() for c in v[::2]])
    report["crops"] = {k: len(v) for k, v in crops_by_clip.items()}
    report["calibration_crops"] = len(calib)

    # (2) variants
    variants = make_variants(fp32.path, args.out_dir, calib)
    paths = {"fp32": fp32.path, **{k: v["path"] for k, v in variants.items()}}
    report["variants"] = {
        k: {
            "options": v["recorded"],
            "bytes": v["path"].stat().st_size,
            "sha256": hashlib.sha256(v["path"].read_bytes()).hexdigest(),
        }
        for k, v in variants.items()
    }

    # (3) latency, one core; (4) open loop
    report["latency_ms"] = latency_ms(paths, crops_by_clip["pose2sim"][0], args.runs)
    report["latency_runs"] = args.runs
    print("latency (ms, median, 1 core):", report["latency_ms"], flush=True)
    report["open_loop"] = open_loop(paths, all_crops)
    print("open loop:", report["open_loop"], flush=True)

    # (5) closed loop: the whole analysis path (the fp32 repeat is the control)
    report["closed_loop"] = {}
    for name in ["fp32_repeat", *variants]:
        spec = fp32 if name == "fp32_repeat" else _spec(variants[name]["path"], f"blazepose_full_onnx_{name}")
        res = {}
        for clip, path in FIXTURES.items():
            got = analyse(spec, path)
            res[clip] = compare(reference[clip], got) | {
                "analyze_s": round(got[3], 2),
                "analyze_s_fp32": round(reference[clip][3], 2),
            }
        report["closed_loop"][name] = res
        report["closed_loop"][name]["passes_angle_bar"] = passes({k: v for k, v in res.items() if k in FIXTURES})
        print(name, json.dumps(res), flush=True)

    faster = {k: report["latency_ms"][k] < report["latency_ms"]["fp32"] for k in variants}
    report["kept"] = [
        k for k in variants if faster[k] and report["closed_loop"][k]["passes_angle_bar"] and k != "weights_int8_sim"
    ]
    report["load_average_end"] = os.getloadavg()
    (args.out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print(
        "kept by the rule (<= 0.5 deg RMSE on every angle series of both fixtures, and faster):",
        report["kept"] or "none",
    )
    if args.keep:
        if args.keep not in report["kept"]:
            sys.exit(f"{args.keep} does not meet the rule; not copied")
        shutil.copyfile(variants[args.keep]["path"], KEEP_FILE)
        data = KEEP_FILE.read_bytes()
        print(f'sha256 = "{hashlib.sha256(data).hexdigest()}"\nbytes = {len(data)}')


if __name__ == "__main__":
    main()
