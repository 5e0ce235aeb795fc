"""Pose Landmarker model files: manifest, resolution, download with sha256 check.

Resolution of ``--model``:
  1. an existing file path is used as given (a custom model, not checksummed);
  2. a name (lite | full | heavy) is looked up, verified by sha256, in
     ``$VALGUS_CAM_MODEL_DIR``, then ``models/`` in the source checkout, then the user cache dir;
  3. if absent everywhere, it is downloaded from the official address into the cache dir
     (temp file, sha256 verified, then renamed into place) unless downloads are disabled.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import ModelError

ENV_MODEL_DIR = "VALGUS_CAM_MODEL_DIR"
ENV_NO_DOWNLOAD = "VALGUS_CAM_NO_DOWNLOAD"
_PKG_DIR = Path(__file__).resolve().parent
_CHECKOUT_MODELS = _PKG_DIR.parent / "models"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    file: str
    url: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One place a named model was looked for."""

    spec: ModelSpec
    path: Path
    exists: bool
    verified: bool | None  # None when absent


def _manifest_path() -> Path:
    for p in (_PKG_DIR / "_models_manifest.json", _CHECKOUT_MODELS / "manifest.json"):
        if p.is_file():
            return p
    raise ModelError("the model manifest is missing from the installation (models/manifest.json)")


def _read_manifest() -> dict:
    path = _manifest_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"the model manifest {path} cannot be read: {e}") from None
    if not isinstance(data, dict):
        raise ModelError(f"the model manifest {path} is damaged (not a JSON object)")
    return data


def load_manifest() -> dict[str, ModelSpec]:
    data = _read_manifest()
    try:
        return {name: ModelSpec(name=name, **entry) for name, entry in data["models"].items()}
    except (KeyError, TypeError, AttributeError) as e:
        raise ModelError(f"the model manifest {_manifest_path()} is damaged: {type(e).__name__}: {e}") from None


def default_model_name() -> str:
    name = _read_manifest().get("default")
    if not isinstance(name, str):
        raise ModelError(f"the model manifest {_manifest_path()} names no default model")
    return name


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("valgus-cam", appauthor=False)) / "models"


def search_dirs() -> list[Path]:
    """Directories searched for a named model, in order."""
    dirs = []
    env = os.environ.get(ENV_MODEL_DIR)
    if env:
        dirs.append(Path(env).expanduser())
    if _CHECKOUT_MODELS.is_dir():
        dirs.append(_CHECKOUT_MODELS)
    dirs.append(cache_dir())
    return dirs


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, spec: ModelSpec) -> bool:
    """True when ``path`` is byte-identical to the official file (size, then sha256)."""
    try:
        if path.stat().st_size != spec.size_bytes:
            return False
    except OSError:
        return False
    return sha256_of(path) == spec.sha256


def statuses() -> list[ModelStatus]:
    """Every (model, search dir) pair, for ``valgus-cam models``."""
    out = []
    for spec in load_manifest().values():
        for d in search_dirs():
            p = d / spec.file
            exists = p.is_file()
            out.append(ModelStatus(spec, p, exists, verify(p, spec) if exists else None))
    return out


def resolve_model(model: str | os.PathLike | None = None, *, download: bool | None = None,
                  url: str | None = None, progress: bool = True) -> Path:
    """Return the path of a usable model file (see module docstring for the order).

    ``download=None`` means: allowed unless ``$VALGUS_CAM_NO_DOWNLOAD`` is set.
    ``url`` overrides the official address (tests serve the file on loopback).
    """
    model = default_model_name() if model is None else model
    manifest = load_manifest()
    name = str(model)
    if name not in manifest:
        p = Path(name).expanduser()
        if p.is_file():
            return p
        if p.exists():
            raise ModelError(f"model path is not a file: {p}")
        raise ModelError(f"no model file at {p} (and '{name}' is not one of: {', '.join(manifest)})")

    spec = manifest[name]
    mismatched = []
    for d in search_dirs():
        p = d / spec.file
        if p.is_file():
            if verify(p, spec):
                return p
            mismatched.append(p)
    if download is None:
        download = not os.environ.get(ENV_NO_DOWNLOAD)
    target = cache_dir() / spec.file
    if mismatched and not download:
        raise ModelError(f"{mismatched[0]} does not match the official {spec.file} (sha256 differs); "
                         f"delete it and put the official file there")
    if not download:
        raise ModelError(f"model '{spec.name}' not found (downloads are off): " + _missing_message(spec))
    return download_model(spec, target, url=url or spec.url, progress=progress)


def _missing_message(spec: ModelSpec) -> str:
    where = " or ".join(str(d) for d in search_dirs())
    return (f"put {spec.file} (official address: {spec.url}) into {where}, "
            f"or point {ENV_MODEL_DIR} at a folder holding it")


def download_model(spec: ModelSpec, target: Path, *, url: str, progress: bool = True,
                   timeout_s: float = 30.0) -> Path:
    """Download ``url`` to ``target`` atomically; refuse a file whose sha256 differs."""
    from tqdm import tqdm

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create the model cache {target.parent}: {e.strerror}") from None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.file}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:
            total = int(resp.headers.get("Content-Length") or spec.size_bytes)
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {spec.file}",
                      disable=None if progress else True, leave=False) as bar:
                while block := resp.read(1 << 16):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
        if h.hexdigest() != spec.sha256:
            raise ModelError(f"downloaded {spec.file} from {url} has the wrong sha256 "
                             f"({h.hexdigest()[:12]}…, expected {spec.sha256[:12]}…); refused")
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
        raise ModelError(f"cannot download {spec.file} ({reason}); " + _missing_message(spec)) from None
    finally:
        tmp.unlink(missing_ok=True)
