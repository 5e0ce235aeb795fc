"""The live picture, pure drawing (image in, image out): the camera image with the overlay, the
setup guide, the toasts and centre labels, the status bar (:func:`compose`) and the replay's caption.
No window, no keys, no files: :mod:`valgus_cam.live` runs the loop and shows what is drawn here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .annotate import (OKABE_ITO_BGR, OverlayFrame, Style, dark_box, draw_check, draw_cross, draw_overlay, put_text,
                       text_size)
from .stream import GATE_DONE, GATE_ORDER, GATE_PENDING, GATE_TODO, LiveState
from .verdicts import Thresholds

KEYS_HELP = "q quit   space pause   c recalibrate   l / r / b stance: left / right / both   t test   s snapshot"
TEST_NAMES = {"auto": "auto", "squat": "double-leg squat", "single-leg": "single-leg squat"}


@dataclass
class Hud:
    """What the picture shows besides the analysis: session facts for the status bar."""

    recording: bool = False
    elapsed_s: float = 0.0
    fps: float = 0.0
    model: str = ""
    mode: str = "video"
    test: str = "auto"
    stance: str = "auto"
    paused: bool = False
    toast: str | None = None
    banner: object = None  # annotate.Verdict or None
    thresholds: Thresholds = field(default_factory=Thresholds)
    mirror: bool = True


def _scale(img: np.ndarray) -> tuple[float, int, int]:
    """(font scale, thickness, cap height px) for the guide and bar, from the image size."""
    m = min(img.shape[:2])
    cap = max(12.0, 0.03 * m)
    fs = cap / cv2.getTextSize("H", cv2.FONT_HERSHEY_DUPLEX, 1.0, 1)[0][1]
    th = max(1, int(round(fs * 1.3)))
    return fs, th, int(cap)


def status_bar_height(width: int, height: int) -> int:
    m = min(width, height)
    cap = max(10.0, 0.021 * m)
    return int(round(cap * 4.4))


def draw_status_bar(bar: np.ndarray, hud: Hud, state: LiveState | None) -> None:
    """Two lines under the picture: session facts, then the keys."""
    h, w = bar.shape[:2]
    bar[:] = (32, 32, 32)
    cap = h / 4.4  # two text lines in the bar's height (status_bar_height)
    fs = cap / cv2.getTextSize("H", cv2.FONT_HERSHEY_DUPLEX, 1.0, 1)[0][1]
    th = max(1, int(round(fs * 1.2)))
    x, y1, y2 = int(0.6 * cap), int(1.55 * cap), int(3.55 * cap)
    white, grey = (240, 240, 240), (175, 175, 175)
    if hud.recording:
        cv2.circle(bar, (x + int(0.45 * cap), y1 - int(0.45 * cap)), max(3, int(0.42 * cap)),
                   OKABE_ITO_BGR["vermillion"], -1, cv2.LINE_AA)
        x = put_text(bar, "REC", (x + int(1.1 * cap), y1), fs, white, th) + int(0.8 * cap)
    mm, ss = divmod(int(hud.elapsed_s), 60)
    phase = "PAUSED" if hud.paused else ("counting" if state is not None and state.phase == "counting" else "setting up")
    test = TEST_NAMES.get(hud.test, hud.test)
    stance = {"auto": "auto", "left": "left leg", "right": "right leg"}.get(hud.stance, hud.stance)
    facts = (f"{mm:02d}:{ss:02d}   {phase}   test: {test}   stance: {stance}   "
             f"{hud.model} · {hud.mode.replace('_', ' ')} · {hud.fps:.0f} fps")
    put_text(bar, facts, (x, y1), fs, white, th)
    fs2 = fs * 0.85
    tw = text_size(KEYS_HELP, fs2, max(1, th - 1))[0]
    if tw > w - 2 * int(0.6 * cap):
        fs2 *= (w - 2 * int(0.6 * cap)) / tw
    put_text(bar, KEYS_HELP, (int(0.6 * cap), y2), fs2, grey, max(1, th - 1))


def draw_setup_guide(img: np.ndarray, state: LiveState) -> None:
    """The setup checklist in the middle of the picture: done steps ✓, the step to do now ✗ in
    orange with what to do, the steps after it greyed; a progress bar while holding still."""
    H, W = img.shape[:2]
    fs, th, cap = _scale(img)
    rows = []
    current = state.failing
    passed_all = True
    for gate in GATE_ORDER:
        ok = bool(state.gates_ok.get(gate, False)) and passed_all
        if gate == current:
            text = GATE_TODO[gate] + (f" ({state.detail})" if state.detail else "")
            rows.append(("now", text))
            passed_all = False
        elif ok:
            rows.append(("done", GATE_DONE[gate]))
        else:
            rows.append(("todo", GATE_PENDING[gate]))
            passed_all = False
    title = "GET READY: " + (GATE_TODO[current] if current else "hold still")
    tfs = fs * 1.25
    tth = max(1, int(round(th * 1.25)))
    line_h = int(cap * 2.0)
    widths = [text_size(title, tfs, tth)[0]] + [text_size(t, fs * (1.1 if k == "now" else 1.0), th)[0] + 2 * cap
                                                for k, t in rows]
    bw = min(W - 2 * cap, max(widths) + 3 * cap)
    if max(widths) + 3 * cap > bw:  # shrink to fit a narrow picture
        k = bw / (max(widths) + 3 * cap)
        fs, tfs, cap, line_h = fs * k, tfs * k, max(6, int(cap * k)), max(10, int(line_h * k))
    bh = int(cap * 3.2) + line_h * len(rows) + (line_h if current == "still" else 0)
    # left side under the counter (people stand in the middle), or centred on a narrow picture
    x0 = cap if bw <= 0.42 * W else (W - bw) // 2
    y0 = int(3.6 * cap)  # under the rep counter
    dark_box(img, x0, y0, x0 + bw, y0 + bh, 0.72)
    cv2.rectangle(img, (x0, y0), (x0 + bw, y0 + bh), OKABE_ITO_BGR["orange"], max(1, th), cv2.LINE_AA)
    tx = x0 + int(1.2 * cap)
    put_text(img, title, (tx, y0 + int(2.1 * cap)), tfs, (255, 255, 255), tth)
    y = y0 + int(2.2 * cap) + line_h
    for kind, text in rows:
        if kind == "done":
            draw_check(img, tx, y, cap, OKABE_ITO_BGR["sky_blue"], th + 1)
            put_text(img, text, (tx + int(1.6 * cap), y), fs, (200, 200, 200), th)
        elif kind == "now":
            draw_cross(img, tx, y, cap, OKABE_ITO_BGR["orange"], th + 1)
            put_text(img, text, (tx + int(1.6 * cap), y), fs * 1.1, OKABE_ITO_BGR["orange"], th + 1)
        else:
            cv2.circle(img, (tx + cap // 2, y - cap // 2), max(2, cap // 6), (140, 140, 140), -1, cv2.LINE_AA)
            put_text(img, text, (tx + int(1.6 * cap), y), fs, (140, 140, 140), th)
        if kind == "now" and current == "still":
            y += line_h
            bx0, bx1 = tx + int(1.6 * cap), x0 + bw - int(1.2 * cap)
            cv2.rectangle(img, (bx0, y - cap), (bx1, y), (90, 90, 90), -1)
            cv2.rectangle(img, (bx0, y - cap), (bx0 + int((bx1 - bx0) * state.calibration), y),
                          OKABE_ITO_BGR["sky_blue"], -1)
        y += line_h


def draw_toast(img: np.ndarray, text: str) -> None:
    """A short notice in the top-right corner ("Snapshot saved", "Calibrated: squat when ready")."""
    H, W = img.shape[:2]
    fs, th, cap = _scale(img)
    tw = text_size(text, fs, th)[0]
    f = min(1.0, (0.6 * W) / max(tw, 1))
    tw = int(tw * f)
    x1, y0 = W - cap, cap // 2
    x0 = x1 - tw - 2 * cap
    dark_box(img, x0, y0, x1, y0 + int(2.4 * cap), 0.78)
    cv2.rectangle(img, (x0, y0), (x1, y0 + int(2.4 * cap)), OKABE_ITO_BGR["sky_blue"], max(1, th // 2), cv2.LINE_AA)
    put_text(img, text, (x0 + cap, y0 + int(1.7 * cap)), fs * f, OKABE_ITO_BGR["sky_blue"], th)


def draw_legs(img: np.ndarray, xy: np.ndarray) -> None:
    """Thigh and shank lines (the overlay draws them with the knee angles, hidden during setup)."""
    from .landmarks import LM

    lw = max(2, int(round(0.0042 * min(img.shape[:2]))))
    for side in ("left", "right"):
        pts = [tuple(int(round(v)) for v in xy[LM[f"{side}_{j}"]]) for j in ("hip", "knee", "ankle")]
        for a, b in zip(pts, pts[1:]):
            cv2.line(img, a, b, (20, 20, 20), lw + 2, cv2.LINE_AA)
            cv2.line(img, a, b, (235, 235, 235), lw, cv2.LINE_AA)


def draw_centre_label(img: np.ndarray, text: str, sub: str | None = None, colour=(255, 255, 255),
                      y_frac: float = 0.45) -> None:
    """A big label on a dark box in the middle (PAUSED, toasts)."""
    H, W = img.shape[:2]
    fs, th, cap = _scale(img)
    bfs, bth = fs * 1.6, max(1, int(round(th * 1.6)))
    tw, tc, _ = text_size(text, bfs, bth)
    sw = text_size(sub, fs, th)[0] if sub else 0
    bw, bh = max(tw, sw) + 3 * cap, int(tc + 2.2 * cap + (1.8 * cap if sub else 0))
    x0, y0 = (W - bw) // 2, int(y_frac * H - bh / 2)
    dark_box(img, x0, y0, x0 + bw, y0 + bh, 0.75)
    put_text(img, text, ((W - tw) // 2, y0 + int(1.1 * cap) + tc), bfs, colour, bth)
    if sub:
        put_text(img, sub, ((W - sw) // 2, y0 + bh - int(0.9 * cap)), fs, (220, 220, 220), th)


def compose(frame_bgr: np.ndarray, xy_px: np.ndarray | None, state: LiveState | None, hud: Hud) -> np.ndarray:
    """The picture for one frame: the (mirrored) camera image with the overlay, the setup guide
    until counting starts, a banner after each rep, and the status bar below. Pure drawing."""
    H, W = frame_bgr.shape[:2]
    img = cv2.flip(frame_bgr, 1) if hud.mirror else frame_bgr.copy()
    xy = None
    if xy_px is not None and np.isfinite(xy_px).all():
        xy = xy_px.copy()
        if hud.mirror:
            xy[:, 0] = W - xy[:, 0]
    if state is not None:
        counting = state.phase == "counting"
        vals = state.values
        fl, fr = vals.get("fppa_frontal_left_deg", math.nan), vals.get("fppa_frontal_right_deg", math.nan)
        if state.stance == "left":
            fr = math.nan
        elif state.stance == "right":
            fl = math.nan
        note = None
        if counting and state.failing:
            note = GATE_TODO[state.failing] + " (not counting while this lasts)"
        reps = state.reps
        ov = OverlayFrame(
            xy_px=xy, fppa_left_deg=fl, fppa_right_deg=fr, fppa_threshold_deg=hud.thresholds.knee_limit_deg,
            fppa_kind="frontal", pelvic_drop_deg=math.nan, trunk_lean_deg=vals.get("trunk_lean_deg", math.nan),
            reps_done=len(reps), stance=state.stance if counting else None, verdict=hud.banner, note=note,
            passed=sum(r.verdict == "pass" for r in reps), failed=sum(r.verdict == "fail" for r in reps),
            trunk_lean_threshold_deg=hud.thresholds.trunk_lean_max_deg)
        style = Style() if counting else Style(show_knees=False, show_trunk=False, show_hip=False, show_legend=False)
        draw_overlay(img, ov, style=style)
        if not counting and xy is not None:
            draw_legs(img, xy)
        if not counting and not hud.paused:
            draw_setup_guide(img, state)
    if hud.paused:
        draw_centre_label(img, "PAUSED", "space: resume   q: quit")
    if hud.toast:
        draw_toast(img, hud.toast)
    return np.vstack([img, _status_bar(W, H, hud, state)])


_BAR_CACHE: dict = {}


def _status_bar(W: int, H: int, hud: Hud, state: LiveState | None) -> np.ndarray:
    """The status bar image, redrawn only when its text changes (about once a second)."""
    phase = state.phase if state is not None else None
    key = (W, H, hud.recording, int(hud.elapsed_s), round(hud.fps), hud.model, hud.mode, hud.test, hud.stance,
           hud.paused, phase)
    bar = _BAR_CACHE.get(key)
    if bar is None:
        bar = np.empty((status_bar_height(W, H), W, 3), np.uint8)
        draw_status_bar(bar, hud, state)
        _BAR_CACHE.clear()
        _BAR_CACHE[key] = bar
    return bar


def _draw_replay_caption(img: np.ndarray, head: str, sub: str, bottom: bool, bar: int) -> None:
    """Over the recorded status bar (the bottom ``bar`` rows of annotated.avi): what failed, the keys."""
    Ht, W = img.shape[:2]
    bar = bar if 0 < bar < Ht else max(40, Ht // 12)
    strip = img[Ht - bar:]
    strip[:] = (25, 25, 25)
    h = strip.shape[0]
    cap = h / 4.4
    fs = cap / cv2.getTextSize("H", cv2.FONT_HERSHEY_DUPLEX, 1.0, 1)[0][1]
    th = max(1, int(round(fs * 1.2)))
    tw = text_size(head, fs * 1.1, th)[0]
    f = min(1.0, (W - 2 * cap) / max(tw, 1))
    put_text(strip, head, (int(0.6 * cap), int(1.6 * cap)), fs * 1.1 * f, OKABE_ITO_BGR["orange"], th)
    put_text(strip, sub, (int(0.6 * cap), int(3.6 * cap)), fs * 0.85, (220, 220, 220), max(1, th - 1))
    if bottom:
        draw_centre_label(img[:Ht - bar], "BOTTOM OF THE REP", "the knee angle is measured here", y_frac=0.62)
