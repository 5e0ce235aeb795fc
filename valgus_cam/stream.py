"""Streaming analysis of a live session, one frame at a time: the setup guide, the causal values
shown on every frame, and the rep verdicts. No GUI and no file I/O (``valgus_cam.live`` draws and
records what :meth:`LiveAnalyser.update` returns).

Three layers, from fast to final:

* **Setup guide** (:func:`check_gates`, per frame): a person in the picture, the lower body
  (hips, knees, ankles; heels and toes may leave the picture) visible and inside the image, legs long enough to measure
  (thigh and shank ≥ ``GateConfig.min_segment_px``, the geometry core's body-size gate), facing
  the camera (the frontal view of :func:`geometry.classify_view` and a body yaw within
  ``GateConfig.max_yaw_deg``, medians over the last 0.5 s), then **holding still** for
  ``calibrate_s`` (hips and ankles within 3% of the torso length, the rule of
  :func:`measures.standing_baseline`). Counting starts at calibration; a gate failing for longer
  than ``gate_grace_s`` while counting ends the counted segment and the guide comes back.
* **Display values** (causal): frontal-plane FPPA of each knee and trunk lean relative to
  standing, computed per frame with the standing references taken at calibration (segment
  lengths, body yaw, camera roll: :func:`measures.standing_reference`) by the per-frame step of
  :func:`measures.compute_frame_measures` (:func:`measures.unfiltered_measures`) on that one frame,
  and smoothed by a One Euro filter (no look-ahead).
* **Rep verdicts**: the *offline* analysis (:func:`pipeline.analyse_clip`, exactly what
  ``valgus-cam analyze`` runs) re-run on the counted segment's landmarks every
  ``analysis_period_s`` on a worker thread (:class:`incremental.Engine`). A rep is reported once
  its end lies ``final_lag_s`` before the newest analysed frame: measured on four clips
  (docs/live.md), a rep seen 0.2 s after its end already has the boundaries (±3 frames) and values
  of the whole-clip analysis; 0.4 s doubles that margin. So live verdicts equal ``analyze``'s by
  construction, and a rep's banner comes ``final_lag_s`` + at most one analysis period after the
  rep ends. frames.csv rows are handed out once they are ``rows_lag_s`` old (same measurement:
  final after 0.3 s).

The analysed segment starts at the first frame of the still stand that calibrated it (the
standing baseline of the analysis). Memory is bounded: a segment longer than ``pin_s`` +
``window_s`` keeps its first ``pin_s`` (the baseline) and the last ``window_s``; reps across
that seam are never reported (they were reported long before).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, deque
from dataclasses import dataclass, field, replace

import numpy as np

from . import geometry as g
from .kinds import TestKind
from .landmarks import LM
from . import measures
from .incremental import Engine, Snapshot
from .measures import GateConfig, LandmarkSeries, StandingReference, body_yaw_deg
from .pipeline import ClipAnalysis, analyse_clip
from .pose import Pose
from .signals import OneEuroFilter
from .verdicts import RepResult, Thresholds, detect_test, summarise

GATE_ORDER = ("person", "view", "feet", "size", "still")  # the order the guide asks for them
GATE_TODO = {  # what the person should do when the gate fails
    "person": "Step into the picture",
    "feet": "Step back until your ankles are in the picture",
    "size": "Come closer: your legs are too small to measure",
    "view": "Face the camera",
    "still": "Hold still to calibrate",
}
GATE_PENDING = {  # a step not reached yet, in neutral words
    "person": "In the picture",
    "view": "Facing the camera",
    "feet": "Ankles in the picture",
    "size": "Legs big enough to measure",
    "still": "Hold still to calibrate",
}
GATE_DONE = {
    "person": "In the picture",
    "feet": "Ankles in the picture",
    "size": "Big enough",
    "view": "Facing the camera",
    "still": "Calibrated",
}
# the points the counting needs: hips, knees and ankles. Heels and toes are not required: on a laptop
# webcam the toes leave the picture in every squat; the knee-over-foot measure is refused frame by
# frame where they are not seen (measures.knee_over_foot_cm) and the FPPA speaks alone.
_LOWER_BODY = tuple(LM[f"{s}_{j}"] for s in ("left", "right") for j in ("hip", "knee", "ankle"))


@dataclass(frozen=True, slots=True)
class StreamConfig:
    calibrate_s: float = 0.5  # still standing needed to calibrate (= standing_baseline's minimum)
    still_tolerance: float = 0.03  # hip and ankle motion allowed while still, in torso lengths
    gate_grace_s: float = 0.5  # a gate failing this long while counting ends the counted segment
    max_gap_s: float = 2.0  # no frame for this long (camera stall): the counted segment ends
    view_window_s: float = 0.5  # view and yaw gates use the median over this many seconds
    final_lag_s: float = 0.4  # a rep is reported once its end is this far behind the newest frame
    rows_lag_s: float = 0.3  # frames.csv rows are handed out once this old ...
    rows_max_hold_s: float = 1.0  # ... and the standing baseline has ended, or once this old anyway
    analysis_period_s: float = 0.25  # re-run the offline analysis this often (stream time)
    window_s: float = 30.0  # recent frames the re-analysis keeps ...
    pin_s: float = 3.0  # ... plus the segment's first seconds (the standing baseline)
    seam_guard_s: float = 2.0  # reps starting this close after the seam are not reported
    min_visibility: float = 0.5
    one_euro_min_cutoff_hz: float = 1.5
    one_euro_beta: float = 0.05


# ---------------------------------------------------------------------------------------------
# setup gates (pure)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GateCheck:
    """One frame's gates: ``ok[gate]`` for person/feet/size/view (the stillness gate is tracked by
    :class:`LiveAnalyser`); ``detail`` adds a number to a failing gate's message."""

    ok: dict
    detail: dict
    width_ratio: float = math.nan
    yaw_deg: float = math.nan

    @property
    def failing(self) -> str | None:
        return next((k for k in GATE_ORDER if k in self.ok and not self.ok[k]), None)


