"""Rep segmentation for squats (double- and single-leg), lunges and jump squats.

Pure numpy/scipy: no I/O, no MediaPipe. Inputs are MediaPipe Pose landmark arrays as read by
``valgus_cam.sinks.read_landmarks_csv`` (``xy_px`` (n, 33, 2) image pixels, y down; NaN rows
where nobody was detected; ``world_xyz_m`` (n, 33, 3)), and the frame times in seconds.

Pipeline (:func:`analyse_reps`)::

    legs = leg_depth_signals(time_s, xy_px)          # (n, 2): 0 standing, + deeper
    reps = segment_reps(time_s, legs.mean(1))        # list[Rep] (start, bottom, end frames)
    stance = classify_stance(xy_px, start, end)      # "both" | "left" | "right" per rep

The depth signal is each leg's hip–ankle image distance relative to its standing value: measured
relative to the feet it ignores camera shake and the whole body leaving the floor (jumps), and
divided by the standing value it is scale free, so it works in front and side views and when the
subject walks toward the camera. All time constants are in seconds, so the functions work at any
(even variable) frame rate.

Rep boundaries: the reps are found (counted) on the depth signal as before; their start and end
are then re-timed on a knee-flexion equivalent of the depth (:func:`depth_to_flexion`) with a
per-rep standing level and a 30%/90% crossing extrapolation (:func:`_movement_onset`).
Stance: foot motion plus how much each foot follows the hips (:func:`foot_follow`).

Measured (full model synthetic; full and lite real): rep counts equal the hand counts on all 10
counted clips of ``../shared/clips`` with both models and on all 24 synthetic clips; stance leg
right on 97/97 synthetic reps, every real double-leg squat rep "both" (both models); on the 97
synthetic reps |start error| <= 0.27 s, |bottom| <= 0.17 s, |end| <= 0.33 s (95th percentiles
0.17 / 0.07 / 0.17 s; 4 boundaries over 0.2 s, all on dev_002 / dev_020). Free-foot touchdown
and the hands are per-rep events: ``valgus_cam.events``.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter
from scipy.signal import find_peaks

from .signals import fill_nan, frame_rate_hz, n_frames
from .landmarks import LM

L_HIP, R_HIP, L_KNEE, R_KNEE = LM["left_hip"], LM["right_hip"], LM["left_knee"], LM["right_knee"]
L_ANKLE, R_ANKLE, L_HEEL, R_HEEL = LM["left_ankle"], LM["right_ankle"], LM["left_heel"], LM["right_heel"]
L_FOOT_INDEX, R_FOOT_INDEX = LM["left_foot_index"], LM["right_foot_index"]
_FOOT = {"left": (L_ANKLE, L_HEEL, L_FOOT_INDEX), "right": (R_ANKLE, R_HEEL, R_FOOT_INDEX)}



@dataclass(frozen=True, slots=True)
class Rep:
    """One repetition; frame indices are 0-based positions in the input arrays."""

    start_frame: int  # last still frame before the descent
    bottom_frame: int  # deepest point (middle of the bottom plateau)
    end_frame: int  # first still frame after the ascent
    depth: float  # peak depth above the pre-rep level, same unit as the depth signal
    stance: str = "both"  # "both" (double-leg / lunge) | "left" | "right" (single-leg: stance leg)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
@contextmanager
def _quiet():
    """Silence numpy's 'Mean of empty slice': frames with nobody detected are expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield




