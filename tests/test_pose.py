"""Real MediaPipe inference on real frames (models and clips from ../shared)."""

import numpy as np
import pytest

from valgus_cam.capture import VideoFileSource
from valgus_cam.pipeline import iter_poses
from valgus_cam.pose import LM, LabelFlipGuard, Pose, PoseEstimator, RunningMode

from conftest import CLIPS, clip

FRONT_CLIPS = ["front_highbar_squat_1rep__trutadan.mp4", "front_squat_20reps_counter__rjsong.mp4",
               "front_dumbbell_squat_5reps__nowva.mp4", "front_webcam_squat_4reps_overlay__healthserv.mp4",
               "front_forward_lunge_5reps__vengaza.mp4"]


def _run(path, model, **kw):
    with VideoFileSource(path) as src, PoseEstimator(model, **kw) as est:
        return [(f.index, f.time_s, p) for f, p in iter_poses(src, est)]


def test_front_clip_list_matches_the_manifest(clips_manifest):
    front = {c["file"] for c in clips_manifest if c["view"].startswith("front")}
    assert front == set(FRONT_CLIPS)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["lite", "full"])
@pytest.mark.parametrize("name", FRONT_CLIPS)
def test_front_view_detection_rate_and_left_right_order(name, model_name, shared_models):
    results = _run(clip(name), shared_models / f"pose_landmarker_{model_name}.task")
    poses = [p for _, _, p in results if p is not None]
    rate = len(poses) / len(results)
    assert rate >= 0.95, f"{name}: person detected in {rate:.1%} of frames"
    # facing the camera, the subject's left hip is on the image right
    left_on_right = np.mean([p.point("left_hip")[0] > p.point("right_hip")[0] for p in poses])
    assert left_on_right >= 0.97, f"{name}: left/right hips in the wrong image order in {1 - left_on_right:.1%}"


def test_pose_fields_units_and_shapes(lite_model):
    results = _run(clip("front_dumbbell_squat_5reps__nowva.mp4"), lite_model)
    t = np.array([ts for _, ts, _ in results])
    assert (np.diff(t) > 0).all()
    p: Pose = results[0][2]
    assert p.xy_px.shape == (33, 2) and p.world_xyz_m.shape == (33, 3)
    assert p.z.shape == p.visibility.shape == p.presence.shape == (33,)
    assert p.image_wh == (1280, 720)
    # pixel space: hips, knees, ankles inside the 1280x720 frame, ankles below knees below hips
    for side in ("left", "right"):
        hip, knee, ankle = (p.point(f"{side}_{j}") for j in ("hip", "knee", "ankle"))
        for pt in (hip, knee, ankle):
            assert 0 <= pt[0] <= 1280 and 0 <= pt[1] <= 720
        assert hip[1] < knee[1] < ankle[1]
    # world landmarks in metres: a standing adult's hip-to-ankle distance is 0.6..1.1 m
    leg_m = np.linalg.norm(p.world_xyz_m[LM["left_hip"]] - p.world_xyz_m[LM["left_ankle"]])
    assert 0.6 < leg_m < 1.1


def test_repeated_timestamps_are_made_monotonic(lite_model):
    with VideoFileSource(clip("front_highbar_squat_1rep__trutadan.mp4")) as src:
        frames = [f for _, f in zip(range(3), src)]
    with PoseEstimator(lite_model) as est:
        for f in frames:
            assert est.detect(f.image_bgr, 0.0) is not None  # same time thrice: no MediaPipe error


def test_image_mode_and_an_empty_scene(lite_model):
    with VideoFileSource(clip("front_highbar_squat_1rep__trutadan.mp4")) as src:
        frame = next(iter(src))
    with PoseEstimator(lite_model, mode=RunningMode.IMAGE) as est:
        assert est.detect(frame.image_bgr) is not None
        assert est.detect(np.full((480, 640, 3), 30, np.uint8)) is None


def test_rotated_phone_video_gives_upright_landmarks(lite_model, ffmpeg, tmp_path):
    import subprocess

    # as a phone stores it: pixels sideways (turned 90° clockwise), metadata saying "turn back"
    sideways, rotated = tmp_path / "sideways.mp4", tmp_path / "phone.mp4"
    subprocess.run([ffmpeg, "-y", "-v", "error", "-i", str(clip("front_highbar_squat_1rep__trutadan.mp4")),
                    "-vf", "transpose=1", "-c:v", "libx264", "-crf", "18", "-an", str(sideways)], check=True)
    subprocess.run([ffmpeg, "-y", "-v", "error", "-display_rotation", "90", "-i", str(sideways),
                    "-c", "copy", str(rotated)], check=True)
    results = _run(rotated, lite_model)
    assert results[0][2].image_wh == (608, 1080)
    poses = [p for _, _, p in results if p is not None]
    assert len(poses) >= 0.95 * len(results)
    upright = np.mean([p.point("left_shoulder")[1] < p.point("left_hip")[1] < p.point("left_ankle")[1] for p in poses])
    assert upright > 0.95


def _toy_pose(facing: int) -> Pose:
    xy = np.zeros((33, 2))
    for side, sx in (("left", 1), ("right", -1)):
        xy[LM[f"{side}_hip"]] = (100 + facing * sx * 20, 300)
        xy[LM[f"{side}_shoulder"]] = (100 + facing * sx * 30, 150)
    return Pose(xy, np.zeros(33), np.ones(33), np.ones(33), np.zeros((33, 3)), (200, 400))


