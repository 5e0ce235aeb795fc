"""The HTML report of one analysed clip (``report.html``) and the index page of a batch.

Both pages are self-contained: charts (``plots``) are PNGs and key frames are JPEGs, embedded as
``data:`` URIs; the CSS is inline; there is no web font, no address on the network. The one thing
outside the page is ``annotated.mp4`` when it was written beside the report (:func:`video_context`):
the page then shows it in a ``<video>`` (relative link) with a short inline script (rep links seek
it, playback speed, the timeline); without it there is no video and no script. Templates are jinja2
(``valgus_cam/templates``, autoescaped). Files are written atomically.

Entry points::

    write_clip_report(result: AnalyzeResult, path) -> Path      # one clip (analyze --report)
    summary_row(result: AnalyzeResult | None, ...) -> dict       # one row of the batch index
    write_batch_index(rows: list[dict], path, title=...) -> Path  # the batch's index.html

Each test has its page (templates ``clip_report`` for the squats, ``standing_report``,
``landing_report``, sharing ``_base``): the squat's reps, the standing check's hold, the landing
check's landings. Every page says what to work on for exactly the criteria that failed
(``guidance``) and compares left and right from ``summary.asymmetry``.

A measure that cannot be trusted is shown as such, with the reason, never as a number: the knee
angle of a side view, the pelvic drop where no waistband line is seen or the video's pixels are
not at hand.
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
from .kinds import TestKind
from .measures import GateConfig
from .verdicts import KNEE_CRITERIA, PHASE_WORDS, REASONS, Finding, RepResult, Thresholds
from .verdicts import VERDICT_WORDS as _WORDS

if TYPE_CHECKING:
    from .api import AnalyzeResult

DISCLAIMER = ("It measures from video how the legs and the trunk line up and move, within the measurement "
              "limits each clip's report states. It cannot tell whether "
              "anything is injured or why a knee moves the way it does. If you have pain, swelling or a knee "
              "that gives way, or are unsure what the results mean, see a physiotherapist or a doctor.")

MAX_YAW_DEG = GateConfig().max_yaw_deg  # frontal-plane FPPA refused beyond this body yaw

# Short sources of the limits (full citations in REFERENCES; details in docs/verdicts.md)
SOURCES = {
    "knee": "healthy single-leg squat ≈ 8 ± 5°, patellofemoral pain ≈ 17 ± 5° (Herrington 2014; Willson & "
            "Davis 2008): 13° = healthy mean + 1 SD",
    "knee_sex": "normal ranges 5–12° (women), 1–9° (men) for a single-leg landing (Herrington & Munro 2010)",
    "separation": "knees closer together than the ankles = medial collapse (Barber-Westin et al. 2005)",
    "trunk": "clinical single-leg-squat ratings score trunk lean by eye (Crossley et al. 2011); 10° is this "
             "program's convention, well outside its 1.4° measurement error",
    "difference": "smallest detectable difference of 2D video knee angles (Munro et al. 2012)",
    "pelvis": "people with patellofemoral pain drop 10.3 ± 4.7°, healthy people 7.4 ± 3.8° in a single-leg squat "
              "(Nakagawa et al. 2012, 3D): 10° = the pain group's mean; from the waistband line (docs/pelvis.md)",
    "hip_drift": "the hips drifting outside the standing foot is a fault of the single-leg squat (Crossley et al. "
                 "2011; Hardcastle & Nade 1985: shifting the trunk over the stance side is a trick movement); "
                 "limit = half a foot's breadth, 0.0275 × height (Winter 2009 after Drillis & Contini 1966), "
                 "a setting of this program",
}
REFERENCES = [
    "Barber-Westin SD, Noyes FR, Galloway M (2005). Jump-land characteristics and muscle strength development "
    "in young athletes. Am J Sports Med 33(5):718–727.",
    "Crossley KM, Zhang WJ, Schache AG, Bryant A, Cowan SM (2011). Performance on the single-leg squat task "
    "indicates hip abductor muscle function. Am J Sports Med 39(4):866–873.",
    "Hardcastle P, Nade S (1985). The significance of the Trendelenburg test. J Bone Joint Surg Br 67(5):741–746.",
    "Heath CH, Staheli LT (1993). Normal limits of knee angle in white children — genu varum and genu valgum. "
    "J Pediatr Orthop 13(2):259–262.",
    "Herrington L (2014). Knee valgus angle during single leg squat and landing in patellofemoral pain patients "
    "and controls. The Knee 21(2):514–517.",
    "Herrington L, Munro A (2010). Drop jump landing knee valgus angle; normative data in a physically active "
    "population. Phys Ther Sport 11(2):56–59.",
    "Munro A, Herrington L, Carolan M (2012). Reliability of 2-dimensional video assessment of frontal-plane "
    "dynamic knee valgus during common athletic screening tasks. J Sport Rehabil 21(1):7–11.",
    "Nakagawa TH, Moriya ET, Maciel CD, Serrão FV (2012). Trunk, pelvis, hip, and knee kinematics, hip strength, "
    "and gluteal muscle activation during a single-leg squat in males and females with and without "
    "patellofemoral pain syndrome. J Orthop Sports Phys Ther 42(6):491–501.",
    "Noyes FR, Barber-Westin SD, Fleckenstein C, Walsh C, West J (2005). The drop-jump screening test: difference "
    "in lower limb control by gender and effect of neuromuscular training in female athletes. Am J Sports Med "
    "33(2):197–207.",
    "Shohat N, Machluf Y, Farkash R, Finestone AS, Chaiter Y (2018). Clinical knee alignment among adolescents and "
    "association with body mass index: a large prevalence study. Isr Med Assoc J 20(2):75–79.",
    "Staheli LT, Corbett M, Wyss C, King H (1985). Lower-extremity rotational problems in children. Normal values "
    "to guide management. J Bone Joint Surg Am 67(1):39–47.",
    "Willson JD, Davis IS (2008). Utility of the frontal plane projection angle in females with patellofemoral "
    "pain. J Orthop Sports Phys Ther 38(10):606–615.",
    "Winter DA (2009). Biomechanics and Motor Control of Human Movement, 4th ed. Wiley (Fig. 4.1, segment lengths "
    "after Drillis R, Contini R (1966), Body Segment Parameters, Tech. Rep. 1166.03, New York University).",
]

FILE_WHAT = {"reps.json": "the numbers and verdict of each rep", "frames.csv": "the measures of every frame",
             "landmarks.csv": "the pose landmarks of every frame", "annotated.mp4": "the video with the drawing"}
TEST_NAMES = {kind: kind.words for kind in TestKind}  # also looked up by a summary row's plain string
VIEW_NAMES = {"frontal": "front view", "sagittal": "side view", "oblique": "angled view"}
STANCE_NAMES = {"left": "left leg", "right": "right leg", "both": "both legs"}
VERDICT_WORDS = {k: (mark, _WORDS[k]) for k, mark in (("pass", "✓"), ("fail", "✗"), ("unmeasurable", "?"))}


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
    role: str  # "worst" | "best" | "only" | "hold" | "landing"
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


def person_crop(xy_px: np.ndarray | None, w: int, h: int, top_room: float = 0.45) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the frame cropped to the person, with room above the head for the
    verdict banner (``top_room`` body heights) and below the feet for the legend, at least 3:4
    (portrait). The whole frame when nobody is found or the person fills it anyway."""
    pts = None if xy_px is None else xy_px[np.isfinite(xy_px).all(axis=1)]
    if pts is None or len(pts) < 5:
        return 0, 0, w, h
    (px0, py0), (px1, py1) = pts.min(axis=0), pts.max(axis=0)
    body_h = max(py1 - py0, 1.0)
    top, bottom = py0 - top_room * body_h, py1 + 0.22 * body_h
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
    knees = [v for v in (r.knee_angle_deg("left"), r.knee_angle_deg("right")) if v is not None]
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
        knees = [v for v in (r.knee_angle_deg("left"), r.knee_angle_deg("right")) if v is not None]
        return (r.verdict == "unmeasurable", len(r.reasons), max(knees) if knees else math.inf)

    return worst, min(others, key=goodness)


