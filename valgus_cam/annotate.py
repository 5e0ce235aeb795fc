"""Overlay drawing for the annotated video and the live webcam view: pure drawing, no I/O.

``draw_overlay(image_bgr, OverlayFrame(...))`` draws, in place, on a BGR uint8 image:

* the skeleton (neutral light grey with a dark outline, so it reads on any background);
* at each knee: the thigh line extended past the knee (dashed: "where the shin would point if the
  leg were straight"), an **arc** from that line to the shin, and a label "L knee 22° in";
  within the limit the arc is sky blue and thin, past the limit it is vermillion, twice as thick,
  the wedge is filled and the label carries an ✗ icon; not measured = grey with "—";
* the hip line with a dashed level reference and "hip drop 6°"; the trunk line with a dashed
  vertical reference and "trunk 8° to L";
* a top-left counter row "REPS 3  ✓2  ✗1  left leg";
* for about a second after a rep, a banner "✗ REP 3 (left leg): FAIL" over plain-language
  reason lines "Left knee caved inwards (22°, limit 13°)";
* a one-line hint (``note``) at the bottom and a tiny legend above it.

Colours are from the Okabe–Ito palette (readable with the common colour-vision deficiencies) and
every colour cue is doubled by a shape, a thickness or a word (PASS/FAIL, ✓/✗, thick lines).
Sides are the **subject's** ("L"/"R" from the landmark names), so a mirrored (selfie) image is
labelled correctly. All sizes scale with the image. Translucent boxes are blended on their ROI
only. ``cv2.putText`` is ASCII-only: :func:`put_text` draws "°" as a small circle, "—"/"–" as a
line, and "✓"/"✗" as line icons.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Mapping

import cv2
import numpy as np

from valgus_cam.landmarks import LM
from valgus_cam.verdicts import REASONS, VERDICT_WORDS

__all__ = ["Verdict", "OverlayFrame", "Style", "draw_overlay", "reason_text", "put_text",
           "text_size", "OKABE_ITO_BGR"]

# --------------------------------------------------------------------------- palette


def _hex_bgr(h: str) -> tuple[int, int, int]:
    h = h.lstrip("#")
    return int(h[4:6], 16), int(h[2:4], 16), int(h[0:2], 16)


OKABE_ITO_BGR = {
    "black": _hex_bgr("#000000"),
    "orange": _hex_bgr("#E69F00"),
    "sky_blue": _hex_bgr("#56B4E9"),
    "bluish_green": _hex_bgr("#009E73"),
    "yellow": _hex_bgr("#F0E442"),
    "blue": _hex_bgr("#0072B2"),
    "vermillion": _hex_bgr("#D55E00"),
    "reddish_purple": _hex_bgr("#CC79A7"),
}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Verdict:
    """Banner content, shown for ~1 s after a rep ends."""

    rep_index: int                 # 1-based for display
    verdict: str                   # "pass" | "fail" | "unmeasurable"
    reasons: tuple[str, ...]       # machine codes, see REASON_TEXT
    stance: str                    # "left" | "right" | "both"
    # optional: the rep's worst value per reason code (degrees), e.g. {"knee_valgus_left": 22.1};
    # for a pass, "knee_valgus_left"/"knee_valgus_right" may carry the rep's peak FPPA too
    values: Mapping[str, float] | None = None
    # optional: the limit per reason code (degrees); knee codes default to the frame's threshold
    limits: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class OverlayFrame:
    xy_px: np.ndarray | None        # (33, 2) landmarks in this frame's pixels (None: nobody)
    fppa_left_deg: float            # NaN = not measured / not trustworthy
    fppa_right_deg: float
    fppa_threshold_deg: float       # a value above it is drawn in the fault style
    fppa_kind: str                  # "frontal" | "image"
    pelvic_drop_deg: float          # + = free-side hip lower (NaN if n/a)
    trunk_lean_deg: float           # + = toward the subject's left (NaN if n/a)
    reps_done: int
    stance: str | None              # "left" | "right" | "both" | None
    verdict: Verdict | None         # banner (None = no banner)
    note: str | None                # one-line hint
    passed: int = 0
    failed: int = 0
    # optional limits for the hip and trunk (NaN: drawn neutral, never as a fault)
    pelvic_drop_threshold_deg: float = math.nan
    trunk_lean_threshold_deg: float = math.nan


@dataclass(frozen=True, slots=True)
class Style:
    ok: tuple[int, int, int] = OKABE_ITO_BGR["sky_blue"]          # lines/text within the limit
    ok_fill: tuple[int, int, int] = OKABE_ITO_BGR["blue"]         # PASS banner fill
    fault: tuple[int, int, int] = OKABE_ITO_BGR["vermillion"]     # lines past the limit, FAIL fill
    fault_text: tuple[int, int, int] = OKABE_ITO_BGR["orange"]    # fault text on dark boxes (brighter
    #                                                              than vermillion, also for protanopes)
    warn: tuple[int, int, int] = OKABE_ITO_BGR["orange"]          # hint ("!") marker
    muted: tuple[int, int, int] = (150, 150, 150)                 # not measured / free leg
    skeleton: tuple[int, int, int] = (235, 235, 235)
    text: tuple[int, int, int] = (255, 255, 255)
    outline: tuple[int, int, int] = (20, 20, 20)
    box_alpha: float = 0.62        # darkness of the text boxes (0 = none, 1 = black)
    font: int = cv2.FONT_HERSHEY_DUPLEX
    scale: float = 1.0             # multiplies every size
    show_skeleton: bool = True
    show_knees: bool = True
    show_hip: bool = True
    show_trunk: bool = True
    show_hud: bool = True
    show_legend: bool = True
    degree_word: bool = False      # write "deg" instead of drawing "°"


# the overlay's own codes; every verdict code is worded as in the rest of the tool (verdicts.REASONS)
REASON_TEXT = {
    "knee_valgus": "Knee caved inwards",
    "knee_not_measurable": "Knee not measurable",
    "not_frontal": "Not facing the camera squarely",
    "no_person": "Nobody detected",
    "too_shallow": "Squat not deep enough",
    "partial_rep": "Rep not completed",
}


def reason_text(code: str) -> str:
    """Plain-language text for a reason code (unknown codes are made readable, never raise)."""
    text = REASON_TEXT.get(code) or REASONS.get(code) or str(code).replace("_", " ").strip()
    return (text[:1].upper() + text[1:]) if text else "Unknown reason"


# --------------------------------------------------------------------------- text helpers

_SPECIAL = {"°", "—", "–", "✓", "✗", "·"}
_FALLBACK = {"’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "×": "x", "±": "+/-"}


@functools.lru_cache(maxsize=4096)
def _runs(text: str, degree_word: bool = False) -> tuple[str, ...]:
    """Split text into ASCII runs and special glyphs."""
    out, buf = [], []
    for ch in text:
        if ch in _SPECIAL and not (degree_word and ch == "°"):
            if buf:
                out.append("".join(buf))
                buf = []
            out.append(ch)
        elif ch == "°":
            buf.append(" deg")
        elif ord(ch) < 128:
            buf.append(ch)
        else:
            buf.append(_FALLBACK.get(ch, "?"))
    if buf:
        out.append("".join(buf))
    return tuple(out)


def _glyph_w(ch: str, h: int) -> int:
    return {"°": max(3, int(0.55 * h)), "—": int(1.1 * h), "–": int(0.75 * h),
            "✓": int(1.05 * h), "✗": int(1.0 * h), "·": max(3, int(0.6 * h))}[ch]


@functools.lru_cache(maxsize=4096)  # the same labels are measured on every frame
def text_size(text: str, scale: float, thick: int, font: int = cv2.FONT_HERSHEY_DUPLEX,
              degree_word: bool = False) -> tuple[int, int, int]:
    """(width, cap height, baseline) of ``text`` as :func:`put_text` draws it."""
    h = cv2.getTextSize("H", font, scale, thick)[0][1]
    base = cv2.getTextSize("g", font, scale, thick)[1]
    w = 0
    for r in _runs(text, degree_word):
        w += _glyph_w(r, h) if r in _SPECIAL and len(r) == 1 else cv2.getTextSize(r, font, scale, thick)[0][0]
    return w, h, base


def draw_check(img, x: int, y: int, h: int, color, thick: int) -> None:
    """✓ in the box [x, x+h] × [y-h, y] (y = baseline)."""
    pts = np.array([[x + 0.08 * h, y - 0.45 * h], [x + 0.38 * h, y - 0.08 * h], [x + 0.95 * h, y - 0.95 * h]])
    cv2.polylines(img, [np.round(pts).astype(np.int32)], False, color, thick, cv2.LINE_AA)


def draw_cross(img, x: int, y: int, h: int, color, thick: int) -> None:
    """✗ in the box [x, x+h] × [y-h, y] (y = baseline)."""
    a, b = int(0.1 * h), int(0.9 * h)
    cv2.line(img, (x + a, y - b), (x + b, y - a), color, thick, cv2.LINE_AA)
    cv2.line(img, (x + a, y - a), (x + b, y - b), color, thick, cv2.LINE_AA)


def put_text(img, text: str, org: tuple[int, int], scale: float, color, thick: int = 1, *,
             outline=None, font: int = cv2.FONT_HERSHEY_DUPLEX, degree_word: bool = False) -> int:
    """``cv2.putText`` that also draws "°", "—", "–", "·", "✓", "✗"; optional dark outline.
    ``org`` is the left end of the baseline. Returns the x after the text."""
    x, y = int(org[0]), int(org[1])
    h = cv2.getTextSize("H", font, scale, thick)[0][1]
    passes = ([(outline, thick + max(2, thick + 1))] if outline is not None else []) + [(color, thick)]
    runs = _runs(text, degree_word)
    for col, th in passes:
        cx = x
        for r in runs:
            if len(r) == 1 and r in _SPECIAL:
                gw = _glyph_w(r, h)
                if r == "°":
                    rad = max(1, int(0.17 * h))
                    cv2.circle(img, (cx + rad + max(1, th // 2), y - h + rad), rad, col, max(1, th // 2 + (th - thick)), cv2.LINE_AA)
                elif r in "—–":
                    cv2.line(img, (cx + int(0.12 * h), y - h // 2), (cx + gw - int(0.12 * h), y - h // 2), col, th, cv2.LINE_AA)
                elif r == "·":
                    cv2.circle(img, (cx + gw // 2, y - h // 2), max(1, int(0.1 * h)), col, -1, cv2.LINE_AA)
                elif r == "✓":
                    draw_check(img, cx, y, h, col, th + 1)
                else:
                    draw_cross(img, cx, y, h, col, th + 1)
                cx += gw
            else:
                cv2.putText(img, r, (cx, y), font, scale, col, th, cv2.LINE_AA)
                cx += cv2.getTextSize(r, font, scale, thick)[0][0]
    return cx


def dark_box(img, x0: int, y0: int, x1: int, y1: int, alpha: float) -> None:
    """Darken the rectangle in place (blend with black on the ROI only)."""
    H, W = img.shape[:2]
    x0, x1 = max(0, int(x0)), min(W, int(x1))
    y0, y1 = max(0, int(y0)), min(H, int(y1))
    if x1 <= x0 or y1 <= y0 or alpha <= 0:
        return
    roi = img[y0:y1, x0:x1]
    cv2.addWeighted(roi, 1.0 - min(alpha, 1.0), roi, 0.0, 0.0, dst=roi)


# --------------------------------------------------------------------------- geometry helpers

_SKELETON = [
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
    ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
]
_SKELETON_IDX = [(LM[a], LM[b]) for a, b in _SKELETON]
_LEG_IDX = {(LM[f"{s}_hip"], LM[f"{s}_knee"]) for s in ("left", "right")} | \
           {(LM[f"{s}_knee"], LM[f"{s}_ankle"]) for s in ("left", "right")}
_JOINTS = [LM[n] for n in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                           "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
                           "left_ankle", "right_ankle")]


class _Pts:
    """Landmarks with a validity mask (finite and not absurdly far outside the image)."""

    def __init__(self, xy, w: int, h: int):
        self.ok = np.zeros(33, bool)
        self.xy = np.zeros((33, 2))
        if xy is None:
            return
        a = np.asarray(xy, dtype=float)
        if a.ndim != 2 or a.shape[1] < 2 or a.shape[0] < 33:
            return
        a = a[:33, :2]
        lim = 4.0 * max(w, h, 1)
        ok = np.isfinite(a).all(axis=1) & (np.abs(a) < lim).all(axis=1)
        self.ok = ok
        self.xy = np.where(ok[:, None], a, 0.0)

    def get(self, name_or_idx):
        i = LM[name_or_idx] if isinstance(name_or_idx, str) else name_or_idx
        return self.xy[i] if self.ok[i] else None

    def mid(self, a: str, b: str):
        p, q = self.get(a), self.get(b)
        return None if p is None or q is None else (p + q) / 2.0


def _ip(p) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))


def _dashed(img, p, q, color, thick, dash: float, outline=None) -> None:
    p, q = np.asarray(p, float), np.asarray(q, float)
    d = q - p
    n = float(np.hypot(*d))
    if not np.isfinite(n) or n < 1:
        return
    k = max(1, int(n / (2 * dash)))
    u = d / n
    segs = [(p + u * (2 * i * dash), p + u * min(n, (2 * i + 1) * dash)) for i in range(k + 1) if 2 * i * dash < n]
    if outline is not None:
        for a, b in segs:
            cv2.line(img, _ip(a), _ip(b), outline, thick + 2, cv2.LINE_AA)
    for a, b in segs:
        cv2.line(img, _ip(a), _ip(b), color, thick, cv2.LINE_AA)


def _fmt_deg(v: float) -> str:
    return f"{abs(v):.0f}°"


def _isnum(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- layout


@dataclass(slots=True)
class _Metrics:
    fs: float       # base font scale
    th: int         # base text thickness
    cap: int        # cap height of the base font in px
    lw: int         # base line width
    pad: int
    margin: int
    font: int
    degree_word: bool

    def size(self, text, scale_mul=1.0, thick=None):
        return text_size(text, self.fs * scale_mul, thick or self.th, self.font, self.degree_word)


def _metrics(w: int, h: int, style: Style) -> _Metrics:
    m = max(1, min(w, h))
    cap_px = max(11.0, 0.026 * m) * style.scale         # 720 → ~19 px, 360 → 11 px (legible minimum)
    ref = cv2.getTextSize("H", style.font, 1.0, 1)[0][1]
    fs = cap_px / ref
    th = max(1, int(round(fs * 1.3)))
    lw = max(2, int(round(0.0042 * m * style.scale)))
    cap = cv2.getTextSize("H", style.font, fs, th)[0][1]
    pad = max(3, int(0.45 * cap))
    return _Metrics(fs, th, cap, lw, pad, max(4, int(0.012 * m)), style.font, style.degree_word)


def _label(img, M: _Metrics, style: Style, text: str, x: int, y: int, color, *, align: str = "left",
           icon: str | None = None, scale_mul: float = 1.0, border=None) -> tuple[int, int, int, int]:
    """Text on a dark translucent box. (x, y) = anchor point of the box's vertical centre; align
    'left' puts the box right of x, 'right' left of x. Clamped into the image. Returns the box."""
    H, W = img.shape[:2]
    fs, th = M.fs * scale_mul, max(1, int(round(M.th * scale_mul)))
    tw, cap, base = text_size(text, fs, th, M.font, M.degree_word)
    pad = max(2, int(M.pad * scale_mul))
    iw = cap + pad if icon else 0
    bw, bh = tw + iw + 2 * pad, cap + 2 * pad
    x0 = x - bw if align == "right" else (x - bw // 2 if align == "center" else x)
    y0 = int(y - bh / 2)
    x0 = max(0, min(W - bw, x0))
    y0 = max(0, min(H - bh, y0))
    dark_box(img, x0, y0, x0 + bw, y0 + bh, style.box_alpha)
    if border is not None:
        cv2.rectangle(img, (x0, y0), (x0 + bw - 1, y0 + bh - 1), border, max(1, M.lw // 2), cv2.LINE_AA)
    tx, ty = x0 + pad, y0 + pad + cap
    if icon == "cross":
        draw_cross(img, tx, ty, cap, color, th + 1)
    elif icon == "check":
        draw_check(img, tx, ty, cap, color, th + 1)
    elif icon == "warn":
        _warn_icon(img, tx, ty, cap, color, th)
    put_text(img, text, (tx + iw, ty), fs, color, th, font=M.font, degree_word=M.degree_word)
    return x0, y0, x0 + bw, y0 + bh


def _warn_icon(img, x, y, h, color, th):
    """'!' in a filled triangle (y = baseline)."""
    pts = np.array([[x + h / 2, y - h * 1.05], [x + h * 1.05, y], [x - h * 0.05, y]])
    cv2.fillPoly(img, [np.round(pts).astype(np.int32)], color, cv2.LINE_AA)
    cv2.line(img, (int(x + h / 2), int(y - 0.72 * h)), (int(x + h / 2), int(y - 0.32 * h)), (0, 0, 0), max(1, th), cv2.LINE_AA)
    cv2.circle(img, (int(x + h / 2), int(y - 0.14 * h)), max(1, th // 2), (0, 0, 0), -1, cv2.LINE_AA)


# --------------------------------------------------------------------------- parts


def _draw_skeleton(img, P: _Pts, M: _Metrics, style: Style, dim_legs: set[int]) -> None:
    lw = max(1, M.lw - 1)
    segs = []
    for a, b in _SKELETON_IDX:
        if (a, b) in _LEG_IDX:        # legs are drawn by _draw_knee
            continue
        if P.ok[a] and P.ok[b]:
            segs.append((_ip(P.xy[a]), _ip(P.xy[b])))
    for p, q in segs:
        cv2.line(img, p, q, style.outline, lw + 2, cv2.LINE_AA)
    for p, q in segs:
        cv2.line(img, p, q, style.skeleton, lw, cv2.LINE_AA)
    r = max(2, M.lw)
    for i in _JOINTS:
        if P.ok[i]:
            cv2.circle(img, _ip(P.xy[i]), r, style.outline, -1, cv2.LINE_AA)
            cv2.circle(img, _ip(P.xy[i]), max(1, r - 1), style.skeleton, -1, cv2.LINE_AA)


def _knee_state(v: float, thr: float) -> str:
    if not _isnum(v):
        return "na"
    return "fault" if (_isnum(thr) and v > thr) else "ok"


def _draw_knee(img, P: _Pts, M: _Metrics, style: Style, side: str, value: float, thr: float,
               role: str, boxes: list) -> None:
    """role: 'stance' (measured leg), 'free' (the lifted leg in single-leg stance: dim, no label)."""
    s = side
    hip, knee, ankle = P.get(f"{s}_hip"), P.get(f"{s}_knee"), P.get(f"{s}_ankle")
    state = "free" if role == "free" else _knee_state(value, thr)
    col = {"ok": style.ok, "fault": style.fault, "na": style.muted, "free": style.muted}[state]
    lw = M.lw * 2 if state == "fault" else M.lw
    # thigh and shank
    segs = [(a, b) for a, b in ((hip, knee), (knee, ankle)) if a is not None and b is not None]
    for a, b in segs:
        cv2.line(img, _ip(a), _ip(b), style.outline, lw + 2, cv2.LINE_AA)
    for a, b in segs:
        cv2.line(img, _ip(a), _ip(b), col if state != "free" else style.skeleton, lw if state != "free" else max(1, M.lw - 1), cv2.LINE_AA)
    if state == "free" or knee is None:
        return
    # arc between the extended thigh line and the shank
    arc_ext = 0.0          # how far the arc/extension reach sideways from the knee (px)
    if hip is not None and ankle is not None:
        d1, d2 = knee - hip, ankle - knee
        n1, n2 = float(np.hypot(*d1)), float(np.hypot(*d2))
        if n1 > 2 and n2 > 2:
            rad = max(6.0, min(0.42 * n2, 0.42 * n1, 6.0 * M.cap))
            ext_len = rad * 1.45
            a1 = math.degrees(math.atan2(d1[1], d1[0]))
            a2 = math.degrees(math.atan2(d2[1], d2[0]))
            sweep = (a2 - a1 + 180.0) % 360.0 - 180.0
            if abs(sweep) >= 3.0:          # dashed "straight leg" line only where it differs from the shin
                ext = knee + d1 / n1 * ext_len
                _dashed(img, knee, ext, col if state != "na" else style.muted, max(1, M.lw // 2 + 1),
                        max(3.0, 0.14 * ext_len), outline=style.outline)
                angs = np.radians(np.linspace(a1, a1 + sweep, 7))
                arc_ext = max(float(np.abs(np.cos(angs)).max()) * rad, abs(d1[0]) / n1 * ext_len)
            if abs(sweep) >= 0.5 and state != "na":
                c = _ip(knee)
                R = int(round(rad))
                if state == "fault":                         # translucent filled wedge (ROI only)
                    x0, y0 = max(0, c[0] - R - 2), max(0, c[1] - R - 2)
                    x1, y1 = min(img.shape[1], c[0] + R + 3), min(img.shape[0], c[1] + R + 3)
                    if x1 > x0 and y1 > y0:
                        roi = img[y0:y1, x0:x1]
                        over = roi.copy()
                        cv2.ellipse(over, (c[0] - x0, c[1] - y0), (R, R), 0, a1, a1 + sweep, col, -1, cv2.LINE_AA)
                        cv2.addWeighted(over, 0.45, roi, 0.55, 0.0, dst=roi)
                cv2.ellipse(img, c, (R, R), 0, a1, a1 + sweep, style.outline, lw + 2, cv2.LINE_AA)
                cv2.ellipse(img, c, (R, R), 0, a1, a1 + sweep, col, lw, cv2.LINE_AA)
    # label on the lateral side of the knee (away from the other leg)
    other = P.get(f"{'right' if s == 'left' else 'left'}_knee")
    if other is None:
        other = P.get(f"{'right' if s == 'left' else 'left'}_hip")
    lateral = 1 if other is None else (1 if knee[0] >= other[0] else -1)
    tag = "L" if s == "left" else "R"
    if state == "na":
        text = f"{tag} knee —"
    else:
        v = float(value)
        direction = "in" if v > 0.5 else ("out" if v < -0.5 else "straight")
        text = f"{tag} knee {_fmt_deg(v)} {direction}" if direction != "straight" else f"{tag} knee 0°"
    gap = max(M.cap * 1.2, arc_ext + 0.6 * M.cap)
    x = int(knee[0] + lateral * gap)
    tcol = style.fault_text if state == "fault" else col
    box = _label(img, M, style, text, x, int(knee[1]), tcol, align="left" if lateral > 0 else "right",
                 icon="cross" if state == "fault" else None, border=col if state == "fault" else None)
    boxes.append(box)


def _draw_hip(img, P: _Pts, M: _Metrics, style: Style, f: OverlayFrame) -> None:
    lh, rh = P.get("left_hip"), P.get("right_hip")
    if lh is None or rh is None:
        return
    v, thr = f.pelvic_drop_deg, f.pelvic_drop_threshold_deg
    fault = _isnum(v) and _isnum(thr) and abs(v) > thr
    col = style.fault if fault else (style.skeleton if not _isnum(thr) or not _isnum(v) else style.ok)
    lw = M.lw * 2 if fault else M.lw
    cv2.line(img, _ip(lh), _ip(rh), style.outline, lw + 2, cv2.LINE_AA)
    cv2.line(img, _ip(lh), _ip(rh), col, lw, cv2.LINE_AA)
    if not _isnum(v):
        return
    # level reference from the stance-side hip (or the higher hip) across the body
    if f.stance in ("left", "right"):
        anchor, other = (lh, rh) if f.stance == "left" else (rh, lh)
    else:
        anchor, other = (lh, rh) if lh[1] <= rh[1] else (rh, lh)
    span = other[0] - anchor[0]
    ref_end = np.array([anchor[0] + 1.25 * span, anchor[1]])
    _dashed(img, anchor, ref_end, style.skeleton, max(1, M.lw // 2), max(3.0, M.cap * 0.4), outline=style.outline)
    # label beyond the free-side hip
    lateral = 1 if other[0] >= anchor[0] else -1
    x = int(max(other[0], ref_end[0]) + M.cap) if lateral > 0 else int(min(other[0], ref_end[0]) - M.cap)
    txt = "hips level" if abs(v) < 1.5 else (f"hip drop {_fmt_deg(v)}" if v > 0 else f"hip raised {_fmt_deg(v)}")
    _label(img, M, style, txt, x, int(other[1]), style.fault_text if fault else style.text,
           align="left" if lateral > 0 else "right", scale_mul=0.85, icon="cross" if fault else None)


def _draw_trunk(img, P: _Pts, M: _Metrics, style: Style, f: OverlayFrame) -> None:
    mh, ms = P.mid("left_hip", "right_hip"), P.mid("left_shoulder", "right_shoulder")
    if mh is None or ms is None:
        return
    v, thr = f.trunk_lean_deg, f.trunk_lean_threshold_deg
    fault = _isnum(v) and _isnum(thr) and abs(v) > thr
    col = style.fault if fault else (style.skeleton if not (_isnum(thr) and _isnum(v)) else style.ok)
    lw = M.lw * 2 if fault else M.lw
    L = float(np.hypot(*(ms - mh)))
    if L < 2:
        return
    _dashed(img, mh, mh + np.array([0.0, -L]), style.skeleton, max(1, M.lw // 2), max(3.0, M.cap * 0.4), outline=style.outline)
    cv2.line(img, _ip(mh), _ip(ms), style.outline, lw + 2, cv2.LINE_AA)
    cv2.line(img, _ip(mh), _ip(ms), col, lw, cv2.LINE_AA)
    if not _isnum(v):
        return
    # which image side is the subject's left? (mirroring-proof: from the shoulders/hips)
    ls, rs = P.get("left_shoulder"), P.get("right_shoulder")
    lean_img_dir = 1 if ms[0] >= mh[0] else -1
    if abs(v) < 1.5:
        txt = "trunk upright"
    else:
        side = "L" if v > 0 else "R"
        txt = f"trunk {_fmt_deg(v)} to {side}"
    if ls is not None and rs is not None:
        subj_left_dir = 1 if ls[0] >= rs[0] else -1
        lean_img_dir = subj_left_dir if v > 0 else -subj_left_dir
    x = int(max(ls[0], rs[0]) + M.cap) if (ls is not None and rs is not None and lean_img_dir > 0) else \
        (int(min(ls[0], rs[0]) - M.cap) if (ls is not None and rs is not None) else int(ms[0] + lean_img_dir * M.cap))
    _label(img, M, style, txt, x, int(ms[1] - 1.8 * M.cap), style.fault_text if fault else style.text,
           align="left" if lean_img_dir > 0 else "right", scale_mul=0.85, icon="cross" if fault else None)


def _stance_text(st: str | None) -> str | None:
    return {"left": "left leg", "right": "right leg", "both": "both legs"}.get(st or "", None)


def _draw_hud(img, M: _Metrics, style: Style, f: OverlayFrame) -> int:
    """Top-left row: 'REPS 3  ✓2  ✗1  left leg'. Returns its bottom y."""
    x0, y0 = M.margin, M.margin
    big = 1.25
    fs_big, th_big = M.fs * big, max(1, int(round(M.th * big)))
    parts = [("REPS ", style.text, fs_big, th_big), (f"{max(0, int(f.reps_done))}", style.text, fs_big, th_big)]
    cap = text_size("H", fs_big, th_big, M.font)[1]
    pad = M.pad
    items = []   # (kind, payload)
    w = 0
    for t, c, fs, th in parts:
        items.append(("t", t, c, fs, th))
        w += text_size(t, fs, th, M.font)[0]
    tally = [("check", f"{max(0, int(f.passed))}", style.ok), ("cross", f"{max(0, int(f.failed))}", style.fault_text)]
    for icon, t, c in tally:
        items.append(("gap", int(0.9 * cap)))
        items.append((icon, c))
        items.append(("t", t, c, fs_big, th_big))
        w += int(0.9 * cap) + cap + int(0.15 * cap) + text_size(t, fs_big, th_big, M.font)[0]
    st = _stance_text(f.stance)
    if st:
        items.append(("gap", int(0.9 * cap)))
        items.append(("t", st, style.text, M.fs, M.th))
        w += int(0.9 * cap) + text_size(st, M.fs, M.th, M.font)[0]
    bh = cap + 2 * pad
    dark_box(img, x0, y0, x0 + w + 2 * pad, y0 + bh, style.box_alpha)
    x, yb = x0 + pad, y0 + pad + cap
    for it in items:
        if it[0] == "t":
            x = put_text(img, it[1], (x, yb), it[3], it[2], it[4], font=M.font)
        elif it[0] == "gap":
            x += it[1]
        elif it[0] == "check":
            draw_check(img, x, yb, cap, it[1], th_big + 1)
            x += cap + int(0.15 * cap)
        elif it[0] == "cross":
            draw_cross(img, x, yb, cap, it[1], th_big + 1)
            x += cap + int(0.15 * cap)
    return y0 + bh


def _verdict_lines(v: Verdict, f: OverlayFrame) -> list[str]:
    vals = dict(v.values or {})
    lims = dict(v.limits or {})
    lines = []
    for code in v.reasons:
        t = reason_text(code)
        val = vals.get(code)
        lim = lims.get(code, f.fppa_threshold_deg if code.startswith("knee_valgus") else None)
        if _isnum(val) and _isnum(lim):
            t += f": {_fmt_deg(val)}, limit {_fmt_deg(lim)}"
        elif _isnum(val):
            t += f": {_fmt_deg(val)}"
        lines.append(t)
    if v.verdict == "pass" and not lines:
        peaks = [(k, vals[k]) for k in ("knee_valgus_left", "knee_valgus_right") if _isnum(vals.get(k))]
        if peaks and _isnum(f.fppa_threshold_deg):
            worst = max(p[1] for p in peaks)
            lines.append(f"Knees stayed in line: max {_fmt_deg(worst)}, limit {_fmt_deg(f.fppa_threshold_deg)}")
        else:
            lines.append("Knees stayed in line")
    if v.verdict == "unmeasurable" and not lines:
        lines.append("This rep could not be judged")
    return lines


def _fit_scale(text: str, fs: float, th: int, font: int, max_w: int, degree_word: bool) -> float:
    w = text_size(text, fs, th, font, degree_word)[0]
    return fs if w <= max_w or w == 0 else max(fs * max_w / w, fs * 0.45)


def _draw_banner(img, M: _Metrics, style: Style, f: OverlayFrame, y_top: int) -> None:
    v = f.verdict
    H, W = img.shape[:2]
    kind = v.verdict if v.verdict in ("pass", "fail") else "unmeasurable"
    fill = {"pass": style.ok_fill, "fail": style.fault, "unmeasurable": (90, 90, 90)}[kind]
    word = VERDICT_WORDS[kind]
    st = _stance_text(v.stance)
    head = f"REP {v.rep_index}" + (f" ({st})" if st and v.stance != "both" else "") + f": {word}"
    x0, x1 = M.margin, W - M.margin
    avail = x1 - x0
    pad = M.pad
    fs_h = M.fs * 1.7
    th_h = max(1, int(round(M.th * 1.7)))
    cap_h = text_size("H", fs_h, th_h, M.font)[1]
    icon_w = int(cap_h * 1.3)
    fs_h = _fit_scale(head, fs_h, th_h, M.font, avail - 3 * pad - icon_w, M.degree_word)
    cap_h = text_size("H", fs_h, th_h, M.font)[1]
    icon_w = int(cap_h * 1.3)
    lines = _verdict_lines(v, f)
    if len(lines) > 3:
        lines = lines[:2] + [f"+ {len(lines) - 2} more"]
    fs_r = M.fs * 1.05
    th_r = M.th
    fs_r = min([_fit_scale(t, fs_r, th_r, M.font, avail - 2 * pad, M.degree_word) for t in lines] or [fs_r])
    cap_r = text_size("H", fs_r, th_r, M.font)[1]
    head_h = cap_h + 2 * pad
    line_h = int(cap_r * 1.75)
    body_h = len(lines) * line_h + pad
    y0 = min(max(0, y_top), max(0, H - head_h - body_h))
    # solid coloured head (opaque: fast, maximal salience), dark translucent body
    cv2.rectangle(img, (x0, y0), (x1, y0 + head_h), fill, -1)
    dark_box(img, x0, y0 + head_h, x1 + 1, y0 + head_h + body_h, max(style.box_alpha, 0.72))
    cv2.rectangle(img, (x0, y0), (x1, y0 + head_h + body_h), fill, max(1, M.lw // 2))
    ix, iy = x0 + pad, y0 + pad + cap_h
    icon_th = max(2, th_h + 1)
    if kind == "pass":
        draw_check(img, ix, iy, cap_h, style.outline, icon_th + 2)
        draw_check(img, ix, iy, cap_h, style.text, icon_th)
    elif kind == "fail":
        draw_cross(img, ix, iy, cap_h, style.outline, icon_th + 2)
        draw_cross(img, ix, iy, cap_h, style.text, icon_th)
    else:
        put_text(img, "?", (ix + cap_h // 5, iy), fs_h, style.text, th_h, outline=style.outline, font=M.font)
    put_text(img, head, (ix + icon_w, iy), fs_h, style.text, th_h, outline=style.outline, font=M.font,
             degree_word=M.degree_word)
    y = y0 + head_h + pad // 2
    for t in lines:
        y += line_h
        put_text(img, t, (x0 + pad, y - (line_h - cap_r) // 2), fs_r, style.text, th_r, font=M.font,
                 degree_word=M.degree_word)


def _draw_bottom(img, M: _Metrics, style: Style, f: OverlayFrame, note: str | None, show_legend: bool) -> None:
    H, W = img.shape[:2]
    y = H - M.margin
    if note:
        fs = _fit_scale(note, M.fs, M.th, M.font, W - 2 * M.margin - 3 * M.pad - M.cap, M.degree_word)
        mul = fs / M.fs
        tw, cap, _ = text_size(note, fs, M.th, M.font, M.degree_word)
        bh = cap + 2 * max(2, int(M.pad * mul))
        box = _label(img, M, style, note, W // 2, y - bh // 2, style.text, align="center", icon="warn",
                     scale_mul=mul)
        y = box[1] - max(2, M.pad // 2)
    if not show_legend:
        return
    # tiny legend: line swatches + words, two rows
    mul = max(0.72, 8.5 / max(M.cap, 1))           # legend cap height >= ~8.5 px
    fs, th = M.fs * mul, max(1, int(round(M.th * mul)))
    cap = text_size("H", fs, th, M.font)[1]
    pad = max(2, int(M.pad * mul))
    sw = int(cap * 1.8)
    thr = f.fppa_threshold_deg
    lim = f"limit {_fmt_deg(thr)}" if _isnum(thr) else "no limit set"
    row2 = f"knee angle = shin vs. dashed thigh line, 0° = straight; {lim}"
    if f.fppa_kind == "frontal":
        row2 += " (corrected for body turn)"
    row1 = [("ok", "OK"), ("fault", "too far in"), ("na", "not measured")]
    widths = [sw + pad + text_size(t, fs, th, M.font)[0] + 2 * pad for _, t in row1]
    w1 = sum(widths)
    if text_size(row2, fs, th, M.font, M.degree_word)[0] > W - 2 * M.margin - 2 * pad:
        row2 = f"knee angle: 0° = straight leg; {lim}"
    fs2 = _fit_scale(row2, fs, th, M.font, W - 2 * M.margin - 2 * pad, M.degree_word)
    w2 = text_size(row2, fs2, th, M.font, M.degree_word)[0]
    cap2 = text_size("H", fs2, th, M.font)[1]
    bw = max(w1, w2) + 2 * pad
    bh = cap + cap2 + 4 * pad
    x0, y0 = M.margin, y - bh
    dark_box(img, x0, y0, x0 + bw, y0 + bh, style.box_alpha)
    x, yb = x0 + pad, y0 + pad + cap
    for (k, t), wdt in zip(row1, widths):
        col = {"ok": style.ok, "fault": style.fault, "na": style.muted}[k]
        lw = max(1, M.lw // 2 + (M.lw if k == "fault" else 0))
        cv2.line(img, (x, yb - cap // 2), (x + sw, yb - cap // 2), col, lw, cv2.LINE_AA)
        put_text(img, t, (x + sw + pad, yb), fs, style.text, th, font=M.font)
        x += wdt
    put_text(img, row2, (x0 + pad, yb + cap2 + 2 * pad), fs2, style.text, th, font=M.font, degree_word=M.degree_word)


# --------------------------------------------------------------------------- entry point


def draw_overlay(image_bgr: np.ndarray, f: OverlayFrame, *, style: Style = Style()) -> np.ndarray:
    """Draw the overlay for one frame **in place** on ``image_bgr`` (H×W×3 uint8) and return it."""
    img = image_bgr
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError("draw_overlay expects a BGR uint8 image of shape (H, W, 3)")
    H, W = img.shape[:2]
    if H < 8 or W < 8:
        return image_bgr                              # nothing legible fits; leave it untouched
    work = img if img.flags["C_CONTIGUOUS"] else np.ascontiguousarray(img)
    M = _metrics(W, H, style)
    P = _Pts(f.xy_px, W, H)
    anyone = bool(P.ok.any())
    thr = f.fppa_threshold_deg
    if anyone:
        if style.show_skeleton:
            _draw_skeleton(work, P, M, style, set())
        if style.show_trunk:
            _draw_trunk(work, P, M, style, f)
        if style.show_hip:
            _draw_hip(work, P, M, style, f)
        boxes: list = []
        for side, val in (("left", f.fppa_left_deg), ("right", f.fppa_right_deg)):
            role = "free" if (f.stance in ("left", "right") and f.stance != side) else "stance"
            if style.show_knees:
                _draw_knee(work, P, M, style, side, val, thr, role, boxes)
    y = M.margin
    if style.show_hud:
        y = _draw_hud(work, M, style, f) + M.margin // 2
    if f.verdict is not None:
        _draw_banner(work, M, style, f, y)
    note = f.note if f.note else (None if anyone else "Nobody detected: step into the picture")
    _draw_bottom(work, M, style, f, note, style.show_legend and anyone and min(H, W) >= 200)
    if work is not img:
        img[...] = work
    return image_bgr
