"""Command line: ``valgus-cam <command>``. Errors are one line on stderr with a documented exit
code (see ``valgus_cam.errors``); ``--debug`` shows tracebacks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import InputError, ValgusCamError
from .kinds import AUTO, SQUAT_TEST_ARGS, TEST_ARGS

EXIT_INTERRUPTED = 130


def _add_recorded_input_args(p: argparse.ArgumentParser) -> None:
    """Options of a command that reads a recorded clip: image-folder frame rate, progress, model."""
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder (default 30)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_model_arg(p)


def _add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, metavar="lite|full|heavy|PATH",
                   help="pose model: a name (looked up in $VALGUS_CAM_MODEL_DIR, models/, the cache; "
                        "downloaded if absent) or a .task file (default: full)")


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The ``valgus-cam`` parser: global options and one subcommand per ``COMMANDS`` entry."""
    ap = argparse.ArgumentParser(prog="valgus-cam", description="Dynamic knee valgus from a camera.")
    ap.add_argument("--version", action="version", version=f"valgus-cam {__version__}")
    ap.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_models_parser(sub)
    _add_landmarks_parser(sub)
    _add_analyze_parser(sub)
    _add_batch_parser(sub)
    _add_live_parser(sub)
    return ap


def _add_models_parser(sub: argparse._SubParsersAction) -> None:
    """``valgus-cam models``: list the pose models found, or download one."""
    m = sub.add_parser("models", help="list the pose models found (and verified) or download one")
    m.add_argument("--download", metavar="NAME", choices=["lite", "full", "heavy", "all"],
                   help="download a model (or all) into the cache, sha256-checked")


def _add_landmarks_parser(sub: argparse._SubParsersAction) -> None:
    """``valgus-cam landmarks``: the pose landmarks of every frame to CSV."""
    lm = sub.add_parser("landmarks", help="write the pose landmarks of every frame to CSV")
    lm.add_argument("input", help="video file, folder of images, image file, or camera index")
    lm.add_argument("-o", "--output", type=Path, default=None,
                    help="CSV path (default: valgus-out/<input stem>/landmarks.csv)")
    lm.add_argument("--layout", choices=["long", "wide"], default="long",
                    help="long: a row per frame and landmark (default); wide: a row per frame")
    _add_recorded_input_args(lm)


def _add_analyze_parser(sub: argparse._SubParsersAction) -> None:
    """``valgus-cam analyze``: score a recorded clip."""
    an = sub.add_parser("analyze", help="score a recorded clip: per-rep FPPA, trunk, hands, balance; pass/fail")
    an.add_argument("input", help="video file or folder of images")
    an.add_argument("--out", type=Path, default=None, help="output folder (default: valgus-out/<input stem>/)")
    an.add_argument("--test", choices=TEST_ARGS, default=AUTO,
                    help="the test performed (default: squat or single-leg, detected from the free foot); "
                         "standing: standing alignment check; landing: jump landings (docs/screening.md)")
    an.add_argument("--height-cm", type=float, default=None, metavar="CM",
                    help="body height, for the centimetres: knee over the foot and hip drift (default: an "
                         "assumed 170 cm) and the standing check's gaps (default: 168 cm)")
    an.add_argument("--stance", choices=["auto", "left", "right"], default="auto",
                    help="stance leg of the single-leg squats (default: detected per rep)")
    an.add_argument("--annotate", action="store_true", help="also write annotated.mp4 (skeleton, angles, verdicts)")
    an.add_argument("--report", action="store_true",
                    help="also write report.html (self-contained page: charts, reps table, key frames)")
    an.add_argument("--config", type=Path, default=None, metavar="FILE.toml",
                    help="pass/fail thresholds (see docs/verdicts.md; keys as in reps.json 'thresholds')")
    an.add_argument("--sex", choices=["female", "male"], default=None,
                    help="use the sex-specific knee-angle limit (docs/verdicts.md)")
    an.add_argument("--landmarks", type=Path, default=None, metavar="CSV",
                    help="re-analyse from a landmark CSV written earlier (skips pose estimation)")
    _add_recorded_input_args(an)


