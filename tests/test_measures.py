"""Per-frame measures on the shipped sample (real pose model) against its exact ground truth."""

import json
from pathlib import Path

import numpy as np
import pytest

from valgus_cam.capture import VideoFileSource
from valgus_cam.measures import GateConfig, LandmarkSeries, compute_frame_measures
from valgus_cam.pipeline import iter_poses
from valgus_cam.pose import PoseEstimator

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "sample_single_leg_squat.mp4"


@pytest.fixture(scope="module")
def sample_measures(lite_model):
    times, poses = [], []
    with VideoFileSource(SAMPLE) as src, PoseEstimator(lite_model) as est:
        for frame, pose in iter_poses(src, est):
            times.append(frame.time_s)
            poses.append(pose)
        wh = src.size_wh
    gt = json.loads(SAMPLE.with_suffix(".json").read_text())
    series = LandmarkSeries.from_poses(times, poses, wh)
    return compute_frame_measures(series), gt, series


def _window(gt):
    rep = np.array([f["rep"] for f in gt["frames"]])
    depth = np.array([f["depth_frac"] for f in gt["frames"]])
    return (rep >= 0) & (depth >= 0.3)


def test_view_and_standing_baseline(sample_measures):
    m, gt, _ = sample_measures
    assert m.view == "frontal"
    b0, b1 = gt["conventions"]["baseline_frames"]  # still standing 0..33, then the weight shift
    assert m.baseline.start == 0
    assert 15 <= m.baseline.stop <= b1 + 20
    assert abs(m.camera_roll_deg - gt["camera"]["roll_deg"]) < 1.0


def test_trunk_lean_change_tracks_the_truth(sample_measures):
    m, gt, _ = sample_measures
    w = _window(gt)
    lean_rel = m.trunk_lean_deg - np.nanmedian(m.trunk_lean_deg[m.baseline])
    truth = np.array([f["trunk_lean_2d_rel"] for f in gt["frames"]])
    assert np.nanmean(np.abs(lean_rel[w] - truth[w])) < 2.5  # measured 1.1° MAE over the synthetic set


def test_stance_knee_image_fppa_tracks_the_truth(sample_measures):
    m, gt, _ = sample_measures
    w = _window(gt)
    truth = np.array([f["fppa_r"] for f in gt["frames"]])
    got = m.fppa_right_deg
    assert np.isfinite(got[w]).mean() > 0.9  # not gated: a frontal view of a large body
    err = got[w] - truth[w]
    # measured here with lite: 6.0° MAE (bias −4°); the synthetic-set figure with full is 3.4° on
    # single-leg squats. A regression guard, not the target (≤ 2°, geometry issue, not yet met).
    assert np.nanmean(np.abs(err)) < 7.0
    # the marked-valgus rep reads clearly more valgus than the others at its bottom
    bottoms = [r["bottom"] for r in gt["reps"]]
    assert got[bottoms[1]] > got[bottoms[0]] + 10 and got[bottoms[1]] > got[bottoms[2]] + 5


def test_knee_flexion_is_reconstructed_and_finds_the_bottoms(sample_measures):
    """Knee flexion from the single-view reconstruction (standing lengths): each rep's peak is
    within 0.2 s of the true bottom and within 12° of the true flexion there (MediaPipe's world
    landmarks read 31–42° at a true 65–78° on this clip); a standing knee reads < 12°."""
    m, gt, _ = sample_measures
    flex = m.knee_flexion_right_deg
    assert np.nanmedian(flex[m.baseline]) < 12
    for r in gt["reps"]:
        peak = r["start"] + int(np.nanargmax(flex[r["start"]:r["end"] + 1]))
        assert abs(peak - r["bottom"]) <= 6, (peak, r["bottom"])
        assert abs(flex[peak] - gt["frames"][r["bottom"]]["knee_flex_r"]) < 12


def test_frontal_fppa_and_yaw_on_a_square_camera(sample_measures):
    """The sample is filmed square (yaw 0): the yaw estimate is within 6° and the frontal-plane
    FPPA is reported (not gated) and ranks the marked-valgus rep first."""
    m, gt, _ = sample_measures
    assert abs(np.nanmedian(m.body_yaw_deg)) < 6
    bottoms = [r["bottom"] for r in gt["reps"]]
    fro = m.fppa_frontal_right_deg
    assert np.isfinite(fro[bottoms]).all()
    assert fro[bottoms[1]] > max(fro[bottoms[0]], fro[bottoms[2]]) + 5


def test_extra_columns(sample_measures):
    m, gt, _ = sample_measures
    assert np.nanmean(m.hands_on_hips[m.detected]) > 0.8  # hands on hips throughout this clip
    for c in m.CSV_COLUMNS:
        assert len(getattr(m, c)) == len(m.time_s)


