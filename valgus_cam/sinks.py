"""Result writers. Every file is written to a temporary name beside its target and renamed
into place only when complete, so a crash or Ctrl-C never leaves a half-written file under the
final name.

Landmark CSV layouts (``valgus-cam landmarks``):

* ``long`` (default): one row per frame and landmark: ``frame, time_s, detected, landmark_id,
  landmark, x_px, y_px, z, visibility, presence, world_x_m, world_y_m, world_z_m``. A frame with
  nobody detected still has its 33 rows, with ``detected=0`` and the numbers empty.
* ``wide``: one row per frame: ``frame, time_s, detected``, then for each landmark ``<name>_x_px,
  <name>_y_px, <name>_z, <name>_visibility, <name>_presence, <name>_world_x_m, <name>_world_y_m,
  <name>_world_z_m``.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from .errors import InputError, OutputError
from .pose import LANDMARK_NAMES, N_LANDMARKS, Pose

_FIELDS = ("x_px", "y_px", "z", "visibility", "presence", "world_x_m", "world_y_m", "world_z_m")
_FMT = ("{:.2f}", "{:.2f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}")
LONG_COLUMNS = ("frame", "time_s", "detected", "landmark_id", "landmark") + _FIELDS
WIDE_COLUMNS = ("frame", "time_s", "detected") + tuple(f"{n}_{f}" for n in LANDMARK_NAMES for f in _FIELDS)


def _umask_mode() -> int:
    """The mode a plainly created file gets (0o666 minus the umask): mkstemp's temp files are 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, newline: str | None = "", encoding="utf-8"):
    """Open a temp file beside ``path``; rename it onto ``path`` only if the block completes."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OutputError(f"cannot write to {path.parent}: {e.strerror or e}") from None
    try:
        kwargs = {} if "b" in mode else {"newline": newline, "encoding": encoding}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pose_values(pose: Pose) -> np.ndarray:
    """(33, 8) array in the order of ``_FIELDS``."""
    return np.column_stack([pose.xy_px, pose.z, pose.visibility, pose.presence, pose.world_xyz_m])


class LandmarkCsvWriter:
    """Writes frames to an open text file in the ``long`` or ``wide`` layout."""

    def __init__(self, f: IO[str], layout: str = "long"):
        if layout not in ("long", "wide"):
            raise ValueError(f"unknown layout {layout!r}")
        self.layout = layout
        self._w = csv.writer(f, lineterminator="\n")
        self._w.writerow(LONG_COLUMNS if layout == "long" else WIDE_COLUMNS)

    def write(self, frame_index: int, time_s: float, pose: Pose | None) -> None:
        head = [frame_index, f"{time_s:.6f}", 1 if pose is not None else 0]
        if pose is None:
            if self.layout == "long":
                self._w.writerows(head + [i, LANDMARK_NAMES[i]] + [""] * len(_FIELDS) for i in range(N_LANDMARKS))
            else:
                self._w.writerow(head + [""] * (len(WIDE_COLUMNS) - 3))
            return
        vals = _pose_values(pose)
        cells = [[fmt.format(v) for fmt, v in zip(_FMT, row)] for row in vals.tolist()]
        if self.layout == "long":
            self._w.writerows(head + [i, LANDMARK_NAMES[i]] + cells[i] for i in range(N_LANDMARKS))
        else:
            self._w.writerow(head + [c for row in cells for c in row])


@dataclass(frozen=True, slots=True)
class LandmarkTable:
    """Landmarks of a whole clip as arrays (NaN where nobody was detected)."""

    frame: np.ndarray  # (n,) int
    time_s: np.ndarray  # (n,)
    detected: np.ndarray  # (n,) bool
    values: np.ndarray  # (n, 33, 8) in the order x_px, y_px, z, visibility, presence, world_x_m, world_y_m, world_z_m

    @property
    def xy_px(self) -> np.ndarray:
        return self.values[..., 0:2]

    @property
    def world_xyz_m(self) -> np.ndarray:
        return self.values[..., 5:8]


def read_landmarks_csv(path: str | os.PathLike) -> LandmarkTable:
    """Read a CSV written by :class:`LandmarkCsvWriter` (either layout)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read landmark CSV {path}: {getattr(e, 'strerror', None) or e}") from None
    rows = csv.reader(io.StringIO(text))
    header = tuple(next(rows, ()))
    if header not in (LONG_COLUMNS, WIDE_COLUMNS):
        raise InputError(f"not a valgus-cam landmark CSV (unexpected header): {path}")
    frames: dict[int, tuple[float, bool, np.ndarray]] = {}
    try:
        for line, r in enumerate(rows, start=2):
            if not r:
                continue
            fi, t, det = int(r[0]), float(r[1]), r[2] == "1"
            if fi < 0 or not np.isfinite(t):
                raise ValueError(f"line {line}: frame {r[0]!r}, time {r[1]!r}")
            if header == LONG_COLUMNS:
                entry = frames.setdefault(fi, (t, det, np.full((N_LANDMARKS, len(_FIELDS)), np.nan)))
                lid = int(r[3])
                if not 0 <= lid < N_LANDMARKS or len(r) != len(LONG_COLUMNS):
                    raise ValueError(f"line {line}: landmark {r[3]!r}, {len(r)} columns")
                if det:
                    entry[2][lid] = [float(v) for v in r[5:]]
            else:
                if len(r) != len(WIDE_COLUMNS):
                    raise ValueError(f"line {line}: {len(r)} columns, {len(WIDE_COLUMNS)} expected")
                vals = np.array([float(v) if v else np.nan for v in r[3:]], dtype=float)
                frames[fi] = (t, det, vals.reshape(N_LANDMARKS, len(_FIELDS)))
    except (ValueError, IndexError) as e:
        raise InputError(f"malformed landmark CSV {path}: {e}") from None
    for fi, (_, det, vals) in frames.items():
        if np.isinf(vals).any():
            raise InputError(f"malformed landmark CSV {path}: frame {fi} has an infinite value")
    order = sorted(frames)
    return LandmarkTable(
        frame=np.array(order, dtype=int),
        time_s=np.array([frames[i][0] for i in order], dtype=float),
        detected=np.array([frames[i][1] for i in order], dtype=bool),
        values=np.stack([frames[i][2] for i in order]) if order else np.empty((0, N_LANDMARKS, len(_FIELDS))),
    )


