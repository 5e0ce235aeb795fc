"""The annotated video: a clip's analysis turned into one :class:`annotate.OverlayFrame` per frame
(pure), and the two ways of drawing and encoding them.

The numbers drawn are the final ones (zero-phase filtered, gated, with the verdicts of
reps.json), which strictly exist only once the whole clip has been seen. :class:`SinglePassAnnotator`
draws during the pose pass anyway, from analyses of the clip so far, on a low-priority thread,
and keeps the file only if every frame it drew shows what the final analysis shows; otherwise
(and for ``--landmarks`` re-analyses) :func:`write_annotated_video` draws it in a second pass
over the clip. ``benchmarks/throughput.py`` measures both against inference alone.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .annotate import OverlayFrame, Verdict, draw_overlay
from .incremental import Engine, Snapshot
from .measures import STANDING_MIN_S, LandmarkSeries
from .analysis import ClipAnalysis
from .verdicts import RepResult, pelvis_curves

BANNER_HOLD_S = 1.5  # how long a rep's PASS / FAIL banner stays up after the rep ends


def rep_verdict(r: RepResult, a: ClipAnalysis) -> Verdict:
    """The banner of rep ``r``: its verdict, reasons, and the values and limits behind them."""
    values, limits = {}, {}
    for side in ("left", "right"):  # the worst moment of the rep (the finding), not the bottom frame
        f = r.finding("knee_valgus", side)
        if f is not None and f.value is not None:
            values[f"knee_valgus_{side}"] = f.value
    if r.trunk_lean_deg is not None:
        values["trunk_lean"] = abs(r.trunk_lean_deg)
        limits["trunk_lean"] = a.thresholds.trunk_lean_max_deg
    reasons = r.reasons if r.verdict != "unmeasurable" else ("knee_not_measurable",)
    return Verdict(rep_index=r.index, verdict=r.verdict, reasons=tuple(reasons), stance=r.stance,
                   values=values, limits=limits)


def overlay_frames(a: ClipAnalysis, series: LandmarkSeries, start: int = 0, stop: int | None = None
                   ) -> Iterator[OverlayFrame]:
    """One overlay per frame of ``series`` (positions ``start`` to ``stop``): skeleton, the stance
    knee(s)' frontal-plane FPPA, trunk lean relative to standing, reps done, the last rep's banner
    for ``BANNER_HOLD_S``."""
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
    moments = failed_moments(a)
    drop, _ = pelvis_curves(m, a.results, a.thresholds.sustain_s)  # free-side pelvic drop in single-leg reps
    done = passed = failed = 0
    k = 0
    stop = len(t) if stop is None else min(stop, len(t))
    for i in range(stop):
        while k < len(results) and results[k].end_frame <= i:
            done += 1
            passed += results[k].verdict == "pass"
            failed += results[k].verdict == "fail"
            k += 1
        if i < start:
            continue
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
        here = next((text for frame, text in moments if abs(t[i] - t[frame]) <= MOMENT_HOLD_S), None)
        yield OverlayFrame(
            xy_px=xy if np.isfinite(xy).all() else None, fppa_left_deg=fl, fppa_right_deg=fr,
            fppa_threshold_deg=a.thresholds.knee_limit_deg, fppa_kind="frontal",
            pelvic_drop_deg=float(drop[i]), pelvic_drop_threshold_deg=a.thresholds.pelvic_drop_max_deg,
            trunk_lean_deg=float(m.trunk_lean_deg[i] - lean0),
            reps_done=done, stance=stance, verdict=banner, note=here or note, passed=passed, failed=failed,
            trunk_lean_threshold_deg=a.thresholds.trunk_lean_max_deg)


MOMENT_HOLD_S = 0.4  # the moment a rep failed is written on the frames this close to it


def failed_moments(a: ClipAnalysis) -> list[tuple[int, str]]:
    """(frame, words) of the moment each rep's failed findings failed, knee findings first: the
    annotated video writes it on the frames around that moment ("Rep 1: left knee moved inside
    the foot: 10.8 cm")."""
    return [(f.frame, f"Rep {r.index}: {f.short()}") for r in a.results if (f := r.failed_moment()) is not None]


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


# --------------------------------------------------------------------------- single pass

DISPLAY_TOLERANCE_DEG = 0.25  # a drawn angle may differ this much from the final one (never its limit state)
# counts, banners and stance may come this much earlier or later than the final analysis puts
# them: rep boundaries found with less of the future move by a few frames, and 0.2 s is what the
# boundaries are good to anyway (docs/verdicts.md)
EVENT_TOLERANCE_S = 0.2
RECHECK_S = 3.0  # each analysis checks again the frames drawn in the last 3 s


def same_display(drawn: list[OverlayFrame], final: list[OverlayFrame], k: int, shift: int,
                 tol_deg: float = DISPLAY_TOLERANCE_DEG) -> bool:
    """Whether ``drawn[k]`` shows what ``final[k]`` shows: the same skeleton; every angle within
    ``tol_deg`` and on the same side of its limit; the reps done, passed and failed, the banner,
    the stance and the note of ``final`` at a frame at most ``shift`` frames away."""
    d, f = drawn[k], final[k]
    if (d.xy_px is None) != (f.xy_px is None) or (d.xy_px is not None and not np.array_equal(d.xy_px, f.xy_px)):
        return False
    same_stance = d.stance == f.stance
    for name in ("fppa_left_deg", "fppa_right_deg", "trunk_lean_deg", "pelvic_drop_deg"):
        x, y = getattr(d, name), getattr(f, name)
        if (math.isnan(x) or math.isnan(y)) and not same_stance:
            continue  # the free leg is hidden: which one depends on the stance
        if not _same_value(x, y, tol_deg):
            return False
    for name in ("fppa_threshold_deg", "fppa_kind", "pelvic_drop_threshold_deg", "trunk_lean_threshold_deg"):
        if not _same_value(getattr(d, name), getattr(f, name), 0.0):
            return False
    if (_over(d.fppa_left_deg, d.fppa_threshold_deg) != _over(f.fppa_left_deg, f.fppa_threshold_deg)
            or _over(d.fppa_right_deg, d.fppa_threshold_deg) != _over(f.fppa_right_deg, f.fppa_threshold_deg)
            or _over(abs(d.trunk_lean_deg), d.trunk_lean_threshold_deg)
            != _over(abs(f.trunk_lean_deg), f.trunk_lean_threshold_deg)):
        return False
    events = ("reps_done", "passed", "failed", "stance", "verdict", "note")
    for j in range(max(0, k - shift), min(len(final), k + shift + 1)):
        if final[j] is not None and all(_same_value(getattr(d, n), getattr(final[j], n), tol_deg) for n in events):
            return True
    return False


def _over(v: float, limit: float) -> bool:
    return bool(math.isfinite(v) and math.isfinite(limit) and v > limit)


def _same_value(x, y, tol: float) -> bool:
    if isinstance(x, float) or isinstance(y, float):
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            return False
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return abs(x - y) <= tol
    if isinstance(x, Verdict) and isinstance(y, Verdict):
        return all(_same_value(getattr(x, k), getattr(y, k), tol) for k in Verdict.__dataclass_fields__)
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same_value(x[k], y[k], tol) for k in x)
    return x == y


