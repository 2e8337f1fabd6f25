#!/usr/bin/env python
"""KERAAL validation figures: BlazePose (and the other skeleton sources) against optical motion capture.

Prints the generated blocks of docs/validation.md; ``--write`` puts them into the
document, ``--check`` exits 1 when the document no longer matches the code.

    .venv/bin/python bench/validate_keraal.py [--write | --check]
"""

from __future__ import annotations

import sys

from validation import docblocks, keraal, keraal_sources


def _blocks() -> dict[str, str]:
    blocks = keraal.render_blocks(keraal.analyse_all(), keraal.mirror_variants())
    blocks["sources"] = keraal_sources.render_sources(keraal_sources.analyse_sources())
    return blocks


def main(argv: list[str] | None = None) -> int:
    return docblocks.main(argv, __doc__.splitlines()[0], keraal.BLOCKS, _blocks)


if __name__ == "__main__":
    sys.exit(main())
