"""The annotated video: a clip's analysis turned into one :class:`annotate.OverlayFrame` per frame
(pure), and the second pass over the video that draws and encodes them.

Why a second pass: the numbers drawn are the final ones (zero-phase filtered, gated, with the
verdicts of reps.json), which exist only once the whole clip has been seen. Decoding runs in the
source's read-ahead thread and encoding in the writer's thread, so the pass costs about one
decode per frame; ``benchmarks/throughput.py`` measures it against inference alone.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .annotate import OverlayFrame, Verdict, draw_overlay
from .measures import LandmarkSeries
from .pipeline import ClipAnalysis
from .verdicts import RepResult

BANNER_HOLD_S = 1.5  # how long a rep's PASS / FAIL banner stays up after the rep ends


def rep_verdict(r: RepResult, a: ClipAnalysis) -> Verdict:
    """The banner of rep ``r``: its verdict, reasons, and the values and limits behind them."""
    values, limits = {}, {}
    for side in ("left", "right"):
        v = r.fppa_frontal_left_deg if side == "left" else r.fppa_frontal_right_deg
        if v is not None:
            values[f"knee_valgus_{side}"] = v
    if r.trunk_lean_deg is not None:
        values["trunk_lean"] = abs(r.trunk_lean_deg)
        limits["trunk_lean"] = a.thresholds.trunk_lean_max_deg
    reasons = r.reasons if r.verdict != "unmeasurable" else ("knee_not_measurable",)
    return Verdict(rep_index=r.index, verdict=r.verdict, reasons=tuple(reasons), stance=r.stance,
                   values=values, limits=limits)


def overlay_frames(a: ClipAnalysis, series: LandmarkSeries) -> Iterator[OverlayFrame]:
    """One overlay per frame of ``series``: skeleton, the stance knee(s)' frontal-plane FPPA, trunk
    lean relative to standing, reps done, the last rep's banner for ``BANNER_HOLD_S``."""
    m = a.measures
    t = series.time_s
    base = m.trunk_lean_deg[m.baseline]
    base = base[np.isfinite(base)]
    lean0 = float(np.median(base)) if base.size else 0.0
    results = sorted(a.results, key=lambda r: r.end_frame)
    verdicts = [rep_verdict(r, a) for r in results]
    note = None
    if m.view != "frontal":
        note = f"{m.view} view: knee angles need a front view"
    elif not np.isfinite(m.fppa_frontal_left_deg).any() and not np.isfinite(m.fppa_frontal_right_deg).any():
        note = "stand square to the camera: knee angle not measurable"
    done = passed = failed = 0
    k = 0
    for i in range(len(t)):
        while k < len(results) and results[k].end_frame <= i:
            done += 1
            passed += results[k].verdict == "pass"
            failed += results[k].verdict == "fail"
            k += 1
        banner = None
        if k and t[i] - t[results[k - 1].end_frame] <= BANNER_HOLD_S:
            banner = verdicts[k - 1]
        current = next((r for r in results if r.start_frame <= i <= r.end_frame), None)
        stance = current.stance if current else (results[k - 1].stance if k else None)
        fl, fr = float(m.fppa_frontal_left_deg[i]), float(m.fppa_frontal_right_deg[i])
        if stance == "left":
            fr = math.nan
        elif stance == "right":
            fl = math.nan
        xy = series.xy_px[i]
        yield OverlayFrame(
            xy_px=xy if np.isfinite(xy).all() else None, fppa_left_deg=fl, fppa_right_deg=fr,
            fppa_threshold_deg=a.thresholds.knee_limit_deg, fppa_kind="frontal",
            pelvic_drop_deg=math.nan, trunk_lean_deg=float(m.trunk_lean_deg[i] - lean0),
            reps_done=done, stance=stance, verdict=banner, note=note, passed=passed, failed=failed,
            trunk_lean_threshold_deg=a.thresholds.trunk_lean_max_deg)


def write_annotated_video(input_spec: str, out: Path, series: LandmarkSeries, index: np.ndarray, a: ClipAnalysis,
                          *, fps: float | None = None, progress: bool = True) -> int:
    """Second pass: decode ``input_spec`` again, draw each frame's overlay, encode to ``out``.
    Frames are matched by index to the analysed ones. Returns the number of frames written."""
    from tqdm import tqdm

    from .capture import open_source
    from .sinks import VideoWriterSink

    overlays = list(overlay_frames(a, series))
    pos = {int(f): k for k, f in enumerate(index)}
    with open_source(input_spec, fps=fps) as src:
        rate = src.fps or (1.0 / np.median(np.diff(series.time_s)) if len(series.time_s) > 1 else 30.0)
        bar = tqdm(total=src.frame_count, unit="frame", desc="annotated.mp4", disable=True if not progress else None,
                   leave=False, file=sys.stderr)
        with VideoWriterSink(out, rate, src.size_wh) as sink, bar:
            for frame in src:
                k = pos.get(frame.index)
                img = frame.image_bgr
                if k is not None:
                    img = draw_overlay(img.copy() if not img.flags.writeable else img, overlays[k])
                sink.write(img)
                bar.update(1)
    return sink.frames
