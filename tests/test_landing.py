"""Landing check: segmentation from the hip's vertical velocity on a real side-view jump-squat clip
(real MediaPipe, lite model) and on frontal landings made from a synthetic squat with exact ground
truth; per-landing scoring; the CLI."""

import json

import cv2
import numpy as np
import pytest

from conftest import SYNTHETIC, _need, clip, run_cli
from valgus_cam.api import analyze
from valgus_cam.landing import Landing, score_landings, segment_landings
from valgus_cam.landmarks import LM
from valgus_cam.measures import FrameMeasures, LandmarkSeries
from valgus_cam.pipeline import analyse_clip
from valgus_cam.pose import PoseEstimator
from valgus_cam.verdicts import Thresholds

JUMPS = "side_jump_squat_landings__sagor.mp4"
# initial contact (first frame with a foot on the floor), read frame by frame from the video
# (±1 frame: motion blur); 6 flights: both feet are off the floor in frames 24-28, 74-78,
# 124-128, 170-176, 218-220, 264-268 (the manifest's "5 jumps" undercounts: docs/screening.md)
JUMPS_CONTACT_FRAMES = [32, 81, 130, 178.5, 224, 271]


@pytest.fixture(scope="module")
def jumps(lite_model, tmp_path_factory):
    return analyze(clip(JUMPS), model=lite_model, test="landing", out=tmp_path_factory.mktemp("jumps"))


def test_real_jump_squats_are_segmented_into_their_landings(jumps):
    a = jumps.analysis
    assert a.test == "landing"
    assert len(a.landings) == len(JUMPS_CONTACT_FRAMES)
    for r, truth in zip(a.landings, JUMPS_CONTACT_FRAMES):
        assert abs(r.contact_frame - truth) <= 2  # within 2 frames (72 ms at 27.9 fps)
        assert r.takeoff_frame < r.contact_frame <= r.peak_flexion_frame
        assert r.peak_flexion_s - r.contact_s <= 1.5


def test_side_view_landings_report_the_knee_as_not_measurable(jumps):
    a = jumps.analysis
    assert a.measures.view == "sagittal"
    doc = jumps.document
    assert doc["test"] == "landing" and doc["measurable"] is False
    for rec in doc["reps"]:
        assert rec["kind"] == "landing" and rec["verdict"] == "unmeasurable" and rec["reasons"] == []
        for key in ("fppa_frontal_left_pf_deg", "fppa_frontal_right_pf_deg", "fppa_left_ic_deg",
                    "knee_separation_ratio_ic", "knee_separation_ratio_pf"):
            assert rec[key] is None  # never a number from a side view
        assert any("side" in x or "sagittal" in x for x in rec["not_measured"])


def _synthetic_landings(lite_model, name="dev_009_double", flight_s=0.4, g=9.81):
    """A frontal jump-squat clip made from a synthetic double-leg squat (camera square to the body):
    before each rep after the first, the rep's standing start frame is translated up along a
    ballistic path (flight ``flight_s``, ≈ 20 cm), so the rep's descent is the landing's
    absorption and its bottom the peak knee flexion. Real MediaPipe (lite) on the rendered frames."""
    gt = json.loads(_need(SYNTHETIC / f"{name}.json").read_text())
    fps = gt["fps"]
    px_per_m = gt["camera"]["focal_px"] / gt["camera"]["distance_m"]
    cap = cv2.VideoCapture(str(SYNTHETIC / f"{name}.mp4"))
    frames = []
    while (ok := cap.read())[0]:
        frames.append(ok[1])
    cap.release()
    reps = gt["reps"]
    src, shift, contacts, bottoms = list(range(reps[0]["end"] + 1)), [0.0] * (reps[0]["end"] + 1), [], []
    nf = int(round(flight_s * fps))
    v0 = g * flight_s / 2
    for r in reps[1:]:
        for k in range(1, nf):  # airborne frames only
            tt = k / fps
            src.append(r["start"])
            shift.append((v0 * tt - g * tt * tt / 2) * px_per_m)
        contacts.append(len(src))
        bottoms.append(len(src) + r["bottom"] - r["start"])
        src += list(range(r["start"], r["end"] + 1))
        shift += [0.0] * (r["end"] + 1 - r["start"])
    h, w = frames[0].shape[:2]
    poses, times = [], []
    with PoseEstimator(lite_model) as est:
        for j, (i, dy) in enumerate(zip(src, shift)):
            img = frames[i] if not dy else cv2.warpAffine(frames[i], np.float32([[1, 0, 0], [0, 1, -dy]]), (w, h),
                                                          borderMode=cv2.BORDER_REPLICATE)
            times.append(j / fps)
            poses.append(est.detect(img, j / fps))
    series = LandmarkSeries.from_poses(times, poses, (w, h))
    return gt, series, contacts, bottoms


