"""Geometry core: analytic cases and invariances (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from valgus_cam import geometry as g


def test_straight_leg_is_zero():
    assert g.fppa_deg([100, 100], [100, 200], [100, 300], [150, 100]) == pytest.approx(0.0)


@pytest.mark.parametrize("offset_px", [5.0, 20.0, 40.0])
def test_knee_displaced_medially_gives_the_known_angle(offset_px):
    hip, ankle, other_hip = np.array([0.0, 0.0]), np.array([0.0, 200.0]), np.array([60.0, 0.0])
    medial = g.fppa_deg(hip, [offset_px, 100.0], ankle, other_hip)
    lateral = g.fppa_deg(hip, [-offset_px, 100.0], ankle, other_hip)
    expected = 2 * np.degrees(np.arctan2(offset_px, 100.0))  # thigh and shank each tilt by atan(d/100)
    assert medial == pytest.approx(expected)
    assert lateral == pytest.approx(-expected)


def _leg(hip, knee, ankle, other):
    return np.array([hip, knee, ankle, other], dtype=float)


def test_mirrored_image_and_facing_away_give_the_same_signed_values():
    pts = _leg([0, 0], [15, 100], [0, 200], [60, 0])  # valgus knee (toward the other hip)
    mirrored = pts * [-1, 1]
    base = g.fppa_deg(*pts)
    assert base > 0
    assert g.fppa_deg(*mirrored) == pytest.approx(base)
    # facing away: this leg now sits on the other side of the image, its medial side still the other hip
    away = pts.copy()
    away[:, 0] = 300 - away[:, 0]
    assert g.fppa_deg(*away) == pytest.approx(base)


def test_degenerate_segments_are_nan():
    assert np.isnan(g.fppa_deg([0, 0], [0, 0], [0, 100], [50, 0]))


def test_vectorised_over_frames():
    n = 7
    hip = np.zeros((n, 2))
    knee = np.column_stack([np.linspace(-20, 20, n), np.full(n, 100.0)])
    ankle = np.tile([0.0, 200.0], (n, 1))
    other = np.tile([60.0, 0.0], (n, 1))
    out = g.fppa_deg(hip, knee, ankle, other)
    assert out.shape == (n,)
    assert np.all(np.diff(out) > 0)


def test_pelvic_obliquity_and_trunk_lean_conventions():
    # facing the camera: subject's left hip on the image right
    lh, rh = np.array([120.0, 190.0]), np.array([80.0, 200.0])  # left hip 10 px higher
    assert g.pelvic_obliquity_deg(lh, rh) == pytest.approx(np.degrees(np.arctan2(10, 40)))
    ls, rs = np.array([130.0, 100.0]), np.array([90.0, 100.0])  # shoulders shifted to image right
    lean = g.trunk_lean_deg(lh, rh, ls, rs)
    assert lean > 0  # toward the image right = the subject's left
    # mirrored: the subject's left is now on the image left, lean still toward the subject's left
    m = lambda p: p * [-1, 1]
    assert g.trunk_lean_deg(m(lh), m(rh), m(ls), m(rs)) == pytest.approx(lean)
    assert g.pelvic_obliquity_deg(m(lh), m(rh)) == pytest.approx(g.pelvic_obliquity_deg(lh, rh))


def test_knee_flexion_3d():
    assert g.knee_flexion_deg([0, 0, 0], [0, 0.4, 0], [0, 0.8, 0]) == pytest.approx(0.0)
    assert g.knee_flexion_deg([0, 0, 0], [0, 0.4, 0], [0, 0.4, 0.4]) == pytest.approx(90.0)


def test_view_classification():
    assert g.classify_view(0.55) == "frontal"
    assert g.classify_view(0.25) == "oblique"
    assert g.classify_view(0.05) == "sagittal"
    assert g.classify_view(float("nan")) == "unknown"


def test_camera_roll_from_an_upright_standing_body():
    roll = 3.0
    c, s = np.cos(np.radians(roll)), np.sin(np.radians(roll))
    rot = lambda p: np.array([[c, -s], [s, c]]) @ np.asarray(p, float)  # image rotated clockwise by roll
    la, ra, ls, rs = rot([110, 0]), rot([90, 0]), rot([120, -140]), rot([80, -140])
    assert g.camera_roll_deg(la, ra, ls, rs) == pytest.approx(roll)


coords = st.floats(-2000, 2000, allow_nan=False, allow_infinity=False)
point_sets = arrays(np.float64, (4, 2), elements=coords)


def _well_posed(pts):
    hip, knee, ankle, other = pts
    return (np.linalg.norm(knee - hip) > 1 and np.linalg.norm(ankle - knee) > 1
            and abs(g._cross2(ankle - hip, knee - hip)) > 1 and abs(g._cross2(ankle - hip, other - hip)) > 1)


@settings(max_examples=300, deadline=None)
@given(point_sets, st.tuples(coords, coords), st.floats(0.05, 20))
def test_fppa_is_invariant_to_translation_and_uniform_scale(pts, shift, scale):
    if not _well_posed(pts):
        return
    base = g.fppa_deg(*pts)
    moved = pts * scale + np.array(shift)
    assert g.fppa_deg(*moved) == pytest.approx(base, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(point_sets)
def test_fppa_sign_is_kept_under_mirroring_and_flips_when_the_knee_crosses(pts):
    if not _well_posed(pts):
        return
    base = g.fppa_deg(*pts)
    assert g.fppa_deg(*(pts * [-1, 1])) == pytest.approx(base, abs=1e-6)
    # moving the other hip to the other side of the leg makes the same knee lateral: sign flips
    hip, knee, ankle, other = pts
    axis = (ankle - hip) / np.linalg.norm(ankle - hip)
    rel = other - hip
    reflected = hip + 2 * np.dot(rel, axis) * axis - rel
    assert g.fppa_deg(hip, knee, ankle, reflected) == pytest.approx(-base, abs=1e-6)
    assert -180 <= base <= 180


def _project(points_cam, focal, center):
    p = np.asarray(points_cam, float)
    return p[..., :2] / p[..., 2:3] * focal + center


@pytest.mark.parametrize("yaw_deg", [0.0, 10.0, -20.0, 30.0])
@pytest.mark.parametrize("valgus_deg", [-5.0, 0.0, 15.0])
def test_lift_leg_recovers_a_known_leg_and_its_frontal_fppa(yaw_deg, valgus_deg):
    """A leg built in the body frame (right leg, hip flexed 60°, knee 90°, knee swung medially by
    a known frontal-plane angle), seen by a pinhole camera at a known yaw, is reconstructed from
    its 2D projection and the standing lengths; its frontal-plane FPPA comes back exactly."""
    f, c, dist = 1000.0, np.array([640.0, 360.0]), 3000.0  # distances in mm
    thigh, shank = 450.0, 430.0
    ankle = np.array([-100.0, 0.0, 0.0])  # body frame: x subject's left, y forward, z up
    # shank tilted forward 30°, thigh 60° from vertical (knee flexion 90° in the sagittal plane),
    # then the knee pushed medially (+x for the right leg) about the ankle by valgus_deg/2 and the
    # hip back over the ankle line so that the frontal angle is exactly valgus_deg
    a = np.radians(valgus_deg / 2)
    knee = ankle + shank * np.array([np.sin(a) * np.cos(np.radians(30)), np.sin(np.radians(30)), np.cos(a) * np.cos(np.radians(30))])
    d_thigh = np.array([np.sin(a) * np.cos(np.radians(60)) * -1, -np.sin(np.radians(60)), np.cos(a) * np.cos(np.radians(60))])
    hip = knee + thigh * d_thigh / np.linalg.norm(d_thigh)
    other_hip = hip + [200.0, 0, 0]
    expected = g.fppa_frontal_deg(hip, knee, ankle, other_hip)
    # body → world (x left, y backward, z up) → camera at yaw: rows (cos, sin, 0), (0, 0, −1),
    # (−sin, cos, 0), the camera in front of the body
    th = np.radians(yaw_deg)
    R = np.array([[np.cos(th), np.sin(th), 0], [0, 0, -1], [-np.sin(th), np.cos(th), 0]])
    to_cam = lambda p: R @ (np.asarray(p) * [1, -1, 1] - [0, 0, 500.0]) + [0, 0, dist]  # noqa: E731
    # standing: the same leg straight and vertical at the ankle's depth → standing image lengths
    z_ankle = to_cam(ankle)[2]
    l_thigh, l_shank = thigh * f / z_ankle, shank * f / z_ankle
    px = [_project(to_cam(p), f, c) for p in (hip, knee, ankle, other_hip)]
    hip3, knee3, ankle3 = g.lift_leg(px[0], px[1], px[2], l_thigh, l_shank, f, c)
    other3 = np.append(px[3] - c, f) * hip3[2] / f
    body = [g.camera_to_body(p, yaw_deg) for p in (hip3, knee3, ankle3, other3)]
    assert g.fppa_frontal_deg(*body) == pytest.approx(float(expected), abs=0.6)
    assert g.knee_flexion_deg(hip3, knee3, ankle3) == pytest.approx(float(g.knee_flexion_deg(hip, knee, ankle)), abs=0.5)
    assert np.sign(expected) == np.sign(valgus_deg) or valgus_deg == 0


def test_camera_to_body_at_zero_yaw():
    # camera x right = subject's left (facing the camera), y down = −up, z away = backward
    np.testing.assert_allclose(g.camera_to_body(np.array([1.0, 2.0, 3.0]), 0.0), [1.0, -3.0, -2.0])


def test_hip_joint_centres_per_frame_width_scale():
    lh = np.array([[60.0, 0.0], [60.0, 0.0]])
    rh = np.array([[0.0, 0.0], [0.0, 0.0]])
    left, right = g.hip_joint_centres(lh, rh, np.array([1.0, 1.5]), 0.0)
    np.testing.assert_allclose(left, [[60.0, 0.0], [75.0, 0.0]])
    np.testing.assert_allclose(right, [[0.0, 0.0], [-15.0, 0.0]])
