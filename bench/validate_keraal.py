#!/usr/bin/env python
"""KERAAL validation figures: BlazePose (and the other skeleton sources) against optical motion capture.

Prints the generated blocks of docs/validation.md; ``--write`` puts them into the
document, ``--check`` exits 1 when the document no longer matches the code.

    .venv/bin/python bench/validate_keraal.py [--write | --check]
"""

from __future__ import annotations

import argparse
import sys

from validation import keraal, keraal_sources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"update the generated blocks in {keraal.DOC_PATH}")
    mode.add_argument("--check", action="store_true", help="exit 1 if the document's figures are stale")
    args = parser.parse_args(argv)

    blocks = keraal.render_blocks(keraal.analyse_all(), keraal.mirror_variants())
    blocks["sources"] = keraal_sources.render_sources(keraal_sources.analyse_sources())
    if args.write:
        doc = keraal.DOC_PATH.read_text(encoding="utf-8")
        keraal.DOC_PATH.write_text(keraal.write_blocks(doc, blocks), encoding="utf-8")
        print(f"updated {len(blocks)} blocks in {keraal.DOC_PATH}")
        return 0
    if args.check:
        doc = keraal.DOC_PATH.read_text(encoding="utf-8")
        stale = []
        for name, text in blocks.items():
            documented = keraal.extract_block(doc, name)
            problems = ["block missing"] if documented is None else keraal.compare_block(documented, text)
            stale += [f"{name}: {p}" for p in problems]
        print("\n".join(stale) if stale else "docs/validation.md is up to date")
        return 1 if stale else 0
    for name, text in blocks.items():
        print(f"## {name}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
