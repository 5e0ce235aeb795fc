"""The HTML report of one analysed clip (``report.html``) and the index page of a batch.

Both pages are self-contained: charts (``plots``) are PNGs and key frames are JPEGs, embedded as
``data:`` URIs; the CSS is inline; there is no script, no web font, no address on the network.
Templates are jinja2 (``valgus_cam/templates``, autoescaped). Files are written atomically.

Entry points::

    write_clip_report(result: AnalyzeResult, path) -> Path      # one clip (analyze --report)
    summary_row(result: AnalyzeResult | None, ...) -> dict       # one row of the batch index
    write_batch_index(rows: list[dict], path, title=...) -> Path  # the batch's index.html

A measure that cannot be trusted is shown as such, with the reason, never as a number: the knee
angle of a side view, pelvic drop (not measured; the pelvic obliquity chart is labelled not
validated).
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import __version__
from .errors import ValgusCamError
from .verdicts import REASONS, RepResult, Thresholds

if TYPE_CHECKING:
    from .api import AnalyzeResult

DISCLAIMER = ("It measures from video how the knees and the trunk move during a squat, within the measurement "
              "limits each clip's report states. It cannot tell whether "
              "anything is injured or why a knee moves the way it does. If you have pain, swelling or a knee "
              "that gives way, or are unsure what the results mean, see a physiotherapist or a doctor.")

MAX_YAW_DEG = 15.0  # measures.GateConfig.max_yaw_deg: frontal-plane FPPA refused beyond this body yaw

# Short sources of the limits (full citations in REFERENCES; details in docs/verdicts.md)
SOURCES = {
    "knee": "healthy single-leg squat ≈ 8 ± 5°, patellofemoral pain ≈ 17 ± 5° (Herrington 2014; Willson & "
            "Davis 2008): 13° = healthy mean + 1 SD",
    "knee_sex": "normal ranges 5–12° (women), 1–9° (men) for a single-leg landing (Herrington & Munro 2010)",
    "separation": "knees closer together than the ankles = medial collapse (Barber-Westin et al. 2005)",
    "trunk": "clinical single-leg-squat ratings score trunk lean by eye (Crossley et al. 2011); 10° is this "
             "program's convention, well outside its 1.4° measurement error",
    "difference": "smallest detectable difference of 2D video knee angles (Munro et al. 2012)",
    "pelvis": "not measured: MediaPipe's hip points do not follow the pelvis (error ≈ 10°)",
}
REFERENCES = [
    "Barber-Westin SD, Noyes FR, Galloway M (2005). Jump-land characteristics and muscle strength development "
    "in young athletes. Am J Sports Med 33(5):718–727.",
    "Crossley KM, Zhang WJ, Schache AG, Bryant A, Cowan SM (2011). Performance on the single-leg squat task "
    "indicates hip abductor muscle function. Am J Sports Med 39(4):866–873.",
    "Herrington L (2014). Knee valgus angle during single leg squat and landing in patellofemoral pain patients "
    "and controls. The Knee 21(2):514–517.",
    "Herrington L, Munro A (2010). Drop jump landing knee valgus angle; normative data in a physically active "
    "population. Phys Ther Sport 11(2):56–59.",
    "Munro A, Herrington L, Carolan M (2012). Reliability of 2-dimensional video assessment of frontal-plane "
    "dynamic knee valgus during common athletic screening tasks. J Sport Rehabil 21(1):7–11.",
    "Willson JD, Davis IS (2008). Utility of the frontal plane projection angle in females with patellofemoral "
    "pain. J Orthop Sports Phys Ther 38(10):606–615.",
]

FILE_WHAT = {"reps.json": "the numbers and verdict of each rep", "frames.csv": "the measures of every frame",
             "landmarks.csv": "the pose landmarks of every frame", "annotated.mp4": "the video with the drawing"}
TEST_NAMES = {"single_leg_squat": "single-leg squat", "double_leg_squat": "double-leg squat"}
VIEW_NAMES = {"frontal": "front view", "sagittal": "side view", "oblique": "angled view"}
STANCE_NAMES = {"left": "left leg", "right": "right leg", "both": "both legs"}
VERDICT_WORDS = {"pass": ("✓", "PASS"), "fail": ("✗", "FAIL"), "unmeasurable": ("?", "NOT MEASURABLE")}


def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("valgus_cam", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _deg(x: float | None, fmt: str = "{:+.0f}°", missing: str = "—") -> str:
    return missing if x is None or not math.isfinite(x) else fmt.format(x)


def _now() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# ------------------------------------------------------------------------------------------------
# key frames
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyFrame:
    role: str  # "worst" | "best" | "only"
    rep: int
    caption: str
    badge: str  # "✗ FAIL"
    image_uri: str | None  # data:image/jpeg;base64,… (None: the frame could not be read)
    verdict: str


def read_video_frames(spec: str, indices: set[int], fps: float | None = None) -> dict[int, np.ndarray]:
    """The BGR images of the given 0-based frame indices of a clip (video file or image folder),
    with the numbering and the rotation of the analysis (``capture``). A video is decoded in order
    up to the last frame wanted (no seeking: frame-accurate on any codec and variable frame rate),
    converting only the frames wanted."""
    import cv2

    from .capture import VideoFileSource, open_source

    want = set(int(i) for i in indices)
    out: dict[int, np.ndarray] = {}
    if not want:
        return out
    last = max(want)
    with open_source(spec, fps=fps) as src:
        if not isinstance(src, VideoFileSource):
            for frame in src:
                if frame.index in want:
                    out[frame.index] = frame.image_bgr.copy()
                if frame.index >= last:
                    break
            return out
    # as VideoFileSource reads (frame k = the k-th successful read), but grab() skips the colour
    # conversion of the frames not wanted
    cap = cv2.VideoCapture(str(spec), cv2.CAP_FFMPEG)
    try:
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        for k in range(last + 1):
            if k in want:
                ok, img = cap.read()
                if ok and img is not None:
                    out[k] = img
            else:
                ok = cap.grab()
            if not ok:
                break
    finally:
        cap.release()
    return out


def _fit(img: np.ndarray, max_w: int, max_h: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = min(1.0, max_w / w, max_h / h)
    if s >= 1.0:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def person_crop(xy_px: np.ndarray | None, w: int, h: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the frame cropped to the person, with room above the head for the
    verdict banner and below the feet for the legend, at least 3:4 (portrait). The whole frame
    when nobody is found or the person fills it anyway."""
    pts = None if xy_px is None else xy_px[np.isfinite(xy_px).all(axis=1)]
    if pts is None or len(pts) < 5:
        return 0, 0, w, h
    (px0, py0), (px1, py1) = pts.min(axis=0), pts.max(axis=0)
    body_h = max(py1 - py0, 1.0)
    top, bottom = py0 - 0.45 * body_h, py1 + 0.22 * body_h
    width = max(1.6 * (px1 - px0), 0.75 * (bottom - top))
    cx = (px0 + px1) / 2

    def span(lo: float, hi: float, size: int) -> tuple[int, int]:
        length = min(hi - lo, size)
        lo = min(max(lo, 0.0), size - length)
        return int(round(lo)), int(round(lo + length))

    x0, x1 = span(cx - width / 2, cx + width / 2, w)
    y0, y1 = span(top, bottom, h)
    if (x1 - x0) * (y1 - y0) > 0.7 * w * h:
        return 0, 0, w, h
    return x0, y0, x1, y1


