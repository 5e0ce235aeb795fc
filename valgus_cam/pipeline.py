"""The pipeline, source → pose → (geometry → reps → verdicts) → sinks, as small generators."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from .capture import Frame, FrameSource
from .pose import Pose, PoseEstimator


def iter_poses(source: FrameSource, estimator: PoseEstimator) -> Iterator[tuple[Frame, Pose | None]]:
    """Each frame of ``source`` with the pose found in it (None when nobody is found)."""
    for frame in source:
        yield frame, estimator.detect(frame.image_bgr, frame.time_s)


@dataclass(slots=True)
class RunStats:
    frames: int = 0
    detected: int = 0
    first_time_s: float | None = None
    last_time_s: float | None = None
    wall_s: float = 0.0

    def add(self, frame: Frame, pose: Pose | None) -> None:
        self.frames += 1
        self.detected += pose is not None
        if self.first_time_s is None:
            self.first_time_s = frame.time_s
        self.last_time_s = frame.time_s

    @property
    def detection_rate(self) -> float:
        return self.detected / self.frames if self.frames else 0.0

    @property
    def processed_fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


class Stopwatch:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed_s = time.perf_counter() - self.t0
