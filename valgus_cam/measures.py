"""Per-frame clinical measures of a whole clip: landmark arrays in, a typed table out.

This is where the geometry core's pure functions meet the trust gates and signal conditioning.
No I/O, no MediaPipe: input is arrays (from a live run or from a landmark CSV).

:func:`compute_frame_measures` runs in three steps: :func:`standing_reference` (what the still
standing baseline fixes: view, camera roll, mirroring, body yaw, standing segment lengths), then
:func:`unfiltered_measures` (per frame, vectorised, so the live path runs the same code on one
frame: ``stream.frame_values``), then the recorded-video filter and the gates below.

Trust gates (a gated value is NaN, and the reason is kept):
* view: from the median :func:`geometry.width_ratio`; FPPA is not measured in a side view;
* body size: a thigh or shank shorter than ``min_segment_px`` (60 px: angle errors blow up below
  that) or foreshortened below ``min_thigh_fraction`` of its standing length (the deep-squat trap:
  a thigh pointing at the camera swings the 2D angle to ±100°);
* visibility: hip, knee and ankle of the leg with MediaPipe visibility ≥ ``min_visibility``.

The other frontal-plane measures (pelvic obliquity, trunk lean, knee-separation ratios, knee over
the foot, foot turn-out) are refused with FPPA when the view is not frontal (side-on they measure
nothing) or when neither leg passes the size gate (the person is too small in the frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import geometry as g
from .hands import hands_on_hips_per_frame
from .landmarks import LM, LandmarkSeries
from .pelvis import LEG_LENGTH_PER_HEIGHT, hip_offset_cm
from .signals import condition


@dataclass(frozen=True, slots=True)
class GateConfig:
    min_segment_px: float = 60.0
    min_thigh_fraction: float = 0.5
    min_visibility: float = 0.5
    cutoff_hz: float = 6.0
    max_yaw_deg: float = 25.0  # frontal-plane FPPA refused beyond this body yaw
    max_yaw_knee_over_foot_deg: float = 40.0  # the knee over the foot refused beyond this body yaw
    # |frontal FPPA| beyond this is not a knee position but a thigh seen end-on (deep squat, knees
    # out): refused as foreshortened. Measured valgus in single-leg squats stays under ~30°.
    max_abs_frontal_fppa_deg: float = 45.0
    # camera roll is taken from a still standing stretch at least this long, and only if plausible
    min_roll_baseline_s: float = 0.4
    max_roll_deg: float = 10.0
    focal_px: float | None = None  # camera focal length; None = focal_fraction × the longer image side
    focal_fraction: float = 0.8  # ≈ a 65° horizontal field of view on a 16:9 image (laptop, phone)
    # MediaPipe's hip points → hip joint centres (geometry.hip_joint_centres); 1.0 / 0.0 / 0.0 = off.
    # The widening grows with the thigh's foreshortening (1 − image thigh / standing thigh): as the
    # hip flexes, MediaPipe's hip points close in toward the midline (the thigh's front crease).
    hip_width_scale: float = 1.07
    hip_flexion_widening: float = 0.5
    hip_yaw_shift: float = 0.32
    # knee over the foot (geometry.knee_over_foot_path): centimetres from the standing shank, which
    # is 0.246 × body height (Drillis & Contini 1966; Winter 2009); 41.8 cm = a 1.70 m adult
    # (analyse_clip sets it from --height-cm). The ankle→toe-tip length is 0.43 standing shanks
    # (MediaPipe's world landmarks on the synthetic set: 0.41–0.45; anthropometry: foot 0.152 H,
    # ankle ~25% of it from the heel → 0.46).
    shank_cm: float = 41.8  # = SHANK_PER_HEIGHT × 170 cm
    foot_to_shank: float = 0.43


@dataclass(slots=True)
class FrameMeasures:
    """Per-frame measures (arrays of length n, NaN where not measurable) and clip-level facts."""

    time_s: np.ndarray
    detected: np.ndarray
    fppa_left_deg: np.ndarray
    fppa_right_deg: np.ndarray
    fppa_frontal_left_deg: np.ndarray
    fppa_frontal_right_deg: np.ndarray
    body_yaw_deg: np.ndarray
    pelvic_obliquity_deg: np.ndarray
    trunk_lean_deg: np.ndarray
    knee_flexion_left_deg: np.ndarray
    knee_flexion_right_deg: np.ndarray
    knee_ankle_separation_ratio: np.ndarray
    knee_hip_separation_ratio: np.ndarray
    hands_on_hips: np.ndarray  # 1.0 / 0.0, NaN where nobody is detected
    knee_over_foot_left_cm: np.ndarray
    knee_over_foot_right_cm: np.ndarray
    foot_turnout_left_deg: np.ndarray
    foot_turnout_right_deg: np.ndarray
    free_foot_height_left: np.ndarray
    free_foot_height_right: np.ndarray
    view: str
    width_ratio: float
    camera_roll_deg: float
    baseline: slice
    warnings: list[str] = field(default_factory=list)
    leg_px: float = float("nan")  # standing hip→ankle image length (px), mean of the legs; NaN: nobody
    # the pelvis (valgus_cam.pelvis): hip_offset_*_cm = how far the pelvis centre is sideways outside
    # that ankle (pelvis.hip_offset_cm, landmarks only); pelvic_tilt_deg = the waistband line's tilt
    # from standing, + = subject's left side higher (pelvis.pelvic_drop; needs the video's pixels, so
    # NaN until ``pipeline.analyse_clip`` is given it), pelvic_tilt_refused = why it is NaN per frame
    hip_offset_left_cm: np.ndarray | None = None
    hip_offset_right_cm: np.ndarray | None = None
    pelvic_tilt_deg: np.ndarray | None = None
    pelvic_tilt_refused: np.ndarray | None = None
    # hands_on_hips as computed (hands.hands_on_hips_per_frame): bool, the state held over undetected
    # frames (events.hands_off_event reads it per rep); None = from hands_on_hips (NaN = off)
    hands_on_hips_state: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.time_s)
        if self.hands_on_hips_state is None:
            self.hands_on_hips_state = np.asarray(self.hands_on_hips) == 1.0
        for name in ("hip_offset_left_cm", "hip_offset_right_cm", "pelvic_tilt_deg"):
            if getattr(self, name) is None:
                setattr(self, name, np.full(n, np.nan))
        if self.pelvic_tilt_refused is None:
            self.pelvic_tilt_refused = np.full(n, "not_run", dtype=object)

    FRONTAL_PLANE = ("pelvic_obliquity_deg", "trunk_lean_deg", "knee_ankle_separation_ratio",
                     "knee_hip_separation_ratio", "knee_over_foot_left_cm", "knee_over_foot_right_cm",
                     "foot_turnout_left_deg", "foot_turnout_right_deg", "hip_offset_left_cm",
                     "hip_offset_right_cm")  # refused with FPPA (see above)

    CSV_COLUMNS = ("fppa_left_deg", "fppa_right_deg", "fppa_frontal_left_deg", "fppa_frontal_right_deg",
                   "body_yaw_deg", "pelvic_obliquity_deg", "trunk_lean_deg", "knee_flexion_left_deg",
                   "knee_flexion_right_deg", "knee_ankle_separation_ratio", "knee_hip_separation_ratio",
                   "hands_on_hips", "knee_over_foot_left_cm", "knee_over_foot_right_cm", "foot_turnout_left_deg",
                   "foot_turnout_right_deg", "free_foot_height_left", "free_foot_height_right",
                   "hip_offset_left_cm", "hip_offset_right_cm", "pelvic_tilt_deg")
    # knee_over_foot_*_cm: how far the knee has moved inside (+) the path of a knee tracking over
    # the foot since standing (geometry.knee_over_foot_path), cm; free_foot_height_*: how far that
    # ankle is above the other one, in standing
    # shank lengths (≈ 0 with both feet down; > 0.15 = the foot is off the floor)


SHANK_PER_HEIGHT = 0.246  # knee→ankle length / body height (Drillis & Contini 1966; Winter 2009)
STANDING_MIN_S = 0.5  # a still standing stretch this long is the baseline; shorter ones only as a last resort


def standing_baseline(s: LandmarkSeries, knee_flexion: np.ndarray, max_flexion_deg: float = 10.0,
                      min_s: float = STANDING_MIN_S) -> slice:
    """The first still standing stretch: from a detected frame, the longest run whose knee flexion
    stays within ``max_flexion_deg`` of its value there and whose hips and ankles move < 3% of the
    torso length (a single-leg squat's free-foot lift ends it; the torso length is taken over the
    run's first ``min_s``, so that what follows the run never moves it). Runs shorter than ``min_s`` (the
    person still walking into place) are skipped: the search goes on from where the run broke. If
    no run lasts ``min_s`` (someone who squats at once), the longest run found.
    (Relative flexion: MediaPipe's world landmarks read a straight standing knee as 10–25°.)"""
    det = np.flatnonzero(s.detected)
    if len(det) == 0:
        return slice(0, 0)
    t = s.time_s
    mid_hip = (s.p("left_hip") + s.p("right_hip")) / 2
    torso_px = g.torso_length_px(s.p("left_hip"), s.p("right_hip"), s.p("left_shoulder"), s.p("right_shoulder"))
    ankles_y = np.column_stack([s.p("left_ankle")[:, 1], s.p("right_ankle")[:, 1]])
    ok = np.isfinite(mid_hip[:, 1])

    def run_from(start: int) -> int:
        ref, flex0, ankles0 = mid_hip[start], knee_flexion[start], ankles_y[start]
        # the body's size where the run starts (its first min_s), not over the clip: frames after
        # the run must not move it (the baseline of a clip's first minute stays when more follows)
        near = torso_px[start:int(np.searchsorted(t, t[start] + min_s, side="right"))]
        torso = np.nanmedian(near) if np.isfinite(near).any() else np.nan
        end = start
        for i in range(start, len(t)):
            if not ok[i]:
                continue
            moved = np.linalg.norm(mid_hip[i] - ref) > 0.03 * torso or np.any(np.abs(ankles_y[i] - ankles0) > 0.03 * torso)
            if knee_flexion[i] - flex0 > max_flexion_deg or moved:  # a foot lifts, the hips move, a knee bends
                break
            end = i + 1
        return end

    start = int(det[0])
    best = slice(start, start + 1)
    while start < len(t):
        end = run_from(start)
        if end - start >= 2 and t[end - 1] - t[start] >= min_s:
            return slice(start, end)
        if end - start > best.stop - best.start:
            best = slice(start, end)
        nxt = np.flatnonzero(ok[max(end, start + 1):])
        if not len(nxt):
            break
        start = max(end, start + 1) + int(nxt[0])
    return best


SIDES = (("left", "right"), ("right", "left"))  # (side, other side)


@dataclass(frozen=True, slots=True)
class StandingReference:
    """What the still standing baseline fixes for the per-frame step (:func:`standing_reference`).
    Lengths are image pixels, per side (``{"left": …, "right": …}``), of the unmirrored view
    unless said otherwise."""

    image_wh: tuple[int, int]
    baseline: slice  # the still standing frames; empty if none was found (then lengths are the clip's longest)
    view: str  # geometry.classify_view of width_ratio
    width_ratio: float  # median shoulder/hip width over torso length of the detected frames
    roll_deg: float  # camera roll; 0 where refused (no or too short a baseline, an implausible tilt)
    mirrored: bool  # a mirrored (selfie) image: x is flipped for the reconstruction
    yaw_deg: float  # body yaw (body_yaw_deg); NaN when unknown
    focal_px: float
    thigh_mp_px: dict  # MediaPipe's hip point → knee (hip_width_scale's standing length)
    thigh_px: dict  # hip joint centre → knee
    shank_px: dict  # knee → ankle
    foot_shank_px: dict  # knee → ankle as recorded (not unmirrored), the free-foot height unit; no baseline: median
    lift_px: dict  # how far this ankle stands above the other one (image y; 0 without a baseline)
    trunk_lean_deg: float  # standing trunk lean, camera roll removed (NaN without a baseline)
    warnings: tuple[str, ...] = ()  # camera roll not corrected, camera yawed (in that order)

    def yaw_ok(self, max_yaw_deg: float) -> bool:
        return bool(np.isfinite(self.yaw_deg) and abs(self.yaw_deg) <= max_yaw_deg)

    def sized(self, side: str, gates: GateConfig) -> bool:
        """The body-size gate: this leg's standing thigh and shank at least ``min_segment_px``."""
        return bool(self.thigh_px[side] >= gates.min_segment_px and self.shank_px[side] >= gates.min_segment_px)


@dataclass(frozen=True, slots=True)
class UnfilteredMeasures:
    """Per-frame values with a standing reference, before filtering and the clip-level gates
    (:func:`unfiltered_measures`); dicts are per side."""

    fppa_deg: dict  # image FPPA with the hip joint centres (geometry.fppa_deg)
    fppa_frontal_deg: dict  # FPPA on the body's frontal plane of the lifted leg (geometry.fppa_frontal_deg)
    knee_flexion_deg: dict  # of the lifted leg
    knee3: dict  # the lifted knee (geometry.lift_leg: camera frame, pixels at the standing depth)
    ankle3: dict  # the lifted ankle
    visible: dict  # hip, knee and ankle visibility ≥ min_visibility
    ok: dict  # visible, big enough standing (StandingReference.sized), thigh ≥ min_thigh_fraction of standing
    free_foot_height: dict  # how far this ankle is above the other one from standing, in standing shanks
    trunk_lean_deg: np.ndarray  # camera roll removed (not relative to standing)


def _conditioner(t: np.ndarray, gates: GateConfig):
    """The recorded-video chain (signals.condition) for a clip's times; a clip of 6 frames or fewer is left as it is."""
    return (lambda x: condition(x, t, cutoff_hz=gates.cutoff_hz)) if len(t) > 6 else (lambda x: x)


def _unmirrored(s: LandmarkSeries, mirrored: bool):
    """``s.p`` with x flipped if the image is mirrored (a selfie view puts the subject's left hip
    on the image left), so that the reconstruction's yaw has one meaning."""
    w_px = s.image_wh[0]
    return (lambda name: s.p(name) * (-1, 1) + (w_px, 0)) if mirrored else s.p


def _leg_points(pt, side: str, thigh_mp: np.ndarray, standing_thigh_mp: float, yaw_deg: float, gates: GateConfig):
    """This leg's hip joint centre, knee and ankle and the other leg's hip joint centre (points
    of ``pt``): the hip line widened by more as this leg's thigh foreshortens (hip flexion,
    :func:`hip_width_scale`) and shifted with the body yaw (geometry.hip_joint_centres)."""
    other = "right" if side == "left" else "left"
    yaw_shift = gates.hip_yaw_shift * np.tan(np.radians(yaw_deg if np.isfinite(yaw_deg) else 0.0))
    hjc = dict(zip(("left", "right"), g.hip_joint_centres(
        pt("left_hip"), pt("right_hip"), hip_width_scale(thigh_mp, standing_thigh_mp, gates), yaw_shift)))
    return hjc[side], pt(f"{side}_knee"), pt(f"{side}_ankle"), hjc[other]


def _trunk_lean(s: LandmarkSeries, roll_deg: float) -> np.ndarray:
    """Per-frame image trunk lean with the camera roll removed."""
    lean = g.trunk_lean_deg(s.p("left_hip"), s.p("right_hip"), s.p("left_shoulder"), s.p("right_shoulder"))
    return lean - roll_deg * np.where(g.facing_sign(s.p("left_hip"), s.p("right_hip")) < 0, -1, 1)


def _camera_roll(s: LandmarkSeries, base: slice, gates: GateConfig, warnings: list[str]) -> float:
    """geometry.camera_roll_deg over the baseline; 0 without a baseline, with one shorter than
    ``min_roll_baseline_s``, or beyond ``max_roll_deg`` (then with a warning)."""
    t = s.time_s
    has_base = base.stop > base.start
    roll = g.camera_roll_deg(s.p("left_ankle")[base], s.p("right_ankle")[base],
                             s.p("left_shoulder")[base], s.p("right_shoulder")[base]) if has_base else 0.0
    base_s = float(t[base.stop - 1] - t[base.start]) if has_base else 0.0
    if not np.isfinite(roll) or base_s < gates.min_roll_baseline_s or abs(roll) > gates.max_roll_deg:
        if has_base and np.isfinite(roll) and abs(roll) > gates.max_roll_deg:
            warnings.append(f"camera roll not corrected: the standing posture tilts {roll:+.0f}° in the image, more "
                            f"than a camera would ({gates.max_roll_deg:.0f}°); was the person standing upright?")
        roll = 0.0
    return roll


def _standing_legs(s: LandmarkSeries, base: slice, mirrored: bool, yaw_deg: float, gates: GateConfig) -> dict:
    """StandingReference's per-side lengths: medians over the baseline (without one, the clip's
    longest, and for the free foot the clip's median shank and no standing lift)."""
    has_base = base.stop > base.start
    standing = lambda x: float(np.nanmedian(x[base]) if has_base else np.nanmax(x))  # noqa: E731
    pt = _unmirrored(s, mirrored)
    out: dict = {k: {} for k in ("thigh_mp_px", "thigh_px", "shank_px", "foot_shank_px", "lift_px")}
    for side, other in SIDES:
        thigh_mp = np.linalg.norm(pt(f"{side}_knee") - pt(f"{side}_hip"), axis=-1)
        out["thigh_mp_px"][side] = standing(thigh_mp)
        hip, knee, ankle, _ = _leg_points(pt, side, thigh_mp, out["thigh_mp_px"][side], yaw_deg, gates)
        out["thigh_px"][side] = standing(np.linalg.norm(knee - hip, axis=-1))
        out["shank_px"][side] = standing(np.linalg.norm(ankle - knee, axis=-1))
        shank = np.linalg.norm(s.p(f"{side}_ankle") - s.p(f"{side}_knee"), axis=-1)
        out["foot_shank_px"][side] = float(np.nanmedian(shank[base]) if has_base else np.nanmedian(shank))
        lift = s.p(f"{other}_ankle")[:, 1] - s.p(f"{side}_ankle")[:, 1]  # image y is down
        out["lift_px"][side] = float(np.nanmedian(lift[base])) if has_base else 0.0
    return out


def standing_reference(s: LandmarkSeries, gates: GateConfig = GateConfig(), base: slice | None = None
                       ) -> StandingReference:
    """The first step of :func:`compute_frame_measures`: what the clip's still standing baseline
    fixes. ``base``: those frames, or None to find them (:func:`standing_baseline` on MediaPipe's
    world-landmark knee flexion, which has the right timing but not the right value). From the
    detected frames the view and mirroring; from the baseline the camera roll, body yaw
    (:func:`body_yaw_deg`), segment lengths and trunk lean."""
    t, det = s.time_s, s.detected
    if base is None:
        cond = _conditioner(t, gates)
        flex_world = [cond(g.knee_flexion_deg(s.w(f"{side}_hip"), s.w(f"{side}_knee"), s.w(f"{side}_ankle")))
                      for side in ("left", "right")]
        base = standing_baseline(s, np.fmax(*flex_world))
    ratio = float(np.nanmedian(g.width_ratio(s.p("left_hip"), s.p("right_hip"), s.p("left_shoulder"),
                                             s.p("right_shoulder"))[det])) if det.any() else float("nan")
    view = g.classify_view(ratio)
    warnings: list[str] = []
    roll = _camera_roll(s, base, gates, warnings)
    w_px, h_px = s.image_wh
    facing = np.nanmedian(g.facing_sign(s.p("left_hip"), s.p("right_hip"))[det]) if det.any() else 1.0
    mirrored = bool(facing < 0)
    yaw = body_yaw_deg(s, base, mirrored)
    focal = gates.focal_px if gates.focal_px else gates.focal_fraction * max(w_px, h_px)
    if view == "frontal" and not (np.isfinite(yaw) and abs(yaw) <= gates.max_yaw_deg):
        warnings.append(f"camera {abs(yaw):.0f}° off the body's front (more than {gates.max_yaw_deg:.0f}°): "
                        "frontal-plane FPPA not reported; stand square to the camera")
    lean = float(np.nanmedian(_trunk_lean(s, roll)[base])) if base.stop > base.start else float("nan")
    return StandingReference(tuple(s.image_wh), base, view, ratio, roll, mirrored, yaw, float(focal),
                             **_standing_legs(s, base, mirrored, yaw, gates), trunk_lean_deg=lean,
                             warnings=tuple(warnings))


def unfiltered_measures(s: LandmarkSeries, ref: StandingReference, gates: GateConfig = GateConfig()
                        ) -> UnfilteredMeasures:
    """The per-frame step of :func:`compute_frame_measures`, vectorised and unfiltered, so it
    works on any frames of a clip, one included (``stream.frame_values`` runs it on each live
    frame): each leg's image FPPA with the hip joint centres, its single-view 3D reconstruction
    with the standing lengths of ``ref`` (geometry.lift_leg) and the knee flexion and frontal-plane
    FPPA of it, the free foot's height, and the trunk lean."""
    w_px, h_px = s.image_wh
    pt = _unmirrored(s, ref.mirrored)
    body = lambda p: g.camera_to_body(p, ref.yaw_deg if np.isfinite(ref.yaw_deg) else 0.0)  # noqa: E731
    out: dict = {f: {} for f in UnfilteredMeasures.__dataclass_fields__ if f != "trunk_lean_deg"}
    for side, other in SIDES:
        thigh_mp = np.linalg.norm(pt(f"{side}_knee") - pt(f"{side}_hip"), axis=-1)
        hip, knee, ankle, ohip = _leg_points(pt, side, thigh_mp, ref.thigh_mp_px[side], ref.yaw_deg, gates)
        thigh0, shank0 = ref.thigh_px[side], ref.shank_px[side]
        out["fppa_deg"][side] = g.fppa_deg(hip, knee, ankle, ohip)
        visible = np.all([s.vis(f"{side}_{j}") >= gates.min_visibility for j in ("hip", "knee", "ankle")], axis=0)
        thigh = np.linalg.norm(knee - hip, axis=-1)
        out["visible"][side] = visible
        out["ok"][side] = ref.sized(side, gates) & (thigh >= gates.min_thigh_fraction * thigh0) & visible
        hip3, knee3, ankle3 = g.lift_leg(hip, knee, ankle, thigh0, shank0, ref.focal_px, (w_px / 2, h_px / 2))
        ohip3 = np.concatenate([ohip - (w_px / 2, h_px / 2), np.full((len(ohip), 1), ref.focal_px)], axis=-1) \
            * (hip3[:, 2:3] / ref.focal_px)
        out["knee_flexion_deg"][side] = g.knee_flexion_deg(hip3, knee3, ankle3)
        out["fppa_frontal_deg"][side] = g.fppa_frontal_deg(body(hip3), body(knee3), body(ankle3), body(ohip3))
        out["knee3"][side], out["ankle3"][side] = knee3, ankle3
        lift = s.p(f"{other}_ankle")[:, 1] - s.p(f"{side}_ankle")[:, 1]  # image y is down
        out["free_foot_height"][side] = (lift - ref.lift_px[side]) / ref.foot_shank_px[side]
    return UnfilteredMeasures(**out, trunk_lean_deg=_trunk_lean(s, ref.roll_deg))


def _leg_measures(s: LandmarkSeries, ref: StandingReference, u: UnfilteredMeasures, gates: GateConfig, cond,
                  warnings: list[str]) -> dict[str, np.ndarray]:
    """Both legs' FPPA (image, frontal plane), knee flexion and knee over the foot, filtered and
    gated (module docstring); warns of a leg whose FPPA is gated out in most frames."""
    det, n = s.detected, len(s)
    frontal_view = ref.view == "frontal"
    yaw_ok, kof_ok = ref.yaw_ok(gates.max_yaw_deg), ref.yaw_ok(gates.max_yaw_knee_over_foot_deg)
    pt = _unmirrored(s, ref.mirrored)
    out = {}
    for side, _ in SIDES:
        sized = ref.sized(side, gates)
        ok = u.ok[side] & frontal_view
        out[f"fppa_{side}_deg"] = np.where(ok, cond(u.fppa_deg[side]), np.nan)
        out[f"knee_flexion_{side}_deg"] = np.where(u.visible[side] & sized, cond(u.knee_flexion_deg[side]), np.nan)
        frontal = cond(u.fppa_frontal_deg[side])
        plausible = np.abs(frontal) <= gates.max_abs_frontal_fppa_deg
        out[f"fppa_frontal_{side}_deg"] = np.where(ok & yaw_ok & plausible, frontal, np.nan)
        kof = knee_over_foot_cm(s, side, pt, u.knee3[side], u.ankle3[side], ref.shank_px[side], ref.baseline,
                                ref.yaw_deg, gates) if frontal_view and kof_ok and sized else np.full(n, np.nan)
        out[f"knee_over_foot_{side}_cm"] = cond(kof)
        if det.any() and ok[det].mean() < 0.5 and frontal_view and sized:
            warnings.append(f"{side} knee: FPPA gated out in {1 - ok[det].mean():.0%} of frames "
                            f"(leg foreshortened or not visible)")
    return out


def _body_measures(s: LandmarkSeries, ref: StandingReference, u: UnfilteredMeasures, gates: GateConfig, cond
                   ) -> dict[str, np.ndarray]:
    """Pelvic obliquity, trunk lean, knee separation ratios, foot turn-out, free-foot height and
    hip offset, filtered (the caller refuses the frontal-plane ones)."""
    n, base = len(s), ref.baseline
    out = {"pelvic_obliquity_deg": cond(g.pelvic_obliquity_deg(s.p("left_hip"), s.p("right_hip")) + ref.roll_deg),
           "trunk_lean_deg": cond(u.trunk_lean_deg)}
    ka, kh = g.knee_separation_ratios(s.p("left_knee"), s.p("right_knee"), s.p("left_ankle"), s.p("right_ankle"),
                                      s.p("left_hip"), s.p("right_hip"))
    out["knee_ankle_separation_ratio"], out["knee_hip_separation_ratio"] = cond(ka), cond(kh)
    leg_cm = gates.shank_cm / SHANK_PER_HEIGHT * LEG_LENGTH_PER_HEIGHT
    for side, other in SIDES:
        out[f"foot_turnout_{side}_deg"] = cond(g.foot_turnout_deg(
            s.p(f"{side}_heel"), s.p(f"{side}_foot_index"), s.p(f"{side}_hip"), s.p(f"{other}_hip")))
        out[f"free_foot_height_{side}"] = cond(u.free_foot_height[side])
        out[f"hip_offset_{side}_cm"] = cond(hip_offset_cm(
            s.xy_px, s.visibility, base, side, leg_cm=leg_cm, yaw_deg=ref.yaw_deg)) \
            if base.stop > base.start and ref.yaw_ok(gates.max_yaw_deg) else np.full(n, np.nan)
    return out


def _leg_px(s: LandmarkSeries, base: slice) -> float:
    """Standing hip→ankle image length, the mean of the legs (the clip's median without a
    baseline); NaN if nobody was seen."""
    leg = np.nanmean([np.linalg.norm(s.p(f"{side}_ankle") - s.p(f"{side}_hip"), axis=-1)
                      for side in ("left", "right")], axis=0)
    if not np.isfinite(leg).any():
        return float("nan")
    return float(np.nanmedian(leg[base] if base.stop > base.start and np.isfinite(leg[base]).any() else leg))


def compute_frame_measures(s: LandmarkSeries, gates: GateConfig = GateConfig()) -> FrameMeasures:
    """Per-frame measures of a clip: its standing reference (:func:`standing_reference`), the
    per-frame values with it (:func:`unfiltered_measures`), then the recorded-video filter
    (signals.condition) and the trust gates (module docstring)."""
    t, det = s.time_s, s.detected
    cond = _conditioner(t, gates)
    ref = standing_reference(s, gates)
    u = unfiltered_measures(s, ref, gates)
    warnings = list(ref.warnings)
    values = _leg_measures(s, ref, u, gates, cond, warnings)
    values.update(_body_measures(s, ref, u, gates, cond))
    too_small = det.any() and not any(ref.sized(side, gates) for side, _ in SIDES)
    if ref.view not in ("frontal", "unknown"):
        warnings.append(f"{ref.view} view (shoulder/hip width {ref.width_ratio:.2f} of torso length): FPPA, knee "
                        "separation and sideways trunk lean are not measurable (they need a front view)")
    elif too_small:
        seg0 = [ref.thigh_px["left"], ref.shank_px["left"], ref.thigh_px["right"], ref.shank_px["right"]]
        seg = np.nanmin(seg0) if np.isfinite(seg0).any() else float("nan")
        warnings.append(f"person too small in the frame (shortest leg segment {seg:.0f} px, at least "
                        f"{gates.min_segment_px:.0f} px needed): knee angles, knee separation and trunk lean "
                        "not measured; move the camera closer")
    if ref.view != "frontal" or too_small:  # frontal-plane measures mean nothing side-on or on a tiny person
        values.update({k: np.full(len(t), np.nan) for k in FrameMeasures.FRONTAL_PLANE})
    hands = hands_on_hips_per_frame(t, s.xy_px, s.visibility)
    return FrameMeasures(
        time_s=t, detected=det, body_yaw_deg=np.where(det, ref.yaw_deg, np.nan),
        hands_on_hips=np.where(det, hands.astype(float), np.nan), hands_on_hips_state=hands, view=ref.view,
        width_ratio=ref.width_ratio, camera_roll_deg=ref.roll_deg, baseline=ref.baseline, warnings=warnings,
        leg_px=_leg_px(s, ref.baseline), **values)


def knee_over_foot_cm(s: LandmarkSeries, side: str, pt, knee3: np.ndarray, ankle3: np.ndarray, shank0_px: float,
                      base: slice, yaw_deg: float, gates: GateConfig) -> np.ndarray:
    """One leg's :func:`geometry.knee_over_foot_path` in cm (+ = inside the path of a knee tracking
    over the foot), NaN where the knee, ankle or toes are hidden or outside the picture, or where
    the standing foot was not seen (then there is no foot axis to refer to). ``pt``: the
    (unmirrored) image points; ``knee3`` / ``ankle3``: the lifted leg (``geometry.lift_leg``, camera
    frame, pixels at the standing depth); ``yaw_deg``: the body's yaw (the foot's turn-out and the
    knee's travel are turned into the body frame with it)."""
    n = len(s.time_s)
    w_px, h_px = s.image_wh
    other = "right" if side == "left" else "left"
    lateral_dir = np.sign(np.nanmedian(pt(f"{side}_hip")[:, 0] - pt(f"{other}_hip")[:, 0]))
    raw = s.p(f"{side}_foot_index")
    inside = (raw[:, 0] >= 0) & (raw[:, 0] < w_px) & (raw[:, 1] >= 0) & (raw[:, 1] < h_px)
    seen = np.all([s.vis(f"{side}_{j}") >= gates.min_visibility for j in ("knee", "ankle", "foot_index")], axis=0) & inside
    if base.stop <= base.start or not seen[base].any() or not np.isfinite(lateral_dir) or not shank0_px > 0 \
            or not np.isfinite(yaw_deg):
        return np.full(n, np.nan)
    stand = base.start + np.flatnonzero(seen[base])
    toe_lat0 = float(np.nanmedian((pt(f"{side}_foot_index")[stand, 0] - pt(f"{side}_ankle")[stand, 0]) * lateral_dir))
    turnout = g.foot_turnout_from_image_deg(toe_lat0, gates.foot_to_shank * shank0_px, yaw_deg, side)
    knee0 = np.nanmedian((knee3 - ankle3)[stand], axis=0)
    px = g.knee_over_foot_path(knee3, ankle3, knee0, yaw_deg, turnout, side)
    return np.where(seen, px / shank0_px * gates.shank_cm, np.nan)


# 2D nose cue: tan(yaw) = NOSE_YAW_GAIN × (nose x − mid-ear x) / (left ear x − right ear x) in the
# image (x-flip invariant). Fitted on the synthetic set: 0.92 (leave-one-body-out 0.87–0.98).
NOSE_YAW_GAIN = 0.92


def nose_yaw_deg(xy_px: np.ndarray, min_ear_px: float = 2.0) -> np.ndarray:
    """Per-frame head yaw from the image: the nose's offset from the mid-point of the ears, over
    the ears' horizontal distance (a head turned by θ moves the nose off the ear line by
    ∝ sin θ while the ears close up by cos θ). + = camera toward the subject's left, as
    :func:`body_yaw_deg`. NaN where the ears are closer than ``min_ear_px``."""
    nose, le, re = (xy_px[:, LM[n], 0] for n in ("nose", "left_ear", "right_ear"))
    width = le - re
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(np.abs(width) >= min_ear_px, (nose - (le + re) / 2) / width, np.nan)
    return np.degrees(np.arctan(-NOSE_YAW_GAIN * r))


def hip_width_scale(thigh_px, standing_thigh_px: float, gates: GateConfig = GateConfig()) -> np.ndarray:
    """How much one leg's hip line is widened (``geometry.hip_joint_centres``): ``hip_width_scale``
    + ``hip_flexion_widening`` × the thigh's foreshortening (1 − MediaPipe's hip→knee image length /
    its standing length, clipped to 0–1). As the hip flexes, MediaPipe's hip points close in
    toward the midline (docs/accuracy.md)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        fore = np.nan_to_num(np.clip(1 - np.asarray(thigh_px, float) / standing_thigh_px, 0.0, 1.0))
    return gates.hip_width_scale + gates.hip_flexion_widening * fore


def body_yaw_deg(s: LandmarkSeries, base: slice, mirrored: bool = False, cues: tuple[str, ...] = ("nose", "feet")
                 ) -> float:
    """The camera's angle from the body's front, + = camera toward the subject's left (as the
    synthetic ground truth), for the unmirrored view. Median over the standing baseline (the body
    does not spin within a set) of the mean of two independent cues: the head's yaw from the
    image (:func:`nose_yaw_deg`) and the mean heel→toe direction of both feet in MediaPipe's
    world landmarks (a symmetric turn-out cancels). Each cue has its own bias on a real person
    (a head turned toward the camera, an uneven turn-out); their mean halves either. Other cues
    (``"hips"``, ``"shoulders"``: the world hip / shoulder line's normal) are kept for
    comparison. Measured on the synthetic set: see docs/accuracy.md."""
    sel = base if base.stop > base.start else slice(None)
    sx = -1.0 if mirrored else 1.0

    def w(name):
        v = s.w(name)[sel]
        return v * (sx, 1, 1)

    est = []
    if "nose" in cues:
        est.append(nose_yaw_deg(s.xy_px[sel]))
    if "hips" in cues:
        v = w("left_hip") - w("right_hip")
        est.append(np.degrees(np.arctan2(-v[:, 2], v[:, 0])))
    if "shoulders" in cues:
        v = w("left_shoulder") - w("right_shoulder")
        est.append(np.degrees(np.arctan2(-v[:, 2], v[:, 0])))
    if "feet" in cues:
        d = [w(f"{side}_foot_index") - w(f"{side}_heel") for side in ("left", "right")]
        est.append(-np.degrees((np.arctan2(d[0][:, 0], -d[0][:, 2]) + np.arctan2(d[1][:, 0], -d[1][:, 2])) / 2))
    per_cue = [float(np.nanmedian(e)) if np.isfinite(e).any() else np.nan for e in est]
    return float(np.nanmean(per_cue)) if np.isfinite(per_cue).any() else float("nan")
