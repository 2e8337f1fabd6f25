"""``python -m tests.fingerprint [--update]``: check or rewrite the stored instrument fingerprint."""

from __future__ import annotations

import argparse
import json
import sys

from tests.fingerprint import (
    compare,
    cpu_class,
    dump,
    environment,
    fingerprint,
    fixture_inputs,
    stored_path,
    values_dir,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fingerprint", description=__doc__)
    p.add_argument(
        "--update",
        action="store_true",
        help="rewrite tests/fingerprint/values/<this CPU class>/*.json and its environment.json",
    )
    args = p.parse_args(argv)
    values = values_dir()
    values.mkdir(parents=True, exist_ok=True)
    print(f"CPU class {cpu_class()}: {values}", file=sys.stderr)
    moved = 0
    wanted = set()
    for item in fixture_inputs():
        path = stored_path(item)
        wanted.add(path.name)
        current = fingerprint(item)
        if args.update:
            path.write_text(dump(current))
            print(f"wrote {path.relative_to(values.parents[3])}", file=sys.stderr)
            continue
        if not path.exists():
            print(f"{item.name}: no stored fingerprint (run with --update)")
            moved += 1
            continue
        diffs = compare(json.loads(path.read_text()), current)
        moved += bool(diffs)
        for line in diffs:
            print(f"{item.name}: {line}")
    if args.update:
        for stale in values.glob("*.json"):
            if stale.name not in wanted | {"environment.json"}:
                stale.unlink()
        (values / "environment.json").write_text(dump(environment()))
        print("review the diff (git diff tests/fingerprint) before committing it", file=sys.stderr)
        return 0
    return 1 if moved else 0


if __name__ == "__main__":
    raise SystemExit(main())
