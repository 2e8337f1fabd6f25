#!/usr/bin/env python
"""Single-camera view and facing against the pose2sim four-camera reference.

Prints the generated blocks of docs/validation.md; ``--write`` puts them into the
document, ``--check`` exits 1 when the document no longer matches the code.

    .venv/bin/python bench/validate_multiview.py [--write | --check]
"""

from __future__ import annotations

import sys

from validation import docblocks, multiview


def main(argv: list[str] | None = None) -> int:
    return docblocks.main(
        argv,
        __doc__.splitlines()[0],
        multiview.BLOCKS,
        lambda: multiview.render_blocks(multiview.analyse("single"), multiview.analyse("multi")),
    )


if __name__ == "__main__":
    sys.exit(main())
