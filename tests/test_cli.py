"""The command line as a user runs it: subprocesses, exit codes, one-line errors."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from valgus_cam.sinks import LONG_COLUMNS, WIDE_COLUMNS, read_landmarks_csv

from conftest import clip, run_cli


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_landmarks_command_writes_csv(tmp_path, lite_model, layout):
    out = tmp_path / "sub dir" / "out.csv"
    res = run_cli("landmarks", str(clip("front_highbar_squat_1rep__trutadan.mp4")), "-o", str(out),
                  "--model", "lite", "--layout", layout, "--no-progress")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert "62 frames" in res.stdout
    lines = out.read_text().splitlines()
    assert tuple(lines[0].split(",")) == (LONG_COLUMNS if layout == "long" else WIDE_COLUMNS)
    assert len(lines) == 1 + 62 * (33 if layout == "long" else 1)
    table = read_landmarks_csv(out)
    assert table.values.shape == (62, 33, 8)
    assert list(table.frame) == list(range(62))
    assert table.detected.all()
    assert np.isfinite(table.xy_px).all()
    assert not list(out.parent.glob(".*.tmp"))


def test_long_and_wide_layouts_agree(tmp_path, lite_model):
    paths = {}
    for layout in ("long", "wide"):
        paths[layout] = tmp_path / f"{layout}.csv"
        assert run_cli("landmarks", str(clip("front_highbar_squat_1rep__trutadan.mp4")), "-o", str(paths[layout]),
                       "--model", "lite", "--layout", layout, "--no-progress").returncode == 0
    a, b = read_landmarks_csv(paths["long"]), read_landmarks_csv(paths["wide"])
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.time_s, b.time_s)


def test_landmarks_on_an_image_folder(tmp_path, lite_model):
    import cv2

    from valgus_cam.capture import VideoFileSource

    with VideoFileSource(clip("front_highbar_squat_1rep__trutadan.mp4")) as src:
        for f in src:
            if f.index < 5:
                cv2.imwrite(str(tmp_path / f"img_{f.index}.jpg"), f.image_bgr)
    res = run_cli("landmarks", str(tmp_path), "-o", str(tmp_path / "o.csv"), "--model", "lite", "--no-progress")
    assert res.returncode == 0, res.stderr
    t = read_landmarks_csv(tmp_path / "o.csv")
    assert len(t.frame) == 5 and t.detected.all()
    # re-analysis of the folder from its landmark CSV (the folder's image size comes from a frame)
    res = run_cli("analyze", str(tmp_path), "--landmarks", str(tmp_path / "o.csv"), "--out", str(tmp_path / "a"),
                  "--no-progress")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "a" / "reps.json").is_file()


def _bad_inputs(tmp_path, ffmpeg):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video\n" * 50)
    (tmp_path / "emptydir").mkdir()
    subprocess.run([ffmpeg, "-y", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=1",
                    "-frames:v", "0", str(tmp_path / "zero.mp4")], check=True)
    return {
        "missing": (str(tmp_path / "missing.mp4"), "no such file"),
        "zero-byte": (str(tmp_path / "empty.mp4"), "empty file"),
        "text as mp4": (str(tmp_path / "text.mp4"), "not a readable video"),
        "zero frames": (str(tmp_path / "zero.mp4"), "not a readable video"),
        "folder without images": (str(tmp_path / "emptydir"), "no images"),
        "camera that does not open": ("57", "camera 57 does not open"),
    }


def test_bad_inputs_give_one_line_and_exit_3(tmp_path, ffmpeg):
    for label, (arg, message) in _bad_inputs(tmp_path, ffmpeg).items():
        res = run_cli("landmarks", arg, "-o", str(tmp_path / "o.csv"), "--no-progress")
        assert res.returncode == 3, (label, res.returncode, res.stderr)
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("valgus-cam: error: "), (label, res.stderr)
        assert message in res.stderr, (label, res.stderr)
        assert res.stdout == ""
        assert not (tmp_path / "o.csv").exists()


def test_missing_model_offline_is_one_line_exit_4(tmp_path):
    res = run_cli("landmarks", str(clip("front_highbar_squat_1rep__trutadan.mp4")), "--model", "heavy",
                  env={"VALGUS_CAM_MODEL_DIR": str(tmp_path), "VALGUS_CAM_NO_DOWNLOAD": "1"}, cwd=tmp_path)
    assert res.returncode == 4
    assert res.stderr.count("\n") == 1 and "pose_landmarker_heavy.task" in res.stderr
    assert "Traceback" not in res.stderr


def test_unwritable_output_is_exit_5(tmp_path, lite_model):
    res = run_cli("landmarks", str(clip("front_highbar_squat_1rep__trutadan.mp4")), "--model", "lite",
                  "-o", "/proc/valgus-cam/out.csv", "--no-progress")
    assert res.returncode == 5, res.stderr
    assert res.stderr.count("\n") == 1 and "cannot write" in res.stderr


def test_default_output_location(tmp_path, lite_model):
    res = run_cli("landmarks", str(clip("front_highbar_squat_1rep__trutadan.mp4")), "--model", "lite",
                  "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "valgus-out" / "front_highbar_squat_1rep__trutadan" / "landmarks.csv").is_file()


def test_analyze_writes_frames_csv(tmp_path, lite_model):
    import csv

    from valgus_cam.measures import FrameMeasures

    out = tmp_path / "out"
    res = run_cli("analyze", str(clip("front_highbar_squat_1rep__trutadan.mp4")), "--out", str(out),
                  "--model", "lite", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "frontal view" in res.stdout
    rows = list(csv.DictReader((out / "frames.csv").open()))
    assert tuple(rows[0].keys()) == ("frame", "time_s", "detected") + FrameMeasures.CSV_COLUMNS
    assert [int(r["frame"]) for r in rows] == list(range(62))
    flex = np.array([float(r["knee_flexion_left_deg"] or "nan") for r in rows])
    assert np.nanmax(flex) - np.nanmin(flex) > 40  # one deep rep
    # re-analysis from the saved landmarks gives the same numbers (to the CSV's rounding)
    out2 = tmp_path / "out2"
    res2 = run_cli("analyze", str(clip("front_highbar_squat_1rep__trutadan.mp4")), "--out", str(out2),
                   "--landmarks", str(out / "landmarks.csv"))
    assert res2.returncode == 0, res2.stderr
    rows2 = list(csv.DictReader((out2 / "frames.csv").open()))
    a = np.array([float(r["knee_flexion_left_deg"] or "nan") for r in rows2])
    np.testing.assert_allclose(a, flex, atol=1.0)


def test_analyze_side_view_says_fppa_not_measurable(tmp_path, lite_model):
    import csv
    import json

    out = tmp_path / "side"
    res = run_cli("analyze", str(clip("side_squat_2reps__toshineb.mp4")), "--out", str(out), "--model", "lite",
                  "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "FPPA, knee separation and sideways trunk lean are not measurable (they need a front view)" in res.stdout
    rows = list(csv.DictReader((out / "frames.csv").open()))
    assert all(r["fppa_left_deg"] == "" and r["fppa_frontal_right_deg"] == "" and r["trunk_lean_deg"] == ""
               and r["knee_ankle_separation_ratio"] == "" for r in rows)
    # the reps are still counted, and judged "unmeasurable", never failed on frontal-plane numbers
    doc = json.loads((out / "reps.json").read_text())
    assert doc["view"] == "sagittal" and doc["measurable"] is False
    assert len(doc["reps"]) == 2
    for r in doc["reps"]:
        assert r["verdict"] == "unmeasurable" and r["reasons"] == [] and r["not_measured"]
        assert r["trunk_lean_deg"] is None and r["knee_separation_ratio"] is None


def test_analyze_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"garbage" * 100)
    res = run_cli("analyze", str(bad), "--out", str(tmp_path / "o"))
    assert res.returncode == 3
    assert len(res.stderr.strip().splitlines()) == 1


SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "sample_single_leg_squat.mp4"


def test_analyze_sample_writes_reps_json_and_annotated_video(tmp_path, lite_model):
    import json

    import cv2

    out = tmp_path / "sample"
    res = run_cli("analyze", str(SAMPLE), "--out", str(out), "--model", "lite", "--annotate", "--no-progress")
    assert res.returncode == 0, res.stderr
    gt = json.loads(SAMPLE.with_suffix(".json").read_text())
    doc = json.loads((out / "reps.json").read_text())
    assert {"video", "fps", "frames", "test", "view", "measurable", "warnings", "thresholds", "reps"} <= doc.keys()
    assert doc["test"] == "single_leg_squat" and doc["view"] == "frontal" and doc["frames"] == gt["n_frames"]
    assert len(doc["reps"]) == len(gt["reps"])
    for r, g in zip(doc["reps"], gt["reps"]):
        assert r["stance"] == g["stance"]
        assert abs(r["bottom_s"] - g["bottom"] / gt["fps"]) <= 0.2
        assert r["fppa_left_deg"] is None  # the free knee is not reported
        assert r["verdict"] in ("pass", "fail", "unmeasurable") and isinstance(r["reasons"], list)
        assert isinstance(r["fppa_frontal_right_deg"], float)  # camera square to the body: measured
        assert abs(r["trunk_lean_deg"] - g["trunk_lean_2d_rel_peak_to_stance"]) < 3.0
        assert ("trunk_lean" in r["reasons"]) == (g["trunk_lean_2d_rel_peak_to_stance"] > 10.0)
    assert "verdict" in res.stdout  # the per-rep table
    assert f"{len(gt['reps'])} rep" in res.stdout

    import av

    with av.open(str(out / "annotated.mp4")) as c:  # H.264 (browsers, phones), yuv420p
        s = c.streams.video[0]
        assert (s.codec_context.name, s.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert sum(1 for _ in c.decode(s)) == gt["n_frames"]
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == gt["n_frames"]
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == tuple(gt["resolution"])
    after = doc["reps"][0]["end_frame"] + 10  # the first rep's banner is up
    cap.set(cv2.CAP_PROP_POS_FRAMES, after)
    ok, annotated = cap.read()
    cap.release()
    src = cv2.VideoCapture(str(SAMPLE))
    src.set(cv2.CAP_PROP_POS_FRAMES, after)
    ok2, original = src.read()
    src.release()
    assert ok and ok2
    top = np.abs(annotated[: annotated.shape[0] // 5].astype(int) - original[: original.shape[0] // 5].astype(int))
    assert (top.max(axis=2) > 60).mean() > 0.2  # a banner covers the top of the frame


def test_analyze_from_landmarks_csv_gives_the_same_reps(tmp_path, lite_model):
    import json

    out = tmp_path / "a"
    assert run_cli("analyze", str(SAMPLE), "--out", str(out), "--model", "lite", "--no-progress").returncode == 0
    res = run_cli("analyze", str(SAMPLE), "--out", str(tmp_path / "b"), "--landmarks", str(out / "landmarks.csv"))
    assert res.returncode == 0, res.stderr
    a = json.loads((out / "reps.json").read_text())["reps"]
    b = json.loads((tmp_path / "b" / "reps.json").read_text())["reps"]
    assert [(r["start_frame"], r["bottom_frame"], r["end_frame"], r["verdict"]) for r in a] == \
        [(r["start_frame"], r["bottom_frame"], r["end_frame"], r["verdict"]) for r in b]


def test_analyze_bad_config_is_one_line_exit_3(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text("knee_limit = 5\n")
    res = run_cli("analyze", str(SAMPLE), "--out", str(tmp_path / "o"), "--config", str(cfg))
    assert res.returncode == 3
    assert len(res.stderr.strip().splitlines()) == 1 and "unknown threshold" in res.stderr


def test_analyze_video_with_nobody_is_a_result_with_a_warning(tmp_path, lite_model):
    import json

    import cv2

    video = tmp_path / "empty_room.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for _ in range(30):
        w.write(np.full((240, 320, 3), 90, np.uint8))
    w.release()
    res = run_cli("analyze", str(video), "--out", str(tmp_path / "o"), "--model", "lite", "--annotate", "--no-progress")
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "o" / "reps.json").read_text())
    assert doc["reps"] == [] and doc["measurable"] is False
    assert doc["warnings"] == ["nobody was found in the video"]
    assert "Warning" not in res.stderr
    assert (tmp_path / "o" / "annotated.mp4").is_file()
