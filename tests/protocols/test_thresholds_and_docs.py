"""Every threshold names its source, every parameter is documented, every protocol has its page.

"Never an unexplained magic number": a decision limit lives in a
:class:`~kinematics.protocols.base.Threshold` with its published source, is
configurable through a field of the protocol's dataclass, and that field (like
every numeric parameter of a protocol or detector) is explained in the class
docstring. Findings carry the threshold they were judged against.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import kinematics.protocols as protocols_pkg
from kinematics.protocols import PROTOCOLS, Threshold
from kinematics.protocols.events import HoldDetector, RepetitionDetector, StanceDetector
from tests.protocols import synthetic as S
from tests.protocols.conftest import observed

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocols"
MODULES = sorted(m.name for m in pkgutil.iter_modules(protocols_pkg.__path__))
PROTOCOL_MODULE = {name: type(p).__module__ for name, p in PROTOCOLS.items()}


def _thresholds(module_name: str) -> dict[str, Threshold]:
    module = importlib.import_module(f"kinematics.protocols.{module_name}")
    return {k: v for k, v in vars(module).items() if isinstance(v, Threshold)}


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_threshold_in_every_protocol_module_names_its_source(module_name):
    for attr, th in _thresholds(module_name).items():
        assert th.name and th.unit, f"{module_name}.{attr}: {th}"
        assert th.source and th.source.strip(), f"{module_name}.{attr} has no source"
        assert isinstance(th.value, float | int), f"{module_name}.{attr}"


def test_protocol_modules_define_thresholds():
    """Sanity check of the scan above: it finds what is there."""
    found = {m: _thresholds(m) for m in MODULES}
    for name, module in PROTOCOL_MODULE.items():
        assert found[module.rsplit(".", 1)[1]], f"{name} has no Threshold"


@pytest.mark.parametrize(
    "cls",
    sorted(
        {type(p) for p in PROTOCOLS.values()} | {HoldDetector, RepetitionDetector, StanceDetector},
        key=lambda c: c.__name__,
    ),
    ids=lambda c: c.__name__,
)
def test_every_numeric_parameter_is_documented_in_the_class_docstring(cls):
    """numpydoc: the name heads an entry of the Parameters section (alone or in a comma-separated group)."""
    doc = cls.__doc__ or ""
    entries = {
        name.strip() for line in doc.splitlines() if re.fullmatch(r" {4}\w+(, \w+)*", line) for name in line.split(",")
    }
    for field in dataclasses.fields(cls):
        default = field.default
        if _numeric(default) or dataclasses.is_dataclass(default):
            assert field.name in entries, f"{cls.__name__}.{field.name} is not documented"


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_threshold_fields_default_to_their_published_value(name):
    """A field named like a Threshold's value (``x_threshold_deg`` / ``x_reference_deg`` ...) starts at that value."""
    protocol = PROTOCOLS[name]
    values = {th.value for th in _thresholds(PROTOCOL_MODULE[name].rsplit(".", 1)[1]).values()}
    for field in dataclasses.fields(protocol):
        if re.search(r"_(threshold|reference|target|lumbar|healthy)_|^neutral_", field.name + "_"):
            assert getattr(protocol, field.name) in values, f"{name}.{field.name}"


def test_every_finding_on_the_synthetic_recordings_carries_a_sourced_threshold_or_none():
    seen = 0
    for scenario_name, sc in S.SCENARIOS.items():
        for yaw in sc.yaws:
            result = observed(scenario_name, yaw, "image").result
            for f in result.findings:
                seen += 1
                if f.threshold is not None:
                    assert f.threshold.source and f.source == f.threshold.source, f
                else:
                    assert f.severity == "info", f"{f.code}: only information may come without a threshold"
    assert seen > 30


def test_a_clinic_override_reaches_the_finding():
    from kinematics.protocols.standing_hip_abduction import StandingHipAbduction

    obs = observed("standing_hip_abduction", 0.0, "image")
    strict = StandingHipAbduction(hike_threshold_deg=1.0).assess(obs.kinematics, obs.landmarks)
    hike = [f for f in strict.findings if f.code.startswith("pelvic_hike_left")]
    assert hike and hike[0].threshold.value == 1.0 and hike[0].severity == "attention"
    assert hike[0].threshold.source == _thresholds("standing_hip_abduction")["HIKE_THRESHOLD"].source
    assert strict.parameters["hike_threshold_deg"] == 1.0


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_protocol_has_a_docs_page_with_its_thresholds(name):
    page = DOCS / f"{name}.md"
    assert page.is_file(), f"missing {page}"
    text = page.read_text()
    for heading in ("## How to film it", "## What is measured", "## Findings and thresholds", "## Known limits"):
        assert heading in text, f"{page.name}: no '{heading}' section"
    for th in _thresholds(PROTOCOL_MODULE[name].rsplit(".", 1)[1]).values():
        assert f"`{th.name}`" in text, f"{page.name} does not list threshold {th.name}"
    assert (DOCS / "README.md").read_text().count(f"({name}.md)") == 1