def overlay_images(result: "AnalyzeResult", adjust: dict, *, max_w: int = 640, max_h: int = 720,
                   style=None, top_room: float = 0.45) -> tuple[dict[int, str | None], str | None]:
    """JPEG data URIs of analysed frames with the annotated video's drawing, cropped to the person.
    ``adjust``: {position in the analysis: function OverlayFrame → OverlayFrame to draw}. Returns
    the URIs (None: the frame could not be decoded) and a note when some could not be made.
    ``top_room``: space above the head in the crop, for a banner (:func:`person_crop`)."""
    from .annotate import Style, draw_overlay
    from .overlay import overlay_frames

    a = result.analysis
    positions = set(adjust)
    overlays = {k: ov for k, ov in enumerate(overlay_frames(a, result.series)) if k in positions}
    video_index = {p: int(result.frame_index[p]) for p in positions}
    note = None
    try:
        images = read_video_frames(result.video, set(video_index.values()))
    except ValgusCamError as e:
        images, note = {}, f"the video could not be read again for the key frames ({e})"
    uris: dict[int, str | None] = {}
    for p, fn in adjust.items():
        img = images.get(video_index[p])
        if img is None:
            uris[p] = None
            note = note or "a key frame could not be decoded from the video"
            continue
        ov = overlays[p]
        x0, y0, x1, y1 = person_crop(ov.xy_px, img.shape[1], img.shape[0], top_room)
        ov = fn(replace(ov, xy_px=None if ov.xy_px is None else ov.xy_px - (x0, y0)))
        crop = np.ascontiguousarray(img[y0:y1, x0:x1])
        uris[p] = jpeg_uri(_fit(draw_overlay(crop, ov, style=style or Style()), max_w, max_h))
    return uris, note


def key_frames(result: "AnalyzeResult", max_w: int = 640, max_h: int = 720) -> tuple[list[KeyFrame], str | None]:
    """Bottom frames of the worst and the best rep with the annotated video's overlay (and the
    rep's own PASS / FAIL banner). Returns the frames and a note when they could not be made."""
    from .overlay import rep_verdict

    a = result.analysis
    worst, best = pick_worst_best(a.results, a.summary.worst_rep)
    if worst is None:
        return [], None
    reps = [("worst" if best is not None else "only", worst)] + ([("best", best)] if best is not None else [])
    moment = {r.index: key_moment(r) for _, r in reps}
    uris, note = overlay_images(
        result, {moment[r.index][0]: (lambda ov, r=r: replace(ov, verdict=rep_verdict(r, a))) for _, r in reps},
        max_w=max_w, max_h=max_h)
    frames = []
    for role, r in reps:
        icon, word = VERDICT_WORDS.get(r.verdict, ("?", r.verdict.upper()))
        what = {"worst": "Worst rep", "best": "Best rep", "only": "The only rep"}[role]
        frame, when = moment[r.index]
        caption = f"{what}: rep {r.index} ({STANCE_NAMES.get(r.stance, r.stance)}), {when}"
        frames.append(KeyFrame(role, r.index, caption, f"{icon} {word}", uris[frame], r.verdict))
    return frames, note


