import functools
import http.server
import threading
from pathlib import Path

import pytest

from valgus_cam import models
from valgus_cam.errors import ModelError
from valgus_cam.pose import PoseEstimator

from conftest import run_cli


def test_manifest_matches_shared_checksums(shared_models):
    manifest = models.load_manifest()
    sums = dict(reversed(line.split()) for line in (shared_models / "SHA256SUMS").read_text().splitlines() if line)
    assert set(manifest) == {"lite", "full", "heavy"}
    for spec in manifest.values():
        assert sums[spec.file] == spec.sha256
        assert (shared_models / spec.file).stat().st_size == spec.size_bytes
        assert spec.url.startswith("https://storage.googleapis.com/mediapipe-models/pose_landmarker/")
    assert models.default_model_name() == "full"


def test_named_model_resolves_from_env_dir_and_is_verified(shared_models, monkeypatch):
    monkeypatch.setenv(models.ENV_MODEL_DIR, str(shared_models))
    path = models.resolve_model("lite", download=False)
    assert path == shared_models / "pose_landmarker_lite.task"
    assert models.verify(path, models.load_manifest()["lite"])


def test_explicit_path_is_used_as_given(lite_model):
    assert models.resolve_model(str(lite_model), download=False) == lite_model


def test_missing_explicit_path_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="no model file"):
        models.resolve_model(str(tmp_path / "nope.task"), download=False)


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "pose_landmarker_lite.task"
    fake.write_bytes(b"\0" * models.load_manifest()["lite"].size_bytes)  # right size, wrong bytes
    monkeypatch.setenv(models.ENV_MODEL_DIR, str(tmp_path))
    with pytest.raises(ModelError, match="sha256 differs"):
        models.resolve_model("lite", download=False)


def test_missing_model_offline_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENV_MODEL_DIR, str(tmp_path))
    with pytest.raises(ModelError) as err:
        models.resolve_model("heavy", download=False)
    msg = str(err.value)
    assert "\n" not in msg
    assert "pose_landmarker_heavy.task" in msg and str(tmp_path) in msg and "VALGUS_CAM_MODEL_DIR" in msg


@pytest.fixture()
def loopback_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_verifies_and_moves_into_place(loopback_server, lite_model, tmp_path, monkeypatch):
    www, base = loopback_server
    (www / lite_model.name).write_bytes(lite_model.read_bytes())
    monkeypatch.setenv(models.ENV_MODEL_DIR, str(tmp_path / "empty"))
    path = models.resolve_model("lite", download=True, url=f"{base}/{lite_model.name}", progress=False)
    assert path == models.cache_dir() / lite_model.name
    assert models.verify(path, models.load_manifest()["lite"])
    assert not list(path.parent.glob("*.part"))
    path.unlink()


def test_download_with_wrong_checksum_is_refused_and_leaves_nothing(loopback_server, lite_model, tmp_path,
                                                                     monkeypatch):
    www, base = loopback_server
    data = bytearray(lite_model.read_bytes())
    data[1000] ^= 0xFF  # one flipped byte
    (www / lite_model.name).write_bytes(bytes(data))
    monkeypatch.setenv(models.ENV_MODEL_DIR, str(tmp_path / "empty"))
    with pytest.raises(ModelError, match="wrong sha256"):
        models.resolve_model("lite", download=True, url=f"{base}/{lite_model.name}", progress=False)
    cache = models.cache_dir()
    assert not (cache / lite_model.name).exists()
    assert not list(cache.glob("*.part")) if cache.exists() else True


def test_download_failure_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENV_MODEL_DIR, str(tmp_path))
    with pytest.raises(ModelError) as err:  # nothing listens on port 9 of loopback
        models.resolve_model("lite", download=True, url="http://127.0.0.1:9/x.task", progress=False)
    assert "cannot download" in str(err.value) and "\n" not in str(err.value)


def test_a_file_that_is_not_a_model_gives_a_model_error(tmp_path):
    bad = tmp_path / "bad.task"
    bad.write_text("this is not a TFLite bundle")
    with pytest.raises(ModelError, match="cannot load"):
        PoseEstimator(bad)


def test_models_command_lists_verified_models(shared_models):
    res = run_cli("models", env={"VALGUS_CAM_MODEL_DIR": str(shared_models)})
    assert res.returncode == 0, res.stderr
    for name in ("lite", "full", "heavy"):
        assert f"{name}" in res.stdout
    assert res.stdout.count("verified") == 3


def test_models_command_flags_a_corrupt_file(tmp_path):
    (tmp_path / "pose_landmarker_full.task").write_bytes(b"junk")
    res = run_cli("models", env={"VALGUS_CAM_MODEL_DIR": str(tmp_path)})
    assert res.returncode == 0
    assert "NOT THE OFFICIAL FILE" in res.stdout
