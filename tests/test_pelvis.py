"""valgus_cam.pelvis on real frames: a synthetic2 single-leg clip with exact ground truth (the
real pose model, the real decoded video), the same frames rotated by a known angle, and refusals
on real pixels that hold no waistband. No mocks."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from valgus_cam import pelvis as P
from valgus_cam.capture import VideoFileSource
from valgus_cam.measures import LandmarkSeries, compute_frame_measures
from valgus_cam.pipeline import iter_poses
from valgus_cam.pose import PoseEstimator

from conftest import SHARED, _need

CLIP = "dev2_005_single_left"  # laptop camera, 20° yaw, arms crossed, free leg behind


@pytest.fixture(scope="module")
def clip_run(full_model):
    """The clip through the real full model (VIDEO mode), the waist crops cut during that pass,
    its ground truth and standing baseline."""
    video = _need(SHARED / "synthetic2" / f"{CLIP}.mp4")
    gt = json.loads(_need(SHARED / "synthetic2" / f"{CLIP}.json").read_text())
    times, poses, strips, frames = [], [], [], {}
    with VideoFileSource(video) as src, PoseEstimator(full_model) as est:
        wh = src.size_wh
        for frame, pose in iter_poses(src, est):
            times.append(frame.time_s)
            poses.append(pose)
            strips.append(P.crop_waist(frame.image_bgr, pose.xy_px) if pose is not None else None)
            if len(times) - 1 in (20, 150):
                frames[len(times) - 1] = frame.image_bgr.copy()
    s = LandmarkSeries.from_poses(times, poses, wh)
    base = compute_frame_measures(s).baseline
    return dict(s=s, strips=strips, gt=gt, base=base, frames=frames)


def test_pelvic_drop_follows_the_truth_on_a_single_leg_clip(clip_run):
    s, gt = clip_run["s"], clip_run["gt"]
    res = P.pelvic_drop(s.xy_px, s.visibility, clip_run["strips"], clip_run["base"], gt["stance"])
    truth = np.array([f["pelvic_drop_2d"] for f in gt["frames"]], float)
    in_rep = np.array([f["rep"] for f in gt["frames"]]) >= 0
    measured = in_rep & np.isfinite(res.drop_deg)
    assert measured.sum() >= 0.9 * in_rep.sum()  # this clip's band is clear: the gate lets it through
    err = res.drop_deg[measured] - truth[measured]
    assert np.mean(np.abs(err)) < 1.5  # benchmark: 0.7°
    # the MediaPipe hip points on the same frames are far off (the reason for this module)
    mp = P.hip_line_obliquity_deg(s.xy_px)
    mp_drop = mp - np.nanmedian(mp[clip_run["base"]])  # stance left: + = free side lower
    assert np.nanmean(np.abs(mp_drop[measured] - truth[measured])) > 3.0
    for rep in gt["reps"]:
        peak = P.rep_peak_drop(res.drop_deg, rep["start"], rep["end"])
        assert peak == pytest.approx(rep["pelvic_drop_2d_peak"], abs=2.0)
    # refusals are named, values only where nothing was refused
    assert set(res.refused) <= set(P.REFUSALS)
    assert np.all(np.isfinite(res.drop_deg) == (res.refused == ""))


def test_hip_drift_against_the_truth(clip_run):
    s, gt = clip_run["s"], clip_run["gt"]
    height = gt["body"]["anthropometry"]["height"]
    drift = P.hip_drift(s.xy_px, s.visibility, clip_run["base"], gt["stance"], height_m=height, yaw_deg=20.0)
    mid = np.array([f["j3d"]["mid_pelvis"][0] for f in gt["frames"]])
    ankle = np.array([f["j3d"]["ankle_l"][0] for f in gt["frames"]])  # stance left: + = toward +X
    b0, b1 = gt["conventions"]["baseline_frames"]
    truth_cm = 100 * ((mid - ankle) - np.mean((mid - ankle)[b0:b1 + 1]))
    for rep in gt["reps"]:
        seg = slice(rep["start"], rep["end"] + 1)
        assert np.nanmax(drift.drift_cm[seg]) == pytest.approx(np.max(truth_cm[seg]), abs=3.0)
    assert np.nanmax(np.abs(drift.drift_cm[clip_run["base"]])) < 1.5  # still while standing (first frames: 1.3 cm)


@pytest.mark.parametrize("angle_deg", [-6.0, 6.0])
def test_a_rotated_frame_reads_the_rotation(clip_run, angle_deg):
    """Rotate a real standing frame about the mid-hip: the band's obliquity moves by that angle,
    with the project's sign (+ = subject's left higher; this subject faces the camera, so the left
    side is on the image right and a counter-clockwise image rotation lifts it)."""
    s = clip_run["s"]
    i = 20
    frame, xy = clip_run["frames"][i], s.xy_px[i]
    centre = tuple(map(float, (xy[P.LH] + xy[P.RH]) / 2))
    rot = cv2.getRotationMatrix2D(centre, angle_deg, 1.0)  # + = counter-clockwise on screen
    turned = cv2.warpAffine(frame, rot, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    xy_t = np.c_[xy, np.ones(len(xy))] @ rot.T
    model = P.learn_waistband([P.crop_waist(frame, xy)], xy[None], [0])
    assert model is not None
    a0 = P.waistband_angle(P.crop_waist(frame, xy), xy, model)[0]
    a1 = P.waistband_angle(P.crop_waist(turned, xy_t), xy_t, model)[0]
    obl_change = -P.facing(s.xy_px) * (a1 - a0)
    assert obl_change == pytest.approx(angle_deg, abs=1.0)


def test_refuses_without_pixels_or_without_a_band(clip_run):
    s = clip_run["s"]
    n = len(s.xy_px)
    none = P.pelvic_drop(s.xy_px, s.visibility, [None] * n, clip_run["base"], "left")
    assert np.all(np.isnan(none.drop_deg)) and set(none.refused) == {"no_pixels"}
    # real pixels with no waistband: the empty wall beside the subject (top-left corner of the
    # frame) handed in as the waist crop of every frame
    wall = clip_run["frames"][20][:120, :160]
    xy = s.xy_px.copy()
    strips = []
    for i in range(n):
        strips.append(P.WaistStrip(wall, int(xy[i, P.LH, 0] - 80), int(xy[i, P.LH, 1] - 60)))
    res = P.pelvic_drop(xy, s.visibility, strips, clip_run["base"], "left")
    assert np.isfinite(res.drop_deg).mean() < 0.05


def test_rep_peak_needs_coverage():
    d = np.array([0.0, 1.0, 5.0, np.nan, np.nan, np.nan, 2.0])
    assert np.isnan(P.rep_peak_drop(d, 0, 6))  # 4 of 7 frames measured < 60%
    assert P.rep_peak_drop(d, 0, 2) == pytest.approx(np.percentile([0.0, 1.0, 5.0], 95))
    with pytest.raises(ValueError):
        P.pelvic_drop(np.zeros((1, 33, 2)), np.ones((1, 33)), [None], slice(0, 1), "both")
