#!/usr/bin/env python
"""Do live verdicts equal analyze's? The streaming analyser against the whole-clip analysis.

For each clip: ``valgus_cam.analyze`` (the whole clip at once) and the live analyser fed the
same landmarks frame by frame (``valgus_cam.stream.LiveAnalyser``: setup guide, calibration,
re-analysis every ``--period`` s, a rep reported once its end is ``final_lag_s`` old). Swept over
``final_lag_s``; per lag, over all clips: reps counted live vs by analyze, reps matched (bottom
within 5 frames), the largest boundary shift (frames), verdict/reason disagreements, the largest
per-rep value difference (degrees; FPPA image and frontal, knee flexion, trunk lean, yaw) and the
median delay from a rep's end to its report. Then the live analyser's per-clip counts at the
default lag, with the reason when they differ (a clip that starts mid-movement has no still stand
to calibrate on before its first rep).

    python benchmarks/live_agreement.py [--model lite] [--lags 0 0.2 0.4 0.6] [--period 0.1]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import valgus_cam  # noqa: E402
from valgus_cam.pose import Pose  # noqa: E402
from valgus_cam.stream import LiveAnalyser, StreamConfig  # noqa: E402

SHARED = ROOT.parent / "shared"
CLIPS = [SHARED / "clips" / n for n in ("front_highbar_squat_1rep__trutadan.mp4", "front_dumbbell_squat_5reps__nowva.mp4",
                                        "front_squat_20reps_counter__rjsong.mp4",
                                        "front_webcam_squat_4reps_overlay__healthserv.mp4")]
CLIPS += [ROOT / "samples" / "sample_single_leg_squat.mp4"]
KEYS = ("fppa_left_deg", "fppa_right_deg", "fppa_frontal_left_deg", "fppa_frontal_right_deg", "knee_flexion_deg",
        "trunk_lean_deg", "body_yaw_deg")


def synthetic_frontal() -> list[Path]:
    import json

    m = json.loads((SHARED / "synthetic" / "manifest.json").read_text())
    return [SHARED / "synthetic" / c["video"] for c in m["clips"] if abs(c["yaw_deg"]) <= 10]


def live_reps(result, lag: float, period: float):
    s = result.series
    cfg = StreamConfig(final_lag_s=lag, analysis_period_s=period)
    la = LiveAnalyser(s.image_wh, thresholds=result.analysis.thresholds, config=cfg, threaded=False)
    for k in range(len(s.time_s)):
        pose = None if not s.detected[k] else Pose(s.xy_px[k], np.zeros(33), s.visibility[k], np.ones(33),
                                                    s.world_xyz_m[k], s.image_wh)
        la.update(int(result.frame_index[k]), float(s.time_s[k]), pose)
    la.finish()
    la.close()
    return la


def compare(live, ref):
    """(matched, largest boundary shift, verdict disagreements, largest value difference, values
    measured on one side only)."""
    matched, boundary, verdicts, value, one_sided = 0, 0, 0, 0.0, 0
    for r in ref:
        q = next((q for q in live if abs(q.bottom_frame - r.bottom_frame) <= 5), None)
        if q is None:
            continue
        matched += 1
        boundary = max(boundary, *(abs(getattr(q, f) - getattr(r, f)) for f in ("start_frame", "bottom_frame", "end_frame")))
        verdicts += (q.verdict, q.reasons) != (r.verdict, r.reasons)
        for k in KEYS:
            a, b = getattr(q, k), getattr(r, k)
            if (a is None) != (b is None):
                one_sided += 1
            elif a is not None:
                value = max(value, abs(a - b))
    return matched, boundary, verdicts, value, one_sided


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="lite")
    ap.add_argument("--lags", type=float, nargs="+", default=[0.0, 0.2, 0.4, 0.6])
    ap.add_argument("--period", type=float, default=0.1, help="re-analysis period (s of video)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)
    clips = [c for c in CLIPS + synthetic_frontal() if c.exists()]
    results = {}
    for c in clips:
        print(f"  pose: {c.name}", file=sys.stderr)
        results[c] = valgus_cam.analyze(c, model=args.model, write=False)
    print(f"{len(clips)} clips (real front views, the sample, synthetic at yaw <= 10°), model {args.model}, "
          f"re-analysis every {args.period} s")
    print("same start: clips where the live analyser's counted stretch starts at the first frame, as analyze's "
          "standing baseline does")
    print(f"{'final lag':>9s}  {'live reps':>9s}  {'analyze reps':>12s}  {'matched':>7s}  {'max boundary shift':>18s}  "
          f"{'verdict differs':>15s}  {'max value diff (same start)':>27s}  {'(other)':>8s}  "
          f"{'report delay (median)':>21s}")
    default = StreamConfig().final_lag_s
    per_clip = {}
    for lag in args.lags:
        tot = np.zeros(3, int)
        boundary, verdicts, delays = 0, 0, []
        value = {True: 0.0, False: 0.0}
        one_sided = {True: 0, False: 0}
        for c, res in results.items():
            la = live_reps(res, lag, args.period)
            ref = res.analysis.results
            m, b, v, d, o = compare(la.reps, ref)
            same = bool(la.segment_starts) and la.segment_starts[0] <= float(res.series.time_s[0]) + 1e-6
            tot += (len(la.reps), len(ref), m)
            boundary, verdicts = max(boundary, b), verdicts + v
            value[same], one_sided[same] = max(value[same], d), one_sided[same] + o
            delays += la.rep_lags_s[:-1] if la.rep_lags_s else []
            if abs(lag - default) < 1e-9:
                per_clip[c.name] = (len(la.reps), len(ref), la, d, o, v)
        print(f"{lag:8.1f}s  {tot[0]:9d}  {tot[1]:12d}  {tot[2]:7d}  {boundary:15d} fr  {verdicts:15d}  "
              f"{value[True]:23.2f}° ({one_sided[True]})  {value[False]:6.2f}° ({one_sided[False]})  "
              f"{np.median(delays) if delays else float('nan'):19.2f} s")
    print("(n): rep values measured on one side only (null in one of the two)")
    if per_clip:
        print(f"\nper clip at the default lag ({default} s): live / analyze reps, counting from, max value diff, "
              "verdicts that differ")
        for name, (n_live, n_ref, la, d, o, v) in per_clip.items():
            why = ""
            if n_live != n_ref:
                blocking = [g for g, _ in la.setup_failures.most_common() if g]
                why = f"  setup step that held it up most: {blocking[0] if blocking else '?'}"
            start = f"{la.segment_starts[0]:5.2f} s" if la.segment_starts else "never"
            print(f"  {name:50s} {n_live:3d} / {n_ref:3d}  {start:>8s}  {d:5.2f}° ({o})  {v}{why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