def key_moment(r: RepResult) -> tuple[int, str]:
    """The frame to show for a rep and its words: the moment it failed (``RepResult.failed_moment``),
    else the deepest point."""
    f = r.failed_moment()
    if f is not None:
        return f.frame, f"{f.label} failed {PHASE_WORDS.get(f.phase, '')} at {f.time_s:.1f} s"
    return r.bottom_frame, f"deepest point at {r.bottom_s:.1f} s"


def _still_frame(result: "AnalyzeResult", position: int, role: str, index: int, caption: str, verdict: str,
                 limit_deg: float, max_w: int) -> tuple[KeyFrame, str | None]:
    """One frame of the standing or landing check with the skeleton and the knee angles drawn,
    without the squat's rep counter, rep banner and trunk lean (not judged in these checks; the
    caption carries the verdict)."""
    from .annotate import Style

    view = result.measures.view
    note = None if view == "frontal" else f"{VIEW_NAMES.get(view, view)}: knee angles need a camera in front"

    def adjust(ov):
        return replace(ov, verdict=None, fppa_threshold_deg=limit_deg, trunk_lean_threshold_deg=math.nan,
                       note=note or ov.note)

    uris, msg = overlay_images(result, {position: adjust}, max_w=max_w, style=Style(show_hud=False, show_trunk=False),
                               top_room=0.15)
    icon, word = VERDICT_WORDS.get(verdict, ("?", verdict.upper()))
    return KeyFrame(role, index, caption, f"{icon} {word}", uris[position], verdict), msg


# ------------------------------------------------------------------------------------------------
# the page's content
# ------------------------------------------------------------------------------------------------
def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def plain_view(text: str) -> str:
    """A not-measured note in plain words: "sagittal view" → "side view"."""
    for name, words in VIEW_NAMES.items():
        text = text.replace(f"{name} view", words)
    return text


def reason_lines(r, th: Thresholds) -> list[str]:
    """Each failed criterion of a record (rep, hold or landing: ``analysis.Record``) in plain words
    with its value and limit (each finding carries its limit; ``th`` is not needed); a rep's
    moment too; an unmeasurable rep's knee criteria and why."""
    out = [_reason_line(f, r) for f in r.findings if f.result == "fail"]
    if r.verdict == "unmeasurable":  # only a rep has knee criteria (the checks say why in their notes)
        out += [_cap(f.text()) for f in r.findings if f.result == "not_measured" and f.criterion in KNEE_CRITERIA]
    return out


def _reason_line(f: Finding, r) -> str:
    """A failed finding in words: a rep's with the moment it failed (``Finding.text``); a landing's
    or the hold's with its value, limit and (the hold) uncertainty."""
    if f.criterion not in _CHECK_TEXT:
        return _cap(f.text())
    return _cap(REASONS.get(f.code, f.code.replace("_", " "))) + _CHECK_TEXT[f.criterion](f, r)


_CHECK_TEXT = {  # criterion of the landing and standing checks → its value and limit in words
    "landing_valgus": lambda f, r: f": {_deg(f.value)} at the deepest point (limit {f.limit:.0f}°)",
    "landing_knee_gap": lambda f, r: (f": knee gap at the deepest point {f.value:.2f} × the gap at contact "
                                      f"(limit {f.limit:.2f} ×)"),
    "knock_knees": lambda f, r: f": {f.value:.1f} ± {r.gap_uncertainty_cm:.1f} cm (limit {f.limit:.0f} cm)",
    "foot_turn_out": lambda f, r: (f": {_deg(f.value)} ± {r.foot_turnout_uncertainty_deg:.0f}° "
                                   f"(limit {f.limit:.0f}°)"),
}


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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def guidance_context(a) -> dict:
    """The "What to work on" section: guidance exactly for the clip's failed criteria
    (``ClipAnalysis.reasons``, ``guidance.guidance_document``), each with where it was seen;
    with none failed, one line that says so."""
    from .guidance import guidance_document

    doc = guidance_document(a.reasons)
    recs = a.records
    unit = a.test.unit
    items = []
    for it in doc["items"]:
        seen = []
        for code in it["codes"]:
            words = REASONS.get(code, code.replace("_", " "))
            if code in a.summary.reasons:
                seen.append(f"{words} (over the whole clip)")
            elif len(recs) > 1:
                seen.append(f"{words} ({sum(code in r.reasons for r in recs)} of {len(recs)} {unit}s)")
            else:
                seen.append(words)
        items.append({"title": it["title"], "finding": it["finding"], "seen": seen,
                      "associated_with": it["commonly_associated_with"], "exercises": it["exercise_families"]})
    if items:
        none = None
    elif not recs:
        what = {"rep": "squat rep", "hold": "still standing", "landing": "jump landing"}[unit]
        none = f"No {what} was found in this clip, so there is nothing to work on from it."
    elif all(r.verdict == "unmeasurable" for r in recs):
        none = "Nothing could be judged in this clip (see above), so there is nothing to work on from it."
    else:
        none = "Nothing failed in this clip: every check that could be judged was within its limit."
    return {"findings": items, "notes": doc["notes"], "none": none}


