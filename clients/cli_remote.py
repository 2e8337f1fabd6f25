"""``motionscript --server URL analyze INPUT``: the same analysis, run by a Motionscript service.

    motionscript --server URL [--api-key KEY] analyze INPUT [--exercise NAME] [--out FILE]
        [--patient-id ID] [--overlay FILE.mp4] [--timeout S] [--compact] [-q]

The key comes from ``--api-key`` or ``MOTIONSCRIPT_API_KEY``. The assessment
JSON written is the document ``motionscript analyze`` writes locally (same
fields, same order). Exit codes match the local CLI: 2 when the input was
unusable, 1 for anything else (server unreachable, timeout, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# The SDK (httpx, pydantic) is imported by the functions that talk to a server: the local CLI imports
# this module for `is_remote` on every run, and a local analysis needs neither.

__all__ = ["is_remote", "main"]

EXIT_INPUT = 2
EXIT_INTERNAL = 1
EXERCISES = (
    "bridge",
    "gait",
    "single_leg_stance",
    "sit_to_stand",
    "squat",
    "standing_hip_abduction",
    "standing_hip_flexion",
)  # the server checks; listed for --help and early errors
# A copy of kinematics.protocol_names.PROTOCOL_NAMES, in its order: clients/ imports nothing of the
# service's packages (tests/clients/test_sdk.py), and the SDK has no call for GET /v1/exercises.
# tests/clients/test_cli_remote.py keeps the two equal.


class _Line:
    """One status line on stderr, rewritten in place, only when stderr is a terminal."""

    def __init__(self, stream=None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.t0, self._last, self._shown = time.monotonic(), 0.0, False

    def show(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.1):
            return
        self._last, self._shown = now, True
        self.stream.write(f"\r{text:<60}")
        self.stream.flush()

    def upload(self, sent: int, total: int) -> None:
        self.show(
            f"uploading {sent / 1e6:.1f}/{total / 1e6:.1f} MB ({100 * sent / max(total, 1):.0f} %)", force=sent == total
        )

    def status(self, a) -> None:
        self.show(f"{a.status} ({time.monotonic() - self.t0:.0f} s)", force=True)

    def finish(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\n")
            self.stream.flush()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="motionscript --server URL", description="Run an analysis on a Motionscript service."
    )
    p.add_argument("--server", required=True, help="base URL of the service, e.g. https://motionscript.example.org")
    p.add_argument("--api-key", help="API key (default: MOTIONSCRIPT_API_KEY)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="submit a video, image or landmark JSON file and wait for the assessment")
    a.add_argument("input")
    a.add_argument("--exercise", choices=EXERCISES)
    a.add_argument("--out", help="write the assessment JSON here (default: stdout)")
    a.add_argument(
        "--overlay", metavar="FILE.mp4", help="also write the annotated video (needs an admin or clinician key)"
    )
    a.add_argument("--patient-id", help="pseudonymous patient id (no names)")
    a.add_argument("--timeout", type=float, default=900.0, metavar="S", help="give up waiting after S seconds")
    a.add_argument("--compact", action="store_true", help="no indentation in the JSON")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress line or summary")
    return p


def _write(document: dict, out: str | None, compact: bool) -> None:
    text = json.dumps(
        document, indent=None if compact else 1, ensure_ascii=False, separators=(",", ":") if compact else None
    )
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_text(text)
        tmp.replace(path)  # never leave a half-written assessment behind
    else:
        sys.stdout.write(text + "\n")


def _analyze(args: argparse.Namespace) -> int:
    from motionscript_client.sdk import Client

    line = _Line(enabled=False if args.quiet else None)
    try:
        with Client(args.server, args.api_key) as ms:
            accepted = ms.create_assessment(
                args.input, exercise=args.exercise, patient_id=args.patient_id, progress=line.upload
            )
            line.status(accepted)
            done = ms.wait(accepted.id, timeout_s=args.timeout, on_status=line.status)
            if args.overlay:
                overlay = Path(args.overlay)
                overlay.parent.mkdir(parents=True, exist_ok=True)
                tmp = overlay.with_name(overlay.name + ".part")
                tmp.write_bytes(ms.get_overlay(done.id))
                tmp.replace(overlay)
    finally:
        line.finish()
    doc = done.document()
    _write(doc, args.out, args.compact)
    if args.out and not args.quiet:
        sys.stderr.write(f"wrote {args.out} (assessment {done.id} on {args.server})\n")
        inp, view = doc.get("input") or {}, doc.get("view") or {}
        sys.stderr.write(
            f"  input: {inp.get('kind')}, {inp.get('frames_with_pose')}/{inp.get('frames_read')} frames with a pose\n"
        )
        sys.stderr.write(
            f"  view: {view.get('view')} (measurable planes: "
            f"{', '.join(view.get('measurable_planes') or []) or 'none'})\n"
        )
    return 0


def is_remote(argv: list[str]) -> bool:
    """True when ``--server`` comes before the command, as in ``motionscript --server URL analyze ...``."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--server" or a.startswith("--server="):
            return True
        if not a.startswith("-"):
            return False  # the command: a later --server belongs to it
        i += 2 if a == "--api-key" else 1
    return False


def main(argv: list[str] | None = None) -> int:
    from motionscript_client import errors

    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _analyze(args)
    except errors.APIError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"motionscript: {args.server}: {exc.status} {exc.detail}\n")
        return EXIT_INPUT if exc.status in (413, 415, 422) else EXIT_INTERNAL
    except (FileNotFoundError, ValueError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"motionscript: {exc}\n")
        return EXIT_INPUT
    except errors.AssessmentFailed as exc:
        sys.stderr.write(f"motionscript: {exc}\n")
        return EXIT_INPUT
    except errors.MotionscriptError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"motionscript: {exc}\n")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
