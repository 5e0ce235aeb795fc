"""Charts of an analysed clip (and of a batch) as PNG bytes, for the HTML report.

matplotlib through its object API (``Figure`` + the Agg canvas): no pyplot, so no GUI backend
is ever selected and nothing global changes. Conventions follow the rest of the project: time in
seconds, angles in degrees, knee angle = frontal-plane FPPA with + = knee inwards (valgus), trunk
lean and pelvic obliquity relative to the standing baseline. Colours are Okabe–Ito (as in
``annotate``) and every colour is doubled by a line style, a hatch or a word.

A measure that is not measurable in the whole clip is drawn as an empty panel that says so and why,
never silently left out.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

from .analysis import ClipAnalysis, Record
from .kinds import TestKind
from .verdicts import pelvis_curves

# Okabe–Ito (hex): the knees' lines, the verdicts' bands
LEFT = "#0072B2"  # blue, solid line
RIGHT = "#CC79A7"  # reddish purple, dashed line
PASS = "#56B4E9"  # sky blue (annotate.Style.ok)
FAIL = "#D55E00"  # vermillion (annotate.Style.fault)
NA = "#999999"  # grey: not measured
TRUNK = "#009E73"  # bluish green
PELVIS = "#7F7F7F"  # grey: not validated
INK = "#222222"

SIDE_STYLE = {"left": (LEFT, "-"), "right": (RIGHT, "--")}
VERDICT_STYLE = {"pass": (PASS, None, "PASS"), "fail": (FAIL, "///", "FAIL"), "unmeasurable": (NA, "..", "NOT MEASURABLE")}


@dataclass(frozen=True, slots=True)
class Chart:
    """A rendered chart: PNG bytes and the alt text that describes it."""

    png: bytes
    alt: str


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def _style_axes(ax) -> None:
    ax.grid(True, color="#e3e3e3", linewidth=0.8)
    ax.set_axisbelow(True)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    ax.tick_params(labelsize=9)


def _baseline_median(values: np.ndarray, base: slice) -> float:
    v = values[base]
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else 0.0


FOOT_LIFTED = 0.15  # free-foot height (standing shank lengths) above which a foot is off the floor


def masked_knees(a: ClipAnalysis) -> dict[str, np.ndarray]:
    """Frontal-plane FPPA per knee over time. In a single-leg squat only the standing knee is
    judged: a knee is hidden while its foot is off the floor and during the reps it is the free leg."""
    m = a.measures
    out = {"left": m.fppa_frontal_left_deg.copy(), "right": m.fppa_frontal_right_deg.copy()}
    if not a.test.single_leg and not any(r.stance in ("left", "right") for r in a.results):
        return out
    for side in ("left", "right"):
        lifted = getattr(m, f"free_foot_height_{side}") > FOOT_LIFTED  # NaN compares False
        out[side][lifted] = np.nan
    for r in a.results:
        if r.stance in ("left", "right"):
            out["right" if r.stance == "left" else "left"][r.start_frame:r.end_frame + 1] = np.nan
    return out


@dataclass(frozen=True, slots=True)
class Band:
    """A stretch of the clip judged as one record: a squat rep (start → end), a landing (initial
    contact → peak knee flexion) or the standing hold."""

    t0: float
    t1: float
    verdict: str
    label: str  # "rep 3", "landing 2", "standing still"
    number: str  # the short label when there are many bands


def bands(a: ClipAnalysis) -> list[Band]:
    """The records of a clip as time bands (see :class:`Band`)."""
    t = a.measures.time_s
    if a.test is TestKind.LANDING:
        return [Band(float(t[r.contact_frame]), float(t[r.peak_flexion_frame]), r.verdict, f"landing {r.index}",
                     str(r.index)) for r in a.landings]
    if a.test is TestKind.STANDING:
        h = a.hold
        return [] if h is None else [Band(h.start_s, h.end_s, h.verdict, "standing still", "hold")]
    return [Band(float(t[r.start_frame]), float(t[r.end_frame]), r.verdict, f"rep {r.index}", str(r.index))
            for r in a.results]


def _rep_bands(ax, a: ClipAnalysis, labels: bool = False) -> None:
    """Shade each rep (landing, hold) by its verdict (colour + hatch); with ``labels``, write
    "rep N / PASS" above the axes over each band (many: just the number, and FAIL under the
    failed ones)."""
    from matplotlib.transforms import blended_transform_factory

    bs = bands(a)
    many = len(bs) > 8
    tr = blended_transform_factory(ax.transData, ax.transAxes)
    for b in bs:
        colour, hatch, word = VERDICT_STYLE.get(b.verdict, VERDICT_STYLE["unmeasurable"])
        t1 = max(b.t1, b.t0 + 0.05)  # a landing whose deepest point follows its contact at once: still visible
        ax.axvspan(b.t0, t1, facecolor=colour, alpha=0.16, edgecolor=colour, hatch=hatch, linewidth=0, zorder=0)
        if labels:
            text = (b.number + ("\nFAIL" if b.verdict == "fail" else "")) if many else f"{b.label}\n{word}"
            ax.text((b.t0 + t1) / 2, 1.01, text, transform=tr, ha="center", va="bottom",
                    fontsize=7.5 if many else 8, color=INK, fontweight="bold" if b.verdict == "fail" else "normal",
                    clip_on=False)


def _standing(ax, a: ClipAnalysis, y: float) -> None:
    """Mark the standing baseline (the reference the relative measures start from)."""
    t, base = a.measures.time_s, a.measures.baseline
    if base.stop - base.start < 2:
        return
    t0, t1 = t[base.start], t[base.stop - 1]
    ax.annotate("", xy=(t0, y), xytext=(t1, y), arrowprops=dict(arrowstyle="|-|", color="#555555", lw=1.2))
    ax.text((t0 + t1) / 2, y, "standing\n(reference)", ha="center", va="bottom", fontsize=8, color="#555555")


def _not_measurable(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color=INK,
            wrap=True, bbox=dict(boxstyle="round,pad=0.6", facecolor="#fff4e0", edgecolor="#E69F00"))


def _xlim(ax, t: np.ndarray) -> None:
    if len(t) > 1:
        ax.set_xlim(float(t[0]), float(t[-1]))


def knee_angle_chart(a: ClipAnalysis, unmeasurable_reason: str | None = None) -> Chart:
    """Frontal-plane FPPA of each knee over time: rep bands by verdict, the limit line, the
    standing baseline, and the value each rep was judged by (a dot at its bottom). A landing
    check: the landings (initial contact → peak knee flexion) as bands, each landing's value at
    peak flexion as the dot, the landing limit."""
    m = a.measures
    limit = knee_limit(a)
    t = m.time_s
    knees = masked_knees(a)
    fig = _figure(9.0, 4.0)
    ax = fig.add_subplot()
    _style_axes(ax)
    finite = np.concatenate([v[np.isfinite(v)] for v in knees.values()])
    lo = min(-10.0, float(finite.min()) - 3 if finite.size else -10.0)
    hi = max(limit + 7.0, float(finite.max()) + 5 if finite.size else limit + 7.0)
    ax.set_ylim(lo, hi)
    _xlim(ax, t)
    _rep_bands(ax, a, labels=True)
    ax.axhline(0, color="#888888", lw=0.8)
    ax.axhline(limit, color=FAIL, lw=1.6, ls=(0, (6, 3)))
    landing = a.test is TestKind.LANDING
    where = " at the deepest point of a landing" if landing else ""
    ax.text(t[0] if len(t) else 0, limit, f" limit {limit:.0f}°: above{where} = knee caves in", color=FAIL,
            fontsize=8.5, va="bottom", ha="left")
    what = "landing" if landing else "rep"
    n = len(a.records)
    if not finite.size:
        _not_measurable(ax, "Knee angle not measurable in this clip\n" + (unmeasurable_reason or ""))
        alt = f"Knee angle chart: not measurable in this clip ({unmeasurable_reason or 'no value'})."
    else:
        for side, v in knees.items():
            if np.isfinite(v).any():
                colour, ls = SIDE_STYLE[side]
                ax.plot(t, v, color=colour, ls=ls, lw=2.0, label=f"{side} knee")
        many = n > 8
        for side in ("left", "right"):
            colour, _ = SIDE_STYLE[side]
            for time_s, v in judged_points(a, side):
                fault = v > limit
                ax.plot([time_s], [v], marker="X" if fault else "o", ms=9 if fault else 7, color=colour,
                        mec=FAIL if fault else "white", mew=1.5, zorder=5)
                if fault or not many:  # many reps: only the values over the limit are written
                    ax.annotate(f"{v:+.0f}°", (time_s, v), textcoords="offset points", xytext=(6, 6),
                                fontsize=8.5, color=INK, fontweight="bold" if fault else "normal")
        ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
        alt = (f"Knee angle (FPPA) of each knee over {t[-1] - t[0]:.0f} s with the {limit:.0f}° limit line and "
               f"{n} {what}(s) shaded by verdict.")
    if not landing:  # the landing check compares nothing with the standing at the start
        _standing(ax, a, lo + 0.06 * (hi - lo))
    ax.set_xlabel("time (s)", fontsize=9)
    ax.set_ylabel("knee angle (°)\n+ = inwards, 0 = straight", fontsize=9)
    out = Chart(_png(fig), alt)
    return out


def knee_limit(a: ClipAnalysis) -> float:
    """The knee-angle limit of the clip's test (the landing check has its own)."""
    return a.test.knee_limit_deg(a.thresholds)