def jpeg_uri(img_bgr: np.ndarray, quality: int = 85) -> str:
    import cv2

    ok, buf = cv2.imencode(".jpg", img_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data_uri(buf.tobytes(), "image/jpeg")


def _badness(r: RepResult) -> tuple:
    knees = [v for v in (r.fppa_frontal_left_deg, r.fppa_frontal_right_deg) if v is not None]
    return (len(r.reasons), max(knees) if knees else -math.inf)


def pick_worst_best(results: list[RepResult], worst_index: int | None) -> tuple[RepResult | None, RepResult | None]:
    """The worst rep (the summary's) and the best other one: fewest failed criteria, then the
    smallest knee angle; a rep whose knee was measured beats one whose was not."""
    if not results:
        return None, None
    worst = next((r for r in results if r.index == worst_index), None) or max(results, key=_badness)
    others = [r for r in results if r.index != worst.index]
    if not others:
        return worst, None

    def goodness(r: RepResult):
        knees = [v for v in (r.fppa_frontal_left_deg, r.fppa_frontal_right_deg) if v is not None]
        return (r.verdict == "unmeasurable", len(r.reasons), max(knees) if knees else math.inf)

    return worst, min(others, key=goodness)


def key_frames(result: "AnalyzeResult", max_w: int = 640, max_h: int = 720) -> tuple[list[KeyFrame], str | None]:
    """Bottom frames of the worst and the best rep with the annotated video's overlay (and the
    rep's own PASS / FAIL banner). Returns the frames and a note when they could not be made."""
    from .annotate import draw_overlay
    from .overlay import overlay_frames, rep_verdict

    a = result.analysis
    worst, best = pick_worst_best(a.results, a.summary.worst_rep)
    if worst is None:
        return [], None
    reps = [("worst" if best is not None else "only", worst)] + ([("best", best)] if best is not None else [])
    positions = {r.bottom_frame for _, r in reps}
    overlays = {k: ov for k, ov in enumerate(overlay_frames(a, result.series)) if k in positions}
    video_index = {r.bottom_frame: int(result.frame_index[r.bottom_frame]) for _, r in reps}
    note = None
    try:
        images = read_video_frames(result.video, set(video_index.values()))
    except ValgusCamError as e:
        images, note = {}, f"the video could not be read again for the key frames ({e})"
    frames = []
    for role, r in reps:
        img = images.get(video_index[r.bottom_frame])
        uri = None
        if img is not None:
            ov = overlays[r.bottom_frame]
            x0, y0, x1, y1 = person_crop(ov.xy_px, img.shape[1], img.shape[0])
            xy = None if ov.xy_px is None else ov.xy_px - (x0, y0)
            ov = replace(ov, xy_px=xy, verdict=rep_verdict(r, a))
            uri = jpeg_uri(_fit(draw_overlay(np.ascontiguousarray(img[y0:y1, x0:x1]), ov), max_w, max_h))
        elif note is None:
            note = "a key frame could not be decoded from the video"
        icon, word = VERDICT_WORDS.get(r.verdict, ("?", r.verdict.upper()))
        what = {"worst": "Worst rep", "best": "Best rep", "only": "The only rep"}[role]
        caption = f"{what}: rep {r.index} ({STANCE_NAMES.get(r.stance, r.stance)}), deepest point at {r.bottom_s:.1f} s"
        frames.append(KeyFrame(role, r.index, caption, f"{icon} {word}", uri, r.verdict))
    return frames, note


# ------------------------------------------------------------------------------------------------
# the page's content
# ------------------------------------------------------------------------------------------------
def reason_lines(r: RepResult, th: Thresholds) -> list[str]:
    """Each failed criterion in plain words with its value and limit."""
    out = []
    for code in r.reasons:
        text = REASONS.get(code, code.replace("_", " "))
        text = text[:1].upper() + text[1:]
        if code in ("knee_valgus_left", "knee_valgus_right"):
            v = r.fppa_frontal_left_deg if code.endswith("left") else r.fppa_frontal_right_deg
            text += f": {_deg(v)} (limit {th.knee_limit_deg:.0f}°)"
        elif code == "knees_caving" and r.knee_separation_ratio is not None:
            text += (f": knee gap {r.knee_separation_ratio:.2f} × the standing gap "
                     f"(limit {th.knee_separation_min_ratio:.2f} ×)")
        elif code == "trunk_lean" and r.trunk_lean_deg is not None:
            text += f": {abs(r.trunk_lean_deg):.0f}° (limit {th.trunk_lean_max_deg:.0f}°)"
        out.append(text)
    if r.verdict == "unmeasurable":
        out.append("Knee angle could not be measured (see below)")
    return out


def fppa_unmeasurable_reason(result: "AnalyzeResult") -> str | None:
    """Why the knee angle is missing from the whole clip (None when it was measured somewhere)."""
    m = result.measures
    if np.isfinite(m.fppa_frontal_left_deg).any() or np.isfinite(m.fppa_frontal_right_deg).any():
        return None
    if not m.detected.any():
        return "nobody was found in the video"
    if m.view != "frontal":
        return (f"{VIEW_NAMES.get(m.view, m.view)}: the knee angle needs a camera in front of the person, "
                "not at the side")
    yaw = result.document["body_yaw_deg"]
    if yaw is not None and abs(yaw) > MAX_YAW_DEG:
        return (f"the camera was {abs(yaw):.0f}° off the body's front (the limit is {MAX_YAW_DEG:.0f}°): "
                "stand square to the camera")
    return "the legs were too small in the picture, foreshortened or not visible"


def _knee_stats(results: list[RepResult], side: str) -> dict:
    from .plots import knee_values

    vals = [v for _, v in knee_values(results, side)]
    return {"side": side, "n": len(vals), "mean": _deg(float(np.mean(vals))) if vals else "—",
            "max": _deg(max(vals)) if vals else "—",
            "mean_deg": float(np.mean(vals)) if vals else None}


def clip_context(result: "AnalyzeResult", *, key_frame_width_px: int = 640, generated: str | None = None,
                 report_dir: Path | None = None) -> dict:
    """Everything the clip template shows, as plain values (strings formatted here)."""
    from . import plots

    a, m, doc = result.analysis, result.measures, result.document
    th = a.thresholds
    limit = th.knee_limit_deg
    video = Path(result.video)
    t = m.time_s
    duration = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    try:
        file_date = _dt.datetime.fromtimestamp(video.stat().st_mtime).astimezone().strftime("%Y-%m-%d %H:%M")
    except OSError:
        file_date = None
    meta = [("clip", video.name), ("report made", generated or _now()), ("video file date", file_date or "—"),
            ("test", TEST_NAMES.get(a.test, a.test)), ("camera view", VIEW_NAMES.get(m.view, m.view)),
            ("body yaw", _deg(doc["body_yaw_deg"], "{:+.0f}° (camera angle from the body's front)", "unknown")),
            ("camera roll", _deg(doc["camera_roll_deg"], "{:+.1f}°")),
            ("length", f"{duration:.1f} s, {len(result.frame_index)} frames"
                       + (f" at {result.fps:.1f} frames/s" if result.fps and math.isfinite(result.fps) else "")),
            ("person found in", f"{int(m.detected.sum())} of {len(m.detected)} frames"),
            ("pose model", result.model_name), ("valgus-cam", __version__)]

    # at a glance
    res = a.results
    counts = Counter(r.verdict for r in res)
    reason_counts = Counter(c for r in res for c in r.reasons)
    top_reasons = [f"{REASONS.get(c, c)} ({n} of {len(res)} rep{'s' if len(res) != 1 else ''})"
                   for c, n in reason_counts.most_common()]
    legs = []
    for leg in a.summary.legs:
        status = ("pass" if leg.failed == 0 and leg.passed else "fail" if leg.failed else "unmeasurable")
        gaps = [r.knee_separation_ratio for r in res if r.stance == leg.stance and r.knee_separation_ratio is not None]
        legs.append({"name": STANCE_NAMES.get(leg.stance, leg.stance).capitalize(), "reps": leg.reps,
                     "passed": leg.passed, "failed": leg.failed, "unmeasurable": leg.unmeasurable,
                     "mean": _deg(leg.fppa_frontal_mean_deg, missing="not measurable"), "status": status,
                     "gap": f"{np.mean(gaps):.2f} ×" if gaps else None})
    double = any(r.knee_separation_ratio is not None for r in res) or (a.test == "double_leg_squat" and not res)

    # reps table; a "not judged" note every rep shares is said once under the table
    shared_nm = set.intersection(*(set(r.not_measured) for r in res)) if res else set()
    rows = []
    for r in res:
        icon, word = VERDICT_WORDS.get(r.verdict, ("?", r.verdict.upper()))
        rows.append({"index": r.index, "time": f"{r.start_s:.1f}–{r.end_s:.1f} s", "bottom": f"{r.bottom_s:.1f} s",
                     "stance": STANCE_NAMES.get(r.stance, r.stance),
                     "knee_left": _deg(r.fppa_frontal_left_deg), "knee_right": _deg(r.fppa_frontal_right_deg),
                     "knee_left_fault": "knee_valgus_left" in r.reasons,
                     "knee_right_fault": "knee_valgus_right" in r.reasons,
                     "gap": _deg(r.knee_separation_ratio, "{:.2f} ×"), "gap_fault": "knees_caving" in r.reasons,
                     "flexion": _deg(r.knee_flexion_deg, "{:.0f}°"), "trunk": _deg(r.trunk_lean_deg),
                     "trunk_fault": "trunk_lean" in r.reasons,
                     "verdict": r.verdict, "icon": icon, "word": word, "reasons": reason_lines(r, th),
                     "not_measured": [n for n in r.not_measured if n not in shared_nm]})

    unmeasurable = fppa_unmeasurable_reason(result)
    knee_chart = plots.knee_angle_chart(a, unmeasurable)
    lr_chart = plots.left_right_chart(a)
    knees = [_knee_stats(res, s) for s in ("left", "right")]
    s = a.summary
    if s.left_right_difference_deg is not None:
        d = s.left_right_difference_deg
        more = "left" if d > 0 else "right"
        lr_text = (f"On average the {more} knee went {abs(d):.0f}° further inwards than the other "
                   f"(left − right = {d:+.0f}°). ")
        lr_text += (f"That is more than the {th.meaningful_difference_deg:.0f}° that 2D video can resolve: "
                    "a real difference between the legs." if s.difference_meaningful else
                    f"That is less than the {th.meaningful_difference_deg:.0f}° that 2D video can resolve: "
                    "treat the two knees as alike.")
    elif not res:
        lr_text = "No rep was found, so the legs cannot be compared."
    elif unmeasurable:
        lr_text = f"The knee angle could not be measured ({unmeasurable}), so the legs cannot be compared."
    else:
        tested = sorted({k["side"] for k in knees if k["n"]})
        lr_text = (f"Only the {tested[0]} knee could be judged in this clip (the other leg was not tested or not "
                   "measurable), so the legs cannot be compared: film the other leg too." if tested else
                   "The knee angle was not judged in any rep, so the legs cannot be compared.")

    worst_best, kf_note = key_frames(result, max_w=key_frame_width_px) if res else ([], None)

    thresholds = [
        {"what": "Knee caving in (knee angle at the bottom of the rep)", "limit": f"{limit:.0f}°",
         "source": SOURCES["knee_sex"] if th.sex else SOURCES["knee"]},
        {"what": "Knees moving together (double-leg squat; knee gap vs standing)",
         "limit": f"{th.knee_separation_min_ratio:.2f} ×", "source": SOURCES["separation"]},
        {"what": "Trunk leaning sideways (relative to standing)", "limit": f"{th.trunk_lean_max_deg:.0f}°",
         "source": SOURCES["trunk"]},
        {"what": "Hands off the hips / free foot touching down (single-leg squat)", "limit": "—",
         "source": "the test's protocol"},
        {"what": "Pelvic drop", "limit": "not applied", "source": SOURCES["pelvis"]},
        {"what": "Meaningful left–right difference", "limit": f"{th.meaningful_difference_deg:.0f}°",
         "source": SOURCES["difference"]},
    ]
    files = []
    for p in result.files:
        href = os.path.relpath(p, report_dir) if report_dir is not None else p.name
        files.append({"name": p.name, "href": Path(href).as_posix(), "what": FILE_WHAT.get(p.name, "")})
    return {
        "title": f"Squat screening report: {video.name}",
        "clip": video.name, "meta": meta, "disclaimer": DISCLAIMER,
        "test": TEST_NAMES.get(a.test, a.test), "single_leg": a.test == "single_leg_squat",
        "n_reps": len(res), "passed": counts["pass"], "failed": counts["fail"],
        "unmeasurable": counts["unmeasurable"], "top_reasons": top_reasons, "legs": legs,
        "warnings": ([f"filmed in {VIEW_NAMES.get(m.view, m.view)}: the knee and trunk measures are made for a "
                      "camera in front of the person; from this view their verdicts are not reliable"]
                     if m.view != "frontal" and m.detected.any() else []) + list(a.warnings),
        "double": double, "limit_gap": f"{th.knee_separation_min_ratio:.2f} ×",
        "gap_chart": _chart_ctx(plots.knee_gap_chart(a)) if double else None,
        "limit": f"{limit:.0f}°", "trunk_limit": f"{th.trunk_lean_max_deg:.0f}°",
        "knee_chart": _chart_ctx(knee_chart),
        "knee_unmeasurable": unmeasurable,
        "knee_gaps": bool(unmeasurable is None and any(
            (~np.isfinite(v[m.detected])).any() for v in plots.masked_knees(a).values())),
        "reps": rows, "shared_not_measured": sorted(shared_nm),
        "key_frames": worst_best, "key_frames_note": kf_note,
        "knees": knees, "lr_text": lr_text,
        "lr_chart": _chart_ctx(lr_chart) if lr_chart else None,
        "trunk_chart": _chart_ctx(plots.trunk_chart(a)), "pelvis_chart": _chart_ctx(plots.pelvis_chart(a)),
        "thresholds": thresholds, "references": REFERENCES, "files": files,
    }


def _chart_ctx(c) -> dict:
    return {"src": data_uri(c.png, "image/png"), "alt": c.alt}


def render_clip_report(result: "AnalyzeResult", *, key_frame_width_px: int = 640, report_dir: Path | None = None,
                       generated: str | None = None) -> str:
    """The clip's report as an HTML string."""
    ctx = clip_context(result, key_frame_width_px=key_frame_width_px, report_dir=report_dir, generated=generated)
    return _env().get_template("clip_report.html.j2").render(**ctx)


def write_clip_report(result: "AnalyzeResult", path: str | os.PathLike, *, key_frame_width_px: int = 640) -> Path:
    """Write ``result``'s self-contained HTML report to ``path`` (atomically); returns the path.
    The key frames are decoded again from ``result.video``; if it cannot be read the page says so."""
    from .sinks import atomic_open

    path = Path(path)
    html = render_clip_report(result, key_frame_width_px=key_frame_width_px, report_dir=path.parent)
    with atomic_open(path) as f:
        f.write(html)
    return path


# ------------------------------------------------------------------------------------------------
# batch index
# ------------------------------------------------------------------------------------------------
ROW_KEYS = ("clip", "report", "status", "error", "test", "view", "reps", "left_passed", "left_failed",
            "right_passed", "right_failed", "both_passed", "both_failed", "not_measurable", "worst_fppa_left_deg",
            "worst_fppa_right_deg", "min_knee_gap_ratio", "worst_pelvic_drop_deg", "knee_limit_deg",
            "knee_gap_limit_ratio", "warnings")


def summary_row(result: "AnalyzeResult | None", *, clip: str, report_href: str | None = None,
                status: str = "ok", error: str | None = None) -> dict:
    """One row of the batch index (keys ``ROW_KEYS``) from a clip's result; ``result=None`` with
    ``status="error"`` and ``error`` for a clip that failed. Values that do not apply are None."""
    row = dict.fromkeys(ROW_KEYS)
    row.update(clip=clip, report=report_href, status=status, error=error)
    if result is None:
        return row
    a = result.analysis
    res = a.results
    row.update(test=a.test, view=a.measures.view, reps=len(res), knee_limit_deg=a.thresholds.knee_limit_deg,
               not_measurable=sum(r.verdict == "unmeasurable" for r in res), warnings=len(a.warnings))
    for leg in ("left", "right", "both"):
        rs = [r for r in res if r.stance == leg]
        row[f"{leg}_passed"] = sum(r.verdict == "pass" for r in rs) if rs else None
        row[f"{leg}_failed"] = sum(r.verdict == "fail" for r in rs) if rs else None
    from .plots import knee_values

    for side in ("left", "right"):
        vals = [v for _, v in knee_values(res, side)]
        row[f"worst_fppa_{side}_deg"] = round(max(vals), 1) if vals else None
    gaps = [r.knee_separation_ratio for r in res if r.knee_separation_ratio is not None]
    row["min_knee_gap_ratio"] = round(min(gaps), 2) if gaps else None
    row["knee_gap_limit_ratio"] = a.thresholds.knee_separation_min_ratio
    drops = [r.pelvic_drop_deg for r in res if r.pelvic_drop_deg is not None]
    row["worst_pelvic_drop_deg"] = round(max(drops), 1) if drops else None
    return row


def _cell_num(v, fmt="{:+.0f}°") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else "—"


def _pf(row: dict, leg: str) -> str:
    p, f = row.get(f"{leg}_passed"), row.get(f"{leg}_failed")
    if p is None and f is None:
        return "—"
    return f"{p or 0} ✓ / {f or 0} ✗"


def write_batch_index(rows: list[dict], path: str | os.PathLike, title: str = "valgus-cam batch report", *,
                      knee_limit_deg: float | None = None, generated: str | None = None) -> Path:
    """Write the batch's index page (atomically): a chart of the worst knee angle per clip and a
    table with one row per clip linking to its report. ``rows``: dicts with the keys of
    :data:`ROW_KEYS` (see :func:`summary_row`; missing keys show as "—"); ``report`` is the link
    relative to the index page (e.g. ``"clip1/report.html"``). Returns the path."""
    from . import plots
    from .sinks import atomic_open

    path = Path(path)
    if knee_limit_deg is None:
        limits = [r["knee_limit_deg"] for r in rows if isinstance(r.get("knee_limit_deg"), (int, float))]
        knee_limit_deg = limits[0] if limits else Thresholds().knee_limit_deg
    chart = plots.batch_chart(rows, knee_limit_deg)
    table = []
    for r in rows:
        ok = r.get("status", "ok") in ("ok", None)
        wl, wr = r.get("worst_fppa_left_deg"), r.get("worst_fppa_right_deg")
        table.append({
            "clip": str(r.get("clip", "?")), "report": r.get("report"), "ok": ok,
            "status": str(r.get("status") or "ok"), "error": r.get("error") or "",
            "test": TEST_NAMES.get(r.get("test"), r.get("test") or "—"),
            "view": VIEW_NAMES.get(r.get("view"), r.get("view") or "—"),
            "reps": r["reps"] if isinstance(r.get("reps"), int) else "—",
            "legs": [(STANCE_NAMES[leg], _pf(r, leg)) for leg in ("left", "right", "both") if _pf(r, leg) != "—"],
            "worst_left": _cell_num(wl), "worst_right": _cell_num(wr),
            "gap": _cell_num(r.get("min_knee_gap_ratio"), "{:.2f} ×") if r.get("min_knee_gap_ratio") is not None
            else None,
            "gap_fault": isinstance(r.get("min_knee_gap_ratio"), (int, float))
            and r["min_knee_gap_ratio"] < (r.get("knee_gap_limit_ratio") or Thresholds().knee_separation_min_ratio),
            "worst_left_fault": isinstance(wl, (int, float)) and wl > knee_limit_deg,
            "worst_right_fault": isinstance(wr, (int, float)) and wr > knee_limit_deg,
            "pelvic": "—" if not ok else _cell_num(r.get("worst_pelvic_drop_deg"))
            if r.get("worst_pelvic_drop_deg") is not None else "not measured",
            "warnings": r.get("warnings") if isinstance(r.get("warnings"), int) else
            (len(r["warnings"]) if isinstance(r.get("warnings"), (list, tuple)) else 0),
        })
    n_ok = sum(t["ok"] for t in table)
    totals = {"clips": len(rows), "ok": n_ok, "errors": len(rows) - n_ok,
              "reps": sum(r["reps"] for r in rows if isinstance(r.get("reps"), int)),
              "failed": sum(r.get(f"{leg}_failed") or 0 for r in rows for leg in ("left", "right", "both")),
              "passed": sum(r.get(f"{leg}_passed") or 0 for r in rows for leg in ("left", "right", "both"))}
    html = _env().get_template("batch_index.html.j2").render(
        title=title, generated=generated or _now(), disclaimer=DISCLAIMER, rows=table, totals=totals,
        limit=f"{knee_limit_deg:.0f}°", version=__version__,
        chart=_chart_ctx(chart) if chart else None)
    with atomic_open(path) as f:
        f.write(html)
    return path