def write_frames_csv(f: IO[str], frame_index: np.ndarray, measures) -> None:
    """``frames.csv``: ``frame, time_s, detected`` then the measures' ``CSV_COLUMNS``; a value
    that is not measurable (NaN) is left empty; ``frame`` is the 0-based index in the video."""
    w = csv.writer(f)
    cols = measures.CSV_COLUMNS
    w.writerow(("frame", "time_s", "detected") + cols)
    arrays = [np.asarray(getattr(measures, c)) for c in cols]

    def fmt(v):
        if isinstance(v, (bool, np.bool_)):
            return int(v)
        return "" if not np.isfinite(v) else f"{v:.2f}"

    for i in range(len(frame_index)):
        w.writerow([int(frame_index[i]), f"{measures.time_s[i]:.4f}", int(measures.detected[i])]
                   + [fmt(a[i]) for a in arrays])


# H.264 settings of annotated.mp4 (benchmarks/throughput.py measures them against OpenCV's mp4v):
# x264's "veryfast" preset at its default quality (CRF 23) makes files 3.3-6.4x smaller than mp4v
# on the shared clips, for about twice mp4v's encoding time per frame ("ultrafast": as fast as mp4v,
# only 1.6x smaller); one encoder thread, as it runs beside the pose model on few cores
H264_PRESET = "veryfast"
H264_CRF = 23
H264_THREADS = 1


def h264_encoder(path: str | os.PathLike | None = None):
    """The ``av`` module if PyAV with its libx264 encoder is importable; else :class:`OutputError`
    in one line (checked before the pose pass, so that a missing encoder never costs a whole run
    nor leaves an unplayable file)."""
    what = f"cannot write {path}: " if path is not None else ""
    try:
        import av
    except ImportError:
        raise OutputError(f"{what}no H.264 encoder: the Python package 'av' (PyAV, whose wheels carry "
                          "libx264) is not installed; pip install av") from None
    try:
        av.codec.Codec("libx264", "w")
    except Exception:  # noqa: BLE001 - a PyAV built against an FFmpeg without libx264
        raise OutputError(f"{what}no H.264 encoder: this PyAV's FFmpeg ({av.__version__}) has no libx264; "
                          "install PyAV's own wheel (pip install --force-reinstall av)") from None
    return av


def _encode_queue(writer) -> None:
    """A video writer's thread: ``writer._encode`` each image of ``writer._q`` until None. After an
    error it only drains the queue (``writer._error`` is reported by the next write or close)."""
    while True:
        img = writer._q.get()
        if img is None:
            return
        if writer._error is not None:
            continue
        try:
            writer._encode(img)
        except BaseException as e:  # noqa: BLE001 - reported by the next write / close
            writer._error = e


