"""The rigid-plane trunk pose (kinematics.facing._trunk_pose_cos) recovers the turn exactly without noise."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from kinematics.facing import _trunk_axes, _trunk_pose_cos, _yaw_about


def _expected_cos(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """cos of the yaw about the trunk's own axis, camera x right, y down, z away."""
    n = np.cross(rx, ry)  # anterior
    d = np.array([0.0, 0.0, 1.0]) - ry[:, 2:3] * ry
    return -np.einsum("ij,ij->i", n, d) / np.linalg.norm(d, axis=1)


def test_any_rotation_of_a_rigid_trunk_is_read_back_under_orthographic_projection():
    rng = np.random.default_rng(3)
    rot = Rotation.random(500, random_state=rng).as_matrix()
    rx, ry = rot[:, :, 0], rot[:, :, 1]
    keep = np.abs(ry[:, 2]) < 0.8  # the trunk not end-on to the camera
    ratio, scale = 1.054, 250.0  # ml length in trunk lengths; pixels per trunk length
    c, sd = _trunk_pose_cos(scale * ratio * rx[:, :2], scale * ry[:, :2], ratio, 0.1)
    np.testing.assert_allclose(c[keep], _expected_cos(rx, ry)[keep], atol=1e-6)
    assert np.all(np.isfinite(sd[keep])) and np.all(sd[keep] >= 0)


def test_a_camera_above_an_upright_body_does_not_read_as_a_turn():
    """Pitched 20 deg down at a body turned 30 deg: the image trunk is shorter and sheared, the
    turn is still 30 deg (a width over the image trunk length reads 23 deg)."""
    pitch, yaw = np.radians(20.0), np.radians(30.0)
    level = np.array([[np.cos(yaw), 0.0, np.sin(yaw)], [0.0, -1.0, 0.0]])  # left, up in a level camera
    tilt = np.array([[1, 0, 0], [0, np.cos(pitch), np.sin(pitch)], [0, -np.sin(pitch), np.cos(pitch)]])
    rx, ry = level @ tilt.T
    c, _ = _trunk_pose_cos(rx[None, :2], ry[None, :2], 1.0, 0.1)
    np.testing.assert_allclose(np.degrees(np.arccos(c[0])), 30.0, atol=1e-6)
    naive = np.degrees(np.arccos(abs(rx[0]) / np.linalg.norm(ry[:2])))
    assert abs(naive - 30.0) > 5.0


def test_given_the_vertical_one_of_the_two_depth_readings_is_the_yaw_about_it():
    """A body turned 35 deg and leaning 25 deg sideways, seen by a camera pitched 20 deg and rolled
    10 deg: about its own axis the trunk reads another yaw, about the known vertical one of
    the two mirror-depth readings is 35 deg."""
    yaw, lean = np.radians(35.0), np.radians(25.0)
    h = np.array([np.cos(yaw), 0.0, np.sin(yaw)])  # left, horizontal, level camera (y down, z away)
    up = np.array([0.0, -1.0, 0.0])
    rx, ry = np.cos(lean) * h + np.sin(lean) * up, -np.sin(lean) * h + np.cos(lean) * up
    cam = Rotation.from_euler("xz", [-20.0, 10.0], degrees=True).as_matrix()  # world (level) -> camera
    rx, ry, up = cam @ rx, cam @ ry, cam @ up
    got_rx, _ = _trunk_axes(rx[None, :2], ry[None, :2])
    readings = [
        np.degrees(_yaw_about(got_rx * m, up))[0] for m in (np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0, -1.0]))
    ]
    assert min(abs(r - 35.0) for r in readings) < 1e-6
    assert abs(np.degrees(np.arccos(_trunk_pose_cos(rx[None, :2], ry[None, :2], 1.0, 0.1)[0][0])) - 35.0) > 3.0
