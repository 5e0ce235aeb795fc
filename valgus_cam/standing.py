"""Standing alignment check (``--test standing``): a few seconds standing still, front view, feet
together. One "hold" record: the static knee angle (FPPA) per leg, the gap between the knees and
between the ankles in cm, the knee/ankle separation ratio, the foot turn-out per foot and the
pelvis level. Pure numpy, no I/O.

Conventions and how each number is made (sources and measured accuracy: docs/screening.md):

* the hold is the longest stretch of still standing with straight legs (:func:`find_hold`; the
  clip may start with walking into place); every value is the median over it;
* static FPPA: as in the squat (+ = valgus), but from MediaPipe's own hip points: the hip-joint
  centre widening (``GateConfig.hip_width_scale``) was fitted on squatting frames and adds ≈ +2°
  to a standing leg (synthetic set: image FPPA MAE 2.1° without it, 2.8° with it), so the
  standing check is run with ``STANDING_GATES``;
* centimetres: pixels per cm from the eye-to-heel height, which is ``EYE_HEIGHT_FRACTION`` of the
  stature (Drillis & Contini 1966, as tabulated by Winter 2009); the stature is ``--height-cm``
  or, when not given, ``DEFAULT_HEIGHT_CM`` (with a larger stated uncertainty);
  horizontal distances are divided by cos(body yaw); the camera roll is measured on the hold
  itself (mid-ankle→mid-shoulder line, :func:`geometry.camera_roll_deg`) and removed first;
* knee / ankle gap: the distance between the two knee (ankle) landmarks, which are joint centres,
  minus a typical adult knee (ankle) breadth (``KNEE_BREADTH_CM``, ``ANKLE_BREADTH_CM``):
  ≈ 0 when they touch. The intermalleolar distance (IMD) of the knock-knee check is the ankle
  gap when the knees touch; with the knees apart it is not measured;
* foot turn-out: from the foot's sideways extent in the image over its expected length
  (``FOOT_LENGTH_FRACTION`` of stature: the stature cancels, only the eye-to-heel pixels are
  used), corrected for the body yaw; + = toes out. The image angle of the heel→toe line is not
  used: a foot on the floor seen from the front is foreshortened and that angle is 2–5× the
  real one;
* pelvis level: hip-line tilt (+ = left hip higher), reported with its ±10° uncertainty and never
  judged (MediaPipe's hip points are not a validated pelvic measure: docs/accuracy.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import geometry as g
from .measures import FrameMeasures, GateConfig, LandmarkSeries
from .analysis import record_dict
from .verdicts import Finding

# MediaPipe's hip points as they are (no joint-centre widening): see the module docstring
STANDING_GATES = GateConfig(hip_width_scale=1.0, hip_flexion_widening=0.0, hip_yaw_shift=0.0)

EYE_HEIGHT_FRACTION = 0.936  # eye height / stature (Drillis & Contini 1966; Winter 2009, fig. 4.1)
FOOT_LENGTH_FRACTION = 0.152  # foot length / stature (same source)
DEFAULT_HEIGHT_CM = 168.0  # mean of US adult men's and women's statures (CDC NHANES 2015–2018)
DEFAULT_HEIGHT_UNCERTAINTY = 0.08  # ± fraction: adults are mostly within ±8% of that
GIVEN_HEIGHT_UNCERTAINTY = 0.03  # ± fraction: eye-height proportion varies between people
KNEE_BREADTH_CM = 10.0  # knee joint centre to centre when the knees touch (approximate, see docs)
ANKLE_BREADTH_CM = 7.0  # ankle joint centre to centre when the inner ankle bones touch (approximate)
BREADTH_UNCERTAINTY_CM = 1.5
LANDMARK_BIAS_CM = 1.5  # ankle-distance error on the synthetic set at yaw ≤ 10° (+1.0 … +2.3 cm)
KNEES_TOGETHER_MAX_CM = 3.0  # knee gap below which the knees count as touching
FOOT_TURNOUT_UNCERTAINTY_DEG = 4.0  # MAE of the turn-out estimate on the synthetic set
PELVIS_UNCERTAINTY_DEG = 10.0
MAX_YAW_DEG = 15.0


@dataclass(frozen=True, slots=True)
class StandingResult:
    """The standing check's one "hold" record (``to_dict`` → reps.json ``reps[0]``); an
    ``analysis.Record``. ``findings``: the knock-knee check (``knock_knees``) and the turn-out of
    each foot (``foot_turn_out``), judged beyond their uncertainty; not in reps.json (its numbers
    are the fields above)."""

    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    duration_s: float
    fppa_left_deg: float | None  # static image FPPA, + = valgus
    fppa_right_deg: float | None
    fppa_frontal_left_deg: float | None
    fppa_frontal_right_deg: float | None
    body_yaw_deg: float | None
    height_cm: float
    height_source: str  # "given" | "default"
    knee_distance_cm: float | None  # knee centre to knee centre
    ankle_distance_cm: float | None
    knee_gap_cm: float | None  # ≈ 0 when the knees touch (intercondylar distance)
    ankle_gap_cm: float | None  # ≈ 0 when the inner ankle bones touch
    gap_uncertainty_cm: float | None  # ± on the two gaps
    knees_together: bool | None
    intermalleolar_distance_cm: float | None  # the ankle gap, only when the knees touch
    knee_separation_ratio: float | None  # knee / ankle centre distance
    foot_turnout_left_deg: float | None  # + = toes out
    foot_turnout_right_deg: float | None
    foot_turnout_uncertainty_deg: float
    pelvic_obliquity_deg: float | None  # + = left hip higher; not judged
    pelvic_obliquity_uncertainty_deg: float
    verdict: str  # "pass" | "fail" | "unmeasurable"
    reasons: tuple[str, ...] = ()
    not_measured: tuple[str, ...] = ()
    kind: str = "hold"
    findings: tuple[Finding, ...] = ()

    @property
    def stance(self) -> str:
        return "both"

    def knee_angle_deg(self, side: str) -> float | None:
        """The static frontal-plane FPPA of ``side``'s knee (reported, not judged)."""
        return self.fppa_frontal_left_deg if side == "left" else self.fppa_frontal_right_deg

    def to_dict(self) -> dict:
        return record_dict(self)


