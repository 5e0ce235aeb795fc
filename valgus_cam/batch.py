"""``valgus-cam batch``: many clips, each analysed exactly as ``valgus-cam analyze`` does, in
parallel on this machine (a process pool, one pose model per worker) or on a Dask distributed
cluster (``--scheduler``), with a summary of every clip.

Layout of DIR (``--out``, default ``valgus-out``)::

    DIR/<name>/              landmarks.csv, frames.csv, reps.json (annotated.mp4 with --annotate)
    DIR/<name>/batch.json    written LAST: the clip's sha256, the settings hash, the clip's record
    DIR/summary.csv, .json   one row per clip; rewritten after every finished clip

Conventions:

* Inputs: a file is taken as given, whatever its extension (the user named it); a folder is
  searched recursively for video files (:data:`VIDEO_SUFFIXES`, case-insensitive; hidden files and
  folders and DIR itself are skipped); anything else with ``* ? [`` is a glob (``**`` recurses)
  whose matches are filtered the same way. Image folders are not clips here (use ``analyze``).
  Order: the inputs as given, each folder or glob in natural order; a clip named twice is run once.
* ``<name>`` is the clip's file stem. Clips sharing a stem get as many parent folder names
  prefixed as it takes to tell them apart (``p1_left``, ``p2_left``), then their extension, then
  ``-2``, ``-3``: the same inputs always give the same names, which is what ``--resume`` relies on.
* ``status``: ``ok`` (analysed, somebody found), ``failed`` (one-line ``error``: missing, empty,
  corrupt, not a video, nobody in it, a worker process died on it) or ``pending`` (not finished:
  an interrupted batch). A clip with nobody in it is ``failed``, but its files are still written.
* Every file is written atomically (temp + rename) and batch.json last, so a clip folder with a
  batch.json is complete whatever happened after. ``--resume`` reuses a clip whose batch.json
  has the clip's current sha256 and the same settings hash (model file, test, stance,
  thresholds, annotate) and whose files are still there: it is not run again (``reused``). A
  clip that failed is not retried unless ``--retry-failed`` (a corrupt file stays corrupt).
* Exit status: 0 every clip ok, 6 some clip failed (:data:`~valgus_cam.errors.EXIT_CLIPS_FAILED`),
  130 interrupted (finished clips are complete, the summary lists the rest as ``pending``),
  3 no clip found / cannot reach the scheduler, 4 model, 5 output folder not writable.

This module imports only the standard library at the top, so a pool worker can limit its
threads before numpy and OpenCV load.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import EXIT_CLIPS_FAILED, InputError, OutputError, ValgusCamError

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv",
                            ".flv", ".3gp", ".mts", ".m2ts"})
BATCH_SCHEMA_VERSION = 1
MARKER = "batch.json"
SUMMARY_CSV, SUMMARY_JSON = "summary.csv", "summary.json"
# Names in DIR that a clip folder must not take (the summary files, the lead's future index page).
_RESERVED = {SUMMARY_CSV, SUMMARY_JSON, "index.html"}
# Files a clip folder may hold from a run; those the current run did not write are removed so a
# folder never mixes two runs (e.g. an annotated.mp4 from a run with --annotate).
CLIP_OUTPUTS = ("landmarks.csv", "frames.csv", "reps.json", "annotated.mp4", "report.html")
EXIT_INTERRUPTED = 130

if TYPE_CHECKING:
    from .verdicts import Thresholds


# ----------------------------------------------------------------------------------------------
# typed records
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Settings:
    """What a clip's result depends on besides the clip itself. ``model`` is a manifest name
    (resolved by each worker: works on remote Dask workers) or an absolute .task path;
    ``model_sha256`` is the content of the file the parent resolved it to."""

    model: str
    model_sha256: str
    test: str = "auto"
    stance: str = "auto"
    thresholds: "Thresholds | None" = None  # loaded once, in the parent (None: the defaults)
    annotate: bool = False
    report: bool = True  # report.html per clip and index.html for the batch

    def to_dict(self) -> dict:
        return {"batch_schema_version": BATCH_SCHEMA_VERSION, "valgus_cam": __version__,
                "model": Path(self.model).name if os.sep in self.model else self.model,
                "model_sha256": self.model_sha256, "test": self.test, "stance": self.stance,
                "annotate": self.annotate, "report": self.report,
                "thresholds": self.thresholds.to_dict() if self.thresholds is not None else None,
                # annotated.mp4 became H.264 (issue 17): --resume redoes clips annotated in mp4v
                **({"video": "h264"} if self.annotate else {})}

    @property
    def hash(self) -> str:
        """sha256 (first 16 hex digits) of :meth:`to_dict` as canonical JSON."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ClipTask:
    """One clip to score: ``clip`` as the user's inputs named it, ``path`` / ``out_dir`` absolute
    (workers may run elsewhere, with another working directory)."""

    clip: str
    path: str
    name: str
    out_dir: str
    settings: Settings