def judged_points(a: ClipAnalysis, side: str) -> list[tuple[float, float]]:
    """(time s, frontal FPPA) of ``side``'s knee where each record was judged: a rep's bottom, a
    landing's peak knee flexion, the middle of the standing hold."""
    t = a.measures.time_s
    out = []
    if a.test.is_squat:  # a squat rep: its worst moment over the whole rep
        for r in a.results:
            f = r.finding("knee_valgus", side)
            if f is not None and f.value is not None:
                out.append((float(f.time_s), float(f.value)))
        return out
    for idx, v in record_knee_values(a, side):
        r = next(x for x in a.records if x.index == idx)
        when = t[r.peak_flexion_frame] if a.test is TestKind.LANDING else (r.start_s + r.end_s) / 2
        out.append((float(when), v))
    return out


def knee_over_foot_chart(a: ClipAnalysis) -> Chart | None:
    """The knee over the foot per knee over time (cm inside (+) the path of a knee tracking over
    the foot, ``measures.knee_over_foot_cm``), rep bands by verdict, the limit, and each rep's worst
    moment as a marker (✗ = the moment the rep failed). None for a clip without squat reps."""
    m = a.measures
    if not a.test.is_squat or not a.results:
        return None
    t = m.time_s
    lim = a.thresholds.knee_over_foot_limit_cm(a.test.single_leg)
    curves = {"left": m.knee_over_foot_left_cm.copy(), "right": m.knee_over_foot_right_cm.copy()}
    for r in a.results:  # a single-leg rep's free knee is not judged
        if r.stance in ("left", "right"):
            curves["right" if r.stance == "left" else "left"][r.start_frame:r.end_frame + 1] = np.nan
    fin = np.concatenate([v[np.isfinite(v)] for v in curves.values()])
    fig = _figure(9.0, 3.0)
    ax = fig.add_subplot()
    _style_axes(ax)
    lo = min(-6.0, float(fin.min()) - 1 if fin.size else -6.0)
    hi = max(lim + 4.0, float(fin.max()) + 2 if fin.size else lim + 4.0)
    ax.set_ylim(lo, hi)
    _xlim(ax, t)
    _rep_bands(ax, a)
    ax.axhline(0, color="#888888", lw=0.8)
    ax.axhline(lim, color=FAIL, lw=1.6, ls=(0, (6, 3)))
    ax.text(t[0] if len(t) else 0, lim, f" limit {lim:.1f} cm: above = knee inside the foot", color=FAIL,
            fontsize=8.5, va="bottom", ha="left")
    if not fin.size:
        _not_measurable(ax, "Knee over the foot not measurable in this clip\n(toes out of the picture, hidden, "
                            "or the camera turned too far)")
        alt = "Knee over the foot chart: not measurable in this clip."
    else:
        for side, v in curves.items():
            colour, ls = SIDE_STYLE[side]
            if np.isfinite(v).any():
                ax.plot(t, v, color=colour, ls=ls, lw=2.0, label=f"{side} knee")
            for r in a.results:
                f = r.finding("knee_over_foot", side)
                if f is None or f.value is None:
                    continue
                fault = f.result == "fail"
                ax.plot([f.time_s], [f.value], marker="X" if fault else "o", ms=9 if fault else 6, color=colour,
                        mec=FAIL if fault else "white", mew=1.5, zorder=5)
                if fault:
                    ax.annotate(f"{f.value:+.1f} cm", (f.time_s, f.value), textcoords="offset points",
                                xytext=(6, 6), fontsize=8.5, color=INK, fontweight="bold")
        ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
        alt = (f"Knee over the foot of each knee over {t[-1] - t[0]:.0f} s, in cm inside the path of a knee tracking "
               f"over the foot, with the {lim:.1f} cm limit; a cross marks the moment a rep failed.")
    ax.set_xlabel("time (s)", fontsize=9)
    ax.set_ylabel("knee inside the foot (cm)\n+ = inwards, 0 = over the foot", fontsize=9)
    return Chart(_png(fig), alt)


