"""The pipeline, source → pose → (geometry → reps → verdicts) → sinks, as small generators."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .analysis import ClipAnalysis  # what analyse_clip returns (imported from here by callers)
from .capture import Frame, FrameSource
from .kinds import TestKind
from .pose import Pose, PoseEstimator

if TYPE_CHECKING:
    from .measures import GateConfig, LandmarkSeries
    from .pelvis import PelvicDrop
    from .verdicts import Thresholds


def iter_poses(source: Iterable[Frame], estimator: PoseEstimator) -> Iterator[tuple[Frame, Pose | None]]:
    """Each frame of ``source`` (a FrameSource, or any iterable of frames) with the pose found in it
    (None when nobody is found): the pose stage of :func:`run_frames`. ``estimator``'s per-frame
    state (``subject_lost``) is that of the frame just yielded until the next one is asked for."""
    for frame in source:
        yield frame, estimator.detect(frame.image_bgr, frame.time_s)


@dataclass(slots=True)
class RunStats:
    """Counts of a :func:`run_frames` loop: frames, frames with a pose, first/last frame time (s),
    the loop's wall time (s), and whether Ctrl-C ended it."""

    frames: int = 0
    detected: int = 0
    first_time_s: float | None = None
    last_time_s: float | None = None
    wall_s: float = 0.0
    interrupted: bool = False

    def add(self, frame: Frame, pose: Pose | None) -> None:
        self.frames += 1
        self.detected += pose is not None
        if self.first_time_s is None:
            self.first_time_s = frame.time_s
        self.last_time_s = frame.time_s

    @property
    def detection_rate(self) -> float:
        return self.detected / self.frames if self.frames else 0.0

    @property
    def processed_fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


class Stopwatch:
    """``with Stopwatch() as sw: ...``; then ``sw.elapsed_s`` (perf_counter seconds)."""

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed_s = time.perf_counter() - self.t0


# ----------------------------------------------------------------------------------------------
# the frame loop: (frame, pose) pairs → observers
# ----------------------------------------------------------------------------------------------
class FrameObserver(Protocol):
    """Sees every analysed frame of a run, in order: ``on_frame(frame, pose)``, pose None when
    nobody (or only somebody other than the subject) was found. Opening and closing an observer
    is its owner's business (a with-block around the loop), not the loop's."""

    def on_frame(self, frame: Frame, pose: Pose | None) -> None: ...


def run_frames(poses: Iterable[tuple[Frame, Pose | None]], observers: Sequence[FrameObserver] = (), *,
               keep_on_interrupt: bool = False) -> RunStats:
    """The one frame loop (``landmarks``, ``analyze``/``batch``, ``live``): each (frame, pose) of
    ``poses`` (:func:`iter_poses`, or live's schedulers) is counted, then handed to each observer
    in the order given. Ctrl-C propagates, unless ``keep_on_interrupt``: then the loop ends, the
    frames so far count and ``stats.interrupted`` is set."""
    stats = RunStats()
    with Stopwatch() as sw:
        try:
            for frame, pose in poses:
                stats.add(frame, pose)
                for observer in observers:
                    observer.on_frame(frame, pose)
        except KeyboardInterrupt:
            if not keep_on_interrupt:
                raise
            stats.interrupted = True
    stats.wall_s = sw.elapsed_s
    return stats


class LandmarkRows:
    """Observer: each frame's landmarks written as rows by ``writer`` (a ``sinks.LandmarkCsvWriter``)."""

    def __init__(self, writer):
        self.writer = writer

    def on_frame(self, frame: Frame, pose: Pose | None) -> None:
        self.writer.write(frame.index, frame.time_s, pose)


class ProgressBar:
    """Observer: a tqdm bar on stderr counting frames; off unless ``enabled`` (and, as tqdm does,
    when stderr is not a terminal). A context manager: leaving it removes the bar."""

    def __init__(self, total: int | None, desc: str, enabled: bool = True):
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="frame", desc=desc, disable=True if not enabled else None, leave=False,
                         file=sys.stderr)

    def on_frame(self, frame: Frame, pose: Pose | None) -> None:
        self._bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)


