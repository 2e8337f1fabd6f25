"""Benchmarks; each prints ratios against a baseline measured in the same run.

python -m bench           every benchmark
python -m bench NAME ...  one, with its own options (``python -m bench NAME --help``)
"""

__all__: list[str] = []
