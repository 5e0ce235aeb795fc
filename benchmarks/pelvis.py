#!/usr/bin/env python
"""Pelvic drop (waistband line, valgus_cam.pelvis) and hip drift against the exact ground truth of
../shared/synthetic2's single-leg clips (dev2_*_single_*; see its README and
../shared/tools/synthetic/FORMAT_ADDITIONS.md).

Per clip: landmarks (cached CSVs, ``--cache``; computed with the full model if absent), the
video decoded once to cut the per-frame waist crops (pelvis.crop_waist), the standing baseline
(measures.standing_baseline, via compute_frame_measures), then:
* per-frame pelvic drop vs ``pelvic_drop_2d`` (the truth's hip-joint-centre line, change from its
  standing baseline, + = free side lower) on every frame inside a rep: bias / MAE / RMSE, 95%
  limits of agreement, n, and the share the trust gate refused; the same for MediaPipe's hip
  points (the old cue) for comparison. (Our obliquity is relative to our baseline and the truth's
  drop to its own, so this is the per-frame obliquity change; the band's absolute angle differs
  from the hip-joint line by a per-clip constant, reported as "abs. offset".)
* absolute obliquity (the band's image tilt, + = left side higher, no baseline subtracted) vs
  ``pelvis_obliquity_2d``: adds the per-clip band-vs-hip-line offset;
* per rep: peak drop (pelvis.rep_peak_drop) vs ``pelvic_drop_2d_peak``; coverage (reps with a
  value); verdict "drop > 10°" agreement with the truth's peak > 10°;
* hip offset (FrameMeasures.hip_offset_*_cm, pelvis.hip_offset_cm; cm through the clip's true
  body height as a user would type it with --height-cm) vs the truth: j3d mid_pelvis − stance
  ankle along world X (the subject's mediolateral axis), + = outward (toward the stance side); per
  frame in reps; and the rep's hip drift (the verdict's measure: change from the rep's first
  0.15 s, its highest value over the rep) against the same from the truth.
Groups: all, |camera yaw|, arm position, free leg front/back.

Real footage (``--multiview``): the four synchronised views of ../shared/clips/
multiview_singleleg_balance_cam0{1..4}__pose2sim.mp4 (60 fps, 100 frames; no truth). Baseline =
frames 0-9 in every view (the person stands still only at the start; a large whole-body lean
follows); per view: obliquity change (+ = subject's left higher, so no stance side is needed)
over frames 0-19 (max |value|, SD, share measured); for each pair of views the median absolute
difference of the obliquity change over the frames both measure, band and MediaPipe hip points.

    python benchmarks/pelvis.py [--cache ../cache/full] [--clips dev2_001 ...] [--per-clip] [--multiview [--multiview-cache DIR]]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

from dataclasses import replace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from valgus_cam import pelvis as P  # noqa: E402
from valgus_cam.api import waist_strips  # noqa: E402
from valgus_cam.measures import SHANK_PER_HEIGHT, GateConfig, compute_frame_measures  # noqa: E402
from valgus_cam.pipeline import waistband_tilt  # noqa: E402
from valgus_cam.models import resolve_model  # noqa: E402
from valgus_cam.verdicts import Thresholds  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from accuracy import Errors, landmarks_for  # noqa: E402

SYNTHETIC2 = ROOT.parent / "shared" / "synthetic2"


def strips_for(video: Path, s) -> list:
    """The product's waist crops (api.waist_strips) of every frame."""
    n = len(s.time_s)
    return waist_strips(str(video), s, np.arange(n), np.ones(n, bool))


def rep_drift(x: np.ndarray, t: np.ndarray, start: int, end: int, sustain_s: float = 0.15) -> float:
    """A rep's hip drift as the verdict takes it: the change from the median of the rep's first
    ``sustain_s``, its highest value over the rep (the verdict holds it ``sustain_s``; not here)."""
    seg = x[start:end + 1]
    first = seg[t[start:end + 1] - t[start] <= sustain_s + 1e-9]
    first = first[np.isfinite(first)]
    if not first.size or not np.isfinite(seg).any():
        return float("nan")
    return float(np.nanmax(seg) - np.median(first))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="full")
    ap.add_argument("--cache", type=Path, default=None, help="folder of landmark CSVs (written if absent)")
    ap.add_argument("--clips", nargs="*", default=None, help="clip id prefixes (default: all single-leg)")
    ap.add_argument("--data", type=Path, default=SYNTHETIC2,
                    help="a folder of renders in synthetic2's format with its manifest.json (default: "
                         "../shared/synthetic2; e.g. a held-out set made with another seed)")
    ap.add_argument("--per-clip", action="store_true", help="print a line per clip and per rep")
    ap.add_argument("--multiview", action="store_true", help="also the real 4-view balance clips (no truth)")
    ap.add_argument("--multiview-cache", type=Path, default=None,
                    help="folder of landmark CSVs for the real clips (kept apart from the synthetic cache)")
    args = ap.parse_args()
    if "VALGUS_CAM_MODEL_DIR" not in os.environ and (ROOT.parent / "shared" / "models").is_dir():
        os.environ["VALGUS_CAM_MODEL_DIR"] = str(ROOT.parent / "shared" / "models")
    model = resolve_model(args.model)
    data = args.data
    manifest = json.loads((data / "manifest.json").read_text())

    frame_err, mp_err, drift_err, abs_err = Errors(), Errors(), Errors(), Errors()
    drift_peaks = []
    peak_err, drift_peak_err = Errors(), Errors()
    refusals = defaultdict(lambda: defaultdict(int))
    verdict = defaultdict(lambda: [0, 0, 0])  # agree, measured reps, all reps
    confusion = defaultdict(int)  # all groups together: (truth above, measured above) on measured reps
    truth_above = []
    offsets = []
    for clip in manifest["clips"]:
        cid = clip["clip_id"]
        if clip["exercise"] != "single_leg_squat" or (args.clips and not any(cid.startswith(p) for p in args.clips)):
            continue
        gt = json.loads((data / clip["gt"]).read_text())
        s = landmarks_for(data / clip["video"], model, args.cache)
        m = compute_frame_measures(s, GateConfig(shank_cm=SHANK_PER_HEIGHT * 100 * clip["height_m"]))
        stance = clip["stance"]
        tilt = waistband_tilt(s, strips_for(data / clip["video"], s), m.baseline)
        res = replace(tilt, drop_deg=(1.0 if stance == "left" else -1.0) * tilt.drop_deg)
        offset_cm = m.hip_offset_left_cm if stance == "left" else m.hip_offset_right_cm

        frames = gt["frames"]
        n = min(len(frames), len(s.xy_px))
        rep = np.array([f["rep"] for f in frames])[:n]
        in_rep = rep >= 0
        gt_drop = np.array([np.nan if f["pelvic_drop_2d"] is None else f["pelvic_drop_2d"] for f in frames])[:n]
        gt_obl = np.array([f["pelvis_obliquity_2d"] for f in frames])[:n]
        sign = 1.0 if stance == "left" else -1.0
        mp_obl = P.hip_line_obliquity_deg(s.xy_px)
        mp_drop = sign * (mp_obl - np.nanmedian(mp_obl[m.baseline]))
        sidx = "l" if stance == "left" else "r"
        mpx = np.array([f["j3d"]["mid_pelvis"][0] for f in frames])[:n]
        ank = np.array([f["j3d"][f"ankle_{sidx}"][0] for f in frames])[:n]
        b0, b1 = gt["conventions"]["baseline_frames"]
        true_offset_cm = 100 * sign * (mpx - ank)
        offsets.append(np.nanmedian(res.obliquity_deg[m.baseline]) - np.mean(gt_obl[b0:b1 + 1]))

        yaw = f"yaw {abs(int(clip['yaw_deg'])):2d}"
        groups = ("all", yaw, f"arms {clip['arms']}", f"free leg {clip['free_leg']}")
        for grp in groups:
            frame_err.add(grp, res.drop_deg[:n][in_rep], gt_drop[in_rep])
            abs_err.add(grp, res.obliquity_deg[:n][in_rep], gt_obl[in_rep])
            mp_err.add(grp, mp_drop[:n][in_rep], gt_drop[in_rep])
            drift_err.add(grp, offset_cm[:n][in_rep], true_offset_cm[in_rep])
            for r in res.refused[:n][in_rep]:
                refusals[grp][r or "measured"] += 1
        lines = []
        for r in gt["reps"]:
            pk = P.rep_peak_drop(res.drop_deg, r["start"], r["end"])
            tp = r["pelvic_drop_2d_peak"]
            dpk = rep_drift(offset_cm, s.time_s, r["start"], r["end"])
            tdpk = rep_drift(true_offset_cm, s.time_s, r["start"], r["end"])
            drift_peaks.append((dpk, tdpk))
            for grp in groups:
                peak_err.add(grp, [pk], [tp])
                drift_peak_err.add(grp, [dpk], [tdpk])
                v = verdict[grp]
                v[2] += 1
                if np.isfinite(pk):
                    v[1] += 1
                    v[0] += int((pk > P.DROP_LIMIT_DEG) == (tp > P.DROP_LIMIT_DEG))
            lines.append(f"{pk:+5.1f}/{tp:+5.1f}")
            truth_above.append(tp > P.DROP_LIMIT_DEG)
            if np.isfinite(pk):
                confusion[(tp > P.DROP_LIMIT_DEG, pk > P.DROP_LIMIT_DEG)] += 1
        if args.per_clip:
            e = res.drop_deg[:n][in_rep] - gt_drop[in_rep]
            print(f"  {cid:22s} yaw {clip['yaw_deg']:+4.0f} {clip['arms']:8s} free {clip['free_leg']:5s} "
                  f"{clip['camera_setup']:9s} measured {np.isfinite(e).mean():4.0%} bias {np.nanmean(e):+5.1f} "
                  f"MAE {np.nanmean(np.abs(e)):4.1f} | peaks meas/true {' '.join(lines)}", file=sys.stderr)

    keys = ["all"] + sorted(k for k in frame_err.e.keys() | frame_err.missed.keys() if k.startswith("yaw")) \
        + sorted(k for k in frame_err.e.keys() | frame_err.missed.keys() if k.startswith("arms")) \
        + sorted(k for k in frame_err.e.keys() | frame_err.missed.keys() if k.startswith("free"))
    print("errors = measured − truth: bias / MAE / RMSE, 95% limits of agreement (bias ± 1.96 SD), n; "
          "'gated' = refused by the trust gate")
    def block(title: str, err) -> None:
        print(f"\n{title}")
        for k in keys:
            print(f"  {k:16s} {err.row(k)}")

    block("pelvic drop per frame (waistband), rep frames, vs pelvic_drop_2d (deg)", frame_err)
    block("absolute pelvic obliquity per frame (waistband, no baseline), rep frames, vs pelvis_obliquity_2d (deg)",
          abs_err)
    block("pelvic drop per frame (MediaPipe hip points, for comparison)", mp_err)
    print("\ntrust gate (rep frames): " + ", ".join(f"{r} {c}" for r, c in sorted(refusals['all'].items())))
    print(f"band line vs hip-joint line at baseline (abs. offset, deg): median {np.median(offsets):+.1f}, "
          f"range {np.min(offsets):+.1f}..{np.max(offsets):+.1f}")
    print(f"\nper-rep peak drop vs pelvic_drop_2d_peak (deg); verdict: peak > {P.DROP_LIMIT_DEG:.0f}°")
    for k in keys:
        a, meas, tot = verdict[k]
        agree = f"{a}/{meas} = {a / meas:4.0%}" if meas else "-"
        print(f"  {k:16s} {peak_err.row(k)}  coverage {meas}/{tot}  verdict agrees {agree}")
    print(f"  measured reps: truth above & measured above {confusion[(True, True)]}, truth above & measured below "
          f"{confusion[(True, False)]}, truth below & measured above {confusion[(False, True)]}, both below "
          f"{confusion[(False, False)]}; reps with truth above the limit: {sum(truth_above)}/{len(truth_above)} "
          f"(a verdict that always passes agrees on {len(truth_above) - sum(truth_above)}/{len(truth_above)})")
    block("hip offset per frame (pelvis centre outside the stance ankle; rep frames) vs truth, cm (height given)",
          drift_err)
    block("hip drift per rep (outward from the rep's start, its highest value), cm", drift_peak_err)
    dp = np.array(drift_peaks, float)
    ok = np.isfinite(dp).all(axis=1)
    print(f"  hip drift verdict (> {Thresholds().hip_drift_max_cm:.1f} cm): measured {ok.sum()}/{len(dp)} reps, "
          f"truth above {int((dp[:, 1] > Thresholds().hip_drift_max_cm).sum())}, measured above "
          f"{int((dp[ok, 0] > Thresholds().hip_drift_max_cm).sum())}; largest measured {np.nanmax(dp[:, 0]):.1f} cm, "
          f"largest true {np.nanmax(dp[:, 1]):.1f} cm")
    if args.multiview:
        multiview(model, args.multiview_cache)


