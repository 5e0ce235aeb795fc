"""Per-rep findings and the screening verdict: pure functions, no I/O (the TOML file is read by
:func:`load_thresholds`, the only function here that touches a file).

Pipeline position: ``FrameMeasures`` (per frame) + ``Rep`` list (from ``reps``) →
:func:`score_reps` → ``list[RepResult]`` (each with its :class:`Finding` list) → :func:`summarise`.

Conventions: degrees and centimetres; frames 0-based as in frames.csv; ``None`` = the measure
does not apply to this rep or cannot be trusted (never a number then).

A rep is judged on the **whole movement**, not only its deepest frame: knees cave in on the way
down or on the way up as often as at the bottom (Mauntel et al. 2014; the synthetic set's
``valgus_timing``), and at the bottom of a deep squat the thigh points at the camera and the FPPA
means nothing (Uhlár et al. 2021). Per criterion and side, a :class:`Finding` holds the worst
moment held for ``sustain_s`` (its value, frame, time, phase down / bottom / up and the knee
bend there), the limit and the result ``pass`` / ``fail`` / ``not_measured``:

* ``knee_valgus``: frontal-plane FPPA wherever the gates let it be measured (thigh long enough in
  the image, camera within 25° of the body's front);
* ``knee_over_foot``: how far the knee moved inside the path of a knee tracking over the foot
  (``measures.knee_over_foot_cm``), over 30–100° of knee bend, where knee, ankle and toes are seen;
* ``knee_gap`` (double-leg): knee/ankle distance relative to standing, its smallest value over
  30–100° of knee bend;
* ``trunk_lean``: largest sideways lean relative to standing, + = toward the stance side
  (single-leg) or the subject's left (double-leg); front view within the yaw gate only;
* ``pelvic_drop`` (single-leg): the free side's drop from standing, from the waistband line
  (``measures.FrameMeasures.pelvic_tilt_deg``, :mod:`valgus_cam.pelvis`): the rep's 95th
  percentile where ≥ 60% of its frames are measured (``pelvis.rep_peak_drop``); it needs the
  video's pixels (``pipeline.analyse_clip(pelvis=...)``), else not measured;
* ``hip_drift`` (single-leg): how far the pelvis centre moved sideways outward over the stance
  foot from the rep's start (``FrameMeasures.hip_offset_*_cm``), cm;
* ``hands_off_hips``, ``balance_lost`` (single-leg): the rep's events.

The verdict: ``fail`` if any finding fails; else ``unmeasurable`` (NOT MEASURABLE) when no knee
finding was measured — a criterion that was not measured is never a pass; else ``pass``.
FPPA at peak knee flexion (``fppa_*_deg``, median over ±0.1 s of the bottom) is still reported:
it is the clinical figure for single-leg squats.

Thresholds and their sources: ``docs/verdicts.md``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
from scipy.ndimage import minimum_filter1d

from .errors import InputError
from .kinds import TestKind
from .measures import FrameMeasures, GateConfig
from .reps import Rep

# a failed criterion's code, and the words the overlay and the terminal use for it
REASONS = {
    "knee_valgus_left": "left knee caved inwards",
    "knee_valgus_right": "right knee caved inwards",
    "knee_over_foot_left": "left knee moved inside the foot",
    "knee_over_foot_right": "right knee moved inside the foot",
    "knees_caving": "knees moved towards each other",
    "pelvic_drop": "pelvis dropped on the free-leg side",
    "hip_drift": "hips drifted outside the stance foot",
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
    # knee over the foot: cm inside the path of a knee tracking over the foot (docs/verdicts.md)
    knee_over_foot_max_cm: float = 2.0  # double-leg squat: the main knee criterion
    knee_over_foot_max_cm_single_leg: float = 6.5  # single-leg squat: a second sign beside the FPPA
    sustain_s: float = 0.15  # a finding's value must be held this long (one noisy frame is not a fault)
    trunk_lean_max_deg: float = 10.0  # lateral lean relative to standing
    pelvic_drop_max_deg: float = 10.0  # free-side pelvic drop from standing (Nakagawa 2012; docs/verdicts.md)
    hip_drift_max_cm: float = 4.7  # pelvis centre outward from the rep's start: half a foot breadth (docs/verdicts.md)
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

    def _by_sex(self, unknown: float, female: float, male: float) -> float:
        return {"female": female, "male": male}.get(self.sex, unknown)

    @property
    def knee_limit_deg(self) -> float:
        return self._by_sex(self.knee_fppa_max_deg, self.knee_fppa_max_deg_female, self.knee_fppa_max_deg_male)

    def knee_over_foot_limit_cm(self, single_leg: bool) -> float:
        """The knee-over-the-foot limit of a single-leg or a double-leg squat."""
        return self.knee_over_foot_max_cm_single_leg if single_leg else self.knee_over_foot_max_cm

    @property
    def landing_limit_deg(self) -> float:
        return self._by_sex(self.landing_fppa_max_deg, self.landing_fppa_max_deg_female,
                            self.landing_fppa_max_deg_male)

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


CRITERIA = {  # criterion → (what the user reads, unit)
    "knee_valgus": ("knee angle (FPPA)", "deg"),
    "knee_over_foot": ("knee over the foot", "cm"),
    "knee_gap": ("knee gap", "ratio"),
    "trunk_lean": ("trunk lean", "deg"),
    "pelvic_drop": ("pelvic drop", "deg"),
    "hip_drift": ("hip drift", "cm"),
    "hands_off_hips": ("hands on hips", None),
    "balance_lost": ("balance", None),
    # the landing check's (landing.LandingResult.findings)
    "landing_valgus": ("knee angle at the deepest point", "deg"),
    "landing_knee_gap": ("knee gap at the deepest point vs contact", "ratio"),
    # the standing check's (standing.StandingResult.findings)
    "knock_knees": ("gap between the ankles with the knees together", "cm"),
    "foot_turn_out": ("foot turn-out", "deg"),
}
KNEE_CRITERIA = ("knee_valgus", "knee_over_foot", "knee_gap")
# the words every view (terminal, overlay, live, HTML report) uses for a verdict and a moment
VERDICT_WORDS = {"pass": "PASS", "fail": "FAIL", "unmeasurable": "NOT MEASURABLE"}
PHASE_WORDS = {"down": "on the way down", "bottom": "at the bottom", "up": "on the way up"}
# a failed finding → its REASONS code
_REASON_CODE = {"knee_gap": "knees_caving", "landing_knee_gap": "landing_knees_caving"}
_SIDED = ("knee_valgus", "knee_over_foot", "landing_valgus", "foot_turn_out")  # their codes end in the side


@dataclass(frozen=True, slots=True)
class Finding:
    """One criterion of one rep (and side): the worst moment, its limit and the result.

    ``result``: "pass" | "fail" | "not_measured" (then ``value`` is None and ``why`` says why);
    ``phase``: "down" | "bottom" | "up" (where in the rep the worst moment was)."""

    criterion: str
    side: str | None
    value: float | None
    limit: float | None
    unit: str | None
    frame: int | None
    time_s: float | None
    phase: str | None
    result: str
    knee_flexion_deg: float | None = None
    why: str | None = None

    @property
    def code(self) -> str:
        """The REASONS code of this finding when it fails (e.g. ``knee_valgus_left``)."""
        c = _REASON_CODE.get(self.criterion, self.criterion)
        return f"{c}_{self.side}" if self.side and c in _SIDED else c

    @property
    def label(self) -> str:
        words = CRITERIA.get(self.criterion, (self.criterion, None))[0]
        return f"{self.side} {words}" if self.side else words

    def value_text(self) -> str:
        """The value with its unit and limit, e.g. "+18° (limit 13°)", "4.1 cm inside (limit 2.5 cm)"."""
        if self.value is None:
            return "not measured"
        if self.unit == "deg":
            return f"{self.value:+.0f}° (limit {self.limit:.0f}°)"
        if self.criterion == "hip_drift":
            where = "outward" if self.value >= 0 else "inward"
            return f"{abs(self.value):.1f} cm {where} (limit {self.limit:.1f} cm outward)"
        if self.unit == "cm":
            where = "inside" if self.value >= 0 else "outside"
            return f"{abs(self.value):.1f} cm {where} (limit {self.limit:.1f} cm inside)"
        if self.unit == "ratio":
            return f"{self.value:.2f} × standing (limit {self.limit:.2f} ×)"
        return "yes" if self.result == "fail" else "no"

    def short(self) -> str:
        """What failed and how much, e.g. "left knee moved inside the foot: 10.8 cm"."""
        words = REASONS.get(self.code, self.label)
        if self.value is None or self.unit is None:
            return words
        unit = {"deg": "°", "cm": " cm", "ratio": " ×"}[self.unit]
        return f"{words}: {self.value:.1f}{unit}" if self.unit != "deg" else f"{words}: {self.value:+.0f}°"

    def text(self) -> str:
        """One line for the user: what, how much, when; or why it was not measured."""
        if self.result == "not_measured":
            return f"{self.label}: not measured ({self.why})" if self.why else f"{self.label}: not measured"
        if self.unit is None:
            return REASONS.get(self.code, self.label) if self.result == "fail" else f"{self.label}: ok"
        when = f" {PHASE_WORDS.get(self.phase, '')}" if self.phase else ""
        bend = f" at {self.knee_flexion_deg:.0f}° knee bend" if self.knee_flexion_deg is not None else ""
        t = f", {self.time_s:.2f} s" if self.time_s is not None else ""
        what = f"{REASONS.get(self.code, self.label)}:" if self.result == "fail" else self.label
        return f"{what} {self.value_text()}{when}{bend}{t}"

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (_r(v) if isinstance(v, float) else v) for k, v in d.items()}


@dataclass(frozen=True, slots=True)
class RepResult:
    """One scored rep: the reps.json record (``to_dict``); an ``analysis.Record``."""

    kind: ClassVar[str] = "rep"
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
    findings: tuple[Finding, ...] = ()
    knee_over_foot_left_cm: float | None = None  # worst over the rep (see Finding)
    knee_over_foot_right_cm: float | None = None
    hip_drift_cm: float | None = None  # single-leg: worst outward drift of the pelvis centre (see Finding)

    def finding(self, criterion: str, side: str | None = None) -> Finding | None:
        return next((f for f in self.findings if f.criterion == criterion and f.side == side), None)

    def failed_moment(self) -> Finding | None:
        """The finding to show for a failed rep: its first failed knee finding, else its first failed
        finding with a moment (frame); None for a rep that did not fail at a moment."""
        failed = [f for f in self.findings if f.result == "fail" and f.frame is not None]
        return min(failed, key=lambda f: f.criterion not in KNEE_CRITERIA, default=None)

    def value(self, criterion: str, side: str | None = None) -> float | None:
        """A finding's value (its worst moment); None where not measured or not judged in this rep."""
        f = self.finding(criterion, side)
        return f.value if f is not None else None

    def knee_angle_deg(self, side: str) -> float | None:
        """The knee angle the rep was judged by: the worst frontal FPPA over the rep (its finding),
        None where it was not measured or that knee is not judged (a single-leg rep's free knee)."""
        return self.value("knee_valgus", side)

    def to_dict(self) -> dict:
        d = {"kind": self.kind, **asdict(self)}
        d["reasons"] = list(self.reasons)
        d["not_measured"] = list(self.not_measured)
        d["findings"] = [f.to_dict() for f in self.findings]
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


