"""Standing alignment check: static FPPA on the still standing frames of the synthetic clips against
their exact ground truth (real MediaPipe, lite model), the first still seconds of the shared front
clips, the rules on hand-made poses, reps.json and the CLI."""

import json
import math

import cv2
import numpy as np
import pytest

from conftest import first_seconds, SYNTHETIC, _need, clip, run_cli
from valgus_cam.landmarks import LM
from valgus_cam.measures import FrameMeasures, LandmarkSeries
from valgus_cam.pipeline import analyse_clip
from valgus_cam.pose import PoseEstimator
from valgus_cam.report import reps_document
from valgus_cam.standing import DEFAULT_HEIGHT_CM, EYE_HEIGHT_FRACTION, FOOT_LENGTH_FRACTION, assess_standing
from valgus_cam.verdicts import Thresholds

# every synthetic clip with the camera within 10° of the body's front (the standing check refuses
# centimetres and turn-out beyond 15°)
SQUARE = ["dev_001_single_left", "dev_002_single_right", "dev_003_double", "dev_004_single_left", "dev_006_double",
          "dev_007_single_left", "dev_009_double", "dev_012_double", "dev_013_single_left", "dev_016_single_left",
          "dev_017_single_right", "dev_022_single_left"]
N_FRAMES = 45  # the clips stand still for the first 0.8-1.5 s


def _pose_series(path, n, model) -> LandmarkSeries:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    wh = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    poses, times = [], []
    with PoseEstimator(model) as est:
        for i in range(n):
            ok, f = cap.read()
            if not ok:
                break
            times.append(i / fps)
            poses.append(est.detect(f, i / fps))
    cap.release()
    return LandmarkSeries.from_poses(times, poses, wh)


@pytest.fixture(scope="module")
def synthetic_holds(lite_model):
    out = []
    for name in SQUARE:
        gt = json.loads(_need(SYNTHETIC / f"{name}.json").read_text())
        series = _pose_series(SYNTHETIC / f"{name}.mp4", N_FRAMES, lite_model)
        a = analyse_clip(series, test="standing", height_cm=100 * gt["body"]["anthropometry"]["height"])
        out.append((name, gt, a))
    return out


def test_static_fppa_on_synthetic_standing_frames_is_within_the_accuracy_targets(synthetic_holds):
    img, frontal = [], []
    for name, gt, a in synthetic_holds:
        h = a.hold
        assert h is not None and h.duration_s >= 0.4, name
        frames = gt["frames"][h.start_frame:h.end_frame + 1]
        # the hold is standing: its mean knee flexion is within 5° of standing. It may end in the
        # first frames of a slow descent (dev_012: up to 28° in its last frames): seen from the
        # front, the hips then drop by ~3% of the leg length in 0.5 s, below the stillness gate
        flex = lambda f: max(f["knee_flex_l"], f["knee_flex_r"])  # noqa: E731
        standing = np.mean([flex(f) for f in gt["frames"][:5]])
        assert np.mean([flex(f) for f in frames]) - standing <= 5.0, name
        truth = lambda k: float(np.mean([f[k] for f in frames]))  # noqa: E731
        img += [h.fppa_left_deg - truth("fppa_l"), h.fppa_right_deg - truth("fppa_r")]
        frontal += [h.fppa_frontal_left_deg - truth("fppa_frontal_l"),
                    h.fppa_frontal_right_deg - truth("fppa_frontal_r")]
    # accuracy targets of the geometry issue: image FPPA MAE ≤ 2°, frontal-plane ≤ 3°
    # (measured: lite 1.7° / 1.7°, full 1.8° / 1.8° on these 24 legs)
    assert np.mean(np.abs(img)) <= 2.0
    assert np.mean(np.abs(frontal)) <= 3.0


def test_centimetres_and_turn_out_against_the_synthetic_truth(synthetic_holds):
    ankle_err, turn_err = [], []
    refused = 0
    for name, gt, a in synthetic_holds:
        h = a.hold
        frames = gt["frames"][h.start_frame:h.end_frame + 1]
        if h.ankle_distance_cm is None:  # the estimated yaw is beyond the standing check's 15°
            assert abs(h.body_yaw_deg) > 15 and abs(gt["camera"]["yaw_deg"]) >= 10, name  # (lite: dev_022)
            refused += 1
            continue
        j = lambda k: np.array([f["j3d"][k] for f in frames])  # noqa: E731
        true_ankles_cm = 100 * np.linalg.norm((j("ankle_l") - j("ankle_r"))[:, :2], axis=1).mean()
        ankle_err.append(h.ankle_distance_cm - true_ankles_cm)
        for side, s, sign in (("left", "l", 1), ("right", "r", -1)):
            v = j(f"toe_{s}") - j(f"heel_{s}")
            truth = sign * np.degrees(np.arctan2(v[:, 0], -v[:, 1])).mean()  # + = toes out
            turn_err.append(getattr(h, f"foot_turnout_{side}_deg") - truth)
        assert h.knees_together is False and h.intermalleolar_distance_cm is None  # feet apart in these clips
        assert any("knees are apart" in x for x in h.not_measured)
    assert refused <= 1
    # the ankle landmarks sit ≈ 1.2 cm wider than the joint centres (max 3.0 cm; LANDMARK_BIAS_CM)
    assert np.max(np.abs(ankle_err)) <= 3.5 and 0 < np.mean(ankle_err) <= 2.0
    assert np.mean(np.abs(turn_err)) <= 5.0


