#!/usr/bin/env python
"""Throughput: inference alone vs the whole CLI paths, side by side in one run.

(a) inference only: ``PoseEstimator.detect`` over frames decoded into memory beforehand;
(b) ``valgus-cam landmarks`` as the CLI runs it (threaded decode → pose → CSV), same clip and model;
(c) ``valgus-cam analyze --annotate`` as the CLI runs it (pose → measures → reps → verdicts →
    frames.csv, reps.json, annotated.mp4 drawn during the pose pass), wall time including model
    loading and writing;
(d) the same with annotated.mp4 drawn in a second pass over the clip (what (c) falls back to when
    what it drew early is not final);
(e) ``valgus-cam analyze`` without ``--annotate``: what analyze costs before any video is drawn.
Runs alternate a, b, c, d, e, a, b, ... (``--rounds``) so that machine noise hits all alike; the best
round of each is reported, with the ratios to (a). Targets: b/a >= 0.9, c/a >= 0.85.

``--clips``: instead, ``analyze --annotate`` (lite) on every shared clip, printing whether the
single pass kept its drawing or fell back to the second pass, and why.

    python benchmarks/throughput.py [--clip PATH] [--models lite full heavy] [--rounds 3] [--clips]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from valgus_cam.capture import VideoFileSource  # noqa: E402
from valgus_cam.models import resolve_model  # noqa: E402
from valgus_cam.pipeline import run_landmarks  # noqa: E402
from valgus_cam.pose import PoseEstimator  # noqa: E402
from valgus_cam.sinks import LandmarkCsvWriter  # noqa: E402

DEFAULT_CLIP = ROOT.parent / "shared" / "clips" / "front_dumbbell_squat_5reps__nowva.mp4"


def inference_only(model: Path, frames) -> float:
    with PoseEstimator(model) as est:
        est.detect(frames[0].image_bgr, frames[0].time_s)  # warm-up outside the clock
        t0 = time.perf_counter()
        for f in frames[1:]:
            est.detect(f.image_bgr, f.time_s)
        return (len(frames) - 1) / (time.perf_counter() - t0)


def full_path(model: Path, clip: Path) -> float:
    with PoseEstimator(model) as est:
        est.detect(_first_frame(clip).image_bgr, 0.0)  # same warm-up as (a)
    with PoseEstimator(model) as est, VideoFileSource(clip) as src:
        stats = run_landmarks(src, est, LandmarkCsvWriter(io.StringIO()))
    return stats.processed_fps


def analyze_path(model: Path, clip: Path, frames: int, annotate: bool = True) -> float:
    import contextlib
    import tempfile

    from valgus_cam.cli import main as cli_main

    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        rc = cli_main(["analyze", str(clip), "--out", out, "--no-progress", "--model", str(model)]
                      + (["--annotate"] if annotate else []))
        wall = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"analyze failed with exit code {rc}")
    return frames / wall


class _SecondPassOnly:
    """Stands in for overlay.SinglePassAnnotator: draws nothing early, so analyze draws the video
    in its second pass (run (d))."""

    def __init__(self, *a, **k):
        self.on_frame = lambda frame, pose: None

    def stop(self):
        pass

    def finish(self, series, a) -> bool:
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def second_pass_path(model: Path, clip: Path, frames: int) -> float:
    from unittest import mock

    with mock.patch("valgus_cam.overlay.SinglePassAnnotator", _SecondPassOnly):
        return analyze_path(model, clip, frames)


def check_clips(model: Path) -> None:
    """Which clips keep the single pass's drawing."""
    import tempfile

    import valgus_cam
    from valgus_cam import overlay

    seen = {}
    finish = overlay.SinglePassAnnotator.finish

    def spy(self, series, a):
        kept = finish(self, series, a)
        seen.update(kept=kept, early=self.frames_drawn_early, n=len(series.time_s), why=self.mismatch)
        return kept

    overlay.SinglePassAnnotator.finish = spy
    clips = sorted((ROOT.parent / "shared" / "clips").glob("*.mp4"))
    kept = 0
    for clip in clips:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            valgus_cam.analyze(clip, out=out, model=model, annotate=True)
            wall = time.perf_counter() - t0
        kept += seen["kept"]
        print(f"{clip.name[:48]:48s} {'single pass' if seen['kept'] else 'second pass':11s} drawn early "
              f"{seen['early']:4d}/{seen['n']:4d}  {wall:5.1f} s  {seen['why'] or ''}", flush=True)
    print(f"single pass kept on {kept}/{len(clips)} clips")


def _first_frame(clip: Path):
    with VideoFileSource(clip) as src:
        return next(iter(src))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--models", nargs="+", default=["lite", "full", "heavy"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clips", action="store_true", help="which shared clips keep the single pass (lite)")
    args = ap.parse_args()
    if "VALGUS_CAM_MODEL_DIR" not in os.environ and (ROOT.parent / "shared" / "models").is_dir():
        os.environ["VALGUS_CAM_MODEL_DIR"] = str(ROOT.parent / "shared" / "models")
    if args.clips:
        check_clips(resolve_model("lite"))
        return

    with VideoFileSource(args.clip) as src:
        frames = list(src)
        w, h = src.size_wh
    print(f"clip: {args.clip.name}, {len(frames)} frames, {w}x{h}; cores: {os.cpu_count()}; "
          f"best of {args.rounds} alternating rounds")
    print(f"{'model':6s} {'(a) inference':>14s} {'(b) landmarks':>14s} {'(c) analyze':>12s} {'(d) 2nd pass':>12s}"
          f" {'(e) no video':>12s} {'b/a':>6s} {'c/a':>6s} {'d/a':>6s} {'e/a':>6s}   fps per round a | b | c | d | e")
    for name in args.models:
        model = resolve_model(name)
        runs = {k: [] for k in "abcde"}
        for _ in range(args.rounds):
            runs["a"].append(inference_only(model, frames))
            runs["b"].append(full_path(model, args.clip))
            runs["c"].append(analyze_path(model, args.clip, len(frames)))
            runs["d"].append(second_pass_path(model, args.clip, len(frames)))
            runs["e"].append(analyze_path(model, args.clip, len(frames), annotate=False))
        best = {k: max(v) for k, v in runs.items()}
        a = best["a"]
        print(f"{name:6s} {a:14.1f} {best['b']:14.1f} {best['c']:12.1f} {best['d']:12.1f} {best['e']:12.1f} "
              + " ".join(f"{best[k] / a:6.3f}" for k in "bcde") + "   "
              + " | ".join(" ".join(f"{x:.0f}" for x in runs[k]) for k in "abcde"))


if __name__ == "__main__":
    main()