def worst_sustained(values: np.ndarray, time_s: np.ndarray, sustain_s: float) -> int | None:
    """Index of the highest value held for ``sustain_s`` (the frame at the centre of the window
    whose smallest value is largest); NaN frames break a window. None if nothing is finite.

    >>> worst_sustained(np.array([0, 9, 0, 5, 6, 5, 0.0]), np.arange(7) / 10, 0.2)
    4
    """
    v = np.asarray(values, float)
    if not np.isfinite(v).any():
        return None
    dt = np.median(np.diff(time_s)) if len(time_s) > 1 else 1.0
    size = max(1, int(round(sustain_s / dt)) if dt > 0 else 1)
    held = minimum_filter1d(np.where(np.isfinite(v), v, -np.inf), size=min(size, len(v)), mode="nearest")
    if not np.isfinite(held).any():  # nothing held that long: the best single frame
        held = np.where(np.isfinite(v), v, -np.inf)
    return int(np.argmax(held))


def _phase(rep: Rep, time_s: np.ndarray, frame: int, half_s: float) -> str:
    tb = time_s[rep.bottom_frame]
    if abs(time_s[frame] - tb) <= half_s + 1e-9:
        return "bottom"
    return "down" if frame < rep.bottom_frame else "up"


def _flexion(m: FrameMeasures, side: str | None) -> np.ndarray:
    if side == "left":
        return m.knee_flexion_left_deg
    if side == "right":
        return m.knee_flexion_right_deg
    return np.fmax(m.knee_flexion_left_deg, m.knee_flexion_right_deg)


