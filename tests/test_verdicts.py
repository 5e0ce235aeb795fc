"""Verdicts: thresholds from TOML, per-rep scoring rules and the summary, on hand-made measures."""

import json
import math

import numpy as np
import pytest

from valgus_cam.errors import InputError
from valgus_cam.kinds import SQUAT_TEST_ARGS, TEST_ARGS, TestKind
from valgus_cam.measures import FrameMeasures
from valgus_cam.reps import Rep
from valgus_cam.verdicts import (RepEvents, Thresholds, detect_test, load_thresholds, score_rep, summarise,
                                 worst_sustained)

N = 90  # 3 s at 30 fps; standing 0..29, rep 30..80 with its bottom at 55


def measures(**arrays) -> FrameMeasures:
    nan = np.full(N, np.nan)
    fields = {c: nan.copy() for c in FrameMeasures.CSV_COLUMNS}
    fields.update(trunk_lean_deg=np.zeros(N), knee_ankle_separation_ratio=np.ones(N), body_yaw_deg=np.zeros(N),
                  knee_flexion_left_deg=bump(90.0), knee_flexion_right_deg=bump(90.0))
    fields.update(arrays)
    return FrameMeasures(time_s=np.arange(N) / 30.0, detected=np.ones(N, bool), view="frontal", width_ratio=0.6,
                         camera_roll_deg=0.0, baseline=slice(0, 30), **fields)


def bump(peak: float, base: float = 0.0) -> np.ndarray:
    """0 outside the rep, rising to ``peak`` at the bottom frame 55."""
    x = np.full(N, base, float)
    k = np.arange(30, 81)
    x[30:81] = base + (peak - base) * np.sin(np.pi * (k - 30) / 50) ** 2
    return x


REP_L = Rep(30, 55, 80, 0.2, stance="left")
REP_R = Rep(30, 55, 80, 0.2, stance="right")
REP_B = Rep(30, 55, 80, 0.2, stance="both")


def test_single_leg_knee_over_the_limit_fails_on_that_knee_only():
    m = measures(fppa_frontal_left_deg=bump(20.0), fppa_frontal_right_deg=bump(40.0))
    r = score_rep(m, REP_L, 1)
    assert r.verdict == "fail" and r.reasons == ("knee_valgus_left",)
    assert r.fppa_frontal_left_deg == pytest.approx(20.0, abs=0.5)
    assert r.fppa_frontal_right_deg is None  # the free knee is not judged, not reported


def test_single_leg_knee_within_the_limit_passes():
    r = score_rep(measures(fppa_frontal_right_deg=bump(9.0)), REP_R, 1)
    assert r.verdict == "pass" and r.reasons == ()


def test_knee_that_cannot_be_measured_is_unmeasurable_not_a_number():
    r = score_rep(measures(), REP_L, 1)  # frontal FPPA NaN throughout (e.g. yaw beyond the gate)
    assert r.verdict == "unmeasurable"
    assert r.fppa_frontal_left_deg is None
    assert any(s.startswith("left knee angle") for s in r.not_measured)
    assert {f.result for f in r.findings if f.criterion.startswith("knee")} == {"not_measured"}


def test_other_faults_still_fail_an_unmeasurable_knee():
    r = score_rep(measures(), REP_L, 1, RepEvents(True, True, False))
    assert r.verdict == "fail" and r.reasons == ("hands_off_hips",)


def test_trunk_lean_is_relative_to_standing_and_signed_toward_the_stance_side():
    lean = bump(-12.0, base=3.0)  # standing 3° to the left; leans 15° toward the subject's right
    m = measures(trunk_lean_deg=lean, fppa_frontal_right_deg=bump(5.0))
    r = score_rep(m, REP_R, 1)
    assert r.trunk_lean_deg == pytest.approx(15.0, abs=0.3)  # toward the right = the stance side
    assert r.reasons == ("trunk_lean",)
    assert score_rep(m, REP_L, 1).trunk_lean_deg == pytest.approx(-15.0, abs=0.3)


def test_balance_and_hands_events_name_their_reasons():
    m = measures(fppa_frontal_left_deg=bump(5.0))
    r = score_rep(m, REP_L, 1, RepEvents(hands_on_hips_at_start=True, hands_off_hips=False, balance_lost=True))
    assert r.reasons == ("balance_lost",) and r.balance_lost is True and r.hands_on_hips is True


