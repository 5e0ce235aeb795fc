"""MediaPipe Pose Landmarker (Tasks API) wrapped to return typed, pixel-space results.

Coordinates: ``xy_px`` is MediaPipe's normalised (x, y) multiplied by the image (width,
height): continuous pixel coordinates from the image's top-left corner, x right, y down. ``z``
is MediaPipe's normalised depth (roughly the scale of x, origin at the mid-hip, smaller = nearer
the camera). ``world_xyz_m`` are MediaPipe's 3D world landmarks in metres, origin at the
mid-hip, x toward the image right, y down, z away from the camera.
"""

from __future__ import annotations

import os
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

LANDMARK_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
N_LANDMARKS = len(LANDMARK_NAMES)
LM = {name: i for i, name in enumerate(LANDMARK_NAMES)}


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

    def point(self, name: str) -> np.ndarray:
        return self.xy_px[LM[name]]


class PoseEstimator:
    """One PoseLandmarker for one stream of frames. Use as a context manager.

    In VIDEO mode ``detect`` needs the frame's time; timestamps handed to MediaPipe are integer
    milliseconds made strictly increasing (MediaPipe rejects repeats).
    """

    def __init__(self, model_path: str | os.PathLike, *, mode: RunningMode | str = RunningMode.VIDEO,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, segmentation_masks: bool = False):
        from mediapipe.tasks.python import BaseOptions, vision

        self.mode = RunningMode(mode)
        self.model_path = Path(model_path)
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=(vision.RunningMode.VIDEO if self.mode is RunningMode.VIDEO
                          else vision.RunningMode.IMAGE),
            num_poses=1,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_segmentation_masks=segmentation_masks,
        )
        try:
            with _native_stderr_captured():
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"MediaPipe cannot load the model {self.model_path}: {first}") from None
        self._last_ms = -1
        self._frames = 0

    def detect(self, image_bgr: np.ndarray, time_s: float | None = None) -> Pose | None:
        """Landmarks of the person in ``image_bgr`` (uint8 BGR), or None when nobody is found."""
        import mediapipe as mp

        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self._frames == 0:  # the graph logs its start-up warnings on the first frame
            with _native_stderr_captured():
                result = self._run(image, time_s)
        else:
            result = self._run(image, time_s)
        self._frames += 1
        if not result.pose_landmarks:
            return None
        h, w = image_bgr.shape[:2]
        return _to_pose(result, 0, w, h)

    def _run(self, image, time_s: float | None):
        if self.mode is RunningMode.VIDEO:
            if time_s is None:
                raise ValueError("VIDEO mode needs the frame time")
            ms = max(int(round(time_s * 1000.0)), self._last_ms + 1)
            self._last_ms = ms
            return self._landmarker.detect_for_video(image, ms)
        return self._landmarker.detect(image)

    def close(self) -> None:
        if self._landmarker is not None:
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
    xy = arr[:, :2] * np.array([width, height], dtype=np.float64)
    return Pose(xy_px=xy, z=arr[:, 2], visibility=arr[:, 3], presence=arr[:, 4],
                world_xyz_m=world, image_wh=(width, height), segmentation_mask=mask)