@dataclass(slots=True)
class ClipRecord:
    """One row of summary.csv (field order = column order). Counts per stance leg mirror
    reps.json's summary: ``left_*`` / ``right_*`` = single-leg reps standing on that leg,
    ``both_*`` = double-leg reps. ``worst_fppa_frontal_<side>_deg`` = the largest (most valgus)
    frontal-plane knee angle of that knee over all reps where it was measured. None = does not
    apply / not measured."""

    clip: str
    name: str
    status: str  # "ok" | "failed" | "pending"
    error: str | None = None
    test: str | None = None
    view: str | None = None
    frames: int | None = None
    reps: int | None = None
    reps_passed: int | None = None
    reps_failed: int | None = None
    reps_unmeasurable: int | None = None
    left_reps: int | None = None
    left_passed: int | None = None
    left_failed: int | None = None
    right_reps: int | None = None
    right_passed: int | None = None
    right_failed: int | None = None
    both_reps: int | None = None
    both_passed: int | None = None
    both_failed: int | None = None
    worst_fppa_frontal_left_deg: float | None = None
    worst_fppa_frontal_right_deg: float | None = None
    worst_pelvic_drop_deg: float | None = None  # single-leg reps whose waistband was measured, else None
    warnings: list[str] = field(default_factory=list)
    seconds: float | None = None  # wall time of the clip's analysis
    reused: bool = False  # taken from an earlier run (--resume), not run again
    sha256: str | None = None  # of the clip file

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ClipRecord":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def fill_from(self, result) -> None:
        """Counts and worst values from an :class:`~valgus_cam.api.AnalyzeResult`."""
        a = result.analysis
        rs = a.results
        self.test, self.view, self.frames = a.test, result.measures.view, int(len(result.frame_index))
        self.reps = len(rs)
        self.reps_passed = sum(r.verdict == "pass" for r in rs)
        self.reps_failed = sum(r.verdict == "fail" for r in rs)
        self.reps_unmeasurable = sum(r.verdict == "unmeasurable" for r in rs)
        for stance in ("left", "right", "both"):
            mine = [r for r in rs if r.stance == stance]
            setattr(self, f"{stance}_reps", len(mine))
            setattr(self, f"{stance}_passed", sum(r.verdict == "pass" for r in mine))
            setattr(self, f"{stance}_failed", sum(r.verdict == "fail" for r in mine))
        self.worst_fppa_frontal_left_deg = _worst(r.knee_angle_deg("left") for r in rs)  # each rep's worst moment
        self.worst_fppa_frontal_right_deg = _worst(r.knee_angle_deg("right") for r in rs)
        self.worst_pelvic_drop_deg = _worst(r.pelvic_drop_deg for r in rs)
        self.warnings = list(a.warnings)


def _worst(values: Iterable[float | None]) -> float | None:
    vs = [v for v in values if v is not None and v == v]
    return round(float(max(vs)), 2) if vs else None


def _one_line(text: str, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


# ----------------------------------------------------------------------------------------------
# planning (pure apart from listing folders)
# ----------------------------------------------------------------------------------------------
def _natural_key(p: Path) -> list:
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", str(p))]


def _is_hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)


