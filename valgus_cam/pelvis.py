"""Pelvic obliquity / pelvic drop from the painted or sewn waistband line, and hip drift.

Pure functions: landmark arrays (MediaPipe Pose, pixel coordinates as in :mod:`valgus_cam.pose`)
and small per-frame image crops in, per-frame arrays out. No I/O, no MediaPipe call.

Why a waistband: MediaPipe's two hip points do not follow the pelvis in single-leg squats (they
slide with the lifted thigh and the hands; on ../shared/synthetic2's single-leg reps their line
is 6.9° MAE from the truth's hip-joint line, bias −6.8°: see benchmarks/pelvis.py, docs/pelvis.md). The top of the shorts / tights sits
on the iliac crests, so its image line tilts with the pelvis (in the synthetic2 renders a 10° drop
tilts the band by ~10°). The cue is learned per clip from the standing baseline: the strongest
horizontal colour edge in the band 0-0.4 torso lengths above MediaPipe's mid-hip, and the colour
profile across it (9 Lab samples over ±0.08 torso lengths, lightness at half weight); in every
frame each image column is matched against that profile (search narrowed around the last good
fit), and a RANSAC line through the matching columns is the band.

Conventions (the same as the ground truth of ../shared/synthetic, ``pelvis_obliquity_2d`` and
``pelvic_drop_2d``):
* obliquity (deg): tilt of the band line in the image, + = subject's left side higher (image y
  points down), whether the person faces the camera or not (the facing comes from the hip points);
* pelvic drop (deg): obliquity minus its median over the standing baseline, signed + = the free
  (non-stance) side lower: the pelvis dropping on the unsupported side, the Trendelenburg sign
  (Trendelenburg 1895). The verdict limit is this project's 10° (``DROP_LIMIT_DEG``, the value
  named in issue 16); no literature cut-off for 2D video was verified here, treat it as a setting;
* hip offset (:func:`hip_offset_cm`): how far MediaPipe's mid-hip is sideways outside an ankle,
  in cm through leg length = 0.491 × height (greater trochanter 0.530 H − ankle 0.039 H, the
  segment proportions of Drillis & Contini 1966 as tabulated in Winter, Biomechanics and Motor
  Control of Human Movement, 4th ed. 2009, Fig. 4.1); a rep's hip drift is its change from the
  rep's start, + = the hips travelling out over / past the stance foot.

Trust gate: a frame's drop is NaN (never a guess), with the reason in ``PelvicDrop.refused``, when
there is no pose or no crop, the band model could not be learned at the baseline, the person is
not seen from the front (hip+shoulder width / torso length < 0.35), the hips are not visible, the
fitted line spans less than ``min_span`` (0.3) torso lengths of matching columns or fewer than half
the columns inside that span match (``sparse_fit``), the band sits more than ``max_shift`` (0.1)
torso lengths higher or lower under the mid-hip than it did when standing (``band_moved``: what
is found is most likely the lifted thigh's contour or a hem, not the band), or the frame's value is more than
``max_jump_deg`` (2°) from the running median over ±4 frames. It does NOT catch a clean two-colour
edge that is not on the pelvis (a shirt hem over the waistband: clip dev2_001 reads −5° off with
98% coverage), see docs/pelvis.md.

Pixels needed at analysis time: per frame, the image crop :func:`crop_waist` returns (an
axis-aligned box around MediaPipe's mid-hip: ±0.65 torso lengths wide, 0.75 above to 0.25 below,
full resolution, BGR uint8; ≈ 1.3 × 1.0 torso lengths, e.g. 260×200 px for a 200-px torso) with
its top-left corner. Collect it during the pose pass (it needs that frame's landmarks); nothing
else of the image is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .landmarks import LM

LH, RH, LS, RS = LM["left_hip"], LM["right_hip"], LM["left_shoulder"], LM["right_shoulder"]
LA, RA = LM["left_ankle"], LM["right_ankle"]

DROP_LIMIT_DEG = 10.0  # pelvic-drop verdict limit (see module docstring)
LEG_LENGTH_PER_HEIGHT = 0.491  # hip → ankle over stature (Drillis & Contini 1966, via Winter)
FOOT_BREADTH_PER_HEIGHT = 0.055  # foot breadth over stature (Drillis & Contini 1966, via Winter 2009 Fig. 4.1)


@dataclass(frozen=True, slots=True)
class WaistStrip:
    """A crop of one frame around the waist: ``image`` (BGR uint8) whose top-left pixel is at
    (x0, y0) of the full frame; crop pixel (u, v) is frame pixel (x0 + u / scale, y0 + v / scale)."""

    image: np.ndarray
    x0: int
    y0: int
    scale: float = 1.0  # crop pixels per frame pixel (< 1 when crop_waist shrank it)


@dataclass(frozen=True, slots=True)
class WaistbandModel:
    """What the band looks like, learned from standing frames."""

    offset: float  # band line's height at the mid-hip's x, below MediaPipe's mid-hip (torso lengths; < 0 = above)
    profile: np.ndarray  # (PROFILE_N, 3) Lab colours across the edge, top to bottom
    contrast: float  # sum of |profile - its mean|: the cost's unit


def _torso(xy: np.ndarray):
    mh = (xy[..., LH, :] + xy[..., RH, :]) / 2
    ms = (xy[..., LS, :] + xy[..., RS, :]) / 2
    return mh, np.linalg.norm(ms - mh, axis=-1)


def waist_box(xy_frame: np.ndarray, image_wh) -> tuple[int, int, int, int] | None:
    """Image box (x0, y0, x1, y1) holding the waist: around MediaPipe's mid-hip, 0.65 torso
    lengths either side, 0.75 above and 0.25 below. None if the landmarks are missing."""
    mh, T = _torso(np.asarray(xy_frame, float))
    if not (np.all(np.isfinite(mh)) and np.isfinite(T) and T > 10):
        return None
    w, h = image_wh
    x0, x1 = int(max(0, mh[0] - 0.65 * T)), int(min(w, mh[0] + 0.65 * T + 1))
    y0, y1 = int(max(0, mh[1] - 0.75 * T)), int(min(h, mh[1] + 0.25 * T + 1))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return x0, y0, x1, y1


def crop_waist(frame_bgr: np.ndarray, xy_frame: np.ndarray, max_torso_px: float | None = None) -> WaistStrip | None:
    """The per-frame pixels the waistband cue needs (call during the pose pass, with that frame's
    ``Pose.xy_px``). None when nobody is detected. ``max_torso_px``: shrink the crop (INTER_AREA)
    so that the torso is at most that many pixels long (memory: a 100-px torso is a ≈ 130×100 crop)."""
    h, w = frame_bgr.shape[:2]
    box = waist_box(xy_frame, (w, h))
    if box is None:
        return None
    x0, y0, x1, y1 = box
    crop = frame_bgr[y0:y1, x0:x1]
    _, T = _torso(np.asarray(xy_frame, float))
    if max_torso_px and T > max_torso_px:
        scale = max_torso_px / T
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
        return WaistStrip(crop, x0, y0, scale)
    return WaistStrip(np.ascontiguousarray(crop), x0, y0)


L_WEIGHT = 0.5  # lightness weight against the two chroma channels (shading changes lightness; docs/pelvis.md)


def _lab(img):
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB).astype(np.float32)
    if L_WEIGHT != 1.0:
        lab[..., 0] *= L_WEIGHT
    return lab


def _robust_poly(u, y, tol, deg, iters=200, rng=None):
    """RANSAC polynomial y = polyval(p, u) (minimal samples of deg+1 points), then least squares on
    the inliers (twice); returns p (highest power first) and the inlier mask."""
    n = len(u)
    bad = (np.full(deg + 1, np.nan), np.zeros(n, bool))
    if n < 3 * (deg + 1):
        return bad
    rng = rng or np.random.default_rng(0)
    best, best_n = None, 0
    spread = np.ptp(u)
    for _ in range(iters):
        idx = rng.choice(n, deg + 1, replace=False)
        if np.ptp(u[idx]) < 0.2 * spread:
            continue
        p = np.polyfit(u[idx], y[idx], deg)
        inl = np.abs(y - np.polyval(p, u)) < tol
        if inl.sum() > best_n:
            best, best_n = inl, inl.sum()
    if best is None or best_n < 3 * (deg + 1):
        return bad
    for _ in range(2):
        p = np.polyfit(u[best], y[best], deg)
        best = np.abs(y - np.polyval(p, u)) < tol
        if best.sum() < 3 * (deg + 1):
            return bad
    return p, best


def _robust_line(x, y, tol, iters=200, rng=None):
    """RANSAC line y = a x + b then least squares on inliers; returns a, b, inlier mask."""
    n = len(x)
    if n < 5:
        return np.nan, np.nan, np.zeros(n, bool)
    rng = rng or np.random.default_rng(0)
    best = None
    for _ in range(iters):
        i, j = rng.choice(n, 2, replace=False)
        if abs(x[j] - x[i]) < 3:
            continue
        a = (y[j] - y[i]) / (x[j] - x[i])
        b = y[i] - a * x[i]
        inl = np.abs(y - (a * x + b)) < tol
        if best is None or inl.sum() > best.sum():
            best = inl
    if best is None or best.sum() < 5:
        return np.nan, np.nan, np.zeros(n, bool)
    for _ in range(2):
        a, b = np.polyfit(x[best], y[best], 1)
        best = np.abs(y - (a * x + b)) < tol
        if best.sum() < 5:
            return np.nan, np.nan, best
    return a, b, best


def _grad_v(lab, d):
    g = np.zeros(lab.shape[:2], np.float32)
    g[d:-d] = np.linalg.norm(lab[2 * d:] - lab[:-2 * d], axis=-1)
    return g


def _frame_geom(strip, xy_frame):
    mh, T = _torso(np.asarray(xy_frame, float))
    k = getattr(strip, "scale", 1.0)
    return (mh[0] - strip.x0) * k, (mh[1] - strip.y0) * k, T * k


PROFILE_HALF = 0.08  # template half-height (torso lengths)
PROFILE_N = 9


def _ks(T):
    return np.round(np.linspace(-PROFILE_HALF, PROFILE_HALF, PROFILE_N) * T).astype(int)


def learn_waistband(strips, xy_px, frames) -> WaistbandModel | None:
    """From standing frames (indices into ``strips``/``xy_px``): in each, the strongest vertical
    colour change per column in the central ±0.25 torso lengths, 0.4 torso lengths above to 0.05
    below the mid-hip, a RANSAC line through them; the band's offset below the mid-hip and the
    colour profile across it (PROFILE_N Lab samples over ±PROFILE_HALF torso lengths), medians
    over the frames. None if no frame gave a line through half its columns."""
    offs, profs = [], []
    for i in frames:
        st = strips[i]
        if st is None:
            continue
        cx, cy, T = _frame_geom(st, xy_px[i])
        lab = _lab(st.image)
        d = max(2, int(round(0.02 * T)))
        g = _grad_v(lab, d)
        r0, r1 = int(max(d, cy - 0.4 * T)), int(min(lab.shape[0] - d, cy + 0.05 * T))
        c0, c1 = int(max(0, cx - 0.25 * T)), int(min(lab.shape[1], cx + 0.25 * T))
        if r1 - r0 < 5 or c1 - c0 < 5:
            continue
        rows = r0 + np.argmax(g[r0:r1, c0:c1], axis=0)
        xs = np.arange(c0, c1, dtype=float)
        a, b, inl = _robust_line(xs, rows.astype(float), max(2.0, 0.03 * T))
        if not np.isfinite(a) or inl.mean() < 0.5:
            continue
        yb = a * cx + b
        offs.append((yb - cy) / T)
        ys = np.round(a * xs[inl] + b).astype(int)
        xi = xs[inl].astype(int)
        profs.append(np.stack([lab[np.clip(ys + k, 0, lab.shape[0] - 1), xi] for k in _ks(T)], 1))
    if not offs:
        return None
    prof = np.median(np.concatenate(profs), 0)  # (PROFILE_N, 3)
    return WaistbandModel(float(np.median(offs)), prof, float(np.linalg.norm(prof - prof.mean(0), axis=-1).sum()) + 1e-6)


NOFIT = (np.nan, 0, 0.0, np.nan, np.nan, np.nan)
FIT_DEG = 1  # the band is an arc (a ring round the waist seen from above or below, more so as the pelvis tilts forward)
FIT_TOL = 0.03  # RANSAC inlier tolerance, torso lengths (the band's edge is jagged)


def waistband_angle(strip, xy_frame, model, window=0.2, max_cost=0.8, prior=None, track=0.06, exclude=None, debug=None):
    """Image angle (deg, atan of dy/dx, y down) of the waistband edge in one frame, with the fit's
    inlier count and span (torso lengths)."""
    if strip is None or model is None:
        return NOFIT
    cx, cy, T = _frame_geom(strip, xy_frame)
    if not np.isfinite(T):
        return NOFIT
    lab = _lab(strip.image)
    d = max(2, int(round(0.02 * T)))
    H = lab.shape[0]
    yp = cy + model.offset * T
    r0, r1 = int(max(d, yp - window * T)), int(min(H - d, yp + window * T))
    if r1 - r0 < 3:
        return NOFIT
    ks = _ks(T)
    if r0 + ks[0] < 0 or r1 + ks[-1] > H:
        r0, r1 = max(r0, -ks[0]), min(r1, H - ks[-1])
        if r1 - r0 < 3:
            return NOFIT
    cost = sum(np.linalg.norm(lab[r0 + k:r1 + k] - p, axis=-1) for k, p in zip(ks, model.profile))
    cost /= model.contrast
    if exclude is not None and np.all(np.isfinite(exclude)):  # image columns [x0, x1] not to use
        cols = np.arange(cost.shape[1]) / strip.scale + strip.x0
        cost[:, (cols >= exclude[0]) & (cols <= exclude[1])] = np.inf
    if prior is not None:  # (slope, offset at the mid-hip in torso lengths, curvature × T) of a recent fit
        xcol = np.arange(cost.shape[1]) - cx
        yprior = cy + prior[1] * T + prior[0] * xcol + (prior[2] if len(prior) > 2 else 0.0) * xcol ** 2 / T
        rows = np.arange(r0, r1)[:, None]
        cost = np.where(np.abs(rows - yprior[None, :]) <= track * T, cost, np.inf)
    if not np.isfinite(cost).any():
        return NOFIT
    best = np.argmin(cost, axis=0)
    bc = cost[best, np.arange(cost.shape[1])]
    ok = bc < max_cost
    xs = np.flatnonzero(ok).astype(float)
    ys = (r0 + best[ok]).astype(float)
    p, inl = _robust_poly(xs - cx, ys, max(2.0, FIT_TOL * T), FIT_DEG)
    if not np.isfinite(p).all():
        return NOFIT
    a, c = p[-2], p[-1]  # slope and height at the mid-hip's column
    curv = p[0] * T if FIT_DEG == 2 else 0.0
    span = (xs[inl].max() - xs[inl].min()) / T if inl.any() else 0.0
    if debug is not None:
        debug.update(xs=xs, ys=ys, inl=inl, p=p, cx=cx, r0=r0, r1=r1)
    return float(np.degrees(np.arctan(a))), int(inl.sum()), float(span), float(a), float((c - cy) / T), float(curv)


def waistband_series(strips, xy_px, model, frames=None, max_gap=3, min_span=0.3, exclude=None, **kw):
    """waistband_angle over frames in order, each frame's search narrowed around the last good fit
    (within max_gap frames). Returns (n, 5) array."""
    n = len(strips)
    out = np.tile(np.array(NOFIT, float), (n, 1))
    last, last_i = None, -10**9
    for i in (range(n) if frames is None else frames):
        prior = last if i - last_i <= max_gap else None
        ex = None if exclude is None else exclude[i]
        r = waistband_angle(strips[i], xy_px[i], model, prior=prior, exclude=ex, **kw)
        if prior is not None and not (np.isfinite(r[0]) and r[2] >= min_span):
            r = waistband_angle(strips[i], xy_px[i], model, exclude=ex, **kw)
        out[i] = r
        if np.isfinite(r[0]) and r[2] >= min_span:
            last, last_i = (r[3], r[4], r[5]), i
    return out


def _running_median(x: np.ndarray, k: int) -> np.ndarray:
    """Centred running median over 2k+1 frames, ignoring NaN; NaN where fewer than k+1 values."""
    n = len(x)
    if n == 0 or k <= 0:
        return x.copy()
    pad = np.r_[np.full(k, np.nan), x, np.full(k, np.nan)]
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * k + 1)
    cnt = np.isfinite(win).sum(1)
    out = np.full(n, np.nan)
    ok = cnt >= k + 1
    if ok.any():
        out[ok] = np.nanmedian(win[ok], axis=1)
    return out


def facing(xy_px: np.ndarray) -> float:
    """+1: subject's left hip on the image right (facing the camera, unmirrored); −1 otherwise
    (median over the frames)."""
    f = np.sign(xy_px[:, LH, 0] - xy_px[:, RH, 0])
    f = f[np.isfinite(f) & (f != 0)]
    return float(np.sign(np.median(f))) if len(f) and np.median(f) != 0 else 1.0


def hip_line_obliquity_deg(xy_px: np.ndarray) -> np.ndarray:
    """MediaPipe's hip-point line tilt, + = left hip higher (the old, blind cue; for comparison)."""
    dy = xy_px[:, RH, 1] - xy_px[:, LH, 1]
    dx = np.abs(xy_px[:, LH, 0] - xy_px[:, RH, 0])
    return np.degrees(np.arctan2(dy, dx))


