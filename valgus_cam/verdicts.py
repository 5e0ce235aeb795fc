"""Per-rep numbers and the screening verdict: pure functions, no I/O (the TOML file is read by
:func:`load_thresholds`, the only function here that touches a file).

Pipeline position: ``FrameMeasures`` (per frame) + ``Rep`` list (from ``reps``) →
:func:`score_reps` → ``list[RepResult]`` → :func:`summarise`.

Conventions: degrees; frames 0-based as in frames.csv; ``None`` = the measure does not apply to
this rep or cannot be trusted (never a number then). Per rep:

* knee values are read **at peak knee flexion** (the rep's bottom frame, median over ±0.1 s);
  a single-leg rep reports the stance knee only;
* ``trunk_lean_deg``: the largest lateral lean within the rep, relative to standing, + = toward
  the stance side (single-leg) or the subject's left (double-leg);
* ``knee_separation_ratio``: knee distance / ankle distance at the bottom, relative to standing
  (< 1 = the knees came closer together than the feet; double-leg only).

Thresholds and their sources: ``docs/verdicts.md``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from .errors import InputError
from .measures import FrameMeasures
from .reps import Rep

# a failed criterion's code, and the words the overlay and the terminal use for it
REASONS = {
    "knee_valgus_left": "left knee caved inwards",
    "knee_valgus_right": "right knee caved inwards",
    "knees_caving": "knees moved towards each other",
    "pelvic_drop": "pelvis dropped on the free-leg side",
    "trunk_lean": "trunk leaned sideways",
    "hands_off_hips": "hands came off the hips",
    "balance_lost": "free foot touched down (balance lost)",
    # landing check (valgus_cam.landing)
    "landing_valgus_left": "left knee caved inwards on landing",
    "landing_valgus_right": "right knee caved inwards on landing",
    "landing_knees_caving": "knees moved towards each other on landing",
    # standing alignment check (valgus_cam.standing)
    "knock_knees": "gap between the ankles with the knees together (knock knees)",
    "foot_turn_out_left": "left foot turned out",
    "foot_turn_out_right": "right foot turned out",
    # session summary
    "knee_asymmetry": "left and right knees differ by more than the measurement noise",
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Pass/fail limits; defaults and their sources in docs/verdicts.md. ``sex`` picks
    ``knee_fppa_max_deg_male`` / ``_female`` when given (None: ``knee_fppa_max_deg``)."""

    knee_fppa_max_deg: float = 13.0  # frontal-plane FPPA of a knee at peak flexion
    knee_fppa_max_deg_female: float = 13.0
    knee_fppa_max_deg_male: float = 9.0
    sex: str | None = None  # None | "female" | "male"
    knee_separation_min_ratio: float = 0.85  # double-leg: knee/ankle distance vs standing
    trunk_lean_max_deg: float = 10.0  # lateral lean relative to standing
    pelvic_drop_max_deg: float = 10.0  # only applied when pelvic drop is measured
    meaningful_difference_deg: float = 8.0  # 2D FPPA smallest detectable difference (Munro 2012)
    bottom_window_s: float = 0.1  # half-width of the window around the bottom frame
    # landing check (docs/screening.md): frontal FPPA at peak knee flexion after landing
    landing_fppa_max_deg: float = 13.0
    landing_fppa_max_deg_female: float = 13.0
    landing_fppa_max_deg_male: float = 8.0
    landing_knee_separation_min_ratio: float = 0.85  # knee/ankle distance at peak flexion vs contact
    # standing alignment check (docs/screening.md)
    knock_knee_imd_min_cm: float = 4.0  # gap between the ankles with the knees together
    foot_turnout_max_deg: float = 20.0  # foot angle out from straight ahead

    @property
    def knee_limit_deg(self) -> float:
        if self.sex == "female":
            return self.knee_fppa_max_deg_female
        if self.sex == "male":
            return self.knee_fppa_max_deg_male
        return self.knee_fppa_max_deg

    @property
    def landing_limit_deg(self) -> float:
        if self.sex == "female":
            return self.landing_fppa_max_deg_female
        if self.sex == "male":
            return self.landing_fppa_max_deg_male
        return self.landing_fppa_max_deg

    def to_dict(self) -> dict:
        d = asdict(self)
        d["knee_limit_deg"] = self.knee_limit_deg
        d["landing_limit_deg"] = self.landing_limit_deg
        return d