def _inside(p: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        p.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def _videos_in(folder: Path, exclude: Path | None) -> list[Path]:
    found = [p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
             and not _is_hidden(p, folder) and not _inside(p, exclude)]
    return sorted(found, key=_natural_key)


@dataclass(frozen=True, slots=True)
class Expansion:
    clips: list[Path]  # in order, each once
    unmatched: list[str]  # folders / globs that gave no video file


def expand_inputs(inputs: Sequence[str | os.PathLike], exclude: str | os.PathLike | None = None) -> Expansion:
    """Files, folders and globs → the clips, in order, each once (see the module docstring).
    ``exclude``: a folder whose contents are never taken (the output folder)."""
    ex = Path(exclude).resolve() if exclude is not None else None
    clips: list[Path] = []
    unmatched: list[str] = []
    for item in inputs:
        spec = str(item)
        p = Path(spec).expanduser()
        if p.is_dir():
            got = _videos_in(p, ex)
        elif p.exists() or not any(c in spec for c in "*?["):
            got = [p]  # a file, or a missing path: reported as a failed clip
        else:
            got = []
            for m in sorted(glob.glob(str(p), recursive=True), key=lambda s: _natural_key(Path(s))):
                mp = Path(m)
                if mp.is_dir():
                    got += _videos_in(mp, ex)
                elif mp.suffix.lower() in VIDEO_SUFFIXES and mp.is_file() and not _inside(mp, ex):
                    got.append(mp)
        if not got:
            unmatched.append(spec)
        clips += got
    seen: set[str] = set()
    unique = []
    for c in clips:
        key = os.path.normcase(os.path.abspath(c))
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return Expansion(unique, unmatched)


def output_names(paths: Sequence[Path]) -> list[str]:
    """A unique folder name per clip: the stem, disambiguated as the module docstring says."""
    absolute = [Path(os.path.abspath(p)) for p in paths]
    names = [_safe(p.stem or p.name) for p in absolute]
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        groups.setdefault(n.lower(), []).append(i)
    for idxs in groups.values():
        if len(idxs) < 2:
            continue
        depth = max(len(absolute[i].parent.parts) for i in idxs)
        for k in range(1, depth + 1):
            cand = [_safe("_".join([*absolute[i].parent.parts[1:][-k:], absolute[i].stem])) for i in idxs]
            if len({c.lower() for c in cand}) == len(cand):
                break
        else:  # same folder and stem: the extension tells them apart
            cand = [f"{names[i]}_{absolute[i].suffix.lstrip('.') or 'noext'}" for i in idxs]
        for i, c in zip(idxs, cand):
            names[i] = c
    taken: set[str] = set()
    out = []
    for n in names:
        base, k = n, 1
        while n.lower() in taken or n in _RESERVED:
            k += 1
            n = f"{base}-{k}"
        taken.add(n.lower())
        out.append(n)
    return out


def _safe(name: str) -> str:
    name = re.sub(r"[\x00-\x1f/\\:]", "_", name).strip()
    if not name or name.startswith("."):
        name = "_" + name
    return name


def plan(clips: Sequence[Path], out_dir: str | os.PathLike, settings: Settings) -> list[ClipTask]:
    out = Path(out_dir).resolve()
    return [ClipTask(str(c), os.path.abspath(c), n, str(out / n), settings)
            for c, n in zip(clips, output_names(clips))]


def file_sha256(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """sha256 of a clip; a missing or unreadable file is an :class:`InputError`."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk_bytes):
                h.update(block)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"is a folder, not a video file: {path}") from None
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# the worker side: one clip
# ----------------------------------------------------------------------------------------------
_tls = threading.local()  # per thread (a Dask worker may run several tasks at once): its models
_setup_done = False


def _worker_setup() -> None:
    """Once per process: one thread for OpenCV's own parallel loops (and BLAS/OpenMP, where they
    have not started yet), so N workers on N cores do not oversubscribe them. MediaPipe's
    pose graph measured ~1 core per clip already (benchmarks/batch_scaling.py)."""
    global _setup_done
    if _setup_done:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import cv2
    from tqdm import tqdm

    cv2.setNumThreads(1)
    # tqdm's default lock is a multiprocessing semaphore: a worker stopped mid-clip would leave it
    # registered with the resource tracker, which then warns on the terminal. Workers draw no bars.
    tqdm.set_lock(threading.RLock())
    _setup_done = True


def _pool_worker_init() -> None:
    """Process-pool worker: Ctrl-C is the parent's to handle (it stops the workers); and a worker
    whose parent died (SIGKILL) exits instead of running on as an orphan."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_setup()
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="valgus-cam-parent-watch", daemon=True).start()


