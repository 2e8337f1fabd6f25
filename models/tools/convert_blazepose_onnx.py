#!/usr/bin/env python3
"""Convert BlazePose (detector + full landmark model) from TFLite to ONNX.

Makes models/blazepose_detector.onnx and models/blazepose_landmark_full.onnx,
used by vision/backends/onnx.py, from the same two Apache-2.0 tflite files as
models/blazepose_full.task: those inside the PyPI wheel mediapipe==0.10.21.

Exact commands (from the repository root). The conversion needs
tensorflow-cpu 2.21 (protobuf >= 6), which cannot live in the project venv
(mediapipe 1.2.2 pins protobuf < 5), so it runs in a venv of its own:

  # 1. a separate conversion venv (~1.7 GB; build time only)
  python3.11 -m venv /tmp/convert-venv
  /tmp/convert-venv/bin/pip install -r models/tools/requirements-convert.txt
  # 2. fetch the pinned wheel (the only network access)
  /tmp/convert-venv/bin/pip download --no-deps --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --python-version 3.11 \
      --implementation cp --abi cp311 mediapipe==0.10.21 -d /tmp/mp
  # 3. convert (fails if any pinned sha256 differs or ONNX drifts from TFLite)
  /tmp/convert-venv/bin/python models/tools/convert_blazepose_onnx.py \
      --wheel /tmp/mp/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl
  # 4. verify the committed files
  sha256sum models/blazepose_detector.onnx models/blazepose_landmark_full.onnx
  .venv/bin/python -m pytest tests/vision/test_onnx_backend.py

What the script does:
  (a) checks the wheel's sha256, extracts the two tflite files, checks theirs;
  (b) folds the weight decompression into plain fp32 constants. Both files
      keep fp16 weights behind DEQUANTIZE ops, and the detector also keeps
      sparse weights behind DENSIFY ops; tf2onnx (and tflite2onnx) cannot
      convert those. The LiteRT interpreter (ai-edge-litert, without the
      XNNPACK delegate, all tensors preserved) runs each model once; the
      outputs of every DEQUANTIZE/DENSIFY op are read back and written into
      the flatbuffer as constant buffers, the ops are dropped and unused
      tensors and buffers are pruned. The folded model gives bit-identical
      outputs to the original (checked);
  (c) converts with tf2onnx (--tflite, opset 17), then:
      - names the outputs (detector: regressors, classificators; landmarks:
        landmarks, pose_flag, segmentation, heatmap, world_landmarks) and
        the input (image), in NHWC float32 as in TFLite;
      - drops the landmark model's segmentation head (output 2, a 256x256
        person mask): nothing here uses it, and it takes ~30% of the model's
        time (17 -> 12 ms per crop on one core). --keep-segmentation keeps it;
      - makes the landmark model's batch dimension dynamic (its reshapes are
        already -1 except the segmentation head's, which is patched when kept);
      - renames nodes, intermediate tensors and constants after their
        position (tf2onnx's invented names carry run-dependent counters) and
        clears the producer version and doc strings, so that the bytes are
        the same on every run;
  (d) runs TFLite and onnxruntime on the same inputs (seeded smooth noise in
      the models' input ranges) and fails if they differ by more than
      TOLERANCE relative to each output's largest value (measured: landmarks
      ~1e-3 px of 256, world landmarks ~5e-6 m); the batch-2 landmark model
      must equal two batch-1 calls;
  (e) writes the files, prints sha256 and size, compares them with the
      pinned values and, with --print-manifest, the manifest.toml entries.

Traps met on the way (also in docs/models.md):
  - tflite2onnx 0.4.1 fails on the detector (DEPTH_TO_SPACE) and needs per-op
    copies of shared constants on the landmark model: not used;
  - tf2onnx cannot read DEQUANTIZE of fp16 constants nor DENSIFY: folded first;
  - tensorflow-cpu 2.21 pulls protobuf 7 and cannot share a venv with
    mediapipe 1.2.2;
  - the landmark model's segmentation reshape hard-codes batch 1.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

# The wheel, its members and their pinned sha256: one source, shared with the .task build
# (this script runs from models/tools/, so its sibling imports as a module; stdlib only at import).
from build_blazepose_task import (
    DETECTOR_MEMBER,
    DETECTOR_SHA256,
    LANDMARK_MEMBER,
    LANDMARK_SHA256,
    WHEEL_NAME,
    WHEEL_SHA256,
    download_wheel,
    sha256_bytes,
)

OPSET = 17
REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"


class Job:
    """One model: where it comes from, what it becomes, what it must hash to."""

    def __init__(
        self,
        key: str,
        member: str,
        member_sha256: str,
        out_name: str,
        model_outputs: list[str],
        input_range: tuple[float, float],
        batch_dynamic: bool,
        expected_sha256: str,
        drop: frozenset[str] = frozenset(),
    ) -> None:
        self.key, self.member, self.member_sha256 = key, member, member_sha256
        self.out_name, self.model_outputs, self.input_range = out_name, model_outputs, input_range
        self.batch_dynamic, self.expected_sha256, self.drop = batch_dynamic, expected_sha256, drop

    @property
    def outputs(self) -> list[str]:
        """The outputs of the ONNX file."""
        return [n for n in self.model_outputs if n not in self.drop]


JOBS = [
    Job(
        "detector",
        DETECTOR_MEMBER,
        DETECTOR_SHA256,
        "blazepose_detector.onnx",
        ["regressors", "classificators"],
        (-1.0, 1.0),
        False,
        "b445f9a7ad9fb521a5aeb0c667228581f99145b9e9692cd344da166bd168c74a",
    ),
    Job(
        "landmark",
        LANDMARK_MEMBER,
        LANDMARK_SHA256,
        "blazepose_landmark_full.onnx",
        ["landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks"],
        (0.0, 1.0),
        True,
        "7e0428e60053f9b27b7f67f22106b73bf0041e6f7471539595883155383315ec",
        drop=frozenset({"segmentation"}),
    ),
]

# Largest accepted |ONNX - TFLite| / max(1, max |TFLite|) per output. Outputs are
# in model units (landmarks in 256-px input pixels, up to ~300; segmentation
# logits up to ~2000; world landmarks in metres). ONNX and the LiteRT reference
# kernels sum in different orders: measured 1e-6..1e-4 relative; TFLite's own
# two CPU paths (XNNPACK vs reference) differ by as much.
TOLERANCE = 1e-3


def _interpreter(content: bytes, *, preserve: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # Reference kernels, no XNNPACK: XNNPACK would fold the weights itself
    # and hide the intermediate tensors we read back.
    it = Interpreter(
        model_content=content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=preserve,
    )
    it.allocate_tensors()
    return it


def _run_tflite(content: bytes, x: np.ndarray) -> list[np.ndarray]:
    it = _interpreter(content)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def fold_weights(content: bytes) -> tuple[bytes, dict[str, int]]:
    """Replace DEQUANTIZE/DENSIFY of constants by the fp32 constants they produce."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    if len(model.subgraphs) != 1:
        raise SystemExit(f"expected 1 subgraph, found {len(model.subgraphs)}")
    sg = model.subgraphs[0]

    def op_name(op) -> str:
        oc = model.operatorCodes[op.opcodeIndex]
        return names[max(oc.builtinCode, oc.deprecatedBuiltinCode)]

    fold = {i for i, op in enumerate(sg.operators) if op_name(op) in ("DEQUANTIZE", "DENSIFY")}
    counts = {n: sum(op_name(sg.operators[i]) == n for i in fold) for n in ("DEQUANTIZE", "DENSIFY")}
    # Every folded op must (transitively) read only constants.
    produced_by_fold = {int(sg.operators[i].outputs[0]) for i in fold}
    for i in fold:
        t = int(sg.operators[i].inputs[0])
        buf = model.buffers[sg.tensors[t].buffer]
        if not (buf.data is not None and len(buf.data)) and t not in produced_by_fold:
            raise SystemExit(f"op {i} ({op_name(sg.operators[i])}) reads a non-constant tensor; cannot fold")

    it = _interpreter(content, preserve=True)
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], np.float32))
    it.invoke()
    values = {int(sg.operators[i].outputs[0]): it.get_tensor(int(sg.operators[i].outputs[0])).copy() for i in fold}

    keep_ops = [op for i, op in enumerate(sg.operators) if i not in fold]
    used = {int(t) for t in sg.inputs} | {int(t) for t in sg.outputs}
    for op in keep_ops:
        used |= {int(t) for t in op.inputs if t >= 0} | {int(t) for t in op.outputs}
    new_index: dict[int, int] = {}
    tensors, buffers = [], [model.buffers[0]]  # buffer 0 stays the empty sentinel
    for old in sorted(used):
        t = sg.tensors[old]
        if old in values:
            v = np.ascontiguousarray(values[old], dtype=np.float32)
            if values[old].dtype != np.float32:
                raise SystemExit(f"tensor {t.name!r} folds to {values[old].dtype}, expected float32")
            buf = schema.BufferT()
            buf.data = np.frombuffer(v.tobytes(), np.uint8)
            t.type, t.shape, t.quantization, t.sparsity = (
                schema.TensorType.FLOAT32,
                np.array(v.shape, np.int32),
                None,
                None,
            )
            buffers.append(buf)
            t.buffer = len(buffers) - 1
        elif t.buffer:
            buffers.append(model.buffers[t.buffer])
            t.buffer = len(buffers) - 1
        new_index[old] = len(tensors)
        tensors.append(t)
    for op in keep_ops:
        op.inputs = np.array([new_index[int(t)] if t >= 0 else -1 for t in op.inputs], np.int32)
        op.outputs = np.array([new_index[int(t)] for t in op.outputs], np.int32)
    sg.tensors, sg.operators = tensors, keep_ops
    sg.inputs = np.array([new_index[int(t)] for t in sg.inputs], np.int32)
    sg.outputs = np.array([new_index[int(t)] for t in sg.outputs], np.int32)
    model.buffers = buffers
    model.metadata, model.metadataBuffer = None, None  # TFLite metadata does not carry over to ONNX
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), counts


