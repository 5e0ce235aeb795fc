#!/usr/bin/env python
"""Accuracy of the real pipeline (MediaPipe pose + geometry core) against the exact ground truth
of ../shared/synthetic (see its README).

For every clip: pose on every frame (or landmark CSVs cached by an earlier run, ``--cache``),
per-frame measures (valgus_cam.measures), then errors = measured − truth:
* FPPA image vs the truth's image FPPA (``fppa_l/r``) — isolates the pose model's error;
* FPPA frontal vs the truth's frontal-plane FPPA (``fppa_frontal_l/r``);
* pelvic drop (single-leg: obliquity change from the standing baseline, + = free side lower) vs
  ``pelvic_drop_2d``; trunk lean change from baseline vs ``trunk_lean_2d_rel``.
FPPA: stance leg of single-leg squats, both legs of double-leg squats. "window" = rep frames with
depth ≥ 30% of the rep; "bottom" = each rep's bottom frame. A gated (NaN) value counts as a miss
(reported as "gated") and is left out of the error figures. Printed as bias / MAE / RMSE, 95%
limits of agreement (bias ± 1.96 SD) and n, by camera yaw and by exercise.

    python benchmarks/accuracy.py [--model full] [--cache DIR] [--clips dev_000 dev_001 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from valgus_cam.capture import VideoFileSource  # noqa: E402
from valgus_cam.measures import LandmarkSeries, compute_frame_measures  # noqa: E402
from valgus_cam.models import resolve_model  # noqa: E402
from valgus_cam.pipeline import iter_poses  # noqa: E402
from valgus_cam.pose import PoseEstimator  # noqa: E402
from valgus_cam.sinks import LandmarkCsvWriter, atomic_open, read_landmarks_csv  # noqa: E402

SYNTHETIC = ROOT.parent / "shared" / "synthetic"


def landmarks_for(video: Path, model: Path, cache: Path | None) -> LandmarkSeries:
    csv_path = cache / f"{video.stem}.csv" if cache else None
    with VideoFileSource(video) as src:
        wh = src.size_wh
        if csv_path and csv_path.is_file():
            return LandmarkSeries.from_table(read_landmarks_csv(csv_path), wh)
        times, poses = [], []
        with PoseEstimator(model) as est:
            for frame, pose in iter_poses(src, est):
                times.append(frame.time_s)
                poses.append(pose)
    if csv_path:
        with atomic_open(csv_path) as f:
            w = LandmarkCsvWriter(f)
            for i, (t, p) in enumerate(zip(times, poses)):
                w.write(i, t, p)
        return LandmarkSeries.from_table(read_landmarks_csv(csv_path), wh)
    return LandmarkSeries.from_poses(times, poses, wh)


class Errors:
    def __init__(self):
        self.e = defaultdict(list)
        self.missed = defaultdict(int)

    def add(self, key, measured, truth):
        measured, truth = np.atleast_1d(measured), np.atleast_1d(truth)
        ok = np.isfinite(measured) & np.isfinite(truth)
        self.e[key].extend((measured[ok] - truth[ok]).tolist())
        self.missed[key] += int((~np.isfinite(measured) & np.isfinite(truth)).sum())

    def row(self, key):
        e = np.array(self.e.get(key, []))
        n, miss = len(e), self.missed.get(key, 0)
        gated = f"{miss / (n + miss):5.1%}" if n + miss else "   - "
        if n == 0:
            return f"{'-':>30s} {'':>15s} n={0:<5d} gated {gated}"
        bias, mae, rmse, sd = e.mean(), np.abs(e).mean(), np.sqrt((e ** 2).mean()), e.std(ddof=1) if n > 1 else 0
        return f"{bias:+6.1f} / {mae:4.1f} / {rmse:4.1f}   LoA [{bias - 1.96 * sd:+6.1f}, {bias + 1.96 * sd:+6.1f}] n={n:<5d} gated {gated}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="full")
    ap.add_argument("--cache", type=Path, default=None, help="folder of landmark CSVs (written if absent)")
    ap.add_argument("--clips", nargs="*", default=None, help="clip id prefixes (default: all)")
    ap.add_argument("--set", default="synthetic", choices=("synthetic", "synthetic2"),
                    help="which rendered set of ../shared (synthetic2: deep squats, turned-out feet, knee over foot)")
    args = ap.parse_args()
    synthetic = ROOT.parent / "shared" / args.set
    if "VALGUS_CAM_MODEL_DIR" not in os.environ and (ROOT.parent / "shared" / "models").is_dir():
        os.environ["VALGUS_CAM_MODEL_DIR"] = str(ROOT.parent / "shared" / "models")
    model = resolve_model(args.model)
    manifest = json.loads((synthetic / "manifest.json").read_text())
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)

    err = Errors()
    for clip in manifest["clips"]:
        cid = clip["clip_id"]
        if args.clips and not any(cid.startswith(p) for p in args.clips):
            continue
        gt = json.loads((synthetic / clip["gt"]).read_text())
        s = landmarks_for(synthetic / clip["video"], model, args.cache)
        m = compute_frame_measures(s)
        frames = gt["frames"]
        rep = np.array([f["rep"] for f in frames])
        depth = np.array([f["depth_frac"] for f in frames])
        window = (rep >= 0) & (depth >= 0.3)
        bottoms = np.array([r["bottom"] for r in gt["reps"]], dtype=int)
        yaw = f"yaw {abs(int(clip['yaw_deg'])):2d}"
        ex = "DL" if clip["exercise"] == "double_leg_squat" else "SL"
        groups = ("all", yaw, ex, f"{yaw} {ex}")
        legs = ("l", "r") if clip["stance"] == "both" else (clip["stance"][0],)
        for s_ in legs:
            side = "left" if s_ == "l" else "right"
            img = getattr(m, f"fppa_{side}_deg")
            fro = getattr(m, f"fppa_frontal_{side}_deg")
            gt_img = np.array([f[f"fppa_{s_}"] for f in frames])
            gt_fro = np.array([f[f"fppa_frontal_{s_}"] for f in frames])
            for grp in groups:
                err.add(("fppa image", "window", grp), img[window], gt_img[window])
                err.add(("fppa image", "bottom", grp), img[bottoms], gt_img[bottoms])
                err.add(("fppa frontal", "window", grp), fro[window], gt_fro[window])
                err.add(("fppa frontal", "bottom", grp), fro[bottoms], gt_fro[bottoms])
        base = m.baseline
        if "knee_medial_disp_cm_l" in frames[0]:  # synthetic2: the knee over the foot's axis
            setup = clip.get("camera_setup", "standard")
            for s_ in legs:
                side = "left" if s_ == "l" else "right"
                kof = getattr(m, f"knee_over_foot_{side}_cm")
                truth = np.array([np.nan if f[f"knee_medial_disp_cm_{s_}"] is None else f[f"knee_medial_disp_cm_{s_}"]
                                  for f in frames])
                rel = truth - np.nanmedian(truth[base])  # ours is relative to standing
                flex = np.array([f[f"knee_flex_{s_}"] for f in frames])
                mid = (rep >= 0) & (flex >= 30) & (flex <= 100)
                turn = clip["foot_turnout_deg"][s_]
                tgrp = "turn-out <15°" if turn < 15 else ("turn-out 15-30°" if turn <= 30 else "turn-out >30°")
                peaks = np.array([r["peak_collapse_frame"] for r in gt["reps"]
                                  if r["stance"] in ("both", side) and r["valgus_severity"] != "none"], dtype=int)
                for grp in groups + (setup, tgrp):
                    err.add(("knee over foot cm", "30-100° bend", grp), kof[mid], rel[mid])
                    err.add(("knee over foot cm", "peak collapse", grp), kof[peaks], rel[peaks])
                    err.add(("knee over foot cm (absolute truth)", "peak collapse", grp), kof[peaks], truth[peaks])
        lean_rel = m.trunk_lean_deg - np.nanmedian(m.trunk_lean_deg[base])
        gt_lean = np.array([f["trunk_lean_2d_rel"] for f in frames])
        yaw_err = np.nanmedian(m.body_yaw_deg) - clip["yaw_deg"]
        for grp in groups:
            err.add(("trunk lean", "window", grp), lean_rel[window], gt_lean[window])
            err.add(("trunk lean", "bottom", grp), lean_rel[bottoms], gt_lean[bottoms])
            err.add(("body yaw", "clip", grp), [yaw_err], [0.0])
        if ex == "SL":
            sign = 1.0 if clip["stance"] == "left" else -1.0
            drop = sign * (m.pelvic_obliquity_deg - np.nanmedian(m.pelvic_obliquity_deg[base]))
            gt_drop = np.array([f["pelvic_drop_2d"] if f["pelvic_drop_2d"] is not None else np.nan for f in frames])
            for grp in groups:
                err.add(("pelvic drop", "window", grp), drop[window], gt_drop[window])
                err.add(("pelvic drop", "bottom", grp), drop[bottoms], gt_drop[bottoms])
        print(f"  {cid:22s} yaw {clip['yaw_deg']:+4.0f}  est yaw {np.nanmedian(m.body_yaw_deg):+6.1f}  view {m.view}", file=sys.stderr)

    group_order = ["all"] + [f"yaw {y:2d}" for y in (0, 10, 20, 30)] + ["DL", "SL"] + \
                  [f"yaw {y:2d} {e}" for y in (0, 10, 20, 30) for e in ("DL", "SL")] + \
                  ["standard", "phone_low", "laptop", "turn-out <15°", "turn-out 15-30°", "turn-out >30°"]
    print(f"{args.set}, model {model.name}; errors = measured − truth (degrees; knee over foot: cm, against "
          "the truth's change from standing): bias / MAE / RMSE, 95% limits of agreement, n")
    for measure, where in [("fppa image", "window"), ("fppa image", "bottom"), ("fppa frontal", "window"),
                           ("fppa frontal", "bottom"), ("pelvic drop", "window"), ("pelvic drop", "bottom"),
                           ("trunk lean", "window"), ("trunk lean", "bottom"), ("body yaw", "clip"),
                           ("knee over foot cm", "30-100° bend"), ("knee over foot cm", "peak collapse"),
                           ("knee over foot cm (absolute truth)", "peak collapse")]:
        print(f"\n{measure} @ {where}")
        for grp in group_order:
            if (measure, where, grp) in err.e or (measure, where, grp) in err.missed:
                print(f"  {grp:12s} {err.row((measure, where, grp))}")


if __name__ == "__main__":
    main()
