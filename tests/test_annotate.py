"""Overlay drawing (valgus_cam.annotate): what is drawn where, in which colour, for any input."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import valgus_cam.annotate as A
from valgus_cam.annotate import OverlayFrame, Style, Verdict, draw_overlay, reason_text
from valgus_cam.landmarks import LM  # noqa: E402

NAN = math.nan
OK = np.array(A.OKABE_ITO_BGR["sky_blue"])
FAULT = np.array(A.OKABE_ITO_BGR["vermillion"])
OK_FILL = np.array(A.OKABE_ITO_BGR["blue"])


def pose(w: int, h: int, *, valgus_left_px: float = 0.0, mirrored: bool = False) -> np.ndarray:
    """A standing front-facing person (subject's left on the image right unless mirrored)."""
    cx, s = w / 2, h / 720
    xy = np.full((33, 2), np.nan)

    def put(name, x_off, y):  # x_off > 0: subject's left
        sign = -1 if mirrored else 1
        xy[LM[name]] = (cx + sign * x_off * s, y * s)
    put("nose", 0, 120)
    for side, k in (("left", 1), ("right", -1)):
        put(f"{side}_shoulder", k * 60, 190)
        put(f"{side}_elbow", k * 75, 270)
        put(f"{side}_wrist", k * 80, 340)
        put(f"{side}_hip", k * 40, 360)
        put(f"{side}_knee", k * 42, 500)
        put(f"{side}_ankle", k * 44, 640)
        put(f"{side}_heel", k * 44, 655)
        put(f"{side}_foot_index", k * 50, 675)
    # cave the left knee in (toward the midline)
    xy[LM["left_knee"], 0] += (1 if mirrored else -1) * valgus_left_px * s
    return xy


def frame(xy, **kw) -> OverlayFrame:
    base = dict(xy_px=xy, fppa_left_deg=5.0, fppa_right_deg=4.0, fppa_threshold_deg=13.0, fppa_kind="image",
                pelvic_drop_deg=NAN, trunk_lean_deg=1.0, reps_done=0, stance="both", verdict=None, note=None)
    base.update(kw)
    return OverlayFrame(**base)


def blank(w=1280, h=720, v=60):
    return np.full((h, w, 3), v, np.uint8)


def near(img_region: np.ndarray, color: np.ndarray, tol: int = 30) -> int:
    """Number of pixels within tol (max abs per channel) of color."""
    return int((np.abs(img_region.astype(int) - color.astype(int)).max(axis=-1) <= tol).sum())


def fail_verdict(**kw):
    d = dict(rep_index=3, verdict="fail", reasons=("knee_valgus_left",), stance="both",
             values={"knee_valgus_left": 22.0})
    d.update(kw)
    return Verdict(**d)


# ------------------------------------------------------------------ API basics


def test_draws_in_place_and_returns_same_object():
    img = blank()
    out = draw_overlay(img, frame(pose(1280, 720)))
    assert out is img
    assert (img != 60).any()


def test_reason_text_plain_language():
    assert reason_text("knee_valgus_left") == "Left knee caved inwards"
    assert reason_text("knee_valgus_right") == "Right knee caved inwards"
    for code in ("pelvic_drop", "trunk_lean", "hands_off_hips", "balance_lost", "knee_not_measurable"):
        t = reason_text(code)
        assert t and "_" not in t and t[0].isupper()
    assert reason_text("some_new_code") == "Some new code"
    assert reason_text("") == "Unknown reason"


def test_rejects_non_bgr_input():
    with pytest.raises(ValueError):
        draw_overlay(np.zeros((10, 10), np.uint8), frame(None))
    with pytest.raises(ValueError):
        draw_overlay(np.zeros((10, 10, 3), np.float32), frame(None))


# ------------------------------------------------------------------ banner


def test_fail_banner_at_top_in_vermillion_with_reason_line():
    img = blank()
    draw_overlay(img, frame(pose(1280, 720), verdict=fail_verdict(), reps_done=3, failed=1))
    top = img[:200]
    assert near(top, FAULT, 12) > 5000          # a solid vermillion head
    assert near(img[250:], FAULT, 12) < near(top, FAULT, 12)
    # white text was drawn in the banner (headline + reason)
    assert near(top, np.array([255, 255, 255]), 10) > 300


def test_pass_banner_is_blue_and_not_vermillion():
    img = blank()
    v = Verdict(2, "pass", (), "both", values={"knee_valgus_left": 4.0})
    draw_overlay(img, frame(pose(1280, 720), verdict=v), style=Style(show_knees=False, show_hud=False))
    top = img[:200]
    assert near(top, OK_FILL, 12) > 5000
    assert near(top, FAULT, 25) == 0


def test_banner_changes_pixels_only_when_present():
    a, b = blank(), blank()
    xy = pose(1280, 720)
    draw_overlay(a, frame(xy))
    draw_overlay(b, frame(xy, verdict=fail_verdict()))
    diff = np.abs(a.astype(int) - b.astype(int)).max(axis=-1) > 0
    rows = np.where(diff.any(axis=1))[0]
    assert rows.size and rows.max() < 720 * 0.4      # the banner sits in the upper part


def test_banner_text_mentions_values_and_limit():
    f = frame(pose(1280, 720), verdict=fail_verdict())
    lines = A._verdict_lines(f.verdict, f)
    assert lines == ["Left knee caved inwards: 22°, limit 13°"]
    v = Verdict(1, "fail", ("pelvic_drop", "hands_off_hips"), "left", values={"pelvic_drop": 9.4},
                limits={"pelvic_drop": 6})
    lines = A._verdict_lines(v, f)
    assert lines[0] == "Pelvis dropped on the free-leg side: 9°, limit 6°"  # the words of verdicts.REASONS
    assert lines[1] == "Hands came off the hips"


def test_unmeasurable_banner_and_many_reasons_do_not_crash():
    v = Verdict(7, "unmeasurable", tuple(f"code_{i}" for i in range(8)), "right")
    for w, h in ((1280, 720), (640, 360), (200, 120)):
        img = blank(w, h)
        draw_overlay(img, frame(pose(w, h), verdict=v, note="x" * 300))


# ------------------------------------------------------------------ knees: colour + thickness


def _knee_region(img, xy, side, r=60):
    x, y = xy[LM[f"{side}_knee"]].astype(int)
    return img[y - r:y + r, x - r:x + r]


def test_knee_past_limit_drawn_in_fault_colour_and_thicker():
    xy = pose(1280, 720, valgus_left_px=30)
    st = Style(show_hud=False, show_legend=False, show_trunk=False, show_hip=False)
    img_f, img_ok = blank(), blank()
    draw_overlay(img_f, frame(xy, fppa_left_deg=22.0), style=st)
    draw_overlay(img_ok, frame(xy, fppa_left_deg=5.0), style=st)
    # along the left shank: vermillion vs sky blue
    shank_f = img_f[560:620]
    shank_ok = img_ok[560:620]
    assert near(shank_f, FAULT, 20) > 0 and near(shank_ok, FAULT, 20) == 0
    assert near(shank_ok, OK, 20) > 0
    # thicker: more coloured pixels in a row across the shank
    row_f = near(img_f[590:591, 640:720], FAULT, 40)       # left leg only (subject's left = image right)
    row_ok = near(img_ok[590:591, 640:720], OK, 40)
    assert row_ok > 0
    assert row_f > row_ok


def test_right_knee_uses_its_own_value():
    xy = pose(1280, 720)
    img = blank()
    draw_overlay(img, frame(xy, fppa_left_deg=2.0, fppa_right_deg=30.0),
                 style=Style(show_hud=False, show_legend=False))
    xr = int(xy[LM["right_knee"], 0])
    xl = int(xy[LM["left_knee"], 0])
    assert near(img[540:620, xr - 15:xr + 15], FAULT, 20) > 0
    assert near(img[540:620, xl - 15:xl + 15], FAULT, 20) == 0


def test_nan_values_are_grey_not_coloured():
    xy = pose(1280, 720)
    img = blank()
    draw_overlay(img, frame(xy, fppa_left_deg=NAN, fppa_right_deg=NAN, pelvic_drop_deg=NAN, trunk_lean_deg=NAN,
                            fppa_threshold_deg=NAN), style=Style(show_hud=False, show_legend=False))
    body = img[300:700]
    assert near(body, FAULT, 20) == 0 and near(body, OK, 20) == 0
    assert near(body, np.array(Style().muted), 5) > 50


def test_free_leg_in_single_stance_is_not_judged():
    xy = pose(1280, 720)
    img = blank()
    # right leg free: even a huge value must not draw a fault there
    draw_overlay(img, frame(xy, stance="left", fppa_left_deg=3.0, fppa_right_deg=60.0),
                 style=Style(show_hud=False, show_legend=False))
    assert near(img, FAULT, 20) == 0


def test_arc_is_drawn_at_a_bent_knee():
    xy = pose(1280, 720, valgus_left_px=60)
    st = Style(show_hud=False, show_legend=False, show_trunk=False, show_hip=False, show_skeleton=False)
    a, b = blank(), blank()
    draw_overlay(a, frame(xy, fppa_left_deg=22.0), style=st)
    straight = pose(1280, 720)
    draw_overlay(b, frame(straight, fppa_left_deg=22.0), style=st)
    # the filled wedge: vermillion pixels right next to the knee, off the leg lines
    kx, ky = xy[LM["left_knee"]].astype(int)
    ring = a[ky - 25:ky + 25, kx - 25:kx + 25]
    ring_b = b[ky - 25:ky + 25, int(straight[LM["left_knee"], 0]) - 25:int(straight[LM["left_knee"], 0]) + 25]
    assert near(ring, FAULT, 60) > near(ring_b, FAULT, 60)


# ------------------------------------------------------------------ labels follow the subject's sides


def test_labels_on_lateral_side_normal_and_mirrored():
    for mirrored in (False, True):
        xy = pose(1280, 720, mirrored=mirrored)
        boxes: list = []
        img = blank()
        M = A._metrics(1280, 720, Style())
        P = A._Pts(xy, 1280, 720)
        A._draw_knee(img, P, M, Style(), "left", 5.0, 13.0, "stance", boxes)
        A._draw_knee(img, P, M, Style(), "right", 5.0, 13.0, "stance", boxes)
        (l0, _, l1, _), (r0, _, r1, _) = boxes
        lk, rk = xy[LM["left_knee"], 0], xy[LM["right_knee"], 0]
        if not mirrored:          # subject's left on the image right
            assert l0 > lk and r1 < rk
        else:
            assert l1 < lk and r0 > rk


def test_mirrored_image_draws_fault_on_the_subjects_left_leg():
    xy = pose(1280, 720, mirrored=True)
    img = blank()
    draw_overlay(img, frame(xy, fppa_left_deg=25.0, fppa_right_deg=1.0),
                 style=Style(show_hud=False, show_legend=False))
    x_left = int(xy[LM["left_knee"], 0])
    assert x_left < 640
    assert near(img[560:620, :640], FAULT, 20) > 0
    assert near(img[560:620, 640:], FAULT, 20) == 0


# ------------------------------------------------------------------ robustness


def test_no_person():
    img = blank()
    draw_overlay(img, frame(None, fppa_left_deg=NAN, fppa_right_deg=NAN, verdict=fail_verdict()))
    assert near(img[-60:], np.array([255, 255, 255]), 10) > 50   # "Nobody detected" hint at the bottom


def test_nan_and_garbage_landmarks():
    for xy in (np.full((33, 2), np.nan), np.full((33, 2), np.inf), np.full((33, 2), 1e12),
               np.zeros((5, 2)), np.zeros((33, 3)), np.zeros((33, 2))):
        img = blank(320, 240)
        draw_overlay(img, frame(xy, fppa_left_deg=NAN, fppa_right_deg=np.inf, pelvic_drop_deg=NAN,
                                trunk_lean_deg=NAN, fppa_threshold_deg=NAN))
    xy = pose(1280, 720)
    xy[LM["left_knee"]] = np.nan
    img = blank()
    draw_overlay(img, frame(xy, fppa_left_deg=20.0, pelvic_drop_deg=5.0, stance="left"))


@pytest.mark.parametrize("wh", [(1, 1), (7, 7), (8, 8), (16, 9), (40, 30), (64, 48), (100, 2000), (2000, 100)])
def test_tiny_and_odd_images(wh):
    w, h = wh
    img = blank(w, h)
    out = draw_overlay(img, frame(pose(w, h), verdict=fail_verdict(), note="Turn square to the camera",
                                  pelvic_drop_deg=6.0, stance="left"))
    assert out.shape == (h, w, 3)


def test_non_contiguous_view_is_drawn():
    big = blank(1400, 800)
    view = big[40:760, 60:1340]
    assert not view.flags["C_CONTIGUOUS"]
    draw_overlay(view, frame(pose(1280, 720), verdict=fail_verdict()))
    assert (big[40:760, 60:1340] != 60).any()
    assert (big[:40] == 60).all() and (big[:, :60] == 60).all()


@pytest.mark.parametrize("wh", [(1280, 720), (720, 960), (640, 360)])
def test_sizes_scale_with_image(wh):
    w, h = wh
    M = A._metrics(w, h, Style())
    assert 10 <= M.cap <= 0.05 * min(w, h) + 2
    img = blank(w, h)
    draw_overlay(img, frame(pose(w, h), verdict=fail_verdict(), note="hint"))
    # the banner fits inside the image width
    mask = (np.abs(img[: h // 2].astype(int) - FAULT).max(axis=-1) <= 12)
    xs = np.where(mask.any(axis=0))[0]
    assert xs.min() >= 1 and xs.max() <= w - 2


# ------------------------------------------------------------------ text helper


def test_put_text_handles_non_ascii():
    img = blank(400, 100)
    x_end = A.put_text(img, "22° — ✓ ✗ · é", (5, 60), 0.8, (255, 255, 255), 1)
    assert x_end > 5
    w, h, _ = A.text_size("22°", 0.8, 1)
    w2, _, _ = A.text_size("22", 0.8, 1)
    assert w > w2 and h > 0
    # the degree sign is drawn (pixels right of "22")
    x0 = 5 + w2
    assert (img[30:60, x0:x0 + (w - w2) + 2] != 60).any()
    # "deg" mode
    assert A.text_size("22°", 0.8, 1, degree_word=True)[0] > w


def test_dark_box_only_touches_roi():
    img = blank(100, 100, 200)
    A.dark_box(img, 10, 10, 30, 30, 0.5)
    assert (img[10:30, 10:30] == 100).all()
    assert (img[:10] == 200).all() and (img[30:] == 200).all()
    A.dark_box(img, -50, -50, -1, -1, 0.5)  # fully outside: no-op
    A.dark_box(img, 90, 90, 500, 500, 0.5)  # clipped
    assert (img[95, 95] == 100).all()


# ------------------------------------------------------------------ the annotated video file (sinks.VideoWriterSink)


def _probe(path):
    av = pytest.importorskip("av")
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return s.codec_context.name, s.codec_context.pix_fmt, (s.width, s.height), n, s.average_rate


@pytest.mark.parametrize("wh, fps", [((320, 240), 30.0), ((101, 55), 29.97)])
def test_video_sink_writes_h264_yuv420p_with_the_index_first(tmp_path, wh, fps):
    from valgus_cam.sinks import VideoWriterSink

    w, h = wh
    out = tmp_path / "annotated.mp4"
    with VideoWriterSink(out, fps, wh) as sink:
        for i in range(12):
            img = blank(w, h, 10 + 20 * i)
            draw_overlay(img, frame(pose(w, h)))
            sink.write(img)
    codec, pix, size, n, rate = _probe(out)
    assert codec == "h264" and pix == "yuv420p" and n == 12
    assert size == (w + w % 2, h + h % 2)  # yuv420p: an odd size gets one more column / row
    assert abs(float(rate) - fps) < 0.01
    head = out.read_bytes()[:64 * 1024]
    assert head.index(b"moov") < head.index(b"mdat")  # +faststart: the index before the data
    assert [p.name for p in tmp_path.iterdir()] == ["annotated.mp4"]  # no temporary file left


def test_video_sink_discards_on_error_and_keeps_nothing(tmp_path):
    from valgus_cam.sinks import VideoWriterSink

    with pytest.raises(RuntimeError):
        with VideoWriterSink(tmp_path / "annotated.mp4", 30, (64, 48)) as sink:
            sink.write(blank(64, 48))
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_missing_h264_encoder_is_one_line_before_any_work(tmp_path, monkeypatch):
    """Without PyAV: one line naming the package, raised before the pose pass (no landmarks.csv)."""
    import valgus_cam
    from valgus_cam.errors import OutputError
    from valgus_cam.sinks import VideoWriterSink

    monkeypatch.setitem(sys.modules, "av", None)  # import av → ImportError
    with pytest.raises(OutputError) as e:
        VideoWriterSink(tmp_path / "a.mp4", 30, (64, 48))
    assert "no H.264 encoder" in str(e.value) and "pip install av" in str(e.value) and "\n" not in str(e.value)
    sample = Path(__file__).resolve().parents[1] / "samples" / "sample_single_leg_squat.mp4"
    with pytest.raises(OutputError, match="no H.264 encoder"):
        valgus_cam.analyze(sample, out=tmp_path / "o", annotate=True)
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []
