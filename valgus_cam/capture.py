"""Frame sources: video file, webcam, image folder / single image.

Every source is an iterable of :class:`Frame` ``(image_bgr, index, time_s)`` and a context
manager. Decoding runs on a background thread:

* files and folders use a bounded read-ahead queue (decode overlaps inference, memory bounded);
* live cameras keep only the newest frame: a frame not taken before the next one arrives is
  dropped (counted in ``dropped_frames``), never queued, so what is analysed is always current;
* ``RealtimeFileSource`` (``open_source(path, realtime=True)``) plays a video file the way a
  camera delivers: each frame is handed over at its presentation time on the wall clock, into the
  same one-frame mailbox, so a consumer slower than the video drops frames as it would live.

``on_capture`` (a callable set before iterating) is called on the reader thread with every frame
read, including those a live source later drops: the live recorder writes the raw video from it.

``time_s`` is the container's presentation time for video files (true timestamps: variable
frame rate clips are right), the monotonic clock since opening for cameras, and ``index / fps``
for image folders. ``index`` is the 0-based decode index (for cameras, the capture index, with
gaps where frames were dropped). Rotation metadata of phone videos is applied, so frames come
upright.
"""

from __future__ import annotations

import math
import os
import queue
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import cv2  # FFmpeg's own log lines (e.g. "Invalid NAL unit size" on a damaged file) are silenced in __init__
import numpy as np

from .errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
_END = object()
READ_AHEAD_BYTES = 64 * 2**20  # read-ahead memory cap: 8 frames up to 1080p, 2 frames of 4K (UHD)