@pytest.fixture(scope="module")
def yawed_standing(tmp_path_factory, lite_model, full_model):
    """The first 1.5 s (still standing) of two synthetic clips filmed 20° off the body's front, on
    either side, through the real pose model: {name: (series, baseline, true yaw)}."""
    from conftest import first_seconds, synthetic

    out = {}
    for name, model in (("dev_008_single_right", full_model), ("dev_023_single_right", lite_model)):
        clip = first_seconds(synthetic(f"{name}.mp4"), 1.5, tmp_path_factory.mktemp("yaw") / f"{name}.mp4")
        times, poses = [], []
        with VideoFileSource(clip) as src, PoseEstimator(model) as est:
            for frame, pose in iter_poses(src, est):
                times.append(frame.time_s)
                poses.append(pose)
            wh = src.size_wh
        s = LandmarkSeries.from_poses(times, poses, wh)
        gt = json.loads(synthetic(f"{name}.json").read_text())
        out[name] = (s, compute_frame_measures(s), gt["camera"]["yaw_deg"])
    return out


def test_nose_cue_follows_the_camera_yaw(yawed_standing):
    """The image nose/ear cue reads the camera's side and angle (+20° and −20°) within 6°, and the
    body yaw is the mean of it and the world feet cue."""
    from valgus_cam.measures import body_yaw_deg, nose_yaw_deg

    for s, m, yaw in yawed_standing.values():
        nose = float(np.nanmedian(nose_yaw_deg(s.xy_px[m.baseline])))
        assert abs(nose - yaw) < 6, (nose, yaw)
        both = (body_yaw_deg(s, m.baseline, cues=("nose",)) + body_yaw_deg(s, m.baseline, cues=("feet",))) / 2
        assert np.nanmedian(m.body_yaw_deg) == pytest.approx(both)


def test_frontal_fppa_is_reported_at_20_degrees_of_yaw(yawed_standing):
    """A camera 20° off the body's front is inside the yaw gate (25°, docs/verdicts.md): the
    frontal-plane FPPA of a standing knee is reported and near straight."""
    s, m, yaw = yawed_standing["dev_008_single_right"]
    assert abs(np.nanmedian(m.body_yaw_deg) - yaw) < 4
    fro = m.fppa_frontal_right_deg[m.baseline]
    assert np.isfinite(fro).mean() > 0.9
    assert abs(np.nanmedian(fro)) < 8


def test_hip_centres_widen_with_hip_flexion(sample_measures):
    """The hip-joint-centre widening grows with the thigh's foreshortening: identical to a fixed
    widening while standing, more valgus (the hip–ankle line moves out) at the rep bottoms."""
    m, gt, series = sample_measures
    fixed = compute_frame_measures(series, GateConfig(hip_flexion_widening=0.0))
    base = m.baseline
    np.testing.assert_allclose(m.fppa_right_deg[base], fixed.fppa_right_deg[base], atol=0.3)
    bottoms = [r["bottom"] for r in gt["reps"]]
    assert np.all(m.fppa_right_deg[bottoms] > fixed.fppa_right_deg[bottoms] + 0.5)


def test_standing_baseline_does_not_move_when_more_of_the_clip_follows(lite_model):
    """The standing baseline (and the yaw and values taken from it) is found in the clip's first
    seconds and stays put as the clip goes on: on the 20-rep clip (first 20 s, lite) every prefix
    from 4 s on picks the same stretch as the whole. (With the torso size taken over the whole clip
    the stretch moved at 11.5 s and again at 15 s, and with it the yaw and every value by ~0.8°;
    `analyze --annotate` then had to redraw the video in a second pass.)"""
    from conftest import clip

    times, poses = [], []
    with VideoFileSource(clip("front_squat_20reps_counter__rjsong.mp4")) as src, PoseEstimator(lite_model) as est:
        for frame, pose in iter_poses(src, est):
            if frame.time_s > 20.0:
                break
            times.append(frame.time_s)
            poses.append(pose)
        wh = src.size_wh
    whole = LandmarkSeries.from_poses(times, poses, wh)
    ref = compute_frame_measures(whole)
    assert ref.baseline.stop - ref.baseline.start >= 10
    for n in range(120, len(times), 60):
        part = LandmarkSeries.from_poses(times[:n], poses[:n], wh)
        m = compute_frame_measures(part)
        assert m.baseline == ref.baseline, (n, m.baseline, ref.baseline)
        assert np.nanmedian(m.body_yaw_deg) == pytest.approx(np.nanmedian(ref.body_yaw_deg), abs=1e-9)


def test_a_landmark_series_slices_by_frame():
    n = 5
    s = LandmarkSeries(np.arange(n) / 30.0, np.random.default_rng(0).random((n, 33, 2)), np.zeros((n, 33, 3)),
                       np.ones((n, 33)), (640, 480))
    assert len(s) == n and len(s[1:4]) == 3 and len(s[::2]) == 3
    one = s[-1]
    assert len(one) == 1 and one.xy_px.shape == (1, 33, 2) and one.image_wh == (640, 480)
    assert np.array_equal(one.xy_px[0], s.xy_px[4]) and one.time_s[0] == s.time_s[4]
    assert np.array_equal(s[1:3].visibility, s.visibility[1:3]) and s[1:3].image_wh == s.image_wh
    with pytest.raises(IndexError):
        s[n]
