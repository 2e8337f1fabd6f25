"""Measure BlazePose landmark jitter on a real clip, to ground the synthetic noise.

Not a test: it needs the real pose model and takes ~15 s. Run it from the
repository root::

    .venv/bin/python -m tests.kinematics.measure_jitter [video]

The model runs twice: on every frame (the clip's own 60 fps) and on every
second frame (30 fps, the rate of the synthetic tests; MediaPipe's VIDEO mode
smooths landmarks over time, so jitter depends on the frame rate).

Jitter estimators, printed per coordinate (image x, y in pixels;
world x, y, z in millimetres):

``lp6``
    standard deviation of the residual after the pipeline's own 6 Hz
    zero-lag low-pass (:class:`kinematics.filtering.LowPass`). Real movement
    above 6 Hz counts as jitter, and white noise keeps only its share of power
    above 6 Hz; ``lp6c`` = ``lp6 / sqrt(1 - 6 Hz / Nyquist)`` corrects the latter.
``d2``
    standard deviation of second differences divided by ``sqrt(6)`` (for white
    noise ``var(x[i+1] - 2 x[i] + x[i-1]) = 6 sigma^2``); smooth movement adds
    only ``acceleration * dt^2``.
``d2_mad``
    the same with the median absolute deviation (x 1.4826) instead of the
    standard deviation: robust to the occasional landmark jump and to the
    subject's own quick movements. This is the figure the tests use.

Part of BlazePose's jitter is shared by neighbouring landmarks (the whole
skeleton shifts together: the second differences of the left and right hip
correlate at ~0.6). A shared shift changes no angle. So the script also
measures the jitter of the segment *vectors* the angles are built from (hip
line, thighs, shoulder line, trunk side), divided by ``sqrt(2)``: the
independent per-landmark noise that produces the same angular jitter. Last it
prints the per-frame (unfiltered) jitter of each angle on the clip next to the
same figure for a synthetic pose rendered with the tests' ``NOISE_PX`` and
``NOISE_M`` (``tests/kinematics/conftest.py``), to compare the synthetic
noise with the real one where it matters: in the angles.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from kinematics import angles
from kinematics.filtering import LowPass
from kinematics.series import BLAZEPOSE33, LandmarkSeries

VIDEO = Path(__file__).resolve().parents[1] / "fixtures" / "video" / "pose2sim_cam01.mp4"
JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_shoulder", "right_shoulder")
SEGMENTS = (
    ("hip line", "right_hip", "left_hip"),
    ("left thigh", "left_hip", "left_knee"),
    ("right thigh", "right_hip", "right_knee"),
    ("shoulder line", "right_shoulder", "left_shoulder"),
    ("left trunk side", "left_hip", "left_shoulder"),
    ("right trunk side", "right_hip", "right_shoulder"),
)


def jitter(t_s: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column jitter estimates of ``x`` ``(n, d)`` sampled at ``t_s``; NaN rows ignored."""
    x = x.reshape(len(x), -1)
    ok = ~np.isnan(x).any(axis=1)
    t_s, x = t_s[ok], x[ok]
    residual = x - LowPass(cutoff_hz=6.0).apply(t_s, x)
    keep = np.sqrt(1.0 - 6.0 / (0.5 / np.median(np.diff(t_s))))
    d2 = x[2:] - 2 * x[1:-1] + x[:-2]
    mad = np.median(np.abs(d2 - np.median(d2, axis=0)), axis=0)
    return {
        "lp6": residual.std(axis=0),
        "lp6c": residual.std(axis=0) / keep,
        "d2": d2.std(axis=0) / np.sqrt(6),
        "d2_mad": 1.4826 * mad / np.sqrt(6),
    }