def _median(x: np.ndarray) -> float | None:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def assess_standing(s: LandmarkSeries, m: FrameMeasures, thresholds, height_cm: float | None = None,
                    min_visibility: float = 0.5) -> StandingResult | None:
    """The hold record of a clip (``m`` from :func:`measures.compute_frame_measures` with
    ``STANDING_GATES``); None when nobody stands still in view."""
    b = find_hold(s)
    if b.stop - b.start < 2:
        return None
    t = m.time_s
    frames = np.arange(b.start, b.stop)
    hold = _Hold(s, b, min_visibility)
    given = height_cm is not None
    h_cm = float(height_cm) if given else DEFAULT_HEIGHT_CM
    yaw = _median(m.body_yaw_deg[b])
    frontal = m.view == "frontal" and yaw is not None and abs(yaw) <= MAX_YAW_DEG

    # pixels per cm from the eye-to-heel height
    eye_heel_px = _eye_heel_px(hold)
    px_per_cm = eye_heel_px / (EYE_HEIGHT_FRACTION * h_cm) if eye_heel_px and eye_heel_px > 0 else None
    cos_yaw = math.cos(math.radians(yaw)) if yaw is not None else 1.0
    scale_unc = GIVEN_HEIGHT_UNCERTAINTY if given else DEFAULT_HEIGHT_UNCERTAINTY
    gaps, findings, not_measured = _knee_ankle_gaps(hold, px_per_cm, cos_yaw, frontal, scale_unc, thresholds)
    turn, turn_findings, turn_notes = _foot_turnout(hold, eye_heel_px, yaw, frontal, thresholds)
    findings += turn_findings
    not_measured += turn_notes

    fppa = {k: _median(getattr(m, k)[b]) for k in ("fppa_left_deg", "fppa_right_deg", "fppa_frontal_left_deg",
                                                  "fppa_frontal_right_deg")}
    if fppa["fppa_frontal_left_deg"] is None and fppa["fppa_frontal_right_deg"] is None:
        not_measured.append("static knee angle: frontal-plane FPPA not available (side view, camera not square to "
                            "the body, or the legs not visible)")
    obl = _median(g.pelvic_obliquity_deg(hold.pt("left_hip"), hold.pt("right_hip")))
    not_measured.append(f"pelvis level: reported, not judged (± {PELVIS_UNCERTAINTY_DEG:.0f}°: MediaPipe's hip "
                        "points are not a validated pelvic measure)")
    judged = any(f.result != "not_measured" for f in findings)
    reasons = [f.code for f in findings if f.result == "fail"]
    verdict = "fail" if reasons else ("pass" if judged else "unmeasurable")
    return StandingResult(
        index=1, start_frame=int(frames[0]), end_frame=int(frames[-1]), start_s=float(t[frames[0]]),
        end_s=float(t[frames[-1]]), duration_s=float(t[frames[-1]] - t[frames[0]]),
        **fppa, body_yaw_deg=yaw, height_cm=h_cm, height_source="given" if given else "default",
        **gaps, foot_turnout_left_deg=turn["left"], foot_turnout_right_deg=turn["right"],
        foot_turnout_uncertainty_deg=FOOT_TURNOUT_UNCERTAINTY_DEG, pelvic_obliquity_deg=obl,
        pelvic_obliquity_uncertainty_deg=PELVIS_UNCERTAINTY_DEG, verdict=verdict, reasons=tuple(reasons),
        not_measured=tuple(not_measured), findings=tuple(findings))


