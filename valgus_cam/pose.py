"""MediaPipe Pose Landmarker (Tasks API) wrapped to return typed, pixel-space results.

Coordinates: ``xy_px`` is MediaPipe's normalised (x, y) multiplied by the image (width,
height): continuous pixel coordinates from the image's top-left corner, x right, y down. ``z``
is MediaPipe's normalised depth (roughly the scale of x, origin at the mid-hip, smaller = nearer
the camera). ``world_xyz_m`` are MediaPipe's 3D world landmarks in metres, origin at the
mid-hip, x toward the image right, y down, z away from the camera.
"""

from __future__ import annotations

import os
import queue
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2
import numpy as np

from .errors import ModelError

os.environ.setdefault("GLOG_minloglevel", "2")  # silence MediaPipe's C++ INFO/WARNING lines
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .landmarks import LANDMARK_NAMES, LM, MIRROR, N_LANDMARKS  # noqa: F401  (re-exported)
from .tracking import SubjectTracker, blob


@contextmanager
def _native_stderr_captured() -> Iterator[list[str]]:
    """Capture what native code writes to file descriptor 2 (MediaPipe's C++ logging ignores
    Python's and glog's settings and prints start-up INFO/WARNING lines). The captured text is
    put in the yielded list, so errors can still be reported. ``VALGUS_CAM_NATIVE_LOG=1`` lets
    it through."""
    captured: list[str] = []
    if os.environ.get("VALGUS_CAM_NATIVE_LOG"):
        yield captured
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield captured
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", "replace"))


class RunningMode(str, Enum):
    IMAGE = "image"  # independent images: the detector runs on every image
    VIDEO = "video"  # a frame sequence: tracking between frames, monotonic timestamps
    LIVE_STREAM = "live_stream"  # as VIDEO, but asynchronous: submit() returns at once, results()


@dataclass(frozen=True, slots=True)
class Pose:
    """One person's landmarks in one frame (see module docstring for the conventions)."""

    xy_px: np.ndarray  # (33, 2) float64, pixels
    z: np.ndarray  # (33,) normalised depth
    visibility: np.ndarray  # (33,) 0..1, likelihood of being visible (not occluded)
    presence: np.ndarray  # (33,) 0..1, likelihood of being in the image
    world_xyz_m: np.ndarray  # (33, 3) metres
    image_wh: tuple[int, int]
    segmentation_mask: np.ndarray | None = None  # (H, W) float32 0..1 when requested
    labels_swapped: bool = False  # left/right labels were swapped back by LabelFlipGuard

    def swapped(self) -> "Pose":
        """The same pose with every left_* and right_* landmark exchanged."""
        return Pose(self.xy_px[MIRROR], self.z[MIRROR], self.visibility[MIRROR], self.presence[MIRROR],
                    self.world_xyz_m[MIRROR], self.image_wh, self.segmentation_mask, not self.labels_swapped)

    def point(self, name: str) -> np.ndarray:
        return self.xy_px[LM[name]]