def extract(path: Path, every: int) -> tuple[LandmarkSeries, LandmarkSeries]:
    """Image and world landmarks of the subject, the model run on every ``every``-th frame."""
    from vision.backends.mediapipe import Backend  # heavy, and not a kinematics dependency
    from vision.decode import VideoReader
    from vision.extract import extract_video
    from vision.tracking import SubjectTracker

    if every == 1:
        with Backend.from_name("blazepose_full") as backend:
            ex = extract_video(path, backend)
        return ex.image, ex.world

    t_s, image, world, vis = [], [], [], []
    with Backend.from_name("blazepose_full") as backend, VideoReader(path) as video:
        size = (video.info.width, video.info.height)
        tracker = SubjectTracker(size)
        for frame in video:
            if frame.index % every:
                continue
            pose = tracker.choose(backend.estimate(frame.rgb, frame.t_s), frame.t_s)
            nan = np.full((33, 3), np.nan)
            t_s.append(frame.t_s)
            image.append(nan if pose is None else pose.image_xyz)
            world.append(nan if pose is None or pose.world_xyz is None else pose.world_xyz)
            vis.append(np.zeros(33) if pose is None else pose.visibility)
    return (
        LandmarkSeries(np.array(t_s), np.stack(image), np.stack(vis), space="image_norm", image_size_wh=size),
        LandmarkSeries(np.array(t_s), np.stack(world), np.stack(vis), space="world_m"),
    )


def angle_jitter(lm: LandmarkSeries) -> dict[str, float]:
    """Robust per-frame jitter (``d2_mad``, deg) of each unfiltered angle."""
    facing = np.ones(len(lm))  # flexion's sign does not matter for its jitter
    series = {
        "obliquity": angles.pelvic_obliquity(lm),
        "abduction_left": angles.hip_abduction(lm, side="left"),
        "abduction_right": angles.hip_abduction(lm, side="right"),
        "lean_lateral": angles.trunk_lean(lm, plane="frontal"),
        "flexion_left": angles.hip_flexion(lm, side="left", facing=facing),
        "flexion_right": angles.hip_flexion(lm, side="right", facing=facing),
        "lean_forward": angles.trunk_lean(lm, plane="sagittal", facing=facing),
    }
    return {k: float(jitter(lm.t_s, s.values)["d2_mad"][0]) for k, s in series.items()}


def _fmt(a: np.ndarray) -> str:
    return "/".join(f"{v:.1f}" for v in a)


def report(path: Path, image: LandmarkSeries, world: LandmarkSeries) -> None:
    w, h = image.image_size_wh
    fps = 1 / np.median(np.diff(image.t_s))
    px = image.metric_xyz()[..., :2]
    mm = world.xyz * 1000.0
    idx = image.schema.index
    print(
        f"\n{path.name}: {len(image)} frames, {w}x{h}, {fps:.1f} fps, "
        f"pose in {int((~np.isnan(image.xyz).all(axis=(1, 2))).sum())} frames, "
        f"median thigh {np.nanmedian(np.linalg.norm(px[:, idx('left_hip')] - px[:, idx('left_knee')], axis=1)):.0f}"
        " px"
    )
    print(
        f"{'landmark':18s} {'vis':>4s} | image px x/y: {'lp6':>9s} {'lp6c':>9s} {'d2':>9s} {'d2_mad':>9s} | "
        f"world mm x/y/z: {'lp6':>14s} {'lp6c':>14s} {'d2':>14s} {'d2_mad':>14s}"
    )
    rows = []
    for name in JOINTS:
        ji, jw = jitter(image.t_s, px[:, idx(name)]), jitter(world.t_s, mm[:, idx(name)])
        rows.append((ji, jw))
        print(
            f"{name:18s} {np.nanmean(image.vis(name)):4.2f} | {'':14s}"
            + " ".join(f"{_fmt(ji[k]):>9s}" for k in ji)
            + f" | {'':15s}"
            + " ".join(f"{_fmt(jw[k]):>14s}" for k in jw)
        )
    for key in rows[0][0]:
        a_px = np.concatenate([r[0][key] for r in rows])
        a_mm = np.stack([r[1][key] for r in rows])
        print(
            f"  {key:7s} image px: median {np.median(a_px):.2f} max {a_px.max():.2f}   world mm: median "
            f"{np.median(a_mm):.2f} max {a_mm.max():.2f} (x/y median {np.median(a_mm[:, :2]):.2f}, "
            f"z median {np.median(a_mm[:, 2]):.2f})"
        )
    print("segment vectors, d2_mad / sqrt(2) (independent per-landmark equivalent):")
    seg_px, seg_mm = [], []
    for label, a, b in SEGMENTS:
        sp = jitter(image.t_s, px[:, idx(b)] - px[:, idx(a)])["d2_mad"] / np.sqrt(2)
        sm = jitter(world.t_s, mm[:, idx(b)] - mm[:, idx(a)])["d2_mad"] / np.sqrt(2)
        seg_px.append(sp)
        seg_mm.append(sm)
        print(f"  {label:18s} image px {_fmt(sp):>9s}   world mm {_fmt(sm):>14s}")
    seg_px, seg_mm = np.concatenate(seg_px), np.stack(seg_mm)
    print(
        f"  image px: median {np.median(seg_px):.2f} max {seg_px.max():.2f};  world mm x/y: median "
        f"{np.median(seg_mm[:, :2]):.2f} max {seg_mm[:, :2].max():.2f}, z: median {np.median(seg_mm[:, 2]):.2f} "
        f"max {seg_mm[:, 2].max():.2f}"
    )
    real_i, real_w = angle_jitter(image), angle_jitter(world)
    print("per-frame angle jitter, d2_mad deg (real image / real world):")
    print("  " + "  ".join(f"{k} {real_i[k]:.2f}/{real_w[k]:.2f}" for k in real_i))


