"""What a clip's analysis says, as reps.json and as the terminal table."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .analysis import ClipAnalysis
from .kinds import TestKind
from .sinks import atomic_open
from .verdicts import KNEE_CRITERIA, REASONS, VERDICT_WORDS

SCHEMA_VERSION = 1


def reps_document(a: ClipAnalysis, video: str, fps: float, frames: int) -> dict:
    """The reps.json document (keys as in README "reps.json")."""
    m = a.measures
    yaw = m.body_yaw_deg[m.detected]
    return {
        "schema_version": SCHEMA_VERSION,
        "video": video,
        "fps": round(float(fps), 3) if fps and math.isfinite(fps) else None,
        "frames": int(frames),
        "test": a.test,
        "view": m.view,
        "measurable": a.measurable,
        "body_yaw_deg": round(float(yaw[0]), 1) if len(yaw) and math.isfinite(yaw[0]) else None,
        "camera_roll_deg": round(float(m.camera_roll_deg), 1),
        "warnings": list(a.warnings),
        "thresholds": a.thresholds.to_dict(),
        "summary": a.summary.to_dict(),
        "reps": [r.to_dict() for r in a.records],  # kind "rep" | "hold" (standing) | "landing"
    }


def write_reps_json(path: Path, doc: dict) -> None:
    with atomic_open(path) as f:
        json.dump(doc, f, indent=2, ensure_ascii=False, allow_nan=False)
        f.write("\n")


def _f(x, fmt="{:+.0f}°", missing="—") -> str:
    return missing if x is None else fmt.format(x)


def rep_table(a: ClipAnalysis) -> str:
    """Per-rep table for the terminal: one line per rep (the worst knee angle and knee-over-foot of
    each knee over the whole rep), then the failed and unmeasured criteria in plain words."""
    single = any(r.stance in ("left", "right") for r in a.results)
    pelvis_head = f"  {'pelvis':>6} {'hips':>6}" if single else ""
    head = (f"{'rep':>3}  {'time':>11}  {'stance':6}  {'knee L':>7} {'knee R':>7}  {'foot L':>7} {'foot R':>7}  "
            f"{'flex':>5}  {'trunk':>6}{pelvis_head}  verdict")
    lines = [head]
    for r in a.results:
        pelvis = (f"  {_f(r.value('pelvic_drop')):>6} {_f(r.value('hip_drift'), '{:+.1f}cm'):>6}"
                  if single else "")
        lines.append(f"{r.index:>3}  {r.start_s:5.1f}-{r.end_s:5.1f}  {r.stance:6}  "
                     f"{_f(r.value('knee_valgus', 'left')):>7} {_f(r.value('knee_valgus', 'right')):>7}  "
                     f"{_f(r.value('knee_over_foot', 'left'), '{:+.1f}cm'):>7} "
                     f"{_f(r.value('knee_over_foot', 'right'), '{:+.1f}cm'):>7}  "
                     f"{_f(r.knee_flexion_deg, '{:.0f}°'):>5}  {_f(r.trunk_lean_deg):>6}{pelvis}  "
                     f"{VERDICT_WORDS[r.verdict]}")
        for f in r.findings:
            if f.result == "fail":
                lines.append(f"       ✗ {f.text()}")
        if r.verdict == "unmeasurable":
            lines += [f"       ? {f.text()}" for f in r.findings if f.result == "not_measured"
                      and f.criterion in KNEE_CRITERIA]
    s = a.summary
    for leg in s.legs:
        name = {"both": "both legs", "left": "left leg", "right": "right leg"}[leg.stance]
        mean = f", mean knee angle {leg.fppa_frontal_mean_deg:+.0f}°" if leg.fppa_frontal_mean_deg is not None else ""
        lines.append(f"{name}: {leg.passed}/{leg.reps} passed, {leg.failed} failed"
                     f"{f', {leg.unmeasurable} not measurable' if leg.unmeasurable else ''}{mean}")
    lines += asymmetry_lines(a)
    if s.worst_rep is not None and len(a.results) > 1:
        lines.append(f"worst rep: {s.worst_rep}")
    lines.append("knee = worst frontal-plane projection angle (FPPA) over the rep, + = knee inwards (valgus), limit "
                 f"{a.thresholds.knee_limit_deg:.0f}°; foot = worst knee position inside (+) the path of a knee "
                 "tracking over the foot, cm")
    if single:
        why = dict.fromkeys(f.why for r in a.results if (f := r.finding("pelvic_drop")) is not None
                            and f.result == "not_measured")
        lines.append(f"pelvis = free-side pelvic drop from standing, from the waistband line, limit "
                     f"{a.thresholds.pelvic_drop_max_deg:.0f}°; hips = how far the hips moved sideways outward over "
                     f"the standing foot from the rep's start, limit {a.thresholds.hip_drift_max_cm:.1f} cm")
        lines += [f"pelvic drop not measured: {w}" for w in why if w]
    return "\n".join(lines)


def _leg(mean, sd, n) -> str:
    if mean is None:
        return "not measured"
    spread = f" ± {sd:.0f}° (SD, {n} reps)" if sd is not None else f" ({n} rep{'s' if n != 1 else ''})"
    return f"{mean:+.0f}°{spread}"


def asymmetry_lines(a: ClipAnalysis) -> list[str]:
    """Left–right: each leg's mean knee angle ± its spread, the difference against the noise."""
    s = a.summary
    asym = s.asymmetry
    if asym is None or (asym.left_n == 0 and asym.right_n == 0):
        return []
    lines = [f"knee angle by leg: left {_leg(asym.left_mean_deg, asym.left_sd_deg, asym.left_n)}, "
             f"right {_leg(asym.right_mean_deg, asym.right_sd_deg, asym.right_n)}"]
    if asym.difference_deg is not None:
        lines.append(f"left - right knee angle: {asym.difference_deg:+.1f}° "
                     f"({'a real difference: at least' if asym.exceeds_noise else 'within 2D measurement noise: under'}"
                     f" the {asym.smallest_detectable_difference_deg:.0f}° 2D video can resolve)")
    return lines