def left_right_context(result: "AnalyzeResult", unmeasurable: str | None) -> dict:
    """The left–right section from ``summary.asymmetry`` (mean ± SD per leg, the count, the
    difference against the 8° 2D video can resolve)."""
    from . import plots

    a = result.analysis
    unit = a.test.unit
    asym = a.summary.asymmetry
    rows = []
    for side in ("left", "right"):
        mean = getattr(asym, f"{side}_mean_deg") if asym else None
        sd = getattr(asym, f"{side}_sd_deg") if asym else None
        n = getattr(asym, f"{side}_n") if asym else 0
        vals = [v for _, v in plots.record_knee_values(a, side)]
        rows.append({"side": side, "n": n, "mean": _deg(mean) + (f" ± {sd:.0f}°" if sd is not None else "")
                     if mean is not None else "—", "max": _deg(max(vals)) if vals else "—"})
    sdd = asym.smallest_detectable_difference_deg if asym else a.thresholds.meaningful_difference_deg
    d = asym.difference_deg if asym else None
    if d is not None:
        if abs(d) < 0.05:
            text = "On average the two knees had the same angle (left − right = 0.0°). "
        else:
            more, other = ("left", "right") if d > 0 else ("right", "left")
            text = (f"On average the {more} knee went {abs(d):.1f}° further inwards than the {other} "
                    f"(left − right = {d:+.1f}°). ")
        text += (f"That is at least the {sdd:.0f}° that 2D video can resolve: a real difference between the legs."
                 if asym.exceeds_noise else
                 f"That is less than the {sdd:.0f}° that 2D video can resolve: treat the two knees as alike.")
    elif not a.records:
        text = f"No {unit} was found, so the legs cannot be compared."
    elif unmeasurable:
        text = f"The knee angle could not be measured ({unmeasurable}), so the legs cannot be compared."
    else:
        tested = [r["side"] for r in rows if r["n"]]
        text = (f"Only the {tested[0]} knee could be judged in this clip (the other leg was not tested or not "
                "measurable), so the legs cannot be compared: film the other leg too." if tested else
                f"The knee angle was not judged in any {unit}, so the legs cannot be compared.")
    chart = plots.left_right_chart(a)
    return {"knees": rows, "lr_text": text, "lr_unit": unit, "lr_chart": _chart_ctx(chart) if chart else None,
            "lr_where": "at the deepest point of each landing" if a.test is TestKind.LANDING
            else "at the bottom of each rep"}


SOURCES.update({
    "landing": "normal drop-jump landing 7–13° (women), 3–8° (men) in 100 physically active adults "
               "(Herrington & Munro 2010): the upper bound is used",
    "landing_separation": "knee separation of the drop-jump screening test (Noyes et al. 2005); a coarse fallback, "
                          "used only where the knee angle cannot be measured",
    "knock_knees": "genu valgum = standing gap between the ankles ≥ 4 cm (Shohat et al. 2018, 47,588 adolescents); "
                   "in children 2–11 years up to 8 cm is normal (Heath & Staheli 1993): raise the limit for a child",
    "turnout": "normal foot-progression angle −3° to +20° in walking (Staheli et al. 1985); no standing norm was "
               "found, so the walking range's upper bound is used",
})
REFERENCES_BY_TEST = {
    "squat": ("Barber-Westin", "Crossley", "Hardcastle", "Herrington L (2014)", "Herrington L, Munro", "Munro",
              "Nakagawa", "Willson", "Winter"),
    "standing": ("Heath", "Munro", "Shohat", "Staheli"),
    "landing": ("Herrington L, Munro", "Munro", "Noyes"),
}


