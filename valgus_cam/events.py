"""Per-rep failure events of single-leg squats from 2D pose landmarks (pure numpy/scipy, no I/O).

Conventions shared by every function:

* ``time_s``: (n,) frame times in seconds (any, possibly variable, frame rate).
* ``xy_px``: (n, 33, 2) MediaPipe pose landmarks in image pixels, y pointing down; NaN where
  nobody was detected.
* ``vis``: optional (n, 33) MediaPipe visibility in [0, 1]; ``None`` = everything visible.
* ``start_frame``/``end_frame``: the rep window, inclusive frame indices. The functions are
  built to tolerate a window that is about 0.2 s too early or too late.
* ``stance``: "left" / "right" = the standing (planted) leg of a single-leg rep, "both" for a
  double-leg rep.
* Lengths are expressed in units of the body's own image segments (shank length of the stance
  leg, torso length), so the thresholds do not depend on image size or subject distance.
  Durations are in seconds, so they do not depend on the frame rate.

Return values: ``True``/``False`` for a decision, ``None`` when the question does not apply
(double-leg rep for touchdown) or the landmarks needed are missing.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .hands import hands_on_hips_per_frame, median_over_s
from .signals import frame_rate_hz, n_frames
from .landmarks import LM as _IDX
from .landmarks import LandmarkSeries
from .reps import Rep
from .verdicts import RepEvents

_FOOT = ("ankle", "heel", "foot_index")


# --------------------------------------------------------------------------- helpers
def _window(n: int, start_frame: int, end_frame: int) -> slice:
    a = int(np.clip(start_frame, 0, n - 1))
    e = int(np.clip(end_frame, a, n - 1))
    return slice(a, e + 1)


def _p(xy: np.ndarray, name: str) -> np.ndarray:
    return xy[:, _IDX[name]]


# --------------------------------------------------------------------------- free-foot touchdown
@dataclass(frozen=True)
class TouchdownStats:
    """Decision statistics of :func:`free_foot_touchdown_stats` (all in stance-shank lengths).

    ``lift_start``: free foot's lowest image point above the stance foot's at the rep start
    (median over ``ref_s``); large (> ``high_lift``) = foot held behind / high ("high" mode).
    ``lift_min``: smallest (running-median) lift within the window; used in "high" mode.
    ``flattening``: drop of the free foot's toe-below-ankle image gap from its lifted value
    (median over the first and last ``ref_s`` of the window) to its smallest running-median value
    within the window; used in "low" mode (foot held low, usually in front).
    ``mode``: "high" or "low"; ``margin``: signed distance of the deciding statistic from its
    threshold, positive = touchdown.
    """
    lift_start: float
    lift_min: float
    flattening: float
    mode: str
    margin: float


def free_foot_touchdown_stats(time_s: np.ndarray, xy_px: np.ndarray, start_frame: int, end_frame: int,
                              stance: str, *, ref_s: float = 0.3, smooth_s: float = 0.3,
                              high_lift: float = 0.75, touch_lift: float = 0.4,
                              touch_flattening: float = 0.043) -> TouchdownStats | None:
    """Statistics behind :func:`free_foot_touchdown`; None for double-leg reps or missing data.

    Two observable signatures of the free foot reaching the floor:

    * foot held high / behind the body (its lowest point well above the stance foot's in the
      image): touchdown = its lowest point comes down to within ``touch_lift`` shank lengths of the
      stance foot's lowest point (the floor level at the feet).
    * foot held low (usually in front, a few cm above the floor, where it can even look lower
      than the planted foot in the image): height cannot be told from one view, but a foot set
      down goes flat, whereas the lifted foot is plantar-flexed. The toe-below-ankle image gap
      shrinks by > ``touch_flattening`` shank lengths relative to the rep's own lifted value.
    """
    if stance not in ("left", "right"):
        return None
    free = "right" if stance == "left" else "left"
    xy = np.asarray(xy_px, float)
    n = xy.shape[0]
    sl = _window(n, start_frame, end_frame)
    rate = frame_rate_hz(time_s)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        shank = np.nanmedian(np.linalg.norm(_p(xy, f"{stance}_knee")[sl] - _p(xy, f"{stance}_ankle")[sl], axis=1))
        if not np.isfinite(shank) or shank <= 0:
            return None
        low_st = np.nanmax(np.stack([_p(xy, f"{stance}_{k}")[:, 1] for k in _FOOT]), axis=0)
        low_fr = np.nanmax(np.stack([_p(xy, f"{free}_{k}")[:, 1] for k in _FOOT]), axis=0)
        lift = (low_st - low_fr)[sl] / shank
        gap = (_p(xy, f"{free}_foot_index")[:, 1] - _p(xy, f"{free}_ankle")[:, 1])[sl] / shank
    if np.isfinite(lift).sum() < 3 or np.isfinite(gap).sum() < 3:
        return None
    lift_s = median_over_s(lift, smooth_s, rate)
    gap_s = median_over_s(gap, smooth_s, rate)
    m = lift_s.size
    k = min(n_frames(ref_s, rate), m)
    lift0 = float(np.median(lift_s[:k]))
    lift_min = float(np.min(lift_s))
    gap_ref = float(np.median(np.r_[gap_s[:k], gap_s[m - k:]]))
    flat = float(gap_ref - np.min(gap_s))
    if lift0 > high_lift:
        mode, margin = "high", touch_lift - lift_min
    else:
        mode, margin = "low", flat - touch_flattening
    return TouchdownStats(lift0, lift_min, flat, mode, float(margin))


def free_foot_touchdown(time_s: np.ndarray, xy_px: np.ndarray, start_frame: int, end_frame: int,
                        stance: str, **kw) -> bool | None:
    """Did the free foot touch the floor during this single-leg rep? None for double-leg reps.

    See :func:`free_foot_touchdown_stats` for the statistics and thresholds (keyword args).
    """
    s = free_foot_touchdown_stats(time_s, xy_px, start_frame, end_frame, stance, **kw)
    return None if s is None else bool(s.margin > 0)


# --------------------------------------------------------------------------- hands off the hips
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of a bool array (stop exclusive)."""
    m = np.r_[False, np.asarray(mask, bool), False].astype(int)
    dm = np.diff(m)
    return list(zip(np.flatnonzero(dm == 1), np.flatnonzero(dm == -1)))


