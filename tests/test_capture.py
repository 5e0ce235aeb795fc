import re
import subprocess
import threading
import time

import cv2
import numpy as np
import pytest

from valgus_cam.capture import (CameraSource, EndOfStream, ImageFolderSource, RealtimeFileSource, VideoFileSource,
                                 _ReadAhead, open_source)
from valgus_cam.errors import InputError

from conftest import clip


def _ffmpeg_pts(ffmpeg, path):
    """Presentation times (s) of every decoded frame, relative to the first, as ffmpeg sees them."""
    out = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path), "-map", "0:v:0", "-vf", "showinfo",
                          "-f", "null", "-"], capture_output=True, text=True).stderr
    pts = np.array([float(m) for m in re.findall(r"pts_time:([0-9.]+)", out)])
    return pts - pts[0]


def test_video_frames_indices_and_container_timestamps(ffmpeg):
    path = clip("front_highbar_squat_1rep__trutadan.mp4")
    with VideoFileSource(path) as src:
        frames = list(src)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(f.image_bgr.shape == (1080, 608, 3) for f in frames)
    t = np.array([f.time_s for f in frames])
    ref = _ffmpeg_pts(ffmpeg, path)
    assert len(t) == len(ref) == 62
    np.testing.assert_allclose(t, ref, atol=1e-3)


def test_variable_frame_rate_timestamps_are_true_not_index_over_fps(ffmpeg):
    path = clip("side_jump_squat_landings__sagor.mp4")  # phone VFR clip
    with VideoFileSource(path) as src:
        t = np.array([f.time_s for f in src])
    ref = _ffmpeg_pts(ffmpeg, path)
    assert len(t) == len(ref)
    np.testing.assert_allclose(t, ref, atol=1e-3)
    dt = np.diff(t)
    assert (dt > 0).all()
    assert dt.max() > 1.5 * dt.min()  # really variable: index/fps would be wrong here


def test_frame_count_is_what_decodes_not_what_the_header_claims(ffmpeg):
    path = clip("side_squat_2reps__toshineb.mp4")  # header says 259, 254 decode
    with VideoFileSource(path) as src:
        n = sum(1 for _ in src)
    assert n == len(_ffmpeg_pts(ffmpeg, path))


@pytest.mark.parametrize("rotation, cv_code", [(90, cv2.ROTATE_90_COUNTERCLOCKWISE), (-90, cv2.ROTATE_90_CLOCKWISE)])
def test_rotation_metadata_is_applied(ffmpeg, tmp_path, rotation, cv_code):
    src_path = clip("front_highbar_squat_1rep__trutadan.mp4")
    rotated = tmp_path / "phone.mp4"
    subprocess.run([ffmpeg, "-y", "-v", "error", "-display_rotation", str(rotation), "-i", str(src_path),
                    "-c", "copy", "-an", str(rotated)], check=True)
    with VideoFileSource(src_path) as a, VideoFileSource(rotated) as b:
        fa, fb = next(iter(a)), next(iter(b))
        assert b.size_wh == (1080, 608)
    np.testing.assert_array_equal(fb.image_bgr, cv2.rotate(fa.image_bgr, cv_code))


def test_early_close_stops_the_reader_thread():
    before = threading.active_count()
    src = VideoFileSource(clip("front_squat_20reps_counter__rjsong.mp4"), read_ahead=4)
    for f in src:
        if f.index == 10:
            break
    src.close()
    time.sleep(0.2)
    assert threading.active_count() <= before
    assert not any(t.name == "valgus-cam-reader" and t.is_alive() for t in threading.enumerate())


def test_lean_decoding_gives_the_same_frames_on_the_calling_thread():
    """``lean=True`` (the background drawer's source): one decoder thread, no reader thread, and
    the same pixels, indices and container times as the read-ahead path."""
    path = clip("front_highbar_squat_1rep__trutadan.mp4")
    with VideoFileSource(path) as src:
        ref = list(src)
    with open_source(str(path), lean=True) as src:
        seen = []
        for f in src:
            seen.append(f)
            assert not any(t.name == "valgus-cam-reader" and t.is_alive() for t in threading.enumerate())
        with pytest.raises(RuntimeError, match="once"):
            next(iter(src))
    assert [f.index for f in seen] == [f.index for f in ref] and len(seen) == 62
    np.testing.assert_allclose([f.time_s for f in seen], [f.time_s for f in ref], atol=1e-9)
    assert all(np.array_equal(a.image_bgr, b.image_bgr) for a, b in zip(seen, ref))


def test_read_ahead_is_bounded():
    produced = []

    def produce(emit, stop):
        for i in range(1000):
            produced.append(i)
            if not emit(i):
                return

    ra = _ReadAhead(produce, depth=4)
    time.sleep(0.3)
    assert len(produced) <= 6  # queue depth + the one being put, not the whole stream
    assert list(ra) == list(range(1000))


def test_latest_only_drops_stale_items_and_keeps_the_last():
    def produce(emit, stop):
        for i in range(200):
            emit(i)
            time.sleep(0.001)

    ra = _ReadAhead(produce, latest_only=True)
    got = []
    for item in ra:
        got.append(item)
        time.sleep(0.01)  # a slow consumer (inference)
    assert got == sorted(got) and len(set(got)) == len(got)
    assert got[-1] == 199
    assert ra.dropped > 100
    assert ra.dropped + len(got) == 200


