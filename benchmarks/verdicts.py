#!/usr/bin/env python
"""Reps and verdicts of the real pipeline against the exact per-rep ground truth of
../shared/synthetic (see its README): what ``valgus-cam analyze`` would put in reps.json.

Per clip: rep count; per matched rep (nearest bottom): |Δstart|, |Δbottom|, |Δend| (s), stance,
knee criterion (truth: severity "marked" must fail on the knee, "none"/"mild" must not; a rep
whose knee we refuse to judge is counted apart as "refused"), hands-off-hips and free-foot
touchdown events, trunk-lean error (peak lean relative to standing, toward the stance side).

    python benchmarks/verdicts.py [--model full] [--cache DIR] [--clips dev_000 ...] [-v]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy import SYNTHETIC, landmarks_for  # noqa: E402
from valgus_cam.models import resolve_model  # noqa: E402
from valgus_cam.pipeline import analyse_clip  # noqa: E402

KNEE_REASONS = ("knee_valgus_left", "knee_valgus_right", "knees_caving")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--model", default="full")
    ap.add_argument("--cache", type=Path, default=None, help="landmark CSV cache folder (read/written)")
    ap.add_argument("--clips", nargs="*", default=None, help="clip id prefixes (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per rep")
    a = ap.parse_args()
    model = resolve_model(a.model)
    if a.cache:
        a.cache.mkdir(parents=True, exist_ok=True)
    c = Counter()
    dstart, dbottom, dend, lean_err = [], [], [], []
    knee_by_yaw: dict[int, Counter] = {}
    print(f"{'clip':24s} {'yaw':>4s} reps(gt) knee ok/judged refused  hands  touchdown  max|Δ| start/bottom/end s")
    for jf in sorted(SYNTHETIC.glob("dev_*.json")):
        if a.clips and not any(jf.stem.startswith(p) for p in a.clips):
            continue
        gt = json.loads(jf.read_text())
        series = landmarks_for(jf.with_suffix(".mp4"), model, a.cache)
        an = analyse_clip(series)
        t = series.time_s
        yaw = int(round(abs(gt["camera"]["yaw_deg"])))
        kc = knee_by_yaw.setdefault(yaw, Counter())
        c["clips"] += 1
        c["count_ok"] += len(an.results) == len(gt["reps"])
        row = Counter()
        ds = []
        for g in gt["reps"]:
            if not an.results:
                break
            r = min(an.results, key=lambda r: abs(r.bottom_frame - g["bottom"]))
            d = (abs(t[r.start_frame] - t[g["start"]]), abs(t[r.bottom_frame] - t[g["bottom"]]),
                 abs(t[r.end_frame] - t[g["end"]]))
            ds.append(d)
            dstart.append(d[0]), dbottom.append(d[1]), dend.append(d[2])
            c["reps"] += 1
            c["stance_ok"] += r.stance == g["stance"]
            must_fail = g["valgus_severity"] == "marked"
            knee_fail = any(x in r.reasons for x in KNEE_REASONS)
            judged = not any(s.startswith("knee") for s in r.not_measured)
            if judged:
                row["judged"] += 1
                row["knee_ok"] += knee_fail == must_fail
                kc["judged"] += 1
                kc["ok"] += knee_fail == must_fail
            else:
                row["refused"] += 1
                kc["refused"] += 1
            if g["stance"] != "both":
                row["hands_ok"] += ("hands_off_hips" in r.reasons) == bool(g["hands_off_event"])
                row["td_ok"] += bool(r.balance_lost) == bool(g["free_foot_touchdown"])
                row["single"] += 1
                if r.trunk_lean_deg is not None:
                    lean_err.append(abs(r.trunk_lean_deg) - g["trunk_lean_2d_rel_peak_abs"])
            if a.verbose:
                gtf = [g[f"fppa_frontal_bottom_{s}"] for s in ("l", "r")]
                print(f"    rep {r.index}: gt {g['valgus_severity']:6s} {g['stance']:5s} frontal bottom L {gtf[0]} R {gtf[1]} "
                      f"ours L {r.fppa_frontal_left_deg} R {r.fppa_frontal_right_deg} sep {r.knee_separation_ratio} "
                      f"{r.verdict} {','.join(r.reasons)}  hands gt {g['hands_off_event']} td gt {g['free_foot_touchdown']}")
        for k in ("judged", "knee_ok", "refused", "hands_ok", "td_ok", "single"):
            c[k] += row[k]
        mx = np.max(ds, axis=0) if ds else (np.nan,) * 3
        print(f"{jf.stem:24s} {yaw:4d} {len(an.results):4d}({len(gt['reps'])})  {row['knee_ok']:4d}/{row['judged']:<4d}"
              f" {row['refused']:5d}   {row['hands_ok']}/{row['single']}     {row['td_ok']}/{row['single']}"
              f"       {mx[0]:.2f} / {mx[1]:.2f} / {mx[2]:.2f}")
    print()
    print(f"rep count exact: {c['count_ok']}/{c['clips']} clips")
    print(f"stance right: {c['stance_ok']}/{c['reps']} reps")
    for name, v in (("start", dstart), ("bottom", dbottom), ("end", dend)):
        if v:
            v = np.asarray(v)
            print(f"|Δ{name}|: median {np.median(v):.2f} s, max {v.max():.2f} s, within 0.2 s: {np.mean(v <= 0.2):.0%}")
    print(f"knee criterion agrees: {c['knee_ok']}/{c['judged']} judged reps "
          f"({c['knee_ok'] / max(c['judged'], 1):.0%}); refused (not measurable): {c['refused']}/{c['reps']}")
    for yaw in sorted(knee_by_yaw):
        k = knee_by_yaw[yaw]
        print(f"    yaw {yaw:2d}°: {k['ok']}/{k['judged']} agree, {k['refused']} refused")
    print(f"hands-off-hips event agrees: {c['hands_ok']}/{c['single']} single-leg reps")
    print(f"free-foot touchdown agrees: {c['td_ok']}/{c['single']} single-leg reps")
    if lean_err:
        e = np.asarray(lean_err)
        print(f"trunk lean (peak, vs standing): bias {e.mean():+.1f}°, MAE {np.abs(e).mean():.1f}° (n={e.size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
