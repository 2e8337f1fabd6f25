"""``python -m bench [NAME [ARGS...]]``: run every benchmark, or the one named."""

from __future__ import annotations

import importlib
import sys

# name -> module with a ``main(argv) -> int``; imported only when run
BENCHMARKS = {
    "angles": "bench.angles",
    "gait": "bench.gait",
    "keraal": "bench.validate_keraal",
    "live": "bench.live",
    "load": "bench.load",
    "multiview": "bench.validate_multiview",
    "pipeline": "bench.pipeline",
    "throughput": "bench.throughput",
    "uploads": "bench.uploads",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench [{' | '.join(BENCHMARKS)}] [ARGS...]")
        return 0
    if argv:
        name, rest = argv[0], argv[1:]
        if name not in BENCHMARKS:
            sys.stderr.write(f"bench: unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}\n")
            return 2
        sys.argv[0] = f"python -m bench {name}"  # for the benchmark's own --help
        return importlib.import_module(BENCHMARKS[name]).main(rest)
    failed = [name for name, module in BENCHMARKS.items() if importlib.import_module(module).main([]) != 0]
    if failed:
        sys.stderr.write(f"bench: failed: {', '.join(failed)}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
