"""What analysing a clip gives, whatever the test: :class:`ClipAnalysis` and its records, each a
:class:`Record`.

``pipeline.analyse_clip`` makes it (the squats there, the standing and landing checks in
``screening``); reps.json (``report``), the terminal, the overlay, the charts and the HTML report
read it. This module imports nothing that makes one, so ``screening`` and ``pipeline`` both
depend on it and not on each other.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .kinds import TestKind

if TYPE_CHECKING:
    from .landing import LandingResult
    from .measures import FrameMeasures
    from .standing import StandingResult
    from .verdicts import Finding, RepResult, Summary, Thresholds


class Record(Protocol):
    """One judged record of a clip, the same questions for every test: a squat rep
    (``verdicts.RepResult``), the standing check's hold (``standing.StandingResult``) or a
    landing (``landing.LandingResult``). reps.json lists ``to_dict()`` of each."""

    index: int  # 1-based
    verdict: str  # "pass" | "fail" | "unmeasurable"
    reasons: tuple[str, ...]  # the failed criteria's codes (``verdicts.REASONS``), in order
    not_measured: tuple[str, ...]  # what could not be judged, and why, in words
    findings: tuple["Finding", ...]  # per criterion (and side): value, limit, result; a failed one per reason

    @property
    def kind(self) -> str:
        """reps.json's ``"kind"``: "rep" | "hold" | "landing" (``TestKind.unit``)."""

    @property
    def stance(self) -> str:
        """The leg(s) it stood on: "left" | "right" (single-leg reps) | "both"."""

    def knee_angle_deg(self, side: str) -> float | None:
        """The knee angle (frontal-plane FPPA, + = inwards) ``side``'s knee was judged by: a rep's
        worst moment, a landing's peak knee flexion, the hold's static angle; None where not measured."""

    def to_dict(self) -> dict: ...


def record_dict(record) -> dict:
    """A hold's or a landing's reps.json record: ``kind`` first, its fields without the findings
    (reps.json lists the reasons and what was not measured), floats rounded (seconds to 3
    decimals, the rest to 2), non-finite values as None."""
    d = asdict(record)
    del d["findings"]
    d["reasons"], d["not_measured"] = list(record.reasons), list(record.not_measured)
    d = {"kind": d.pop("kind"), **d}
    return {k: (None if not math.isfinite(v) else round(float(v), 3 if k.endswith("_s") else 2))
            if isinstance(v, float) else v for k, v in d.items()}


@dataclass(slots=True)
class ClipAnalysis:
    measures: "FrameMeasures"
    reps: list
    results: list["RepResult"]  # the squat reps (empty for the standing and landing checks)
    summary: "Summary"
    test: TestKind  # a plain string of a kind is turned into its TestKind
    thresholds: "Thresholds"
    warnings: list[str]
    hold: "StandingResult | None" = None  # the standing check's one record
    landings: list["LandingResult"] = field(default_factory=list)  # the landing check's records

    def __post_init__(self):
        self.test = TestKind(self.test)

    @property
    def records(self) -> list[Record]:
        """What reps.json lists under "reps": the squat reps, the hold, or the landings."""
        if self.test is TestKind.STANDING:
            return [self.hold] if self.hold is not None else []
        if self.test is TestKind.LANDING:
            return list(self.landings)
        return list(self.results)

    @property
    def reasons(self) -> list[str]:
        """Every failed criterion of the clip, once, in order of first appearance (for guidance)."""
        codes = [c for r in self.records for c in r.reasons] + list(self.summary.reasons)
        return list(dict.fromkeys(codes))

    @property
    def measurable(self) -> bool:
        """FPPA can be judged on at least one rep (or, without reps, a frontal-plane knee angle was
        measured somewhere in the clip)."""
        if self.records:
            return any(r.verdict != "unmeasurable" for r in self.records)
        m = self.measures
        return (m.view == "frontal" and self.test.is_squat
                and bool(np.isfinite(m.fppa_frontal_left_deg).any() or np.isfinite(m.fppa_frontal_right_deg).any()))