class _Hold:
    """The hold's landmarks with the hold's own camera roll removed (a person standing still is
    upright; the clip-level roll of FrameMeasures comes from the first frames, which may be walking
    in), and which of them are visible."""

    def __init__(self, s: LandmarkSeries, b: slice, min_visibility: float):
        self.s, self.b, self.min_visibility = s, b, min_visibility
        roll = g.camera_roll_deg(s.p("left_ankle")[b], s.p("right_ankle")[b], s.p("left_shoulder")[b],
                                 s.p("right_shoulder")[b])
        roll = roll if np.isfinite(roll) else 0.0
        self._cr, self._sr = math.cos(math.radians(-roll)), math.sin(math.radians(-roll))
        self._centre = np.asarray(s.image_wh, float) / 2

    def vis(self, name: str) -> np.ndarray:
        """Per hold frame: the landmark is visible enough to use."""
        return self.s.vis(name)[self.b] >= self.min_visibility

    def pt(self, name: str) -> np.ndarray:
        """The landmark's image points over the hold, camera roll removed."""
        cr, sr, centre = self._cr, self._sr, self._centre
        q = self.s.p(name)[self.b] - centre
        return np.column_stack([cr * q[:, 0] - sr * q[:, 1], sr * q[:, 0] + cr * q[:, 1]]) + centre


def _eye_heel_px(hold: _Hold) -> float | None:
    """Median eye-to-heel height in pixels over the hold (None when the eyes or heels are not seen)."""
    eye_y = (hold.pt("left_eye")[:, 1] + hold.pt("right_eye")[:, 1]) / 2
    heel_y = (hold.pt("left_heel")[:, 1] + hold.pt("right_heel")[:, 1]) / 2
    ok = hold.vis("left_eye") & hold.vis("right_eye") & hold.vis("left_heel") & hold.vis("right_heel")
    return _median(np.where(ok, heel_y - eye_y, np.nan))