def frame_yaw_deg(pose: Pose) -> float:
    """Body yaw of one frame, as :func:`measures.body_yaw_deg` (world hip line and feet)."""
    s = LandmarkSeries(np.zeros(1), pose.xy_px[None], pose.world_xyz_m[None], pose.visibility[None], pose.image_wh)
    mirrored = bool(g.facing_sign(pose.point("left_hip"), pose.point("right_hip")) < 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return body_yaw_deg(s, slice(0, 1), mirrored)


def check_gates(pose: Pose | None, image_wh: tuple[int, int], gates: GateConfig = GateConfig(),
                min_visibility: float = 0.5, width_ratio: float | None = None, yaw_deg: float | None = None,
                counting: bool = False) -> GateCheck:
    """Person, feet (hips, knees and ankles of both legs visible and inside the image; heels and
    toes may be out of the picture), size (thigh and shank of both legs ≥ ``gates.min_segment_px``) and view (frontal, yaw
    within ``gates.max_yaw_deg``) for one frame. ``width_ratio`` / ``yaw_deg`` override this
    frame's values (the caller passes recent medians).

    ``counting=True`` (after calibration) relaxes three gates: size is skipped (while squatting the
    thighs foreshorten; the gate is on the standing lengths, checked at calibration, as in
    ``compute_frame_measures``); feet needs every lower-body point inside the picture but only one
    leg *visible* (a single-leg squat's free foot held behind the stance leg is hidden); view checks
    the side-on test only, not the yaw (fixed at calibration)."""
    ok = {"person": pose is not None}
    detail: dict = {}
    if pose is None:
        return GateCheck(ok, detail)
    w, h = image_wh
    xy, vis = pose.xy_px, pose.visibility
    pts = xy[list(_LOWER_BODY)]
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    seen = vis[list(_LOWER_BODY)] >= min_visibility
    if counting:
        half = len(_LOWER_BODY) // 2  # left leg first, then right
        ok["feet"] = bool(inside.all() and (seen[:half].all() or seen[half:].all()))
    else:
        ok["feet"] = bool(np.all(inside & seen))
    if not counting:
        seg = []
        for s in ("left", "right"):
            seg.append(float(np.linalg.norm(xy[LM[f"{s}_knee"]] - xy[LM[f"{s}_hip"]])))
            seg.append(float(np.linalg.norm(xy[LM[f"{s}_ankle"]] - xy[LM[f"{s}_knee"]])))
        ok["size"] = min(seg) >= gates.min_segment_px
        if not ok["size"]:
            detail["size"] = f"shortest leg segment {min(seg):.0f} px, need {gates.min_segment_px:.0f}"
    if width_ratio is None:
        width_ratio = float(g.width_ratio(pose.point("left_hip"), pose.point("right_hip"),
                                          pose.point("left_shoulder"), pose.point("right_shoulder")))
    if yaw_deg is None:
        yaw_deg = frame_yaw_deg(pose)
    frontal = g.classify_view(width_ratio) == "frontal"
    # the yaw estimate uses the feet: judged only when they are seen (else "feet" speaks first),
    # and only at setup: the measures use the yaw of the standing baseline, and a free foot swung
    # behind throws the per-frame estimate off
    yaw_ok = counting or not ok["feet"] or not math.isfinite(yaw_deg) or abs(yaw_deg) <= gates.max_yaw_deg
    ok["view"] = bool(frontal and yaw_ok)
    if frontal and not yaw_ok:
        detail["view"] = f"turned {abs(yaw_deg):.0f}° away, at most {gates.max_yaw_deg:.0f}°"
    elif not frontal:
        detail["view"] = "seen from the side"
    return GateCheck(ok, detail, width_ratio, yaw_deg)


# ---------------------------------------------------------------------------------------------
# standing references and the causal per-frame values
# ---------------------------------------------------------------------------------------------
def _calibration_gates(gates: GateConfig) -> GateConfig:
    """The gates :func:`standing_reference` gives :func:`measures.standing_reference`: the live
    calibration has always differed from the offline baseline in two ways, kept as they are (the
    redesign of issue 18 changes no value): the stand's camera roll is used however short the stand
    and however large the tilt (offline: refused below ``min_roll_baseline_s`` and beyond
    ``max_roll_deg``), and the standing thigh is measured on the hip line widened by
    ``hip_width_scale`` alone (offline: plus the flexion widening of each standing frame)."""
    return replace(gates, min_roll_baseline_s=0.0, max_roll_deg=math.inf, hip_flexion_widening=0.0)


def standing_reference(s: LandmarkSeries, gates: GateConfig = GateConfig()) -> StandingReference:
    """References from the frames of a still stand (all frames of ``s`` are the baseline):
    :func:`measures.standing_reference`, with the calibration's gates (:func:`_calibration_gates`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return measures.standing_reference(s, _calibration_gates(gates), base=slice(0, len(s)))


def frame_values(pose: Pose, ref: StandingReference, gates: GateConfig = GateConfig()) -> dict[str, float]:
    """Unfiltered values of one frame with the standing references, from
    :func:`measures.unfiltered_measures` (the per-frame step of ``compute_frame_measures``) run on
    it: ``fppa_frontal_left_deg``, ``fppa_frontal_right_deg`` (NaN when gated as in
    ``compute_frame_measures``: not visible, legs too small, thigh foreshortened below
    ``min_thigh_fraction``, yaw beyond ``max_yaw_deg``; not the offline filter's plausibility gate),
    ``trunk_lean_deg`` relative to standing, and ``free_foot_left`` / ``free_foot_right`` (how far
    that ankle is above the other, in standing shank lengths)."""
    u = measures.unfiltered_measures(LandmarkSeries.from_poses([0.0], [pose], ref.image_wh), ref, gates)
    yaw_ok = ref.yaw_ok(gates.max_yaw_deg)
    out: dict[str, float] = {}
    for side in ("left", "right"):
        out[f"fppa_frontal_{side}_deg"] = float(u.fppa_frontal_deg[side][0]) if u.ok[side][0] and yaw_ok else math.nan
        out[f"free_foot_{side}"] = float(u.free_foot_height[side][0])
    out["trunk_lean_deg"] = float(u.trunk_lean_deg[0]) - ref.trunk_lean_deg
    return out


class CausalSmoother:
    """One Euro filter per named value; a missing value (NaN) resets that value's filter, so a
    knee that reappears starts fresh instead of gliding in from a stale value."""

    def __init__(self, min_cutoff_hz: float = 1.5, beta: float = 0.05):
        self._make = lambda: OneEuroFilter(min_cutoff_hz, beta)  # noqa: E731
        self._f: dict[str, OneEuroFilter] = {}

    def __call__(self, values: dict[str, float], time_s: float) -> dict[str, float]:
        out = {}
        for k, v in values.items():
            f = self._f.setdefault(k, self._make())
            if not math.isfinite(v):
                f.reset()
                out[k] = math.nan
            else:
                out[k] = f(v, time_s)
        return out

    def reset(self) -> None:
        self._f.clear()


# ---------------------------------------------------------------------------------------------
# the streaming analyser
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FrameRow:
    """One frames.csv row (``values``: column → value, NaN = not measurable)."""

    frame: int
    time_s: float
    detected: bool
    values: dict


@dataclass(slots=True)
class LiveState:
    """What the screen shows for one frame, and what became final with it."""

    phase: str  # "setup" (guide on screen) | "counting"
    failing: str | None  # the first failing gate (setup), or the gate failing within the grace (counting)
    detail: str | None  # a number for the failing gate ("turned 24° away ...")
    gates_ok: dict  # gate -> passed, for the checklist
    calibration: float  # 0..1, progress of the still stand
    values: dict  # smoothed display values (see frame_values); empty when not calibrated
    stance: str | None  # the leg(s) now carrying the body: "left" | "right" | "both" | None
    reps: list  # every rep reported so far (RepResult, session frame indices)
    new_reps: list = field(default_factory=list)  # reps reported with this frame
    new_rows: list = field(default_factory=list)  # frames.csv rows that became final with this frame
    events: list = field(default_factory=list)  # plain-language session events ("calibrated", ...)


@dataclass(slots=True)
class _Segment:
    """A counted stretch: its landmarks (bounded), references, and bookkeeping."""

    number: int
    ref: StandingReference
    idx: list = field(default_factory=list)
    t: list = field(default_factory=list)
    xy: list = field(default_factory=list)
    world: list = field(default_factory=list)
    vis: list = field(default_factory=list)
    pinned: int = 0  # number of leading frames kept forever (the standing baseline)
    seam_time_s: float | None = None  # time of the first frame after the dropped stretch
    last_post_t: float = -math.inf
    last_ok_t: float = -math.inf
    fail_since: float | None = None
    analysis: ClipAnalysis | None = None

    def append(self, index: int, time_s: float, pose: Pose | None) -> None:
        self.idx.append(index)
        self.t.append(time_s)
        if pose is None:
            self.xy.append(np.full((33, 2), np.nan))
            self.world.append(np.full((33, 3), np.nan))
            self.vis.append(np.zeros(33))
        else:
            self.xy.append(pose.xy_px)
            self.world.append(pose.world_xyz_m)
            self.vis.append(pose.visibility)

    def trim(self, cfg: StreamConfig) -> None:
        """Drop the middle once the segment outgrows ``pin_s + window_s`` (by 5 s, to trim in chunks)."""
        if not self.pinned:
            t0 = self.t[0]
            self.pinned = next((k for k, tk in enumerate(self.t) if tk - t0 > cfg.pin_s), 0)
            if not self.pinned:
                return
        if self.t[-1] - self.t[self.pinned] <= cfg.window_s + 5.0:
            return
        keep_from = next(k for k in range(self.pinned, len(self.t)) if self.t[-1] - self.t[k] <= cfg.window_s)
        for lst in (self.idx, self.t, self.xy, self.world, self.vis):
            del lst[self.pinned:keep_from]
        self.seam_time_s = self.t[self.pinned]

    def snapshot(self) -> tuple:
        return (np.asarray(self.idx, int), np.asarray(self.t, float), np.stack(self.xy), np.stack(self.world),
                np.stack(self.vis), self.seam_time_s)


@dataclass(slots=True)
class _Job:
    """What one re-analysis of a segment needs (its snapshot: ``Snapshot(job, newest frame time,
    final)``, final when the segment has ended)."""

    segment: int
    idx: np.ndarray
    t: np.ndarray
    xy: np.ndarray
    world: np.ndarray
    vis: np.ndarray
    seam_time_s: float | None
    image_wh: tuple[int, int]
    thresholds: Thresholds
    test: str
    stance: str
    gates: GateConfig


def _analyse(snap: Snapshot[_Job]) -> ClipAnalysis:
    job = snap.job
    s = LandmarkSeries(job.t, job.xy, job.world, job.vis, job.image_wh)
    return analyse_clip(s, job.thresholds, test=job.test, stance=job.stance, gates=job.gates)


class LiveAnalyser:
    """Feed it every processed frame (``update``); it returns what to show and what became final.

    ``test`` / ``stance`` as for ``analyze`` (``set_test`` changes them for the reps not yet
    reported). ``threaded=False`` runs the re-analysis inline (deterministic, for tests of this
    class); the live loop uses the worker thread."""

    def __init__(self, image_wh: tuple[int, int], *, thresholds: Thresholds | None = None, test: str = "auto",
                 stance: str = "auto", config: StreamConfig = StreamConfig(), gates: GateConfig = GateConfig(),
                 threaded: bool = True):
        self.image_wh = tuple(image_wh)
        self.thresholds = thresholds or Thresholds()
        self.test, self.stance = test, stance
        self.cfg, self.gates = config, gates
        self.reps: list[RepResult] = []
        self.analysis: ClipAnalysis | None = None  # the latest analysis of any segment
        self.rep_lags_s: list[float] = []  # newest analysed frame time − rep end, per reported rep
        self._segment: _Segment | None = None
        self._segments = 0
        self._recent: deque = deque()  # (index, time, pose, gate check) before calibration
        self._still_start: int | None = None  # position in _recent where the current still run starts
        self._view_hist: deque = deque()  # (time, width ratio, yaw)
        self._rows: deque = deque()  # (index, time, detected, segment number or None)
        self._last_emitted_end: float = -math.inf  # time of the last reported rep's end
        self._last_t: float | None = None
        self._smooth = CausalSmoother(config.one_euro_min_cutoff_hz, config.one_euro_beta)
        # one re-analysis at a time: a post is refused while one runs (retried the next frame)
        self._engine: Engine[_Job, ClipAnalysis] = Engine(_analyse, threaded=threaded)
        self._events: list[str] = []
        self._carry: list = []  # reps reported between updates (recalibrate)
        self.segment_starts: list[float] = []  # time of the first frame of each counted segment
        self.setup_failures: Counter = Counter()  # gate -> frames it was the first failing one in setup
        self.setup_frames = 0
        self._ready_rows: dict[int, dict] = {}  # frame index -> final values

    # ------------------------------------------------------------------ controls
    def set_test(self, test: str | None = None, stance: str | None = None) -> None:
        if test is not None:
            self.test = test
        if stance is not None:
            self.stance = stance

    def recalibrate(self) -> None:
        """End the counted segment (its last reps come with the next update) and start the setup
        guide again."""
        self._end_segment(self._carry)
        self._recent.clear()
        self._still_start = None
        self._events.append("calibrate again: hold still")

    @property
    def phase(self) -> str:
        return "counting" if self._segment is not None else "setup"

    @property
    def buffered_frames(self) -> int:
        """Frames of landmarks held for the re-analysis (bounded by ``pin_s + window_s + 5 s``)."""
        return len(self._segment.t) if self._segment is not None else len(self._recent)

    @property
    def reference(self) -> StandingReference | None:
        return self._segment.ref if self._segment is not None else None

    # ------------------------------------------------------------------ per frame
    def update(self, index: int, time_s: float, pose: Pose | None) -> LiveState:
        cfg = self.cfg
        new_reps, self._carry = self._carry, []
        events, self._events = self._events, []
        if self._last_t is not None and time_s - self._last_t > cfg.max_gap_s and self._segment is not None:
            self._end_segment(new_reps)  # a gap in the stream (pause, camera hiccup): recalibrate
            events.append("gap in the video: calibrate again")
            self._recent.clear()
            self._still_start = None
        self._last_t = time_s
        check = self._gates(time_s, pose)
        seg = self._segment
        calibration = 0.0
        if seg is None:
            self._rows.append((index, time_s, pose is not None, None))
            self.setup_frames += 1
            calibration = self._setup_step(index, time_s, pose, check)
            self.setup_failures[check.failing or ("still" if self._segment is None else None)] += 1
            if self._segment is not None:
                events.append("calibrated: squat when ready")
                seg = self._segment
        else:
            seg.append(index, time_s, pose)
            self._rows.append((index, time_s, pose is not None, seg.number))
            if check.failing is None:
                seg.last_ok_t, seg.fail_since = time_s, None
            elif seg.fail_since is None:
                seg.fail_since = time_s
            if seg.fail_since is not None and time_s - seg.fail_since >= cfg.gate_grace_s:
                self._end_segment(new_reps)
                events.append(f"stopped counting: {GATE_TODO[check.failing].lower()}")
                seg = None
            else:
                seg.trim(cfg)
                calibration = 1.0
        self._collect(new_reps)
        if seg is not None and time_s - seg.last_post_t >= cfg.analysis_period_s:
            if self._post(seg):
                seg.last_post_t = time_s
        values: dict = {}
        stance = None
        if seg is not None and pose is not None:
            values = self._smooth(frame_values(pose, seg.ref, self.gates), time_s)
            stance = self._stance(values)
        elif seg is None:
            self._smooth.reset()
        failing = check.failing
        if seg is None and failing is None:
            failing = "still"
        gates_ok = dict(check.ok)
        gates_ok.setdefault("size", seg is not None)
        gates_ok["still"] = seg is not None
        detail = check.detail.get(failing) if failing else None
        return LiveState(self.phase, failing, detail, gates_ok, calibration, values, stance, self.reps,
                         new_reps, self._rows_out(), events)

    def finish(self) -> LiveState:
        """End of the session: the counted segment is analysed to its last frame, every remaining
        rep and row is handed out."""
        new_reps, self._carry = self._carry, []
        self._end_segment(new_reps)
        rows = self._rows_out(flush=True)
        return LiveState(self.phase, None, None, {}, 0.0, {}, None, self.reps, new_reps, rows, [])

    def close(self) -> None:
        self._engine.stop(timeout=5.0)

    def session_analysis(self) -> ClipAnalysis:
        """The session as one ClipAnalysis (for reps.json and the terminal table): every reported
        rep, their summary, and the clip-level facts of the latest analysis (or, if nothing was
        ever counted, of the last frames seen, with a warning naming the setup step that failed)."""
        a = self.analysis
        warnings_: list[str] = []
        if a is None:
            frames = [(r[1], r[2]) for r in self._recent] or [(0.0, None)]
            s = LandmarkSeries.from_poses([f[0] for f in frames], [f[1] for f in frames], self.image_wh)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                a = analyse_clip(s, self.thresholds, test=self.test, stance=self.stance, gates=self.gates)
            blocking = [(n, k) for k, n in self.setup_failures.most_common() if k is not None]
            if blocking:
                n, gate = blocking[0]
                share = n / max(1, self.setup_frames)
                warnings_.append(f"never calibrated, so nothing was counted: \"{GATE_TODO[gate]}\" "
                                 f"({share:.0%} of the frames)")
            else:
                warnings_.append("never calibrated, so nothing was counted")
        else:
            warnings_ = [w for w in a.warnings if not w.startswith("no squat rep was seen")]
            warnings_ = [w for w in warnings_ if w not in a.summary.notes]
            if not self.reps:
                warnings_.append("no squat rep was seen (a rep needs a still start, a descent of at least ~6% of "
                                 "leg length and a return)")
        summary = summarise(self.reps, self.thresholds)
        asked = TestKind.requested(self.test)  # None: "auto"
        kind = detect_test(self.reps) if asked is None else asked
        return replace(a, reps=[], results=list(self.reps), summary=summary, test=kind,
                       warnings=warnings_ + summary.notes)

    # ------------------------------------------------------------------ internals
    def _gates(self, time_s: float, pose: Pose | None) -> GateCheck:
        if pose is None:
            self._view_hist.clear()
            return check_gates(None, self.image_wh, self.gates, self.cfg.min_visibility)
        ratio = float(g.width_ratio(pose.point("left_hip"), pose.point("right_hip"), pose.point("left_shoulder"),
                                    pose.point("right_shoulder")))
        self._view_hist.append((time_s, ratio, frame_yaw_deg(pose)))
        while self._view_hist and time_s - self._view_hist[0][0] > self.cfg.view_window_s:
            self._view_hist.popleft()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = float(np.nanmedian([v[1] for v in self._view_hist]))
            y = float(np.nanmedian([v[2] for v in self._view_hist]))
        return check_gates(pose, self.image_wh, self.gates, self.cfg.min_visibility, width_ratio=r, yaw_deg=y,
                           counting=self._segment is not None)

    def _setup_step(self, index: int, time_s: float, pose: Pose | None, check: GateCheck) -> float:
        """Track the still stand; start a segment when it is long enough. Returns the progress."""
        cfg = self.cfg
        self._recent.append((index, time_s, pose, check))
        while len(self._recent) > 1 and time_s - self._recent[0][1] > cfg.calibrate_s + 2.0:
            self._recent.popleft()
            if self._still_start is not None:
                self._still_start -= 1
        if check.failing is not None:
            self._still_start = None
            return 0.0
        if self._still_start is None or self._still_start < 0:
            self._still_start = len(self._recent) - 1
            return 0.0
        first = self._recent[self._still_start][2]
        if self._moved(first, pose):
            self._still_start = len(self._recent) - 1
            return 0.0
        run = [r for r in list(self._recent)[self._still_start:]]
        ts = np.array([r[1] for r in run])
        period = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.0
        covered = ts[-1] - ts[0] + period  # the time the run's frames cover
        if covered + 1e-6 < cfg.calibrate_s:
            return float(np.clip(covered / cfg.calibrate_s, 0.0, 1.0))
        self._start_segment(run)
        return 1.0

    def _moved(self, a: Pose, b: Pose) -> bool:
        tol = self.cfg.still_tolerance * float(g.torso_length_px(a.point("left_hip"), a.point("right_hip"),
                                                                 a.point("left_shoulder"), a.point("right_shoulder")))
        mid = lambda p: (p.point("left_hip") + p.point("right_hip")) / 2  # noqa: E731
        if np.linalg.norm(mid(a) - mid(b)) > tol:
            return True
        return any(abs(a.point(f"{s}_ankle")[1] - b.point(f"{s}_ankle")[1]) > tol for s in ("left", "right"))

    def _start_segment(self, run: list) -> None:
        poses = [r[2] for r in run]
        s = LandmarkSeries.from_poses([r[1] for r in run], poses, self.image_wh)
        self._segments += 1
        seg = _Segment(self._segments, standing_reference(s, self.gates))
        for index, t, pose, _ in run:
            seg.append(index, t, pose)
        seg.last_ok_t = run[-1][1]
        self.segment_starts.append(float(run[0][1]))
        # the rows of the run move into the segment
        first = run[0][0]
        self._rows = deque((i, t, d, seg.number if i >= first else sn) for i, t, d, sn in self._rows)
        self._segment = seg
        self._recent.clear()
        self._still_start = None

    def _snapshot(self, seg: _Segment, final: bool) -> Snapshot[_Job]:
        idx, t, xy, world, vis, seam = seg.snapshot()
        job = _Job(seg.number, idx, t, xy, world, vis, seam, self.image_wh, self.thresholds, self.test,
                   self.stance, self.gates)
        return Snapshot(job, float(t[-1]), final)

    def _post(self, seg: _Segment) -> bool:
        return self._engine.post(self._snapshot(seg, final=False), if_idle=True)

    def _collect(self, out: list, wait: bool = False) -> None:
        res = self._engine.take(wait=wait)
        if res is not None:
            self._accept(*res, out)

    def _accept(self, snap: Snapshot[_Job], a: ClipAnalysis, out: list) -> None:
        """Report the reps of an analysis that are final (ended ``final_lag_s`` before its newest
        frame); keep it for the rows."""
        job = snap.job
        self.analysis = a
        seg = self._segment
        if seg is not None and seg.number == job.segment:
            seg.analysis = a
        newest = snap.newest_s
        for r in sorted(a.results, key=lambda r: r.end_frame):
            end_t, bottom_t = float(job.t[r.end_frame]), float(job.t[r.bottom_frame])
            if bottom_t <= self._last_emitted_end:
                continue
            if not snap.old_enough(end_t, self.cfg.final_lag_s):
                break
            if job.seam_time_s is not None and float(job.t[r.start_frame]) < job.seam_time_s + self.cfg.seam_guard_s:
                continue  # starts in the pinned baseline or just after the seam: not a real rep
            rep = replace(r, index=len(self.reps) + 1, start_frame=int(job.idx[r.start_frame]),
                          bottom_frame=int(job.idx[r.bottom_frame]), end_frame=int(job.idx[r.end_frame]))
            self.reps.append(rep)
            self.rep_lags_s.append(newest - end_t)
            self._last_emitted_end = end_t
            out.append(rep)
        self._final_rows(snap, a)

    def _final_rows(self, snap: Snapshot[_Job], a: ClipAnalysis) -> None:
        """Values for the rows of this segment that are now final (``rows_lag_s`` old)."""
        job = snap.job
        limit = snap.until(self.cfg.rows_lag_s)
        m = a.measures
        base = m.baseline
        # values that depend on the standing baseline (yaw, segment lengths, roll) settle when the
        # stand ends; until then only rows older than rows_max_hold_s go out (bounded crash loss)
        if not snap.final and (base.stop <= base.start
                               or not snap.old_enough(float(job.t[base.stop - 1]), self.cfg.rows_lag_s)):
            limit = min(limit, snap.until(self.cfg.rows_max_hold_s))
        cols = m.CSV_COLUMNS
        for i, t, det, sn in self._rows:
            if sn != job.segment or i in self._ready_rows:
                continue
            if t > limit:
                break
            k = int(np.searchsorted(job.idx, i))
            if k < len(job.idx) and job.idx[k] == i:
                self._ready_rows[i] = {c: float(getattr(m, c)[k]) for c in cols}

    def _rows_out(self, flush: bool = False) -> list[FrameRow]:
        """Rows in frame order, each once it is final: setup frames once they cannot belong to the
        still stand being timed, counted frames once the analysis has their final values, frames of
        an ended segment at once."""
        current = self._segment.number if self._segment is not None else None
        hold_from = None
        if current is None and self._still_start is not None and 0 <= self._still_start < len(self._recent):
            hold_from = self._recent[self._still_start][0]
        out = []
        while self._rows:
            i, t, det, sn = self._rows[0]
            if flush or (sn is None and (hold_from is None or i < hold_from)) or (sn is not None and sn != current) \
                    or i in self._ready_rows:
                out.append(FrameRow(i, t, det, self._ready_rows.pop(i, {})))
                self._rows.popleft()
            else:
                break
        return out

    def _end_segment(self, out: list) -> None:
        seg = self._segment
        if seg is None:
            return
        self._collect(out, wait=True)
        if len(seg.t) >= 2:
            # analyse up to the last frame where the gates passed
            keep = sum(1 for t in seg.t if t <= seg.last_ok_t)
            for lst in (seg.idx, seg.t, seg.xy, seg.world, seg.vis):
                del lst[keep:]
            if len(seg.t) >= 2:
                snap = self._snapshot(seg, final=True)  # analysed here, to its last frame: all final
                self._accept(snap, _analyse(snap), out)
        self._segment = None
        self._smooth.reset()

    def _stance(self, values: dict) -> str | None:
        if TestKind.requested(self.test) is TestKind.DOUBLE_LEG_SQUAT:
            return "both"
        if self.stance in ("left", "right"):
            return self.stance
        fl, fr = values.get("free_foot_left", math.nan), values.get("free_foot_right", math.nan)
        if math.isfinite(fl) and fl > 0.2:
            return "right"
        if math.isfinite(fr) and fr > 0.2:
            return "left"
        return None