def _add_batch_parser(sub: argparse._SubParsersAction) -> None:
    """``valgus-cam batch``: score many clips in parallel."""
    ba = sub.add_parser("batch", help="score many clips in parallel (process pool or Dask); summary.csv of all")
    ba.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="video files, folders (searched recursively for videos) or globs")
    ba.add_argument("--out", type=Path, default=Path("valgus-out"),
                    help="output folder: DIR/<clip>/ per clip and DIR/summary.csv (default: valgus-out)")
    ba.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                    help="parallel worker processes on this machine (default: the number of cores)")
    ba.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run on this Dask distributed cluster (tcp://host:port) instead of local processes")
    ba.add_argument("--resume", action="store_true",
                    help="skip clips whose results exist for the same clip content and settings")
    ba.add_argument("--retry-failed", action="store_true", help="with --resume: run failed clips again")
    ba.add_argument("--test", choices=SQUAT_TEST_ARGS, default=AUTO,
                    help="the test performed (default: detected per clip)")
    ba.add_argument("--stance", choices=["auto", "left", "right"], default="auto",
                    help="stance leg of the single-leg squats (default: detected per rep)")
    ba.add_argument("--annotate", action="store_true", help="also write each clip's annotated.mp4")
    ba.add_argument("--no-report", action="store_true",
                    help="skip the HTML pages (each clip's report.html and the batch's index.html)")
    ba.add_argument("--config", type=Path, default=None, metavar="FILE.toml", help="pass/fail thresholds")
    ba.add_argument("--sex", choices=["female", "male"], default=None, help="sex-specific knee-angle limit")
    ba.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_model_arg(ba)


def _add_live_parser(sub: argparse._SubParsersAction) -> None:
    """``valgus-cam live``: the webcam self-check."""
    lv = sub.add_parser("live", help="self-check with the webcam: setup guide, a verdict per rep, record and replay",
                        description="Live self-check: the camera picture with the overlay, a setup guide until "
                                    "counting starts, a PASS/FAIL banner per rep. Keys: q quit, space pause, "
                                    "c recalibrate, l/r/b stance left/right/both, t test, s snapshot.")
    lv.add_argument("--camera", default="0", metavar="0|DEVICE|FILE",
                    help="camera index (default 0), device path (/dev/video2) or a video file")
    lv.add_argument("--realtime", action="store_true",
                    help="a video file: play it at its own frame rate and drop frames a busy loop "
                         "cannot take, as a camera would (default: every frame, as fast as processed)")
    lv.add_argument("--test", choices=SQUAT_TEST_ARGS, default=AUTO,
                    help="the test performed (default: detected); key t cycles it")
    lv.add_argument("--stance", choices=["auto", "left", "right"], default="auto",
                    help="stance leg of single-leg squats (default: detected); keys l / r / b")
    lv.add_argument("--record", type=Path, default=None, metavar="DIR",
                    help="save raw.avi, annotated.avi, landmarks.csv, frames.csv, reps.json and summary.txt "
                         "as the session goes, annotated.mp4 (H.264) at the end, and replay the failed reps")
    lv.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                    help="show the picture as a mirror (default: on)")
    lv.add_argument("--headless", action="store_true",
                    help="no window (and no keys or replay): record or benchmark without a display")
    lv.add_argument("--inference", choices=["video", "live_stream"], default="video",
                    help="MediaPipe running mode (default video: lower latency here, benchmarks/live_latency.py)")
    lv.add_argument("--sound", action=argparse.BooleanOptionalAction, default=True,
                    help="a short beep per failed rep where a sound player exists (default: on)")
    lv.add_argument("--config", type=Path, default=None, metavar="FILE.toml", help="pass/fail thresholds")
    lv.add_argument("--sex", choices=["female", "male"], default=None,
                    help="use the sex-specific knee-angle limit (docs/verdicts.md)")
    lv.add_argument("--max-seconds", type=float, default=None, metavar="S", help="stop after S seconds")
    _add_model_arg(lv)


def cmd_models(args) -> int:
    from . import models

    if args.download:
        names = ["lite", "full", "heavy"] if args.download == "all" else [args.download]
        for name in names:
            print(f"{name}: {models.resolve_model(name, download=True)}")
        return 0
    manifest = models.load_manifest()
    print(f"search order: {', '.join(str(d) for d in models.search_dirs())}")
    print(f"default model: {models.default_model_name()}")
    for st in models.statuses():
        if st.exists:
            state = "verified" if st.verified else "PRESENT BUT NOT THE OFFICIAL FILE (sha256 differs)"
            print(f"  {st.spec.name:5s}  {state:8s}  {st.path}")
    missing = [n for n in manifest if not any(s.exists and s.verified and s.spec.name == n for s in models.statuses())]
    for n in missing:
        print(f"  {n:5s}  missing   (downloads from {manifest[n].url} on first use)")
    return 0