@pytest.fixture(scope="module")
def synthetic_landings(lite_model):
    return _synthetic_landings(lite_model)


def test_frontal_landings_are_found_and_timed(synthetic_landings):
    gt, series, contacts, bottoms = synthetic_landings
    a = analyse_clip(series, test="landing")
    assert a.measures.view == "frontal"
    assert [r.index for r in a.landings] == list(range(1, len(contacts) + 1))
    for r, ic, pf in zip(a.landings, contacts, bottoms):
        assert abs(r.contact_frame - ic) <= 2
        assert abs(r.peak_flexion_s - series.time_s[pf]) <= 0.25


def test_frontal_landings_are_scored_at_peak_flexion(synthetic_landings):
    gt, series, contacts, bottoms = synthetic_landings
    a = analyse_clip(series, test="landing")
    m = a.measures
    errors = []
    for r, rep in zip(a.landings, gt["reps"][1:]):
        assert r.verdict in ("pass", "fail")  # camera square to the body: judged
        for side, s in (("left", "l"), ("right", "r")):
            v = getattr(r, f"fppa_frontal_{side}_pf_deg")
            # the landing's number is the per-frame measure at its peak-flexion frame
            near = getattr(m, f"fppa_frontal_{side}_deg")[max(0, r.peak_flexion_frame - 3):r.peak_flexion_frame + 4]
            assert np.nanmin(near) - 0.01 <= v <= np.nanmax(near) + 0.01
            errors.append(v - rep[f"fppa_frontal_bottom_{s}"])
            if f"landing_valgus_{side}" in r.reasons:
                assert v > a.thresholds.landing_limit_deg
        assert r.knee_separation_ratio_ic is not None and r.knee_separation_ratio_pf is not None
        if rep["valgus_severity"] == "none":
            assert r.verdict == "pass"
    # frontal FPPA at the bottom of a squat, lite model: docs/accuracy.md (full model 4.7° MAE at
    # rep bottoms); this clip is square to the camera
    assert np.mean(np.abs(errors)) <= 4.0
    # the marked landing (truth 16.9° / 13.5°, 0.5° over the limit on its right knee) is within the
    # measurement error of the limit: with lite it reads 12.0° / 12.2° (pass), with full 9.5° / 14.1°
    # (fail). What must hold is that it reads far more valgus than the straight ones, not its verdict.
    marked = [r for r, rep in zip(a.landings, gt["reps"][1:]) if rep["valgus_severity"] == "marked"]
    straight = [r for r, rep in zip(a.landings, gt["reps"][1:]) if rep["valgus_severity"] == "none"]
    worst = lambda r: max(r.fppa_frontal_left_pf_deg, r.fppa_frontal_right_pf_deg)  # noqa: E731
    assert marked and straight
    assert min(worst(r) for r in marked) >= a.thresholds.landing_limit_deg - 4.0
    assert min(worst(r) for r in marked) > max(worst(r) for r in straight) + 3.0


def _measures(n: int, **arrays) -> FrameMeasures:
    nan = np.full(n, np.nan)
    cols = {c: nan.copy() for c in FrameMeasures.CSV_COLUMNS}
    cols.update(arrays)
    return FrameMeasures(time_s=np.arange(n) / 30.0, detected=np.ones(n, bool), view="frontal", width_ratio=0.6,
                         camera_roll_deg=0.0, baseline=slice(0, 10), **cols)