class LabelFlipGuard:
    """Undo MediaPipe's brief left/right label flips in a frame sequence.

    On some footage the model labels the whole body mirrored for a few frames (hips *and*
    shoulders swap image order, as if the person had turned their back). A real turn passes
    through a side-on posture, where the shoulder and hip lines are short; a label flip does not.
    So: the signed body width ``w`` (left minus right x of hips and shoulders, over the torso
    length) sets the facing; a sign change at full width shorter than ``accept_s`` is a flip and
    is swapped back; ``w`` near zero for ``reset_s`` (side-on) forgets the facing.
    """

    def __init__(self, *, min_width: float = 0.2, accept_s: float = 1.0, reset_s: float = 0.25):
        self.min_width, self.accept_s, self.reset_s = min_width, accept_s, reset_s
        self.facing = 0  # +1: subject's left on the image right (faces the camera); -1: back to it
        self._since_small: float | None = None
        self._since_inverted: float | None = None
        self.flips_fixed = 0

    def __call__(self, pose: Pose, time_s: float) -> Pose:
        xy = pose.xy_px
        lh, rh, ls, rs = xy[LM["left_hip"]], xy[LM["right_hip"]], xy[LM["left_shoulder"]], xy[LM["right_shoulder"]]
        torso = float(np.linalg.norm((ls + rs) / 2 - (lh + rh) / 2))
        if not np.isfinite(torso) or torso < 1e-6:
            return pose
        w = ((lh[0] - rh[0]) + (ls[0] - rs[0])) / 2 / torso
        if abs(w) < self.min_width:
            self._since_inverted = None
            self._since_small = time_s if self._since_small is None else self._since_small
            if time_s - self._since_small >= self.reset_s:
                self.facing = 0
            return pose
        self._since_small = None
        sign = 1 if w > 0 else -1
        if self.facing == 0 or sign == self.facing:
            self.facing = sign
            self._since_inverted = None
            return pose
        self._since_inverted = time_s if self._since_inverted is None else self._since_inverted
        if time_s - self._since_inverted >= self.accept_s:  # held too long for a flip: a real turn
            self.facing, self._since_inverted = sign, None
            return pose
        self.flips_fixed += 1
        return pose.swapped()