def _estimator(model: str):
    """This thread's PoseEstimator for ``model``, created on first use and kept (api.analyze
    resets it per clip: same landmarks as a fresh one)."""
    cache = _tls.__dict__.setdefault("estimators", {})
    if model not in cache:
        from .models import resolve_model
        from .pose import PoseEstimator

        cache[model] = PoseEstimator(resolve_model(model, progress=False))
    return cache[model]


def _prepare_clip_dir(out: Path) -> None:
    """Before (re)running a clip: its old batch.json goes first (an interrupted rerun must not
    look finished), and temp files a killed worker left behind."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).unlink(missing_ok=True)
        for tmp in out.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
    except OSError as e:
        raise OutputError(f"cannot write to {out}: {e.strerror or e}") from None


def _clip_outputs(result, out_dir: Path, settings: Settings) -> list[Path]:
    """Per-clip outputs beyond analyze's: report.html (unless ``--no-report``). Runs in the worker
    after the analysis files are written and before batch.json; returns the files written."""
    if not settings.report:
        return []
    from .html_report import write_clip_report

    return [write_clip_report(result, Path(out_dir) / "report.html")]


def score_clip(task: ClipTask) -> ClipRecord:
    """Analyse one clip into ``task.out_dir`` exactly as ``valgus-cam analyze`` does; write its
    batch.json last; return its record. Never raises for a bad clip: the error is in the record."""
    _worker_setup()
    from .api import analyze
    from .sinks import atomic_open

    t0 = time.perf_counter()
    out = Path(task.out_dir)
    s = task.settings
    rec = ClipRecord(task.clip, task.name, "failed")
    files: list[Path] = []
    try:
        _prepare_clip_dir(out)
        rec.sha256 = file_sha256(task.path)
        result = analyze(task.path, out=out, test=s.test, stance=s.stance, thresholds=s.thresholds,
                         annotate=s.annotate, estimator=_estimator(s.model))
        files = list(result.files)
        rec.fill_from(result)
        files += _clip_outputs(result, out, s)
        if not result.measures.detected.any():
            rec.error = "nobody was found in the video"
        else:
            rec.status = "ok"
    except ValgusCamError as e:
        rec.error = _one_line(str(e))
    except Exception as e:  # noqa: BLE001 - one clip's bug must not stop the batch
        rec.error = _one_line(f"internal error: {type(e).__name__}: {e}")
    rec.seconds = round(time.perf_counter() - t0, 2)
    try:
        for name in CLIP_OUTPUTS:
            if out / name not in files:
                (out / name).unlink(missing_ok=True)
        doc = {"batch_schema_version": BATCH_SCHEMA_VERSION, "clip": task.path, "sha256": rec.sha256,
               "settings_hash": s.hash, "settings": s.to_dict(), "files": sorted(p.name for p in files),
               "record": rec.to_dict()}
        with atomic_open(out / MARKER) as f:
            json.dump(doc, f, indent=2, ensure_ascii=False, allow_nan=False)
            f.write("\n")
    except (OSError, ValgusCamError) as e:
        rec.status, rec.error = "failed", _one_line(str(e))
    return rec


def previous_record(task: ClipTask, retry_failed: bool = False) -> ClipRecord | None:
    """The record of an earlier run that ``--resume`` may reuse for ``task``, or None: its
    batch.json must match the settings hash and the clip's current sha256, and its files must
    still be there; a failed clip is reused only without ``retry_failed``."""
    out = Path(task.out_dir)
    try:
        doc = json.loads((out / MARKER).read_text(encoding="utf-8"))
        if doc.get("settings_hash") != task.settings.hash:
            return None
        rec = ClipRecord.from_dict(doc["record"])
        if rec.status not in ("ok", "failed") or (rec.status == "failed" and retry_failed):
            return None
        if not all((out / n).is_file() for n in doc.get("files", [])):
            return None
        sha = file_sha256(task.path) if Path(task.path).exists() else None
    except (OSError, ValueError, KeyError, TypeError, InputError):
        return None
    if sha != doc.get("sha256"):
        return None
    rec.clip, rec.name, rec.reused = task.clip, task.name, True
    return rec


# ----------------------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------------------
SUMMARY_COLUMNS = tuple(f.name for f in fields(ClipRecord))


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return " | ".join(map(str, v))
    return str(v)


def write_summary(out_dir: Path, records: Sequence[ClipRecord], settings: Settings, state: str) -> list[Path]:
    """DIR/summary.csv and DIR/summary.json, each written atomically. ``state``: running |
    complete | interrupted."""
    from .sinks import atomic_open

    counts = {k: sum(r.status == k for r in records) for k in ("ok", "failed", "pending")}
    counts["reused"] = sum(r.reused for r in records)
    with atomic_open(out_dir / SUMMARY_CSV) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SUMMARY_COLUMNS)
        for r in records:
            w.writerow(_cell(getattr(r, c)) for c in SUMMARY_COLUMNS)
    doc = {"batch_schema_version": BATCH_SCHEMA_VERSION, "valgus_cam": __version__, "state": state,
           "clips_total": len(records), "counts": counts, "settings_hash": settings.hash,
           "settings": settings.to_dict(), "clips": [r.to_dict() for r in records]}
    with atomic_open(out_dir / SUMMARY_JSON) as f:
        json.dump(doc, f, indent=2, ensure_ascii=False, allow_nan=False)
        f.write("\n")
    return [out_dir / SUMMARY_CSV, out_dir / SUMMARY_JSON]


def index_row(rec: ClipRecord, out_dir: Path) -> dict:
    """The batch index page's row of a clip (html_report.ROW_KEYS) from its record and reps.json."""
    from .html_report import ROW_KEYS

    row = dict.fromkeys(ROW_KEYS)
    ok = rec.status == "ok"
    report = Path(out_dir) / rec.name / "report.html"
    row.update(clip=rec.name, status="ok" if ok else "error", error=rec.error, test=rec.test, view=rec.view,
               reps=rec.reps, not_measurable=rec.reps_unmeasurable, warnings=len(rec.warnings or []),
               report=f"{rec.name}/report.html" if report.is_file() else None,
               worst_fppa_left_deg=rec.worst_fppa_frontal_left_deg,
               worst_fppa_right_deg=rec.worst_fppa_frontal_right_deg, worst_pelvic_drop_deg=rec.worst_pelvic_drop_deg)
    for leg in ("left", "right", "both"):
        if getattr(rec, f"{leg}_reps"):
            row[f"{leg}_passed"], row[f"{leg}_failed"] = getattr(rec, f"{leg}_passed"), getattr(rec, f"{leg}_failed")
    try:
        doc = json.loads((Path(out_dir) / rec.name / "reps.json").read_text(encoding="utf-8"))
        gaps = [r["knee_separation_ratio"] for r in doc.get("reps", []) if r.get("knee_separation_ratio") is not None]
        row["min_knee_gap_ratio"] = round(min(gaps), 2) if gaps else None
        th = doc.get("thresholds") or {}
        row["knee_limit_deg"] = th.get("knee_limit_deg", th.get("knee_fppa_max_deg"))
        row["knee_gap_limit_ratio"] = th.get("knee_separation_min_ratio")
    except (OSError, ValueError, TypeError, KeyError):
        pass  # a failed clip has no reps.json: its row says why
    return row