def to_onnx(folded: bytes, job: Job, tmp: Path):
    import onnx
    import tf2onnx

    src = tmp / f"{job.key}_fp32.tflite"
    src.write_bytes(folded)
    model_proto, _ = tf2onnx.convert.from_tflite(str(src), opset=OPSET)
    g = model_proto.graph
    if len(g.output) != len(job.model_outputs) or len(g.input) != 1:
        raise SystemExit(
            f"{job.key}: expected 1 input and {len(job.model_outputs)} outputs, got "
            f"{[i.name for i in g.input]} / {[o.name for o in g.output]}"
        )

    rename = {g.input[0].name: "image"} | {o.name: new for o, new in zip(g.output, job.model_outputs, strict=True)}
    for node in g.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    for vi in list(g.input) + list(g.output):
        vi.name = rename.get(vi.name, vi.name)

    if job.drop:
        _drop_outputs(g, job.drop)
    if job.batch_dynamic:
        inits = {t.name: t for t in g.initializer}
        for node in g.node:
            if node.op_type != "Reshape":
                continue
            shape_t = inits.get(node.input[1])
            if shape_t is None:
                raise SystemExit(f"{job.key}: reshape {node.name} has a computed shape")
            shape = onnx.numpy_helper.to_array(shape_t).copy()
            if shape[0] == 1 and -1 not in shape[1:]:
                shape[0] = -1
                shape_t.CopyFrom(onnx.numpy_helper.from_array(shape, shape_t.name))
            elif shape[0] != -1:
                raise SystemExit(f"{job.key}: reshape {node.name} to {shape.tolist()} fixes the batch size")
        for vi in list(g.input) + list(g.output):
            vi.type.tensor_type.shape.dim[0].dim_param = "batch"
        del g.value_info[:]
    _canonical_names(g)
    model_proto.producer_version = ""
    model_proto.doc_string = ""
    g.doc_string = ""
    g.name = f"blazepose_{job.key}"
    onnx.checker.check_model(model_proto, full_check=True)
    return model_proto