class VideoWriterSink:
    """Write BGR frames to an H.264 MP4 file from a background thread (encoding overlaps with the
    caller's work); written under a temporary name and renamed into place on a clean close.

    Codec: H.264 (x264 through PyAV, whose wheels ship libx264), yuv420p, with the index at the
    front of the file (``movflags=+faststart``) so that a browser starts playing before the whole
    file has arrived: browsers, phones and messaging apps play it. yuv420p needs even sizes: an odd
    width or height gets one more column or row, a copy of the last one. Frames are numbered at a
    constant ``fps`` (frame *k* at *k* / fps s). See :func:`h264_encoder` for a missing encoder.

    A write that fails (a full disk) ends the file: on close the file is opened again and must hold
    every frame written, else it is discarded and :class:`OutputError` raised. The queue holds at
    most ``queue_size`` frames and at most ``READ_AHEAD_BYTES`` of them."""

    def __init__(self, path: str | os.PathLike, fps: float, size_wh: tuple[int, int], queue_size: int = 16):
        import math
        import queue
        import threading
        from fractions import Fraction

        from .capture import read_ahead_depth

        self.path = Path(path)
        av = h264_encoder(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".tmp.mp4", dir=self.path.parent)
            os.close(fd)
        except OSError as e:
            raise OutputError(f"cannot write to {self.path.parent}: {e.strerror or e}") from None
        self._tmp = Path(tmp)
        self.size_wh = w, h = tuple(int(v) for v in size_wh)
        self._pad = (w % 2, h % 2)
        fps = float(fps) if fps and math.isfinite(fps) and fps > 0 else 30.0
        self.rate = Fraction(fps).limit_denominator(1001)
        try:
            self._container = av.open(str(self._tmp), "w", format="mp4", options={"movflags": "+faststart"})
            s = self._stream = self._container.add_stream("libx264", rate=self.rate)
            s.width, s.height, s.pix_fmt = w + self._pad[0], h + self._pad[1], "yuv420p"
            s.codec_context.thread_count = H264_THREADS
            s.codec_context.options = {"preset": H264_PRESET, "crf": str(H264_CRF)}
            # what cv2's BGR→I420 conversion makes: BT.601, limited range (tagged, so players agree)
            s.codec_context.color_range = 1  # MPEG (limited)
            s.codec_context.colorspace = 6  # SMPTE 170M (BT.601)
        except Exception as e:  # noqa: BLE001 - FFmpeg's errors: one line
            self._tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot open a video encoder for {self.path}: {e}") from None
        self._q: queue.Queue = queue.Queue(maxsize=read_ahead_depth(3 * w * h, most=queue_size))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="video-writer", daemon=True)
        self._thread.start()
        self.frames = 0
        self._encoded = 0

    def _encode(self, img: np.ndarray | None) -> None:
        import av
        import cv2

        if img is None:  # flush the encoder
            frame = None
        else:
            if (img.shape[1], img.shape[0]) != self.size_wh:
                img = cv2.resize(img, self.size_wh, interpolation=cv2.INTER_AREA)
            if any(self._pad):
                img = cv2.copyMakeBorder(img, 0, self._pad[1], 0, self._pad[0], cv2.BORDER_REPLICATE)
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
            frame.pts = self._encoded
            self._encoded += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def _run(self) -> None:
        _encode_queue(self)

    def write(self, image_bgr: np.ndarray) -> None:
        if self._error is not None:
            raise OutputError(f"cannot write {self.path}: the video encoder could not finish the file "
                              f"({self._error}){_space_note(self.path.parent)}")
        self._q.put(image_bgr)
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        """Finish encoding; rename into place if ``keep`` (else discard the partial file)."""
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        if self._container is not None:
            try:
                if keep and self._error is None and self.frames:
                    self._encode(None)
            except BaseException as e:  # noqa: BLE001
                self._error = e
            try:
                self._container.close()  # writes the index (and moves it to the front)
            except BaseException as e:  # noqa: BLE001
                self._error = self._error or e
            self._container = None
        if keep and self.frames and (self._error is not None or not _holds_frames(self._tmp, self.frames)):
            self._tmp.unlink(missing_ok=True)
            why = f" ({self._error})" if self._error is not None else ""
            raise OutputError(f"cannot write {self.path}: the video encoder could not finish the file"
                              f"{why}{_space_note(self.path.parent)}")
        if keep and self.frames:
            try:
                os.chmod(self._tmp, _umask_mode())
                os.replace(self._tmp, self.path)
            except OSError as e:
                raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(keep=exc_type is None)


