#!/usr/bin/env python
"""Throughput: inference alone vs the whole CLI paths, side by side in one run.

(a) inference only: ``PoseEstimator.detect`` over frames decoded into memory beforehand;
(b) ``valgus-cam landmarks`` as the CLI runs it (threaded decode → pose → CSV), same clip and model;
(c) ``valgus-cam analyze --annotate`` as the CLI runs it (pose → measures → reps → verdicts →
    frames.csv, reps.json, annotated.mp4), wall time including model loading and writing.
Runs alternate a, b, c, a, b, c, ... (``--rounds``) so that machine noise hits all alike; the best
round of each is reported, with the ratios b/a and c/a. Targets: b/a >= 0.9, c/a >= 0.85.

    python benchmarks/throughput.py [--clip PATH] [--models lite full heavy] [--rounds 3]
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


def analyze_path(model: Path, clip: Path, frames: int) -> float:
    import contextlib
    import tempfile

    from valgus_cam.cli import main as cli_main

    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        rc = cli_main(["analyze", str(clip), "--out", out, "--annotate", "--no-progress", "--model", str(model)])
        wall = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"analyze failed with exit code {rc}")
    return frames / wall


def _first_frame(clip: Path):
    with VideoFileSource(clip) as src:
        return next(iter(src))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--models", nargs="+", default=["lite", "full", "heavy"])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if "VALGUS_CAM_MODEL_DIR" not in os.environ and (ROOT.parent / "shared" / "models").is_dir():
        os.environ["VALGUS_CAM_MODEL_DIR"] = str(ROOT.parent / "shared" / "models")

    with VideoFileSource(args.clip) as src:
        frames = list(src)
        w, h = src.size_wh
    print(f"clip: {args.clip.name}, {len(frames)} frames, {w}x{h}; cores: {os.cpu_count()}; "
          f"best of {args.rounds} alternating rounds")
    print(f"{'model':6s} {'(a) inference':>14s} {'(b) landmarks':>14s} {'(c) analyze':>12s} {'b/a':>6s} {'c/a':>6s}"
          f"   fps per round a | b | c")
    for name in args.models:
        model = resolve_model(name)
        a_runs, b_runs, c_runs = [], [], []
        for _ in range(args.rounds):
            a_runs.append(inference_only(model, frames))
            b_runs.append(full_path(model, args.clip))
            c_runs.append(analyze_path(model, args.clip, len(frames)))
        a, b, c = max(a_runs), max(b_runs), max(c_runs)
        print(f"{name:6s} {a:14.1f} {b:14.1f} {c:12.1f} {b / a:6.3f} {c / a:6.3f}   "
              f"{' '.join(f'{x:.0f}' for x in a_runs)} | {' '.join(f'{x:.0f}' for x in b_runs)} | "
              f"{' '.join(f'{x:.0f}' for x in c_runs)}")


if __name__ == "__main__":
    main()