def _limits(a) -> tuple[list[dict], list[str]]:
    """The limits table and the references of the clip's test."""
    th = a.thresholds
    diff = {"what": "Meaningful left–right difference", "limit": f"{th.meaningful_difference_deg:.0f}°",
            "source": SOURCES["difference"]}
    if a.test is TestKind.STANDING:
        rows = [
            {"what": "Gap between the ankles with the knees together (knock knees), beyond its uncertainty",
             "limit": f"{th.knock_knee_imd_min_cm:.0f} cm", "source": SOURCES["knock_knees"]},
            {"what": "Foot turned out, beyond its 4° uncertainty", "limit": f"{th.foot_turnout_max_deg:.0f}°",
             "source": SOURCES["turnout"]},
            {"what": "Knee angle standing", "limit": "not applied", "source": "reported for reference"},
            {"what": "Pelvis level", "limit": "not applied", "source": "not validated: MediaPipe's hip points are "
             "off by about 10° (docs/accuracy.md); reported, never judged"},
            {**diff, "what": "Meaningful left–right difference (shown, not judged, for one standing reading)"},
        ]
    elif a.test is TestKind.LANDING:
        rows = [
            {"what": "Knee caving in (knee angle at the deepest point of the landing)",
             "limit": f"{th.landing_limit_deg:.0f}°", "source": SOURCES["landing"]},
            {"what": "Knees moving together from contact to the deepest point (only where the knee angle cannot "
                     "be measured)", "limit": f"{th.landing_knee_separation_min_ratio:.2f} ×",
             "source": SOURCES["landing_separation"]},
            diff,
        ]
    else:
        rows = [
            {"what": "Knee caving in (knee angle at the bottom of the rep)", "limit": f"{th.knee_limit_deg:.0f}°",
             "source": SOURCES["knee_sex"] if th.sex else SOURCES["knee"]},
            {"what": "Knees moving together (double-leg squat; knee gap vs standing)",
             "limit": f"{th.knee_separation_min_ratio:.2f} ×", "source": SOURCES["separation"]},
            {"what": "Trunk leaning sideways (relative to standing)", "limit": f"{th.trunk_lean_max_deg:.0f}°",
             "source": SOURCES["trunk"]},
            {"what": "Hands off the hips / free foot touching down (single-leg squat)", "limit": "—",
             "source": "the test's protocol"},
            {"what": "Pelvis dropping on the free-leg side (single-leg squat; waistband vs standing)",
             "limit": f"{th.pelvic_drop_max_deg:.0f}°", "source": SOURCES["pelvis"]},
            {"what": "Hips drifting outward over the standing foot (single-leg squat; since the rep's start)",
             "limit": f"{th.hip_drift_max_cm:.1f} cm", "source": SOURCES["hip_drift"]},
            diff,
        ]
    refs = [r for r in REFERENCES if r.startswith(REFERENCES_BY_TEST[a.test.page])]
    return rows, refs


def _verdict_counts(recs: list) -> dict:
    c = Counter(r.verdict for r in recs)
    return {"n": len(recs), "passed": c["pass"], "failed": c["fail"], "unmeasurable": c["unmeasurable"]}


def _top_reasons(recs: list, unit: str) -> list[str]:
    counts = Counter(c for r in recs for c in r.reasons)
    return [f"{REASONS.get(c, c)} ({n} of {_plural(len(recs), unit)})" for c, n in counts.most_common()]


def _squat_context(result: "AnalyzeResult", key_frame_width_px: int) -> dict:
    from . import plots

    a, m = result.analysis, result.measures
    th = a.thresholds
    res = a.results
    legs = []
    for leg in a.summary.legs:
        status = ("pass" if leg.failed == 0 and leg.passed else "fail" if leg.failed else "unmeasurable")
        gaps = [r.knee_separation_ratio for r in res if r.stance == leg.stance and r.knee_separation_ratio is not None]
        legs.append({"name": STANCE_NAMES.get(leg.stance, leg.stance).capitalize(), "reps": leg.reps,
                     "passed": leg.passed, "failed": leg.failed, "unmeasurable": leg.unmeasurable,
                     "mean": _deg(leg.fppa_frontal_mean_deg, missing="not measurable"), "status": status,
                     "gap": f"{np.mean(gaps):.2f} ×" if gaps else None})
    double = any(r.knee_separation_ratio is not None for r in res) or (not a.test.single_leg and not res)

    # reps table; a "not judged" note every rep shares is said once under the table
    shared_nm = set.intersection(*(set(r.not_measured) for r in res)) if res else set()
    rows = []
    for r in res:
        icon, word = VERDICT_WORDS.get(r.verdict, ("?", r.verdict.upper()))
        rows.append({"index": r.index, "time": f"{r.start_s:.1f}–{r.end_s:.1f} s", "bottom": f"{r.bottom_s:.1f} s",
                     "stance": STANCE_NAMES.get(r.stance, r.stance),
                     "knee_left": _deg(r.knee_angle_deg("left")), "knee_right": _deg(r.knee_angle_deg("right")),
                     "knee_left_fault": "knee_valgus_left" in r.reasons,
                     "knee_right_fault": "knee_valgus_right" in r.reasons,
                     "foot_left": _deg(r.value("knee_over_foot", "left"), "{:+.1f} cm"),
                     "foot_right": _deg(r.value("knee_over_foot", "right"), "{:+.1f} cm"),
                     "foot_left_fault": "knee_over_foot_left" in r.reasons,
                     "foot_right_fault": "knee_over_foot_right" in r.reasons,
                     "gap": _deg(r.knee_separation_ratio, "{:.2f} ×"), "gap_fault": "knees_caving" in r.reasons,
                     "flexion": _deg(r.knee_flexion_deg, "{:.0f}°"), "trunk": _deg(r.trunk_lean_deg),
                     "trunk_fault": "trunk_lean" in r.reasons,
                     "pelvis": _deg(r.value("pelvic_drop"), missing="not measured"),
                     "pelvis_fault": "pelvic_drop" in r.reasons,
                     "hips": _deg(r.value("hip_drift"), "{:+.1f} cm", missing="not measured"),
                     "hips_fault": "hip_drift" in r.reasons,
                     "verdict": r.verdict, "icon": icon, "word": word, "reasons": reason_lines(r, th),
                     "not_measured": [n for n in r.not_measured if n not in shared_nm]})
    unmeasurable = fppa_unmeasurable_reason(result)
    worst_best, kf_note = key_frames(result, max_w=key_frame_width_px) if res else ([], None)
    return {
        "single_leg": a.test.single_leg, **_verdict_counts(res), "n_reps": len(res),
        "top_reasons": _top_reasons(res, "rep"), "legs": legs,
        "double": double, "sustain_ms": round(th.sustain_s * 1000),
        "limit_foot": f"{th.knee_over_foot_limit_cm(a.test.single_leg):.1f} cm",
        "limit_gap": f"{th.knee_separation_min_ratio:.2f} ×",
        "gap_chart": _chart_ctx(plots.knee_gap_chart(a)) if double else None,
        "foot_chart": _chart_ctx(c) if (c := plots.knee_over_foot_chart(a)) is not None else None,
        "trunk_limit": f"{th.trunk_lean_max_deg:.0f}°",
        "knee_chart": _chart_ctx(plots.knee_angle_chart(a, unmeasurable)), "knee_unmeasurable": unmeasurable,
        "knee_gaps": bool(unmeasurable is None and any(
            (~np.isfinite(v[m.detected])).any() for v in plots.masked_knees(a).values())),
        "reps": rows, "shared_not_measured": sorted(shared_nm),
        "key_frames": worst_best, "key_frames_note": kf_note,
        "trunk_chart": _chart_ctx(plots.trunk_chart(a)), "pelvis_chart": _chart_ctx(c) if (c := plots.pelvis_chart(a)) is not None else None,
        "pelvic_limit": f"{th.pelvic_drop_max_deg:.0f}°", "hip_drift_limit": f"{th.hip_drift_max_cm:.1f} cm",
        **left_right_context(result, unmeasurable),
    }