def test_label_flip_guard_fixes_brief_flips_and_accepts_real_turns():
    guard = LabelFlipGuard(accept_s=1.0)
    fps = 30
    seq = [1] * 30 + [-1] * 3 + [1] * 30 + [-1] * 60  # a 0.1 s flip, then a 2 s "turn" at full width
    out = [guard(_toy_pose(f), i / fps) for i, f in enumerate(seq)]
    facing = [1 if p.point("left_hip")[0] > p.point("right_hip")[0] else -1 for p in out]
    assert facing[:63] == [1] * 63  # the brief flip was swapped back
    assert facing[-20:] == [-1] * 20  # a sustained change is accepted
    assert sum(p.labels_swapped for p in out[30:33]) == 3
    # swapping is an involution and moves world landmarks too
    p = _toy_pose(1)
    assert np.array_equal(p.swapped().swapped().xy_px, p.xy_px)


def test_raw_landmarker_jumps_to_the_other_person(lite_model):
    """The two-person composite of tests/test_bad_inputs.py (two-people row) is a real test:
    MediaPipe's one-person landmarker alone, without identity keeping, ends up on the other person
    (hips in the right half) after the subject leaves — what the two-people row must not do."""
    import badfiles

    xs = []
    video = badfiles.cached(badfiles.make_two_people)()
    with VideoFileSource(video) as src, PoseEstimator(lite_model, keep_identity=False) as est:
        for f in src:
            p = est.detect(f.image_bgr, f.time_s)
            xs.append(np.nan if p is None else (p.xy_px[23, 0] + p.xy_px[24, 0]) / 2)
    xs = np.array(xs)
    assert (xs[-60:] > 480).mean() > 0.9  # the last 2 s: the other person


def test_large_frames_are_shrunk_for_mediapipe_but_landmarks_stay_in_their_pixels(lite_model):
    import cv2

    with VideoFileSource(clip("front_dumbbell_squat_5reps__nowva.mp4")) as src:
        frame = next(iter(src)).image_bgr  # 1280x720
    uhd = cv2.resize(frame, (3840, 2160), interpolation=cv2.INTER_CUBIC)
    with PoseEstimator(lite_model, mode=RunningMode.IMAGE) as est:
        small, big = est.detect(frame), est.detect(uhd)
    assert big.image_wh == (3840, 2160)
    legs = [LM[f"{s}_{j}"] for s in ("left", "right") for j in ("hip", "knee", "ankle")]
    err = np.linalg.norm(big.xy_px[legs] / 3 - small.xy_px[legs], axis=1)
    assert err.max() < 6, err  # px of the 1280x720 frame


def test_live_stream_mode_gives_the_landmarks_of_video_mode(lite_model):
    """LIVE_STREAM (asynchronous: submit, then the result from MediaPipe's thread) computes the same
    landmarks as VIDEO mode on the same frames; results come back with their tags, in order."""
    with VideoFileSource(clip("front_highbar_squat_1rep__trutadan.mp4")) as src:
        frames = [f for f in src][:15]
    with PoseEstimator(lite_model) as video, PoseEstimator(lite_model, mode=RunningMode.LIVE_STREAM) as live:
        assert live.result(0) is None and live.in_flight == 0
        for f in frames:
            a = video.detect(f.image_bgr, f.time_s)
            live.submit(f.image_bgr, f.time_s, tag=f.index)
            assert live.in_flight == 1
            tag, b = live.result(timeout_s=10.0)
            assert tag == f.index and live.in_flight == 0
            np.testing.assert_array_equal(a.xy_px, b.xy_px)
        with pytest.raises(ValueError):
            video.submit(frames[0].image_bgr, 1.0)


def test_the_frame_loop_hands_each_frame_to_every_observer_in_order():
    """pipeline.run_frames, the one loop of landmarks, analyze and live: every (frame, pose) is
    counted and goes to each observer in the order given; Ctrl-C propagates unless the caller keeps
    what was seen (then ``interrupted``)."""
    from valgus_cam.capture import Frame
    from valgus_cam.pipeline import run_frames

    img = np.zeros((4, 4, 3), np.uint8)
    pairs = [(Frame(img, i, i / 30), _toy_pose(1) if i % 2 else None) for i in range(5)]
    seen = []

    class Obs:
        def __init__(self, name):
            self.name = name

        def on_frame(self, frame, pose):
            seen.append((self.name, frame.index, pose is not None))

    stats = run_frames(iter(pairs), [Obs("a"), Obs("b")])
    assert seen == [(n, i, bool(i % 2)) for i in range(5) for n in ("a", "b")]
    assert (stats.frames, stats.detected, stats.first_time_s, stats.last_time_s) == (5, 2, 0.0, 4 / 30)
    assert not stats.interrupted and stats.wall_s >= 0

    def interrupted_after_two():
        yield from pairs[:2]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_frames(interrupted_after_two(), [Obs("c")])
    stats = run_frames(interrupted_after_two(), [Obs("d")], keep_on_interrupt=True)
    assert stats.interrupted and stats.frames == 2


@pytest.mark.parametrize("mode", list(RunningMode))
def test_every_mode_has_the_estimator_interface(lite_model, mode):
    """What the frame loop's callers read of an estimator exists in every mode (no duck typing):
    without identity keeping nobody is ever lost and no people are counted."""
    with PoseEstimator(lite_model, mode=mode) as est:
        assert est.mode is mode and est.model_path.name == "pose_landmarker_lite.task"
        assert est.subject_lost is False and est.people_seen == 0 and est.lost_frames == 0
        assert (est.tracker is not None) == (mode is RunningMode.VIDEO)