def trunk_chart(a: ClipAnalysis) -> Chart:
    """Sideways trunk lean over time relative to standing, with ± the limit."""
    m, th = a.measures, a.thresholds
    t = m.time_s
    lean = m.trunk_lean_deg - _baseline_median(m.trunk_lean_deg, m.baseline)
    lim = th.trunk_lean_max_deg
    fig = _figure(9.0, 2.8)
    ax = fig.add_subplot()
    _style_axes(ax)
    fin = lean[np.isfinite(lean)]
    span = max(lim + 8.0, float(np.abs(fin).max()) + 4 if fin.size else 0.0)
    ax.set_ylim(-span, span)
    _xlim(ax, t)
    _rep_bands(ax, a)
    ax.axhline(0, color="#888888", lw=0.8)
    for s in (1, -1):
        ax.axhline(s * lim, color=FAIL, lw=1.4, ls=(0, (6, 3)))
    ax.text(t[0] if len(t) else 0, lim, f" limit ±{lim:.0f}°", color=FAIL, fontsize=8.5, va="bottom")
    if fin.size:
        ax.plot(t, lean, color=TRUNK, lw=2.0, label="trunk lean")
        alt = f"Sideways trunk lean relative to standing over time, with the ±{lim:.0f}° limit."
    else:
        _not_measurable(ax, "Trunk lean not measurable (shoulders or hips not found)")
        alt = "Trunk lean chart: not measurable in this clip."
    ax.set_xlabel("time (s)", fontsize=9)
    ax.set_ylabel("trunk lean (°)\n+ = to the left", fontsize=9)
    return Chart(_png(fig), alt)