def _holds_frames(path: Path, frames: int) -> bool:
    """The video at ``path`` opens and its index lists ``frames`` frames (a write that failed for
    want of space leaves a file without an index, or with fewer frames)."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        return cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) >= frames
    finally:
        cap.release()


def _space_note(folder: Path) -> str:
    import shutil

    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return f" (no space left: {free // 1024} KiB free on its disk)" if free < 16 * 2**20 else \
        " (disk full, file size limit or a write error)"


class FramesCsvWriter:
    """``frames.csv`` row by row (the live session appends as it goes): the same columns and number
    format as :func:`write_frames_csv`. ``values`` maps a column of ``FrameMeasures.CSV_COLUMNS`` to
    a float (NaN or a missing key = not measurable, written empty)."""

    def __init__(self, f: IO[str], columns: tuple[str, ...]):
        self._f, self.columns = f, tuple(columns)
        self._w = csv.writer(f)
        self._w.writerow(("frame", "time_s", "detected") + self.columns)

    def write(self, frame_index: int, time_s: float, detected: bool, values: dict[str, float]) -> None:
        def fmt(v):
            return "" if v is None or not np.isfinite(v) else f"{v:.2f}"

        self._w.writerow([int(frame_index), f"{time_s:.4f}", int(bool(detected))]
                         + [fmt(values.get(c)) for c in self.columns])

    def flush(self) -> None:
        self._f.flush()


class StreamingVideoWriter:
    """A video recorded as it happens, readable however the process ends (crash, SIGKILL, pulled
    power cord after the OS wrote it): Motion-JPEG in AVI, written **in place** under its final name
    (unlike every other output, which is renamed into place when complete: a recording is meant to
    survive a crash). Each frame is JPEG-encoded (libjpeg-turbo via ``cv2.imencode``, ``quality``)
    and handed to OpenCV's FFmpeg AVI muxer as an encoded packet (``VIDEOWRITER_PROP_RAW_VIDEO``).

    Why this container and codec: an MP4 (or a Matroska file with inter-frame codecs) killed before
    it is closed is unreadable or loses seconds, because the muxer holds the index or a whole
    cluster in memory; AVI chunks are appended as they come and FFmpeg reads an AVI without its
    closing index. What a crash loses is what is still buffered: the frames in this writer's queue
    (``queue_size``) plus FFmpeg's output buffer (≤ 256 KB, a few MJPEG frames);
    ``tests/test_live.py`` SIGKILLs a recording session and reads the files back.

    Encoding runs on a background thread (OpenCV releases the GIL); ``write`` blocks when the queue
    is full, so frames are never silently dropped."""

    def __init__(self, path: str | os.PathLike, fps: float, size_wh: tuple[int, int], *, quality: int = 85,
                 queue_size: int = 8):
        import queue
        import threading

        import cv2

        self.path = Path(path)
        self.size_wh = tuple(int(v) for v in size_wh)
        self.quality = int(quality)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot write to {self.path.parent}: {e.strerror or e}") from None
        self._writer = cv2.VideoWriter(str(self.path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"),
                                       float(fps or 30.0), self.size_wh, [cv2.VIDEOWRITER_PROP_RAW_VIDEO, 1])
        if not self._writer.isOpened():
            raise OutputError(f"cannot open a video writer for {self.path}")
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"video-writer-{self.path.stem}", daemon=True)
        self._thread.start()
        self.frames = 0

    def _run(self) -> None:
        _encode_queue(self)

    def _encode(self, img: np.ndarray) -> None:
        import cv2

        if (img.shape[1], img.shape[0]) != self.size_wh:
            img = cv2.resize(img, self.size_wh, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise OutputError("JPEG encoding failed")
        self._writer.write(buf.reshape(1, -1))

    def write(self, image_bgr: np.ndarray) -> None:
        if self._error is not None:
            raise OutputError(f"cannot write {self.path}: {self._error}")
        if self._thread.is_alive():
            self._q.put(image_bgr)
            self.frames += 1

    def close(self) -> None:
        """Encode what is queued and close the file (its index is written: seeking works)."""
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        self._writer.release()
        if self._error is not None:
            raise OutputError(f"cannot write {self.path}: {self._error}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
