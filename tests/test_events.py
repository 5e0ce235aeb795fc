"""Single-leg events (hands off the hips, free-foot touchdown): hand-made landmark tracks, then a
synthetic clip with both events through the real pose model against its exact ground truth."""

import json

import numpy as np
import pytest

from valgus_cam.capture import VideoFileSource
from valgus_cam.events import free_foot_touchdown, hands_off_event
from valgus_cam.landmarks import LM
from valgus_cam.measures import LandmarkSeries
from valgus_cam.pipeline import analyse_clip, iter_poses
from valgus_cam.pose import PoseEstimator

from conftest import SYNTHETIC, _need

FPS = 30.0


def standing(n: int) -> np.ndarray:
    """A front-facing person, 1 px = 1 cm-ish, hands on the hips; (n, 33, 2)."""
    xy = np.full((n, 33, 2), np.nan)
    pts = {"left_shoulder": (360, 200), "right_shoulder": (280, 200), "left_hip": (345, 400),
           "right_hip": (295, 400), "left_wrist": (365, 395), "right_wrist": (275, 395),
           "left_knee": (345, 550), "right_knee": (295, 550), "left_ankle": (345, 700),
           "right_ankle": (295, 700), "left_heel": (345, 710), "right_heel": (295, 710),
           "left_foot_index": (350, 715), "right_foot_index": (290, 715)}
    for name, p in pts.items():
        xy[:, LM[name]] = p
    return xy


def test_hands_leaving_the_hips_for_half_a_second_is_an_event_a_flicker_is_not():
    t = np.arange(120) / FPS
    xy = standing(120)
    xy[60:75, LM["left_wrist"]] = (420, 250)  # 0.5 s away from the hip
    assert hands_off_event(t, xy, 20, 110) == (True, True)
    xy = standing(120)
    xy[60:62, LM["left_wrist"]] = (420, 250)  # 2 frames
    assert hands_off_event(t, xy, 20, 110) == (True, False)


def test_arms_held_elsewhere_throughout_is_not_an_event():
    t = np.arange(120) / FPS
    xy = standing(120)
    xy[:, LM["left_wrist"]] = (420, 250)
    xy[:, LM["right_wrist"]] = (220, 250)
    assert hands_off_event(t, xy, 20, 110) == (False, False)


def test_touchdown_of_a_foot_held_behind():
    t = np.arange(120) / FPS
    xy = standing(120)
    for k in ("ankle", "heel", "foot_index"):
        xy[:, LM[f"right_{k}"], 1] -= 120  # free (right) foot held high behind
    assert free_foot_touchdown(t, xy, 10, 110, "left") is False
    for k in ("ankle", "heel", "foot_index"):
        xy[55:70, LM[f"right_{k}"], 1] += 115  # comes down to the floor for 0.5 s
    assert free_foot_touchdown(t, xy, 10, 110, "left") is True
    assert free_foot_touchdown(t, xy, 10, 110, "both") is None


@pytest.mark.slow
def test_events_on_a_synthetic_clip_with_both(full_model):
    """dev_002: right-leg squats, free foot in front; rep 3 touches down, rep 4 takes the hands off."""
    video = _need(SYNTHETIC / "dev_002_single_right.mp4")
    gt = json.loads(video.with_suffix(".json").read_text())
    times, poses = [], []
    with VideoFileSource(video) as src, PoseEstimator(full_model) as est:
        for frame, pose in iter_poses(src, est):
            times.append(frame.time_s)
            poses.append(pose)
        wh = src.size_wh
    a = analyse_clip(LandmarkSeries.from_poses(times, poses, wh))
    assert len(a.results) == len(gt["reps"])
    for r, g in zip(a.results, gt["reps"]):
        assert r.stance == g["stance"]
        assert ("hands_off_hips" in r.reasons) == g["hands_off_event"], r
        assert bool(r.balance_lost) == g["free_foot_touchdown"], r
