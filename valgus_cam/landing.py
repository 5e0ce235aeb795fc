"""Landing check (``--test landing``): drop-jump / jump-squat landings segmented from the hip's
vertical velocity, and per landing the knee angle and the knee separation at initial contact and
at peak knee flexion. Pure numpy/scipy, no I/O.

Segmentation (:func:`segment_landings`), on the mid-hip's image height (y down) in units of the
standing leg length L (hip–ankle image distance, 90th percentile over the clip: legs straight),
smoothed with a Savitzky–Golay filter whose derivative is the vertical velocity:

* **flight**: a peak of the hip height (``find_peaks`` with a prominence of ``min_rise`` L on
  both sides: hips rising then falling) during which **both ankles** are at least
  ``min_foot_lift`` L above their level just before take-off. The feet leaving the floor is what
  tells a jump from standing up out of a squat or rising onto the toes.
* **take-off**: the frame of peak upward hip velocity before the apex (the end of the push; the
  toes leave the floor ~0.1 s later, so it is no flight-time measure); **initial contact (IC)**:
  the frame of peak downward hip velocity after the apex. In flight the hips accelerate downward at g;
  from the moment the feet meet the floor the ground force decelerates them, so the downward
  velocity peaks at contact (to within one frame: the force needs ~10–30 ms to exceed body
  weight). Checked against the frames by eye on ``side_jump_squat_landings__sagor.mp4``
  (docs/screening.md).
* **peak knee flexion (PF)**: the deepest point of the landing: the smallest hip–ankle distance
  after IC, before the legs straighten again by ``rebound`` L, the next take-off, or
  ``max_absorb_s``. A jump squat that lands straight into the next crouch has its PF at that
  crouch's bottom, as a drop vertical jump's landing PF is the bottom before the second jump.

Per landing (:func:`score_landings`): frontal-plane FPPA of each knee (``FrameMeasures``, same
gates as the squat: front view, camera within 25° of the body's front, leg visible) at IC and
at PF (median over ±``bottom_window_s``), the knee/ankle separation ratio at IC and PF and its
change PF / IC. Verdict: ``landing_valgus_left/right`` when the frontal FPPA at PF exceeds the
landing limit (reason codes in ``verdicts.REASONS``). Only where no knee angle can be judged
(camera more than 25° off the body's front) does the separation decide: ``landing_knees_caving``
when it falls below ``landing_knee_separation_min_ratio`` × its value at IC (on the synthetic
landings a mild 8–12° valgus already brings it to 0.84, so it is a coarse fallback). Thresholds
and sources: docs/screening.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, savgol_filter

from .signals import fill_nan
from .landmarks import LM
from .measures import FrameMeasures
from .analysis import record_dict
from .verdicts import Finding

@dataclass(frozen=True, slots=True)
class Landing:
    """One flight and its landing; frames are 0-based positions in the input arrays."""

    takeoff_frame: int
    apex_frame: int
    contact_frame: int  # initial contact
    peak_flexion_frame: int
    foot_lift: float  # how high both ankles rose above their floor level, in leg lengths


def _rate(t: np.ndarray) -> float:
    dt = np.diff(t)
    dt = dt[np.isfinite(dt) & (dt > 0)]
    return 1.0 / float(np.median(dt)) if dt.size else 30.0




def segment_landings(time_s: np.ndarray, xy_px: np.ndarray, *, min_rise: float = 0.15,
                     min_foot_lift: float = 0.10, min_separation_s: float = 0.4, smooth_s: float = 0.15,
                     rebound: float = 0.05, max_absorb_s: float = 1.5, floor_window_s: float = 0.3
                     ) -> list[Landing]:
    """Flights and landings of a clip (see the module docstring). ``xy_px``: (n, 33, 2) image
    landmarks, NaN rows where nobody was detected. Works in front and side views."""
    t = np.asarray(time_s, float)
    n = t.size
    if n < 5:
        return []
    with np.errstate(invalid="ignore"):
        hip = (xy_px[:, LM["left_hip"]] + xy_px[:, LM["right_hip"]]) / 2
        ank_l, ank_r = xy_px[:, LM["left_ankle"]], xy_px[:, LM["right_ankle"]]
        leg = (np.linalg.norm(xy_px[:, LM["left_hip"]] - ank_l, axis=-1)
               + np.linalg.norm(xy_px[:, LM["right_hip"]] - ank_r, axis=-1)) / 2
    if not np.isfinite(leg).any():
        return []
    L = float(np.nanpercentile(leg, 90))
    if not L > 0:
        return []
    rate = _rate(t)
    win = max(5, int(round(smooth_s * rate)) | 1)
    win = min(win, n if n % 2 else n - 1)
    if win < 5:
        return []
    height = -fill_nan(hip[:, 1]) / L  # + up, leg lengths
    h = savgol_filter(height, win, 2, mode="interp")
    v = savgol_filter(height, win, 2, deriv=1, delta=1.0 / rate, mode="interp")  # leg lengths / s
    leg_s = savgol_filter(fill_nan(leg) / L, win, 2, mode="interp")
    al, ar = -fill_nan(ank_l[:, 1]) / L, -fill_nan(ank_r[:, 1]) / L
    apexes, _ = find_peaks(h, prominence=min_rise, distance=max(1, int(round(min_separation_s * rate))))
    out: list[Landing] = []
    prev_contact = 0
    for k, p in enumerate(apexes):
        lo = max(prev_contact, apexes[k - 1] if k else 0)
        hi = apexes[k + 1] if k + 1 < len(apexes) else n - 1
        if p - lo < 2 or hi - p < 2:
            continue
        takeoff = lo + int(np.argmax(v[lo:p + 1]))
        contact = p + int(np.argmin(v[p:hi + 1]))
        if v[takeoff] <= 0 or v[contact] >= 0:
            continue
        f0 = max(0, takeoff - int(round(floor_window_s * rate)))
        floor_l, floor_r = np.median(al[f0:takeoff + 1]), np.median(ar[f0:takeoff + 1])
        lift = float(min(al[p] - floor_l, ar[p] - floor_r))
        if not lift >= min_foot_lift:
            continue  # the feet did not leave the floor: standing up, not a jump
        # peak flexion: running minimum of the hip–ankle distance until the legs straighten again
        stop = min(hi, contact + int(round(max_absorb_s * rate)), n - 1)
        if k + 1 < len(apexes):  # not past the next take-off
            nxt_lo = apexes[k + 1]
            stop = min(stop, contact + int(np.argmax(v[contact:nxt_lo + 1])))
        best = contact
        for i in range(contact, stop + 1):
            if leg_s[i] < leg_s[best]:
                best = i
            elif leg_s[i] > leg_s[best] + rebound:
                break
        out.append(Landing(int(takeoff), int(p), int(contact), int(best), lift))
        prev_contact = contact
    return out


@dataclass(frozen=True, slots=True)
class LandingResult:
    """One scored landing: a reps.json record (``to_dict``), ``kind`` = "landing"; an
    ``analysis.Record``. ``findings``: the knee angle of each knee at peak flexion
    (``landing_valgus``), and the knee separation (``landing_knee_gap``) where no knee angle was
    measured; not in reps.json (its numbers are the fields above)."""

    index: int  # 1-based
    takeoff_frame: int
    contact_frame: int
    peak_flexion_frame: int
    takeoff_s: float
    contact_s: float
    peak_flexion_s: float
    fppa_left_ic_deg: float | None  # image FPPA at initial contact
    fppa_right_ic_deg: float | None
    fppa_left_pf_deg: float | None  # image FPPA at peak knee flexion
    fppa_right_pf_deg: float | None
    fppa_frontal_left_ic_deg: float | None  # frontal-plane FPPA: what the verdict uses (at PF)
    fppa_frontal_right_ic_deg: float | None
    fppa_frontal_left_pf_deg: float | None
    fppa_frontal_right_pf_deg: float | None
    knee_separation_ratio_ic: float | None  # knee / ankle distance at initial contact
    knee_separation_ratio_pf: float | None  # knee / ankle distance at peak knee flexion
    knee_separation_change: float | None  # PF / IC (< 1: the knees came together while landing)
    verdict: str  # "pass" | "fail" | "unmeasurable"
    reasons: tuple[str, ...] = ()
    not_measured: tuple[str, ...] = ()
    kind: str = "landing"
    findings: tuple[Finding, ...] = ()

    @property
    def stance(self) -> str:
        return "both"

    def knee_angle_deg(self, side: str) -> float | None:
        """The frontal-plane FPPA of ``side``'s knee at peak knee flexion (what the verdict uses)."""
        return self.fppa_frontal_left_pf_deg if side == "left" else self.fppa_frontal_right_pf_deg

    def to_dict(self) -> dict:
        return record_dict(self)