def _smooth(x: np.ndarray, window_frames: int) -> np.ndarray:
    """Median (spike removal) then centred moving average; window in frames (odd)."""
    w = max(1, int(window_frames) | 1)
    if w <= 1 or x.size < 3:
        return x.copy()
    y = median_filter(x, size=min(w, 5), mode="nearest")
    k = np.ones(w) / w
    pad = np.pad(y, w // 2, mode="edge")
    return np.convolve(pad, k, mode="valid")


# ----------------------------------------------------------------------------------------------
# depth signal
# ----------------------------------------------------------------------------------------------
def segment_reps(time_s: np.ndarray, depth: np.ndarray, *, min_depth: float = 0.06,
                 min_duration_s: float = 0.5, max_duration_s: float = 12.0,
                 min_separation_s: float = 0.6, smooth_s: float = 0.1, onset_frac: float = 0.08,
                 bottom_frac: float = 0.03, baseline_window_s: float = 4.0,
                 partial_frac: float = 0.5, min_relative_depth: float = 0.45,
                 refine: bool = True) -> list[Rep]:
    """Split a depth signal (0 = standing, + = deeper) into reps.

    A rep is a peak of the smoothed depth whose prominence (descent below both neighbouring
    standing levels, scipy's ``find_peaks`` prominence = hysteresis) is at least ``min_depth``,
    at least ``min_separation_s`` from the next deeper bottom. Its standing level (baseline) is
    the lowest depth before it, back to the previous rep's bottom (or ``baseline_window_s``), so
    the baseline is re-taken between reps and sets; the start is the last frame before the
    bottom at or below baseline + ``onset_frac`` x rep depth, extrapolated back along the
    descent to the baseline; the end is the mirror image after the bottom. The bottom is the
    middle of the frames within ``bottom_frac`` x rep depth of the deepest point. Reps shorter
    than ``min_duration_s`` (start to end) or longer than ``max_duration_s`` are dropped, as is
    a first rep the clip starts inside of (already ``partial_frac`` of the way down), and reps
    shallower than ``min_relative_depth`` x the median rep depth of the clip (a jump's landing
    absorption, the step between lunges, shuffling the feet).
    Frame-rate independent: all windows are in seconds and converted with the median frame
    interval of ``time_s``.
    """
    t = np.asarray(time_s, dtype=float)
    d = np.asarray(depth, dtype=float)
    n = d.size
    if n < 3 or not np.isfinite(d).any():
        return []
    rate = frame_rate_hz(t)
    nan = ~np.isfinite(d)
    ds = _smooth(fill_nan(d), n_frames(smooth_s, rate))
    # NaN stretches count as standing (0 depth relative to neighbours) so they split reps
    ds[nan] = ds.min()
    peaks, props = find_peaks(ds, prominence=min_depth, distance=n_frames(min_separation_s, rate))
    reps: list[Rep] = []
    limits: list[tuple[int, int, int]] = []
    prev_bottom = -1
    for p in peaks:
        lo = max(prev_bottom + 1, p - n_frames(baseline_window_s, rate), 0)
        nxt = [q for q in peaks if q > p]
        hi = min(nxt[0] if nxt else n, p + n_frames(baseline_window_s, rate) + 1, n)
        left, right = ds[lo:p + 1], ds[p:hi]
        base_l, base_r = float(left.min()), float(right.min())
        amp_l, amp_r = ds[p] - base_l, ds[p] - base_r
        if min(amp_l, amp_r) < min_depth:
            continue
        start = _onset(ds, p, lo, base_l, amp_l, onset_frac, direction=-1)
        end = _onset(ds, p, hi - 1, base_r, amp_r, onset_frac, direction=+1)
        dur = t[end] - t[start] if np.isfinite(t[end] - t[start]) else (end - start) / rate
        if not (min_duration_s <= dur <= max_duration_s):
            continue
        if start == 0 and ds[0] - base_r > partial_frac * amp_r:
            continue  # the clip starts inside this rep: its descent was not seen
        near = ds[start:end + 1] >= ds[p] - bottom_frac * min(amp_l, amp_r)
        # contiguous run of near-peak frames containing p
        k = p - start
        a = k
        while a > 0 and near[a - 1]:
            a -= 1
        b = k
        while b < near.size - 1 and near[b + 1]:
            b += 1
        bottom = start + (a + b) // 2
        reps.append(Rep(int(start), int(bottom), int(end), float(min(amp_l, amp_r))))
        limits.append((lo, p, hi - 1))
        prev_bottom = p
    keep = list(range(len(reps)))
    if reps and min_relative_depth > 0:
        ref = float(np.median([r.depth for r in reps]))
        keep = [k for k, r in enumerate(reps) if r.depth >= min_relative_depth * ref]
    reps = [reps[k] for k in keep]
    limits = [limits[k] for k in keep]
    if refine and reps:
        reps = _refine_boundaries(t, ds, reps, limits, rate, smooth_s)
    return reps


def _onset(ds: np.ndarray, p: int, limit: int, base: float, amp: float, frac: float, direction: int,
           vel_frac: float = 0.1) -> int:
    """Frame where the movement leaves (direction -1) or returns to (+1) standing, around peak p.

    Walks from the peak toward ``limit`` until the depth falls to base + frac*amp (the rep
    cannot be longer than that); the fastest descent (ascent) frame between that point and the
    peak is then the reference, and the onset is where the speed, walking away from the peak,
    first drops below ``vel_frac`` of that fastest speed (movements start and end smoothly, so a
    depth threshold alone is late at the start and early at the end).
    """
    thr = base + frac * amp
    i = p
    while i != limit and ds[i] > thr:
        i += direction
    lo, hi = sorted((p, i))
    if hi - lo < 3:
        return int(i)
    # hip-ankle shortening grows with the square of knee flexion near standing, so its onset is
    # flat; the square root of the depth above the baseline moves linearly with knee angle
    v = np.gradient(np.sqrt(np.clip(ds - base, 0.0, None))) * (-direction)  # > 0 toward the peak
    seg = v[lo:hi + 1]
    k = lo + int(np.argmax(seg))
    vmax = v[k]
    if vmax <= 0:
        return int(i)
    j = k
    lim_lo, lim_hi = sorted((p, limit))
    while lim_lo < j + direction < lim_hi and v[j + direction] > vel_frac * vmax:
        j += direction
    return int(j)


def depth_to_flexion(depth: np.ndarray) -> np.ndarray:
    """Knee-flexion equivalent (degrees) of a hip-ankle depth (1 - distance / standing distance).

    With thigh and shank of equal length L the hip-ankle distance at knee flexion q is
    2 L cos(q / 2), so q = 2 acos(1 - depth). The depth grows with the square of the flexion near
    standing (flat at the start of a rep); this mapping undoes that, so the result moves roughly
    linearly with the knee (exactly so for a side view with equal segments).
    """
    d = np.clip(np.asarray(depth, dtype=float), 0.0, 1.0)
    return np.degrees(2.0 * np.arccos(1.0 - d))


# a smooth (raised-cosine) movement from 0 to 1 passes 20% at 29.5% and 80% at 70.5% of its
# duration: the onset is 0.2952 / 0.4097 = 0.72 x (t80 - t20) before t20
_ONSET_EXTRAP = 0.2952 / 0.4097


def _crossing_time(t: np.ndarray, s: np.ndarray, i0: int, step: int, level: float, stop: int,
                   rising: bool) -> float:
    """Walk from i0 by step until s crosses level (s >= level if rising, else <= level); return
    the linearly interpolated time of the crossing, or NaN if not found before stop."""
    i = i0
    if (s[i] >= level) if rising else (s[i] <= level):
        return float(t[i])
    while i != stop:
        j = i + step
        if (s[j] >= level) if rising else (s[j] <= level):
            a, b = s[i], s[j]
            f = 0.0 if b == a else (level - a) / (b - a)
            f = min(max(f, 0.0), 1.0)
            return float(t[i] + f * (t[j] - t[i]))
        i = j
    return float("nan")


def _movement_onset(t: np.ndarray, s: np.ndarray, p: int, limit: int, direction: int, rate: float,
                    vel_frac: float = 0.1, lo_frac: float = 0.3, hi_frac: float = 0.9,
                    base_window_s: float = 0.4) -> int | None:
    """Start (direction -1) or end (+1) of the movement into / out of the bottom at frame p.

    ``s`` is a flexion-like signal (linear in the knee angle). The movement's local standing
    level is where the speed, walking away from the fastest frame of the descent (ascent), drops
    below ``vel_frac`` of that speed: a per-rep baseline, so a still phase at another level just
    before the rep (single-leg: the hold after lifting the free leg) is the reference, not the
    stand before the lift. Between that level and the peak the 20% and 80% crossings are timed
    (interpolated, robust to noise) and the onset is extrapolated back (forward) from the 20%
    crossing by 0.72 x their interval, the ratio of a smooth bell-shaped velocity profile: the
    depth is flat at the start, so a threshold alone would be late. Returns None on failure.
    """
    lim_lo, lim_hi = sorted((p, limit))
    if lim_hi - lim_lo < 4:
        return None
    seg = s[lim_lo:lim_hi + 1]
    base0 = float(np.nanmin(seg))
    amp0 = s[p] - base0
    if not amp0 > 0:
        return None
    # half-way point between the peak and the lowest level on this side
    h = p
    while h != limit and s[h] > base0 + 0.5 * amp0:
        h += direction
    v = np.gradient(s, t) * (-direction)  # > 0 toward the peak
    a, b = sorted((h, p))
    k = a + int(np.nanargmax(v[a:b + 1]))
    vmax = v[k]
    if not vmax > 0:
        return None
    j = k
    while j != limit and v[j + direction] > vel_frac * vmax:
        j += direction
    if base_window_s > 0:
        w = n_frames(base_window_s, rate)
        a, b = sorted((j, min(max(j + direction * w, lim_lo), lim_hi)))
        base = float(np.nanmin(s[a:b + 1]))
    else:
        base = float(s[j])
    amp = float(s[p] - base)
    if not amp > 0:
        return None
    t_lo = _crossing_time(t, s, k, direction, base + lo_frac * amp, limit, rising=False)
    t_hi = _crossing_time(t, s, k, -direction, base + hi_frac * amp, p, rising=True)
    if not (np.isfinite(t_lo) and np.isfinite(t_hi)):
        return None
    span = abs(t_hi - t_lo)
    tau_lo, tau_hi = (np.arccos(1.0 - 2.0 * lo_frac) / np.pi, np.arccos(1.0 - 2.0 * hi_frac) / np.pi)
    onset_t = t_lo + direction * tau_lo / (tau_hi - tau_lo) * span
    idx = int(np.argmin(np.abs(t - onset_t)))
    return int(min(max(idx, lim_lo), lim_hi))


def _refine_boundaries(t: np.ndarray, ds: np.ndarray, reps: list[Rep], limits: list[tuple[int, int, int]],
                       rate: float, smooth_s: float) -> list[Rep]:
    """Re-time every rep's start and end with :func:`_movement_onset` on the flexion-like signal."""
    tt = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(tt)) or np.any(np.diff(tt) <= 0):
        tt = np.arange(ds.size) / rate
    s = depth_to_flexion(ds)
    out = []
    for r, (lo, p, hi) in zip(reps, limits):
        st = _movement_onset(tt, s, p, lo, -1, rate)
        en = _movement_onset(tt, s, p, hi, +1, rate)
        st = r.start_frame if st is None else min(st, r.bottom_frame)
        en = r.end_frame if en is None else max(en, r.bottom_frame)
        out.append(replace(r, start_frame=int(st), end_frame=int(en)))
    # neighbouring reps must not overlap: split an overlap in the middle
    for k in range(len(out) - 1):
        a, b = out[k], out[k + 1]
        if a.end_frame > b.start_frame:
            m = (a.end_frame + b.start_frame) // 2
            m = min(max(m, a.bottom_frame), b.bottom_frame)
            out[k] = replace(a, end_frame=m)
            out[k + 1] = replace(b, start_frame=m)
    return out


