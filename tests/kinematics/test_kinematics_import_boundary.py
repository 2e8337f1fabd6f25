"""kinematics/ is the analysis core: it must not depend on media, models or the service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kinematics

FORBIDDEN = {"vision", "service", "clients", "fastapi", "mediapipe", "cv2", "av", "onnxruntime"}
PACKAGE = Path(kinematics.__file__).resolve().parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, top-level module)`` of every import, however nested (inside functions too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in (
                "import_module",
                "__import__",
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value.split(".")[0]))
    return found


def test_the_package_has_sources():
    assert {p.name for p in SOURCES} >= {"series.py", "angles.py", "pipeline.py", "synth.py"}


@pytest.mark.parametrize("path", SOURCES, ids=[p.relative_to(PACKAGE).as_posix() for p in SOURCES])
def test_kinematics_imports_nothing_from_media_models_or_service(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"line {line}: {module}" for line, module in _imported_modules(tree) if module in FORBIDDEN]
    assert not bad, f"{path.name} imports {', '.join(bad)}"


def test_the_checker_sees_nested_and_dynamic_imports():
    source = "def f():\n    import cv2\n    from vision.extract import x\n    importlib.import_module('service.app')\n"
    assert [m for _, m in _imported_modules(ast.parse(source))] == ["cv2", "vision", "service"]
