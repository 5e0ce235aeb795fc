"""Shared fixtures. The real pose model and the real clips come from ../shared (beside the
checkout), as in CI. Without ../shared the tests that need it are skipped locally, but in CI
(``CI`` set) a missing ../shared is an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALGUS_CAM_SHARED", ROOT.parent / "shared")).resolve()
CLIPS = SHARED / "clips"
SYNTHETIC = SHARED / "synthetic"
SYNTHETIC2 = SHARED / "synthetic2"
SHARED_MODELS = SHARED / "models"

# Tests never touch the user's cache and never reach the internet unless a test says so.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="valgus-cam-test-cache-")
os.environ.setdefault("VALGUS_CAM_MODEL_DIR", str(SHARED_MODELS))
os.environ["VALGUS_CAM_NO_DOWNLOAD"] = "1"


def pytest_sessionstart(session):
    if os.environ.get("CI") and not (SHARED_MODELS / "pose_landmarker_lite.task").is_file():
        pytest.exit(f"CI: ../shared is missing (looked in {SHARED}); the tests need its models and clips",
                    returncode=3)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (../shared beside the checkout)")
    return path


@pytest.fixture(scope="session")
def shared_models() -> Path:
    return _need(SHARED_MODELS)


@pytest.fixture(scope="session")
def lite_model(shared_models) -> Path:
    return _need(shared_models / "pose_landmarker_lite.task")


@pytest.fixture(scope="session")
def full_model(shared_models) -> Path:
    return _need(shared_models / "pose_landmarker_full.task")


@pytest.fixture(scope="session")
def clips_manifest() -> list[dict]:
    return json.loads(_need(CLIPS / "manifest.json").read_text())


def clip(name: str) -> Path:
    return _need(CLIPS / name)


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m valgus_cam`` as a user would; returns the completed process."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "valgus_cam", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=600)


_ANALYZED: dict = {}


@pytest.fixture(scope="session")
def analyzed_lite(lite_model):
    """``valgus_cam.analyze(path, model=lite, write=False)``, computed once per clip per session."""
    def get(path: Path):
        import valgus_cam

        key = str(path)
        if key not in _ANALYZED:
            _ANALYZED[key] = valgus_cam.analyze(path, model=str(lite_model), write=False)
        return _ANALYZED[key]
    return get


SAMPLE = ROOT / "samples" / "sample_single_leg_squat.mp4"


def synthetic(name: str) -> Path:
    return _need((SYNTHETIC2 if name.startswith("dev2_") else SYNTHETIC) / name)


def first_seconds(path: Path, seconds: float, out: Path) -> Path:
    """The first ``seconds`` of a video re-encoded (mp4v) to ``out``: a short real clip for a test."""
    import cv2

    src = cv2.VideoCapture(str(path))
    fps = src.get(cv2.CAP_PROP_FPS)
    w = None
    try:
        for _ in range(int(seconds * fps)):
            ok, f = src.read()
            if not ok:
                break
            if w is None:
                w = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (f.shape[1], f.shape[0]))
            w.write(f)
    finally:
        if w is not None:
            w.release()
        src.release()
    return out