# ----------------------------------------------------------------------------------------------
# stance (single- vs double-leg, which leg) and free-foot touchdown
# ----------------------------------------------------------------------------------------------
def leg_depth_signals(time_s: np.ndarray, xy_px: np.ndarray, *, reference_window_s: float = 8.0,
                      gap_fill_s: float = 1.0) -> np.ndarray:
    """Per-leg squat depth, (n, 2) [left, right]: 1 - hip-ankle image distance / its standing value.

    The standing value is the upper envelope (running maximum over ``reference_window_s`` after
    spike removal) of that leg's hip-ankle distance, so it follows slow changes of scale (subject
    walking toward the camera) and needs no still period at the start. The Euclidean distance
    (not just the vertical one) keeps a split stance (lunge, foot nearer the camera) from
    reading as depth. Gaps of missing detection up to ``gap_fill_s`` are interpolated, longer
    ones stay NaN.
    """
    t = np.asarray(time_s, dtype=float)
    xy = np.asarray(xy_px, dtype=float)
    rate = frame_rate_hz(t)
    out = np.full((xy.shape[0], 2), np.nan)
    for k, (hip, ankle) in enumerate(((L_HIP, L_ANKLE), (R_HIP, R_ANKLE))):
        length = np.linalg.norm(xy[:, hip] - xy[:, ankle], axis=1)
        valid = np.isfinite(length)
        if not valid.any():
            continue
        lf = median_filter(fill_nan(length), size=5, mode="nearest")
        ref = maximum_filter1d(lf, size=n_frames(reference_window_s, rate, 3), mode="nearest")
        ref = _smooth(ref, n_frames(0.5 * reference_window_s, rate))
        d = 1.0 - lf / ref
        gap = ~valid
        if gap.any():
            edges = np.flatnonzero(np.diff(np.r_[0, gap.astype(int), 0]))
            for a, b in zip(edges[::2], edges[1::2]):
                if (b - a) > gap_fill_s * rate:
                    d[a:b] = np.nan
        out[:, k] = d
    return out


