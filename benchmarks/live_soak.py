#!/usr/bin/env python
"""Live soak: a long session of the whole ``valgus-cam live`` loop, headless, on a clip looped and
paced in real time (as a camera delivers it), with the process's memory sampled throughout.

The clip is looped with FFmpeg's ``-stream_loop`` (stream copy, no re-encoding) into one file of
``--minutes`` of video, so the live loop sees one long camera-like stream: frames are delivered
at their presentation times and dropped when the loop is busy. Printed: RSS (resident memory)
at the start (after ``--warmup-s`` of session: the model, the decoder and the allocator's pools
are then in place), the middle and the end, its growth from start to end (target < 5%), frames
processed, frames dropped, reps reported, and whether the session ran to the end (target: no
dropped session).

    python benchmarks/live_soak.py [--clip PATH] [--minutes 30] [--model lite] [--record DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from valgus_cam.live import LiveOptions, run_live  # noqa: E402
from valgus_cam.models import resolve_model  # noqa: E402

DEFAULT_CLIP = ROOT.parent / "shared" / "clips" / "front_dumbbell_squat_5reps__nowva.mp4"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def looped(clip: Path, minutes: float, folder: Path) -> Path:
    import cv2
    import imageio_ffmpeg

    cap = cv2.VideoCapture(str(clip))
    seconds = cap.get(cv2.CAP_PROP_FRAME_COUNT) / (cap.get(cv2.CAP_PROP_FPS) or 30.0)
    cap.release()
    loops = max(0, int(minutes * 60 / seconds + 0.999) - 1)
    out = folder / f"soak_{clip.stem}.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", str(loops), "-i", str(clip),
                    "-an", "-c", "copy", "-t", f"{minutes * 60:.0f}", str(out)], check=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--model", default="lite")
    ap.add_argument("--warmup-s", type=float, default=60.0, help="session time of the 'start' memory sample")
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--record", type=Path, default=None, help="also record the session (disk: ~3 MB/s)")
    args = ap.parse_args()
    if "VALGUS_CAM_MODEL_DIR" not in os.environ and (ROOT.parent / "shared" / "models").is_dir():
        os.environ["VALGUS_CAM_MODEL_DIR"] = str(ROOT.parent / "shared" / "models")

    with tempfile.TemporaryDirectory() as tmp:
        video = looped(args.clip, args.minutes, Path(tmp))
        samples: list[tuple[float, float]] = []
        done = threading.Event()
        t0 = time.monotonic()

        def sampler():
            while not done.wait(args.sample_s):
                samples.append((time.monotonic() - t0, rss_mb()))

        threading.Thread(target=sampler, daemon=True).start()
        samples.append((0.0, rss_mb()))
        opts = LiveOptions(camera=str(video), realtime=True, headless=True, sound=False, replay=False,
                           record=args.record)
        error = None
        try:
            res = run_live(opts, model_path=resolve_model(args.model), out=lambda *_: None)
        except Exception as e:  # noqa: BLE001 - a dropped session is the result being measured
            res, error = None, f"{type(e).__name__}: {e}"
        done.set()
        after = rss_mb()  # the session closed: model, decoder and buffers released

    wall = time.monotonic() - t0
    start = min(samples, key=lambda s: abs(s[0] - args.warmup_s))
    mid = min(samples, key=lambda s: abs(s[0] - wall / 2))
    end = samples[-1]
    peak = max(s[1] for s in samples)
    print(f"clip: {args.clip.name} looped to {args.minutes:g} min, realtime-paced, headless, model {args.model}; "
          f"cores: {os.cpu_count()}")
    print(f"session: {'ran to the end' if error is None and res is not None and not res.interrupted else 'DROPPED'}"
          f"{'' if error is None else ' (' + error + ')'}; wall {wall / 60:.1f} min")
    if res is not None:
        print(f"frames processed {res.frames} ({res.processed_fps:.1f} frames/s), dropped by the paced source "
              f"{res.dropped}, reps reported {len(res.reps)}"
              f"{'' if res.ended_reason is None else ', ended: ' + res.ended_reason}")
    print(f"RSS MB: at {start[0]:.0f} s {start[1]:.1f} (start), at {mid[0]:.0f} s {mid[1]:.1f} (middle), "
          f"at {end[0]:.0f} s {end[1]:.1f} (end, last sample in the session); peak {peak:.1f}; before the session "
          f"{samples[0][1]:.1f}, after it closed {after:.1f}")
    print(f"RSS growth start -> end: {100 * (end[1] - start[1]) / start[1]:+.1f}% (target < 5%)")


if __name__ == "__main__":
    main()