def multiview(model: Path, cache: Path | None) -> None:
    clips = ROOT.parent / "shared" / "clips"
    base = slice(0, 10)
    band, hips = {}, {}
    print("\nreal 4-view single-leg balance clip (60 fps): obliquity change from frames 0-9, + = left higher")
    for i in range(1, 5):
        video = clips / f"multiview_singleleg_balance_cam0{i}__pose2sim.mp4"
        s = landmarks_for(video, model, cache)
        res = waistband_tilt(s, strips_for(video, s), base)  # + = left side higher, change from frames 0-9
        band[i] = res.drop_deg
        h = P.hip_line_obliquity_deg(s.xy_px)
        hips[i] = h - np.nanmedian(h[base])
        still = band[i][:20]
        facing = "front" if P.facing(s.xy_px) > 0 else "back"
        print(f"  cam{i} ({facing}) frames 0-9: band max |change| {np.nanmax(np.abs(band[i][:10])):4.1f} "
              f"(MediaPipe hips {np.nanmax(np.abs(hips[i][:10])):4.1f}); frames 0-19: band measured {np.isfinite(still).mean():4.0%} max |change| "
              f"{np.nanmax(np.abs(still)):4.1f} SD {np.nanstd(still):3.1f}; MediaPipe hips max |change| "
              f"{np.nanmax(np.abs(hips[i][:20])):4.1f} SD {np.nanstd(hips[i][:20]):3.1f}; whole clip: band measured "
              f"{np.isfinite(band[i]).mean():4.0%}, range {np.nanmin(band[i]):+.0f}..{np.nanmax(band[i]):+.0f}")
    for a in range(1, 5):
        for b in range(a + 1, 5):
            d, dh = band[a] - band[b], hips[a] - hips[b]
            print(f"  cam{a} vs cam{b}: band |difference| median {np.nanmedian(np.abs(d)):4.1f} (n={np.isfinite(d).sum():3d}), "
                  f"MediaPipe hips {np.nanmedian(np.abs(dh)):4.1f}")


if __name__ == "__main__":
    main()
