"""MediaPipe Pose's 33 landmarks: names, indices, mirror twins. No dependencies but numpy."""

from __future__ import annotations

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