def test_producer_errors_reach_the_consumer():
    def produce(emit, stop):
        emit(1)
        raise InputError("boom")

    with pytest.raises(InputError, match="boom"):
        list(_ReadAhead(produce))


def test_image_folder_natural_order_timestamps_and_bad_images(tmp_path):
    for i in (1, 2, 10):
        img = np.full((48, 64, 3), i * 20, np.uint8)
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), img)
    (tmp_path / "frame5.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored")
    with ImageFolderSource(tmp_path, fps=10) as src:
        frames = list(src)
    assert [int(f.image_bgr[0, 0, 0]) for f in frames] == [20, 40, 200]
    assert [f.time_s for f in frames] == pytest.approx([0.0, 0.1, 0.2])
    assert [p.name for p in src.skipped] == ["frame5.png"]


def test_open_source_dispatch(tmp_path):
    img = tmp_path / "one.jpg"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    assert isinstance(open_source(img), ImageFolderSource)
    assert isinstance(open_source(tmp_path), ImageFolderSource)
    with open_source(clip("front_highbar_squat_1rep__trutadan.mp4")) as s:
        assert isinstance(s, VideoFileSource)


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.mp4", "no such file"),
    (lambda p: p, "is a directory"),
    (lambda p: (p / "empty.mp4").write_bytes(b"") and None or p / "empty.mp4", "empty file"),
    (lambda p: (p / "text.mp4").write_text("hello, not a video\n" * 100) and None or p / "text.mp4",
     "not a readable video"),
])
def test_bad_video_inputs_raise_input_error(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        VideoFileSource(make(tmp_path))


def test_zero_frame_and_audio_only_files(tmp_path, ffmpeg):
    zero, audio = tmp_path / "zero.mp4", tmp_path / "audio.m4a"
    subprocess.run([ffmpeg, "-y", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=1",
                    "-frames:v", "0", str(zero)], check=True)
    subprocess.run([ffmpeg, "-y", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(audio)], check=True)
    for p in (zero, audio):
        with pytest.raises(InputError, match="not a readable video|no decodable frames"):
            VideoFileSource(p)


def test_unknown_camera_lists_the_cameras_that_open():
    with pytest.raises(InputError, match=r"camera 57 does not open; cameras that open: "):
        CameraSource(57)


def test_damaged_frames_are_skipped_and_reported(tmp_path):
    import badfiles

    clean = clip("front_highbar_squat_1rep__trutadan.mp4")
    with VideoFileSource(clean) as src:
        ref = [f.time_s for f in src]
        assert src.damage_report() is None
    with VideoFileSource(badfiles.make_corrupt_middle(tmp_path, clean)) as src:
        t = [f.time_s for f in src]
        report = src.damage_report()
    assert len(t) < 0.9 * len(ref) and report and "truncated or damaged" in report
    assert t[-1] == pytest.approx(ref[-1], abs=1e-3)  # decoding went on after the damage
    assert set(np.round(t, 3)) <= set(np.round(ref, 3))  # the frames it gave are true frames, at their times


def test_read_ahead_is_capped_in_bytes():
    from valgus_cam.capture import READ_AHEAD_BYTES, read_ahead_depth

    assert read_ahead_depth(1280 * 720 * 3) == 8
    assert read_ahead_depth(3840 * 2160 * 3) * 3840 * 2160 * 3 <= READ_AHEAD_BYTES
    assert read_ahead_depth(10**10) == 2


def test_realtime_file_source_paces_and_drops_like_a_camera():
    """--realtime: a 2 s clip is delivered over ~2 s of wall clock; a consumer at 10 frames/s gets
    the newest frame each time and the rest are dropped (counted), while ``on_capture`` still sees
    every frame (the raw recording)."""
    path = clip("front_highbar_squat_1rep__trutadan.mp4")  # 62 frames, 30.5 fps
    tapped = []
    with open_source(path, realtime=True) as src:
        assert isinstance(src, RealtimeFileSource) and src.is_live
        src.on_capture = tapped.append
        t0 = time.monotonic()
        got = []
        for f in src:
            got.append(f)
            time.sleep(0.1)  # a slow consumer
        wall = time.monotonic() - t0
    idx = [f.index for f in got]
    assert idx == sorted(idx) and len(set(idx)) == len(idx) and idx[-1] == 61
    assert src.dropped_frames + len(got) == 62 and src.dropped_frames > 30
    assert [f.index for f in tapped] == list(range(62))
    assert 1.7 < wall < 4.0
    cap = np.array([f.capture_s for f in got])
    pts = np.array([f.time_s for f in got])
    assert np.all(np.abs((cap - cap[0]) - (pts - pts[0])) < 0.25)  # delivered at its presentation time


def test_reader_get_polls_without_blocking():
    with VideoFileSource(clip("front_highbar_squat_1rep__trutadan.mp4")) as src:
        reader = src.reader()
        first = reader.get(timeout_s=5.0)
        assert first.index == 0
        n = 1
        while True:
            try:
                f = reader.get(timeout_s=0)
            except EndOfStream:
                break
            n += f is not None
        assert n == 62
        with pytest.raises(RuntimeError, match="once"):
            src.reader()
