"""No module outside the schema registry indexes landmarks by position (issue 20).

Joint positions belong to ``kinematics/schemas.py`` (and the BlazePose name list in
``kinematics/series.py``); everything else asks a schema for a name, so that a COCO-17 or
Kinect skeleton cannot be read as if it were BlazePose. The scan looks for the forms
position lookups took before: tables of BlazePose indices (``(11, 12)``, ``23, 24, 27, 28``),
joint constants (``_L_HIP = 23``) and landmark arrays subscripted with a joint number
(``image_xyz[[23, 24]]``, ``landmarks[27][1]``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("kinematics", "vision", "service", "clients", "bench")
ALLOWED = {
    "kinematics/schemas.py": "the registry itself",
    "kinematics/series.py": "BLAZEPOSE33, the core's name list",
    # the model's output tensor: rows 33 and 34 are the ROI points of the next frame, not body landmarks
    "vision/backends/_blazepose.py": "decodes the BlazePose model's own output tensor",
}
LANDMARK_ARRAY = re.compile(r"(xyz|landmarks?|visibility|vis|pts|px|points|keypoints|kps)$", re.IGNORECASE)
JOINT_CONSTANT = re.compile(r"(HIP|KNEE|ANKLE|SHOULDER|WRIST|ELBOW|HEEL|TOE|NOSE|EAR|EYE)", re.IGNORECASE)
COLUMNS = 5  # x, y, z, visibility, presence: a subscript below this is a coordinate, not a joint


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    return ""


def _ints(node: ast.AST) -> list[int]:
    if isinstance(node, ast.Slice):
        return []
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return [node.value]
    return [v for child in ast.iter_child_nodes(node) for v in _ints(child)]


def positional_lookups(source: str) -> list[str]:
    """``line: code`` of every landmark looked up by position in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Tuple | ast.List) and len(node.elts) >= 2:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and type(e.value) is int]
            if len(values) == len(node.elts) and all(11 <= v <= 32 for v in values):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Subscript) and LANDMARK_ARRAY.search(_name(node.value)):
            if any(v >= COLUMNS for v in _ints(node.slice)):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and type(node.value.value) is int:
            if any(isinstance(t, ast.Name) and JOINT_CONSTANT.search(t.id) for t in node.targets):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


SOURCES = sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_landmark_is_looked_up_by_position(path):
    rel = str(path.relative_to(REPO))
    if rel in ALLOWED:
        return
    found = positional_lookups(path.read_text(encoding="utf-8"))
    assert not found, f"{rel} indexes landmarks by position; ask the schema for a name:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "code",
    [
        "_SH = (11, 12)\n",
        "_L_HIP, _R_HIP, _L_ANKLE, _R_ANKLE = 23, 24, 27, 28\n",
        "L_HIP = 23\n",
        "c = p.image_xyz[[23, 24], :2].mean(axis=0)\n",
        "v = landmarks[27][1]\n",
        "h = lm.xyz[:, 24, :]\n",
    ],
)
def test_the_scan_finds_the_forms_positional_lookups_took(code):
    assert positional_lookups(code)


@pytest.mark.parametrize(
    "code",
    [
        "p = pose.image_points('left_hip', 'right_hip')\n",
        "x = xyz[..., 0]; v = row[3]; vis = lm.visibility[:, j]\n",
        "w, h = size[0], size[1]\n",
    ],
)
def test_the_scan_leaves_coordinates_and_names_alone(code):
    assert not positional_lookups(code)
