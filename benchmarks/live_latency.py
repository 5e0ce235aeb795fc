#!/usr/bin/env python
"""Live loop latency: frames processed per second and the age of the frame being displayed.

The whole ``valgus-cam live`` loop (capture thread → pose → streaming analyser → drawing →
window) runs on a 30 fps clip paced in real time (``--realtime``: each frame is delivered at its
presentation time into a one-frame mailbox; a frame the loop has not taken when the next one is
due is dropped, as from a camera), for each model and MediaPipe running mode:

* VIDEO: ``detect_for_video`` blocks the loop for the inference;
* LIVE_STREAM: ``detect_async``, the result comes on MediaPipe's thread; the loop submits the next
  frame as soon as a result arrives, so that inference overlaps the drawing of the previous frame.

Per analysed frame the loop records the monotonic time the source delivered it (capture), the
time its picture was shown (display: after ``imshow`` + ``waitKey`` with ``--window``, else when
the picture is ready) and the pose time. Printed: frames processed per second, frames dropped,
displayed-frame age (display − capture) median and 95th percentile, inference median, and the
age minus inference in frame periods (target ≤ 1.5), plus the delay from a rep's end to its
verdict. Runs alternate over the configurations ``--rounds`` times (machine noise hits all alike);
the median round is reported. Targets: ≥ 30 frames/s processed with lite; age − inference ≤ 1.5
frame periods.

    python benchmarks/live_latency.py [--clip PATH] [--models lite full] [--modes video live_stream]
                                      [--rounds 2] [--seconds S] [--window] [--record]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from valgus_cam.live import LiveOptions, run_live  # noqa: E402
from valgus_cam.models import resolve_model  # noqa: E402

DEFAULT_CLIP = ROOT.parent / "shared" / "clips" / "front_dumbbell_squat_5reps__nowva.mp4"


def one_run(clip: Path, model: Path, mode: str, *, window: bool, record: bool, seconds: float | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        opts = LiveOptions(camera=str(clip), realtime=True, headless=not window, sound=False, replay=False,
                           inference=mode, record=Path(tmp) / "rec" if record else None, max_seconds=seconds)
        r = run_live(opts, model_path=model, out=lambda *a: None)
    age = r.display_s - r.capture_s
    skip = min(10, len(age) // 5)  # the first frames include the graph's warm-up
    age, inf = age[skip:], r.inference_s[skip:]
    period = 1.0 / 30.0
    return {"fps": r.processed_fps, "frames": r.frames, "dropped": r.dropped,
            "age_med_ms": 1000 * float(np.median(age)), "age_p95_ms": 1000 * float(np.percentile(age, 95)),
            "inf_med_ms": 1000 * float(np.median(inf)),
            "extra_med": float(np.median(age - inf)) / period, "extra_p95": float(np.percentile(age - inf, 95)) / period,
            "rep_lag_s": float(np.median(r.rep_lags_s)) if r.rep_lags_s else float("nan"), "reps": len(r.reps)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--models", nargs="+", default=["lite", "full"])
    ap.add_argument("--modes", nargs="+", default=["video", "live_stream"], choices=["video", "live_stream"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=None, help="stop each run after S s (default: the whole clip)")
    ap.add_argument("--window", action="store_true", help="show the real window (needs a display; Xvfb works)")
    ap.add_argument("--record", action="store_true", help="also record (raw + annotated video, CSVs)")
    args = ap.parse_args(argv)
    if args.window and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        ap.error("--window needs a display (DISPLAY)")
    if not args.clip.exists():
        ap.error(f"clip not found: {args.clip} (../shared beside the checkout)")
    models = {m: resolve_model(m) for m in args.models}
    configs = [(m, mode) for m in args.models for mode in args.modes]
    runs: dict = {c: [] for c in configs}
    for k in range(args.rounds):
        for c in (configs if k % 2 == 0 else configs[::-1]):
            runs[c].append(one_run(args.clip, models[c[0]], c[1], window=args.window, record=args.record,
                                   seconds=args.seconds))
            print(f"  round {k + 1}: {c[0]:5s} {c[1]:11s} {runs[c][-1]['fps']:5.1f} frames/s", file=sys.stderr)
    print(f"clip {args.clip.name}, paced at 30 fps in real time; display = "
          f"{'the window (imshow + waitKey)' if args.window else 'picture ready (headless)'}"
          f"{'; recording raw + annotated video' if args.record else ''}; cpu count {os.cpu_count()}; "
          f"median of {args.rounds} round(s)")
    head = (f"{'model':5s}  {'mode':11s}  {'frames/s':>8s}  {'dropped':>7s}  {'age med':>7s}  {'age p95':>7s}  "
            f"{'inference':>9s}  {'age-inf med':>11s}  {'age-inf p95':>11s}  {'verdict after rep end':>21s}")
    print(head)
    for c in configs:
        med = {k: float(np.median([r[k] for r in runs[c]])) for k in runs[c][0]}
        print(f"{c[0]:5s}  {c[1]:11s}  {med['fps']:8.1f}  {med['dropped']:7.0f}  {med['age_med_ms']:5.1f}ms  "
              f"{med['age_p95_ms']:5.1f}ms  {med['inf_med_ms']:7.1f}ms  {med['extra_med']:7.2f} fr  "
              f"{med['extra_p95']:7.2f} fr  {med['rep_lag_s']:19.2f} s")
    lite = [c for c in configs if c[0] == "lite"]
    if lite:
        best = max(lite, key=lambda c: np.median([r["fps"] for r in runs[c]]))
        fps = np.median([r["fps"] for r in runs[best]])
        extra = np.median([r["extra_med"] for r in runs[best]])
        print(f"targets (lite, {best[1]}): >= 30 frames/s processed: {'met' if fps >= 29.5 else 'NOT met'} "
              f"({fps:.1f}); age - inference <= 1.5 frame periods: {'met' if extra <= 1.5 else 'NOT met'} "
              f"({extra:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