def _cm(x: float | None, unc: float | None = None) -> str:
    if x is None or not math.isfinite(x):
        return "not measured"
    return f"{x:.1f} cm" + (f" ± {unc:.1f} cm" if unc is not None else "")


def _standing_context(result: "AnalyzeResult", key_frame_width_px: int) -> dict:
    a = result.analysis
    th = a.thresholds
    h = a.hold
    limits = {"imd_limit": f"{th.knock_knee_imd_min_cm:.0f} cm", "turnout_limit": f"{th.foot_turnout_max_deg:.0f}°"}
    if h is None:
        return {"hold": None, **limits}
    icon, word = VERDICT_WORDS.get(h.verdict, ("?", h.verdict.upper()))
    tu = f"{h.foot_turnout_uncertainty_deg:.0f}°"
    na = "not measurable"

    def legs(fmt: str, key: str, fault: str | None = None) -> list[dict]:
        return [{"side": s, "value": _deg(getattr(h, key.format(s)), fmt, na),
                 "fault": bool(fault and fault.format(s) in h.reasons)} for s in ("left", "right")]

    imd_result = ("fail" if "knock_knees" in h.reasons else "pass" if h.intermalleolar_distance_cm is not None
                  else "unmeasurable")
    turn_judged = h.foot_turnout_left_deg is not None or h.foot_turnout_right_deg is not None
    turn_result = ("fail" if any(c.startswith("foot_turn_out") for c in h.reasons) else
                   "pass" if turn_judged else "unmeasurable")
    together = {True: "the knees touch", False: "the knees are apart", None: "not measured"}[h.knees_together]
    rows = [
        {"what": "Knee angle (+ = knee inwards)", "legs": legs("{:+.0f}°", "fppa_frontal_{}_deg"),
         "limit": "—", "result": None, "note": "reported, not judged"},
        {"what": "Foot turn-out (+ = toes out)", "legs": legs("{:+.0f}° ± " + tu, "foot_turnout_{}_deg",
                                                             "foot_turn_out_{}"),
         "limit": f"{th.foot_turnout_max_deg:.0f}°", "result": turn_result, "note": None},
        {"what": "Knee gap", "value": _cm(h.knee_gap_cm, h.gap_uncertainty_cm), "limit": "—",
         "result": None, "note": together},
        {"what": "Ankle gap", "value": _cm(h.ankle_gap_cm, h.gap_uncertainty_cm), "limit": "—",
         "result": None, "note": "reported"},
        {"what": "Knock knees: ankle gap with the knees touching",
         "value": _cm(h.intermalleolar_distance_cm, h.gap_uncertainty_cm) if h.intermalleolar_distance_cm is not None
         else ("not measured (knees apart)" if h.knees_together is False else "not measured"),
         "limit": f"{th.knock_knee_imd_min_cm:.0f} cm", "result": imd_result,
         "fault": "knock_knees" in h.reasons, "note": None},
        {"what": "Pelvis level (+ = left hip higher)",
         "value": _deg(h.pelvic_obliquity_deg, "{:+.0f}°", na)
         + (f" ± {h.pelvic_obliquity_uncertainty_deg:.0f}°" if h.pelvic_obliquity_deg is not None else ""),
         "limit": "—", "result": None, "note": "not validated, not judged"},
    ]
    for r in rows:
        r.setdefault("legs", None)
        r.setdefault("value", None)
        r.setdefault("fault", False)
        r["icon"], r["word"] = VERDICT_WORDS[r["result"]] if r["result"] else (None, None)
    if h.height_source == "given":
        height = f"{h.height_cm:.0f} cm, as given (centimetres ± 3%)"
    else:
        height = (f"not given, so an average adult's {h.height_cm:.0f} cm was assumed (centimetres ± 8%; give "
                  "the person's height with --height-cm for better centimetres)")
    asym = a.summary.asymmetry
    lr = None
    if asym is not None and asym.difference_deg is not None:
        lr = (f"Left − right knee angle standing: {asym.difference_deg:+.1f}° "
              + ("(at least" if asym.exceeds_noise else "(under") +
              f" the {asym.smallest_detectable_difference_deg:.0f}° 2D video can resolve; a single standing "
              "reading per leg, not judged).")
    mid = (h.start_frame + h.end_frame) // 2
    caption = f"Standing still, {h.start_s:.1f}–{h.end_s:.1f} s (the frame at {result.measures.time_s[mid]:.1f} s)"
    frame, note = _still_frame(result, mid, "hold", 1, caption, h.verdict, math.nan, key_frame_width_px)
    return {
        "hold": {"verdict": h.verdict, "icon": icon, "word": word, "start": f"{h.start_s:.1f}",
                 "end": f"{h.end_s:.1f}", "duration": f"{h.duration_s:.1f}", "reasons": reason_lines(h, th),
                 "rows": rows, "height": height, "not_measured": [plain_view(x) for x in h.not_measured],
                 "ratio": _deg(h.knee_separation_ratio, "{:.2f}"), "lr": lr},
        "key_frames": [frame], "key_frames_note": note, **limits,
    }