def foot_motion(xy_px: np.ndarray, start_frame: int, end_frame: int) -> tuple[float, float]:
    """How far each foot moves in the image within [start_frame, end_frame], in shank lengths.

    The foot is the centroid of ankle, heel and foot index; the motion is the distance between
    the 95th and 5th percentiles of its position. A planted foot stays put (< ~0.08 here, pose
    jitter); a free foot swings with the hip (> ~0.1). Returns (left, right).
    """
    xy = np.asarray(xy_px, dtype=float)[start_frame:end_frame + 1]
    with np.errstate(all="ignore"):
        shank = np.nanmedian(np.r_[np.linalg.norm(xy[:, L_KNEE] - xy[:, L_ANKLE], axis=1),
                                   np.linalg.norm(xy[:, R_KNEE] - xy[:, R_ANKLE], axis=1)])
    res = []
    for side in ("left", "right"):
        with np.errstate(all="ignore"), _quiet():
            p = np.nanmean(xy[:, list(_FOOT[side])], axis=1)
        p = p[np.isfinite(p).all(1)]
        if len(p) < 2 or not np.isfinite(shank) or shank <= 0:
            res.append(np.nan)
            continue
        res.append(float(np.linalg.norm(np.percentile(p, 95, axis=0) - np.percentile(p, 5, axis=0)) / shank))
    return res[0], res[1]