def _med(x: np.ndarray, t: np.ndarray, frame: int, half_s: float) -> float | None:
    sel = np.abs(t - t[frame]) <= half_s + 1e-9
    v = x[sel]
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else None


def _knee_finding(side: str, value: float | None, limit: float, pf: int, pf_s: float, why: str) -> Finding:
    """``side``'s knee angle at peak flexion against the landing limit."""
    if value is None:
        return Finding("landing_valgus", side, None, limit, "deg", None, None, None, "not_measured", why=why)
    return Finding("landing_valgus", side, value, limit, "deg", pf, pf_s, None, "fail" if value > limit else "pass")


def score_landings(m: FrameMeasures, landings: list[Landing], thresholds) -> list[LandingResult]:
    """Numbers and verdict of each landing (``thresholds``: :class:`verdicts.Thresholds`)."""
    t = m.time_s
    half = thresholds.bottom_window_s
    limit = thresholds.landing_limit_deg
    out = []
    for k, ld in enumerate(landings):
        ic, pf = ld.contact_frame, ld.peak_flexion_frame
        val = {}
        for side in ("left", "right"):
            img = m.fppa_left_deg if side == "left" else m.fppa_right_deg
            fr = m.fppa_frontal_left_deg if side == "left" else m.fppa_frontal_right_deg
            val[f"fppa_{side}_ic_deg"] = _med(img, t, ic, half)
            val[f"fppa_{side}_pf_deg"] = _med(img, t, pf, half)
            val[f"fppa_frontal_{side}_ic_deg"] = _med(fr, t, ic, half)
            val[f"fppa_frontal_{side}_pf_deg"] = _med(fr, t, pf, half)
        sep_ic = _med(m.knee_ankle_separation_ratio, t, ic, half) if m.view == "frontal" else None
        sep_pf = _med(m.knee_ankle_separation_ratio, t, pf, half) if m.view == "frontal" else None
        change = sep_pf / sep_ic if sep_ic and sep_pf is not None else None
        why = (f"{m.view} view: the knee angle and knee separation need a front view" if m.view != "frontal"
               else "knee: frontal-plane FPPA not available (camera not square to the body, or the knee "
                    "not visible)")
        findings = [_knee_finding(side, val[f"fppa_frontal_{side}_pf_deg"], limit, pf, float(t[pf]), why)
                    for side in ("left", "right")]
        judged = any(f.result != "not_measured" for f in findings)
        if change is not None and not judged:  # the separation decides only where no knee angle can
            judged = True
            sep_min = thresholds.landing_knee_separation_min_ratio
            findings.append(Finding("landing_knee_gap", None, change, sep_min, "ratio", pf, float(t[pf]), None,
                                    "fail" if change < sep_min else "pass"))
        reasons = [f.code for f in findings if f.result == "fail"]
        not_measured = [] if judged else [why]
        verdict = "fail" if reasons else ("pass" if judged else "unmeasurable")
        out.append(LandingResult(
            index=k + 1, takeoff_frame=ld.takeoff_frame, contact_frame=ic, peak_flexion_frame=pf,
            takeoff_s=float(t[ld.takeoff_frame]), contact_s=float(t[ic]), peak_flexion_s=float(t[pf]),
            **val,
            knee_separation_ratio_ic=sep_ic, knee_separation_ratio_pf=sep_pf, knee_separation_change=change,
            verdict=verdict, reasons=tuple(reasons), not_measured=tuple(not_measured), findings=tuple(findings)))
    return out