def synthetic_angle_jitter(fps: float) -> None:
    """The same angle jitter for a still synthetic subject with the tests' noise."""
    from kinematics.synth import PoseAngles
    from tests.kinematics.conftest import NOISE_M, NOISE_PX, render_observed

    rng = np.random.default_rng(0)
    pose = PoseAngles(
        hip_flexion_left_deg=30.0, hip_flexion_right_deg=30.0, hip_abduction_left_deg=15.0, hip_abduction_right_deg=15.0
    )
    for yaw, plane in ((0.0, "frontal"), (90.0, "sagittal")):
        image, world = render_observed(pose, np.arange(int(10 * fps)) / fps, yaw_deg=yaw, rng=rng)
        si, sw = angle_jitter(image), angle_jitter(world)
        print(
            f"synthetic (image / world), {fps:.0f} fps, yaw {yaw:.0f} (compare its {plane}-plane angles), "
            f"NOISE_PX {NOISE_PX}, NOISE_M {NOISE_M}:"
        )
        print("  " + "  ".join(f"{k} {si[k]:.2f}/{sw[k]:.2f}" for k in si))


def still_subject(path: Path = VIDEO, frames: tuple[int, ...] = (0, 50, 99), repeats: int = 90) -> None:
    """The model's own jitter on a still subject: one frame fed ``repeats`` times in VIDEO
    mode with sensor noise (SD 3 grey levels) and hand shake (SD 0.5 px sub-pixel shifts)."""
    import cv2

    from vision.backends.mediapipe import Backend
    from vision.decode import VideoReader

    with VideoReader(path) as video:
        stills = [np.array(f.rgb) for f in video if f.index in frames]
    rng = np.random.default_rng(0)
    groups = {
        "hips": ("left_hip", "right_hip"),
        "knees": ("left_knee", "right_knee"),
        "shoulders": ("left_shoulder", "right_shoulder"),
    }
    px: dict[str, list[float]] = {g: [] for g in groups}
    mm: dict[str, list[np.ndarray]] = {g: [] for g in groups}
    for base in stills:
        h, w = base.shape[:2]
        image, world = [], []
        with Backend.from_name("blazepose_full") as backend:
            for i in range(repeats):
                shift = np.float32([[1, 0, rng.normal(0, 0.5)], [0, 1, rng.normal(0, 0.5)]])
                frame = cv2.warpAffine(base, shift, (w, h), borderMode=cv2.BORDER_REFLECT)
                frame = np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
                person = backend.estimate(frame, i / 30)[0]
                image.append(person.image_xyz * [w, h, w])
                world.append(person.world_xyz)
        image_sd, world_sd = np.std(image, axis=0), np.std(world, axis=0) * 1000
        for g, names in groups.items():
            for name in names:
                j = BLAZEPOSE33.index(name)
                px[g] += list(image_sd[j, :2])
                mm[g].append(world_sd[j])
    print(f"still subject, {len(stills)} frames x {repeats}: median SD, image px / world mm (x, y, z)")
    for g in groups:
        world_med = np.median(np.array(mm[g]), axis=0)
        print(f"  {g:10s} {np.median(px[g]):.1f} px   {world_med[0]:.1f}, {world_med[1]:.1f}, {world_med[2]:.1f} mm")


def main(path: Path = VIDEO) -> None:
    for every in (1, 2):
        image, world = extract(path, every)
        report(path, image, world)
        synthetic_angle_jitter(1 / np.median(np.diff(image.t_s)))
    still_subject(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else VIDEO)
