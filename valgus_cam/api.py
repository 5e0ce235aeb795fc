"""Python API: ``valgus_cam.analyze(path, ...)`` does what ``valgus-cam analyze`` does and returns a
typed result, so notebooks and the batch runner do not shell out.

    >>> import valgus_cam
    >>> r = valgus_cam.analyze("squat.mp4", model="lite")      # doctest: +SKIP
    >>> r.document["reps"][0]["verdict"], r.frames()["fppa_frontal_left_deg"].shape  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .errors import InputError
from .measures import FrameMeasures, LandmarkSeries
from .pipeline import ClipAnalysis, ClipFacts, FrameObserver
from .verdicts import Thresholds

if TYPE_CHECKING:
    from .pose import PoseEstimator


@dataclass(slots=True)
class AnalyzeResult:
    """One clip's analysis: the landmarks, the per-frame measures, the reps with their verdicts,
    and the reps.json document. ``out_dir`` is where the files went (None when nothing was written)."""

    video: str
    fps: float
    frame_index: np.ndarray  # (n,) 0-based index in the video of each analysed frame
    series: LandmarkSeries
    analysis: ClipAnalysis
    model_name: str
    out_dir: Path | None = None
    files: list[Path] = field(default_factory=list)

    @property
    def measures(self) -> FrameMeasures:
        return self.analysis.measures

    @property
    def results(self) -> list:
        return self.analysis.results

    @property
    def document(self) -> dict:
        """The reps.json document."""
        from .report import reps_document

        return reps_document(self.analysis, self.video, self.fps, len(self.frame_index))

    def frames(self) -> dict[str, np.ndarray]:
        """frames.csv as arrays (no pandas): ``{"frame": int array, "time_s": ..., "fppa_left_deg": ...}``,
        NaN where a measure is not measurable."""
        m = self.measures
        cols = {"frame": np.asarray(self.frame_index, int), "time_s": m.time_s, "detected": m.detected}
        return cols | {name: getattr(m, name) for name in m.CSV_COLUMNS}


def analyze(path: str | Path, *, out: str | Path | None = None, test: str = "auto", stance: str = "auto",
            model: str | Path | None = None, config: str | Path | None = None, sex: str | None = None,
            thresholds: Thresholds | None = None, annotate: bool = False, report: bool = False,
            landmarks: str | Path | None = None,
            fps: float | None = None, progress: bool = False, estimator=None,
            write: bool = True, height_cm: float | None = None) -> AnalyzeResult:
    """Analyse a recorded clip (video file or image folder).

    ``out``: output folder for landmarks.csv, frames.csv, reps.json (and annotated.mp4 with
    ``annotate``, report.html with ``report``); default ``valgus-out/<stem>/``; ``write=False`` writes
    nothing. ``landmarks``:
    re-analyse from a landmark CSV written earlier (no pose estimation). ``estimator``: an open
    :class:`~valgus_cam.pose.PoseEstimator` in VIDEO mode to reuse (the batch runner keeps one per
    worker); otherwise ``model`` is resolved and loaded. ``test``: "auto" | "squat" | "single-leg" |
    "standing" | "landing"; ``height_cm``: body height for the standing check (docs/screening.md).
    Raises :class:`~valgus_cam.errors.ValgusCamError` subclasses on bad input."""
    from .pipeline import analyse_clip
    from .verdicts import load_thresholds

    spec = str(path)
    if height_cm is not None and not 50 <= height_cm <= 260:
        raise InputError(f"--height-cm must be a body height in cm (50-260), not {height_cm:g}")
    if thresholds is None:
        thresholds = load_thresholds(config, sex=sex)  # a bad config fails before any work
    out_dir = Path(out) if out is not None else Path("valgus-out") / input_stem(spec)
    if annotate and write:  # a missing H.264 encoder is said before the pose pass, not after it
        from .sinks import h264_encoder

        h264_encoder(out_dir / "annotated.mp4")
    files: list[Path] = []
    facts = early = None
    with contextlib.ExitStack() as stack:  # a failure or Ctrl-C discards a half-drawn annotated.mp4
        if landmarks is not None:
            series, index, model_name, rate = _from_landmarks_csv(spec, landmarks, fps)
        else:
            lm_csv = out_dir / "landmarks.csv" if write else None
            facts = ClipFacts()
            if annotate and write:  # drawn during the pose pass (overlay.SinglePassAnnotator)
                from .overlay import SinglePassAnnotator

                early = stack.enter_context(SinglePassAnnotator(
                    spec, out_dir / "annotated.mp4", fps=fps,
                    analyse=lambda s: analyse_clip(s, thresholds, test=test, stance=stance, height_cm=height_cm)))
            series, index, model_name, rate = run_pose(spec, lm_csv, model=model, fps=fps, progress=progress,
                                                       estimator=estimator, facts=facts,
                                                       on_frame=early.on_frame if early is not None else None)
            if early is not None:
                early.stop()
            if lm_csv is not None:
                files.append(lm_csv)
        if len(index) == 0:
            raise InputError(f"no frames could be read from {spec}")
        a = analyse_with_pelvis(spec, series, index, fps=fps, thresholds=thresholds, test=test, stance=stance,
                                height_cm=height_cm, facts=facts)
        result = AnalyzeResult(spec, float(rate), np.asarray(index, int), series, a, model_name,
                               out_dir if write else None, files)
        if write:
            _write_outputs(result, out_dir, index, rate, early, annotate=annotate, report=report, fps=fps,
                           progress=progress)
        return result


def _from_landmarks_csv(spec: str, landmarks: str | Path, fps: float | None):
    """A clip's landmarks read back from a landmark CSV written earlier (no pose estimation); the
    clip itself is opened only for its frame size and rate. Returns (series, frame indices, CSV
    file name, fps)."""
    from .capture import open_source
    from .sinks import read_landmarks_csv

    with open_source(spec, fps=fps) as src:
        wh, rate = src.size_wh, src.fps
        if wh is None:  # an image folder knows its size once a frame is read
            first = next(iter(src), None)
            if first is None:
                raise InputError(f"no frames could be read from {spec}")
            wh = (first.image_bgr.shape[1], first.image_bgr.shape[0])
    table = read_landmarks_csv(landmarks)
    return LandmarkSeries.from_table(table, wh), table.frame, Path(landmarks).name, rate


def _write_outputs(result: AnalyzeResult, out_dir: Path, index, rate, early, *, annotate: bool, report: bool,
                   fps: float | None, progress: bool) -> None:
    """frames.csv and reps.json, then annotated.mp4 (unless ``early``, the single-pass annotator,
    drew the final one) and report.html as asked; each file written is added to ``result.files``."""
    from .report import reps_document, write_reps_json
    from .sinks import atomic_open, write_frames_csv

    spec, series, a, files = result.video, result.series, result.analysis, result.files
    with atomic_open(out_dir / "frames.csv") as f:
        write_frames_csv(f, index, a.measures)
    write_reps_json(out_dir / "reps.json", reps_document(a, spec, rate, len(index)))
    files += [out_dir / "frames.csv", out_dir / "reps.json"]
    if annotate:
        from .overlay import write_annotated_video

        if early is None or not early.finish(series, a):  # no pose pass, or what it drew was not final
            write_annotated_video(spec, out_dir / "annotated.mp4", series, index, a, fps=fps, progress=progress)
        files.append(out_dir / "annotated.mp4")
    if report:
        from .html_report import write_clip_report

        write_clip_report(result, out_dir / "report.html")  # links the files written before it
        files.append(out_dir / "report.html")


class PosePass(NamedTuple):
    """What :func:`run_pose` returns (a tuple: callers may unpack it)."""

    series: LandmarkSeries
    frame_index: np.ndarray  # (n,) int, 0-based index in the video of each frame
    model_name: str  # the model file's name
    fps: float | None


def run_pose(spec: str, landmarks_csv: Path | None, *, model=None, fps: float | None = None, progress: bool = False,
             estimator: PoseEstimator | None = None, on_frame: Callable | None = None,
             facts: ClipFacts | None = None) -> PosePass:
    """Pose on every frame of a recorded clip through :func:`pipeline.run_frames`: observers write
    the landmarks to ``landmarks_csv`` (unless None), collect them, count on the progress bar and
    call ``on_frame(frame, pose)``, in that order. ``facts``, if given, is filled with what else the
    pass saw (subject lost, people in view, damage, brightness)."""
    from .pipeline import FrameCallback, LandmarkRows, PoseCollector, ProgressBar, iter_poses, run_frames
    from .pose import PoseEstimator
    from .sinks import LandmarkCsvWriter, atomic_open

    source, model_path = _open_for_pose(spec, model, estimator, progress, fps)
    with contextlib.ExitStack() as stack:
        stack.enter_context(source)
        if estimator is None:
            estimator = stack.enter_context(PoseEstimator(model_path))
        else:
            estimator.reset()
        observers: list[FrameObserver] = []
        if landmarks_csv is not None:
            observers.append(LandmarkRows(LandmarkCsvWriter(stack.enter_context(atomic_open(landmarks_csv)))))
        collector = PoseCollector(estimator)
        observers += [collector, stack.enter_context(ProgressBar(source.frame_count, source.name, progress))]
        if on_frame is not None:
            observers.append(FrameCallback(on_frame))
        run_frames(iter_poses(source, estimator), observers)
        wh, rate = source.size_wh, source.fps
    if facts is not None:
        collector.fill(facts, source)
    return PosePass(collector.series(wh), np.asarray(collector.index, int), estimator.model_path.name, rate)


def _open_for_pose(spec: str, model, estimator: PoseEstimator | None, progress: bool, fps: float | None):
    """The clip's source and the model file to load (None when ``estimator`` is given); the source
    is closed again if finding the model fails. InputError for a camera: analyze takes recorded clips."""
    from .capture import open_source
    from .models import resolve_model

    source = open_source(spec, fps=fps)
    try:
        if source.is_live:
            raise InputError("analyze takes a recorded clip; use `valgus-cam live` for a camera")
        return source, None if estimator is not None else resolve_model(model, progress=progress)
    except BaseException:
        source.close()
        raise


def analyse_with_pelvis(spec: str, series: LandmarkSeries, index: np.ndarray, *, fps: float | None = None,
                        **kw) -> ClipAnalysis:
    """``pipeline.analyse_clip(series, **kw)``, and for a clip with single-leg reps once more with
    the pelvic drop: the waistband measured in the pixels of those reps and of the standing
    baseline (a decode-only pass over ``spec``, :func:`waist_strips`)."""
    from .pipeline import analyse_clip, single_leg_frames, waistband_tilt

    a = analyse_clip(series, **kw)
    want = single_leg_frames(a)
    if not want.any():
        return a
    strips = waist_strips(spec, series, index, want, fps=fps)
    return analyse_clip(series, pelvis=waistband_tilt(series, strips, a.measures.baseline), **kw)


WAIST_MAX_TORSO_PX = 320.0  # waist crops are shrunk to at most this torso length (memory; pelvis.crop_waist)


def waist_strips(spec: str, series: LandmarkSeries, index: np.ndarray, want: np.ndarray, *,
                 fps: float | None = None) -> list:
    """Decode ``spec`` again and cut the waist crop (``pelvis.crop_waist``) of every analysed frame
    with ``want`` set (a list with one ``WaistStrip`` or None per analysed frame). The pixels are
    not kept from the pose pass: only single-leg clips need them, and only around their reps."""
    from .capture import open_source
    from .pelvis import crop_waist

    strips: list = [None] * len(index)
    pos = {int(f): k for k, f in enumerate(index)}
    last = int(np.flatnonzero(want)[-1]) if want.any() else -1
    with open_source(spec, fps=fps) as src:
        for frame in src:
            k = pos.get(frame.index)
            if k is None or not want[k]:
                if k is not None and k > last:
                    break
                continue
            if np.isfinite(series.xy_px[k]).all():
                strips[k] = crop_waist(frame.image_bgr, series.xy_px[k], WAIST_MAX_TORSO_PX)
    return strips


def input_stem(spec: str) -> str:
    """The folder name results go under: the file's stem, an image folder's name, camera<N>."""
    if spec.isdigit():
        return f"camera{spec}"
    p = Path(spec)
    return p.stem if p.suffix else (p.name or "input")
