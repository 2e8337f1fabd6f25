"""Fixture files are the ones whose origin SOURCES.md documents."""

import hashlib
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def test_fixture_hashes_match_the_manifest():
    lines = (FIXTURES / "MANIFEST").read_text().split("\n")
    entries = [ln.split(maxsplit=1) for ln in lines if ln.strip()]
    assert len(entries) >= 9
    for digest, name in entries:
        data = (FIXTURES / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_every_fixture_is_listed():
    listed = {
        ln.split(maxsplit=1)[1].removeprefix("./") for ln in (FIXTURES / "MANIFEST").read_text().splitlines() if ln
    }
    present = {
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.name not in {"MANIFEST", "SOURCES.md", "README.md"}
    }
    assert present == listed