class SinglePassAnnotator:
    """Draws annotated.mp4 *during* the pose pass instead of in a second pass over the clip.

    The pose pass hands every frame's pose to :meth:`on_frame`. Every ``period_s`` of video (and at
    least every 5% of what has been seen), a drawing thread (an :class:`incremental.Engine` at the
    lowest CPU priority; the latest snapshot wins) re-runs the offline analysis
    (``analyse``: the same ``analyse_clip`` as the final one) on the landmarks so far, decodes the
    clip again on its own, and draws and encodes the frames lying at least ``lag_s`` before the
    newest analysed one, as far as two consecutive analyses agree on their overlay
    (:func:`same_display`). The zero-phase filter and the rep segmentation need a little of the
    future; half a second is enough once the standing baseline has settled.

    :meth:`stop` ends the drawing thread (before the final analysis); :meth:`finish` checks every
    frame drawn against the final analysis: if each shows what the second pass would show (angles
    within ``DISPLAY_TOLERANCE_DEG``, the same verdicts, counts, banners, notes and limit states),
    the rest is drawn from the final analysis and the file is kept; otherwise it is discarded,
    ``mismatch`` says where, and ``finish`` returns False: the caller redraws with
    :func:`write_annotated_video`."""

    def __init__(self, input_spec: str, out: Path, *, analyse, fps: float | None = None,
                 lag_s: float = 0.5, period_s: float = 0.5, synchronous: bool = False):
        import threading

        self._spec, self._out, self._analyse, self._fps = input_spec, Path(out), analyse, fps
        self.lag_s, self.period_s = lag_s, period_s
        self._times: list[float] = []
        self._poses: list = []
        self._index: list[int] = []
        self._wh: tuple[int, int] | None = None
        self._next_s = period_s
        self._drawn: dict[int, OverlayFrame] = {}  # analysed position -> the overlay drawn on it
        self._next_k = 0  # the next analysed position to draw
        self._prev: list[OverlayFrame | None] = []  # the previous analysis' overlays by position
        self._src = self._it = self._sink = None
        self._pending = None  # a decoded frame not written yet
        self._abort = threading.Event()
        self.analyses = 0
        self._strikes = 0  # consecutive analyses that changed frames already drawn
        self.frames_drawn_early = 0  # drawn before the pose pass ended (the rest: by finish)
        self.mismatch: str | None = None
        # snapshots are the number of frames seen; the engine's thread analyses and draws (_step).
        # synchronous: inside on_frame instead (deterministic; for tests)
        self._engine: Engine[int, None] = Engine(self._analyse_and_draw, name="annotate",
                                                 threaded=not synchronous, background=True)

    # ---- pose-pass side
    def on_frame(self, frame, pose) -> None:
        if self._wh is None:
            self._wh = (frame.image_bgr.shape[1], frame.image_bgr.shape[0])
        self._times.append(frame.time_s)
        self._poses.append(pose)
        self._index.append(frame.index)
        t = frame.time_s - self._times[0]
        if t >= self._next_s:
            self._next_s = t + max(self.period_s, 0.05 * t)
            # the latest wins: an analysis not started yet is superseded by this one
            self._engine.post(Snapshot(len(self._times), frame.time_s))

    def stop(self) -> None:
        """No more analyses: wait for the drawing thread to finish its current step."""
        self._engine.stop()
        if self.frames_drawn_early == 0:
            self.frames_drawn_early = len(self._drawn)

    # ---- drawing thread
    def _analyse_and_draw(self, snap: Snapshot[int]) -> None:
        if self.mismatch is None:
            self._step(snap)

    def _step(self, snap: Snapshot[int]) -> None:
        """Analyse the first ``snap.job`` frames; draw the frames final with ``lag_s`` on which this
        analysis and the previous one agree; give up if drawn frames changed twice in a row."""
        n = snap.job
        times = np.asarray(self._times[:n], float)
        series = LandmarkSeries.from_poses(times, self._poses[:n], self._wh)
        a = self._analyse(series)
        self.analyses += 1
        start = self._next_k
        stop = int(np.searchsorted(times, snap.until(self.lag_s), side="right"))
        if not any(r.end_frame < stop for r in a.results):
            return  # the standing baseline is settled by the first rep: wait for one
        base = a.measures.baseline
        if base.stop - base.start < 2 or times[base.stop - 1] - times[base.start] < STANDING_MIN_S:
            return  # no still stand of STANDING_MIN_S yet: the baseline is the longest so far and may move
        # both lists index by position (None before ``lo``); the last RECHECK_S drawn are checked again
        lo = max(0, int(np.searchsorted(times, times[start - 1] - RECHECK_S)) if start else 0)
        shift = self._shift(times)
        new = [None] * lo + list(overlay_frames(a, series, lo, stop + shift))
        drawn = [self._drawn.get(k) for k in range(start)]
        changed = [k for k in range(lo, start) if k in self._drawn and not same_display(drawn, new, k, shift)]
        self._strikes = self._strikes + 1 if changed else 0
        if self._strikes >= 2:  # twice in a row: the final analysis will most likely differ too
            self.mismatch = f"frame {self._index[changed[0]]} changed with more of the clip"
            self._give_up()
            return
        prev = self._prev
        ready = []
        for k in range(start, stop):
            if k >= len(prev) or prev[k] is None or not same_display(new, prev, k, shift):
                break
            ready.append(new[k])
        self._prev = new
        self._draw(ready)

    def _shift(self, times: np.ndarray) -> int:
        """EVENT_TOLERANCE_S in frames."""
        period = float(np.median(np.diff(times))) if len(times) > 1 else 1 / 30
        return max(1, int(EVENT_TOLERANCE_S / period + 1e-6)) if period > 0 else 1

    def _give_up(self) -> None:
        """What was drawn will not be final: stop drawing now (finish returns False)."""
        if self._sink is not None:
            self._sink.close(keep=False)
        if self._src is not None:
            self._src.close()
        self._sink = self._src = None

    def _draw(self, overlays: list[OverlayFrame], final: bool = False) -> None:
        """Draw the analysed positions from ``_next_k`` on with ``overlays``; frames the pose pass
        did not get are written as they are. ``final``: also write whatever follows."""
        if not overlays and not final:
            return
        if self._sink is None:
            self._open()
        k0 = self._next_k
        upto = k0 + len(overlays)
        last_index = self._index[upto - 1] if upto else -1
        while True:
            if self._abort.is_set():
                raise KeyboardInterrupt
            frame = self._pending if self._pending is not None else next(self._it, None)
            self._pending = None
            if frame is None:
                break
            k = self._pos_of(frame.index)
            if k is None or k < k0:  # not analysed (or out of order): written as it is
                if final or frame.index < last_index:
                    self._sink.write(frame.image_bgr)
                    continue
            elif k < upto:
                img = frame.image_bgr
                self._sink.write(draw_overlay(img.copy() if not img.flags.writeable else img, overlays[k - k0]))
                self._drawn[k] = overlays[k - k0]
                continue
            self._pending = frame
            break
        self._next_k = upto

    def _open(self) -> None:
        from .capture import open_source
        from .sinks import VideoWriterSink

        self._src = open_source(self._spec, fps=self._fps, lean=True)  # only idle CPU: hold little
        self._it = iter(self._src)
        rate = self._src.fps or (1.0 / np.median(np.diff(self._times)) if len(self._times) > 1 else 30.0)
        self._sink = VideoWriterSink(self._out, rate, self._src.size_wh or self._wh)

    def _pos_of(self, frame_index: int) -> int | None:
        import bisect

        k = bisect.bisect_left(self._index, frame_index)
        return k if k < len(self._index) and self._index[k] == frame_index else None

    # ---- end
    def finish(self, series: LandmarkSeries, a: ClipAnalysis) -> bool:
        """The pose pass is over and ``a`` is the final analysis of ``series``: check what was
        drawn, draw the rest. True: annotated.mp4 is written; False: it was discarded (redraw)."""
        self.stop()
        try:
            self._engine.take()  # raises what the drawing thread raised
        except BaseException:
            self.abort()
            raise
        if self.mismatch is not None:
            self.abort()
            return False
        final = list(overlay_frames(a, series))
        drawn = [self._drawn.get(k) for k in range(len(final))]
        shift = self._shift(series.time_s)
        for k in self._drawn:
            if not same_display(drawn, final, k, shift):
                self.mismatch = f"frame {self._index[k]}"
                self.abort()
                return False
        try:
            self._draw(final[self._next_k:], final=True)
            self._sink.close(keep=True)
        except BaseException:
            self.abort()
            raise
        finally:
            if self._src is not None:
                self._src.close()
        self._sink = self._src = None
        return True

    def abort(self) -> None:
        """Stop drawing and discard the partial file."""
        self._abort.set()
        self.stop()
        if self._sink is not None:
            self._sink.close(keep=False)
        if self._src is not None:
            self._src.close()
        self._sink = self._src = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.abort()