def _knee_ankle_gaps(hold: _Hold, px_per_cm: float | None, cos_yaw: float, frontal: bool, scale_unc: float,
                     thresholds) -> tuple[dict, list[Finding], list[str]]:
    """Knee and ankle distances and gaps in cm, the knock-knee check (IMD) and the separation
    ratio, as StandingResult fields; with the knock-knee finding (``knock_knees``: fails when the
    IMD is beyond the limit by more than its uncertainty) and what was not measured."""
    def dist_cm(a: str, c: str) -> float | None:
        if px_per_cm is None or not frontal:
            return None
        okv = hold.vis(a) & hold.vis(c)
        d = _median(np.where(okv, np.abs(hold.pt(a)[:, 0] - hold.pt(c)[:, 0]), np.nan))
        return None if d is None else d / px_per_cm / cos_yaw

    not_measured: list[str] = []
    knee_cm, ankle_cm = dist_cm("left_knee", "right_knee"), dist_cm("left_ankle", "right_ankle")
    knee_gap = knee_cm - KNEE_BREADTH_CM if knee_cm is not None else None
    ankle_gap = ankle_cm - ANKLE_BREADTH_CM if ankle_cm is not None else None
    gap_unc = None
    if ankle_cm is not None:
        gap_unc = math.sqrt(BREADTH_UNCERTAINTY_CM ** 2 + LANDMARK_BIAS_CM ** 2 + (scale_unc * ankle_cm) ** 2)
    together = None if knee_gap is None else bool(knee_gap <= KNEES_TOGETHER_MAX_CM)
    imd = max(ankle_gap, 0.0) if together and ankle_gap is not None else None
    if not frontal:
        not_measured.append("knee and ankle gaps: need a front view with the camera within "
                            f"{MAX_YAW_DEG:.0f}° of the body's front")
    elif px_per_cm is None:
        not_measured.append("knee and ankle gaps: eyes or heels not visible, so no centimetre scale")
    elif together is False:
        not_measured.append(f"knock knees: the knees are apart (gap ≈ {knee_gap:.0f} cm); for this check stand with "
                            "the feet together, or the knees touching")
    limit = thresholds.knock_knee_imd_min_cm
    if imd is not None and gap_unc is not None:
        knock = Finding("knock_knees", None, imd, limit, "cm", None, None, None,
                        "fail" if imd - gap_unc >= limit else "pass")
    else:
        knock = Finding("knock_knees", None, None, limit, "cm", None, None, None, "not_measured",
                        why=not_measured[-1] if not_measured else "the knees or ankles were not seen")
    ratio = knee_cm / ankle_cm if knee_cm is not None and ankle_cm else None
    fields = dict(knee_distance_cm=knee_cm, ankle_distance_cm=ankle_cm, knee_gap_cm=knee_gap, ankle_gap_cm=ankle_gap,
                  gap_uncertainty_cm=gap_unc, knees_together=together, intermalleolar_distance_cm=imd,
                  knee_separation_ratio=ratio)
    return fields, [knock], not_measured


def _foot_turnout(hold: _Hold, eye_heel_px: float | None, yaw: float | None, frontal: bool,
                  thresholds) -> tuple[dict, list[Finding], list[str]]:
    """Foot turn-out per side (+ = toes out) from the foot's sideways extent over its expected
    length, corrected for the body yaw; with a finding per foot (``foot_turn_out``: fails beyond
    the limit by more than the estimate's uncertainty) and what was not measured."""
    s, b = hold.s, hold.b
    findings: list[Finding] = []
    not_measured: list[str] = []
    limit = thresholds.foot_turnout_max_deg
    turn = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        okf = hold.vis(f"{side}_heel") & hold.vis(f"{side}_foot_index")
        dx = _median(np.where(okf, hold.pt(f"{side}_foot_index")[:, 0] - hold.pt(f"{side}_heel")[:, 0], np.nan))
        if dx is None or eye_heel_px is None or not frontal:
            turn[side] = None
            why = ("needs a front view" if not frontal else "eyes or heels not visible, so no scale"
                   if eye_heel_px is None else "heel or toes not visible")
            findings.append(Finding("foot_turn_out", side, None, limit, "deg", None, None, None, "not_measured",
                                    why=f"foot turn-out: {why}"))
            continue
        foot_px = FOOT_LENGTH_FRACTION / EYE_HEIGHT_FRACTION * eye_heel_px
        lateral = dx * sign * (1.0 if not _mirrored(s, b) else -1.0)
        turn[side] = math.degrees(math.asin(max(-1.0, min(1.0, lateral / foot_px)))) + sign * (yaw or 0.0)
        findings.append(Finding("foot_turn_out", side, turn[side], limit, "deg", None, None, None,
                                "fail" if turn[side] - FOOT_TURNOUT_UNCERTAINTY_DEG > limit else "pass"))
    if frontal and (turn["left"] is None or turn["right"] is None):
        not_measured.append("foot turn-out: heel or toes not visible")
    return turn, findings, not_measured


