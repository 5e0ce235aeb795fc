"""What to do about a failed criterion: the findings, what each is commonly associated with and
the families of corrective work, from one data file (``valgus_cam/data/guidance.toml``).

    >>> from valgus_cam.guidance import guidance_for, format_guidance
    >>> items = guidance_for(["knee_valgus_left", "trunk_lean"])
    >>> [i.id for i in items]
    ['knee_valgus', 'trunk_lean']

Guidance appears exactly for the reason codes given (``verdicts.REASONS`` keys): never for a
criterion that passed, nothing for an unknown code. Phrased as "commonly associated with", never
a diagnosis; :data:`NOTES` (see a professional for pain or a suspected structural cause;
differences under the measurement noise are not findings) go with any guidance shown.
"""

from __future__ import annotations

import textwrap
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class GuidanceItem:
    """One finding's guidance. ``codes``: the failed reason codes that brought it up."""

    id: str
    title: str
    finding: str
    associated_with: tuple[str, ...]  # commonly associated contributing factors
    exercise_families: tuple[str, ...]
    codes: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "finding": self.finding, "codes": list(self.codes),
                "commonly_associated_with": list(self.associated_with),
                "exercise_families": list(self.exercise_families)}


@dataclass(frozen=True, slots=True)
class GuidanceNotes:
    professional: str  # see a professional for pain or a suspected structural cause
    noise: str  # differences under the measurement noise are not findings


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[GuidanceItem, ...], GuidanceNotes]:
    text = resources.files("valgus_cam").joinpath("data/guidance.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    items = tuple(GuidanceItem(e["id"], e["title"], e["finding"], tuple(e["associated_with"]),
                               tuple(e["exercise_families"]), tuple(e["codes"])) for e in doc["item"])
    notes = GuidanceNotes(" ".join(doc["notes"]["professional"].split()), " ".join(doc["notes"]["noise"].split()))
    return items, notes


def all_items() -> tuple[GuidanceItem, ...]:
    """Every guidance item of the data file (codes = all the codes it covers)."""
    return _load()[0]


def notes() -> GuidanceNotes:
    return _load()[1]


def guidance_for(reasons: Iterable[str]) -> list[GuidanceItem]:
    """Guidance for the failed reason codes, one item per finding, in the order the findings first
    appear in ``reasons``; each item's ``codes`` are those of ``reasons`` it covers."""
    failed = list(dict.fromkeys(reasons))
    out: list[tuple[int, GuidanceItem]] = []
    for item in all_items():
        hit = tuple(c for c in failed if c in item.codes)
        if hit:
            out.append((failed.index(hit[0]), GuidanceItem(item.id, item.title, item.finding, item.associated_with,
                                                           item.exercise_families, hit)))
    return [i for _, i in sorted(out, key=lambda p: p[0])]


def guidance_document(reasons: Iterable[str]) -> dict:
    """For reps.json / the HTML report: ``{"items": [...], "notes": {...}}`` (no items: empty list)."""
    items = guidance_for(reasons)
    n = notes()
    return {"items": [i.to_dict() for i in items],
            "notes": {"professional": n.professional, "measurement_noise": n.noise}}


def format_guidance(items: list[GuidanceItem], width: int = 100) -> str:
    """Plain text for the terminal and the end of a live session; "" when there is nothing to say."""
    if not items:
        return ""
    wrap = lambda s, first, rest: textwrap.fill(s, width, initial_indent=first, subsequent_indent=rest)  # noqa: E731
    lines = ["What the findings are commonly associated with, and what usually helps:"]
    for it in items:
        lines.append(wrap(f"{it.title}. {it.finding}", "* ", "  "))
        lines.append(wrap("Commonly associated with: " + "; ".join(it.associated_with) + ".", "  ", "    "))
        lines.append(wrap("Families of corrective work: " + "; ".join(it.exercise_families) + ".", "  ", "    "))
    n = notes()
    lines.append(wrap(n.professional, "Note: ", "  "))
    lines.append(wrap(n.noise, "Note: ", "  "))
    return "\n".join(lines)