def pelvis_chart(a: ClipAnalysis) -> Chart | None:
    """Single-leg squats: the free-side pelvic drop (top) and the hip drift (bottom) over each rep,
    with their limits and each rep's judged value (✗ = the rep failed on it). None for a clip
    without single-leg reps."""
    if not any(r.stance in ("left", "right") for r in a.results):
        return None
    m, th = a.measures, a.thresholds
    t = m.time_s
    drop, drift = pelvis_curves(m, a.results, th.sustain_s)
    fig = _figure(9.0, 4.6)
    panels = [("pelvic_drop", drop, th.pelvic_drop_max_deg, "°", "pelvic drop (°)\n+ = free side lower"),
              ("hip_drift", drift, th.hip_drift_max_cm, " cm", "hip drift (cm)\n+ = outward over the foot")]
    for k, (crit, v, lim, unit, label) in enumerate(panels):
        ax = fig.add_subplot(2, 1, k + 1)
        _style_axes(ax)
        fin = v[np.isfinite(v)]
        lo = min(-lim / 2, float(fin.min()) - 1 if fin.size else 0.0)
        hi = max(lim * 1.5, float(fin.max()) + 2 if fin.size else 0.0)
        ax.set_ylim(lo, hi)
        _xlim(ax, t)
        _rep_bands(ax, a)
        ax.axhline(0, color="#888888", lw=0.8)
        ax.axhline(lim, color=FAIL, lw=1.6, ls=(0, (6, 3)))
        ax.text(t[0] if len(t) else 0, lim, f" limit {lim:g}{unit}", color=FAIL, fontsize=8.5, va="bottom")
        if fin.size:
            ax.plot(t, v, color=PELVIS, lw=2.0)
        else:
            _not_measurable(ax, "Pelvic drop not measured (waistband not seen, or no video pixels)"
                            if crit == "pelvic_drop" else "Hip drift not measured (hips or ankle hidden, or camera "
                            "turned too far)")
        for r in a.results:
            f = r.finding(crit)
            if f is None or f.value is None or f.time_s is None:
                continue
            fault = f.result == "fail"
            ax.plot([f.time_s], [f.value], marker="X" if fault else "o", ms=9 if fault else 6, color=PELVIS,
                    mec=FAIL if fault else "white", mew=1.5, zorder=5)
        ax.set_ylabel(label, fontsize=9)
    ax.set_xlabel("time (s)", fontsize=9)
    return Chart(_png(fig), f"Single-leg reps: the pelvis dropping on the free-leg side (limit "
                            f"{th.pelvic_drop_max_deg:g}°) and the hips drifting outward over the standing foot "
                            f"(limit {th.hip_drift_max_cm:g} cm) over time; a cross marks a rep that failed on it.")