def test_double_leg_knees_moving_together_fail_even_without_frontal_fppa():
    m = measures(knee_ankle_separation_ratio=bump(0.7, base=1.0))
    r = score_rep(m, REP_B, 1)
    assert r.verdict == "fail" and r.reasons == ("knees_caving",)
    assert r.knee_separation_ratio == pytest.approx(0.7, abs=0.01)
    assert r.balance_lost is None and r.hands_on_hips is None  # single-leg criteria do not apply
    ok = score_rep(measures(knee_ankle_separation_ratio=bump(0.95, base=1.0)), REP_B, 1)
    assert ok.verdict == "pass"


def test_sex_specific_limit():
    m = measures(fppa_frontal_left_deg=bump(11.0))
    assert score_rep(m, REP_L, 1).verdict == "pass"
    assert score_rep(m, REP_L, 1, thresholds=Thresholds(sex="male")).reasons == ("knee_valgus_left",)


def test_thresholds_from_toml(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text('[thresholds]\nknee_fppa_max_deg = 10\ntrunk_lean_max_deg = 8.5\n')
    t = load_thresholds(p)
    assert t.knee_limit_deg == 10.0 and t.trunk_lean_max_deg == 8.5
    assert load_thresholds(p, sex="female").knee_limit_deg == Thresholds().knee_fppa_max_deg_female
    assert load_thresholds(None) == Thresholds()


@pytest.mark.parametrize("text, message", [
    ("knee_fppa_max = 10", "unknown threshold"),
    ("knee_fppa_max_deg = 'ten'", "must be a number"),
    ("sex = 'other'", "sex must be"),
    ("knee_fppa_max_deg = ", "not valid TOML"),
])
def test_bad_config_is_a_clear_input_error(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        load_thresholds(p)


def test_missing_config_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_thresholds(tmp_path / "nope.toml")


def test_summary_left_right_difference_and_worst_rep():
    rl = score_rep(measures(fppa_frontal_left_deg=bump(20.0)), REP_L, 1)
    rr = score_rep(measures(fppa_frontal_right_deg=bump(6.0)), REP_R, 2)
    s = summarise([rl, rr])
    assert [(g.stance, g.passed, g.failed) for g in s.legs] == [("left", 0, 1), ("right", 1, 0)]
    assert s.left_right_difference_deg == pytest.approx(14.0, abs=0.6)
    assert s.difference_meaningful is True and s.worst_rep == 1
    rr2 = score_rep(measures(fppa_frontal_right_deg=bump(16.0)), REP_R, 2)
    s2 = summarise([rl, rr2])
    assert s2.difference_meaningful is False  # 4° < the 8° a 2D method can resolve
    assert any("below" in n for n in s2.notes)


def test_detect_test_by_majority():
    assert detect_test([REP_L, REP_L, REP_B]) == "single_leg_squat"
    assert detect_test([REP_B, REP_L]) == "double_leg_squat"
    assert detect_test([]) == "double_leg_squat"


def test_test_kinds_are_the_words_files_write_and_the_cli_asks():
    assert detect_test([REP_L, REP_L, REP_B]) is TestKind.SINGLE_LEG_SQUAT
    assert json.dumps(list(TestKind)) == '["double_leg_squat", "single_leg_squat", "standing", "landing"]'
    assert f"{TestKind.STANDING}" == "standing" and TestKind("landing") is TestKind.LANDING
    assert TEST_ARGS == ("auto", "squat", "single-leg", "standing", "landing") and SQUAT_TEST_ARGS == TEST_ARGS[:3]
    assert TestKind.requested("auto") is None and [TestKind.requested(w) for w in TEST_ARGS[1:]] == list(TestKind)
    with pytest.raises(InputError, match="unknown test"):
        TestKind.requested("double_leg_squat")  # a kind's value is not a --test word
    assert [k.unit for k in TestKind] == ["rep", "rep", "hold", "landing"]
    assert [k.page for k in TestKind] == ["squat", "squat", "standing", "landing"]
    assert TestKind.LANDING.knee_limit_deg(Thresholds(sex="male")) == Thresholds().landing_fppa_max_deg_male


def test_json_record_has_no_nan():
    r = score_rep(measures(), REP_L, 1).to_dict()
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in r.values())


def test_side_view_judges_neither_knee_gap_nor_sideways_lean():
    """In a side view the knee-gap ratio collapses and 'trunk lean' is forward lean: neither may
    fail a rep (real side clips failed on both before this rule)."""
    from dataclasses import replace

    m = replace(measures(trunk_lean_deg=bump(-45.0), knee_ankle_separation_ratio=bump(0.2, base=1.0)), view="sagittal")
    r = score_rep(m, REP_B, 1)
    assert r.verdict == "unmeasurable" and r.reasons == ()
    assert r.trunk_lean_deg is None and r.knee_separation_ratio is None
    assert any("front view" in s for s in r.not_measured)


def test_knee_caving_on_the_way_up_is_found_at_its_moment():
    """A collapse peaking on the way up (frame 70, bottom 55) fails with its frame, time, phase and
    the knee bend there; the value at the bottom is still reported as the clinical figure."""
    x = np.zeros(N)
    k = np.arange(60, 81)
    x[60:81] = 18.0 * np.sin(np.pi * (k - 60) / 20) ** 2
    r = score_rep(measures(fppa_frontal_left_deg=x), REP_L, 1)
    f = r.finding("knee_valgus", "left")
    assert r.verdict == "fail" and f.result == "fail" and f.phase == "up"
    assert f.value == pytest.approx(18.0, abs=1.0) and 67 <= f.frame <= 73
    assert f.time_s == pytest.approx(f.frame / 30.0) and f.knee_flexion_deg is not None
    assert r.fppa_frontal_left_deg == pytest.approx(0.0, abs=0.5)  # at the bottom: nothing yet


def test_double_leg_knee_inside_the_foot_fails_as_knee_over_foot():
    m = measures(knee_over_foot_left_cm=bump(6.0), knee_over_foot_right_cm=bump(1.0),
                 fppa_frontal_left_deg=bump(-20.0), fppa_frontal_right_deg=bump(-20.0))
    r = score_rep(m, REP_B, 1)
    assert r.verdict == "fail" and r.reasons == ("knee_over_foot_left",)
    assert r.knee_over_foot_left_cm == pytest.approx(6.0, abs=0.3)
    d = r.to_dict()
    kof = [f for f in d["findings"] if f["criterion"] == "knee_over_foot"]
    assert [(f["side"], f["result"], f["unit"]) for f in kof] == [("left", "fail", "cm"), ("right", "pass", "cm")]
    assert set(kof[0]) >= {"criterion", "side", "value", "limit", "unit", "frame", "time_s", "phase", "result"}


def test_knee_over_foot_is_judged_only_between_30_and_100_degrees_of_knee_bend():
    flex = np.full(N, 120.0)  # a deep squat whose every frame is past 100°
    m = measures(knee_over_foot_left_cm=bump(9.0), knee_flexion_left_deg=flex, knee_flexion_right_deg=flex)
    f = score_rep(m, REP_B, 1).finding("knee_over_foot", "left")
    assert f.result == "not_measured" and f.value is None and "30°" in f.why


def test_unmeasured_knee_is_never_a_pass_even_when_the_rest_passes():
    m = measures(trunk_lean_deg=np.zeros(N))
    r = score_rep(m, REP_L, 1, RepEvents(True, False, False))
    assert {f.result for f in r.findings if f.criterion in ("hands_off_hips", "balance_lost", "trunk_lean")} == {"pass"}
    assert r.verdict == "unmeasurable"


def test_trunk_lean_beyond_the_yaw_gate_is_not_measured_not_a_fail():
    m = measures(trunk_lean_deg=bump(-30.0), body_yaw_deg=np.full(N, 37.0), fppa_frontal_left_deg=bump(5.0))
    r = score_rep(m, REP_L, 1)
    f = r.finding("trunk_lean")
    assert f.result == "not_measured" and "trunk_lean" not in r.reasons and r.trunk_lean_deg is None


def test_one_noisy_frame_is_not_the_worst_moment():
    v = np.array([0, 0, 30, 0, 0, 10, 11, 10, 0.0])
    assert worst_sustained(v, np.arange(9) / 30, 0.1) == 6