def _worst_finding(criterion: str, side: str | None, values: np.ndarray, sign: float, limit: float,
                   m: FrameMeasures, rep: Rep, th: "Thresholds", why: str, window: np.ndarray | None = None
                   ) -> Finding:
    """The worst moment of ``values`` (``sign``: +1 = high is bad, −1 = low is bad) over the rep's
    frames (and ``window``), as a :class:`Finding` that fails beyond ``limit`` (``not_measured``
    with ``why`` if no value)."""
    t = m.time_s
    seg = np.zeros(len(t), bool)
    seg[rep.start_frame:rep.end_frame + 1] = True
    if window is not None:
        seg &= window
    v = np.where(seg, sign * np.asarray(values, float), np.nan)
    i = worst_sustained(v, t, th.sustain_s)
    unit = CRITERIA[criterion][1]
    if i is None:
        return Finding(criterion, side, None, limit, unit, None, None, None, "not_measured", why=why)
    value = float(sign * v[i])
    flex = _flexion(m, side)[i]
    return Finding(criterion, side, value, limit, unit, i, float(t[i]), _phase(rep, t, i, th.bottom_window_s),
                   "fail" if sign * value > sign * limit else "pass", _num(flex) if np.isfinite(flex) else None)


def _event_finding(criterion: str, happened: bool | None, why: str) -> Finding:
    if happened is None:
        return Finding(criterion, None, None, None, None, None, None, None, "not_measured", why=why)
    return Finding(criterion, None, None, None, None, None, None, None, "fail" if happened else "pass")


