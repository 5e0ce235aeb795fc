"""Rep segmentation: pure-function cases, then the real clips' hand counts and the synthetic
ground truth with the real pose model."""

import json
from pathlib import Path

import numpy as np
import pytest

from valgus_cam.capture import VideoFileSource
from valgus_cam.pipeline import iter_poses
from valgus_cam.pose import PoseEstimator
from valgus_cam.reps import analyse_reps, segment_reps

from conftest import SHARED, clip

SYNTHETIC = SHARED / "synthetic"


def _squat_depth(fps: float, reps: int = 3, period_s: float = 2.5, stand_s: float = 1.5, depth: float = 0.3):
    t = np.arange(0, stand_s * (reps + 1) + period_s * reps, 1 / fps)
    d = np.zeros_like(t)
    bottoms = []
    for k in range(reps):
        t0 = stand_s * (k + 1) + period_s * k
        inside = (t >= t0) & (t <= t0 + period_s)
        d[inside] = depth * np.sin(np.pi * (t[inside] - t0) / period_s) ** 2
        bottoms.append(t0 + period_s / 2)
    return t, d, bottoms


@pytest.mark.parametrize("fps", [10.0, 30.0, 60.0])
def test_segment_reps_finds_known_reps_at_any_frame_rate(fps):
    t, d, bottoms = _squat_depth(fps)
    rng = np.random.default_rng(0)
    reps = segment_reps(t, d + rng.normal(0, 0.004, len(d)))
    assert len(reps) == 3
    for r, b in zip(reps, bottoms):
        assert abs(t[r.bottom_frame] - b) < 0.15
        assert t[r.start_frame] < b - 0.8 and t[r.end_frame] > b + 0.8


def test_no_reps_in_standing_noise_or_empty_input():
    t = np.arange(0, 10, 1 / 30)
    assert segment_reps(t, np.random.default_rng(1).normal(0, 0.005, len(t))) == []
    assert segment_reps(t, np.full(len(t), np.nan)) == []
    assert segment_reps(t[:2], np.zeros(2)) == []


_CACHE: dict = {}


def _landmarks(path: Path, model: Path):
    key = (path, model)
    if key not in _CACHE:
        times, xy = [], []
        with VideoFileSource(path) as src, PoseEstimator(model) as est:
            for frame, pose in iter_poses(src, est):
                times.append(frame.time_s)
                xy.append(pose.xy_px if pose is not None else np.full((33, 2), np.nan))
        _CACHE[key] = (np.array(times), np.array(xy))
    return _CACHE[key]


def _counted_clips():
    manifest = json.loads((SHARED / "clips" / "manifest.json").read_text()) if (SHARED / "clips").is_dir() else []
    return [c["file"] for c in manifest if c.get("reps")]


@pytest.mark.parametrize("name", _counted_clips())
def test_rep_count_equals_the_hand_count(name, lite_model, clips_manifest):
    expected = next(c["reps"] for c in clips_manifest if c["file"] == name)
    t, xy = _landmarks(clip(name), lite_model)
    assert len(analyse_reps(t, xy)) == expected


@pytest.mark.parametrize("clip_id", ["dev_001_single_left", "dev_002_single_right", "dev_009_double"])
def test_synthetic_reps_against_ground_truth(clip_id, full_model):
    gt = json.loads((SYNTHETIC / f"{clip_id}.json").read_text())
    t, xy = _landmarks(SYNTHETIC / f"{clip_id}.mp4", full_model)
    reps = analyse_reps(t, xy)
    assert len(reps) == len(gt["reps"])
    for r, g in zip(reps, gt["reps"]):
        assert abs(t[r.bottom_frame] - t[g["bottom"]]) <= 0.2
        assert r.stance == g["stance"]