def load_thresholds(path: str | Path | None, **overrides) -> Thresholds:
    """Thresholds from a TOML file (keys = the field names of :class:`Thresholds`, at the top level
    or under ``[thresholds]``), then ``overrides`` (None values ignored). Bad file → InputError."""
    t = Thresholds()
    values: dict = {}
    if path is not None:
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"config file not found: {p}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read config file {p}: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"config file {p} is not valid TOML: {e}") from None
        table = doc.get("thresholds", {})
        if not isinstance(table, dict):
            raise InputError(f"config file {p}: 'thresholds' must be a table ([thresholds]), not {table!r}")
        values = dict(table, **{k: v for k, v in doc.items() if k != "thresholds"})
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in fields(Thresholds)}
    for k, v in values.items():
        if k not in known:
            raise InputError(f"unknown threshold '{k}' (known: {', '.join(known)})")
        if k == "sex":
            if v not in (None, "female", "male"):
                raise InputError(f"sex must be \"female\" or \"male\", not {v!r}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(f"threshold '{k}' must be a number, not {v!r}")
    return replace(t, **{k: (float(v) if k != "sex" else v) for k, v in values.items()})


@dataclass(frozen=True, slots=True)
class RepEvents:
    """Per-rep events detected from the landmarks (see ``reps``/``events``); None = unknown."""

    hands_on_hips_at_start: bool | None = None
    hands_off_hips: bool | None = None  # hands that were on the hips left them during the rep
    balance_lost: bool | None = None  # single-leg: the free foot touched down


@dataclass(frozen=True, slots=True)
class RepResult:
    """One scored rep: the reps.json record (``to_dict``)."""

    index: int  # 1-based
    start_frame: int
    bottom_frame: int
    end_frame: int
    start_s: float
    bottom_s: float
    end_s: float
    stance: str  # "left" | "right" | "both"
    fppa_left_deg: float | None
    fppa_right_deg: float | None
    fppa_frontal_left_deg: float | None
    fppa_frontal_right_deg: float | None
    body_yaw_deg: float | None
    knee_flexion_deg: float | None
    knee_separation_ratio: float | None
    pelvic_drop_deg: float | None
    trunk_lean_deg: float | None
    hands_on_hips: bool | None  # at the start of the rep
    balance_lost: bool | None
    verdict: str  # "pass" | "fail" | "unmeasurable"
    reasons: tuple[str, ...] = ()
    not_measured: tuple[str, ...] = ()  # criteria that could not be judged, and why

    def to_dict(self) -> dict:
        d = {"kind": "rep", **asdict(self)}
        d["reasons"] = list(self.reasons)
        d["not_measured"] = list(self.not_measured)
        return {k: (_r(v) if isinstance(v, float) else v) for k, v in d.items()}


def _r(x: float, nd: int = 2) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _at(values: np.ndarray, time_s: np.ndarray, frame: int, half_s: float) -> float:
    """Median of ``values`` within ±half_s of ``frame`` (NaN if none there is finite)."""
    t0 = time_s[frame]
    sel = np.abs(time_s - t0) <= half_s + 1e-9
    v = values[sel]
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def _baseline_value(values: np.ndarray, m: FrameMeasures, rep: Rep) -> float:
    """Standing value: median over the standing baseline, else the rep's start frame."""
    b = values[m.baseline]
    b = b[np.isfinite(b)]
    if b.size:
        return float(np.median(b))
    return float(values[rep.start_frame])


def score_rep(m: FrameMeasures, rep: Rep, index: int, events: RepEvents = RepEvents(),
              thresholds: Thresholds = Thresholds()) -> RepResult:
    """Measures and verdict of one rep (see the module docstring for the conventions)."""
    t = m.time_s
    half = thresholds.bottom_window_s
    b = rep.bottom_frame
    single = rep.stance in ("left", "right")
    sides = (rep.stance,) if single else ("left", "right")
    val = {}
    for s in ("left", "right"):
        use = s in sides
        val[f"fppa_{s}"] = _at(m.fppa_left_deg if s == "left" else m.fppa_right_deg, t, b, half) if use else None
        fr = m.fppa_frontal_left_deg if s == "left" else m.fppa_frontal_right_deg
        val[f"frontal_{s}"] = _at(fr, t, b, half) if use else None
    flex_v = [_at(m.knee_flexion_left_deg if s == "left" else m.knee_flexion_right_deg, t, b, half) for s in sides]
    flex = float(np.nanmean(flex_v)) if np.isfinite(flex_v).any() else float("nan")
    frontal_view = m.view == "frontal"  # knee gap and sideways lean mean nothing in a side view
    seg = slice(rep.start_frame, rep.end_frame + 1)
    lean_rel = m.trunk_lean_deg[seg] - _baseline_value(m.trunk_lean_deg, m, rep)
    lean = float("nan")
    if frontal_view and np.isfinite(lean_rel).any():
        lean = float(lean_rel[np.nanargmax(np.abs(lean_rel))])
        if rep.stance == "right":
            lean = -lean  # + = toward the stance side
    sep = float("nan")
    if not single and frontal_view:
        ka0 = _baseline_value(m.knee_ankle_separation_ratio, m, rep)
        sep = _at(m.knee_ankle_separation_ratio, t, b, half) / ka0 if ka0 and np.isfinite(ka0) else float("nan")

    reasons: list[str] = []
    not_measured: list[str] = []
    limit = thresholds.knee_limit_deg
    knee_judged = False
    for s in sides:
        v = val[f"frontal_{s}"]
        if v is not None and np.isfinite(v):
            knee_judged = True
            if v > limit:
                reasons.append(f"knee_valgus_{s}")
    if not single and np.isfinite(sep):
        knee_judged = True
        if sep < thresholds.knee_separation_min_ratio and not any(r.startswith("knee_valgus") for r in reasons):
            reasons.append("knees_caving")
    if not knee_judged:
        not_measured.append("knee: frontal-plane FPPA not available (camera not square to the body, "
                            "side view, or the knee not visible)")
    if np.isfinite(lean) and abs(lean) > thresholds.trunk_lean_max_deg:
        reasons.append("trunk_lean")
    if not frontal_view:
        not_measured.append(f"trunk lean: sideways lean needs a front view (this is a {m.view} view)")
    if single:
        not_measured.append("pelvic drop: not measured (MediaPipe's hip points do not follow the pelvis; "
                            "docs/accuracy.md)")
    if single and events.hands_off_hips:
        reasons.append("hands_off_hips")
    if single and events.balance_lost:
        reasons.append("balance_lost")
    verdict = "fail" if reasons else ("pass" if knee_judged else "unmeasurable")
    yaw = _at(m.body_yaw_deg, t, b, half)
    return RepResult(
        index=index, start_frame=rep.start_frame, bottom_frame=b, end_frame=rep.end_frame,
        start_s=float(t[rep.start_frame]), bottom_s=float(t[b]), end_s=float(t[rep.end_frame]),
        stance=rep.stance,
        fppa_left_deg=_num(val["fppa_left"]) if val["fppa_left"] is not None else None,
        fppa_right_deg=_num(val["fppa_right"]) if val["fppa_right"] is not None else None,
        fppa_frontal_left_deg=_num(val["frontal_left"]) if val["frontal_left"] is not None else None,
        fppa_frontal_right_deg=_num(val["frontal_right"]) if val["frontal_right"] is not None else None,
        body_yaw_deg=_num(yaw), knee_flexion_deg=_num(flex), knee_separation_ratio=_num(sep),
        pelvic_drop_deg=None, trunk_lean_deg=_num(lean),
        hands_on_hips=events.hands_on_hips_at_start if single else None,
        balance_lost=events.balance_lost if single else None,
        verdict=verdict, reasons=tuple(reasons), not_measured=tuple(not_measured))


def score_reps(m: FrameMeasures, reps: list[Rep], events: list[RepEvents] | None = None,
               thresholds: Thresholds = Thresholds()) -> list[RepResult]:
    events = events or [RepEvents() for _ in reps]
    return [score_rep(m, r, k + 1, e, thresholds) for k, (r, e) in enumerate(zip(reps, events))]


def detect_test(reps: list[Rep]) -> str:
    """"single_leg_squat" when most reps are single-leg, else "double_leg_squat"."""
    single = sum(r.stance in ("left", "right") for r in reps)
    return "single_leg_squat" if reps and single > len(reps) / 2 else "double_leg_squat"


@dataclass(frozen=True, slots=True)
class LegSummary:
    stance: str
    reps: int
    passed: int
    failed: int
    unmeasurable: int
    fppa_frontal_mean_deg: float | None  # mean over the reps of the stance knee(s)


@dataclass(frozen=True, slots=True)
class Asymmetry:
    """Left–right comparison of the knee angle over a session: per leg the mean frontal-plane FPPA
    and its spread (sample SD) across the reps, and whether the difference of the means reaches
    the smallest difference 2D video can resolve (``smallest_detectable_difference_deg``, 8°,
    Munro et al. 2012). ``exceeds_noise`` is None when a leg has no measured rep."""

    left_mean_deg: float | None
    left_sd_deg: float | None  # None with fewer than 2 reps
    left_n: int
    right_mean_deg: float | None
    right_sd_deg: float | None
    right_n: int
    difference_deg: float | None  # left minus right
    smallest_detectable_difference_deg: float
    exceeds_noise: bool | None


def asymmetry(left: list[float], right: list[float], sdd_deg: float = 8.0) -> Asymmetry:
    """:class:`Asymmetry` of the per-rep knee angles of each leg."""
    def stats(v):
        if not v:
            return None, None
        return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else None)

    lm, ls = stats(left)
    rm, rs = stats(right)
    diff = lm - rm if lm is not None and rm is not None else None
    return Asymmetry(lm, ls, len(left), rm, rs, len(right), diff, float(sdd_deg),
                     None if diff is None else bool(abs(diff) >= sdd_deg))


