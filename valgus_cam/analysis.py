"""What every test's records have in common: :class:`Record` (a squat rep, the standing hold, a
landing), what reps.json, the terminal, the charts and the HTML report ask of each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .verdicts import Finding


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
