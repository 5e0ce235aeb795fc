#!/usr/bin/env python
"""What keeping the subject's identity costs, side by side in one run.

PoseEstimator looks for one person (MediaPipe ``num_poses=1``) and switches to two
(``num_poses=2``) only once the one-person landmarker has switched to somebody else
(``valgus_cam.pose``, ``valgus_cam.tracking``). This prints inference frames/s (frames decoded into
memory first, as in benchmarks/throughput.py (a)) for:

  (a) a one-person clip, default (one person looked for, the tracker checking each frame)
  (b) the same clip with two people looked for from the first frame (``look_for_two()``)
  (c) the two-person composite of tests/badfiles.py, default (switches when needed)
  (d) the same composite without identity keeping (``keep_identity=False``: the raw landmarker)

and, with ``--scan``, for every clip of ../shared/clips and ../shared/synthetic: whether the
default ever switched to looking for two people or refused a frame (single-person clips should
do neither, so their landmarks are exactly those of the raw landmarker).

    python benchmarks/identity.py [--model lite] [--rounds 3] [--scan]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from valgus_cam.capture import VideoFileSource  # noqa: E402
from valgus_cam.models import resolve_model  # noqa: E402
from valgus_cam.pose import PoseEstimator  # noqa: E402

SHARED = ROOT.parent / "shared"
ONE_PERSON = SHARED / "clips" / "front_dumbbell_squat_5reps__nowva.mp4"


def frames_of(path: Path):
    with VideoFileSource(path) as src:
        return list(src)


def fps(model: Path, frames, *, two_from_start: bool = False, keep_identity: bool = True):
    with PoseEstimator(model, keep_identity=keep_identity) as est:
        est.detect(frames[0].image_bgr, frames[0].time_s)  # warm-up outside the clock
        est.reset()
        if two_from_start:
            est.look_for_two()
        t0 = time.perf_counter()
        for f in frames:
            est.detect(f.image_bgr, f.time_s)
        wall = time.perf_counter() - t0
        lost = est.tracker.lost_frames if est.tracker else 0
        return len(frames) / wall, est.multi_person, lost


def scan(model: Path) -> None:
    clips = sorted((SHARED / "clips").glob("*.mp4")) + sorted((SHARED / "synthetic").glob("*.mp4"))
    print(f"\nscan ({model.name}): clip, frames, detected, switched to two people, frames refused")
    switched = 0
    for c in clips:
        n = det = 0
        with VideoFileSource(c) as src, PoseEstimator(model) as est:
            for f in src:
                det += est.detect(f.image_bgr, f.time_s) is not None
                n += 1
            switched += est.multi_person
            print(f"  {c.name:52s} {n:5d} {det:5d}  {'YES' if est.multi_person else 'no ':3s}  {est.tracker.lost_frames}")
    print(f"{switched} of {len(clips)} one-person clips switched")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="lite")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scan", action="store_true", help="check every shared clip for needless switches")
    args = ap.parse_args()
    if "VALGUS_CAM_MODEL_DIR" not in os.environ and (SHARED / "models").is_dir():
        os.environ["VALGUS_CAM_MODEL_DIR"] = str(SHARED / "models")
    import badfiles

    model = resolve_model(args.model)
    one = frames_of(ONE_PERSON)
    two = frames_of(badfiles.cached(badfiles.make_two_people)())
    runs = {k: [] for k in "abcd"}
    info = {}
    for _ in range(args.rounds):
        for key, frames, kw in (("a", one, {}), ("b", one, {"two_from_start": True}), ("c", two, {}),
                                ("d", two, {"keep_identity": False})):
            f, multi, lost = fps(model, frames, **kw)
            runs[key].append(f)
            info[key] = (multi, lost)
    best = {k: max(v) for k, v in runs.items()}
    print(f"model {model.name}; cores: {os.cpu_count()}; best of {args.rounds} alternating rounds; frames/s")
    print(f"  (a) one person, default             {best['a']:7.1f}   ({len(one)} frames, "
          f"switched: {info['a'][0]}, refused: {info['a'][1]})")
    print(f"  (b) one person, two looked for      {best['b']:7.1f}   b/a = {best['b'] / best['a']:.2f}")
    print(f"  (c) two people, default             {best['c']:7.1f}   ({len(two)} frames, "
          f"switched: {info['c'][0]}, subject lost: {info['c'][1]} frames)")
    print(f"  (d) two people, raw landmarker      {best['d']:7.1f}   c/d = {best['c'] / best['d']:.2f}")
    print("  per round a | b | c | d: " + " | ".join(" ".join(f"{x:.0f}" for x in runs[k]) for k in "abcd"))
    if args.scan:
        scan(model)


if __name__ == "__main__":
    main()