def _drop_outputs(g, drop: set[str]) -> None:
    """Remove graph outputs and every node and constant only they needed."""
    kept = [o for o in g.output if o.name not in drop]
    del g.output[:]
    g.output.extend(kept)
    needed = {o.name for o in g.output}
    nodes = []
    for node in reversed(g.node):
        if any(o in needed for o in node.output):
            nodes.append(node)
            needed |= set(node.input)
    nodes.reverse()
    del g.node[:]
    g.node.extend(nodes)
    inits = [t for t in g.initializer if t.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)


def _canonical_names(g) -> None:
    """Rename nodes, intermediate tensors and constants after their position.

    tf2onnx numbers the names it invents from counters that differ from run
    to run (even with a fixed PYTHONHASHSEED); the graph itself does not.
    Positional names make the file byte-identical on every run.
    """
    keep = {v.name for v in list(g.input) + list(g.output)}
    inits = {t.name: t for t in g.initializer}
    rename: dict[str, str] = {}
    order: list[str] = []
    for i, node in enumerate(g.node):
        for name in node.input:
            if name in inits and name not in rename:
                rename[name] = f"const_{len(order)}"
                order.append(name)
        node.name = f"{node.op_type}_{i}"
        for k, name in enumerate(node.output):
            if name and name not in keep:
                rename[name] = f"{node.op_type}_{i}_out{k}"
    for node in g.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    ordered = [inits[name] for name in order]
    for t in ordered:
        t.name = rename[t.name]
    del g.initializer[:]
    g.initializer.extend(ordered)
    del g.value_info[:]


