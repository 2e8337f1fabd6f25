"""``motionscript``: analyse a recording locally, or run the service.

    motionscript analyze INPUT [--exercise NAME] [--out FILE] [--overlay FILE.mp4]
        [--imu FILE --imu-placement sacrum [--imu-axes up=+x,anterior=+z,left=-y] ...] [--emg FILE ...]
    motionscript outcomes odi 2 2 2 0 2 2 2 - 2 2     (ten section scores, '-' unanswered)
    motionscript outcomes nrs 6

INPUT is a video, an image or a landmark JSON file, recognised by content.
On failure the exit code is non-zero and one line says why.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from kinematics.errors import InputError, MotionscriptError

# Module level: the standard library and kinematics.errors only. `analyze` starts the first chunk's
# worker of a long video before anything heavier is imported (vision/head_start.py), and that worker
# imports this module again (multiprocessing re-runs the `motionscript` script); each command imports
# what it needs (tests/service/test_cli_imports.py).

__all__ = ["main"]

EXIT_INPUT = 2  # the input was unusable (bad file, no person, ...)
EXIT_INTERNAL = 1


class _ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream=sys.stderr, width: int = 30) -> None:
        self.stream, self.width, self.t0 = stream, width, time.monotonic()
        self.enabled = stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done != total):
            return
        self._last = now
        fps = done / max(now - self.t0, 1e-9)
        if total:
            filled = int(self.width * min(done / total, 1.0))
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {done}/{total} frames, {fps:.0f} fps ")
        else:
            self.stream.write(f"\r{done} frames, {fps:.0f} fps ")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _wearable_files(args: argparse.Namespace):
    """The ``--imu`` / ``--emg`` options as :class:`service.wearables.WearableFiles` (None without files)."""
    if args.imu is None and args.emg is None:
        return None
    from pydantic import ValidationError

    from service.wearables import WearableFiles, WearablesRequest

    for flag, path in (("--imu", args.imu), ("--emg", args.emg)):
        if path is not None and not Path(path).is_file():
            raise InputError(f"{flag} {path}: no such file")
    try:
        request = WearablesRequest(
            imu_placement=args.imu_placement,
            imu_side=args.imu_side,
            imu_axes=args.imu_axes,
            imu_sampling_rate_hz=args.imu_rate,
            imu_offset_s=args.imu_offset,
            imu_height_m=args.imu_height,
            emg_sampling_rate_hz=args.emg_rate,
            emg_mains_hz=args.emg_mains or None,
            emg_hardware_delay_s=args.emg_delay,
            emg_offset_s=args.emg_offset,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
    return WearableFiles(
        imu_path=None if args.imu is None else Path(args.imu),
        emg_path=None if args.emg is None else Path(args.emg),
        request=request,
    )


def _analyze(args: argparse.Namespace) -> int:
    from service.settings import Settings
    from vision.head_start import start_head

    settings = Settings()
    # A long video's first chunk starts on another core now, while this process imports the analysis
    # (numpy, scipy, pydantic: ~0.8 s); None for anything else (vision/head_start.py).
    head = None
    if args.input is not None:
        head = start_head(
            args.input,
            settings.backend_factory(video=True),
            settings.processes_per_video,
            threads=settings.chunk_runner == "threads",
        )
    try:
        from service.analysis import NO_INPUT, PoseModels, analyze_file  # imports numpy/scipy only when needed

        if args.input is None and args.imu is None and args.emg is None:
            raise InputError(NO_INPUT)
        wearables = _wearable_files(args)
        if args.overlay and args.input is None:
            raise InputError("--overlay draws on the input video: give a video INPUT")
        kept: list = []
        bar = _ProgressBar() if not args.quiet else None
        try:
            assessment = analyze_file(
                args.input,
                exercise=args.exercise,
                space=args.space,
                progress=bar,
                wearables=wearables,
                on_landmarks=kept.append,
                pose=PoseModels.from_settings(settings),
                head_start=head,
            )
        finally:
            if bar:
                bar.finish()
    finally:
        if head is not None:
            head.cancel()  # (a no-op once the analysis has used it)
    if args.overlay:
        _write_overlay(args, assessment, kept)
    text = assessment.model_dump_json(indent=None if args.compact else 1)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".part")
        tmp.write_text(text)
        tmp.replace(out)  # never leave a half-written assessment behind
        if not args.quiet:
            _summary(assessment, out)
    else:
        sys.stdout.write(text + "\n")
    return 0


def _write_overlay(args: argparse.Namespace, assessment, kept: list) -> None:
    """``--overlay FILE``: the input video with the skeleton, angles and events drawn (vision/overlay.py)."""
    if assessment.input.kind != "video" or not kept:
        raise InputError(f"--overlay needs a video input; {args.input} is {assessment.input.kind}")
    from service.overlay import render_assessment_overlay
    from vision.overlay import pack_landmarks

    out = Path(args.overlay)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    bar = _ProgressBar() if not args.quiet else None
    try:
        stats = render_assessment_overlay(
            args.input, pack_landmarks(kept[0]), json.loads(assessment.model_dump_json()), tmp, progress=bar
        )
        tmp.replace(out)
    finally:
        if bar:
            bar.finish()
        tmp.unlink(missing_ok=True)
    if not args.quiet:
        sys.stderr.write(f"wrote {out} ({stats.frames} frames, {stats.codec})\n")


def _evidence(m, of: str = "frames measured") -> str:
    """What a protocol value rests on, in words: ``" (7 steps, 100 % of frames measured, confidence 0.92)"``."""
    if m.source != "protocol" or m.coverage is None:
        return ""
    parts = [f"{m.n_events} {m.event_kind}(s)"] if m.n_events is not None and m.event_kind else []
    parts += [f"{m.coverage:.0%} of {of}", f"confidence {m.confidence:.2f}"]
    return f" ({', '.join(parts)})"


def _summary(a, out: Path) -> None:
    err = sys.stderr
    err.write(f"wrote {out}\n")
    if a.input.kind == "sensors":
        err.write("  input: wearable sensors only (no camera)\n")
    else:
        err.write(f"  input: {a.input.kind}, {a.input.frames_with_pose}/{a.input.frames_read} frames with a pose\n")
        err.write(f"  view: {a.view.view} (measurable planes: {', '.join(a.view.measurable_planes) or 'none'})\n")
    from service.catalogue import coverage_of

    of = coverage_of(a.input.kind)  # a camera's frames, or a sensor-only assessment's samples
    for m in a.metrics:
        if m.measurable and (m.source != "series" or m.name.endswith(("_range", "_mean"))):
            where = ", ".join(
                x for x in (m.side, f"pass {m.pass_index + 1}" if m.pass_index is not None else None) if x
            )
            where = f" ({where})" if where else ""
            value = f"{m.value:g}" if m.unit == "1" else f"{m.value} {m.unit}"  # counts carry no unit
            err.write(f"  {m.name}{where}: {value}{_evidence(m, of)}\n")
    for q in a.quality:
        err.write(f"  [{q.severity}] {q.message}\n")
    for f in a.findings:
        err.write(f"  finding [{f.severity}]: {f.message}\n")
    w = a.wearables
    if w is not None:
        if w.imu is not None and w.imu.gait is not None and w.imu.gait.cadence_steps_per_min is not None:
            g = w.imu.gait
            err.write(
                f"  imu: {len(g.sequences_s)} walking bout(s), {len(g.initial_contacts)} initial contacts, "
                f"cadence {g.cadence_steps_per_min} steps/min"
                + (f", stride {g.stride_length_m} m, {g.walking_speed_mps} m/s" if g.stride_length_m else "")
                + "\n"
            )
        if w.sync is not None:
            err.write(
                f"  imu-video offset: {w.sync.offset_s:+.3f} s ({w.sync.method}, confidence {w.sync.confidence:.2f})\n"
            )
        if w.emg is not None:
            err.write(f"  emg: {len(w.emg.channels)} channels, {len(w.emg.bursts)} bursts\n")
        for q in w.quality:
            err.write(f"  [{q.severity}] {q.message}\n")


class _Version(argparse.Action):
    """``--version``: argparse's own version action, with the version read only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None) -> None:
        super().__init__(option_strings, dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from service.version import __version__  # (importlib.metadata: not for every run)

        sys.stdout.write(f"motionscript {__version__}\n")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    from kinematics.protocol_names import PROTOCOL_NAMES

    p = argparse.ArgumentParser(prog="motionscript", description="Markerless pelvis and hip movement assessment.")
    p.add_argument("--version", action=_Version, help="show program's version number and exit")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument(
        "--server",
        metavar="URL",
        help="analyse on a Motionscript service instead: motionscript --server URL [--api-key KEY] "
        "analyze INPUT ... (key also from MOTIONSCRIPT_API_KEY; docs/sdk.md)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="analyse a video, image or landmark JSON file")
    a.add_argument(
        "input",
        nargs="?",
        help="video (mp4/mov/mkv/webm/avi), image (jpeg/png/webp) or landmark JSON; optional with --imu/--emg "
        "(a sensor-only assessment)",
    )
    a.add_argument("--exercise", choices=PROTOCOL_NAMES, help="the exercise performed")
    a.add_argument("--out", help="write the assessment JSON here (default: stdout)")
    a.add_argument(
        "--space",
        choices=("image", "world"),
        default="image",
        help="landmarks used for angles: image plane (default) or the model's 3D world estimate",
    )
    a.add_argument("--compact", action="store_true", help="no indentation in the JSON")
    a.add_argument(
        "--overlay",
        metavar="FILE.mp4",
        help="also write the video annotated: skeleton, pelvis line, the measured angles and the events (H.264)",
    )
    w = a.add_argument_group("wearable sensors (docs/wearables.md)")
    w.add_argument("--imu", metavar="FILE", help="IMU recording: generic CSV, Xsens text export or Mobilise-D CSV")
    w.add_argument(
        "--imu-placement",
        choices=("sacrum", "lower_back", "pelvis", "thigh", "shank", "trunk"),
        help="where the IMU was worn (required unless the file declares it)",
    )
    w.add_argument("--imu-side", choices=("left", "right"), help="which leg, for a thigh or shank IMU")
    w.add_argument(
        "--imu-axes",
        metavar="SPEC",
        help="sensor axes pointing up, anterior and left when standing, e.g. up=+x,anterior=+z,left=-y, or 'mobilised'",
    )
    w.add_argument("--imu-rate", type=float, metavar="HZ", help="IMU sampling rate (checked against timestamps)")
    w.add_argument(
        "--imu-height",
        type=float,
        metavar="M",
        help="height of the lower-back sensor above the ground while standing (stride length, walking speed)",
    )
    w.add_argument(
        "--imu-offset",
        type=float,
        metavar="S",
        help="manual clock offset, t_video = t_imu + S (default: found by cross-correlation)",
    )
    w.add_argument("--emg", metavar="FILE", help="EMG recording: generic CSV or UCI lower-limb text")
    w.add_argument("--emg-rate", type=float, metavar="HZ", help="EMG sampling rate when the file has no timestamps")
    w.add_argument(
        "--emg-mains",
        type=float,
        choices=(0.0, 50.0, 60.0),
        default=50.0,
        help="mains frequency to notch (0: none; default 50)",
    )
    w.add_argument(
        "--emg-delay",
        type=float,
        metavar="S",
        help="the EMG system's internal delay behind the motion data (default: unknown, 0 s is used "
        "and the assessment says so)",
    )
    w.add_argument(
        "--emg-offset",
        type=float,
        default=0.0,
        metavar="S",
        help="clock offset, t_motion = t_emg + S - delay (default 0)",
    )
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    a.set_defaults(func=_analyze)
    x = sub.add_parser("export", help="write an assessment's series as CSV or an OpenSim .mot file")
    x.add_argument("assessment", help="an assessment JSON written by `analyze`")
    x.add_argument("--format", choices=("csv", "mot"), default="csv")
    x.add_argument("--out", help="output file (default: stdout)")
    x.set_defaults(func=_export)
    s = sub.add_parser("schema", help="print the assessment JSON Schema")
    s.add_argument(
        "--landmarks-dir",
        metavar="DIR",
        help="instead, write the JSON Schema of each landmark skeleton to DIR/<schema>.schema.json",
    )
    s.set_defaults(func=_print_schema)

    sv = sub.add_parser("serve", help="run the REST service (SQLite and local workers unless configured)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--workers", type=int, help="analysis processes (default: MOTIONSCRIPT_WORKERS or 2)")
    sv.set_defaults(func=_serve)

    w = sub.add_parser("worker", help="run Celery analysis workers on Redis (MOTIONSCRIPT_JOB_BACKEND=celery)")
    w.add_argument("--concurrency", type=int, default=1, help="jobs at once in this process group")
    w.add_argument("--pool", default="prefork", choices=("prefork", "solo", "threads"))
    w.set_defaults(func=_worker)

    sw = sub.add_parser(
        "sweep",
        help="delete recordings past MOTIONSCRIPT_RETENTION_DAYS and orphaned partial uploads once "
        "(`serve` does it at start-up and hourly)",
    )
    sw.set_defaults(func=_sweep)

    k = sub.add_parser("keys", help="manage API keys")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    kc = ksub.add_parser("create", help="create an API key for a clinic (created if new) and print it")
    kc.add_argument("--clinic", required=True)
    kc.add_argument("--role", default="admin", choices=("admin", "clinician", "app"))
    kc.add_argument("--label", help="what the key is for, e.g. 'front-desk tablet'; named in the audit log")
    kc.set_defaults(func=_keys_create)
    kl = ksub.add_parser("list", help="a clinic's keys: prefix, role, label, created, revoked")
    kl.add_argument("--clinic", required=True)
    kl.set_defaults(func=_keys_list)
    kr = ksub.add_parser("revoke", help="revoke a key at once (by its prefix or id, from keys list)")
    kr.add_argument("--clinic", required=True)
    kr.add_argument("key", help="the key's prefix or id (or the whole key)")
    kr.set_defaults(func=_keys_revoke)
    kt = ksub.add_parser("rotate", help="a new key with the same role and label; the old one is revoked")
    kt.add_argument("--clinic", required=True)
    kt.add_argument("key", help="the key's prefix or id (or the whole key)")
    kt.set_defaults(func=_keys_rotate)

    lk = sub.add_parser("links", help="patient links (POST /v1/patients/{id}/link; docs/web.md)")
    lksub = lk.add_subparsers(dest="links_command", required=True)
    lr = lksub.add_parser("reset", help="a new link secret for the clinic: every patient link it sent stops working")
    lr.add_argument("--clinic", required=True)
    lr.set_defaults(func=_links_reset)

    u = sub.add_parser("users", help="manage the people of a clinic who log in (docs/web.md)")
    usub = u.add_subparsers(dest="users_command", required=True)
    ua = usub.add_parser("add", help="add a person; prints a one-time login link (or reads a password)")
    ua.add_argument("--clinic", required=True)
    ua.add_argument("--email", required=True, help="the login name")
    ua.add_argument("--name", required=True, help="the name shown in the audit log and on reviews")
    ua.add_argument("--role", default="clinician", choices=("admin", "clinician"))
    ua.add_argument(
        "--password-stdin", action="store_true", help="read a password from stdin instead of printing a login link"
    )
    ua.add_argument("--url", help="the service's address for the link (default: MOTIONSCRIPT_PUBLIC_URL)")
    ua.set_defaults(func=_users_add)
    ul = usub.add_parser("list", help="a clinic's people: email, name, role, last login, disabled")
    ul.add_argument("--clinic", required=True)
    ul.set_defaults(func=_users_list)
    ud = usub.add_parser("disable", help="disable a person: their logins end at once")
    ud.add_argument("email")
    ud.set_defaults(func=_users_disable)
    ue = usub.add_parser("enable", help="enable a disabled person again")
    ue.add_argument("email")
    ue.set_defaults(func=_users_enable)
    ur = usub.add_parser(
        "reset", help="clear a person's password, end their logins, and print a new one-time login link"
    )
    ur.add_argument("email")
    ur.add_argument("--url", help="the service's address for the link (default: MOTIONSCRIPT_PUBLIC_URL)")
    ur.set_defaults(func=_users_reset)

    st = sub.add_parser("storage", help="encryption keys of the stored uploads (docs/deploy.md#keys)")
    stsub = st.add_subparsers(dest="storage_command", required=True)
    sk = stsub.add_parser("keygen", help="print a new keyring entry 'id:base64key' for MOTIONSCRIPT_STORAGE_KEYS")
    sk.add_argument("--id", help="the key's id (default: 8 random hex digits)")
    sk.set_defaults(func=_storage_keygen)
    sr = stsub.add_parser(
        "rotate-keys",
        help="re-wrap every stored file's data key with the keyring's first key (and encrypt files stored "
        "before encryption); afterwards the older keys can be removed",
    )
    sr.set_defaults(func=_storage_rotate)

    b = sub.add_parser(
        "backup", help="write the database and the stored uploads to one archive (docs/deploy.md#backups)"
    )
    b.add_argument("out", type=Path, help="FILE.tar, or FILE.tar.gz to compress")
    b.set_defaults(func=_backup)
    rs = sub.add_parser("restore", help="restore a backup into an empty database and uploads folder")
    rs.add_argument("archive", type=Path, help="a file written by `motionscript backup`")
    rs.set_defaults(func=_restore)

    d = sub.add_parser("db", help="database maintenance")
    dsub = d.add_subparsers(dest="db_command", required=True)
    du = dsub.add_parser("upgrade", help="apply migrations")
    du.set_defaults(func=lambda args: _db_upgrade())

    r = sub.add_parser("report", help="write a session report from the local database (docs/reports.md)")
    r.add_argument("--clinic", required=True, help="the clinic's name (as given to keys create)")
    r.add_argument("--patient", required=True, help="the patient's code")
    r.add_argument("--session", required=True, help="the session id, or its date YYYY-MM-DD")
    r.add_argument("--out", required=True, type=Path, help="FILE.pdf or FILE.html")
    r.set_defaults(func=_report)

    fx = sub.add_parser("fhir", help="write a patient's FHIR R4 Bundle from the local database (docs/outcomes.md)")
    fx.add_argument("--clinic", required=True, help="the clinic's name (as given to keys create)")
    fx.add_argument("--patient", required=True, help="the patient's code")
    fx.add_argument("--out", type=Path, help="output file (default: stdout)")
    fx.set_defaults(func=_fhir)

    o = sub.add_parser("outcomes", help="score a questionnaire locally (docs/outcomes.md)")
    osub = o.add_subparsers(dest="outcomes_command", required=True)
    oo = osub.add_parser("odi", help="Oswestry Disability Index: ten section scores 0-5 in form order, '-' unanswered")
    oo.add_argument("sections", nargs="+", metavar="SCORE")
    oo.set_defaults(func=_outcomes_odi)
    on = osub.add_parser("nrs", help="pain numeric rating scale 0-10")
    on.add_argument("value")
    on.set_defaults(func=_outcomes_nrs)
    return p


def _int_or_text(raw: str) -> int | str:
    return int(raw) if raw.lstrip("-").isdigit() else raw


def _outcomes_odi(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from kinematics.outcomes import ODI_SECTIONS, score_odi

    if len(args.sections) != len(ODI_SECTIONS):
        raise InputError(
            f"odi: expected {len(ODI_SECTIONS)} section scores ({', '.join(ODI_SECTIONS)}), "
            f"got {len(args.sections)}; write '-' for an unanswered section"
        )
    answers = {
        name: None if raw == "-" else _int_or_text(raw) for name, raw in zip(ODI_SECTIONS, args.sections, strict=True)
    }
    scored = score_odi(answers)  # type: ignore[arg-type]
    sys.stdout.write(json.dumps({"instrument": "odi", **asdict(scored)}) + "\n")
    return 0


def _outcomes_nrs(args: argparse.Namespace) -> int:
    from kinematics.outcomes import score_nrs

    value = score_nrs(_int_or_text(args.value))
    sys.stdout.write(json.dumps({"instrument": "nrs", "value": value, "recovered": value == 0}) + "\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app
    from service.settings import Settings

    settings = Settings()
    if args.workers is not None:
        settings = settings.model_copy(update={"workers": args.workers})
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import sessionmaker

    from service.retention import Sweeper
    from service.settings import Settings
    from service.store.db import make_engine, migrate
    from service.store.uploads import UploadStore

    settings = Settings()
    migrate(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url, pool_size=1, max_overflow=1)
    try:
        store = UploadStore(settings.uploads_path, None, settings.scratch_path)  # deletes only: no keys needed
        report = Sweeper(sessionmaker(engine, expire_on_commit=False), store, settings).sweep_once()
    finally:
        engine.dispose()
    sys.stdout.write(
        json.dumps(
            {
                "retention_days": settings.retention_days,
                "assessments": report.assessments,
                "files": report.files,
                "partial_uploads": report.partial,
                "scratch": report.scratch,
                "errors": report.errors,
            }
        )
        + "\n"
    )
    return 1 if report.errors else 0


def _worker(args: argparse.Namespace) -> int:
    import threading

    from service.jobs.celery_app import make_celery, start_sweeper
    from service.logs import configure_logging
    from service.settings import Settings
    from service.store.db import migrate

    settings = Settings()
    if settings.job_backend != "celery":
        raise InputError(
            "`motionscript worker` runs Celery workers: set MOTIONSCRIPT_JOB_BACKEND=celery "
            "(and MOTIONSCRIPT_REDIS_URL, MOTIONSCRIPT_DATABASE_URL); `serve` runs local workers itself"
        )
    configure_logging(settings.log_level)
    migrate(settings.sqlalchemy_url)
    app = make_celery(settings)
    stop = threading.Event()
    start_sweeper(app, settings, stop)
    try:
        app.worker_main(
            [
                "worker",
                f"--concurrency={args.concurrency}",
                f"--pool={args.pool}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    finally:
        stop.set()
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from service.auth import create_key
    from service.settings import Settings
    from service.store.db import make_engine, migrate

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine, expire_on_commit=False) as session:
        key, clinic = create_key(session, args.clinic, args.role, args.label)
        session.commit()
    engine.dispose()
    sys.stderr.write(f"created a {args.role} key for clinic {clinic.name!r}; it is shown once:\n")
    sys.stdout.write(key + "\n")
    return 0


@contextmanager
def _db():
    """A session on the configured database (migrated first), committed on success."""
    from sqlalchemy.orm import Session

    from service.settings import Settings
    from service.store.db import make_engine, migrate

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session, settings
            session.commit()
    finally:
        engine.dispose()


def _when(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%MZ") if t is not None else "-"


def _clinic_id(session, name: str) -> str:
    from service.accounts import AccountError, clinic_by_name

    try:
        return clinic_by_name(session, name).id
    except AccountError as exc:
        raise InputError(str(exc)) from None


def _keys_list(args: argparse.Namespace) -> int:
    from service.auth import list_keys

    with _db() as (session, _):
        rows = list_keys(session, _clinic_id(session, args.clinic))
    sys.stdout.write(f"{'prefix':<14}{'role':<11}{'created':<18}{'revoked':<18}label\n")
    for k in rows:
        sys.stdout.write(
            f"{k.prefix:<14}{k.role:<11}{_when(k.created_at):<18}{_when(k.revoked_at):<18}{k.label or ''}\n"
        )
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from service.auth import revoke_key

    with _db() as (session, _):
        try:
            row = revoke_key(session, _clinic_id(session, args.clinic), args.key)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    sys.stderr.write(
        f"revoked key {row.prefix} ({row.role}{', ' + row.label if row.label else ''}) at {row.revoked_at}\n"
    )
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    from service.auth import rotate_key

    with _db() as (session, _):
        try:
            key, new, old = rotate_key(session, _clinic_id(session, args.clinic), args.key)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    sys.stderr.write(f"revoked key {old.prefix}; its replacement ({new.role}, label {new.label!r}) is shown once:\n")
    sys.stdout.write(key + "\n")
    return 0


def _links_reset(args: argparse.Namespace) -> int:
    import secrets

    from service import audit
    from service.accounts import AccountError, clinic_by_name

    with _db() as (session, _):
        try:
            clinic = clinic_by_name(session, args.clinic)
        except AccountError as exc:
            raise InputError(str(exc)) from None
        clinic.link_secret = secrets.token_hex(32)
        audit.record(session, _cli_principal(clinic.id), "clinic.links_reset", "clinic", clinic.id)
    sys.stderr.write(f"clinic {clinic.name!r}: every patient link sent so far no longer works; send new ones\n")
    return 0


def _cli_principal(clinic_id: str):
    import getpass

    from service.auth import Principal

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Principal(
        clinic_id=clinic_id, key_id="cli", role="admin", kind="cli", actor_name=f"motionscript CLI ({who})"
    )


def _login_url(session, settings, user, url: str | None) -> str:
    from service.accounts import create_login_link

    token = create_login_link(session, user, settings.login_link_minutes)
    base = (url or settings.public_url or "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/app/login#link={token}"


def _user(session, email: str):
    from service.accounts import find_user

    user = find_user(session, email)
    if user is None:
        raise InputError(f"no account {email!r} (see `motionscript users list --clinic NAME`)")
    return user


def _users_add(args: argparse.Namespace) -> int:
    from service import audit
    from service.accounts import AccountError, create_user

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    with _db() as (session, settings):
        from service.accounts import clinic_by_name

        try:
            clinic = clinic_by_name(session, args.clinic)
            user = create_user(session, clinic, args.email, args.name, args.role, password)
        except AccountError as exc:
            raise InputError(str(exc)) from None
        audit.record(
            session,
            _cli_principal(clinic.id),
            "user.create",
            "user",
            user.id,
            after={"email": user.email, "display_name": user.display_name, "role": user.role},
        )
        link = None if password is not None else _login_url(session, settings, user, args.url)
    sys.stderr.write(f"added {user.role} {user.display_name} <{user.email}> to clinic {clinic.name!r}\n")
    if link:
        hours = settings.login_link_minutes / 60
        sys.stderr.write(f"one-time login link (valid {hours:g} h; send it to them only):\n")
        sys.stdout.write(link + "\n")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from service.store.models import User

    with _db() as (session, _):
        rows = session.scalars(
            select(User).where(User.clinic_id == _clinic_id(session, args.clinic)).order_by(User.email)
        ).all()
    sys.stdout.write(f"{'email':<32}{'role':<11}{'password':<10}{'last login':<18}{'disabled':<18}name\n")
    for u in rows:
        sys.stdout.write(
            f"{u.email:<32}{u.role:<11}{'yes' if u.password_hash else 'no':<10}{_when(u.last_login_at):<18}"
            f"{_when(u.disabled_at):<18}{u.display_name}\n"
        )
    return 0


def _users_disable(args: argparse.Namespace) -> int:
    from service import audit
    from service.accounts import end_user_sessions
    from service.store.db import now

    with _db() as (session, _):
        user = _user(session, args.email)
        if user.disabled_at is None:
            user.disabled_at = now()
            audit.record(session, _cli_principal(user.clinic_id), "user.disable", "user", user.id)
        ended = end_user_sessions(session, user.id)
    sys.stderr.write(f"disabled {user.email}; {ended} login(s) ended\n")
    return 0


def _users_enable(args: argparse.Namespace) -> int:
    from service import audit

    with _db() as (session, _):
        user = _user(session, args.email)
        if user.disabled_at is not None:
            user.disabled_at = None
            audit.record(session, _cli_principal(user.clinic_id), "user.enable", "user", user.id)
    sys.stderr.write(f"enabled {user.email}\n")
    return 0


def _users_reset(args: argparse.Namespace) -> int:
    from service import audit
    from service.accounts import AccountError, set_password

    with _db() as (session, settings):
        user = _user(session, args.email)
        set_password(session, user, None)  # ends their logins and unused links
        audit.record(session, _cli_principal(user.clinic_id), "user.reset", "user", user.id)
        try:
            link = _login_url(session, settings, user, args.url)
        except AccountError as exc:
            raise InputError(str(exc)) from None
    sys.stderr.write(f"reset {user.email}: password cleared, logins ended; one-time login link:\n")
    sys.stdout.write(link + "\n")
    return 0


def _storage_keygen(args: argparse.Namespace) -> int:
    from service.store.crypto import new_key_entry

    try:
        sys.stdout.write(new_key_entry(args.id) + "\n")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return 0


def _storage_rotate(args: argparse.Namespace) -> int:
    from collections import Counter

    from service.settings import Settings
    from service.store.crypto import DecryptError, KeyMissing
    from service.store.uploads import UploadStore

    settings = Settings()
    try:
        store = UploadStore.from_settings(settings, create_key=False)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    counts: Counter[str] = Counter()
    failed: list[str] = []
    for rel in store.files():
        try:
            counts[store.rewrap(rel)] += 1
        except FileNotFoundError:  # deleted meanwhile
            continue
        except (KeyMissing, DecryptError) as exc:
            failed.append(f"{rel}: {exc}")
    sys.stderr.write(
        f"storage key {store.keyring.current!r}: {counts['rewrapped']} files re-wrapped, "
        f"{counts['encrypted']} plaintext files encrypted, {counts['current']} already current"
        + (f", {len(failed)} failed" if failed else "")
        + "\n"
    )
    for line in failed:
        sys.stderr.write(f"  {line}\n")
    if failed:
        raise InputError(f"{len(failed)} files could not be re-wrapped; the older keys are still needed")
    sys.stderr.write("every stored file now needs only the first key; older keys may be removed from the keyring\n")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from service.backup import backup
    from service.settings import Settings

    summary = backup(Settings(), args.out)
    sys.stderr.write(
        f"wrote {args.out}: {sum(summary.tables.values())} rows in {len(summary.tables)} tables, "
        f"{summary.files} stored files ({summary.bytes / 1e6:.1f} MB) at schema {summary.revision}\n"
        + (
            f"the files are encrypted with storage key(s) {', '.join(summary.key_ids)}, which are NOT in the "
            "archive: keep them apart from it (docs/deploy.md#keys)\n"
            if summary.key_ids
            else ""
        )
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from service.backup import BackupError, restore
    from service.settings import Settings

    try:
        summary = restore(Settings(), args.archive)
    except BackupError as exc:
        raise InputError(str(exc)) from None
    sys.stderr.write(
        f"restored {sum(summary.tables.values())} rows in {len(summary.tables)} tables and {summary.files} "
        f"stored files ({summary.bytes / 1e6:.1f} MB)\n"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from service.reports.local import write_report
    from service.settings import Settings
    from service.store.db import make_engine

    engine = make_engine(Settings().sqlalchemy_url)
    try:
        with Session(engine) as session:
            out = write_report(
                session, clinic=args.clinic, patient_code=args.patient, session=args.session, out=args.out
            )
    finally:
        engine.dispose()
    sys.stderr.write(f"wrote {out}\n")
    return 0


def _fhir(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from service.fhir import fhir_for_code
    from service.settings import Settings
    from service.store.db import make_engine

    engine = make_engine(Settings().sqlalchemy_url)
    try:
        with Session(engine) as session:
            text = fhir_for_code(session, clinic=args.clinic, patient_code=args.patient)
    finally:
        engine.dispose()
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0


def _db_upgrade() -> int:
    from service.settings import Settings
    from service.store.db import migrate

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.sqlalchemy_url)
    return 0


def _export(args: argparse.Namespace) -> int:
    from service.export import to_csv, to_mot

    try:
        doc = json.loads(Path(args.assessment).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{args.assessment}: not a readable assessment JSON ({exc})") from None
    if not isinstance(doc, dict) or "series" not in doc:
        raise InputError(f"{args.assessment}: not an assessment (no 'series'); write one with `motionscript analyze`")
    text = to_csv(doc) if args.format == "csv" else to_mot(doc, name=Path(args.assessment).stem)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _print_schema(args: argparse.Namespace) -> int:
    if args.landmarks_dir:
        from kinematics.schemas import SCHEMAS
        from vision.landmark_json import json_schema

        out = Path(args.landmarks_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in SCHEMAS:
            (out / f"{name}.schema.json").write_text(json.dumps(json_schema(name), indent=1) + "\n", encoding="utf-8")
        return 0
    from service.schemas import Assessment

    sys.stdout.write(json.dumps(Assessment.model_json_schema(), indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from clients.cli_remote import is_remote

    if is_remote(argv):  # motionscript --server URL analyze ...: HTTP only, no model or database here
        from clients.cli_remote import main as remote_main

        return remote_main(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (MotionscriptError, InputError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"motionscript: error: {exc}\n")
        return EXIT_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("motionscript: interrupted\n")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        sys.stderr.write(f"motionscript: internal error: {type(exc).__name__}: {exc} (run with --debug for details)\n")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