def free_thigh_columns(xy_px, baseline, stance, ratio=0.8, halfwidth=0.25):
    """Per frame, the image columns [x0, x1] the free thigh may cover at waist height: where the
    free thigh is raised toward the camera (its image hip→knee length below ``ratio`` × its
    standing length), the columns spanned by its hip and knee points ± ``halfwidth`` torso
    lengths; NaN elsewhere."""
    fh, fk = (RH, LM["right_knee"]) if stance == "left" else (LH, LM["left_knee"])
    thigh = np.linalg.norm(xy_px[:, fk] - xy_px[:, fh], axis=-1)
    t0 = np.nanmedian(thigh[baseline]) if np.isfinite(thigh[baseline]).any() else np.nan
    _, T = _torso(xy_px)
    raised = thigh < ratio * t0
    x0 = np.fmin(xy_px[:, fh, 0], xy_px[:, fk, 0]) - halfwidth * T
    x1 = np.fmax(xy_px[:, fh, 0], xy_px[:, fk, 0]) + halfwidth * T
    out = np.full((len(xy_px), 2), np.nan)
    out[raised] = np.column_stack([x0, x1])[raised]
    return out


REFUSALS = ("", "no_pose", "no_pixels", "no_band_model", "not_frontal", "hips_hidden", "short_fit", "sparse_fit", "band_moved", "jump")