# first 6 s of each front clip: where a still standing with both feet down and straight legs is
# (the pause at the top between reps; the high-bar clip squats from its 9th frame: none)
FRONT_CLIPS = {"front_dumbbell_squat_5reps__nowva.mp4": (4.70, 5.03),
               "front_highbar_squat_1rep__trutadan.mp4": None,
               "front_squat_20reps_counter__rjsong.mp4": (1.13, 2.40),
               "front_webcam_squat_4reps_overlay__healthserv.mp4": (3.05, 3.35)}


@pytest.mark.parametrize("name", FRONT_CLIPS)
def test_standing_check_on_the_first_still_seconds_of_real_front_clips(name, lite_model):
    cap = cv2.VideoCapture(str(clip(name)))
    n = int(6 * cap.get(cv2.CAP_PROP_FPS))
    cap.release()
    series = _pose_series(clip(name), n, lite_model)
    a = analyse_clip(series, test="standing")
    doc = reps_document(a, name, 30.0, len(series.time_s))
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc and doc["test"] == "standing"
    h = a.hold
    if FRONT_CLIPS[name] is None:
        assert h is None and doc["reps"] == [] and doc["measurable"] is False
        assert any("no still standing" in w for w in a.warnings)
        return
    assert a.measures.view == "frontal" and len(doc["reps"]) == 1 and doc["reps"][0]["kind"] == "hold"
    assert abs(h.start_s - FRONT_CLIPS[name][0]) <= 0.2 and abs(h.end_s - FRONT_CLIPS[name][1]) <= 0.2
    assert h.height_source == "default" and h.height_cm == DEFAULT_HEIGHT_CM
    for side in ("left", "right"):
        v = getattr(h, f"fppa_frontal_{side}_deg")
        assert v is not None and abs(v) < 15  # standing between squats with straight legs
        assert -30 < getattr(h, f"foot_turnout_{side}_deg") < 45
    # they stand with the feet apart: gaps in the range of a squat stance, the knock-knee check refused
    assert 15 < h.ankle_distance_cm < 70 and h.knee_distance_cm < h.ankle_distance_cm + 10
    assert h.knees_together is False and h.intermalleolar_distance_cm is None and "knock_knees" not in h.reasons
    assert any("knees are apart" in x for x in h.not_measured)
    assert abs(h.pelvic_obliquity_deg) < 10 and h.pelvic_obliquity_uncertainty_deg == 10
    assert any("pelvis level" in x and "not judged" in x for x in h.not_measured)


# ---- the rules, on hand-made poses ------------------------------------------------------------
PX_PER_CM = 3.0


def _standing_pose(knee_cm, ankle_cm, height_cm=170.0, turn_left=5.0, turn_right=5.0, n=30):
    """Front view, unmirrored (subject's left on the image right), standing still."""
    xy = np.full((n, 33, 2), np.nan)
    cx, floor = 640.0, 900.0
    eye_y = floor - EYE_HEIGHT_FRACTION * height_cm * PX_PER_CM
    foot_px = FOOT_LENGTH_FRACTION * height_cm * PX_PER_CM

    def put(name, x, y):
        xy[:, LM[name]] = (x, y)

    for side, sign, turn in (("left", 1, turn_left), ("right", -1, turn_right)):
        put(f"{side}_eye", cx + sign * 10, eye_y)
        put(f"{side}_shoulder", cx + sign * 60, eye_y + 90)
        put(f"{side}_hip", cx + sign * 40, floor - 280)
        put(f"{side}_knee", cx + sign * knee_cm * PX_PER_CM / 2, floor - 150)
        ax = cx + sign * ankle_cm * PX_PER_CM / 2
        put(f"{side}_ankle", ax, floor - 20)
        put(f"{side}_heel", ax, floor)
        put(f"{side}_foot_index", ax + sign * foot_px * math.sin(math.radians(turn)), floor + 15)
    s = LandmarkSeries(np.arange(n) / 30.0, xy, np.zeros((n, 33, 3)), np.ones((n, 33)), (1280, 960))
    nan = np.full(n, np.nan)
    cols = {c: nan.copy() for c in FrameMeasures.CSV_COLUMNS}
    cols.update(body_yaw_deg=np.zeros(n), pelvic_obliquity_deg=np.zeros(n), fppa_frontal_left_deg=np.full(n, 4.0),
                fppa_frontal_right_deg=np.full(n, 3.0))
    m = FrameMeasures(time_s=s.time_s, detected=np.ones(n, bool), view="frontal", width_ratio=0.6,
                      camera_roll_deg=0.0, baseline=slice(0, n), **cols)
    return s, m