_GATES = GateConfig()
YAW_GATE_DEG = _GATES.max_yaw_deg  # frontal-plane criteria: the camera within this of the body's front
YAW_GATE_KNEE_OVER_FOOT_DEG = _GATES.max_yaw_knee_over_foot_deg  # double-leg knee over the foot
# hip drift is a sideways distance in the image: with the camera yawed, the hips sitting back in
# the squat (10–20 cm) show as a sideways shift of sin(yaw) × that, up to 4.2 cm on the 20°-yaw
# renders against a 4.7 cm limit (docs/verdicts.md); within 15° it stays under ~1.5 cm there
YAW_GATE_HIP_DRIFT_DEG = 15.0


def _why_not(what: str, m: FrameMeasures, rep: Rep, yaw_gate_deg: float, also: str, yaw_note: str = "") -> str:
    """Why ``what`` was not measured in this rep, in words: the view, the camera's yaw (+ ``yaw_note``),
    or ``also``."""
    if m.view != "frontal":
        return f"{what} needs a front view (this is a {m.view} view)"
    yaw = m.body_yaw_deg[rep.start_frame:rep.end_frame + 1]
    yaw = yaw[np.isfinite(yaw)]
    if yaw.size and abs(float(np.median(yaw))) > yaw_gate_deg:
        return (f"{what}: the camera is {abs(float(np.median(yaw))):.0f}° off the body's front "
                f"(at most {yaw_gate_deg:.0f}°){yaw_note}")
    return f"{what}: {also}"