class FrameCallback:
    """Observer: a plain function ``fn(frame, pose)`` called for each frame."""

    def __init__(self, fn: Callable[[Frame, Pose | None], None]):
        self.on_frame = fn


class PoseCollector:
    """Observer: what the offline analysis keeps of each frame: time (s), pose, frame index,
    ``estimator.subject_lost`` (people found, none the subject) and the brightness (95th
    percentile of every 16th pixel's values, 0-255). :meth:`series` and :meth:`fill` turn them into
    the clip's LandmarkSeries and :class:`ClipFacts`."""

    def __init__(self, estimator: PoseEstimator):
        self._estimator = estimator
        self.times: list[float] = []
        self.poses: list[Pose | None] = []
        self.index: list[int] = []
        self.lost: list[bool] = []
        self.brightness: list[float] = []

    def on_frame(self, frame: Frame, pose: Pose | None) -> None:
        self.times.append(frame.time_s)
        self.poses.append(pose)
        self.index.append(frame.index)
        self.lost.append(bool(self._estimator.subject_lost))
        self.brightness.append(float(np.percentile(frame.image_bgr[::16, ::16], 95)))

    def series(self, image_wh: tuple[int, int] | None) -> "LandmarkSeries":
        from .measures import LandmarkSeries

        return LandmarkSeries.from_poses(self.times, self.poses, image_wh)

    def fill(self, facts: "ClipFacts", source: FrameSource) -> None:
        """``facts`` set from the frames seen, the estimator (people in view) and ``source`` (damage)."""
        facts.subject_lost = np.asarray(self.lost, bool)
        facts.people_seen = int(self._estimator.people_seen)
        facts.damage = source.damage_report()
        facts.brightness = float(np.median(self.brightness)) if self.brightness else None


def run_landmarks(source: FrameSource, estimator: PoseEstimator, writer,
                  observers: Sequence[FrameObserver] = ()) -> RunStats:
    """source → pose → landmark writer (then ``observers``): the ``landmarks`` command's loop.

    A live source (camera) ends with Ctrl-C: the frames so far are kept and ``stats.interrupted``
    is set; for files Ctrl-C propagates (the caller discards the partial output)."""
    return run_frames(iter_poses(source, estimator), [LandmarkRows(writer), *observers],
                      keep_on_interrupt=source.is_live)


# ----------------------------------------------------------------------------------------------
# analysis of a whole clip: landmarks → geometry → reps → verdicts
# ----------------------------------------------------------------------------------------------
MIN_REP_LEG_PX = 30.0  # reps are not counted on a smaller person: 1 px of landmark jitter is 3% of
# the leg, half the 6% descent a rep needs
MIN_ABSENCE_S = 0.5  # a stretch without the subject at least this long is reported
DARK_BRIGHTNESS = 40.0  # a video whose brighter parts (95th percentile of the pixel values) stay
# under this (of 255) is called very dark: a black border or background alone does not make it so


@dataclass(slots=True)
class ClipFacts:
    """What the pose pass saw besides the landmarks (filled by ``api.run_pose``): the frames where
    people were found but not the subject, the most people in one frame, the decoder's damage
    report and the brightness (95th percentile of the pixel values, 0-255, median over frames)."""

    subject_lost: np.ndarray | None = None  # (n,) bool
    people_seen: int = 0
    damage: str | None = None
    brightness: float | None = None


def absence_spans(time_s: np.ndarray, absent: np.ndarray, min_s: float = MIN_ABSENCE_S) -> list[tuple[int, int]]:
    """(first, last) frame indices of each run of ``absent`` frames lasting at least ``min_s``
    (from the last frame before to the first frame after) and lying between present frames."""
    absent = np.asarray(absent, bool)
    present = np.flatnonzero(~absent)
    spans = []
    if len(present) < 2:
        return spans
    for a, b in zip(present[:-1], present[1:]):
        if b - a > 1 and time_s[b] - time_s[a] >= min_s:
            spans.append((int(a + 1), int(b - 1)))
    return spans