def _landing_context(result: "AnalyzeResult", key_frame_width_px: int) -> dict:
    from . import plots

    a = result.analysis
    th = a.thresholds
    recs = a.landings

    def pair(x, y, fmt="{:+.0f}°") -> str:
        return f"{_deg(x, fmt)} → {_deg(y, fmt)}"

    view = result.measures.view
    short = (f"Not measurable: {VIEW_NAMES.get(view, view)}" if view != "frontal" else
             "Not measurable: knees not visible or the camera not square to the body")
    nm = [set(r.not_measured) for r in recs if r.verdict == "unmeasurable"]
    shared = sorted(plain_view(x) for x in set.intersection(*nm)) if recs and len(nm) == len(recs) else []
    rows = []
    for r in recs:
        icon, word = VERDICT_WORDS.get(r.verdict, ("?", r.verdict.upper()))
        why = reason_lines(r, th)
        if r.verdict == "unmeasurable":
            why += [short] if shared else [f"Not measurable: {plain_view(x)}" for x in r.not_measured]
        rows.append({"index": r.index, "contact": f"{r.contact_s:.2f} s", "deepest": f"{r.peak_flexion_s:.2f} s",
                     "knee_left": pair(r.fppa_frontal_left_ic_deg, r.fppa_frontal_left_pf_deg),
                     "knee_right": pair(r.fppa_frontal_right_ic_deg, r.fppa_frontal_right_pf_deg),
                     "knee_left_fault": "landing_valgus_left" in r.reasons,
                     "knee_right_fault": "landing_valgus_right" in r.reasons,
                     "gap": pair(r.knee_separation_ratio_ic, r.knee_separation_ratio_pf, "{:.2f}"),
                     "gap_fault": "landing_knees_caving" in r.reasons,
                     "verdict": r.verdict, "icon": icon, "word": word, "reasons": why})
    unmeasurable = fppa_unmeasurable_reason(result)
    frames, note = [], None
    if recs:
        worst = next((r for r in recs if r.index == a.summary.worst_rep), recs[0])
        judged = any(r.verdict != "unmeasurable" for r in recs)
        what = "Worst landing: landing" if judged and len(recs) > 1 else "Landing"
        caption = (f"{what} {worst.index} at its deepest point, {worst.peak_flexion_s:.2f} s"
                   + ("" if judged else " (no landing could be judged, so none is the worst)"))
        kf, note = _still_frame(result, worst.peak_flexion_frame, "landing", worst.index, caption, worst.verdict,
                                th.landing_limit_deg, key_frame_width_px)
        frames = [kf]
    return {
        **_verdict_counts(recs), "top_reasons": _top_reasons(recs, "landing"), "landings": rows,
        "all_not_measurable": shared,
        "knee_chart": _chart_ctx(plots.knee_angle_chart(a, unmeasurable)), "knee_unmeasurable": unmeasurable,
        "landing_limit": f"{th.landing_limit_deg:.0f}°",
        "landing_gap_limit": f"{th.landing_knee_separation_min_ratio:.2f} ×",
        "key_frames": frames, "key_frames_note": note,
        **left_right_context(result, unmeasurable),
    }


TITLES = {"squat": "Squat screening report", "standing": "Standing alignment report",
          "landing": "Landing check report"}
TEMPLATES = {"squat": "clip_report.html.j2", "standing": "standing_report.html.j2",
             "landing": "landing_report.html.j2"}


