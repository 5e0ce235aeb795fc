"""What a clip's analysis says, as reps.json and as the terminal table."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .pipeline import ClipAnalysis
from .sinks import atomic_open
from .verdicts import REASONS

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
        "reps": [r.to_dict() for r in a.results],
    }


def write_reps_json(path: Path, doc: dict) -> None:
    with atomic_open(path) as f:
        json.dump(doc, f, indent=2, ensure_ascii=False, allow_nan=False)
        f.write("\n")


def _f(x, fmt="{:+.0f}°", missing="—") -> str:
    return missing if x is None else fmt.format(x)


def rep_table(a: ClipAnalysis) -> str:
    """Per-rep table for the terminal: one line per rep, plain words for the reasons."""
    head = f"{'rep':>3}  {'time':>11}  {'stance':6}  {'knee L':>7} {'knee R':>7}  {'flex':>5}  {'trunk':>6}  verdict"
    lines = [head]
    for r in a.results:
        why = "; ".join(REASONS.get(c, c) for c in r.reasons)
        if r.verdict == "unmeasurable":
            why = "knee angle not measurable (see warnings)"
        lines.append(f"{r.index:>3}  {r.start_s:5.1f}-{r.end_s:5.1f}  {r.stance:6}  "
                     f"{_f(r.fppa_frontal_left_deg):>7} {_f(r.fppa_frontal_right_deg):>7}  "
                     f"{_f(r.knee_flexion_deg, '{:.0f}°'):>5}  {_f(r.trunk_lean_deg):>6}  "
                     f"{r.verdict.upper()}{'  ' + why if why else ''}")
    s = a.summary
    for leg in s.legs:
        name = {"both": "both legs", "left": "left leg", "right": "right leg"}[leg.stance]
        mean = f", mean knee angle {leg.fppa_frontal_mean_deg:+.0f}°" if leg.fppa_frontal_mean_deg is not None else ""
        lines.append(f"{name}: {leg.passed}/{leg.reps} passed, {leg.failed} failed"
                     f"{f', {leg.unmeasurable} not measurable' if leg.unmeasurable else ''}{mean}")
    if s.left_right_difference_deg is not None:
        lines.append(f"left - right knee angle: {s.left_right_difference_deg:+.0f}° "
                     f"({'a real difference' if s.difference_meaningful else 'within 2D measurement noise'})")
    if s.worst_rep is not None and len(a.results) > 1:
        lines.append(f"worst rep: {s.worst_rep}")
    lines.append("knee angle = frontal-plane projection angle (FPPA) at the bottom of the rep, + = knee inwards "
                 f"(valgus); limit {a.thresholds.knee_limit_deg:.0f}°")
    return "\n".join(lines)
