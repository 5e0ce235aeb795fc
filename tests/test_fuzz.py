"""Fuzzing the readers of user files with hypothesis: random bytes and mutated real files into the
frame sources, the landmark CSV reader, the thresholds (TOML) reader and the model manifest (JSON)
reader. The only exceptions allowed out are the documented ones (``ValgusCamError`` subclasses,
which the CLI turns into one line and an exit code). Budgets are small (CI must stay lean); set
``VALGUS_CAM_FUZZ_EXAMPLES`` for a longer run."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from valgus_cam.capture import open_source
from valgus_cam.errors import ValgusCamError
from valgus_cam.sinks import LONG_COLUMNS, WIDE_COLUMNS, read_landmarks_csv
from valgus_cam.verdicts import load_thresholds

from conftest import clip

N = int(os.environ.get("VALGUS_CAM_FUZZ_EXAMPLES", "0"))


def fuzz_settings(default: int):
    return settings(max_examples=N or default, deadline=None, derandomize=not N,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _only_documented_errors(fn, *args):
    try:
        return fn(*args)
    except ValgusCamError as e:
        assert str(e) and "\n" not in str(e), repr(e)  # one line for the user
        return None


# ----------------------------------------------------------------------------------------------
# frame sources
# ----------------------------------------------------------------------------------------------
def _decode_some(path: Path, limit: int = 20) -> int:
    with open_source(path) as src:
        n = 0
        for f in src:
            assert f.image_bgr.ndim == 3 and f.image_bgr.shape[2] == 3
            n += 1
            if n >= limit:
                break
        return n


def _real_mp4_head() -> bytes:
    """A real mp4 (62 frames, 215 KB) remuxed with its index at the front: mutations of the first
    8 KiB hit the index and the first frames."""
    import badfiles

    clip(badfiles.SHORT_CLIP.name)  # skips without ../shared
    return badfiles.cached(badfiles.make_faststart)().read_bytes()


@fuzz_settings(25)
@given(data=st.binary(min_size=1, max_size=4096), suffix=st.sampled_from([".mp4", ".mov", ".avi", ".mkv", ".webm"]))
def test_random_bytes_as_a_video(tmp_path_factory, data, suffix):
    p = tmp_path_factory.mktemp("fuzz") / f"random{suffix}"
    p.write_bytes(data)
    _only_documented_errors(_decode_some, p)


@fuzz_settings(25)
@given(data=st.binary(min_size=1, max_size=2048), suffix=st.sampled_from([".jpg", ".png", ".bmp", ".webp", ".tif"]))
def test_random_bytes_as_an_image(tmp_path_factory, data, suffix):
    p = tmp_path_factory.mktemp("fuzz") / f"random{suffix}"
    p.write_bytes(data)
    _only_documented_errors(_decode_some, p)


@fuzz_settings(40)
@given(st.data())
def test_mutated_real_mp4(tmp_path_factory, data):
    """A real mp4 (index first) with a few bytes of its header changed, a chunk cut out or repeated,
    truncated anywhere: decoding gives frames or a documented error, never a crash."""
    raw = bytearray(_real_mp4_head())
    head = 8192  # the index (moov) and the first frames' bytes
    kind = data.draw(st.sampled_from(["flip", "cut", "dup", "truncate"]), label="mutation")
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 16), label="bytes")):
            i = data.draw(st.integers(0, head - 1))
            raw[i] = data.draw(st.integers(0, 255))
    elif kind == "cut":
        a = data.draw(st.integers(0, head - 1))
        raw[a:a + data.draw(st.integers(1, 512))] = b""
    elif kind == "dup":
        a = data.draw(st.integers(0, head - 1))
        raw[a:a] = raw[a:a + data.draw(st.integers(1, 512))]
    else:
        raw = raw[:data.draw(st.integers(1, len(raw) - 1))]
    p = tmp_path_factory.mktemp("fuzz") / "mutated.mp4"
    p.write_bytes(bytes(raw))
    _only_documented_errors(_decode_some, p, 5)


# ----------------------------------------------------------------------------------------------
# landmark CSV
# ----------------------------------------------------------------------------------------------
_cells = st.one_of(st.sampled_from(["", "0", "1", "-1", "33", "nan", "inf", "-inf", "1e400", "0.5", "x", "1" * 5000]),
                   st.text(string.printable, max_size=8), st.floats(allow_nan=True).map(str),
                   st.integers(-10**6, 10**6).map(str))


@fuzz_settings(60)
@given(header=st.sampled_from([LONG_COLUMNS, WIDE_COLUMNS, ("frame", "time_s")]),
       rows=st.lists(st.lists(_cells, max_size=12), max_size=8), extra=st.binary(max_size=64))
def test_landmark_csv_reader(tmp_path_factory, header, rows, extra):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        if header == WIDE_COLUMNS and len(r) > 3:
            r = r[:3] + r[3:] * (len(WIDE_COLUMNS) // max(1, len(r[3:])))  # sometimes the right width
        w.writerow(r)
    p = tmp_path_factory.mktemp("fuzz") / "landmarks.csv"
    p.write_bytes(buf.getvalue().encode() + extra)
    table = _only_documented_errors(read_landmarks_csv, p)
    if table is not None:
        assert table.values.shape == (len(table.frame), 33, 8)


@fuzz_settings(40)
@given(data=st.binary(max_size=2048))
def test_landmark_csv_reader_on_random_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fuzz") / "landmarks.csv"
    p.write_bytes(data)
    _only_documented_errors(read_landmarks_csv, p)


def test_landmark_csv_reader_mutated_real_file(tmp_path, lite_model):
    """A landmark CSV written by valgus-cam, then damaged line by line."""
    import random

    from valgus_cam.capture import VideoFileSource
    from valgus_cam.pose import PoseEstimator
    from valgus_cam.sinks import LandmarkCsvWriter

    good = tmp_path / "good.csv"
    with VideoFileSource(clip("front_highbar_squat_1rep__trutadan.mp4")) as src, PoseEstimator(lite_model) as est, \
            good.open("w", newline="") as f:
        writer = LandmarkCsvWriter(f)
        for frame in src:
            writer.write(frame.index, frame.time_s, est.detect(frame.image_bgr, frame.time_s))
            if frame.index == 2:
                break
    lines = good.read_text().splitlines()
    rng = random.Random(0)
    for k in range(60):
        mutated = list(lines)
        i = rng.randrange(1, len(mutated))
        cells = mutated[i].split(",")
        j = rng.randrange(len(cells))
        cells[j] = rng.choice(["", "-1", "99", "nan", "abc", "1e999", "-0", cells[j] * 2])
        mutated[i] = ",".join(cells) if k % 5 else ",".join(cells[:-2])
        bad = tmp_path / f"bad{k}.csv"
        bad.write_text("\n".join(mutated) + "\n")
        table = _only_documented_errors(read_landmarks_csv, bad)
        if table is not None:
            assert table.values.shape == (len(table.frame), 33, 8)


# ----------------------------------------------------------------------------------------------
# thresholds (TOML) and the model manifest (JSON)
# ----------------------------------------------------------------------------------------------
_toml_values = st.one_of(st.integers(-10**20, 10**20).map(str), st.floats().map(repr),
                         st.sampled_from(['"female"', '"male"', '"x"', "true", "[1, 2]", "{a = 1}", "nan", "-inf",
                                          "1979-05-27", '""']))
_toml_keys = st.sampled_from(["knee_fppa_max_deg", "sex", "trunk_lean_max_deg", "thresholds", "unknown",
                              "bottom_window_s", '"quoted key"'])


@fuzz_settings(60)
@given(pairs=st.lists(st.tuples(_toml_keys, _toml_values), max_size=5), table=st.booleans(),
       junk=st.text(max_size=20))
@example(pairs=[("thresholds", "5")], table=False, junk="")  # found by this test: was a TypeError
@example(pairs=[("sex", "[1, 2]")], table=True, junk="")
def test_thresholds_reader(tmp_path_factory, pairs, table, junk):
    text = ("[thresholds]\n" if table else "") + "".join(f"{k} = {v}\n" for k, v in pairs) + junk
    p = tmp_path_factory.mktemp("fuzz") / "t.toml"
    p.write_text(text, encoding="utf-8")
    t = _only_documented_errors(load_thresholds, p)
    if t is not None:
        assert all(isinstance(v, float) for k, v in t.to_dict().items() if k != "sex")


@fuzz_settings(30)
@given(data=st.binary(max_size=512))
def test_thresholds_reader_on_random_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fuzz") / "t.toml"
    p.write_bytes(data)
    _only_documented_errors(load_thresholds, p)


@fuzz_settings(40)
@example(text="")  # found by this test: was a JSONDecodeError
@example(text='{"models": {"lite": 3}, "default": []}')
@given(text=st.one_of(st.binary(max_size=256).map(lambda b: b.decode("latin-1")),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                                   lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                                   max_leaves=8).map(__import__("json").dumps)))
def test_model_manifest_reader(tmp_path_factory, monkeypatch, text):
    from valgus_cam import models

    p = tmp_path_factory.mktemp("fuzz") / "manifest.json"
    p.write_text(text, encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(models, "_manifest_path", lambda: p)
        _only_documented_errors(models.load_manifest)
        _only_documented_errors(models.default_model_name)


@pytest.mark.parametrize("text", ['{"models": {"lite": {"file": 1}}}', '{"models": []}', "[]", '{"default": 3}'])
def test_model_manifest_examples(tmp_path, monkeypatch, text):
    from valgus_cam import models

    p = tmp_path / "manifest.json"
    p.write_text(text)
    monkeypatch.setattr(models, "_manifest_path", lambda: p)
    with pytest.raises(ValgusCamError, match="manifest"):
        models.load_manifest()