def _batch_outputs(out_dir: Path, records: Sequence[ClipRecord], settings: Settings) -> list[Path]:
    """Batch-level outputs: index.html linking every clip's report (unless ``--no-report``). Runs
    in the parent after the final summary; returns the files written."""
    if not settings.report:
        return []
    from .html_report import write_batch_index

    rows = [index_row(r, out_dir) for r in records]
    knee = settings.thresholds.knee_limit_deg if settings.thresholds is not None else None
    return [write_batch_index(rows, Path(out_dir) / "index.html", knee_limit_deg=knee)]


# ----------------------------------------------------------------------------------------------
# dispatch: a local process pool, or a Dask cluster; both run score_clip
# ----------------------------------------------------------------------------------------------
_CRASH = ("the worker process died while analysing this clip (a crash in native code, or killed, "
          "e.g. out of memory)")


def _kill_pool(ex) -> None:
    """Stop a ProcessPoolExecutor now: its running clips are abandoned (their files are atomic)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        try:
            p.terminate()
        except (OSError, ValueError, AttributeError):
            pass
    for p in procs:
        p.join(timeout=5)
    ex.shutdown(wait=True, cancel_futures=True)  # closes the pool's queues (no leaked semaphores)


def _dispatch_local(tasks: Sequence[ClipTask], workers: int, on_done: Callable[[ClipTask, ClipRecord], None]) -> None:
    """At most ``workers`` clips in flight on a spawn-context process pool. When a worker dies
    (native crash, OOM kill) the pool is rebuilt and the clips that were in flight are rerun one
    at a time, alone: one that kills its worker again is recorded as failed, the others finish."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    queue, suspects = deque(tasks), deque()
    in_flight: dict = {}  # future -> (task, alone)
    ex = None
    try:
        while queue or suspects or in_flight:
            if ex is None:
                ex = ProcessPoolExecutor(max(1, min(workers, len(queue) + len(suspects))),
                                         mp_context=mp.get_context("spawn"), initializer=_pool_worker_init)
            if suspects:
                if not in_flight:
                    t = suspects.popleft()
                    in_flight[ex.submit(score_clip, t)] = (t, True)
            else:
                while queue and len(in_flight) < workers:
                    t = queue.popleft()
                    in_flight[ex.submit(score_clip, t)] = (t, False)
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                task, alone = in_flight.pop(fut)
                exc = fut.exception()
                if isinstance(exc, BrokenProcessPool):
                    broken = True
                    if alone:
                        on_done(task, ClipRecord(task.clip, task.name, "failed", error=_CRASH))
                    else:
                        suspects.append(task)
                elif exc is not None:
                    on_done(task, ClipRecord(task.clip, task.name, "failed",
                                             error=_one_line(f"internal error: {type(exc).__name__}: {exc}")))
                else:
                    on_done(task, fut.result())
            if broken:
                for fut, (task, _alone) in list(in_flight.items()):  # they all fail with the pool
                    suspects.append(task)
                in_flight.clear()
                ex.shutdown(wait=False, cancel_futures=True)
                ex = None
    except BaseException:
        if ex is not None:
            _kill_pool(ex)
            ex = None
        raise
    finally:
        if ex is not None:
            ex.shutdown(wait=True)