def cmd_landmarks(args) -> int:
    from .capture import ImageFolderSource, open_source
    from .models import resolve_model
    from .pipeline import ProgressBar, run_landmarks
    from .pose import PoseEstimator, RunningMode
    from .sinks import LandmarkCsvWriter, atomic_open

    source = open_source(args.input, fps=args.fps)  # bad input is reported before any download
    try:
        model_path = resolve_model(args.model, progress=not args.no_progress)
    except BaseException:
        source.close()
        raise
    single_image = isinstance(source, ImageFolderSource) and Path(args.input).is_file()
    out = args.output or Path("valgus-out") / _stem(args.input) / "landmarks.csv"
    mode = RunningMode.IMAGE if single_image else RunningMode.VIDEO
    with source, PoseEstimator(model_path, mode=mode) as estimator, atomic_open(out) as f, \
            ProgressBar(source.frame_count, source.name, enabled=not args.no_progress) as bar:
        stats = run_landmarks(source, estimator, LandmarkCsvWriter(f, layout=args.layout), [bar])
    if stats.frames == 0:
        raise InputError(f"no frames could be read from {args.input}")
    print(f"{out}: {stats.frames} frames, person detected in {stats.detected} "
          f"({100 * stats.detection_rate:.1f}%), {stats.processed_fps:.1f} frames/s, model {model_path.name}")
    if damage := source.damage_report():
        print(f"  warning: {damage}")
    if estimator.people_seen >= 2:
        print(f"  warning: more than one person was in view: the subject (the first person found) was followed by "
              f"position and size; {estimator.lost_frames} frames with only somebody else are written "
              "as not detected")
    if stats.interrupted:
        print("valgus-cam: interrupted; the frames captured so far were saved", file=sys.stderr)
    return 0


def cmd_analyze(args) -> int:
    import numpy as np

    from .api import analyze
    from .report import clip_table, guidance_text

    r = analyze(args.input, out=args.out, test=args.test, stance=args.stance, model=args.model, config=args.config,
                sex=args.sex, annotate=args.annotate, report=args.report, landmarks=args.landmarks, fps=args.fps,
                progress=not args.no_progress, height_cm=args.height_cm)
    a, m = r.analysis, r.measures
    yaw = m.body_yaw_deg[m.detected]
    yaw_txt = f"{yaw[0]:+.0f}°" if len(yaw) and np.isfinite(yaw[0]) else "unknown"
    test = a.test.replace("_", " ")
    print(f"{args.input}: {len(r.frame_index)} frames, person in {int(m.detected.sum())}, {m.view} view, "
          f"body yaw {yaw_txt}, camera roll {m.camera_roll_deg:+.1f}°, model {r.model_name}")
    n, unit = len(a.records), a.test.unit
    print(f"{test}: {n} {unit}{'s' if n != 1 else ''}")
    if table := clip_table(a):
        print(table)
    for w in a.warnings:
        print(f"  warning: {w}")
    if advice := guidance_text(a):
        print(advice)
    print(f"results in {r.out_dir}/ ({', '.join(p.name for p in r.files)})")
    return 0


def cmd_live(args) -> int:
    import signal

    from .live import LiveOptions, run_live
    from .verdicts import load_thresholds

    thresholds = load_thresholds(args.config, sex=args.sex)
    opts = LiveOptions(camera=args.camera, realtime=args.realtime, test=args.test, stance=args.stance,
                       record=args.record, mirror=args.mirror, headless=args.headless, inference=args.inference,
                       model=args.model, thresholds=thresholds, sound=args.sound, max_seconds=args.max_seconds)

    def _term(signum, frame):  # a polite kill ends the session like Ctrl-C: everything saved
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        result = run_live(opts)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(result.summary_text)
    if result.ended_reason:
        where = f"; the session so far is saved in {result.out_dir}/" if result.out_dir else ""
        print(f"valgus-cam: {result.ended_reason} after {result.duration_s:.1f} s{where}", file=sys.stderr)
    if result.interrupted:
        print("valgus-cam: interrupted; the session so far was saved" if result.out_dir
              else "valgus-cam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _stem(spec: str) -> str:
    from .api import input_stem

    return input_stem(spec)


def cmd_batch(args) -> int:
    from .batch import cli

    return cli(args)


COMMANDS = {"models": cmd_models, "landmarks": cmd_landmarks, "analyze": cmd_analyze, "batch": cmd_batch,
            "live": cmd_live}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.debug and "cv2" not in sys.modules:  # let OpenCV / FFmpeg / MediaPipe speak
        import os

        os.environ.update(OPENCV_LOG_LEVEL="INFO", OPENCV_FFMPEG_LOGLEVEL="24", VALGUS_CAM_NATIVE_LOG="1")
    try:
        return COMMANDS[args.command](args)
    except ValgusCamError as e:
        if args.debug:
            raise
        print(f"valgus-cam: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("valgus-cam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - the promise is one line, never a traceback
        if args.debug:
            raise
        print(f"valgus-cam: internal error: {type(e).__name__}: {e} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