def _span_text(t: np.ndarray, first: int, last: int) -> str:
    a, b = t[first], t[min(last + 1, len(t) - 1)]
    return f"from {a:.1f} s to {b:.1f} s ({b - a:.1f} s)"


def presence_warnings(time_s: np.ndarray, detected: np.ndarray, facts: ClipFacts | None) -> list[str]:
    """Where the subject was out of view (or hidden while somebody else was in view), in words."""
    t = np.asarray(time_s, float)
    lost = facts.subject_lost if facts is not None and facts.subject_lost is not None else np.zeros(len(t), bool)
    out = []
    if facts is not None and facts.people_seen >= 2:
        out.append("more than one person was in view: the subject (the first person found) was followed by "
                   "position and size")
    for first, last in absence_spans(t, ~np.asarray(detected, bool)):
        if lost[first:last + 1].any():
            out.append(f"the subject was out of view {_span_text(t, first, last)} while somebody else was: "
                       "not measured there")
        else:
            out.append(f"nobody in view {_span_text(t, first, last)}: not measured there")
    return out


def still_foot(xy_px: np.ndarray, rep) -> str:
    """The stance leg of a rep the user says is single-leg but whose free foot the classifier
    (``reps.classify_stance``) did not see move enough (a foot held still in front for the whole
    set): the foot that moves less within the rep (``reps.foot_motion``); "left" if neither is seen."""
    from .reps import foot_motion

    ml, mr = foot_motion(xy_px, rep.start_frame, rep.end_frame)
    return "right" if np.isfinite(ml) and np.isfinite(mr) and mr < ml else "left"


def single_leg_frames(a: ClipAnalysis, margin: int = 5) -> np.ndarray:
    """Frames whose pixels the pelvic drop needs: the standing baseline and the single-leg reps
    (± ``margin`` frames for the running median). Empty when there is no single-leg rep."""
    n = len(a.measures.time_s)
    want = np.zeros(n, bool)
    for r in a.results:
        if r.stance in ("left", "right"):
            want[max(0, r.start_frame - margin):r.end_frame + margin + 1] = True
    if want.any():
        want[a.measures.baseline] = True
    return want


def waistband_tilt(series: "LandmarkSeries", strips: list, baseline: slice) -> "PelvicDrop":
    """The waistband line's tilt per frame from standing, + = subject's left side higher
    (``pelvis.pelvic_drop`` with the left leg as the stance: a right-stance rep's drop is its
    negative). ``strips``: one ``pelvis.WaistStrip`` or None per frame (``pelvis.crop_waist``)."""
    from .pelvis import pelvic_drop

    return pelvic_drop(series.xy_px, series.visibility, strips, baseline, "left")


def analyse_clip(series: "LandmarkSeries", thresholds: "Thresholds | None" = None, test: str = "auto",
                 stance: str = "auto", gates: "GateConfig | None" = None, height_cm: float | None = None,
                 facts: ClipFacts | None = None, pelvis: "PelvicDrop | None" = None) -> ClipAnalysis:
    """Landmarks of a clip → per-frame measures → its records (reps, the hold, landings) with their
    verdicts and a summary: the one place that picks the analysis by the test.

    ``test``: "auto" | "squat" (double-leg) | "single-leg" (:func:`analyse_squats`) | "standing"
    (standing alignment: one hold, ``screening.analyse_standing``) | "landing" (jump landings,
    ``screening.analyse_landing``); another word is an InputError (``kinds.TestKind.requested``).
    ``stance``: "auto" | "left" | "right" (the stance leg of single-leg reps, when the automatic
    one is wrong); ``height_cm``: body height for the standing check's and the knee-over-foot centimetres. ``facts``: what
    the pose pass saw (damage, brightness, another person), turned into warnings. ``pelvis``: the
    waistband's per-frame tilt (:func:`waistband_tilt`, from the video's pixels) for the pelvic-drop
    finding of single-leg reps; without it pelvic drop is not measured. ``facts`` and ``pelvis``
    are for the squats only."""
    from .screening import analyse_landing, analyse_standing
    from .verdicts import Thresholds

    kind = TestKind.requested(test)  # None: "auto", a squat told from the reps
    thresholds = thresholds or Thresholds()
    check = {TestKind.STANDING: analyse_standing, TestKind.LANDING: analyse_landing}.get(kind)
    if check is not None:
        return check(series, thresholds, gates=gates, height_cm=height_cm)
    return analyse_squats(series, thresholds, kind, stance, gates=gates, height_cm=height_cm, facts=facts,
                          pelvis=pelvis)


