"""``valgus-cam live``: the self-check at home. Laptop on a chair, step back, squat.

This module owns the loop, the window, the keys, the beep and the replay; the drawing of the
picture is :mod:`valgus_cam.live_view` (its names are re-exported here for existing callers).

The loop (:func:`run_live`): the source's reader thread keeps only the newest frame (cameras,
``--realtime`` files) → pose (MediaPipe VIDEO mode, or LIVE_STREAM where inference of the next
frame overlaps drawing this one) → :class:`valgus_cam.stream.LiveAnalyser` (setup guide, causal
display values, verdicts of the offline analysis) → the picture (:func:`~valgus_cam.live_view.compose`,
pure drawing) → the OpenCV highgui window (or nothing, ``headless``) and the recording
(:class:`valgus_cam.record.SessionRecorder`).

Keys (window focused): ``q``/Esc quit, ``space`` pause, ``c`` recalibrate, ``l``/``r``/``b``
force the stance (left leg / right leg / both legs), ``t`` cycle the test (auto → double-leg
squat → single-leg squat), ``s`` snapshot (PNG in the record folder, else the current folder).
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .capture import EndOfStream, Frame, FrameSource, RealtimeFileSource, open_source
from .errors import InputError, OutputError
# the drawing; these names are re-exported for existing callers (``from valgus_cam.live import compose``)
from .live_view import (KEYS_HELP, TEST_NAMES, Hud, _draw_replay_caption, _scale, _status_bar,  # noqa: F401
                        compose, draw_centre_label, draw_legs, draw_setup_guide, draw_status_bar, draw_toast,
                        status_bar_height)
from .overlay import BANNER_HOLD_S, rep_verdict as _verdict
from .pipeline import iter_poses, run_frames
from .pose import Pose, PoseEstimator, RunningMode, _native_stderr_captured
from .stream import LiveAnalyser, LiveState, StreamConfig
from .verdicts import VERDICT_WORDS, RepResult, Thresholds

if TYPE_CHECKING:
    from .pipeline import ClipAnalysis

WINDOW = "valgus-cam live"
TESTS = ("auto", "squat", "single-leg")
TOAST_S = 2.0


@dataclass
class LiveOptions:
    camera: str = "0"  # camera index, /dev/videoN, or a video file
    realtime: bool = False  # a file: pace it at its fps and drop frames like a camera
    test: str = "auto"  # "auto" | "squat" | "single-leg"
    stance: str = "auto"  # "auto" | "left" | "right"
    record: Path | None = None
    mirror: bool = True  # show the picture as a mirror (the analysis always sees the camera's image)
    headless: bool = False  # no window, no keys, no replay (tests, benchmarks, servers)
    inference: str = "video"  # "video" | "live_stream" (MediaPipe running mode)
    model: str | None = None  # lite | full | heavy | a .task path (None: the default model)
    thresholds: Thresholds = field(default_factory=Thresholds)
    sound: bool = True  # a short beep per failed rep, where a player exists
    replay: bool = True  # slow-motion replay of the failed reps at the end (needs --record and a window)
    max_seconds: float | None = None  # stop after this long (benchmarks)
    stream: StreamConfig = field(default_factory=StreamConfig)


@dataclass
class LiveResult:
    reps: list  # RepResult, capture frame indices
    document: dict  # reps.json
    summary_text: str
    frames: int  # frames analysed
    dropped: int  # frames the source dropped because the loop was busy
    duration_s: float
    ended_reason: str | None  # "camera stopped delivering frames", ... (None: quit or end of file)
    interrupted: bool
    out_dir: Path | None
    files: list
    model_name: str
    mode: str
    capture_s: np.ndarray  # per analysed frame: monotonic time the source delivered it
    display_s: np.ndarray  # ... the time its picture was shown (headless: ready to show)
    inference_s: np.ndarray  # ... pose estimation time (LIVE_STREAM: submit → result)
    rep_lags_s: list  # per rep: newest analysed frame − rep end when it was reported
    snapshots: list = field(default_factory=list)

    @property
    def processed_fps(self) -> float:
        if len(self.display_s) < 2:
            return 0.0
        return (len(self.display_s) - 1) / float(self.display_s[-1] - self.display_s[0])


# ---------------------------------------------------------------------------------------------
# audio cue
# ---------------------------------------------------------------------------------------------
class Beeper:
    """A short tone on a failed rep, through ``paplay`` or ``aplay`` when one is installed (the
    sound server or ALSA does the rest); otherwise the terminal bell when stderr is a terminal;
    otherwise nothing. Never blocks, never fails the session."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._player = next((p for p in ("paplay", "aplay") if shutil.which(p)), None) if enabled else None
        self._wav: Path | None = None
        self._procs: list = []

    def _tone(self) -> Path:
        import wave

        if self._wav is None:
            rate, dur = 22050, 0.18
            t = np.arange(int(rate * dur)) / rate
            env = np.minimum(1.0, np.minimum(t, dur - t) / 0.01)
            samples = (0.4 * 32767 * env * np.sin(2 * np.pi * 660 * t)).astype("<i2")
            fd, name = tempfile.mkstemp(prefix="valgus-cam-beep-", suffix=".wav")
            os.close(fd)
            with wave.open(name, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(samples.tobytes())
            self._wav = Path(name)
        return self._wav

    def beep(self) -> None:
        if not self.enabled:
            return
        try:
            if self._player:
                self._procs = [p for p in self._procs if p.poll() is None]
                if len(self._procs) < 2:
                    self._procs.append(subprocess.Popen([self._player, str(self._tone())], stdin=subprocess.DEVNULL,
                                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            elif sys.stderr.isatty():
                sys.stderr.write("\a")
                sys.stderr.flush()
        except OSError:
            self._player = None

    def close(self) -> None:
        for p in self._procs:
            try:
                p.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                p.kill()
        if self._wav is not None:
            self._wav.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# the window
# ---------------------------------------------------------------------------------------------
def _display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """The highgui window; Qt's start-up chatter on stderr is swallowed."""

    def __init__(self, size_wh: tuple[int, int]):
        if not _display_available():
            raise OutputError("no display to show the live window on (DISPLAY is not set); "
                              "run with --headless to record without a window")
        with _native_stderr_captured():
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
            w, h = size_wh
            k = min(1.0, 1280 / w, 900 / h)
            cv2.resizeWindow(WINDOW, int(w * k), int(h * k))
            cv2.imshow(WINDOW, np.zeros((h, w, 3), np.uint8))
            cv2.waitKey(1)
        self.open = True

    def show(self, img: np.ndarray, wait_ms: int = 1) -> int:
        """Show ``img``; the key pressed (-1 none). Closing the window counts as ``q``."""
        cv2.imshow(WINDOW, img)
        key = cv2.waitKeyEx(wait_ms)
        try:
            if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                self.open = False
                return ord("q")
        except cv2.error:
            self.open = False
            return ord("q")
        if key == -1:
            return -1
        key &= 0xFFFF
        return key if key < 256 else -1  # arrows and other special keys are not ours

    def close(self) -> None:
        with _native_stderr_captured():
            try:
                cv2.destroyWindow(WINDOW)
                cv2.waitKey(1)
            except cv2.error:
                pass


def why(r: RepResult, thresholds: Thresholds) -> str:
    """The failed criteria in the findings' words, with value, limit and moment: "left knee caved
    inwards: +24° (limit 13°) on the way up at 60° knee bend, 3.10 s"."""
    return "; ".join(f.text() for f in r.findings if f.result == "fail")


def replay_failed(window: Window, video: Path, reps: list, fps: float, *, thresholds: Thresholds = Thresholds(),
                  bar: int = 0, speed: float = 0.3,
                  before_s: float = 0.7, after_s: float = 1.0, hold_bottom_s: float = 1.2, max_reps: int = 5) -> None:
    """Show the failed reps from the recorded annotated video in slow motion, each with why it
    failed; a held frame at the bottom, where the knee angle was measured. Any key: next rep;
    q / Esc: done."""
    failed = [r for r in reps if r.verdict == "fail"][-max_reps:]
    if not failed:
        return
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        return
    delay = max(1, int(round(1000.0 / (fps * speed))))
    try:
        for k, r in enumerate(failed, 1):
            head = f"REPLAY {k}/{len(failed)}: rep {r.index} FAILED: {why(r, thresholds)}"
            first = max(0, r.start_frame - int(before_s * fps))
            last = r.end_frame + int(after_s * fps)
            cap.set(cv2.CAP_PROP_POS_FRAMES, first)
            for i in range(first, last + 1):
                ok, img = cap.read()
                if not ok:
                    break
                _draw_replay_caption(img, head, f"slow motion {speed:g}x   any key: next   q: end replay",
                                     bottom=i == r.bottom_frame, bar=bar)
                key = window.show(img, delay if i != r.bottom_frame else int(hold_bottom_s * 1000))
                if key in (ord("q"), 27):
                    return
                if key != -1:
                    break
    finally:
        cap.release()


# ---------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------
def _rep_line(r: RepResult, thresholds: Thresholds) -> str:
    stance = {"both": "both legs", "left": "left leg", "right": "right leg"}[r.stance]
    knees = []
    for side, v in (("L", r.knee_angle_deg("left")), ("R", r.knee_angle_deg("right"))):
        if v is not None:
            knees.append(f"{side} knee {v:+.0f}°")
    reasons = why(r, thresholds)
    verdict = VERDICT_WORDS[r.verdict]
    return (f"rep {r.index} ({stance}, {r.start_s:.1f}-{r.end_s:.1f} s): {verdict}"
            + (f"  {', '.join(knees)}" if knees else "") + (f"  - {reasons}" if reasons else ""))


def run_live(opts: LiveOptions, *, model_path: str | os.PathLike | None = None, source: FrameSource | None = None,
             estimator: PoseEstimator | None = None, out=print) -> LiveResult:
    """Run a live session until ``q``, the end of the source, a camera failure, ``max_seconds`` or
    Ctrl-C (then ``interrupted``); everything is saved either way. ``source`` / ``estimator``
    override what ``opts`` would open (tests: a camera stand-in)."""
    if opts.inference not in ("video", "live_stream"):
        raise InputError(f"unknown inference mode {opts.inference!r} (video or live_stream)")
    if not opts.headless and not _display_available():
        raise OutputError("no display to show the live window on (DISPLAY is not set); "
                          "run with --headless to record without a window")
    src = source if source is not None else open_source(opts.camera, realtime=opts.realtime)
    recorder = None
    window = None
    analyser = None
    beeper = Beeper(opts.sound)
    own_estimator = estimator is None
    try:
        if estimator is None:
            estimator = _open_estimator(opts, model_path)  # after the source: bad input first
        mode = estimator.mode.value
        model_name = estimator.model_path.name
        short_model = model_name.replace("pose_landmarker_", "").replace(".task", "")
        tap = _Tap() if opts.record is not None else None
        if tap is not None:  # before reading starts, so that raw.avi has every frame from the first
            src.on_capture = tap
        reader = src.reader()
        first = _first_frame(reader, src.name)
        H, W = first.image_bgr.shape[:2]
        fps = float(src.fps or 30.0)
        display_wh = (W, H + status_bar_height(W, H))
        analyser = LiveAnalyser((W, H), thresholds=opts.thresholds, test=opts.test, stance=opts.stance,
                                config=opts.stream)
        if tap is not None:
            recorder = _start_recorder(opts.record, fps, (W, H), display_wh, tap)
        if not opts.headless:
            window = Window(display_wh)
        out(f"live: {src.name} ({W}x{H}, {fps:.0f} fps{', paced in real time' if isinstance(src, RealtimeFileSource) else ''}"
            f"), model {short_model} ({mode.replace('_', ' ')} mode)"
            + (f", recording to {opts.record}/" if recorder else "")
            + ("; press q in the window to stop" if window else ""))
        hud = Hud(recording=recorder is not None, model=short_model, mode=mode, test=opts.test, stance=opts.stance,
                  thresholds=opts.thresholds, mirror=opts.mirror)
        loop = _Loop(opts, src, reader, estimator, analyser, recorder, window, beeper, hud, fps, out)
        loop.run(first)
        result, a = _session_result(opts, loop, analyser, src, recorder, fps, model_name, mode)
        summary = _summary_text(result, a, src, short_model)
        if recorder is not None:
            summary = _finish_recording(recorder, result, summary, out)
        result.summary_text = summary
        if window is not None and recorder is not None and opts.replay and not loop.interrupted \
                and any(r.verdict == "fail" for r in analyser.reps):
            _replay_session(window, recorder, analyser.reps, fps, opts.thresholds, display_wh[1] - H, out)
        return result
    finally:
        _close_session(recorder, window, analyser, beeper, src, estimator if own_estimator else None)


def _open_estimator(opts: LiveOptions, model_path: str | os.PathLike | None) -> PoseEstimator:
    """The pose estimator ``opts`` asks for: ``model_path``, else ``opts.model`` resolved (a
    download with a progress bar if absent), in VIDEO or LIVE_STREAM mode."""
    from .models import resolve_model

    path = model_path or resolve_model(opts.model, progress=True)
    return PoseEstimator(path, mode=RunningMode.LIVE_STREAM if opts.inference == "live_stream"
                         else RunningMode.VIDEO)


def _first_frame(reader, name: str) -> Frame:
    """The source's first frame (its size sets up everything else); InputError when there is none."""
    try:
        return reader.get()
    except EndOfStream:
        raise InputError(f"no frames could be read from {name}") from None


def _start_recorder(folder: Path, fps: float, size_wh: tuple[int, int], display_wh: tuple[int, int], tap: _Tap):
    """The session's recorder, fed the frames ``tap`` held since reading started."""
    from .record import SessionRecorder

    recorder = SessionRecorder(folder, fps, size_wh, display_wh)
    tap.attach(recorder)
    return recorder


def _session_result(opts: LiveOptions, loop: _Loop, analyser: LiveAnalyser, src: FrameSource, recorder, fps: float,
                    model_name: str, mode: str) -> tuple[LiveResult, ClipAnalysis]:
    """After the loop: the last reps (printed and recorded), reps.json (written when recording) and
    the session's result without its summary text; also the session's ClipAnalysis."""
    from .report import reps_document

    final = analyser.finish()
    loop.handle_final(final)
    a = analyser.session_analysis()
    doc = reps_document(a, src.name, fps, loop.frames)
    if recorder is not None:
        recorder.reps(doc)
    duration = loop.t_end - loop.t_start if loop.t_start is not None else 0.0
    timings = np.array(loop.timings, float).reshape(-1, 3)
    dropped = src.dropped_frames
    ended = src.ended_reason
    result = LiveResult(list(analyser.reps), doc, "", loop.frames, dropped, duration, ended, loop.interrupted,
                        opts.record, [], model_name, mode, timings[:, 0], timings[:, 1], timings[:, 2],
                        list(analyser.rep_lags_s), loop.snapshots)
    return result, a


def _summary_text(result: LiveResult, a: ClipAnalysis, src: FrameSource, short_model: str) -> str:
    """The end-of-session summary: the session line, the reps table, warnings, guidance, the
    verdicts' lag and why the session stopped."""
    from .report import guidance_text, rep_table

    mode, reps = result.mode, result.reps
    head = (f"valgus-cam live: {src.name}, {result.duration_s:.1f} s, {result.frames} frames analysed"
            f" ({result.processed_fps:.1f} frames/s), {result.dropped} dropped by the "
            f"{'camera' if src.is_live else 'reader'}, model {short_model} ({mode.replace('_', ' ')} mode)")
    lines = [head, f"{a.test.replace('_', ' ')}: {len(reps)} rep{'s' if len(reps) != 1 else ''}"]
    if reps:
        lines.append(rep_table(a))
    lines += [f"  warning: {w}" for w in a.warnings]
    if advice := guidance_text(a):  # what the failed criteria are commonly associated with
        lines.append(advice)
    if result.rep_lags_s:
        lines.append(f"verdicts came {np.median(result.rep_lags_s):.2f} s (median) after the rep ended")
    if result.ended_reason:
        lines.append(f"stopped: {result.ended_reason}")
    return "\n".join(lines)


def _finish_recording(recorder, result: LiveResult, summary: str, out) -> str:
    """Close the recording with ``summary`` and write annotated.mp4 (a missing encoder keeps the
    AVI, with a warning); ``result.files`` set; the summary with the files line added."""
    recorder.close(summary)
    out(f"writing {recorder.dir / 'annotated.mp4'} (H.264) from annotated.avi ...")
    try:
        recorder.write_h264()
    except OutputError as e:  # the session is saved: the AVI stays, one line says why
        out(f"warning: {e}")
    result.files = recorder.files
    return summary + f"\nfiles in {recorder.dir}/: {', '.join(p.name for p in result.files)}"


def _replay_session(window: Window, recorder, reps: list, fps: float, thresholds: Thresholds, bar: int, out) -> None:
    """Replay the failed reps from the recording (annotated.mp4, else annotated.avi) in the window."""
    out("replaying the failed reps in the window (any key: next, q: end)")
    mp4 = recorder.dir / "annotated.mp4"
    replay_failed(window, mp4 if mp4.is_file() else recorder.dir / "annotated.avi", reps, fps,
                  thresholds=thresholds, bar=bar)


def _close_session(recorder, window, analyser, beeper: Beeper, src: FrameSource, estimator) -> None:
    """Release what a session opened, whatever was opened before a failure (``estimator``: None
    when the caller owns it)."""
    if recorder is not None and not recorder.closed:
        try:
            recorder.close()
        except OutputError:
            pass
    if window is not None:
        window.close()
    if analyser is not None:
        analyser.close()
    beeper.close()
    src.close()
    if estimator is not None:
        estimator.close()


class _Tap:
    """The source's ``on_capture``: frames read before the recorder exists (it needs the first
    frame's size) are held, then everything goes to ``raw.avi`` in order."""

    def __init__(self, max_held: int = 300):
        import threading

        self._lock = threading.Lock()
        self._held: list = []
        self._recorder = None
        self._max = max_held

    def __call__(self, frame: Frame) -> None:
        with self._lock:
            if self._recorder is None:
                if len(self._held) < self._max:
                    self._held.append(frame)
                return
        self._recorder.capture(frame)

    def attach(self, recorder) -> None:
        with self._lock:
            for f in self._held:
                recorder.capture(f)
            self._held.clear()
            self._recorder = recorder


class _Loop:
    """One session's pose stage and observer. :meth:`run` feeds :func:`pipeline.run_frames`, the
    frame loop ``landmarks`` and ``analyze`` use, from :meth:`_poses_sync` (VIDEO mode) or
    :meth:`_poses_async` (LIVE_STREAM: inference overlapped with drawing); the loop is the observer
    (:meth:`on_frame`): analysis, picture, window, recording, keys. Pausing, idling and quitting
    happen in the pose stage, between frames."""

    def __init__(self, opts, src, reader, estimator, analyser, recorder, window, beeper, hud, fps, out):
        self.opts, self.src, self.reader, self.est = opts, src, reader, estimator
        self.analyser, self.recorder, self.window, self.beeper, self.hud = analyser, recorder, window, beeper, hud
        self.fps, self.out = fps, out
        self.frames = 0
        self.timings: deque = deque(maxlen=200_000)
        self.t_start: float | None = None
        self.t_end = 0.0
        self.interrupted = False
        self.quit = False
        self.paused = False
        self.snapshots: list = []
        self._banner = None  # (Verdict, stream time shown from)
        self._toast: tuple[str, float] | None = None
        self._last_display: np.ndarray | None = None
        self._fps_times: deque = deque(maxlen=30)
        self._stream_t = 0.0
        self._t_got = 0.0  # when the frame being handed on was taken (async: submitted), monotonic s
        self._inference_s = 0.0  # its pose estimation time

    # ---------------------------------------------------------------- frames
    def run(self, first: Frame) -> None:
        """The session: :func:`pipeline.run_frames` over this loop's pose stage, with the loop as the
        observer (:meth:`on_frame`). Ctrl-C ends it (``interrupted``), for cameras and files alike."""
        self.t_start = time.monotonic()
        poses = self._poses_async(first) if self.est.mode is RunningMode.LIVE_STREAM else self._poses_sync(first)
        self.interrupted = run_frames(poses, [self], keep_on_interrupt=True).interrupted
        self.t_end = time.monotonic()

    def _next(self, timeout_s: float | None) -> Frame | None:
        return self.reader.get(timeout_s)

    def _expired(self) -> bool:
        return self.opts.max_seconds is not None and time.monotonic() - self.t_start >= self.opts.max_seconds

    def _frames(self, frame: Frame | None) -> Iterator[Frame]:
        """The frames to analyse, from ``frame`` (the first) on, until quit, ``max_seconds`` or the end:
        the reader is polled 0.25 s at a time (a late camera keeps the window responsive: idle);
        while paused nothing is analysed. Sets ``_t_got``, when each frame was taken."""
        while not self.quit and not self._expired():
            if self.paused:
                self._paused_step()
                continue
            if frame is None:
                try:
                    frame = self._next(0.25)
                except EndOfStream:
                    return
                if frame is None:  # a live source is late: keep the window responsive
                    self._idle()
                    continue
            self._t_got = time.monotonic()
            yield frame
            frame = None

    def _poses_sync(self, first: Frame) -> Iterator[tuple[Frame, Pose | None]]:
        """VIDEO mode: :func:`pipeline.iter_poses` over :meth:`_frames`, as ``analyze`` does; sets
        ``_inference_s`` (``detect``'s time, with the generators' handover)."""
        for frame, pose in iter_poses(self._frames(first), self.est):
            self._inference_s = time.monotonic() - self._t_got
            yield frame, pose

    def _poses_async(self, frame: Frame | None) -> Iterator[tuple[Frame, Pose | None]]:
        """LIVE_STREAM mode: a frame's pose is handed on only after the next frame (if one is ready)
        was submitted, so MediaPipe's thread estimates it while the observers draw this one. One
        frame in flight at most (MediaPipe drops frames submitted while busy). Sets ``_t_got``
        (submission) and ``_inference_s`` (submission → result)."""
        est = self.est
        inflight = False
        ended = False
        while not self.quit and not self._expired():
            if self.paused and not inflight:
                self._paused_step()
                continue
            if not inflight and not ended:
                if frame is None:
                    try:
                        frame = self._next(0.25)
                    except EndOfStream:
                        ended = True
                if frame is not None:
                    est.submit(frame.image_bgr, frame.time_s, tag=(frame, time.monotonic()))
                    inflight, frame = True, None
                elif not ended:
                    self._idle()
                    continue
            if not inflight:
                return
            got = est.result(timeout_s=5.0)
            if got is None:
                raise RuntimeError("the pose model returned no result for 5 s")
            (done, t_sub), pose = got
            inflight = False
            t_res = time.monotonic()
            if not ended and not self.paused:  # overlap: the next frame's inference runs while we draw
                try:
                    nxt = self._next(0)
                except EndOfStream:
                    ended, nxt = True, None
                if nxt is not None:
                    est.submit(nxt.image_bgr, nxt.time_s, tag=(nxt, time.monotonic()))
                    inflight = True
            self._t_got, self._inference_s = t_sub, t_res - t_sub
            yield done, pose

    # ---------------------------------------------------------------- one frame
    def on_frame(self, frame: Frame, pose: Pose | None) -> None:
        """The loop's observer: analyse, react, draw, show, record and take the key (:meth:`_process`)."""
        self._process(frame, pose, self._t_got, self._inference_s)

    def _process(self, frame: Frame, pose, t_got: float, inference_s: float) -> None:
        state = self.analyser.update(frame.index, frame.time_s, pose)
        self._stream_t = frame.time_s
        self._react(state, frame.time_s)
        img = self._picture(frame, pose, state)
        key = self.window.show(img) if self.window is not None else -1
        t_shown = time.monotonic()
        capture = frame.capture_s if math.isfinite(frame.capture_s) else t_got
        self.timings.append((capture, t_shown, inference_s))
        self._fps_times.append(t_shown)
        self.frames += 1
        if self.recorder is not None:
            self.recorder.frame(frame, pose, img)
            self.recorder.rows(state.new_rows)
        self._last_display = img
        self._key(key)

    def _react(self, state: LiveState, t: float) -> None:
        for e in state.events:
            self.out(f"  {e}")
            self._toast = (e[:1].upper() + e[1:], time.monotonic())
        for r in state.new_reps:
            self.out("  " + _rep_line(r, self.opts.thresholds))
            self._banner = (_verdict(r, _Thr(self.opts.thresholds)), t)
            if r.verdict == "fail":
                self.beeper.beep()
        if state.new_reps and self.recorder is not None:
            self._write_reps()

    def handle_final(self, state: LiveState) -> None:
        for r in state.new_reps:
            self.out("  " + _rep_line(r, self.opts.thresholds))
        if self.recorder is not None:
            self.recorder.rows(state.new_rows)

    def _write_reps(self) -> None:
        from .report import reps_document

        a = self.analyser.session_analysis()
        self.recorder.reps(reps_document(a, self.src.name, self.fps, self.frames))

    def _picture(self, frame: Frame, pose, state: LiveState | None) -> np.ndarray:
        hud = self.hud
        now = time.monotonic()
        hud.elapsed_s = now - self.t_start
        hud.paused = self.paused
        hud.test, hud.stance = self.analyser.test, self.analyser.stance
        if len(self._fps_times) > 1:
            hud.fps = (len(self._fps_times) - 1) / max(1e-6, self._fps_times[-1] - self._fps_times[0])
        hud.banner = None
        if self._banner is not None and self._stream_t - self._banner[1] <= BANNER_HOLD_S:
            hud.banner = self._banner[0]
        hud.toast = self._toast[0] if self._toast and now - self._toast[1] <= TOAST_S else None
        xy = pose.xy_px if pose is not None else None
        return compose(frame.image_bgr, xy, state, hud)

    # ---------------------------------------------------------------- keys, pause, idle
    def _key(self, key: int) -> None:
        if key == -1:
            return
        ch = chr(key).lower() if 0 <= key < 256 else ""
        a = self.analyser
        if ch == "q" or key == 27:
            self.quit = True
        elif ch == " ":
            self.paused = not self.paused
            self.out("  paused" if self.paused else "  resumed")
            if not self.paused and self.src.is_live:  # the person moved meanwhile: a new standing baseline
                a.recalibrate()
        elif ch == "c":
            a.recalibrate()
            self.out("  recalibrating")
        elif ch in ("l", "r"):
            a.set_test("single-leg", "left" if ch == "l" else "right")
            self._say(f"stance: {'left' if ch == 'l' else 'right'} leg (single-leg squat)")
        elif ch == "b":
            a.set_test("squat", "auto")
            self._say("stance: both legs (double-leg squat)")
        elif ch == "t":
            nxt = TESTS[(TESTS.index(a.test) + 1) % len(TESTS)] if a.test in TESTS else "auto"
            a.set_test(nxt, "auto")
            self._say(f"test: {TEST_NAMES[nxt]}")
        elif ch == "s" and self._last_display is not None:
            self._snapshot(self._last_display)

    def _say(self, text: str) -> None:
        self.out(f"  {text}")
        self._toast = (text[:1].upper() + text[1:], time.monotonic())

    def _snapshot(self, img: np.ndarray) -> None:
        if self.recorder is not None:
            path = self.recorder.snapshot(img)
        else:
            from .sinks import atomic_open

            path = Path.cwd() / time.strftime("valgus-cam-snapshot-%Y%m%d-%H%M%S.png")
            ok, buf = cv2.imencode(".png", img)
            with atomic_open(path, "wb") as f:
                f.write(buf.tobytes())
        self.snapshots.append(path)
        self._say(f"snapshot saved: {path.name}")

    def _paused_step(self) -> None:
        """While paused: live sources keep delivering (shown, not analysed); files wait."""
        img = None
        if self.src.is_live:
            try:
                frame = self._next(0.05)
            except EndOfStream:
                self.paused, self.quit = False, True
                return
            if frame is not None:
                img = self._picture(frame, None, None)
                if self.recorder is not None:
                    self.recorder.shown(frame.index, img)
        if img is None and self._last_display is not None:
            img = self._last_display.copy()
            H = img.shape[0] - status_bar_height(img.shape[1], img.shape[0])
            draw_centre_label(img[:H], "PAUSED", "space: resume   q: quit")
        if img is None:
            return
        if self.window is not None:
            self._key(self.window.show(img, 30))
        else:
            time.sleep(0.03)

    def _idle(self) -> None:
        if self.window is not None and self._last_display is not None:
            self._key(self.window.show(self._last_display, 5))


class _Thr:
    """overlay._verdict needs an object with ``thresholds``."""

    def __init__(self, thresholds: Thresholds):
        self.thresholds = thresholds
