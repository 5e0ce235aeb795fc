"""The standing alignment and landing checks as a :class:`analysis.ClipAnalysis` (what
``pipeline.analyse_clip(test="standing" | "landing")`` returns): measures → the hold or the
landings → a summary in the squat's shape, so reps.json, the terminal and the overlay treat all
tests alike."""

from __future__ import annotations

import math
import warnings as _warnings

import numpy as np

from .analysis import ClipAnalysis, Record
from .kinds import TestKind
from .measures import GateConfig, LandmarkSeries, compute_frame_measures
from .verdicts import LegSummary, Summary, Thresholds, asymmetry


def _summary(records: list[Record], thresholds: Thresholds, flag_asymmetry: bool = True) -> Summary:
    """``flag_asymmetry``: a difference beyond the noise is a finding (``knee_asymmetry``); not for
    the standing hold, a single static reading per leg."""
    left, right = ([v for r in records if (v := r.knee_angle_deg(side)) is not None] for side in ("left", "right"))
    legs = ()
    if records:
        vals = left + right
        legs = (LegSummary("both", len(records), sum(r.verdict == "pass" for r in records),
                           sum(r.verdict == "fail" for r in records),
                           sum(r.verdict == "unmeasurable" for r in records),
                           float(np.mean(vals)) if vals else None),)
    asym = asymmetry(left, right, thresholds.meaningful_difference_deg)
    notes = []
    if asym.exceeds_noise is False:
        notes.append(f"left-right difference {abs(asym.difference_deg):.1f}° is below the "
                     f"{thresholds.meaningful_difference_deg:.0f}° that 2D video can resolve: "
                     "treat the knees as alike")

    def badness(r):  # most reasons first, then the larger knee angle (landings: at peak flexion)
        v = [x for side in ("left", "right") if (x := r.knee_angle_deg(side)) is not None]
        return (len(r.reasons), max(v) if v else -math.inf)

    worst = max(records, key=badness).index if records else None
    return Summary(legs, asym.difference_deg, asym.exceeds_noise, worst, False, notes, asym,
                   ("knee_asymmetry",) if asym.exceeds_noise and flag_asymmetry else ())


def analyse_standing(series: LandmarkSeries, thresholds: Thresholds, gates: GateConfig | None = None,
                     height_cm: float | None = None) -> ClipAnalysis:
    """The standing alignment check: one hold (``standing.assess_standing``)."""
    from .standing import STANDING_GATES, assess_standing

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        m = compute_frame_measures(series, gates or STANDING_GATES)
    warnings = list(m.warnings)
    hold = assess_standing(series, m, thresholds, height_cm)
    if not m.detected.any():
        warnings = ["nobody was found in the video"]
    elif hold is None:
        warnings.append("no still standing was seen at the start of the clip")
    s = _summary([hold] if hold else [], thresholds, flag_asymmetry=False)
    return ClipAnalysis(m, [], [], s, TestKind.STANDING, thresholds, warnings + s.notes, hold=hold)


def analyse_landing(series: LandmarkSeries, thresholds: Thresholds, gates: GateConfig | None = None,
                    height_cm: float | None = None) -> ClipAnalysis:
    """The landing check: one record per jump landing (``landing``); ``height_cm`` is not used."""
    from .landing import score_landings, segment_landings

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        m = compute_frame_measures(series, gates or GateConfig())
        landings = segment_landings(series.time_s, series.xy_px)
    warnings = list(m.warnings)
    results = score_landings(m, landings, thresholds)
    if not m.detected.any():
        warnings = ["nobody was found in the video"]
    elif not results:
        warnings.append("no jump landing was seen (a landing needs both feet to leave the floor)")
    s = _summary(results, thresholds)
    return ClipAnalysis(m, [], [], s, TestKind.LANDING, thresholds, warnings + s.notes, landings=results)