def hands_off_event(time_s: np.ndarray, xy_px: np.ndarray, start_frame: int, end_frame: int,
                    vis: np.ndarray | None = None, *, start_s: float = 0.4, min_off_s: float = 0.3,
                    on_state: np.ndarray | None = None, **per_frame_kw) -> tuple[bool | None, bool | None]:
    """(hands on hips at the rep start, hands left the hips during the rep); (None, None) if no data.

    On at start: the hands are on the hips (:func:`hands_on_hips_per_frame`) in at least half of
    the first ``start_s`` seconds of the window (robust to a window 0.2 s off either way, and to
    the tail of the previous rep's hands-off). Left during the rep: on at start, and after the
    first on-frame of the window an off-run lasting at least ``min_off_s`` seconds. ``on_state``
    (the per-frame state of the whole clip) can be passed to avoid recomputing it per rep.
    """
    xy = np.asarray(xy_px, float)
    n = xy.shape[0]
    sl = _window(n, start_frame, end_frame)
    if not np.isfinite(xy[sl, [_IDX["left_wrist"], _IDX["right_wrist"], _IDX["left_hip"]]]).any():
        return None, None
    rate = frame_rate_hz(time_s)
    if on_state is None:
        on_state = hands_on_hips_per_frame(time_s, xy, vis, **per_frame_kw)
    st = np.asarray(on_state, bool)[sl]
    k = min(n_frames(start_s, rate), st.size)
    on_start = bool(st[:k].mean() >= 0.5)
    if not on_start:
        return False, False
    first_on = int(np.argmax(st))
    min_len = n_frames(min_off_s, rate)
    left = any((b - a) >= min_len for a, b in _runs(~st[first_on:]))
    return True, bool(left)


# --------------------------------------------------------------------------- per rep
def rep_events(series: LandmarkSeries, hands_state: np.ndarray, rep: Rep) -> RepEvents:
    """The single-leg events of one rep (all None for a double-leg rep: the protocol asks for
    hands on hips and a free foot only in the single-leg squat). ``hands_state`` is
    :func:`hands_on_hips_per_frame` of the whole clip."""
    if rep.stance not in ("left", "right"):
        return RepEvents()
    on, off = hands_off_event(series.time_s, series.xy_px, rep.start_frame, rep.end_frame, on_state=hands_state)
    touchdown = free_foot_touchdown(series.time_s, series.xy_px, rep.start_frame, rep.end_frame, rep.stance)
    return RepEvents(hands_on_hips_at_start=on, hands_off_hips=off, balance_lost=touchdown)
