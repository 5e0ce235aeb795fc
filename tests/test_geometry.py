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
