#!/usr/bin/env python
"""Single-camera view and facing against the pose2sim four-camera reference.

Prints the generated blocks of docs/validation.md; ``--write`` puts them into the
document, ``--check`` exits 1 when the document no longer matches the code.

    .venv/bin/python bench/validate_multiview.py [--write | --check]
"""

from __future__ import annotations

import argparse
import sys

from validation import keraal, multiview


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"update the generated blocks in {multiview.DOC_PATH}")
    mode.add_argument("--check", action="store_true", help="exit 1 if the document's figures are stale")
    args = parser.parse_args(argv)

    blocks = multiview.render_blocks(multiview.analyse("single"), multiview.analyse("multi"))
    doc = multiview.DOC_PATH.read_text(encoding="utf-8")
    if args.write:
        multiview.DOC_PATH.write_text(multiview.write_blocks(doc, blocks), encoding="utf-8")
        print(f"updated {len(blocks)} blocks in {multiview.DOC_PATH}")
        return 0
    if args.check:
        stale = []
        for name, text in blocks.items():
            documented = multiview.extract_block(doc, name)
            problems = ["block missing"] if documented is None else keraal.compare_block(documented, text)
            stale += [f"{name}: {p}" for p in problems]
        print("\n".join(stale) if stale else "docs/validation.md is up to date")
        return 1 if stale else 0
    for name, text in blocks.items():
        print(f"## {name}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