def check_against_tflite(job: Job, original: bytes, onnx_bytes: bytes) -> dict[str, float]:
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    shape = [1, *_interpreter(original).get_input_details()[0]["shape"][1:]]
    rng = np.random.default_rng(0)
    worst: dict[str, float] = {}
    xs = []
    for _ in range(3):
        lo, hi = job.input_range
        # Smooth noise (a blurred random field) looks more like an image than white noise.
        x = rng.uniform(lo, hi, shape).astype(np.float32)
        x = (x + np.roll(x, 1, 1) + np.roll(x, 1, 2) + np.roll(x, (1, 1), (1, 2))) / 4
        xs.append(x.astype(np.float32))
        ref = dict(zip(job.model_outputs, _run_tflite(original, x), strict=True))
        got = sess.run(job.outputs, {"image": x})
        for name, b in zip(job.outputs, got, strict=True):
            a = ref[name]
            if a.shape != b.shape:
                raise SystemExit(f"{job.key}:{name}: ONNX shape {b.shape} != TFLite {a.shape}")
            rel = float(np.abs(a - b).max()) / max(1.0, float(np.abs(a).max()))
            worst[name] = max(worst.get(name, 0.0), rel)
    for name, err in worst.items():
        if err > TOLERANCE:
            raise SystemExit(f"{job.key}:{name}: |ONNX - TFLite| / max|TFLite| = {err:.3g} > {TOLERANCE}")
    if job.batch_dynamic:
        batch = np.concatenate(xs[:2])
        together = sess.run(job.outputs, {"image": batch})
        for i, x in enumerate(xs[:2]):
            alone = sess.run(job.outputs, {"image": x})
            for name, a, b in zip(job.outputs, together, alone, strict=True):
                if float(np.abs(a[i] - b[0]).max()) > 1e-4:
                    raise SystemExit(f"{job.key}:{name}: batch-2 result differs from batch-1 calls")
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", type=Path, help=f"path of {WHEEL_NAME} (pip-downloaded to a temp dir if omitted)")
    ap.add_argument("--out-dir", type=Path, default=MODELS_DIR, help="where the .onnx files go")
    ap.add_argument("--print-manifest", action="store_true", help="print the manifest.toml entries")
    ap.add_argument(
        "--keep-segmentation",
        action="store_true",
        help="keep the landmark model's segmentation output (changes the sha256)",
    )
    args = ap.parse_args()
    if args.keep_segmentation:
        for job in JOBS:
            job.drop = frozenset()
            job.expected_sha256 = "SET_AFTER_FIRST_BUILD"

    import onnx
    import tensorflow as tf
    import tf2onnx

    results = []
    with tempfile.TemporaryDirectory(prefix="blazepose_onnx_") as td:
        tmp = Path(td)
        wheel_path = args.wheel or download_wheel(tmp)
        wheel_sha = hashlib.sha256(wheel_path.read_bytes()).hexdigest()
        if wheel_sha != WHEEL_SHA256:
            raise SystemExit(f"{wheel_path}: sha256 {wheel_sha} != pinned {WHEEL_SHA256}")
        print(f"wheel    {wheel_path.name}  sha256 {wheel_sha}")
        with zipfile.ZipFile(wheel_path) as whl:
            originals = {job.key: whl.read(job.member) for job in JOBS}
        for job in JOBS:
            data = originals[job.key]
            if sha256_bytes(data) != job.member_sha256:
                raise SystemExit(f"{job.member}: sha256 {sha256_bytes(data)} != pinned {job.member_sha256}")
            print(f"extract  {job.member}  {len(data)} B  sha256 {job.member_sha256}")

            folded, counts = fold_weights(data)
            x = np.random.default_rng(1).uniform(*job.input_range, _interpreter(data).get_input_details()[0]["shape"])
            x = x.astype(np.float32)
            same = all(np.array_equal(a, b) for a, b in zip(_run_tflite(data, x), _run_tflite(folded, x), strict=True))
            if not same:
                raise SystemExit(f"{job.key}: folded TFLite model is not bit-identical to the original")
            print(
                f"fold     {job.key}: {counts['DEQUANTIZE']} DEQUANTIZE + {counts['DENSIFY']} DENSIFY folded, "
                f"{len(folded)} B, outputs bit-identical"
            )

            proto = to_onnx(folded, job, tmp)
            onnx_bytes = proto.SerializeToString()
            worst = check_against_tflite(job, data, onnx_bytes)
            print(
                f"check    {job.key}: max |ONNX - TFLite| / max(1, max|TFLite|): "
                + ", ".join(f"{k} {v:.2e}" for k, v in worst.items())
            )
            out = args.out_dir / job.out_name
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp_out = out.with_suffix(".onnx.tmp")
            tmp_out.write_bytes(onnx_bytes)
            tmp_out.replace(out)
            digest = sha256_bytes(onnx_bytes)
            print(f"write    {out}  {len(onnx_bytes)} B  sha256 {digest}")
            results.append((job, digest, len(onnx_bytes), worst))

    from importlib.metadata import version

    versions = (
        f"tensorflow-cpu {tf.__version__}, tf2onnx {tf2onnx.__version__}, onnx {onnx.__version__}, "
        f"ai-edge-litert {version('ai-edge-litert')}, onnxruntime {version('onnxruntime')}, opset {OPSET}"
    )
    print(f"made with {versions}")
    if args.print_manifest:
        for job, digest, size, _ in results:
            print(f'\n# {job.out_name}\nsha256 = "{digest}"\nbytes = {size}')
    failed = [
        job.out_name for job, digest, _, _ in results if job.expected_sha256 not in ("SET_AFTER_FIRST_BUILD", digest)
    ]
    if failed:
        print(f"ERROR: sha256 differs from the pinned value for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
