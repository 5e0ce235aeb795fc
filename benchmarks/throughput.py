#!/usr/bin/env python
"""Throughput: inference alone vs the whole CLI paths, side by side in one run.

(a) inference only: ``PoseEstimator.detect`` over frames decoded into memory beforehand;
(b) ``valgus-cam landmarks`` as the CLI runs it (threaded decode → pose → CSV), same clip and model;
(c) ``valgus-cam analyze --annotate`` as the CLI runs it (pose → measures → reps → verdicts →
    frames.csv, reps.json, annotated.mp4 drawn during the pose pass), wall time including model
    loading and writing;
(d) the same with annotated.mp4 drawn in a second pass over the clip (what (c) falls back to when
    what it drew early is not final);
(e) ``valgus-cam analyze`` without ``--annotate``: what analyze costs before any video is drawn;
(f) (c) with the annotated video encoded as before issue 17: OpenCV's ``mp4v`` (MPEG-4 Part 2) in
    place of H.264 (``_Mp4vSink``, the old ``sinks.VideoWriterSink``), same machinery otherwise.
Runs alternate a, b, c, d, e, f, a, b, ... (``--rounds``) so that machine noise hits all alike; the
best round of each is reported, with the ratios to (a). Targets: b/a >= 0.9, c/a >= 0.85.
Then the annotated video of (c) against (f): file size per minute of video and the encoder's wall
time per frame (the frames of the H.264 file encoded again by each encoder, one after the other).

``--clips``: instead, ``analyze --annotate`` (lite) on every shared clip, printing whether the
single pass kept its drawing or fell back to the second pass, and why.
``--sizes``: instead, per shared clip, annotated.mp4's size per minute in H.264 and in mp4v.

    python benchmarks/throughput.py [--clip PATH] [--models lite full heavy] [--rounds 3] [--clips] [--sizes]
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


class _Mp4vSink:
    """The annotated video's writer before issue 17 (OpenCV's mp4v on a background thread; the
    checks of the real one left out), for (f) and the size comparison."""

    def __init__(self, path, fps, size_wh, queue_size: int = 16):
        import queue
        import threading

        import cv2

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps or 30.0),
                                       tuple(int(v) for v in size_wh))
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.frames = 0

    def _run(self):
        while (img := self._q.get()) is not None:
            self._writer.write(img)

    def write(self, img):
        self._q.put(img)
        self.frames += 1

    def close(self, keep: bool = True):
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        self._writer.release()
        if not keep:
            self.path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(keep=exc_type is None)


def mp4v_path(model: Path, clip: Path, frames: int) -> float:
    from unittest import mock

    with mock.patch("valgus_cam.sinks.VideoWriterSink", _Mp4vSink):
        return analyze_path(model, clip, frames)


def video_sizes(model: Path, clip: Path) -> dict:
    """annotated.mp4 of ``analyze --annotate`` (H.264) and its frames encoded again with each
    encoder: MB per minute of video, and ms of wall time per frame to encode (alone)."""
    import contextlib
    import tempfile

    import cv2

    from valgus_cam.cli import main as cli_main
    from valgus_cam.sinks import VideoWriterSink

    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        if cli_main(["analyze", str(clip), "--out", out, "--no-progress", "--model", str(model), "--annotate"]):
            raise SystemExit("analyze failed")
        ann = Path(out) / "annotated.mp4"
        cap = cv2.VideoCapture(str(ann))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        imgs = []
        while True:
            ok, img = cap.read()
            if not ok:
                break
            imgs.append(img)
        cap.release()
        wh = (imgs[0].shape[1], imgs[0].shape[0])
        minutes = len(imgs) / fps / 60
        got = {"frames": len(imgs), "fps": fps, "wh": wh, "analyze_h264_mb_min": ann.stat().st_size / 1e6 / minutes}
        for name, sink in (("h264", VideoWriterSink), ("mp4v", _Mp4vSink)):
            path = Path(out) / f"{name}.mp4"
            t0 = time.perf_counter()
            with sink(path, fps, wh) as w:
                for img in imgs:
                    w.write(img)
            got[f"{name}_ms"] = 1000 * (time.perf_counter() - t0) / len(imgs)
            got[f"{name}_mb_min"] = path.stat().st_size / 1e6 / minutes
    return got


def print_sizes(model: Path, clips) -> None:
    print(f"{'clip':48s} {'size':>9s} {'s':>5s} {'H.264 MB/min':>12s} {'mp4v MB/min':>11s} {'ratio':>6s}"
          f" {'H.264 ms/fr':>11s} {'mp4v ms/fr':>10s}")
    for clip in clips:
        g = video_sizes(model, clip)
        print(f"{clip.name[:48]:48s} {g['wh'][0]:4d}x{g['wh'][1]:<4d} {g['frames'] / g['fps']:5.1f} "
              f"{g['analyze_h264_mb_min']:12.1f} {g['mp4v_mb_min']:11.1f} "
              f"{g['mp4v_mb_min'] / g['analyze_h264_mb_min']:6.1f} {g['h264_ms']:11.1f} {g['mp4v_ms']:10.1f}",
              flush=True)


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
    ap.add_argument("--sizes", action="store_true", help="annotated.mp4 per shared clip: H.264 vs mp4v (lite)")
    ap.add_argument("--preset", help="x264 preset of annotated.mp4 (default: sinks.H264_PRESET)")
    args = ap.parse_args()
    if args.preset:
        import valgus_cam.sinks

        valgus_cam.sinks.H264_PRESET = args.preset
    if "VALGUS_CAM_MODEL_DIR" not in os.environ and (ROOT.parent / "shared" / "models").is_dir():
        os.environ["VALGUS_CAM_MODEL_DIR"] = str(ROOT.parent / "shared" / "models")
    if args.clips:
        check_clips(resolve_model("lite"))
        return
    if args.sizes:
        print_sizes(resolve_model("lite"), sorted((ROOT.parent / "shared" / "clips").glob("*.mp4")))
        return

    with VideoFileSource(args.clip) as src:
        frames = list(src)
        w, h = src.size_wh
    import valgus_cam.sinks

    print(f"clip: {args.clip.name}, {len(frames)} frames, {w}x{h}; cores: {os.cpu_count()}; "
          f"best of {args.rounds} alternating rounds; x264 preset {valgus_cam.sinks.H264_PRESET}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':6s} {'(a) inference':>14s} {'(b) landmarks':>14s} {'(c) analyze':>12s} {'(d) 2nd pass':>12s}"
          f" {'(e) no video':>12s} {'(f) c, mp4v':>12s} {'b/a':>6s} {'c/a':>6s} {'d/a':>6s} {'e/a':>6s} {'f/a':>6s}"
          "   fps per round a | b | c | d | e | f")
    for name in args.models:
        model = resolve_model(name)
        runs = {k: [] for k in "abcdef"}
        for _ in range(args.rounds):
            runs["a"].append(inference_only(model, frames))
            runs["b"].append(full_path(model, args.clip))
            runs["c"].append(analyze_path(model, args.clip, len(frames)))
            runs["d"].append(second_pass_path(model, args.clip, len(frames)))
            runs["e"].append(analyze_path(model, args.clip, len(frames), annotate=False))
            runs["f"].append(mp4v_path(model, args.clip, len(frames)))
        best = {k: max(v) for k, v in runs.items()}
        a = best["a"]
        print(f"{name:6s} {a:14.1f} {best['b']:14.1f} {best['c']:12.1f} {best['d']:12.1f} {best['e']:12.1f} "
              f"{best['f']:12.1f} " + " ".join(f"{best[k] / a:6.3f}" for k in "bcdef") + "   "
              + " | ".join(" ".join(f"{x:.0f}" for x in runs[k]) for k in "abcdef"), flush=True)
    print()
    print_sizes(resolve_model("lite"), [args.clip])


if __name__ == "__main__":
    main()