def read_ahead_depth(frame_bytes: int, most: int = 8, least: int = 2, budget: int = READ_AHEAD_BYTES) -> int:
    """Queue depth for frames of ``frame_bytes``: at most ``most``, within ``budget`` bytes, at least ``least``."""
    return int(max(least, min(most, budget // max(1, frame_bytes))))


class EndOfStream(Exception):
    """Raised by :meth:`_ReadAhead.get` when the source has no more frames."""


class Frame(NamedTuple):
    image_bgr: np.ndarray  # H x W x 3 uint8, upright
    index: int  # 0-based
    time_s: float  # seconds from the start of the source
    capture_s: float = math.nan  # time.monotonic() when a live source delivered the frame


class FrameSource(ABC):
    """Base class: iterate for frames; ``close()`` (or ``with``) stops the reader thread."""

    name: str
    is_live: bool = False
    fps: float | None = None  # nominal frames per second, if known
    frame_count: int | None = None  # frames expected, if known (containers may be approximate)
    size_wh: tuple[int, int] | None = None
    on_capture: Callable[[Frame], None] | None = None  # called on the reader thread for every frame read
    ended_reason: str | None = None  # why a live source stopped early (camera unplugged, read failures)

    @property
    def dropped_frames(self) -> int:
        """Frames a live source replaced before they were taken (0 for queued sources)."""
        reader = getattr(self, "_reader", None)
        return reader.dropped if reader is not None and self.is_live else 0

    def damage_report(self) -> str | None:
        """After iterating: one sentence when the input looked truncated or damaged, else None
        (only video files can tell: :meth:`VideoFileSource.damage_report`)."""
        return None

    def _tap(self, frame: Frame) -> None:
        if self.on_capture is not None:
            self.on_capture(frame)

    def _make_reader(self) -> "_ReadAhead":
        raise NotImplementedError

    def reader(self) -> "_ReadAhead":
        """Start reading; the returned reader's ``get(timeout_s)`` polls for the next frame (the
        live loop uses it to overlap asynchronous inference with drawing). Once per source."""
        if getattr(self, "_reader", None) is not None:
            raise RuntimeError(f"a {type(self).__name__} can be iterated once")
        self._reader = self._make_reader()
        return self._reader

    def __iter__(self) -> Iterator[Frame]:
        yield from self.reader()

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ReadAhead:
    """Run ``produce(emit, stop)`` on a daemon thread; hand its items over a bounded queue.

    ``latest_only=True`` keeps a one-slot mailbox instead: an unread item is replaced by the
    newer one (and counted in ``dropped``). Exceptions raised by the producer are re-raised in
    the consumer.
    """

    def __init__(self, produce: Callable[[Callable[[object], bool], threading.Event], None], *,
                 depth: int = 8, latest_only: bool = False, name: str = "valgus-cam-reader"):
        self._produce = produce
        self._latest_only = latest_only
        self._queue: queue.Queue = queue.Queue(maxsize=1 if latest_only else depth)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ended = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _emit(self, item: object) -> bool:
        """Put ``item``; returns False when the consumer asked to stop."""
        if self._latest_only:
            with self._lock:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass
                self._queue.put_nowait(item)
            return not self._stop.is_set()
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            self._produce(self._emit, self._stop)
        except BaseException as e:  # handed to the consumer
            self._put_final(e)
            return
        self._put_final(_END)

    def _put_final(self, item: object) -> None:
        # the end marker must not be dropped by a latest-only mailbox nor block on a full queue
        while not self._stop.is_set():
            try:
                if self._latest_only:
                    with self._lock:
                        if self._queue.full():
                            time.sleep(0.005)
                            continue
                        self._queue.put_nowait(item)
                        return
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self, timeout_s: float | None = None) -> object | None:
        """The next item, or None if none came within ``timeout_s`` (None: wait as long as it
        takes; 0: only what is there now). Raises :class:`EndOfStream` at the end, and re-raises
        the producer's exception."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if self._ended:
                raise EndOfStream
            wait = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._ended = True
                    raise EndOfStream from None
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            if item is _END:
                self._ended = True
                raise EndOfStream
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            return item

    def __iter__(self) -> Iterator[object]:
        while True:
            try:
                yield self.get()
            except EndOfStream:
                return

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout_s)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"is a directory, not a video file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read (permission denied): {path}")
    if path.stat().st_size == 0:
        raise InputError(f"empty file (0 bytes): {path}")


class _CaptureSource(FrameSource):
    """A source reading through an OpenCV ``VideoCapture`` (``_cap``) with a read-ahead thread
    (``_reader``): closing stops the thread, then releases the capture."""

    _reader: "_ReadAhead | None" = None
    _cap: "cv2.VideoCapture | None" = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileSource(_CaptureSource):
    """A video file decoded by OpenCV's FFmpeg backend, rotation metadata applied.

    A frame that fails to decode (a damaged stretch of the file) is skipped and decoding goes on
    with the next one that does; ``decode_failures`` counts the failed reads, ``decoded`` the
    frames delivered, and :meth:`damage_report` says in one sentence when the file looks truncated
    or damaged (fewer frames decoded than its header lists). Memory: the read-ahead holds at most
    ``read_ahead`` frames and at most ``READ_AHEAD_BYTES`` of them (2 frames of a 4K video).
    ``lean=True`` (a background consumer that only uses idle CPU): one decoder thread and no
    read-ahead, frames decoded on the consumer's own thread, so that only the frame in hand and
    the decoder's reference frames are held."""

    MAX_CONSECUTIVE_FAILURES = 64  # failed reads in a row before the end of a damaged file is assumed

    def __init__(self, path: str | os.PathLike, *, read_ahead: int = 8, lean: bool = False):
        self.path = Path(path)
        self.name = self.path.name
        _check_file(self.path)
        self._lean = lean
        params = [cv2.CAP_PROP_N_THREADS, 1] if lean else []
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise InputError(f"not a readable video (not a video, no video stream, or a codec OpenCV "
                             f"cannot decode): {self.path}")
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise InputError(f"video has no decodable frames: {self.path}")
        self._cap = cap
        self._first = (first, self._pos_s(cap, None, 0))
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if np.isfinite(fps) and 0 < fps < 1000 else None
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = n if n > 0 else None
        self.size_wh = (first.shape[1], first.shape[0])
        self._read_ahead = read_ahead_depth(first.nbytes, most=read_ahead)
        self._reader: _ReadAhead | None = None
        self.decoded = 0  # frames delivered so far
        self.decode_failures = 0  # reads that failed before the end (damaged frames skipped)

    def damage_report(self) -> str | None:
        """After iterating: one sentence if fewer frames decoded than the header lists (< 90%), else None."""
        n = self.frame_count
        if not n or self.decoded >= 0.9 * n:
            return None
        return (f"only {self.decoded} of the {n} frames the video's header lists could be decoded: "
                f"the file is truncated or damaged")

    def _pos_s(self, cap, prev_s: float | None, index: int) -> float:
        """Presentation time of the frame just read; falls back to the nominal rate if the
        container gives none or goes backwards."""
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if prev_s is None:
            return t if np.isfinite(t) and t >= 0 else 0.0
        if not np.isfinite(t) or t <= prev_s:
            step = 1.0 / self.fps if getattr(self, "fps", None) else 1.0 / 30.0
            return prev_s + step
        return t

    def _decode(self, stop: threading.Event) -> Iterator[Frame]:
        """Every frame of the file in order (on the reader thread), each passed to ``on_capture``."""
        image, t = self._first
        self._first = None
        index = 0
        self.decoded = 1
        frame = Frame(image, index, t)
        self._tap(frame)
        yield frame
        cap = self._cap
        failures = 0
        while not stop.is_set():
            ok, image = cap.read()
            if not ok or image is None:
                # the end, or a damaged frame: go on while the header promises more frames
                failures += 1
                if (not self.frame_count or self.decoded + self.decode_failures + 1 >= self.frame_count
                        or failures > self.MAX_CONSECUTIVE_FAILURES):
                    return
                self.decode_failures += 1
                continue
            failures = 0
            index += 1
            self.decoded += 1
            t = self._pos_s(cap, t, index)
            frame = Frame(image, index, t)
            self._tap(frame)
            yield frame

    def _produce(self, emit, stop: threading.Event) -> None:
        for frame in self._decode(stop):
            if not emit(frame):
                return

    def _make_reader(self) -> _ReadAhead:
        return _ReadAhead(self._produce, depth=self._read_ahead)

    def __iter__(self) -> Iterator[Frame]:
        if not self._lean:
            yield from self.reader()
            return
        if self._first is None:
            raise RuntimeError(f"a {type(self).__name__} can be iterated once")
        yield from self._decode(threading.Event())



class RealtimeFileSource(VideoFileSource):
    """A video file delivered as a camera would: frame k is handed over at wall-clock time
    ``start + (time_s[k] - time_s[0])`` into a one-frame mailbox; a frame the consumer has not
    taken when the next one is due is dropped (``dropped_frames``), never queued. ``index`` stays
    the frame's index in the file (gaps where frames were dropped), ``time_s`` its presentation
    time, ``capture_s`` the monotonic time it was delivered. Decoding is not skipped: a decoder
    slower than the video delivers late, like a camera that cannot keep its rate."""

    is_live = True

    def _produce(self, emit, stop: threading.Event) -> None:
        start = None
        for frame in self._decode(stop):
            now = time.monotonic()
            if start is None:
                start = now - frame.time_s
            wait = start + frame.time_s - now
            if wait > 0 and stop.wait(wait):
                return
            if not emit(frame._replace(capture_s=time.monotonic())):
                return

    def _make_reader(self) -> _ReadAhead:
        return _ReadAhead(self._produce, latest_only=True, name="valgus-cam-realtime")


def available_cameras(max_index: int = 8) -> list[int]:
    """Indexes of the cameras that open and deliver a frame."""
    found = []
    for i in range(max_index):
        cap = cv2.VideoCapture(i)
        try:
            if cap.isOpened() and cap.read()[0]:
                found.append(i)
        finally:
            cap.release()
    return found


class CameraSource(_CaptureSource):
    """A live camera (index or device path); newest frame only, stale frames dropped."""

    is_live = True

    def __init__(self, device: int | str, *, max_read_failures: int = 30):
        self.name = f"camera {device}"
        cap = cv2.VideoCapture(device)
        ok = cap.isOpened() and cap.read()[0]
        if not ok:
            cap.release()
            cams = available_cameras()
            listing = ", ".join(map(str, cams)) if cams else "none"
            raise InputError(f"camera {device} does not open; cameras that open: {listing}")
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if np.isfinite(fps) and fps > 0 else None
        self.size_wh = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self._max_failures = max_read_failures
        self.ended_reason: str | None = None
        self._reader: _ReadAhead | None = None

    def _produce(self, emit, stop: threading.Event) -> None:
        t0 = time.monotonic()
        index, failures = 0, 0
        while not stop.is_set():
            ok, image = self._cap.read()
            if not ok or image is None:
                failures += 1
                if failures >= self._max_failures:
                    self.ended_reason = "camera stopped delivering frames"
                    return
                time.sleep(0.01)
                continue
            failures = 0
            now = time.monotonic()
            frame = Frame(image, index, now - t0, now)
            self._tap(frame)
            if not emit(frame):
                return
            index += 1

    def _make_reader(self) -> _ReadAhead:
        return _ReadAhead(self._produce, latest_only=True, name="valgus-cam-camera")



def _natural_key(p: Path) -> list:
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", p.name)]


class ImageFolderSource(FrameSource):
    """Images of a folder in natural order (frame2 before frame10), or a single image file.

    ``time_s = index / fps``: image files carry no timestamps, so ``fps`` (default 30) is the
    rate they were taken at. Unreadable images are skipped and counted in ``skipped``.
    """

    def __init__(self, path: str | os.PathLike, *, fps: float = 30.0, read_ahead: int = 4):
        path = Path(path)
        self.name = path.name
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
        if path.is_dir():
            files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                           key=_natural_key)
            if not files:
                raise InputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder: {path}")
        else:
            _check_file(path)
            files = [path]
        self.files = files
        self.fps = fps
        self.frame_count = len(files)
        self.skipped: list[Path] = []
        self._read_ahead = read_ahead
        self._reader: _ReadAhead | None = None

    def _produce(self, emit, stop: threading.Event) -> None:
        index = 0
        for p in self.files:
            if stop.is_set():
                return
            image = cv2.imread(str(p), cv2.IMREAD_COLOR)  # applies EXIF orientation
            if image is None:
                self.skipped.append(p)
                continue
            if self.size_wh is None:
                self.size_wh = (image.shape[1], image.shape[0])
            frame = Frame(image, index, index / self.fps)
            self._tap(frame)
            if not emit(frame):
                return
            index += 1
        if index == 0:
            raise InputError(f"none of the {len(self.files)} image(s) could be decoded: {self.files[0].parent}")

    def _make_reader(self) -> _ReadAhead:
        return _ReadAhead(self._produce, depth=self._read_ahead)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def open_source(spec: str | int | os.PathLike, *, fps: float | None = None, realtime: bool = False,
                lean: bool = False) -> FrameSource:
    """Open what the user named: a camera index / ``/dev/videoN``, a folder, an image, a video.
    ``realtime``: a video file is paced at its own frame rate and drops frames like a camera
    (:class:`RealtimeFileSource`); cameras are real time anyway. ``lean``: a video file is decoded
    for a background consumer (:class:`VideoFileSource`)."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec))
    path = Path(spec)
    if str(spec).startswith("/dev/video"):
        return CameraSource(str(spec))
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(path, fps=fps or 30.0)
    return RealtimeFileSource(path) if realtime else VideoFileSource(path, lean=lean)