@dataclass(slots=True)
class PelvicDrop:
    """Per-frame result of :func:`pelvic_drop` (arrays of length n)."""

    drop_deg: np.ndarray  # pelvic drop, + = free side lower, from the baseline; NaN = refused
    obliquity_deg: np.ndarray  # band obliquity (absolute, image), + = left side higher; NaN = refused
    refused: np.ndarray  # (n,) str: "" where a value is given, else the first failed gate (REFUSALS)
    baseline_obliquity_deg: float
    stance: str
    model: WaistbandModel | None
    fit: np.ndarray = field(repr=False, default=None)  # (n, 5) raw fits: angle, inliers, span, slope, offset


def pelvic_drop(xy_px: np.ndarray, visibility: np.ndarray, strips, baseline: slice, stance: str, *,
                max_cost: float = 0.8, min_span: float = 0.3, smooth_frames: int = 4,
                max_jump_deg: float = 2.0, min_visibility: float = 0.5,
                min_width_ratio: float = 0.35, min_density: float = 0.5, max_shift: float = 0.1,
                thigh_ratio: float = 0.0,
                thigh_halfwidth: float = 0.25) -> PelvicDrop:
    """Per-frame pelvic obliquity and pelvic drop from the waistband line.

    Inputs: ``xy_px`` (n, 33, 2) MediaPipe landmarks in pixels (NaN rows where nobody was found),
    ``visibility`` (n, 33), ``strips`` a length-n sequence of :class:`WaistStrip` or None (from
    :func:`crop_waist` during the pose pass), ``baseline`` the still standing frames (e.g.
    ``measures.standing_baseline``; both feet down), ``stance`` "left" or "right" (the standing leg).

    Steps: learn the band (:func:`learn_waistband`) on ≤ 7 frames spread over the baseline; match
    it in every frame (search narrowed around the last good fit); keep fits spanning ≥ ``min_span``
    torso lengths with ≥ ``min_density`` of that span's columns matching and the band within
    ``max_shift`` torso lengths of its standing height under the mid-hip; obliquity = −facing ×
    atan(slope); a running median over ±``smooth_frames`` frames; frames further than
    ``max_jump_deg`` from it are refused; drop = ± (obliquity − its baseline median). Returns
    :class:`PelvicDrop` (degrees; + = free side lower). ``thigh_ratio`` > 0 turns on the (not
    helpful, see docs/pelvis.md) exclusion of the columns a raised free thigh covers.
    """
    xy_px = np.asarray(xy_px, float)
    visibility = np.asarray(visibility, float)
    n = len(xy_px)
    if stance not in ("left", "right"):
        raise ValueError(f"stance must be 'left' or 'right', not {stance!r}")
    if len(strips) != n or len(visibility) != n:
        raise ValueError("xy_px, visibility and strips must have one entry per frame")
    refused = np.full(n, "", dtype=object)
    detected = np.isfinite(xy_px[:, [LH, RH, LS, RS]]).all(axis=(1, 2))
    refused[~detected] = "no_pose"
    has_px = np.array([st is not None for st in strips])
    refused[(refused == "") & ~has_px] = "no_pixels"
    base_idx = np.arange(n)[baseline]
    base_idx = base_idx[detected[base_idx] & has_px[base_idx]]
    pick = base_idx[np.unique(np.linspace(0, len(base_idx) - 1, min(7, len(base_idx))).round().astype(int))] \
        if len(base_idx) else base_idx
    model = learn_waistband(strips, xy_px, pick) if len(pick) else None
    fit = np.tile(np.array(NOFIT, float), (n, 1))
    if model is None:
        refused[refused == ""] = "no_band_model"
    else:
        exclude = free_thigh_columns(xy_px, baseline, stance, thigh_ratio, thigh_halfwidth) if thigh_ratio > 0 else None
        fit = waistband_series(strips, xy_px, model, max_cost=max_cost, min_span=min_span, exclude=exclude)
    _, T = _torso(xy_px)
    width = (np.abs(xy_px[:, LH, 0] - xy_px[:, RH, 0]) + np.abs(xy_px[:, LS, 0] - xy_px[:, RS, 0])) / np.where(T > 0, T, np.nan)
    refused[(refused == "") & ~(width >= min_width_ratio)] = "not_frontal"
    vis_ok = (visibility[:, LH] >= min_visibility) & (visibility[:, RH] >= min_visibility)
    refused[(refused == "") & ~vis_ok] = "hips_hidden"
    refused[(refused == "") & ~(np.isfinite(fit[:, 0]) & (fit[:, 2] >= min_span))] = "short_fit"
    density = fit[:, 1] / np.fmax(fit[:, 2] * T, 1.0)  # matching columns per column of the fitted span
    refused[(refused == "") & ~(density >= min_density)] = "sparse_fit"
    if model is not None:  # the band far from where it sat under the mid-hip when standing
        refused[(refused == "") & ~(np.abs(fit[:, 4] - model.offset) <= max_shift)] = "band_moved"
    raw = np.where(refused == "", -facing(xy_px) * fit[:, 0], np.nan)
    med = _running_median(raw, smooth_frames)
    jump = np.isfinite(raw) & ~(np.abs(raw - med) <= max_jump_deg)
    refused[(refused == "") & jump] = "jump"
    obl = np.where(refused == "", med, np.nan)
    b = obl[baseline]
    base_obl = float(np.nanmedian(b)) if np.isfinite(b).any() else np.nan
    sign = 1.0 if stance == "left" else -1.0
    drop = sign * (obl - base_obl)
    if not np.isfinite(base_obl):
        refused[refused == ""] = "no_band_model"
    return PelvicDrop(drop, obl, refused.astype(str), base_obl, stance, model, fit)


