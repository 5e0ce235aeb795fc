"""overlay.py: the annotated video drawn during the pose pass (SinglePassAnnotator) shows what the
second pass (write_annotated_video) shows; what it cannot vouch for is discarded, never kept."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from valgus_cam.annotate import OverlayFrame, Verdict
from valgus_cam.api import run_pose
from valgus_cam.overlay import SinglePassAnnotator, overlay_frames, same_display, write_annotated_video
from valgus_cam.pipeline import analyse_clip
from valgus_cam.verdicts import Thresholds

from conftest import SAMPLE


def _frame(**kw) -> OverlayFrame:
    base = dict(xy_px=None, fppa_left_deg=8.0, fppa_right_deg=5.0, fppa_threshold_deg=13.0, fppa_kind="frontal",
                pelvic_drop_deg=math.nan, trunk_lean_deg=2.0, reps_done=1, stance="both", verdict=None, note=None,
                trunk_lean_threshold_deg=10.0)
    base.update(kw)
    return OverlayFrame(**base)


def test_same_display_tolerates_only_what_cannot_be_seen():
    f = _frame()
    assert same_display([_frame(fppa_left_deg=8.2)], [f], 0, 0)
    assert not same_display([_frame(fppa_left_deg=8.4)], [f], 0, 0)  # beyond 0.25°
    assert not same_display([_frame(fppa_left_deg=math.nan)], [f], 0, 0)  # refused vs measured
    # within 0.25° but on the other side of the limit: a different colour, so not the same
    assert not same_display([_frame(fppa_left_deg=13.1)], [_frame(fppa_left_deg=12.95)], 0, 0)
    assert not same_display([_frame(trunk_lean_deg=-10.1)], [_frame(trunk_lean_deg=-9.9)], 0, 0)
    assert not same_display([_frame(xy_px=np.zeros((33, 2)))], [f], 0, 0)


def test_same_display_lets_events_move_by_the_shift_only():
    v = Verdict(rep_index=2, verdict="fail", reasons=("knee_valgus_left",), stance="left",
                values={"knee_valgus_left": 17.0})
    final = [_frame()] * 4 + [_frame(reps_done=2, verdict=v)] * 4
    early = [_frame(reps_done=2, verdict=v)] * 8  # the banner came 4 frames early
    assert not same_display(early, final, 0, 3)
    assert same_display(early, final, 1, 3)
    assert same_display(early, final, 3, 3)
    worse = [_frame(reps_done=2, verdict=replace(v, values={"knee_valgus_left": 18.0}))] * 8
    assert not same_display(worse, final, 5, 3)  # the banner's number differs


@pytest.fixture(scope="module")
def sample_pass(lite_model, tmp_path_factory):
    """The sample clip analysed once with the single pass drawing annotated.mp4 (synchronously, so
    that what is drawn before the pose pass ends does not depend on the machine's load)."""
    out = tmp_path_factory.mktemp("single") / "annotated.mp4"
    thr = Thresholds()
    annot = SinglePassAnnotator(str(SAMPLE), out, analyse=lambda s: analyse_clip(s, thr), synchronous=True)
    with annot:
        series, index, _, _ = run_pose(str(SAMPLE), None, model=lite_model, on_frame=annot.on_frame)
        annot.stop()
        a = analyse_clip(series, thr)
        kept = annot.finish(series, a)
    return annot, kept, out, series, index, a


def _frames(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            return out
        out.append(img)


def test_single_pass_draws_during_the_pose_pass_what_the_second_pass_draws(sample_pass, tmp_path):
    annot, kept, out, series, index, a = sample_pass
    assert kept and out.is_file(), annot.mismatch
    n = len(series.time_s)
    assert annot.frames_drawn_early >= 0.7 * n  # most of the video was drawn before the pose pass ended
    second = tmp_path / "second.mp4"
    write_annotated_video(str(SAMPLE), second, series, index, a, progress=False)
    one, two = _frames(out), _frames(second)
    assert len(one) == len(two) == n
    diff = np.array([np.abs(x.astype(np.int16) - y.astype(np.int16)).mean() for x, y in zip(one, two)])
    # both encodes of the same pictures are alike to within codec noise; a different number, banner
    # or count would change whole glyphs
    assert np.mean(diff < 0.5) >= 0.95, np.sort(diff)[-10:]
    raw = _frames(SAMPLE)
    assert np.mean([np.abs(x.astype(np.int16) - r.astype(np.int16)).mean() for x, r in zip(one, raw)]) > 1.0


def test_what_the_final_analysis_contradicts_is_discarded(lite_model, tmp_path):
    out = tmp_path / "annotated.mp4"
    annot = SinglePassAnnotator(str(SAMPLE), out, analyse=lambda s: analyse_clip(s, Thresholds()), synchronous=True)
    with annot:
        series, _, _, _ = run_pose(str(SAMPLE), None, model=lite_model, on_frame=annot.on_frame)
        annot.stop()
        assert annot.frames_drawn_early > 0
        # the final analysis with another knee limit: every drawn frame shows the wrong limit
        other = analyse_clip(series, Thresholds(knee_fppa_max_deg=9.0))
        assert not annot.finish(series, other)
    assert annot.mismatch
    assert list(tmp_path.iterdir()) == []  # no annotated.mp4, no temporary file


def test_overlay_frames_range_matches_the_whole(sample_pass):
    _, _, _, series, _, a = sample_pass
    whole = list(overlay_frames(a, series))
    part = list(overlay_frames(a, series, 100, 140))
    assert len(part) == 40
    assert all(same_display(part, whole[100:140], k, 0, tol_deg=0.0) for k in range(40))


def test_analyze_annotate_in_the_background_equals_the_second_pass(lite_model, tmp_path):
    """The real (threaded, low-priority) path through valgus_cam.analyze: whatever got drawn early,
    the file holds every frame and looks like the second pass's."""
    import valgus_cam

    r = valgus_cam.analyze(SAMPLE, out=tmp_path / "o", model=lite_model, annotate=True)
    second = tmp_path / "second.mp4"
    write_annotated_video(str(SAMPLE), second, r.series, r.frame_index, r.analysis, progress=False)
    one, two = _frames(tmp_path / "o" / "annotated.mp4"), _frames(second)
    assert len(one) == len(two) == len(r.frame_index)
    diff = np.array([np.abs(x.astype(np.int16) - y.astype(np.int16)).mean() for x, y in zip(one, two)])
    assert np.mean(diff < 0.5) >= 0.95
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["annotated.mp4", "frames.csv", "landmarks.csv",
                                                                   "reps.json"]