def foot_follow(xy_px: np.ndarray, start_frame: int, end_frame: int) -> tuple[float, float]:
    """How much each foot follows the hips vertically within [start_frame, end_frame].

    The least-squares slope of the foot centroid's image y on the mid-hip's image y: a planted
    foot stays put while the hips go down and up (~0), a free foot held off the floor goes down
    and up with them (0.25..1 on the synthetic single-leg reps). Pose jitter of a planted foot
    is not correlated with the hips, so unlike :func:`foot_motion` it does not read as a free
    foot. Returns (left, right); NaN without enough data.
    """
    xy = np.asarray(xy_px, dtype=float)[start_frame:end_frame + 1]
    with np.errstate(all="ignore"), _quiet():
        hip = np.nanmean(xy[:, [L_HIP, R_HIP], 1], axis=1)
    res = []
    for side in ("left", "right"):
        with np.errstate(all="ignore"), _quiet():
            f = np.nanmean(xy[:, list(_FOOT[side]), 1], axis=1)
        ok = np.isfinite(f) & np.isfinite(hip)
        if ok.sum() < 3:
            res.append(np.nan)
            continue
        hy = hip[ok] - hip[ok].mean()
        fy = f[ok] - f[ok].mean()
        den = float((hy * hy).sum())
        res.append(float((hy * fy).sum() / den) if den > 0 else np.nan)
    return res[0], res[1]