def _connect_dask(address: str):
    """A distributed.Client for ``address`` (a missing package or an unreachable scheduler is an
    InputError, before any file is written)."""
    import logging

    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs Dask distributed: pip install 'valgus-cam[dask]'") from None
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        return Client(address, timeout="15s")
    except (OSError, TimeoutError, ValueError) as e:
        raise InputError(f"cannot connect to the Dask scheduler at {address}: {_one_line(str(e))}") from None


def _dispatch_dask(tasks: Sequence[ClipTask], client, on_done: Callable[[ClipTask, ClipRecord], None]) -> None:
    """The same score_clip on an existing Dask distributed cluster. The workers need valgus-cam
    installed and the clips, DIR (and a --model PATH) at the same paths (a shared file system).
    Dask reschedules the clip of a worker that died; one that kills several is reported failed."""
    from distributed import as_completed

    futures = {}
    try:
        for t in tasks:
            futures[client.submit(score_clip, t, pure=False, key=f"valgus-cam-{t.name}-{os.urandom(4).hex()}")] = t
        for fut in as_completed(list(futures)):
            task = futures[fut]
            if fut.status == "finished":
                on_done(task, fut.result())
            else:
                exc = fut.exception()
                on_done(task, ClipRecord(task.clip, task.name, "failed",
                                         error=_one_line(f"dask: {type(exc).__name__}: {exc}")))
    except BaseException:
        client.cancel(list(futures), force=True)
        raise