def find_hold(s: LandmarkSeries, min_s: float = 0.3, enough_s: float = 1.0, max_speed: float = 0.1,
              straight: float = 0.93, feet_level: float = 0.08, window_s: float = 0.5) -> slice:
    """The still standing to measure: the first stretch of at least ``enough_s`` (else the longest
    of at least ``min_s``) where the mid-hip moves slower than ``max_speed`` leg lengths per second
    (local linear slope over ``window_s``: the ankle points jitter too much, up to 0.4 leg lengths
    per second over 0.2 s with the lite model on a still body), both legs are straight (each
    hip–ankle distance ≥ ``straight`` × its 90th percentile: a paused squat is not a hold) and both
    feet are down (ankle heights within ``feet_level`` leg lengths: standing on one leg is not
    one). Empty when there is none. A clip may start with walking into place."""
    from scipy.signal import savgol_filter

    t = s.time_s
    n = len(t)
    hip = (s.p("left_hip") + s.p("right_hip")) / 2
    la, ra = s.p("left_ankle"), s.p("right_ankle")
    leg_l, leg_r = np.linalg.norm(s.p("left_hip") - la, axis=-1), np.linalg.norm(s.p("right_hip") - ra, axis=-1)
    leg = (leg_l + leg_r) / 2
    if n < 5 or not np.isfinite(leg).any():
        return slice(0, 0)
    L = float(np.nanpercentile(leg, 90))
    L_l, L_r = float(np.nanpercentile(leg_l, 90)), float(np.nanpercentile(leg_r, 90))
    dt = np.diff(t)
    rate = 1.0 / float(np.median(dt[dt > 0])) if (dt > 0).any() else 30.0
    win = max(3, int(round(window_s * rate)) | 1)
    win = min(win, n if n % 2 else n - 1)
    pos = hip / L
    ok = np.isfinite(pos).all(axis=1) & np.isfinite(leg) & np.isfinite(la).all(axis=1) & np.isfinite(ra).all(axis=1)
    if ok.sum() < win:
        return slice(0, 0)
    filled = np.column_stack([np.interp(np.arange(n), np.flatnonzero(ok), c[ok]) for c in pos.T])
    speed = np.abs(savgol_filter(filled, win, 1, deriv=1, delta=1.0 / rate, axis=0)).max(axis=1)
    with np.errstate(invalid="ignore"):
        still = (ok & (speed < max_speed) & (leg_l >= straight * L_l) & (leg_r >= straight * L_r)
                 & (np.abs(la[:, 1] - ra[:, 1]) <= feet_level * L))
    edges = np.diff(np.concatenate([[0], still.astype(int), [0]]))
    runs = [(a, b) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)) if b - a >= 2]
    dur = lambda r: t[r[1] - 1] - t[r[0]]  # noqa: E731
    first = next((r for r in runs if dur(r) >= enough_s), None)
    best = first or max(runs, key=dur, default=None)
    if best is None or dur(best) < min_s:
        return slice(0, 0)
    return slice(int(best[0]), int(best[1]))


def _mirrored(s: LandmarkSeries, b: slice) -> bool:
    """Subject's left hip on the image left: a mirrored (selfie) image or the back to the camera."""
    d = s.p("left_hip")[b, 0] - s.p("right_hip")[b, 0]
    d = d[np.isfinite(d)]
    return bool(d.size and np.median(d) < 0)