@dataclass(frozen=True, slots=True)
class Summary:
    legs: tuple[LegSummary, ...]
    left_right_difference_deg: float | None  # mean frontal FPPA, left minus right
    difference_meaningful: bool | None  # |difference| ≥ the smallest detectable difference
    worst_rep: int | None  # index of the rep with the largest stance-knee frontal FPPA (or most reasons)
    hands_warning: bool = False  # hands were not on the hips at the start of any single-leg rep
    notes: list[str] = field(default_factory=list)
    asymmetry: Asymmetry | None = None  # per-leg mean ± SD and the difference vs the noise
    reasons: tuple[str, ...] = ()  # session-level findings (``knee_asymmetry``)

    def to_dict(self) -> dict:
        d = asdict(self)
        return _round_tree(d)


def _round_tree(x):
    if isinstance(x, float):
        return _r(x)
    if isinstance(x, dict):
        return {k: _round_tree(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round_tree(v) for v in x]
    return x


def _knee_value(r: RepResult, side: str) -> float | None:
    return r.fppa_frontal_left_deg if side == "left" else r.fppa_frontal_right_deg


def summarise(results: list[RepResult], thresholds: Thresholds = Thresholds()) -> Summary:
    """Passed / failed per stance, the left–right difference of the knee angle and the worst rep."""
    legs = []
    side_values: dict[str, list[float]] = {}
    for stance in ("left", "right", "both"):
        rs = [r for r in results if r.stance == stance]
        if not rs:
            continue
        vals = [v for r in rs for s in ((stance,) if stance != "both" else ("left", "right"))
                if (v := _knee_value(r, s)) is not None]
        mean = float(np.mean(vals)) if vals else None
        legs.append(LegSummary(stance, len(rs), sum(r.verdict == "pass" for r in rs),
                               sum(r.verdict == "fail" for r in rs), sum(r.verdict == "unmeasurable" for r in rs),
                               mean))
        for s in ("left", "right"):
            sv = [v for r in rs if (v := _knee_value(r, s)) is not None and (stance == s or stance == "both")]
            if sv and (stance == s or s not in side_values):  # a leg's own single-leg reps first
                side_values[s] = sv
    asym = asymmetry(side_values.get("left", []), side_values.get("right", []), thresholds.meaningful_difference_deg)
    diff = asym.difference_deg
    meaningful = asym.exceeds_noise

    def badness(r: RepResult):
        vals = [v for s in ("left", "right") if (v := _knee_value(r, s)) is not None]
        return (len(r.reasons), max(vals) if vals else -math.inf)

    worst = max(results, key=badness).index if results else None
    single = [r for r in results if r.stance in ("left", "right")]
    hands_warning = bool(single) and all(r.hands_on_hips is False for r in single)
    notes = []
    if diff is not None and not meaningful:
        notes.append(f"left-right difference {abs(diff):.1f}° is below the "
                     f"{thresholds.meaningful_difference_deg:.0f}° that 2D video can resolve: treat the knees as alike")
    if hands_warning:
        notes.append("the hands were not on the hips: the test's hands-on-hips position was not used")
    return Summary(tuple(legs), diff, meaningful, worst, hands_warning, notes, asym,
                   ("knee_asymmetry",) if meaningful else ())
