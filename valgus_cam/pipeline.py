"""The pipeline, source → pose → (geometry → reps → verdicts) → sinks, as small generators."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from collections.abc import Callable

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
    interrupted: bool = False

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


def run_landmarks(source: FrameSource, estimator: PoseEstimator, writer,
                  on_frame: Callable[[Frame, Pose | None], None] | None = None) -> RunStats:
    """source → pose → landmark writer; returns the counts and the wall time of the loop.

    A live source (camera) ends with Ctrl-C: the frames so far are kept and ``stats.interrupted``
    is set; for files Ctrl-C propagates (the caller discards the partial output)."""
    stats = RunStats()
    with Stopwatch() as sw:
        try:
            for frame, pose in iter_poses(source, estimator):
                writer.write(frame.index, frame.time_s, pose)
                stats.add(frame, pose)
                if on_frame is not None:
                    on_frame(frame, pose)
        except KeyboardInterrupt:
            if not source.is_live:
                raise
            stats.interrupted = True
    stats.wall_s = sw.elapsed_s
    return stats