def analyse_squats(series: "LandmarkSeries", thresholds: "Thresholds", kind: TestKind | None = None,
                   stance: str = "auto", *, gates: "GateConfig | None" = None, height_cm: float | None = None,
                   facts: ClipFacts | None = None, pelvis: "PelvicDrop | None" = None) -> ClipAnalysis:
    """The squat reps of a clip (:func:`analyse_clip`): ``kind`` the squat asked for (every rep
    double-leg, or single-leg) or None to tell it from the reps (``verdicts.detect_test``)."""
    import warnings as _warnings
    from dataclasses import replace

    from .events import rep_events
    from .measures import SHANK_PER_HEIGHT, GateConfig, compute_frame_measures
    from .reps import analyse_reps
    from .verdicts import detect_test, score_reps, summarise

    with _warnings.catch_warnings():  # all-NaN stretches (nobody in view) are expected, not news
        _warnings.simplefilter("ignore", RuntimeWarning)
        gates = gates or GateConfig()
        if height_cm is not None:  # the knee-over-foot centimetres from the body's own height
            gates = replace(gates, shank_cm=SHANK_PER_HEIGHT * height_cm)
        m = compute_frame_measures(series, gates)
        if pelvis is not None:
            m.pelvic_tilt_deg, m.pelvic_tilt_refused = pelvis.drop_deg, pelvis.refused
        tiny = bool(m.detected.any()) and not m.leg_px >= MIN_REP_LEG_PX
        reps = [] if tiny else analyse_reps(series.time_s, series.xy_px)
    if kind is TestKind.DOUBLE_LEG_SQUAT:
        reps = [replace(r, stance="both") for r in reps]
    elif kind is TestKind.SINGLE_LEG_SQUAT or stance != "auto":
        reps = [replace(r, stance=stance if stance != "auto" else (r.stance if r.stance != "both"
                                                                   else still_foot(series.xy_px, r)))
                for r in reps]
    if kind is None:
        kind = detect_test(reps)
    events = [rep_events(series, m.hands_on_hips_state, r) for r in reps]
    results = score_reps(m, reps, events, thresholds)
    summary = summarise(results, thresholds)
    warnings = [facts.damage] if facts is not None and facts.damage else []
    t = series.time_s
    dark = facts is not None and facts.brightness is not None and facts.brightness < DARK_BRIGHTNESS
    dark_txt = (f" (the video is very dark: even its brighter parts reach only {facts.brightness:.0f} of 255)"
                if dark else "")
    if not m.detected.any():
        warnings.append("nobody was found in the video" + dark_txt)
    else:
        warnings += m.warnings
        if m.detected.mean() < 0.5 and dark:
            warnings.append(f"the person was found in only {m.detected.mean():.0%} of the frames{dark_txt}")
        warnings += presence_warnings(t, m.detected, facts)
        if tiny:
            warnings.append(f"person too small in the frame to count reps (legs about {m.leg_px:.0f} px long, "
                            f"at least {MIN_REP_LEG_PX:.0f} px needed)")
        elif not reps:
            duration = float(t[-1] - t[0]) if len(t) else 0.0
            why = (f"the clip is only {duration:.1f} s long" if duration < 1.0 else
                   "a rep needs a still start, a descent of at least ~6% of leg length and a return")
            warnings.append(f"no squat rep was seen ({why})")
    warnings += summary.notes
    return ClipAnalysis(m, reps, results, summary, kind, thresholds, warnings)
