"""Signal conditioning for per-frame measures (scipy.signal). Pure functions, no I/O.

Recorded video (whole series known): gap-fill short dropouts → Hampel outlier rejection →
zero-phase Butterworth low-pass (filtfilt: no time shift, so the bottom frame of a rep stays
where it is). Live use: the causal One Euro filter (Casiez, Roussel & Vogel 2012).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, signal


def fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over every NaN run, however long (edges held); all-NaN stays NaN.
    For segmentation signals; measures use :func:`fill_gaps` (short gaps only)."""
    x = np.asarray(x, dtype=float).copy()
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x
    idx = np.arange(x.size)
    x[~ok] = np.interp(idx[~ok], idx[ok], x[ok])
    return x


def fill_gaps(x: np.ndarray, time_s: np.ndarray, max_gap_s: float = 0.3) -> np.ndarray:
    """Linearly interpolate runs of NaN no longer than ``max_gap_s``; longer gaps stay NaN."""
    x = np.asarray(x, dtype=float).copy()
    t = np.asarray(time_s, dtype=float)
    bad = ~np.isfinite(x)
    if not bad.any() or bad.all():
        return x
    good = np.flatnonzero(~bad)
    interp = np.interp(t, t[good], x[good])
    # run lengths of NaN, measured in time between the good neighbours
    edges = np.diff(np.concatenate([[0], bad.astype(int), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if start == 0 or stop == len(x):
            continue  # no neighbour on one side: do not extrapolate
        if t[stop] - t[start - 1] <= max_gap_s + 1e-9:
            x[start:stop] = interp[start:stop]
    return x


def hampel(x: np.ndarray, window: int = 7, n_sigma: float = 3.0) -> np.ndarray:
    """Replace samples further than ``n_sigma`` robust standard deviations (1.4826 × MAD) from the
    rolling median of ``window`` samples by that median. NaN stays NaN."""
    x = np.asarray(x, dtype=float)
    finite = np.isfinite(x)
    if finite.sum() < 3:
        return x.copy()
    filled = np.where(finite, x, np.interp(np.arange(len(x)), np.flatnonzero(finite), x[finite]))
    med = ndimage.median_filter(filled, size=window, mode="nearest")
    mad = ndimage.median_filter(np.abs(filled - med), size=window, mode="nearest")
    out = np.where(np.abs(filled - med) > n_sigma * 1.4826 * mad + 1e-12, med, filled)
    return np.where(finite, out, np.nan)


def filtfilt_cutoff_hz(cutoff_hz: float, fs_hz: float, order: int = 2) -> float:
    """Design cut-off such that a ``filtfilt`` (two passes) of an ``order`` digital Butterworth has
    its −3 dB point at ``cutoff_hz``: correction C = (2^(1/passes) − 1)^(1/(2·order)) applied to
    the pre-warped frequency (Winter 2009; Robertson & Dowling 2003)."""
    cutoff_hz = min(cutoff_hz, 0.4 * fs_hz)  # a low-fps clip: filter as much as it allows
    c = (2 ** (1 / 2) - 1) ** (1 / (2 * order))
    warped = math.tan(math.pi * cutoff_hz / fs_hz) / c
    return fs_hz / math.pi * math.atan(warped)


def lowpass(x: np.ndarray, fs_hz: float, cutoff_hz: float = 6.0, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth low-pass; NaN runs are left NaN (each finite run filtered alone).

    The design cut-off is corrected for the double pass and kept below 0.9 × Nyquist, so a
    low-fps clip is filtered as much as it can be rather than not at all.
    """
    x = np.asarray(x, dtype=float)
    out = np.full_like(x, np.nan)
    wn = min(filtfilt_cutoff_hz(cutoff_hz, fs_hz, order) / (fs_hz / 2), 0.9)
    b, a = signal.butter(order, wn)
    finite = np.isfinite(x)
    edges = np.diff(np.concatenate([[0], finite.astype(int), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        seg = x[start:stop]
        padlen = min(3 * max(len(a), len(b)), len(seg) - 1)
        out[start:stop] = signal.filtfilt(b, a, seg, padlen=padlen) if len(seg) > 3 else seg
    return out


def condition(x: np.ndarray, time_s: np.ndarray, cutoff_hz: float = 6.0, max_gap_s: float = 0.3) -> np.ndarray:
    """The recorded-video chain: fill short gaps, reject outliers, zero-phase low-pass."""
    t = np.asarray(time_s, dtype=float)
    fs = 1.0 / np.median(np.diff(t)) if len(t) > 1 else 30.0
    window = max(3, int(round(0.2 * fs)) | 1)  # ~0.2 s, odd
    return lowpass(hampel(fill_gaps(x, t, max_gap_s), window), fs, cutoff_hz)


class OneEuroFilter:
    """Causal adaptive low-pass (Casiez et al. 2012): little lag when moving fast, little jitter
    when still. ``min_cutoff_hz`` sets smoothing at rest, ``beta`` how fast it opens with speed."""

    def __init__(self, min_cutoff_hz: float = 1.5, beta: float = 0.05, d_cutoff_hz: float = 1.0):
        self.min_cutoff_hz, self.beta, self.d_cutoff_hz = min_cutoff_hz, beta, d_cutoff_hz
        self._x: float | None = None
        self._dx = 0.0
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff_hz: float, dt: float) -> float:
        tau = 1.0 / (2 * math.pi * cutoff_hz)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: float, time_s: float) -> float:
        if not math.isfinite(x):
            return float("nan")
        if self._x is None or self._t is None or time_s <= self._t:
            self._x, self._t = x, time_s
            return x
        dt = time_s - self._t
        dx = (x - self._x) / dt
        self._dx += self._alpha(self.d_cutoff_hz, dt) * (dx - self._dx)
        cutoff = self.min_cutoff_hz + self.beta * abs(self._dx)
        self._x += self._alpha(cutoff, dt) * (x - self._x)
        self._t = time_s
        return self._x

    def reset(self) -> None:
        self._x, self._t, self._dx = None, None, 0.0


def frame_rate_hz(time_s: np.ndarray) -> float:
    """Median frame rate of a time vector (30.0 when it cannot be told)."""
    dt = np.diff(np.asarray(time_s, float))
    dt = dt[np.isfinite(dt) & (dt > 0)]
    return float(1.0 / np.median(dt)) if dt.size else 30.0


def n_frames(seconds: float, rate_hz: float, minimum: int = 1) -> int:
    """``seconds`` as a number of frames at ``rate_hz`` (at least ``minimum``)."""
    return max(minimum, int(round(seconds * rate_hz)))