def classify_stance(xy_px: np.ndarray, start_frame: int, end_frame: int, *, min_free_motion: float = 0.09,
                    motion_ratio: float = 2.0, min_follow: float = 0.15, follow_margin: float = 0.1) -> str:
    """Stance of one rep: "both", or the stance leg ("left"/"right") of a single-leg rep.

    Single-leg when one foot moves at least ``min_free_motion`` shank lengths within the rep and
    at least ``motion_ratio`` times as much as the other (see :func:`foot_motion`), and that
    foot follows the hips' vertical motion (:func:`foot_follow` slope at least ``min_follow``
    and ``follow_margin`` above the other foot's): a free foot is carried by the body, while
    tracking jitter of a planted foot is not correlated with the squat. The stance leg is the
    still foot. Camera-angle independent, unlike foot height: a free foot held in front of the
    body can look *lower* in the image than the planted one. A lunge's stepping foot also moves
    with the body, so lunge reps can come out as single-leg on the front (still) leg.
    """
    ml, mr = foot_motion(xy_px, start_frame, end_frame)
    if not (np.isfinite(ml) and np.isfinite(mr)):
        return "both"
    hi, lo = max(ml, mr), min(ml, mr)
    if not (hi >= min_free_motion and hi >= motion_ratio * lo):
        return "both"
    fl, fr = foot_follow(xy_px, start_frame, end_frame)
    free, other = (fr, fl) if ml < mr else (fl, fr)
    if not (np.isfinite(free) and np.isfinite(other)):
        return "both"
    if free >= min_follow and free - other >= follow_margin:
        return "left" if ml < mr else "right"
    return "both"


def combined_depth(leg_depth: np.ndarray, stance_per_frame: np.ndarray) -> np.ndarray:
    """Depth per frame from the per-leg depths: the stance leg's in single-leg frames ("left" /
    "right"), the mean of both legs otherwise."""
    d = np.nanmean(leg_depth, axis=1) if leg_depth.size else np.zeros(0)
    st = np.asarray(stance_per_frame)
    d = np.where(st == "left", leg_depth[:, 0], d)
    d = np.where(st == "right", leg_depth[:, 1], d)
    return d


def _stance_per_frame(n: int, reps: list[Rep]) -> np.ndarray:
    """Spread rep stances over the frames: each frame takes the stance of the nearest rep."""
    st = np.full(n, "both", dtype=object)
    if not reps:
        return st
    mids = np.array([0.5 * (r.start_frame + r.end_frame) for r in reps])
    nearest = np.abs(np.arange(n)[:, None] - mids[None, :]).argmin(1)
    for k, r in enumerate(reps):
        st[nearest == k] = r.stance
    return st


def analyse_reps(time_s: np.ndarray, xy_px: np.ndarray, **segment_kw) -> list[Rep]:
    """Landmarks -> reps with their stance.

    (1) Segment on the mean of both legs' depths and classify each rep's stance from foot motion
    alone (those first boundaries can include the free-leg lift, which spoils the hip-following
    test); (2) re-segment on the stance leg's depth in single-leg parts (the free leg's
    hip-ankle distance says nothing about squat depth, and mixing it in halves shallow
    single-leg reps) and re-classify with the full test (:func:`classify_stance`); if a stance
    changed, segment once more with the final stances.
    """
    legs = leg_depth_signals(time_s, xy_px)
    n = legs.shape[0]
    reps = segment_reps(time_s, np.nanmean(legs, axis=1), **segment_kw)
    loose = dict(min_follow=-np.inf, follow_margin=-np.inf)
    reps = [replace(r, stance=classify_stance(xy_px, r.start_frame, r.end_frame, **loose)) for r in reps]
    for _ in range(2):
        if not any(r.stance != "both" for r in reps):
            break
        before = [r.stance for r in reps]
        depth = combined_depth(legs, _stance_per_frame(n, reps))
        reps = segment_reps(time_s, depth, **segment_kw)
        reps = [replace(r, stance=classify_stance(xy_px, r.start_frame, r.end_frame)) for r in reps]
        if [r.stance for r in reps] == before:
            break
    return reps
