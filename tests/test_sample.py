"""The shipped sample clip against its own exact ground truth (no ../shared needed)."""

import json
from pathlib import Path

import numpy as np
import pytest

from valgus_cam.capture import VideoFileSource
from valgus_cam.pipeline import iter_poses
from valgus_cam.pose import PoseEstimator

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "sample_single_leg_squat.mp4"


def test_sample_is_small_and_matches_its_ground_truth():
    gt = json.loads(SAMPLE.with_suffix(".json").read_text())
    assert SAMPLE.stat().st_size < 2_000_000
    with VideoFileSource(SAMPLE) as src:
        t = np.array([f.time_s for f in src])
        assert src.size_wh == tuple(gt["resolution"])
    assert len(t) == gt["n_frames"]
    np.testing.assert_allclose(t, [f["t"] for f in gt["frames"]], atol=1e-3)


@pytest.mark.slow
def test_landmarks_on_the_sample_are_close_to_the_true_joints(lite_model):
    """Stance-leg (right) hip, knee and ankle within 12% of the thigh length of the true joint
    centres on average. Measured: lite 9.4%, full 8.0% (MediaPipe's hip point is not the rig's
    joint centre: part of this is definition). A left/right swap or a lost leg gives > 25%."""
    gt = json.loads(SAMPLE.with_suffix(".json").read_text())
    errs, thigh = [], []
    with VideoFileSource(SAMPLE) as src, PoseEstimator(lite_model) as est:
        for frame, pose in iter_poses(src, est):
            assert pose is not None
            j2d = gt["frames"][frame.index]["j2d"]
            assert gt["stance"] == "right"
            for joint in ("hip", "knee", "ankle"):
                errs.append(np.linalg.norm(pose.point(f"right_{joint}") - j2d[f"{joint}_r"]))
            thigh.append(np.linalg.norm(np.subtract(j2d["hip_r"], j2d["knee_r"])))
    rel = np.mean(errs) / np.median(thigh)
    assert rel < 0.12, f"mean stance-leg hip/knee/ankle error {rel:.1%} of thigh length"
