"""valgus-cam batch: planning (pure), then real batches through the command line: every clip in
the summary with bad ones recorded, SIGKILL then --resume, Ctrl-C, a worker killed mid-clip, and
the Dask path on a loopback LocalCluster against the process pool."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import valgus_cam
from valgus_cam.batch import (MARKER, SUMMARY_COLUMNS, ClipRecord, Settings, expand_inputs, output_names,
                              previous_record, plan)
from valgus_cam.errors import EXIT_CLIPS_FAILED
from valgus_cam.verdicts import Thresholds

from conftest import CLIPS, clip, run_cli

SHORT = ["front_highbar_squat_1rep__trutadan.mp4", "front_webcam_squat_4reps_overlay__healthserv.mp4",
         "side_squat_2reps__toshineb.mp4", "multiview_singleleg_balance_cam01__pose2sim.mp4"]


# ----------------------------------------------------------------------------------------------
# planning
# ----------------------------------------------------------------------------------------------
def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_expand_inputs_files_folders_globs(tmp_path):
    a = tmp_path / "a"
    v10, v2 = _touch(a / "clip10.mp4"), _touch(a / "clip2.mp4")
    sub = _touch(a / "p1" / "left.MOV")
    _touch(a / "notes.txt")
    _touch(a / ".hidden" / "h.mp4")
    _touch(a / ".h.mp4")
    _touch(a / "out" / "annotated.mp4")  # inside the output folder: never an input
    b = _touch(tmp_path / "b" / "x.avi")
    txt = _touch(tmp_path / "named.txt")
    exp = expand_inputs([a, str(tmp_path / "b" / "*.avi"), txt, tmp_path / "missing.mp4",
                         str(tmp_path / "none" / "*.mp4"), v2], exclude=a / "out")
    # folder: videos only, recursive, natural order, hidden skipped; glob; a named file whatever its
    # extension; a missing file (reported as a failed clip); v2 named twice is taken once
    assert exp.clips == [v2, v10, sub, b, txt, tmp_path / "missing.mp4"]
    assert exp.unmatched == [str(tmp_path / "none" / "*.mp4")]


def test_output_names_are_unique_readable_and_stable():
    paths = [Path("/d/p1/left.mp4"), Path("/d/p2/left.mp4"), Path("/d/p1/right.mp4"), Path("/e/run.mp4"),
             Path("/e/run.mov"), Path("/x/summary.json.mp4"), Path("/y/.mp4")]
    names = output_names(paths)
    assert names == ["p1_left", "p2_left", "right", "run_mp4", "run_mov", "summary.json-2", "_.mp4"]
    assert output_names(paths) == names  # same inputs, same names: what --resume relies on
    assert output_names([Path("/a/Left.mp4"), Path("/b/left.mp4")]) == ["a_Left", "b_left"]  # case-insensitive FS


def test_settings_hash_follows_what_changes_results():
    base = Settings("lite", "abc", thresholds=Thresholds())
    assert base.hash == Settings("lite", "abc", thresholds=Thresholds()).hash
    for other in (Settings("full", "def", thresholds=Thresholds()),
                  Settings("lite", "abc", test="single-leg", thresholds=Thresholds()),
                  Settings("lite", "abc", thresholds=Thresholds(sex="male")),
                  Settings("lite", "abc", thresholds=Thresholds(trunk_lean_max_deg=12.0)),
                  Settings("lite", "abc", thresholds=Thresholds(), annotate=True)):
        assert other.hash != base.hash


def test_previous_record_needs_same_content_settings_and_files(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"0123")
    s = Settings("lite", "abc", thresholds=Thresholds())
    (task,) = plan([video], tmp_path / "out", s)
    out = Path(task.out_dir)
    out.mkdir(parents=True)
    (out / "reps.json").write_text("{}")
    rec = ClipRecord(task.clip, task.name, "ok", reps=3)
    doc = {"sha256": hashlib.sha256(b"0123").hexdigest(), "settings_hash": s.hash, "files": ["reps.json"],
           "record": rec.to_dict()}
    (out / MARKER).write_text(json.dumps(doc))
    again = previous_record(task)
    assert again is not None and again.reused and again.reps == 3
    assert previous_record(plan([video], tmp_path / "out", Settings("full", "x", thresholds=Thresholds()))[0]) is None
    (out / "reps.json").unlink()
    assert previous_record(task) is None  # a result file went missing
    (out / "reps.json").write_text("{}")
    video.write_bytes(b"01234")
    assert previous_record(task) is None  # the clip changed
    video.write_bytes(b"0123")
    (out / MARKER).write_text(json.dumps(dict(doc, record=dict(rec.to_dict(), status="failed", error="bad"))))
    assert previous_record(task).status == "failed"
    assert previous_record(task, retry_failed=True) is None


# ----------------------------------------------------------------------------------------------
# a real batch over every shared clip plus bad files (run once for the module)
# ----------------------------------------------------------------------------------------------
def _read_summary(out: Path) -> tuple[list[dict], dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows, json.loads((out / "summary.json").read_text())


def _make_bad_clips(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    text = folder / "notes.mp4"
    text.write_text("these are notes, not a video\n")
    src = clip("front_dumbbell_squat_5reps__nowva.mp4").read_bytes()
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(src[: len(src) // 3])
    empty_room = folder / "empty_room.mp4"  # a real video with nobody in it
    w = cv2.VideoWriter(str(empty_room), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(45):
        w.write((90 + rng.integers(0, 20, (240, 320, 3))).astype(np.uint8))
    w.release()
    return {"notes": text, "truncated": truncated, "empty_room": empty_room}


@pytest.fixture(scope="module")
def full_batch(tmp_path_factory, lite_model, clips_manifest):
    root = tmp_path_factory.mktemp("batch")
    bad = _make_bad_clips(root / "bad")
    out = root / "out"
    res = run_cli("batch", str(CLIPS), str(bad["notes"]), str(bad["truncated"]), str(bad["empty_room"]),
                  "--out", str(out), "--model", "lite", "--workers", "2", "--no-progress")
    rows, doc = _read_summary(out)
    return {"res": res, "out": out, "rows": {r["name"]: r for r in rows}, "order": [r["name"] for r in rows],
            "doc": doc, "bad": bad}


def test_summary_has_every_clip_and_the_bad_ones_with_errors(full_batch, clips_manifest):
    res, rows, doc = full_batch["res"], full_batch["rows"], full_batch["doc"]
    assert res.returncode == EXIT_CLIPS_FAILED, res.stderr
    assert res.stderr.strip().splitlines() == [f"valgus-cam: 3 of {len(clips_manifest) + 3} clips failed "
                                                f"(errors in {full_batch['out'] / 'summary.csv'})"]
    videos = [c["file"] for c in clips_manifest]
    assert len(videos) == 14
    # the folder's clips in natural order (README, manifest and the .txt beside them are not videos)
    assert full_batch["order"] == [Path(v).stem for v in sorted(videos)] + ["notes", "truncated", "empty_room"]
    for v in videos:
        r = rows[Path(v).stem]
        assert r["status"] == "ok" and r["error"] == "", r
        assert r["clip"] == str(CLIPS / v)
    assert "not a readable video" in rows["notes"]["error"] and rows["notes"]["status"] == "failed"
    assert "not a readable video" in rows["truncated"]["error"] and rows["truncated"]["status"] == "failed"
    assert rows["empty_room"]["status"] == "failed" and rows["empty_room"]["error"] == "nobody was found in the video"
    assert rows["empty_room"]["frames"] == "45"
    assert tuple(next(csv.reader(open(full_batch["out"] / "summary.csv")))) == SUMMARY_COLUMNS
    assert doc["state"] == "complete" and doc["counts"] == {"ok": 14, "failed": 3, "pending": 0, "reused": 0}
    assert [c["name"] for c in doc["clips"]] == full_batch["order"]
    for line in res.stdout.splitlines()[:-1]:  # one status line per clip, then the totals
        assert line.startswith(("ok ", "FAILED ")), line
    assert len(res.stdout.splitlines()) == 18


def test_rep_counts_match_the_hand_counts(full_batch, clips_manifest):
    counted = [c for c in clips_manifest if c.get("reps")]
    assert len(counted) >= 10
    for c in counted:
        r = full_batch["rows"][Path(c["file"]).stem]
        assert int(r["reps"]) == c["reps"], c["file"]
        assert int(r["reps"]) == (int(r["reps_passed"]) + int(r["reps_failed"]) + int(r["reps_unmeasurable"]))
        assert int(r["reps"]) == sum(int(r[f"{leg}_reps"]) for leg in ("left", "right", "both"))


def test_clip_results_equal_what_the_api_gives(full_batch, lite_model):
    name = "front_webcam_squat_4reps_overlay__healthserv"
    folder = full_batch["out"] / name
    api = valgus_cam.analyze(CLIPS / f"{name}.mp4", model=str(lite_model), write=False)
    assert json.loads((folder / "reps.json").read_text()) == json.loads(json.dumps(api.document))
    row = full_batch["rows"][name]
    fr = [v for r in api.results if (v := r.knee_angle_deg("left")) is not None]  # each rep's worst moment
    if fr:
        assert float(row["worst_fppa_frontal_left_deg"]) == pytest.approx(max(fr), abs=0.01)
    else:  # not measured in any rep: empty, never a number
        assert row["worst_fppa_frontal_left_deg"] == ""
    assert row["worst_pelvic_drop_deg"] == ""  # pelvic drop is not measured: empty, never a number
    assert int(row["frames"]) == len(api.frame_index)


def test_each_clip_folder_is_complete_with_its_marker(full_batch, clips_manifest):
    out = full_batch["out"]
    for c in clips_manifest:
        folder = out / Path(c["file"]).stem
        marker = json.loads((folder / MARKER).read_text())
        assert marker["sha256"] == c["sha256"]  # the manifest's sha256 of the clip
        assert marker["record"]["status"] == "ok"
        assert sorted(marker["files"]) == ["frames.csv", "landmarks.csv", "report.html", "reps.json"]
        assert sorted(p.name for p in folder.iterdir()) == ["batch.json", "frames.csv", "landmarks.csv", "report.html",
                                                            "reps.json"]
    notes = json.loads((out / "notes" / MARKER).read_text())
    assert notes["record"]["status"] == "failed" and notes["files"] == []
    assert not list(out.rglob(".*.tmp"))


def test_index_page_links_every_clip_report(full_batch, clips_manifest):
    out = full_batch["out"]
    html = (out / "index.html").read_text(encoding="utf-8")
    for c in clips_manifest:
        assert f'href="{Path(c["file"]).stem}/report.html"' in html
    import html as htmllib

    rows, _ = _read_summary(out)
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 3
    for r in failed:  # each bad clip is listed with its error
        assert htmllib.escape(r["error"]) in html or htmllib.escape(r["error"], quote=False) in html, r["error"]
    assert "http://" not in html and "https://" not in html


def test_no_implausible_numbers_and_no_side_view_verdicts_on_real_clips(full_batch, clips_manifest):
    """Real clips: no knee angle a knee cannot have (a thigh seen end-on read -120° in a deep
    squat), and a side view fails no rep on the knee gap or sideways trunk lean."""
    out = full_batch["out"]
    for c in clips_manifest:
        doc = json.loads((out / Path(c["file"]).stem / "reps.json").read_text())
        for r in doc["reps"]:
            for k in ("fppa_frontal_left_deg", "fppa_frontal_right_deg"):
                assert r.get(k) is None or abs(r[k]) <= 45, (c["file"], r["index"], k, r[k])
            if doc["view"] != "frontal":
                assert not {"knees_caving", "trunk_lean"} & set(r["reasons"]), (c["file"], r["index"], r["reasons"])


def test_resume_of_a_finished_batch_reuses_everything(full_batch, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(full_batch["out"], out)
    args = ["batch", str(CLIPS), *map(str, full_batch["bad"].values()), "--out", str(out), "--model", "lite",
            "--workers", "2", "--no-progress", "--resume"]
    markers = {p: p.stat().st_mtime_ns for p in out.glob(f"*/{MARKER}")}
    assert len(markers) == 17
    res = run_cli(*args)
    assert res.returncode == EXIT_CLIPS_FAILED, res.stderr
    rows, doc = _read_summary(out)
    assert all(r["reused"] == "true" for r in rows) and doc["counts"]["reused"] == 17
    assert {p: p.stat().st_mtime_ns for p in out.glob(f"*/{MARKER}")} == markers  # nothing was run again
    cols = [c for c in SUMMARY_COLUMNS if c != "reused"]
    assert [{c: r[c] for c in cols} for r in rows] == [{c: full_batch["rows"][r["name"]][c] for c in cols}
                                                         for r in rows]
    # --retry-failed runs the failed clips again, and only them
    res = run_cli(*args, "--retry-failed")
    rows, _ = _read_summary(out)
    assert {r["name"] for r in rows if r["reused"] == "false"} == {"notes", "truncated", "empty_room"}
    assert res.returncode == EXIT_CLIPS_FAILED


# ----------------------------------------------------------------------------------------------
# interruption: SIGKILL then --resume; Ctrl-C; a worker killed mid-clip
# ----------------------------------------------------------------------------------------------
def _start_batch(out: Path, *extra: str, names=SHORT) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "valgus_cam", "batch", *(str(clip(n)) for n in names),
                             "--out", str(out), "--model", "lite", "--no-progress", "--no-report", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout_s: float = 120.0, what: str = ""):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        got = predicate()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _descendants(pid: int):
    psutil = pytest.importorskip("psutil")
    return psutil.Process(pid).children(recursive=True)


def _all_gone(procs, timeout_s: float = 20.0) -> bool:
    import psutil

    def gone(p):
        try:
            return p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if all(gone(p) for p in procs):
            return True
        time.sleep(0.1)
    return False


def _check_consistent(out: Path, names=SHORT) -> dict:
    """summary.json lists every clip; what it calls finished is complete on disk."""
    rows, doc = _read_summary(out)
    assert [r["name"] for r in rows] == [Path(n).stem for n in names] == [c["name"] for c in doc["clips"]]
    for r in rows:
        assert r["status"] in ("ok", "pending"), r
        if r["status"] == "ok":
            folder = out / r["name"]
            assert json.loads((folder / MARKER).read_text())["record"]["status"] == "ok"
            json.loads((folder / "reps.json").read_text())
    return {r["name"]: r["status"] for r in rows}


def test_sigkill_mid_batch_then_resume_finishes_without_redoing(tmp_path, lite_model):
    out = tmp_path / "out"
    proc = _start_batch(out, "--workers", "2")
    _wait_for(lambda: list(out.glob(f"*/{MARKER}")), what="the first finished clip")
    kids = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _all_gone(kids), "worker processes outlived their killed parent"
    done = {p.parent.name: p.stat().st_mtime_ns for p in out.glob(f"*/{MARKER}")}
    assert 0 < len(done) < len(SHORT)
    status = _check_consistent(out)
    assert {n for n, s in status.items() if s == "ok"} <= set(done)

    res = run_cli("batch", *(str(clip(n)) for n in SHORT), "--out", str(out), "--model", "lite", "--workers", "2",
                  "--no-progress", "--no-report", "--resume")  # the same settings as the killed run
    assert res.returncode == 0, res.stderr
    rows, doc = _read_summary(out)
    assert doc["state"] == "complete" and all(r["status"] == "ok" for r in rows)
    for r in rows:
        assert (r["reused"] == "true") == (r["name"] in done), r["name"]
    for name, mtime in done.items():
        assert (out / name / MARKER).stat().st_mtime_ns == mtime  # not redone
    assert not list(out.rglob(".*.tmp"))  # a killed worker's temp files were cleaned when its clip was redone
    for line in res.stdout.splitlines()[:-1]:
        assert line.split()[0] == ("skip" if line.split()[1].rstrip(":") in done else "ok")


def test_ctrl_c_exits_130_with_a_consistent_summary(tmp_path, lite_model):
    out = tmp_path / "out"
    proc = _start_batch(out, "--workers", "2")
    first = _wait_for(lambda: [p.parent.name for p in out.glob(f"*/{MARKER}")], what="the first finished clip")
    kids = _descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert len(stderr.strip().splitlines()) == 1 and "interrupted" in stderr and "--resume" in stderr, stderr
    assert _all_gone(kids, 5.0), "worker processes still running after Ctrl-C"
    status = _check_consistent(out)
    assert "pending" in status.values()
    assert all(status[n] == "ok" for n in first)  # finished before Ctrl-C: in the summary as done
    assert json.loads((out / "summary.json").read_text())["state"] == "interrupted"
    assert "not done" in stdout.splitlines()[-1]


def test_a_worker_killed_mid_clip_is_rerun_alone(tmp_path, lite_model):
    """A worker dying (native crash, OOM kill) breaks the pool: the clips it was running are rerun,
    one at a time; here the clip is fine, so the batch ends ok."""
    out = tmp_path / "out"
    names = SHORT[:2]
    proc = _start_batch(out, "--workers", "1", names=names)
    # the larger clip goes first; kill its worker while its landmarks are being written
    _wait_for(lambda: list((out / Path(names[1]).stem).glob(".landmarks.csv.*.tmp")), what="a clip in progress")
    workers = [p for p in _descendants(proc.pid) if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 1
    workers[0].kill()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    rows, _ = _read_summary(out)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert int(rows[1]["reps"]) == 4


# ----------------------------------------------------------------------------------------------
# Dask distributed: a loopback LocalCluster gives the same results as the process pool
# ----------------------------------------------------------------------------------------------
def test_dask_local_cluster_gives_the_same_summary_as_the_process_pool(full_batch, tmp_path):
    distributed = pytest.importorskip("distributed")
    inputs = [str(clip(SHORT[0])), str(clip(SHORT[1])), str(full_batch["bad"]["notes"])]
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        res = run_cli("batch", *inputs, "--out", str(out), "--model", "lite", "--scheduler",
                      cluster.scheduler_address, "--no-progress")
    assert res.returncode == EXIT_CLIPS_FAILED, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr  # the "1 of 3 clips failed" line only
    rows, doc = _read_summary(out)
    assert [r["name"] for r in rows] == [Path(SHORT[0]).stem, Path(SHORT[1]).stem, "notes"]
    cols = [c for c in SUMMARY_COLUMNS if c != "seconds"]
    for r in rows:
        assert {c: r[c] for c in cols} == {c: full_batch["rows"][r["name"]][c] for c in cols}
        if r["status"] == "ok":
            assert ((out / r["name"] / "reps.json").read_text()
                    == (full_batch["out"] / r["name"] / "reps.json").read_text())
    assert doc["settings_hash"] == full_batch["doc"]["settings_hash"]