def test_scoring_rules():
    n = 60
    ld = Landing(takeoff_frame=5, apex_frame=10, contact_frame=15, peak_flexion_frame=30, foot_lift=0.2)
    fppa = np.where(np.arange(n) >= 25, 18.0, 2.0)
    m = _measures(n, fppa_frontal_left_deg=fppa, fppa_frontal_right_deg=np.full(n, 5.0),
                  knee_ankle_separation_ratio=np.full(n, 1.0))
    r, = score_landings(m, [ld], Thresholds())
    assert r.reasons == ("landing_valgus_left",) and r.verdict == "fail"
    assert r.fppa_frontal_left_ic_deg == pytest.approx(2.0) and r.fppa_frontal_left_pf_deg == pytest.approx(18.0)
    # the record interface (analysis.Record): a finding per knee, the reasons are the failed ones
    assert [(f.criterion, f.side, f.result) for f in r.findings] == [("landing_valgus", "left", "fail"),
                                                                     ("landing_valgus", "right", "pass")]
    assert r.knee_angle_deg("left") == pytest.approx(18.0) and r.stance == "both" and "findings" not in r.to_dict()
    assert score_landings(m, [ld], Thresholds(sex="male", landing_fppa_max_deg_male=20.0))[0].verdict == "pass"
    # no knee angle (camera yawed): the knee separation decides
    sep = np.where(np.arange(n) >= 25, 0.6, 1.0)
    m2 = _measures(n, knee_ankle_separation_ratio=sep)
    r2, = score_landings(m2, [ld], Thresholds())
    assert r2.reasons == ("landing_knees_caving",) and r2.knee_separation_change == pytest.approx(0.6)
    assert [f.code for f in r2.findings if f.result == "fail"] == ["landing_knees_caving"]
    r3, = score_landings(_measures(n), [ld], Thresholds())
    assert r3.verdict == "unmeasurable" and r3.not_measured


def test_standing_up_on_the_toes_is_not_a_landing():
    """Hips rising and falling with the feet on the floor (a squat, a heel raise) has no flight."""
    t = np.arange(120) / 30.0
    xy = np.zeros((120, 33, 2))
    depth = 80 * np.sin(np.pi * (t + 1.0) / 2.0) ** 2  # squats, hips 80 px down; standing at t = 1 s, 3 s
    for name, x in (("left_hip", 540), ("right_hip", 500), ("left_knee", 540), ("right_knee", 500)):
        xy[:, LM[name]] = np.column_stack([np.full(120, x), 500 + depth if "hip" in name else 700 + depth / 2])
    for name, x in (("left_ankle", 540), ("right_ankle", 500)):
        xy[:, LM[name]] = np.column_stack([np.full(120, x), 900 - 10.0 * (depth < 10)])  # heel raise at the top
    assert segment_landings(t, xy) == []
    # the same with the whole body, feet included, 60 px off the floor at the top: two flights
    xy2 = xy.copy()
    xy2[:, :, 1] -= (np.clip(20 - depth, 0, None) * 3)[:, None]
    found = segment_landings(t, xy2)
    assert [round(t[f.apex_frame]) for f in found] == [1, 3]


def test_cli_landing_on_the_side_view_clip(tmp_path, jumps):
    out = tmp_path / "o"  # the landmarks of the fixture's run: no second pose pass
    res = run_cli("analyze", str(clip(JUMPS)), "--test", "landing", "--out", str(out),
                  "--landmarks", str(jumps.out_dir / "landmarks.csv"))
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "reps.json").read_text())
    assert doc["test"] == "landing" and len(doc["reps"]) == len(JUMPS_CONTACT_FRAMES)
    assert "landing: 6 landings" in res.stdout and "UNMEASURABLE" in res.stdout
    assert "What the findings" not in res.stdout  # nothing failed: no guidance


@pytest.mark.parametrize("name", ["front_webcam_squat_4reps_overlay__healthserv.mp4", "side_squat_2reps__toshineb.mp4"])
def test_squats_without_a_jump_have_no_landing(name, lite_model):
    """Squatting and standing up moves the hips as much as a jump does; the feet never leave the floor."""
    r = analyze(clip(name), model=lite_model, test="landing", write=False)
    assert r.analysis.landings == [] and r.document["reps"] == [] and r.document["measurable"] is False
    assert any("no jump landing" in w for w in r.analysis.warnings)