def rep_peak_drop(drop_deg: np.ndarray, start: int, end: int, *, min_coverage: float = 0.6,
                  percentile: float = 95.0) -> float:
    """A rep's peak pelvic drop (deg, + = free side lower): the ``percentile`` of the measured
    frames in [start, end] (inclusive; robust to a stray frame), NaN when fewer than
    ``min_coverage`` of the rep's frames have a value."""
    seg = np.asarray(drop_deg, float)[start:end + 1]
    if len(seg) == 0 or np.isfinite(seg).mean() < min_coverage:
        return float("nan")
    return float(np.nanpercentile(seg, percentile))


def hip_offset_cm(xy_px: np.ndarray, visibility: np.ndarray, baseline: slice, side: str, *, leg_cm: float,
                  yaw_deg: float = 0.0, min_visibility: float = 0.5) -> np.ndarray:
    """Per frame: how far the pelvis centre is sideways **outside** the ``side`` ankle, in cm
    (+ = further out on that side than the ankle; about 0 with the weight over that foot).

    Robust points: MediaPipe's mid-hip (the mean of the two hip points: their left/right errors
    with the lifted thigh largely cancel in the mean) and the ankle (planted, well detected). The
    horizontal image offset is signed by the side's direction at the standing ``baseline`` (the
    image direction from the other hip to this one), divided by cos(yaw) (a sideways shift is
    foreshortened by the body's yaw, ``yaw_deg`` e.g. ``measures.body_yaw_deg``) and turned into cm
    with the standing hip→ankle image length = ``leg_cm`` (e.g. LEG_LENGTH_PER_HEIGHT × height).
    NaN where that hip or ankle is seen with visibility below ``min_visibility``. A rep's **hip
    drift** is its change from the rep's start (standing on the stance leg), see
    ``verdicts.rep_findings``: the pelvis must move over the stance foot to balance, so the
    change from standing on two feet would count that as drift.

    >>> xy = np.zeros((2, 33, 2)); xy[:, LH] = (110, 100); xy[:, RH] = (90, 100)
    >>> xy[:, LA] = (110, 300); xy[1, [LH, RH], 0] += 10   # frame 1: the pelvis over the left ankle
    >>> hip_offset_cm(xy, np.ones((2, 33)), slice(0, 1), "left", leg_cm=80.0).round(1).tolist()
    [-4.0, 0.0]
    """
    xy_px = np.asarray(xy_px, float)
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    hip, ank, other = (LH, LA, RH) if side == "left" else (RH, RA, LH)
    mid = (xy_px[:, LH] + xy_px[:, RH]) / 2
    out = np.sign(np.nanmedian(xy_px[baseline, hip, 0] - xy_px[baseline, other, 0])) \
        if np.isfinite(xy_px[baseline, hip, 0]).any() else np.nan
    leg = np.linalg.norm(xy_px[:, hip] - xy_px[:, ank], axis=-1)
    leg0 = float(np.nanmedian(leg[baseline])) if np.isfinite(leg[baseline]).any() else np.nan
    vis = np.asarray(visibility, float)
    ok = (vis[:, hip] >= min_visibility) & (vis[:, ank] >= min_visibility)
    cos = np.cos(np.radians(yaw_deg if np.isfinite(yaw_deg) else 0.0))
    return np.where(ok, out * (mid[:, 0] - xy_px[:, ank, 0]) / leg0 * leg_cm / cos, np.nan)