def rep_findings(m: FrameMeasures, rep: Rep, events: "RepEvents", th: "Thresholds") -> list[Finding]:
    """Every criterion of one rep (see the module docstring), in the order the user reads them."""
    single = rep.stance in ("left", "right")
    sides = (rep.stance,) if single else ("left", "right")
    frontal = m.view == "frontal"
    yaw_ok = frontal & (np.abs(m.body_yaw_deg) <= YAW_GATE_DEG)
    # the knee over the foot is turned into the body frame with the yaw: it holds to 40° (docs/accuracy.md)
    # in double-leg squats, where a collapse moves the knee 3–15 cm; in single-leg squats, where a
    # marked collapse moves it 2–6 cm, it is judged within the FPPA's 25° only
    kof_gate_deg = YAW_GATE_DEG if single else YAW_GATE_KNEE_OVER_FOOT_DEG
    kof_ok = frontal & (np.abs(m.body_yaw_deg) <= kof_gate_deg)
    mid_bend = {s: (_flexion(m, s) >= 30.0) & (_flexion(m, s) <= 100.0) for s in ("left", "right", None)}
    out: list[Finding] = []
    for s in sides:
        fr = m.fppa_frontal_left_deg if s == "left" else m.fppa_frontal_right_deg
        why = _why_not("the knee angle", m, rep, YAW_GATE_DEG,
                       "the thigh pointed at the camera (deep squat) or the knee was hidden")
        out.append(_worst_finding("knee_valgus", s, fr, 1.0, th.knee_limit_deg, m, rep, th, why))
    kof_limit = th.knee_over_foot_limit_cm(single)
    for s in sides:
        kof = m.knee_over_foot_left_cm if s == "left" else m.knee_over_foot_right_cm
        why = _why_not("the knee over the foot", m, rep, kof_gate_deg,
                       "the toes, ankle or knee were hidden or out of the picture, or the knee bent less than 30°")
        out.append(_worst_finding("knee_over_foot", s, np.where(kof_ok, kof, np.nan), 1.0, kof_limit, m, rep, th,
                                  why, mid_bend[s]))
    if not single:
        ka0 = _baseline_value(m.knee_ankle_separation_ratio, m, rep)
        rel = m.knee_ankle_separation_ratio / ka0 if ka0 and np.isfinite(ka0) else np.full(len(m.time_s), np.nan)
        why = _why_not("the knee gap", m, rep, YAW_GATE_DEG, "the knees or ankles were hidden")
        out.append(_worst_finding("knee_gap", None, np.where(yaw_ok, rel, np.nan), -1.0,
                                  th.knee_separation_min_ratio, m, rep, th, why, mid_bend[None]))
    lean_rel = m.trunk_lean_deg - _baseline_value(m.trunk_lean_deg, m, rep)
    if rep.stance == "right":
        lean_rel = -lean_rel  # + = toward the stance side
    lean_ok = np.where(yaw_ok, lean_rel, np.nan)
    why = _why_not("sideways trunk lean", m, rep, YAW_GATE_DEG, "shoulders or hips not seen",
                   ": forward lean would show as sideways lean")
    f = _worst_finding("trunk_lean", None, np.abs(lean_ok), 1.0, th.trunk_lean_max_deg, m, rep, th, why)
    if f.frame is not None:
        f = replace(f, value=float(lean_ok[f.frame]))
    out.append(f)
    if single:
        out.append(_pelvic_drop_finding(m, rep, th))
        out.append(_hip_drift_finding(m, rep, th))
        out.append(_event_finding("hands_off_hips", events.hands_off_hips,
                                  "hands on hips: wrists or hips not seen"))
        out.append(_event_finding("balance_lost", events.balance_lost,
                                  "balance: the free foot was not seen"))
    return out


# why the waistband gave no pelvic drop, by pelvis.REFUSALS code (the rep's most frequent one)
_PELVIS_WHY = {
    "not_run": "it is measured from the video's pixels (not available here, e.g. live or a landmark file)",
    "no_pose": "nobody was found", "no_pixels": "no picture of the waist",
    "no_band_model": "no waistband or belt line was found at the waist while standing",
    "not_frontal": "it needs a front view", "hips_hidden": "the hips were hidden",
    "short_fit": "the waistband line was covered (hands or the lifted thigh)",
    "sparse_fit": "the waistband line was covered (hands or the lifted thigh)",
    "band_moved": "the line found was not the waistband (it moved away from the hips)",
    "jump": "the waistband line was not steady",
}


# A free foot held low (under this many standing shank lengths above the stance foot, median over
# the rep) is held in front of the body: its raised thigh covers the waistband and pulls the line,
# which then reads the drop 4–12° low (docs/pelvis.md). Renders: free leg in front 0.00–0.40,
# behind 0.73–1.00.
FREE_FOOT_LOW_SHANKS = 0.55


