"""Routes are thin (docs/architecture.md): no data models and no queries in ``service/api/*.py``.

Models belong in ``service/schemas/``, queries and rules in the service modules the routes call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "service" / "api"
ROUTES = sorted(API.glob("*.py"))
QUERIES = {"execute", "scalar", "scalars", "get", "add", "delete", "query", "flush"}


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("pydantic", "sqlalchemy"):
            if not (node.module == "sqlalchemy.orm" and [a.name for a in node.names] == ["Session"]):
                found.append(f"{node.lineno}: imports {node.module}")
        elif isinstance(node, ast.ClassDef) and any(
            getattr(b, "id", getattr(b, "attr", "")) == "BaseModel" for b in node.bases
        ):
            found.append(f"{node.lineno}: defines the model {node.name}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("session", "db", "s")
            and node.func.attr in QUERIES
        ):
            found.append(f"{node.lineno}: queries the database ({node.func.value.id}.{node.func.attr})")
    return found


def test_there_are_routes():
    assert len(ROUTES) >= 10


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: p.name)
def test_the_route_module_holds_no_models_and_no_queries(path):
    assert _problems(path) == []


def test_the_check_finds_a_model_and_a_query(tmp_path):
    sample = tmp_path / "route.py"
    sample.write_text(
        "from pydantic import BaseModel\n"
        "from sqlalchemy import select\n"
        "class Out(BaseModel):\n    x: int\n"
        "def route(session):\n    return session.scalar(select(1))\n"
    )
    assert len(_problems(sample)) == 4
