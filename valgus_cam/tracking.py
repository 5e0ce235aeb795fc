"""Keeping the subject's identity when more than one person is in view (pure: no MediaPipe, no I/O).

MediaPipe's pose landmarker follows "a person": when the subject is hidden for a moment, or
somebody else steps into view, it can carry on with the other person, and the measures of one
clip would then mix two people. :class:`SubjectTracker` decides, frame by frame, which of the
people found (if any) is the subject, by **position and size**:

* a person is summarised by the mid-hip point (pixels; it does not move when MediaPipe swaps the
  left/right labels) and the torso length (mid-hip to mid-shoulder, pixels; nearly constant
  through a squat);
* ``distance`` between two of them = mid-hip distance over the larger torso length (a shrunken,
  glitching landmark set of one frame cannot make a small step look large);
* the subject is the first person found (the largest if several are found at once); afterwards a
  candidate can be the subject if its distance from the subject's last position is within the
  gate ``gate_torso + speed_torso_per_s × (time since the subject was last seen)`` and it is not
  better explained as one of the *other* people seen recently (their positions are tracked too;
  a person is remembered as another one only when at least ``other_min_torso`` from the subject,
  so that a glitching or duplicated landmark set of the subject is not);
  among such candidates the one with the lowest ``distance + size_weight × |log(size ratio)|``
  is taken;
* a subject unseen for ``forget_s`` may be re-acquired anywhere, but only when nobody else has
  been seen in that time (one person who walked out and came back elsewhere);
* for ``settle_s`` after the subject is first found, and while nobody else has been seen, the
  gate is ``settle_gain`` times wider: MediaPipe's first landmarks of somebody walking into the
  picture (half of them outside it) put the hips a torso length or more from where they settle
  (the shared webcam clip: mid-hip 126 px → 415 px, torso 59 → 104 px in 1.3 s); a live camera
  that drops frames under load saw that as one jump and refused the subject for the rest of the
  clip (116 of 140 frames).

Frames where people are found but none is the subject are **lost** (``Decision.lost``): the
caller reports them as not measured, never with the other person's numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .landmarks import LM

_HIPS = (LM["left_hip"], LM["right_hip"])
_SHOULDERS = (LM["left_shoulder"], LM["right_shoulder"])


@dataclass(frozen=True, slots=True)
class Blob:
    """A person reduced to where they are and how big: mid-hip (px) and torso length (px)."""

    x: float
    y: float
    size: float
    time_s: float

    def distance(self, other: "Blob") -> float:
        """Mid-hip distance in torso lengths (of the larger of the two)."""
        return math.hypot(self.x - other.x, self.y - other.y) / max(self.size, other.size, 1e-6)

    def cost(self, other: "Blob", size_weight: float) -> float:
        return self.distance(other) + size_weight * abs(math.log(max(self.size, 1e-6) / max(other.size, 1e-6)))


def blob(xy_px: np.ndarray, time_s: float) -> Blob | None:
    """The :class:`Blob` of one pose's (33, 2) pixel landmarks; None if hips or shoulders are not finite."""
    xy = np.asarray(xy_px, dtype=float)
    hip = xy[list(_HIPS)].mean(axis=0)
    sh = xy[list(_SHOULDERS)].mean(axis=0)
    size = float(np.hypot(*(sh - hip)))
    if not (np.isfinite(hip).all() and np.isfinite(size)) or size <= 0:
        return None
    return Blob(float(hip[0]), float(hip[1]), size, float(time_s))


@dataclass(frozen=True, slots=True)
class Decision:
    """Which candidate is the subject (index into the list given, or None) and why."""

    index: int | None
    lost: bool  # people were found, none of them is the subject (with one candidate: a person switch)


@dataclass(slots=True)
class SubjectTracker:
    """Decides which detected person is the subject (see the module docstring). ``update`` takes
    the candidates' blobs of one frame and returns a :class:`Decision`; times must not decrease."""

    gate_torso: float = 0.6
    speed_torso_per_s: float = 2.0
    size_weight: float = 1.0
    forget_s: float = 2.0
    others_memory_s: float = 2.0
    other_min_torso: float = 1.0
    subject: Blob | None = None
    others: list[Blob] = field(default_factory=list)
    settle_s: float = 1.5
    settle_gain: float = 3.0
    first_seen_s: float | None = None
    people_seen: int = 0  # most people found in one frame (2: a second person was seen)
    lost_frames: int = 0  # frames where people were found but not the subject

    def gate(self, time_s: float) -> float:
        dt = max(0.0, time_s - self.subject.time_s) if self.subject else 0.0
        settling = (self.first_seen_s is not None and time_s - self.first_seen_s < self.settle_s
                    and self.people_seen <= 1)
        return (self.gate_torso + self.speed_torso_per_s * dt) * (self.settle_gain if settling else 1.0)

    def check(self, candidates: list[Blob | None], time_s: float) -> Decision:
        """What :meth:`update` would decide, without changing the tracker."""
        return self._decide(candidates, time_s)[0]

    def update(self, candidates: list[Blob | None], time_s: float) -> Decision:
        """Decide which candidate is the subject and remember where everyone is."""
        decision, valid = self._decide(candidates, time_s)
        if decision.index is not None and self.first_seen_s is None:
            self.first_seen_s = time_s
        self.people_seen = max(self.people_seen, len(valid))
        self.others = [o for o in self.others if time_s - o.time_s <= self.others_memory_s]
        if decision.index is not None:
            self.subject = candidates[decision.index]
        self.lost_frames += decision.lost
        for i, b in valid:
            if i != decision.index and self.subject is not None and b.distance(self.subject) >= self.other_min_torso:
                self._remember_other(b, time_s)
        return decision

    def _decide(self, candidates: list[Blob | None], time_s: float) -> tuple[Decision, list[tuple[int, Blob]]]:
        valid = [(i, b) for i, b in enumerate(candidates) if b is not None]
        if not valid:
            return Decision(None, False), valid
        if self.subject is None:
            return Decision(max(valid, key=lambda ib: ib[1].size)[0], False), valid
        others = [o for o in self.others if time_s - o.time_s <= self.others_memory_s]
        gate = self.gate(time_s)
        inside = [(b.cost(self.subject, self.size_weight), i, b) for i, b in valid if b.distance(self.subject) <= gate]
        for cost, i, b in sorted(inside, key=lambda c: c[0]):
            if cost <= min((b.cost(o, self.size_weight) for o in others), default=math.inf):
                return Decision(i, False), valid
        if time_s - self.subject.time_s >= self.forget_s and not others and len(valid) == 1:
            return Decision(valid[0][0], False), valid  # alone again after a while: re-acquire
        return Decision(None, True), valid

    def _remember_other(self, b: Blob, time_s: float) -> None:
        """Update the remembered person ``b`` continues (within the gate), else remember a new one."""
        costs = [b.distance(o) for o in self.others]
        k = int(np.argmin(costs)) if costs else None
        if k is not None and costs[k] <= self.gate_torso + self.speed_torso_per_s * (time_s - self.others[k].time_s):
            self.others[k] = b
        else:
            self.others.append(b)