def hold_table(a: ClipAnalysis) -> str:
    """The standing check's hold for the terminal."""
    h = a.hold
    if h is None:
        return "no still standing was found"
    cm = lambda x: "—" if x is None else f"{x:.1f} cm"  # noqa: E731
    unc = f" (± {h.gap_uncertainty_cm:.1f} cm)" if h.gap_uncertainty_cm is not None else ""
    src = "given" if h.height_source == "given" else "not given: assumed, pass --height-cm for better centimetres"
    lines = [
        f"hold {h.start_s:.1f}-{h.end_s:.1f} s ({h.duration_s:.1f} s still), body height {h.height_cm:.0f} cm ({src})",
        f"static knee angle (FPPA, + = inwards): left {_f(h.fppa_frontal_left_deg)}, "
        f"right {_f(h.fppa_frontal_right_deg)}"
        f" (image: {_f(h.fppa_left_deg)}, {_f(h.fppa_right_deg)})",
        f"knee gap {cm(h.knee_gap_cm)}, ankle gap {cm(h.ankle_gap_cm)}{unc}; knees "
        + {True: "together", False: "apart", None: "not measured"}[h.knees_together]
        + (f"; gap between the ankles (IMD) {cm(h.intermalleolar_distance_cm)}, limit "
           f"{a.thresholds.knock_knee_imd_min_cm:.0f} cm" if h.intermalleolar_distance_cm is not None else ""),
        f"knee/ankle separation {('—' if h.knee_separation_ratio is None else f'{h.knee_separation_ratio:.2f}')}; "
        f"foot turn-out (+ = toes out, ± {h.foot_turnout_uncertainty_deg:.0f}°): left {_f(h.foot_turnout_left_deg)}, "
        f"right {_f(h.foot_turnout_right_deg)}, limit {a.thresholds.foot_turnout_max_deg:.0f}°",
        f"pelvis level (+ = left hip higher): {_f(h.pelvic_obliquity_deg)} "
        f"(± {h.pelvic_obliquity_uncertainty_deg:.0f}°, not judged)",
        f"verdict: {h.verdict.upper()}" + (f"  {'; '.join(REASONS.get(c, c) for c in h.reasons)}" if h.reasons else ""),
    ]
    lines += [f"  not measured: {x}" for x in h.not_measured]
    return "\n".join(lines)


def landing_table(a: ClipAnalysis) -> str:
    """One line per landing: knee angles and knee/ankle separation at contact and at peak flexion."""
    head = (f"{'#':>2}  {'contact':>7}  {'deepest':>7}  {'L knee IC/PF':>12}  {'R knee IC/PF':>12}  "
            f"{'sep IC/PF':>9}  verdict")
    lines = [head]
    for r in a.landings:
        sep = "—" if r.knee_separation_ratio_ic is None or r.knee_separation_ratio_pf is None else \
            f"{r.knee_separation_ratio_ic:.2f}/{r.knee_separation_ratio_pf:.2f}"
        why = "; ".join(REASONS.get(c, c) for c in r.reasons)
        if r.verdict == "unmeasurable":
            why = r.not_measured[0] if r.not_measured else "not measurable"
        lines.append(f"{r.index:>2}  {r.contact_s:6.2f}s  {r.peak_flexion_s:6.2f}s  "
                     f"{_f(r.fppa_frontal_left_ic_deg) + '/' + _f(r.fppa_frontal_left_pf_deg):>12}  "
                     f"{_f(r.fppa_frontal_right_ic_deg) + '/' + _f(r.fppa_frontal_right_pf_deg):>12}  {sep:>9}  "
                     f"{r.verdict.upper()}{'  ' + why if why else ''}")
    lines += asymmetry_lines(a)
    lines.append("knee angle = frontal-plane FPPA at initial contact (IC) / peak knee flexion (PF), + = inwards; "
                 f"limit {a.thresholds.landing_limit_deg:.0f}° at PF; sep = knee/ankle distance")
    return "\n".join(lines)


def clip_table(a: ClipAnalysis) -> str:
    """The terminal summary of any test: the rep table, the hold (or that none was found) or the
    landings; "" without reps or landings."""
    if a.test is TestKind.STANDING:
        return hold_table(a)
    table = landing_table if a.test is TestKind.LANDING else rep_table
    return table(a) if a.records else ""


def guidance_text(a: ClipAnalysis) -> str:
    """Guidance for the clip's failed criteria (``valgus_cam.guidance``); "" when none failed."""
    from .guidance import format_guidance, guidance_for

    return format_guidance(guidance_for(a.reasons))
