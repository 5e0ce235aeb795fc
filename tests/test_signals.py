import numpy as np
import pytest
from scipy import signal as sps

from valgus_cam import signals as s


def test_fill_gaps_only_short_ones():
    t = np.arange(30) / 30
    x = np.arange(30, dtype=float)
    x[5:8] = np.nan  # 0.13 s: filled
    x[15:27] = np.nan  # 0.43 s: kept
    y = s.fill_gaps(x, t, max_gap_s=0.3)
    np.testing.assert_allclose(y[5:8], [5, 6, 7])
    assert np.isnan(y[15:27]).all()


def test_hampel_removes_spikes_and_keeps_the_rest():
    x = np.sin(np.linspace(0, 6, 200))
    spiky = x.copy()
    spiky[[20, 90, 150]] += 5
    y = s.hampel(spiky, window=7)
    assert np.abs(y - x).max() < 0.05


def test_lowpass_is_zero_phase_keeps_the_peak_time_and_has_its_cutoff():
    fs = 30.0
    t = np.arange(0, 10, 1 / fs)
    bump = np.exp(-((t - 5.0) ** 2) / (2 * 0.4**2))  # a rep-like bump peaking at 5 s
    noisy = bump + 0.05 * np.random.default_rng(0).standard_normal(len(t))
    y = s.lowpass(noisy, fs, cutoff_hz=6.0)
    assert abs(t[np.argmax(y)] - 5.0) <= 1.5 / fs
    # the corrected design puts the double-pass -3 dB point at the requested 6 Hz
    b, a = sps.butter(2, s.filtfilt_cutoff_hz(6.0, fs) / (fs / 2))
    _, h = sps.freqz(b, a, worN=[6.0], fs=fs)
    assert abs(h[0]) ** 2 == pytest.approx(10 ** (-3 / 20), abs=0.01)  # |H|^2 of two passes = -3 dB


def test_lowpass_stays_below_nyquist_at_low_fps_and_keeps_nan_runs():
    x = np.r_[np.ones(20), np.nan, np.nan, np.ones(20)]
    y = s.lowpass(x, fs_hz=10.0, cutoff_hz=6.0)  # 6 Hz corrected > Nyquist of 5 Hz: clamped, no error
    assert np.isnan(y[20:22]).all() and np.allclose(y[:20], 1) and np.allclose(y[22:], 1)


def test_condition_chain_on_variable_timestamps():
    t = np.cumsum(np.r_[0, np.full(99, 1 / 30)])
    x = np.sin(t)
    x[50] = np.nan
    x[60] = 40.0
    y = s.condition(x, t)
    assert np.isfinite(y).all()
    assert np.abs(y - np.sin(t)).max() < 0.05


def test_one_euro_is_causal_smooths_noise_and_follows_steps():
    f = s.OneEuroFilter(min_cutoff_hz=1.0, beta=0.1)
    rng = np.random.default_rng(1)
    t = np.arange(300) / 30
    x = np.where(t < 5, 0.0, 10.0) + 0.3 * rng.standard_normal(len(t))
    y = np.array([f(v, ti) for v, ti in zip(x, t)])
    assert np.std(y[60:140]) < 0.5 * np.std(x[60:140])  # jitter reduced at rest
    assert abs(y[-1] - 10.0) < 0.5  # converges after the step
    # causal: the output up to a time does not depend on later samples
    f2 = s.OneEuroFilter(min_cutoff_hz=1.0, beta=0.1)
    y2 = np.array([f2(v, ti) for v, ti in zip(x[:100], t[:100])])
    np.testing.assert_array_equal(y[:100], y2)