def knee_gap_chart(a: ClipAnalysis) -> Chart:
    """Double-leg squat: the knee gap (knee distance / ankle distance) relative to standing over
    time, with the limit below which the knees count as caving in, and each rep's judged value."""
    m, th = a.measures, a.thresholds
    t = m.time_s
    gap = m.knee_ankle_separation_ratio
    base = gap[m.baseline]
    base = base[np.isfinite(base)]
    rel = gap / float(np.median(base)) if base.size and np.median(base) > 0 else np.full_like(gap, np.nan)
    lim = th.knee_separation_min_ratio
    fig = _figure(9.0, 2.8)
    ax = fig.add_subplot()
    _style_axes(ax)
    fin = rel[np.isfinite(rel)]
    lo = min(lim - 0.25, float(fin.min()) - 0.1) if fin.size else lim - 0.25
    hi = max(1.35, float(fin.max()) + 0.1) if fin.size else 1.35
    ax.set_ylim(lo, hi)
    _xlim(ax, t)
    _rep_bands(ax, a, labels=True)
    ax.axhline(1.0, color="#888888", lw=0.8)
    ax.axhline(lim, color=FAIL, lw=1.6, ls=(0, (6, 3)))
    ax.text(t[-1] if len(t) else 1, lim, f"limit {lim:.2f} ×: below = knees closer together than when standing ",
            color=FAIL, fontsize=8.5, va="top", ha="right")
    if fin.size:
        ax.plot(t, rel, color=LEFT, lw=2.0, label="knee gap")
        for r in a.results:  # each rep's smallest gap (its finding's moment)
            f = r.finding("knee_gap")
            if f is None or f.value is None:
                continue
            v, when, fault = f.value, f.time_s, f.result == "fail"
            ax.plot([when], [v], marker="X" if fault else "o", ms=9 if fault else 7, color=LEFT,
                    mec=FAIL if fault else "white", mew=1.5, zorder=5)
            if fault or len(a.results) <= 8:
                ax.annotate(f"{v:.2f}", (when, v), textcoords="offset points", xytext=(6, 6), fontsize=8.5,
                            color=INK)
        alt = f"Knee gap relative to standing over time with the {lim:.2f} limit."
    else:
        _not_measurable(ax, "Knee gap not measurable (knees or ankles not found)")
        alt = "Knee gap chart: not measurable in this clip."
    _standing(ax, a, lo + 0.06 * (hi - lo))
    ax.set_xlabel("time (s)", fontsize=9)
    ax.set_ylabel("knee gap\n(1 = as when standing)", fontsize=9)
    return Chart(_png(fig), alt)


def knee_values(results: list[Record], side: str) -> list[tuple[int, float]]:
    """(record index, frontal FPPA) of each record where ``side``'s knee was measured
    (``knee_angle_deg``: a rep's worst moment, a landing's peak flexion, the hold's static angle)."""
    out = []
    for r in results:
        v = r.knee_angle_deg(side)
        if v is not None and math.isfinite(v):
            out.append((r.index, float(v)))
    return out


def record_knee_values(a: ClipAnalysis, side: str) -> list[tuple[int, float]]:
    """(record index, frontal FPPA) of ``side``'s knee for each record where it was measured: a
    squat rep at its bottom, a landing at peak knee flexion, the standing hold's static angle."""
    return knee_values(a.records, side)


