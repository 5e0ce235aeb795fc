"""Recording a live session (``valgus-cam live --record DIR``), written as the session goes so that
a crash or a pulled camera loses at most about the last second:

* ``raw.avi``: every frame the camera delivered (including those the analysis skipped), written
  from the capture thread; frame *k* of the file is capture index *k* (``frame`` in the CSVs).
* ``annotated.avi``: what the window showed (mirrored image, overlay, guide, status bar); a frame
  the analysis skipped repeats the previous picture, so the two videos stay frame-aligned.
* ``landmarks.csv`` (the ``landmarks`` command's long layout: ``analyze --landmarks`` re-analyses
  it) and ``frames.csv`` (analyze's columns; a row once its values are final, ~0.3 s after the
  frame; frames outside a counted stretch have ``detected`` but no measures), appended and flushed
  at least every ``flush_s``.
* ``reps.json``: analyze's schema, rewritten atomically after every rep and at the end.
* ``summary.txt`` at the end, ``snapshot_NNN.png`` on the ``s`` key.
* ``annotated.mp4`` at the end of a session that ends normally (``q``, the source's end, a camera
  that stops, Ctrl-C): ``annotated.avi`` converted to H.264 (:meth:`SessionRecorder.write_h264`),
  the file to send or to watch in a browser; frame *k* is still capture index *k*.

Videos are Motion-JPEG in AVI (:class:`valgus_cam.sinks.StreamingVideoWriter`) while recording:
readable when the process is killed mid-recording. Data rate: roughly 1–3 MB/s per video at 720p.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .capture import Frame
from .errors import OutputError
from .measures import FrameMeasures
from .pose import Pose
from .sinks import FramesCsvWriter, LandmarkCsvWriter, StreamingVideoWriter, atomic_open

RAW_QUALITY = 90  # JPEG quality of raw.avi: near-lossless for re-analysis
ANNOTATED_QUALITY = 80


class SessionRecorder:
    """The files of one recorded session in ``out_dir`` (see the module docstring)."""

    def __init__(self, out_dir: str | os.PathLike, fps: float, frame_wh: tuple[int, int],
                 display_wh: tuple[int, int], *, flush_s: float = 0.25):
        self.dir = Path(out_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / ".valgus-cam-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise OutputError(f"cannot write to {self.dir}: {e.strerror or e}") from None
        self.fps = float(fps or 30.0)
        self.raw = StreamingVideoWriter(self.dir / "raw.avi", self.fps, frame_wh, quality=RAW_QUALITY)
        self.annotated = StreamingVideoWriter(self.dir / "annotated.avi", self.fps, display_wh,
                                              quality=ANNOTATED_QUALITY)
        self._lm_file = self._open("landmarks.csv")
        self._fr_file = self._open("frames.csv")
        self.landmarks = LandmarkCsvWriter(self._lm_file)
        self.frames = FramesCsvWriter(self._fr_file, FrameMeasures.CSV_COLUMNS)
        self._flush_s, self._last_flush = flush_s, time.monotonic()
        self._last_index: int | None = None
        self.snapshots = 0
        self.closed = False

    def _open(self, name: str):
        # a buffer far larger than what accumulates between two flushes (~25 KB): the file only
        # ever receives whole rows, so a killed session leaves no half-written last line
        try:
            return open(self.dir / name, "w", newline="", encoding="utf-8", buffering=1 << 20)
        except OSError as e:
            raise OutputError(f"cannot write {self.dir / name}: {e.strerror or e}") from None

    # -------------------------------------------------------------- during the session
    def capture(self, frame: Frame) -> None:
        """Every frame read from the source (called on the capture thread)."""
        if not self.closed:
            self.raw.write(frame.image_bgr)

    def frame(self, frame: Frame, pose: Pose | None, display_bgr: np.ndarray) -> None:
        """One processed frame: its landmarks and the picture shown for it (repeated over the
        capture indices the analysis skipped, to keep annotated.avi aligned with raw.avi)."""
        self.landmarks.write(frame.index, frame.time_s, pose)
        self.shown(frame.index, display_bgr)
        self._maybe_flush()

    def shown(self, index: int, display_bgr: np.ndarray) -> None:
        """The picture shown for capture index ``index`` (also while paused)."""
        repeat = index + 1 if self._last_index is None else index - self._last_index
        for _ in range(min(repeat, int(10 * self.fps))):
            self.annotated.write(display_bgr)
        self._last_index = max(index, self._last_index if self._last_index is not None else index)

    def rows(self, rows) -> None:
        """frames.csv rows that became final (``stream.FrameRow``)."""
        for r in rows:
            self.frames.write(r.frame, r.time_s, r.detected, r.values)
        if rows:
            self._maybe_flush()

    def reps(self, document: dict) -> None:
        """Rewrite reps.json (atomically)."""
        with atomic_open(self.dir / "reps.json") as f:
            json.dump(document, f, indent=2, ensure_ascii=False, allow_nan=False)
            f.write("\n")

    def snapshot(self, image_bgr: np.ndarray) -> Path:
        import cv2

        self.snapshots += 1
        path = self.dir / f"snapshot_{self.snapshots:03d}.png"
        ok, buf = cv2.imencode(".png", image_bgr)
        if not ok:
            raise OutputError(f"cannot encode {path}")
        with atomic_open(path, "wb") as f:
            f.write(buf.tobytes())
        return path

    def _maybe_flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_flush >= self._flush_s:
            self._lm_file.flush()
            self._fr_file.flush()
            self._last_flush = now

    # -------------------------------------------------------------- the end
    def close(self, summary_text: str | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        errors = []
        for w in (self.raw, self.annotated):
            try:
                w.close()
            except OutputError as e:
                errors.append(str(e))
        for f in (self._lm_file, self._fr_file):
            try:
                f.close()
            except OSError as e:
                errors.append(f"cannot write {f.name}: {e.strerror or e}")
        if summary_text is not None:
            with atomic_open(self.dir / "summary.txt") as f:
                f.write(summary_text.rstrip("\n") + "\n")
        if errors:
            raise OutputError(errors[0])

    def write_h264(self) -> Path | None:
        """After :meth:`close`: ``annotated.mp4``, ``annotated.avi`` converted to H.264 frame for
        frame (written under a temporary name, renamed when complete: an interruption leaves the
        AVI only). Returns its path (None: nothing was recorded). :class:`OutputError` when it
        cannot be written (no encoder, disk full); the AVI stays either way."""
        return avi_to_h264(self.dir / "annotated.avi", self.dir / "annotated.mp4", self.fps)

    @property
    def files(self) -> list[Path]:
        names = ["raw.avi", "annotated.avi", "annotated.mp4", "landmarks.csv", "frames.csv", "reps.json",
                 "summary.txt"]
        return [self.dir / n for n in names if (self.dir / n).exists()]


def avi_to_h264(src: Path, dst: Path, fps: float) -> Path | None:
    """Every frame of ``src`` (a recorded AVI), in order, to ``dst`` in H.264
    (:class:`valgus_cam.sinks.VideoWriterSink`: decoding here, encoding on its thread). Returns
    ``dst``, or None when ``src`` holds no frame."""
    import cv2

    from .sinks import VideoWriterSink, h264_encoder

    h264_encoder(dst)
    cap = cv2.VideoCapture(str(src), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise OutputError(f"cannot write {dst}: {src.name} cannot be read")
        wh = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        with VideoWriterSink(dst, fps, wh) as sink:
            while True:
                ok, img = cap.read()
                if not ok:
                    break
                sink.write(img)
    finally:
        cap.release()
    return dst if sink.frames else None