def free_leg_in_front(m: FrameMeasures, rep) -> bool:
    """A single-leg rep whose free foot stays low (median under ``FREE_FOOT_LOW_SHANKS``): the free
    leg is held in front, its thigh over the waistband."""
    a, b = rep.start_frame, rep.end_frame
    free_foot = (m.free_foot_height_right if rep.stance == "left" else m.free_foot_height_left)[a:b + 1]
    return bool(np.isfinite(free_foot).any() and np.nanmedian(free_foot) < FREE_FOOT_LOW_SHANKS)


def rep_pelvic_drop_deg(m: FrameMeasures, rep) -> np.ndarray:
    """Per frame of the clip, the single-leg ``rep``'s free-side pelvic drop (deg, + = free side
    lower, from standing; ``FrameMeasures.pelvic_tilt_deg`` signed by the stance); NaN outside the
    rep, and over the whole rep when its free leg is held in front (:func:`free_leg_in_front`)."""
    out = np.full(len(m.time_s), np.nan)
    if not free_leg_in_front(m, rep):
        seg = slice(rep.start_frame, rep.end_frame + 1)
        out[seg] = (1.0 if rep.stance == "left" else -1.0) * np.asarray(m.pelvic_tilt_deg[seg], float)
    return out


def rep_hip_drift_cm(m: FrameMeasures, rep, sustain_s: float) -> np.ndarray:
    """Per frame of the clip, how far the pelvis centre has moved sideways outward over the
    single-leg ``rep``'s stance foot since the rep's start (the median of its first ``sustain_s``),
    cm; NaN outside the rep and where the camera is more than ``YAW_GATE_HIP_DRIFT_DEG`` off the
    body's front."""
    out = np.full(len(m.time_s), np.nan)
    seg = slice(rep.start_frame, rep.end_frame + 1)
    off = (m.hip_offset_left_cm if rep.stance == "left" else m.hip_offset_right_cm)[seg]
    off = np.where(np.abs(m.body_yaw_deg[seg]) <= YAW_GATE_HIP_DRIFT_DEG, off, np.nan)
    t = m.time_s[seg]
    start = off[(t - t[0] <= sustain_s + 1e-9) & np.isfinite(off)]
    if start.size:
        out[seg] = off - float(np.median(start))
    return out


def pelvis_curves(m: FrameMeasures, reps, sustain_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, within the single-leg ``reps`` only (NaN elsewhere): the pelvic drop
    (:func:`rep_pelvic_drop_deg`) and the hip drift (:func:`rep_hip_drift_cm`) each rep is judged on."""
    drop, drift = np.full(len(m.time_s), np.nan), np.full(len(m.time_s), np.nan)
    for r in reps:
        if r.stance in ("left", "right"):
            seg = slice(r.start_frame, r.end_frame + 1)
            drop[seg] = rep_pelvic_drop_deg(m, r)[seg]
            drift[seg] = rep_hip_drift_cm(m, r, sustain_s)[seg]
    return drop, drift


def _pelvic_drop_finding(m: FrameMeasures, rep: Rep, th: "Thresholds") -> Finding:
    """The rep's peak free-side pelvic drop (``pelvis.rep_peak_drop``: 95th percentile of the
    measured frames, only if ≥ 60% of the rep is measured), at the frame closest to that value."""
    from .pelvis import rep_peak_drop

    a, b = rep.start_frame, rep.end_frame
    drop = rep_pelvic_drop_deg(m, rep)
    peak = rep_peak_drop(drop, a, b)
    if not np.isfinite(peak):
        if free_leg_in_front(m, rep):
            why = "the free leg was held low in front, where its thigh covers the waistband"
        else:
            codes = [c for c in np.asarray(m.pelvic_tilt_refused[a:b + 1]).tolist() if c]
            code = max(set(codes), key=codes.count) if codes else "jump"
            why = ("fewer than 60% of the rep's frames were measured: " if code != "not_run" else "") \
                + _PELVIS_WHY.get(code, code)
        return Finding("pelvic_drop", None, None, th.pelvic_drop_max_deg, "deg", None, None, None, "not_measured",
                       why=why)
    seg = np.where(np.isfinite(drop[a:b + 1]), drop[a:b + 1], np.inf)
    i = a + int(np.argmin(np.abs(seg - peak)))
    flex = _flexion(m, rep.stance)[i]
    return Finding("pelvic_drop", None, float(peak), th.pelvic_drop_max_deg, "deg", i, float(m.time_s[i]),
                   _phase(rep, m.time_s, i, th.bottom_window_s), "fail" if peak > th.pelvic_drop_max_deg else "pass",
                   _num(flex) if np.isfinite(flex) else None)


def _hip_drift_finding(m: FrameMeasures, rep: Rep, th: "Thresholds") -> Finding:
    """The rep's worst hip drift (:func:`rep_hip_drift_cm`) held ``sustain_s``."""
    why = _why_not("hip drift", m, rep, YAW_GATE_HIP_DRIFT_DEG, "the stance hip or ankle was hidden at the rep's start",
                   ": the hips sitting back would show as a sideways drift")
    return _worst_finding("hip_drift", None, rep_hip_drift_cm(m, rep, th.sustain_s), 1.0, th.hip_drift_max_cm,
                          m, rep, th, why)


