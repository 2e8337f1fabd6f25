"""The patient and clinician pages (static files under ``static/``) and what they need to know per exercise.

``PLACEMENT`` condenses each protocol's "How to film it" (docs/protocols/*.md) for a phone
screen; the protocol pages stay the reference.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PLACEMENT", "STATIC_DIR", "STEADY", "TITLES"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

TITLES = {
    "bridge": "Bridge",
    "gait": "Walking",
    "single_leg_stance": "Single-leg stance",
    "sit_to_stand": "Sit to stand",
    "squat": "Squat",
    "standing_hip_abduction": "Standing hip abduction",
    "standing_hip_flexion": "Standing hip flexion",
}

_WHOLE_BODY = "Whole body in the picture, head to feet, for the whole exercise."
STEADY = "Prop the phone so it stays still and level (not tilted); good light, nobody else in view."

# (required view, placement lines), from docs/protocols/<exercise>.md; every exercise adds STEADY.
PLACEMENT: dict[str, tuple[str, list[str]]] = {
    "bridge": (
        "side",
        [
            "Lie on your back, side-on to the phone (your side faces the camera).",
            "Phone low, about 0.3-0.5 m above the floor, 3 m away.",
            _WHOLE_BODY,
            "Lie still for a moment between bridges.",
        ],
    ),
    "gait": (
        "side or front",
        [
            "Walk past the phone side-on, or straight toward it.",
            "Phone at hip height (about 1 m), 4-6 m from the walkway when side-on.",
            _WHOLE_BODY,
            "At least four steps.",
        ],
    ),
    "single_leg_stance": (
        "front",
        [
            "Face the phone (within 30 deg of square).",
            "Phone at hip height (about 1 m), 3-4 m away.",
            _WHOLE_BODY,
            "Start on both feet for 1-2 s, then lift one foot about a hand's height and hold.",
        ],
    ),
    "sit_to_stand": (
        "side",
        [
            "Sit side-on to the phone (front view also works).",
            "Phone at seat height or a little above (0.5-1 m), 3-4 m away; chair and feet in view.",
            "Stand up fully each time.",
        ],
    ),
    "squat": (
        "side or front",
        [
            "Stand side-on to the phone for depth, facing it for knee and pelvis alignment.",
            "Phone at hip height (about 1 m), 3-4 m away.",
            _WHOLE_BODY,
            "Stand upright between squats.",
        ],
    ),
    "standing_hip_abduction": (
        "front",
        [
            "Face the phone (within 30 deg of square).",
            "Phone at hip height (about 1 m), 3-4 m away.",
            "Head to feet in the picture even with the leg lifted out to the side.",
            "Stand still on both feet between lifts; lift at least 10 deg, knee straight.",
        ],
    ),
    "standing_hip_flexion": (
        "side",
        [
            "Stand side-on to the phone (turned at least 60 deg from facing it).",
            "Phone at hip height (about 1 m), 3-4 m away.",
            _WHOLE_BODY,
            "Lift the knee at least 15 deg; pause at the top if your exercise asks for it.",
        ],
    ),
}