def test_knees_together_with_a_gap_between_the_ankles_is_knock_knees():
    s, m = _standing_pose(knee_cm=10.0, ankle_cm=17.0)  # knees touching, inner ankles 10 cm apart
    h = assess_standing(s, m, Thresholds(), height_cm=170.0)
    assert h.knees_together is True
    assert h.knee_gap_cm == pytest.approx(0.0, abs=0.1) and h.intermalleolar_distance_cm == pytest.approx(10.0, abs=0.1)
    assert h.reasons == ("knock_knees",) and h.verdict == "fail"
    assert [f.code for f in h.findings if f.result == "fail"] == ["knock_knees"] and "findings" not in h.to_dict()
    assert h.knee_separation_ratio == pytest.approx(10 / 17, abs=0.01)


def test_a_gap_within_the_measurement_noise_is_not_a_finding():
    s, m = _standing_pose(knee_cm=10.0, ankle_cm=12.0)  # 5 cm: over the 4 cm limit, not beyond ± ~2 cm
    h = assess_standing(s, m, Thresholds(), height_cm=170.0)
    assert h.intermalleolar_distance_cm == pytest.approx(5.0, abs=0.1) and h.gap_uncertainty_cm > 1.0
    assert "knock_knees" not in h.reasons and h.verdict == "pass"


def test_feet_apart_means_the_knock_knee_check_is_not_measured():
    s, m = _standing_pose(knee_cm=28.0, ankle_cm=30.0)
    h = assess_standing(s, m, Thresholds(), height_cm=170.0)
    assert h.knees_together is False and h.intermalleolar_distance_cm is None
    assert any("knees are apart" in x for x in h.not_measured)


def test_height_sets_the_centimetres_and_the_fallback_is_stated():
    s, m = _standing_pose(knee_cm=10.0, ankle_cm=20.0, height_cm=170.0)
    given = assess_standing(s, m, Thresholds(), height_cm=170.0)
    assumed = assess_standing(s, m, Thresholds())
    assert given.ankle_distance_cm == pytest.approx(20.0, abs=0.05) and given.height_source == "given"
    assert assumed.height_source == "default"
    assert assumed.ankle_distance_cm == pytest.approx(20.0 * DEFAULT_HEIGHT_CM / 170.0, abs=0.05)
    assert assumed.gap_uncertainty_cm > given.gap_uncertainty_cm


def test_foot_turn_out():
    s, m = _standing_pose(knee_cm=10.0, ankle_cm=9.0, turn_left=32.0, turn_right=8.0)
    h = assess_standing(s, m, Thresholds(), height_cm=170.0)
    assert h.foot_turnout_left_deg == pytest.approx(32.0, abs=0.5)
    assert h.foot_turnout_right_deg == pytest.approx(8.0, abs=0.5)
    assert h.reasons == ("foot_turn_out_left",)
    assert [(f.code, f.result) for f in h.findings] == [("knock_knees", "pass"), ("foot_turn_out_left", "fail"),
                                                        ("foot_turn_out_right", "pass")]
    assert h.knee_angle_deg("left") == h.fppa_frontal_left_deg and h.stance == "both"
    # 22°: over the 20° limit but within its ± 4° uncertainty
    s2, m2 = _standing_pose(knee_cm=10.0, ankle_cm=9.0, turn_left=22.0)
    assert "foot_turn_out_left" not in assess_standing(s2, m2, Thresholds(), height_cm=170.0).reasons


def test_camera_off_the_front_refuses_centimetres_and_turn_out():
    s, m = _standing_pose(knee_cm=10.0, ankle_cm=20.0)
    m.body_yaw_deg[:] = 25.0
    h = assess_standing(s, m, Thresholds(), height_cm=170.0)
    assert h.ankle_distance_cm is None and h.foot_turnout_left_deg is None and h.verdict == "unmeasurable"
    assert any("front view" in x for x in h.not_measured)


def test_cli_standing(tmp_path, lite_model):
    # the first 3 s of a real front clip: he stands still from 1.1 s to 2.4 s
    video = first_seconds(clip("front_squat_20reps_counter__rjsong.mp4"), 3.0, tmp_path / "stand.mp4")
    out = tmp_path / "o"
    res = run_cli("analyze", str(video), "--test", "standing", "--height-cm", "180", "--out", str(out),
                  "--model", "lite", "--no-progress")
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "reps.json").read_text())
    assert doc["test"] == "standing" and [r["kind"] for r in doc["reps"]] == ["hold"]
    hold = doc["reps"][0]
    assert hold["height_cm"] == 180 and hold["height_source"] == "given"
    assert "standing: 1 hold" in res.stdout and "static knee angle" in res.stdout
    bad = run_cli("analyze", str(video), "--test", "standing", "--height-cm", "1.8",
                  "--out", str(tmp_path / "b"))
    assert bad.returncode == 3 and len(bad.stderr.strip().splitlines()) == 1 and "height" in bad.stderr