def _value(by: dict, criterion: str, side: str | None) -> float | None:
    f = by.get((criterion, side))
    return f.value if f is not None else None


def verdict_of(findings) -> str:
    """"fail" if a finding failed; else "unmeasurable" if no knee finding was measured; else "pass"."""
    if any(f.result == "fail" for f in findings):
        return "fail"
    if not any(f.result != "not_measured" for f in findings if f.criterion in KNEE_CRITERIA):
        return "unmeasurable"
    return "pass"


def score_rep(m: FrameMeasures, rep: Rep, index: int, events: RepEvents = RepEvents(),
              thresholds: Thresholds = Thresholds()) -> RepResult:
    """Findings and verdict of one rep (see the module docstring for the conventions)."""
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
    findings = rep_findings(m, rep, events, thresholds)
    by = {(f.criterion, f.side): f for f in findings}
    reasons = tuple(dict.fromkeys(f.code for f in findings if f.result == "fail"))
    not_measured = tuple(f"{f.label}: {f.why}" for f in findings if f.result == "not_measured")
    yaw = _at(m.body_yaw_deg, t, b, half)
    return RepResult(
        index=index, start_frame=rep.start_frame, bottom_frame=b, end_frame=rep.end_frame,
        start_s=float(t[rep.start_frame]), bottom_s=float(t[b]), end_s=float(t[rep.end_frame]),
        stance=rep.stance,
        fppa_left_deg=_num(val["fppa_left"]) if val["fppa_left"] is not None else None,
        fppa_right_deg=_num(val["fppa_right"]) if val["fppa_right"] is not None else None,
        fppa_frontal_left_deg=_num(val["frontal_left"]) if val["frontal_left"] is not None else None,
        fppa_frontal_right_deg=_num(val["frontal_right"]) if val["frontal_right"] is not None else None,
        body_yaw_deg=_num(yaw), knee_flexion_deg=_num(flex),
        knee_separation_ratio=_value(by, "knee_gap", None),
        pelvic_drop_deg=_value(by, "pelvic_drop", None), trunk_lean_deg=_value(by, "trunk_lean", None),
        hands_on_hips=events.hands_on_hips_at_start if single else None,
        balance_lost=events.balance_lost if single else None,
        verdict=verdict_of(findings), reasons=reasons, not_measured=not_measured, findings=tuple(findings),
        knee_over_foot_left_cm=_value(by, "knee_over_foot", "left"),
        knee_over_foot_right_cm=_value(by, "knee_over_foot", "right"),
        hip_drift_cm=_value(by, "hip_drift", None))


def score_reps(m: FrameMeasures, reps: list[Rep], events: list[RepEvents] | None = None,
               thresholds: Thresholds = Thresholds()) -> list[RepResult]:
    events = events or [RepEvents() for _ in reps]
    return [score_rep(m, r, k + 1, e, thresholds) for k, (r, e) in enumerate(zip(reps, events))]


def detect_test(reps: list[Rep]) -> TestKind:
    """The single-leg squat when most reps are single-leg, else the double-leg squat."""
    single = sum(r.stance in ("left", "right") for r in reps)
    return TestKind.SINGLE_LEG_SQUAT if reps and single > len(reps) / 2 else TestKind.DOUBLE_LEG_SQUAT


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
    return r.knee_angle_deg(side)


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
