"""Hands on the hips, per frame, from 2D pose landmarks (pure numpy/scipy, no I/O); and the two
time helpers it shares with :mod:`valgus_cam.events` (the frame rate, a running median over
seconds). Conventions as in :mod:`valgus_cam.events`. :mod:`valgus_cam.measures` keeps the
per-frame state (``FrameMeasures.hands_on_hips``), the events read it back per rep."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import median_filter

from .landmarks import LM
from .signals import fill_nan, frame_rate_hz, n_frames


def median_over_s(x: np.ndarray, seconds: float, rate_hz: float) -> np.ndarray:
    """Running median over ``seconds`` (odd number of frames), NaNs interpolated first."""
    k = n_frames(seconds, rate_hz)
    k += (k + 1) % 2
    x = fill_nan(x)
    if not np.isfinite(x).any() or k <= 1:
        return x
    return median_filter(x, size=k, mode="nearest")


def _p(xy: np.ndarray, name: str) -> np.ndarray:
    return xy[:, LM[name]]


def wrist_hip_distance(xy_px: np.ndarray, vis: np.ndarray | None = None, *, min_vis: float = 0.5
                       ) -> np.ndarray:
    """(n,) per-frame distance of the wrists from their own hip point, in torso lengths.

    The larger of the two sides' distances among the wrists with visibility >= ``min_vis``
    (a hand resting on the hip is often occluded by the body at a yawed camera: then the visible
    wrist decides alone); if neither wrist is visible, the larger of the two raw distances; NaN
    where nobody is detected. Torso length = mid-shoulder to mid-hip image distance.
    """
    xy = np.asarray(xy_px, float)
    mid_sh = (_p(xy, "left_shoulder") + _p(xy, "right_shoulder")) / 2
    mid_hp = (_p(xy, "left_hip") + _p(xy, "right_hip")) / 2
    torso = np.linalg.norm(mid_sh - mid_hp, axis=1)
    torso = np.where(torso > 0, torso, np.nan)
    d = np.stack([np.linalg.norm(_p(xy, f"{s}_wrist") - _p(xy, f"{s}_hip"), axis=1) / torso
                  for s in ("left", "right")], axis=1)
    if vis is None:
        return np.max(d, axis=1)
    v = np.stack([np.asarray(vis, float)[:, LM[f"{s}_wrist"]] for s in ("left", "right")], axis=1)
    dv = np.where(v >= min_vis, d, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.nanmax(np.where(np.isfinite(dv), dv, -np.inf), axis=1)
    out = np.where(np.isfinite(out), out, np.max(d, axis=1))
    return out


def hands_on_hips_per_frame(time_s: np.ndarray, xy_px: np.ndarray, vis: np.ndarray | None = None, *,
                            on_below: float = 0.45, off_above: float = 0.6, smooth_s: float = 0.2,
                            min_vis: float = 0.5) -> np.ndarray:
    """(n,) bool: both hands on the hips, with hysteresis.

    The wrist-hip distance (:func:`wrist_hip_distance`, torso lengths) is running-median
    smoothed over ``smooth_s`` seconds; the state switches on below ``on_below`` and off above
    ``off_above`` and is held in between and over undetected frames. Starts in the state the
    first valid frame is closer to.
    """
    rate = frame_rate_hz(time_s)
    d = median_over_s(wrist_hip_distance(xy_px, vis, min_vis=min_vis), smooth_s, rate)
    n = d.size
    out = np.zeros(n, bool)
    ok = np.isfinite(d)
    if not ok.any():
        return out
    state = bool(d[np.argmax(ok)] < 0.5 * (on_below + off_above))
    for i in range(n):
        if ok[i]:
            if state and d[i] > off_above:
                state = False
            elif not state and d[i] < on_below:
                state = True
        out[i] = state
    return out