# ----------------------------------------------------------------------------------------------
# the batch
# ----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class BatchResult:
    records: list[ClipRecord]  # one per clip, in input order
    out_dir: Path
    settings: Settings
    unmatched: list[str]
    interrupted: bool = False
    files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> list[ClipRecord]:
        return [r for r in self.records if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_CLIPS_FAILED if self.failed else 0


def make_settings(*, model=None, test: str = "auto", stance: str = "auto", config=None, sex: str | None = None,
                  annotate: bool = False, report: bool = True, progress: bool = False) -> Settings:
    """Resolve the model and load the thresholds once, in the parent: a missing model or a bad
    config fails the whole batch before any work (exit 4 / 3)."""
    from .models import default_model_name, load_manifest, resolve_model, sha256_of
    from .verdicts import load_thresholds

    thresholds = load_thresholds(config, sex=sex)
    spec = default_model_name() if model is None else str(model)
    path = resolve_model(spec, progress=progress)
    return Settings(spec if spec in load_manifest() else str(path.resolve()), sha256_of(path), test, stance,
                    thresholds, bool(annotate), bool(report))


def _status_line(r: ClipRecord) -> str:
    if r.status == "failed":
        return f"FAILED  {r.name}: {r.error}" + ("  (earlier run)" if r.reused else "")
    n = r.reps or 0
    parts = [f"{n} rep{'s' if n != 1 else ''}"]
    if n:
        parts.append(f"{r.reps_failed} failed")
        if r.reps_unmeasurable:
            parts.append(f"{r.reps_unmeasurable} not measurable")
    when = "earlier run" if r.reused else f"{r.seconds:.1f} s" if r.seconds is not None else ""
    return f"{'skip' if r.reused else 'ok':6}  {r.name}: {', '.join(parts)}  ({when})"


def run_batch(inputs: Sequence[str | os.PathLike], out: str | os.PathLike = "valgus-out", *,
              workers: int | None = None, scheduler: str | None = None, resume: bool = False,
              retry_failed: bool = False, settings: Settings | None = None,
              progress: bool = False, echo: Callable[[str], None] | None = None, **options) -> BatchResult:
    """Score every clip of ``inputs`` into ``out`` (see the module docstring). ``options`` are
    :func:`make_settings`' (model, test, stance, config, sex, annotate) unless ``settings`` is
    given. ``echo`` receives one status line per clip. Ctrl-C (or SIGTERM) stops the workers and
    returns with ``interrupted`` set after writing the summary."""
    out_dir = Path(out)
    exp = expand_inputs(inputs, exclude=out_dir)
    if not exp.clips:
        raise InputError(f"no video files found in: {', '.join(map(str, inputs))} "
                         f"(video extensions: {' '.join(sorted(VIDEO_SUFFIXES))})")
    settings = settings or make_settings(progress=progress, **options)
    client = _connect_dask(scheduler) if scheduler else None
    try:
        return _run(exp, out_dir, settings, client, workers, resume, retry_failed, progress, echo)
    finally:
        if client is not None:
            client.close()


def _run(exp: Expansion, out_dir: Path, settings: Settings, client, workers: int | None, resume: bool,
         retry_failed: bool, progress: bool, echo: Callable[[str], None] | None) -> BatchResult:
    from tqdm import tqdm

    tasks = plan(exp.clips, out_dir, settings)
    records = [ClipRecord(t.clip, t.name, "pending") for t in tasks]
    index = {t.name: i for i, t in enumerate(tasks)}
    for spec in exp.unmatched:
        print(f"valgus-cam: warning: no video files in {spec}", file=sys.stderr)

    bar = tqdm(total=len(tasks), unit="clip", desc="batch", file=sys.stderr, disable=None if progress else True,
               dynamic_ncols=True)
    lock = threading.Lock()

    def emit(line: str) -> None:
        if echo is None:
            return
        if bar.disable:
            echo(line)
        else:
            bar.write(line, file=sys.stdout)  # above the bar

    def on_done(task: ClipTask, rec: ClipRecord) -> None:
        with lock:
            records[index[task.name]] = rec
            write_summary(out_dir, records, settings, "running")
            emit(_status_line(rec))
            bar.update(1)

    todo = []
    for t in tasks:
        prev = previous_record(t, retry_failed) if resume else None
        if prev is not None:
            records[index[t.name]] = prev
            emit(_status_line(prev))
            bar.update(1)
        else:
            todo.append(t)
    write_summary(out_dir, records, settings, "running")  # an unwritable DIR fails here (exit 5)
    todo.sort(key=lambda t: -_work(t.path))  # longest first: the last clips do not leave workers idle

    result = BatchResult(records, out_dir, settings, exp.unmatched)
    started = time.time()
    restore = _sigterm_as_interrupt()
    try:
        if todo:
            if client is not None:
                _dispatch_dask(todo, client, on_done)
            else:
                _dispatch_local(todo, workers or _cpu_count(), on_done)
    except KeyboardInterrupt:
        result.interrupted = True
        for t in todo:  # clips whose worker finished them before their result reached us
            i = index[t.name]
            if records[i].status == "pending" and _written_since(Path(t.out_dir) / MARKER, started):
                rec = previous_record(t)
                if rec is not None:
                    rec.reused = False
                    records[i] = rec
    finally:
        restore()
        bar.close()
    with lock:
        result.files = write_summary(out_dir, records, settings, "interrupted" if result.interrupted else "complete")
    if not result.interrupted:
        result.files += _batch_outputs(out_dir, records, settings)
    return result


def _written_since(path: Path, t: float) -> bool:
    try:
        return path.stat().st_mtime >= t - 1.0  # coarse file-system clocks
    except OSError:
        return False


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _work(path: str) -> float:
    """Expected analysis cost of a clip, for the dispatch order: frames × (pose ≈ 11 ms + decode ≈
    9 ms per megapixel), from the container's header; the file size when the header says nothing."""
    import cv2

    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        n = cap.get(cv2.CAP_PROP_FRAME_COUNT) if cap.isOpened() else 0
        mp = cap.get(cv2.CAP_PROP_FRAME_WIDTH) * cap.get(cv2.CAP_PROP_FRAME_HEIGHT) / 1e6 if n > 0 else 0
    finally:
        cap.release()
    return n * (11.0 + 9.0 * mp) if n > 0 else _size(path) / 1e4


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _sigterm_as_interrupt() -> Callable[[], None]:
    """While the batch runs, SIGTERM stops it like Ctrl-C (workers stopped, summary written)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old)


def cli(args) -> int:
    """``valgus-cam batch``: prints a status line per clip and the totals; returns the exit code."""
    res = run_batch(args.inputs, args.out, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                    retry_failed=args.retry_failed, progress=not args.no_progress, echo=print,
                    model=args.model, test=args.test, stance=args.stance, config=args.config, sex=args.sex,
                    annotate=args.annotate, report=not args.no_report)
    recs = res.records
    n_ok, n_failed = sum(r.status == "ok" for r in recs), len(res.failed)
    reused = sum(r.reused for r in recs)
    print(f"{len(recs)} clip{'s' if len(recs) != 1 else ''}: {n_ok} ok, {n_failed} failed"
          f"{f', {len(recs) - n_ok - n_failed} not done' if res.interrupted else ''}"
          f"{f' ({reused} from an earlier run)' if reused else ''}; summary in {res.out_dir / SUMMARY_CSV}"
          + (f", reports from {index}" if (index := res.out_dir / "index.html") in res.files else ""))
    if res.interrupted:
        print(f"valgus-cam: interrupted: {n_ok + n_failed} of {len(recs)} clips done and kept; "
              f"rerun with --resume to finish", file=sys.stderr)
    elif n_failed:
        print(f"valgus-cam: {n_failed} of {len(recs)} clips failed (errors in {res.out_dir / SUMMARY_CSV})",
              file=sys.stderr)
    return res.exit_code