def clip_context(result: "AnalyzeResult", *, key_frame_width_px: int = 640, generated: str | None = None,
                 report_dir: Path | None = None) -> dict:
    """Everything the clip's page shows, as plain values (strings formatted here); ``kind`` says
    which page: "squat", "standing" or "landing"."""
    from .plots import knee_limit

    a, m, doc = result.analysis, result.measures, result.document
    th = a.thresholds
    kind = a.test.page
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
    thresholds, references = _limits(a)
    files = []
    for p in result.files:
        href = os.path.relpath(p, report_dir) if report_dir is not None else p.name
        files.append({"name": p.name, "href": Path(href).as_posix(), "what": FILE_WHAT.get(p.name, "")})
    ctx = {
        "kind": kind, "template": TEMPLATES[kind], "title": f"{TITLES[kind]}: {video.name}",
        "clip": video.name, "meta": meta, "disclaimer": DISCLAIMER, "test": TEST_NAMES.get(a.test, a.test),
        "warnings": ([f"filmed in {VIEW_NAMES.get(m.view, m.view)}: the knee and trunk measures are made for a "
                      "camera in front of the person; from this view their verdicts are not reliable"]
                     if m.view != "frontal" and m.detected.any() and a.test.is_squat else []) + list(a.warnings),
        "limit": f"{knee_limit(a):.0f}°", "guidance": guidance_context(a),
        "thresholds": thresholds, "references": references, "files": files,
        "key_frames": [], "key_frames_note": None,
    }
    build = {"squat": _squat_context, "standing": _standing_context, "landing": _landing_context}[kind]
    ctx.update(build(result, key_frame_width_px))
    ctx["video"] = video_context(result, report_dir)
    return ctx


def video_context(result: "AnalyzeResult", report_dir: Path | None) -> dict | None:
    """The annotated video beside the report (None when it was not written): its link relative to
    the report, its length, and a chapter per rep (hold, landing) with the times to seek to, in the
    annotated video's own clock (frame *k* at *k* / fps: ``sinks.VideoWriterSink``)."""
    video = next((p for p in result.files if p.name == "annotated.mp4"), None)
    if video is None or not video.is_file():
        return None
    a, t = result.analysis, result.measures.time_s
    rate = result.fps if result.fps and math.isfinite(result.fps) and result.fps > 0 else \
        (1.0 / float(np.median(np.diff(t))) if len(t) > 1 else 30.0)

    def at(position: int) -> float:
        return round(float(result.frame_index[position]) / rate, 3)

    duration = (float(result.frame_index[-1]) + 1) / rate if len(result.frame_index) else 0.0
    spans = []  # (index, label, first, key frame, last, verdict)
    for r in a.records:
        if a.test is TestKind.STANDING:
            spans.append((r.index, "hold", r.start_frame, (r.start_frame + r.end_frame) // 2, r.end_frame, r.verdict))
        elif a.test is TestKind.LANDING:
            spans.append((r.index, f"landing {r.index}", r.takeoff_frame, r.peak_flexion_frame, r.peak_flexion_frame,
                          r.verdict))
        else:
            # the key moment: when the rep failed (its findings), else its deepest point
            spans.append((r.index, f"rep {r.index}", r.start_frame, key_moment(r)[0], r.end_frame, r.verdict))
    chapters = {}
    for index, label, first, key, last, verdict in spans:
        start, end = at(first), at(last)
        icon, word = VERDICT_WORDS.get(verdict, ("?", verdict.upper()))
        chapters[index] = {
            "index": index, "label": label, "start": f"{start:.3f}", "key": f"{at(key):.3f}",
            "key_s": f"{at(key):.1f}", "verdict": verdict, "title": f"{label}: {word}, {start:.1f}–{end:.1f} s",
            "icon": icon, "left": f"{100 * start / duration:.2f}" if duration else "0",
            "width": f"{max(100 * (end - start) / duration, 0.8):.2f}" if duration else "0"}
    href = os.path.relpath(video, report_dir) if report_dir is not None else video.name
    return {"href": Path(href).as_posix(), "duration": f"{duration:.3f}", "chapters": chapters,
            "failed": sum(c["verdict"] == "fail" for c in chapters.values()),
            "records": {"rep": "reps", "landing": "landings", "hold": "hold"}[a.test.unit]}


def _chart_ctx(c) -> dict:
    return {"src": data_uri(c.png, "image/png"), "alt": c.alt}


def render_clip_report(result: "AnalyzeResult", *, key_frame_width_px: int = 640, report_dir: Path | None = None,
                       generated: str | None = None) -> str:
    """The clip's report as an HTML string (the page of its test: squat, standing or landing)."""
    ctx = clip_context(result, key_frame_width_px=key_frame_width_px, report_dir=report_dir, generated=generated)
    return _env().get_template(ctx["template"]).render(**ctx)


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
    from .plots import knee_limit, record_knee_values

    a = result.analysis
    recs = a.records  # squat reps, the standing hold or the landings
    row.update(test=a.test, view=a.measures.view, reps=len(recs), knee_limit_deg=knee_limit(a),
               not_measurable=sum(r.verdict == "unmeasurable" for r in recs), warnings=len(a.warnings))
    for leg in ("left", "right", "both"):
        rs = [r for r in recs if r.stance == leg]
        row[f"{leg}_passed"] = sum(r.verdict == "pass" for r in rs) if rs else None
        row[f"{leg}_failed"] = sum(r.verdict == "fail" for r in rs) if rs else None
    for side in ("left", "right"):
        vals = [v for _, v in record_knee_values(a, side)]
        row[f"worst_fppa_{side}_deg"] = round(max(vals), 1) if vals else None
    gaps = [r.knee_separation_ratio for r in a.results if r.knee_separation_ratio is not None]
    row["min_knee_gap_ratio"] = round(min(gaps), 2) if gaps else None
    row["knee_gap_limit_ratio"] = a.thresholds.knee_separation_min_ratio
    drops = [r.pelvic_drop_deg for r in a.results if r.pelvic_drop_deg is not None]
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
