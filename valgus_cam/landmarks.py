"""MediaPipe Pose's 33 landmarks: names, indices, mirror twins, and a clip's landmarks as arrays
(:class:`LandmarkSeries`). No dependencies but numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
# index of each landmark's mirror twin (left <-> right; the nose is its own)
MIRROR = np.array([LM[n.replace("left", "\0").replace("right", "left").replace("\0", "right")]
                   for n in LANDMARK_NAMES])


@dataclass(frozen=True, slots=True)
class LandmarkSeries:
    """A clip's landmarks as arrays; NaN rows where nobody was detected.

    Slices like supervision's ``KeyPoints``: ``series[i]`` is frame ``i`` as a one-frame series,
    ``series[a:b]`` the frames ``a`` to ``b - 1``; both keep ``image_wh``.

    >>> s = LandmarkSeries(np.arange(4) / 30, np.zeros((4, 33, 2)), np.zeros((4, 33, 3)), np.ones((4, 33)), (640, 480))
    >>> len(s), len(s[1:3]), s[-1].time_s.tolist(), s[-1].xy_px.shape, s[1:3].image_wh
    (4, 2, [0.1], (1, 33, 2), (640, 480))
    """

    time_s: np.ndarray  # (n,)
    xy_px: np.ndarray  # (n, 33, 2)
    world_xyz_m: np.ndarray  # (n, 33, 3)
    visibility: np.ndarray  # (n, 33)
    image_wh: tuple[int, int]

    def __len__(self) -> int:
        return len(self.time_s)

    def __getitem__(self, index: int | slice) -> "LandmarkSeries":
        if not isinstance(index, slice):
            i = range(len(self))[index]  # negative counts from the end; IndexError beyond it
            index = slice(i, i + 1)
        return LandmarkSeries(self.time_s[index], self.xy_px[index], self.world_xyz_m[index], self.visibility[index],
                              self.image_wh)

    @property
    def detected(self) -> np.ndarray:
        return np.isfinite(self.xy_px[:, LM["left_hip"], 0])

    def p(self, name: str) -> np.ndarray:
        return self.xy_px[:, LM[name]]

    def w(self, name: str) -> np.ndarray:
        return self.world_xyz_m[:, LM[name]]

    def vis(self, name: str) -> np.ndarray:
        return self.visibility[:, LM[name]]

    @classmethod
    def from_poses(cls, time_s, poses, image_wh) -> "LandmarkSeries":
        n = len(poses)
        xy = np.full((n, 33, 2), np.nan)
        world = np.full((n, 33, 3), np.nan)
        vis = np.zeros((n, 33))
        for i, p in enumerate(poses):
            if p is not None:
                xy[i], world[i], vis[i] = p.xy_px, p.world_xyz_m, p.visibility
        return cls(np.asarray(time_s, float), xy, world, vis, tuple(image_wh))

    @classmethod
    def from_table(cls, table, image_wh) -> "LandmarkSeries":
        """From :class:`valgus_cam.sinks.LandmarkTable` (a landmark CSV read back)."""
        return cls(table.time_s, table.xy_px, table.world_xyz_m, np.nan_to_num(table.values[..., 3]), tuple(image_wh))
