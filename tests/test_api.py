"""The Python API: valgus_cam.analyze returns what the CLI writes, and an estimator reused across
clips (as the batch runner does) gives the same landmarks as a fresh one."""

from __future__ import annotations

import json

import numpy as np
import pytest

import valgus_cam
from valgus_cam.errors import InputError
from valgus_cam.pose import PoseEstimator

from conftest import ROOT, clip

SAMPLE = ROOT / "samples" / "sample_single_leg_squat.mp4"


@pytest.fixture(scope="module")
def sample_result(lite_model, tmp_path_factory):
    return valgus_cam.analyze(SAMPLE, model=str(lite_model), out=tmp_path_factory.mktemp("api"))


def test_analyze_returns_the_written_document(sample_result):
    r = sample_result
    assert r.analysis.test == "single_leg_squat" and len(r.results) >= 3
    written = json.loads((r.out_dir / "reps.json").read_text())
    assert written == json.loads(json.dumps(r.document))
    assert {p.name for p in r.files} == {"landmarks.csv", "frames.csv", "reps.json"}


def test_frames_as_arrays(sample_result):
    cols = sample_result.frames()
    n = len(sample_result.frame_index)
    assert np.array_equal(cols["frame"], np.arange(n))
    for name in ("time_s", "fppa_frontal_left_deg", "body_yaw_deg", "knee_flexion_left_deg"):
        assert cols[name].shape == (n,), name
    assert np.isfinite(cols["knee_flexion_left_deg"]).mean() > 0.9
    header = (sample_result.out_dir / "frames.csv").open().readline().strip().split(",")
    assert list(cols) == header  # exactly frames.csv's columns, in its order


def test_write_false_writes_nothing(lite_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = valgus_cam.analyze(SAMPLE, model=str(lite_model), write=False)
    assert r.out_dir is None and r.files == [] and not any(tmp_path.iterdir())


def test_reused_estimator_matches_a_fresh_one(lite_model):
    fresh = valgus_cam.analyze(SAMPLE, model=str(lite_model), write=False)
    with PoseEstimator(lite_model) as est:
        valgus_cam.analyze(SAMPLE, estimator=est, write=False)  # leaves tracking state behind
        again = valgus_cam.analyze(SAMPLE, estimator=est, write=False)
    np.testing.assert_array_equal(fresh.series.xy_px, again.series.xy_px)
    assert fresh.document == again.document


def test_bad_input_raises_a_valgus_cam_error(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(InputError):
        valgus_cam.analyze(bad, write=False)


def test_run_pose_observers_and_facts(lite_model):
    """api.run_pose (analyze's pose pass, through pipeline.run_frames): the on_frame hook sees every
    frame with the pose the series holds; the facts say what else the pass saw."""
    from valgus_cam.api import run_pose
    from valgus_cam.pipeline import ClipFacts

    seen, facts = [], ClipFacts()
    got = run_pose(str(clip("front_highbar_squat_1rep__trutadan.mp4")), None, model=str(lite_model),
                   on_frame=lambda f, p: seen.append((f.index, p)), facts=facts)
    series, index, name, fps = got
    assert got.series is series and name == got.model_name == "pose_landmarker_lite.task" and fps == got.fps > 0
    assert [i for i, _ in seen] == list(index) == list(range(62))
    np.testing.assert_array_equal(series.xy_px[10], seen[10][1].xy_px)
    assert facts.subject_lost.shape == (62,) and not facts.subject_lost.any()
    assert facts.people_seen == 1 and facts.damage is None and 0 < facts.brightness <= 255