def left_right_chart(a: ClipAnalysis) -> Chart | None:
    """Each rep's (landing's) knee angle per leg as dots, the leg's mean as a bar, the limit
    line. None when no knee angle was judged in any rep."""
    limit = knee_limit(a)
    data = {s: record_knee_values(a, s) for s in ("left", "right")}
    if not any(data.values()):
        return None
    landing = a.test is TestKind.LANDING
    unit = "landing" if landing else "rep"
    fig = _figure(9.0, 2.3)
    ax = fig.add_subplot()
    _style_axes(ax)
    allv = [v for d in data.values() for _, v in d]
    lo, hi = min(-5.0, min(allv) - 4), max(limit + 8.0, max(allv) + 6)
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.7, 1.7)
    ax.set_yticks([1, 0], ["left knee", "right knee"])
    ax.axvline(limit, color=FAIL, lw=1.6, ls=(0, (6, 3)))
    ax.text(limit, 1.62, f" limit {limit:.0f}°", color=FAIL, fontsize=8.5, va="top")
    ax.axvline(0, color="#888888", lw=0.8)
    for y, side in ((1, "left"), (0, "right")):
        d = data[side]
        colour, _ = SIDE_STYLE[side]
        if not d:
            ax.text((lo + hi) / 2, y, "not tested / not measurable", ha="center", va="center", fontsize=9,
                    color="#666666")
            continue
        vals = np.array([v for _, v in d])
        mean = float(vals.mean())
        ax.barh([y], [mean], height=0.35, color=colour, alpha=0.25, edgecolor=colour)
        jitter = np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else np.zeros(1)
        fault = vals > limit
        ax.scatter(vals[~fault], y + jitter[~fault], s=40, color=colour, marker="o", edgecolor="white", zorder=4)
        ax.scatter(vals[fault], y + jitter[fault], s=70, color=colour, marker="X", edgecolor=FAIL, zorder=4)
        ax.text(hi, y, f"mean {mean:+.0f}° ({len(vals)} {unit}{'s' if len(vals) != 1 else ''}) ", ha="right",
                va="center", fontsize=9, color=INK)
    where = "the deepest point of each landing" if landing else "the bottom of each rep"
    ax.set_xlabel(f"knee angle at {where} (°)   + = inwards", fontsize=9)
    return Chart(_png(fig), f"Knee angle of each {unit} per leg (dots), the mean per leg (bar) and the limit.")


def batch_chart(rows: list[dict], limit_deg: float) -> Chart | None:
    """Worst knee angle per clip and leg (dots), with the limit; clips without a knee angle say
    "not measurable". None without rows."""
    if not rows:
        return None
    n = len(rows)
    fig = _figure(9.0, 1.0 + 0.32 * n)
    ax = fig.add_subplot()
    _style_axes(ax)
    vals = [v for r in rows for k in ("worst_fppa_left_deg", "worst_fppa_right_deg")
            if isinstance(v := r.get(k), (int, float)) and math.isfinite(v)]
    lo = min(-5.0, min(vals) - 4) if vals else -5.0
    hi = max(limit_deg + 8.0, max(vals) + 6) if vals else limit_deg + 8.0
    ax.set_xlim(lo, hi)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(n), [str(r.get("clip", "?"))[:40] for r in rows], fontsize=8)
    ax.axvline(limit_deg, color=FAIL, lw=1.6, ls=(0, (6, 3)), label=f"limit {limit_deg:.0f}°")
    ax.axvline(0, color="#888888", lw=0.8)
    for y, r in enumerate(rows):
        shown = False
        for side, dy in (("left", -0.12), ("right", 0.12)):
            v = r.get(f"worst_fppa_{side}_deg")
            if isinstance(v, (int, float)) and math.isfinite(v):
                colour, _ = SIDE_STYLE[side]
                fault = v > limit_deg
                ax.scatter([v], [y + dy], s=70 if fault else 40, marker="X" if fault else "o", color=colour,
                           edgecolor=FAIL if fault else "white", zorder=4, label=f"{side} knee")
                shown = True
        if not shown:
            word = "error" if r.get("status") not in (None, "ok") else "knee angle not measurable"
            ax.text((lo + hi) / 2, y, word, ha="center", va="center", fontsize=8, color="#666666")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))  # one legend entry per label
    ax.legend(uniq.values(), uniq.keys(), loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_xlabel("worst knee angle in the clip (°)   + = inwards", fontsize=9)
    return Chart(_png(fig), f"Worst knee angle per clip and leg with the {limit_deg:.0f}° limit.")