class PoseEstimator:
    """One PoseLandmarker for one stream of frames. Use as a context manager.

    In VIDEO mode ``detect`` needs the frame's time; timestamps handed to MediaPipe are integer
    milliseconds made strictly increasing (MediaPipe rejects repeats).

    Identity (VIDEO mode, ``keep_identity``): the subject is the first person found, followed by
    position and size (:class:`~valgus_cam.tracking.SubjectTracker`). The landmarker looks for one
    person (MediaPipe's ``num_poses=1``: cheapest, and what every single-person clip gets) until
    the person it returns has not been the subject for ``SWITCH_AFTER_S`` (it switched to somebody
    else; shorter refusals are landmark glitches of a small or blurred person); from then on, for
    the rest of the stream, it looks for two and keeps the one that is the subject. A frame where
    people are found but not the subject gives None and sets ``subject_lost``; ``people_seen`` is
    the most people found in one frame.

    LIVE_STREAM mode is asynchronous: ``submit(image, time_s, tag)`` returns at once and
    MediaPipe's own thread computes the pose; ``result(timeout_s)`` hands back ``(tag, pose)`` in
    submission order. MediaPipe drops a frame submitted while it is busy (no result comes for
    it), so submit one frame at a time (``in_flight``). ``detect`` in this mode is submit + wait.
    """

    SWITCH_AFTER_S = 0.2
    MAX_SIDE_PX = 1920  # larger frames are shrunk (INTER_AREA) before MediaPipe sees them; see detect

    # the interface callers use (every mode has all of it; see also people_seen and lost_frames)
    mode: RunningMode
    model_path: Path  # the .task file; ``model_path.name`` is what results name as the model
    subject_lost: bool  # the last frame: people found, none of them the subject (always False
    # without identity keeping)

    def __init__(self, model_path: str | os.PathLike, *, mode: RunningMode | str = RunningMode.VIDEO,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, segmentation_masks: bool = False,
                 fix_label_flips: bool = True, keep_identity: bool = True):
        from mediapipe.tasks.python import BaseOptions, vision

        self.mode = RunningMode(mode)
        self.model_path = Path(model_path)
        running_mode = {RunningMode.VIDEO: vision.RunningMode.VIDEO, RunningMode.IMAGE: vision.RunningMode.IMAGE,
                        RunningMode.LIVE_STREAM: vision.RunningMode.LIVE_STREAM}[self.mode]
        extra = {"result_callback": self._on_result} if self.mode is RunningMode.LIVE_STREAM else {}
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=running_mode,
            **extra,
            num_poses=1,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_segmentation_masks=segmentation_masks,
        )
        self._options, self._fix_label_flips = options, fix_label_flips
        self._keep_identity = keep_identity and self.mode is RunningMode.VIDEO
        self._landmarker = None
        self.reset()

    def reset(self) -> None:
        """Start a new stream: a fresh landmarker graph (no tracking state, timestamps from 0), so
        that a clip gives the same landmarks whether or not the estimator saw another clip before.
        Re-creating the graph takes ~0.1 s; the model file is read once per process by MediaPipe's
        first load."""
        self._create(self._options)
        self._last_ms = -1
        self.flip_guard = LabelFlipGuard() if self._fix_label_flips and self.mode is not RunningMode.IMAGE else None
        self.tracker = SubjectTracker() if self._keep_identity else None
        self.multi_person = False  # looking for two people (since the landmarker switched person once)
        self.subject_lost = False  # the last frame: people found, none of them the subject
        self._refused_since: float | None = None

    @property
    def people_seen(self) -> int:
        """The most people found in one frame since :meth:`reset` (0 without identity keeping:
        IMAGE and LIVE_STREAM modes, ``keep_identity=False``)."""
        return self.tracker.people_seen if self.tracker is not None else 0

    @property
    def lost_frames(self) -> int:
        """Frames since :meth:`reset` where people were found but not the subject (``subject_lost``)."""
        return self.tracker.lost_frames if self.tracker is not None else 0

    def _create(self, options) -> None:
        from mediapipe.tasks.python import vision

        self.close()
        try:
            with _native_stderr_captured():
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"MediaPipe cannot load the model {self.model_path}: {first}") from None
        self._frames = 0
        self._pending: dict[int, tuple[object, int, int]] = {}  # LIVE_STREAM: ms -> (tag, width, height)
        self._results: queue.Queue = queue.Queue()
        self._first_result: tuple | None = None

    def detect(self, image_bgr: np.ndarray, time_s: float | None = None) -> Pose | None:
        """Landmarks of the subject in ``image_bgr`` (uint8 BGR), or None when nobody is found (or,
        with ``subject_lost`` set, only somebody else)."""
        import mediapipe as mp

        if self.mode is RunningMode.LIVE_STREAM:
            if time_s is None:
                raise ValueError("LIVE_STREAM mode needs the frame time")
            self.submit(image_bgr, time_s)
            got = self.result(timeout_s=30.0)
            if got is None:
                raise ModelError("MediaPipe returned no result within 30 s")
            return got[1]

        h, w = image_bgr.shape[:2]
        if max(h, w) > self.MAX_SIDE_PX:
            # MediaPipe's models see 224-256 px crops; a 4K frame would only cost it time and ~10
            # full-size copies of memory. Normalised coordinates keep the aspect ratio, so the pixel
            # coordinates below are still those of the original frame.
            k = self.MAX_SIDE_PX / max(h, w)
            image_bgr = cv2.resize(image_bgr, (max(1, round(w * k)), max(1, round(h * k))),
                                   interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        poses = self._poses(image, time_s, w, h)
        if self.tracker is None:
            pose = poses[0] if poses else None
        else:
            t = self._last_ms / 1000.0 if time_s is None else float(time_s)
            if not self.multi_person and self.tracker.check([blob(p.xy_px, t) for p in poses], t).lost:
                self._refused_since = t if self._refused_since is None else self._refused_since
                if t - self._refused_since >= self.SWITCH_AFTER_S:
                    # the one-person landmarker switched to somebody else: look for two from now on
                    self.look_for_two()
                    poses = self._poses(image, time_s, w, h)
            else:
                self._refused_since = None
            decision = self.tracker.update([blob(p.xy_px, t) for p in poses], t)
            self.subject_lost = decision.lost
            pose = poses[decision.index] if decision.index is not None else None
        if pose is not None and self.flip_guard is not None:
            pose = self.flip_guard(pose, self._last_ms / 1000.0)
        return pose

    def look_for_two(self) -> None:
        """From the next frame on (until :meth:`reset`), find up to two people per frame (MediaPipe's
        ``num_poses=2``: its person detector then runs on every frame in which fewer than two
        people are tracked; ``benchmarks/identity.py`` measures the cost)."""
        import dataclasses

        if not self.multi_person:
            self._create(dataclasses.replace(self._options, num_poses=2))
            self.multi_person = True

    def _poses(self, image, time_s: float | None, w: int, h: int) -> list[Pose]:
        # the graph logs its start-up warnings on the first frame, and LiteRT can warn on any
        # later one ("Input tensor memory is not aligned ..."): every call is kept off the terminal
        with _native_stderr_captured():
            result = self._run(image, time_s)
        self._frames += 1
        return [_to_pose(result, k, w, h) for k in range(len(result.pose_landmarks or ()))]

    # ---------------------------------------------------------------- LIVE_STREAM mode
    @property
    def in_flight(self) -> int:
        """Frames submitted whose result has not been taken yet."""
        return len(self._pending) + self._results.qsize() + (self._first_result is not None)

    def submit(self, image_bgr: np.ndarray, time_s: float, tag: object = None) -> None:
        """LIVE_STREAM: start estimating the pose of ``image_bgr``; ``result`` returns it with ``tag``."""
        import mediapipe as mp

        if self.mode is not RunningMode.LIVE_STREAM:
            raise ValueError("submit() needs LIVE_STREAM mode")
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        ms = max(int(round(time_s * 1000.0)), self._last_ms + 1)
        self._last_ms = ms
        h, w = image_bgr.shape[:2]
        self._pending[ms] = (tag, w, h)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self._frames == 0:
            with _native_stderr_captured():
                self._landmarker.detect_async(image, ms)
                self._first_result = self._results.get(timeout=30.0)  # start-up logs come with the first result
        else:
            self._landmarker.detect_async(image, ms)
        self._frames += 1

    def _on_result(self, result, _image, ms: int) -> None:  # MediaPipe's thread, in timestamp order
        tag, w, h = self._pending.pop(ms, (None, 0, 0))
        pose = _to_pose(result, 0, w, h) if result.pose_landmarks else None
        if pose is not None and self.flip_guard is not None:
            pose = self.flip_guard(pose, ms / 1000.0)
        self._results.put((tag, pose))

    def result(self, timeout_s: float | None = None) -> tuple[object, Pose | None] | None:
        """LIVE_STREAM: the next ``(tag, pose)``, or None if none arrived within ``timeout_s``."""
        first = self._first_result
        if first is not None:
            self._first_result = None
            return first
        try:
            return self._results.get(timeout=timeout_s) if timeout_s != 0 else self._results.get_nowait()
        except queue.Empty:
            return None

    def _run(self, image, time_s: float | None):
        if self.mode is RunningMode.LIVE_STREAM:
            raise AssertionError("unreachable")
        if self.mode is RunningMode.VIDEO:
            if time_s is None:
                raise ValueError("VIDEO mode needs the frame time")
            ms = max(int(round(time_s * 1000.0)), self._last_ms + 1)
            self._last_ms = ms
            return self._landmarker.detect_for_video(image, ms)
        return self._landmarker.detect(image)

    def close(self) -> None:
        if self._landmarker is not None:
            # a graph closed before its first frame finished (Ctrl-C) logs MediaPipe warnings
            with _native_stderr_captured():
                self._landmarker.close()
            self._landmarker = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _to_pose(result, k: int, width: int, height: int) -> Pose:
    lms = result.pose_landmarks[k]
    arr = np.array([(p.x, p.y, p.z, p.visibility or 0.0, p.presence or 0.0) for p in lms], dtype=np.float64)
    world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks[k]], dtype=np.float64)
    mask = None
    if result.segmentation_masks:
        mask = result.segmentation_masks[k].numpy_view().copy()
        if mask.ndim == 3:
            mask = mask[..., 0]
        if mask.shape != (height, width):  # the frame was shrunk for MediaPipe
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    xy = arr[:, :2] * np.array([width, height], dtype=np.float64)
    return Pose(xy_px=xy, z=arr[:, 2], visibility=arr[:, 3], presence=arr[:, 4],
                world_xyz_m=world, image_wh=(width, height), segmentation_mask=mask)
